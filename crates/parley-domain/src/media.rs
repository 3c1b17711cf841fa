//! Media (protocol.md §10): what may be uploaded, how large, who may read
//! it, what a message may attach, and the links a message carries.

use crate::error::{DomainError, DomainResult};
use crate::input::MEDIA_PATH;
use parley_protocol::{Media, MediaKind, Timestamp};
use std::borrow::Cow;

/// Default upload limits, on the bytes as uploaded (MB = MiB).
pub const DEFAULT_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
pub const DEFAULT_VIDEO_BYTES: u64 = 100 * 1024 * 1024;
pub const DEFAULT_OTHER_BYTES: u64 = 50 * 1024 * 1024;

/// Decompression bombs: an image larger than this on a side, or in all,
/// is refused from its header, before anything is decoded.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;

/// An animation's frames, in all, may hold at most this many pixels (a
/// GIF of thousands of full-size frames is a bomb of its own).
pub const MAX_ANIMATION_PIXELS: u64 = 400_000_000;

/// The longest side of a thumbnail (never upscaled).
pub const THUMBNAIL_SIDE: u32 = 320;

/// Most attachments on one message.
pub const MAX_ATTACHMENTS: usize = 10;

/// Longest display name of an upload, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Unattached uploads are deleted this long after they were made.
pub const UNATTACHED_TTL_MS: i64 = 24 * 3600 * 1000;

/// Links listed per message at most (a message of 10,000 characters could
/// otherwise list thousands).
pub const MAX_LINKS_PER_MESSAGE: usize = 50;

/// How text is served: never as markup.
pub const TEXT_MIME: &str = "text/plain; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    pub image_bytes: u64,
    pub video_bytes: u64,
    pub other_bytes: u64,
}

impl Default for MediaLimits {
    fn default() -> Self {
        MediaLimits {
            image_bytes: DEFAULT_IMAGE_BYTES,
            video_bytes: DEFAULT_VIDEO_BYTES,
            other_bytes: DEFAULT_OTHER_BYTES,
        }
    }
}

impl MediaLimits {
    pub fn for_kind(&self, kind: MediaKind) -> u64 {
        match kind {
            MediaKind::Image => self.image_bytes,
            MediaKind::Video => self.video_bytes,
            MediaKind::Audio | MediaKind::File => self.other_bytes,
        }
    }

    /// The most any upload may be, before its type is known.
    pub fn largest(&self) -> u64 {
        self.image_bytes.max(self.video_bytes).max(self.other_bytes)
    }
}

/// An upload over its limit (`payload_too_large`, `details.limit_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    pub limit_bytes: u64,
}

impl TooLarge {
    pub fn message(&self) -> String {
        format!("the file is larger than {} bytes", self.limit_bytes)
    }
}

/// The refusal for an image whose header states bomb-sized dimensions.
pub const IMAGE_TOO_LARGE: &str =
    "the image is too large (at most 16,384 pixels on a side and 40,000,000 in all)";
/// The refusal for bytes whose type is not on the allow-list.
pub const UNSUPPORTED: &str = "this type of file is not allowed";
/// The refusal for an image signature whose bytes do not decode.
pub const UNDECODABLE: &str = "the image could not be decoded";

/// Whether an image of `width` x `height` (from its header) may be decoded.
pub fn check_image_dimensions(width: u32, height: u32) -> DomainResult<()> {
    if width > MAX_IMAGE_SIDE
        || height > MAX_IMAGE_SIDE
        || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS
    {
        return Err(DomainError::TooLarge(Cow::Borrowed(IMAGE_TOO_LARGE)));
    }
    Ok(())
}

/// The size of a thumbnail of a `width` x `height` image: longest side
/// `min(320, longest)`, aspect ratio kept, at least 1 px.
pub fn thumbnail_size(width: u32, height: u32) -> (u32, u32) {
    let longest = width.max(height).max(1);
    let side = THUMBNAIL_SIDE.min(longest);
    let scale = |v: u32| -> u32 {
        ((u64::from(v) * u64::from(side) + u64::from(longest) / 2) / u64::from(longest)).max(1)
            as u32
    };
    (scale(width), scale(height))
}

/// The allow-list: a sniffed type (as the sniffer names it) to the type
/// served, by its IANA name, and its kind. `None`: not allowed.
pub fn allowed(sniffed: &str) -> Option<(&'static str, MediaKind)> {
    use MediaKind::*;
    Some(match sniffed {
        "image/jpeg" => ("image/jpeg", Image),
        "image/png" => ("image/png", Image),
        "image/gif" => ("image/gif", Image),
        "image/webp" => ("image/webp", Image),
        "video/mp4" => ("video/mp4", Video),
        "video/webm" => ("video/webm", Video),
        "audio/mpeg" => ("audio/mpeg", Audio),
        // The sniffer names Ogg Opus (Firefox's voice notes) apart.
        "audio/ogg" | "audio/opus" => ("audio/ogg", Audio),
        "audio/m4a" | "audio/x-m4a" | "audio/mp4" => ("audio/mp4", Audio),
        "application/pdf" => ("application/pdf", File),
        "application/msword" => ("application/msword", File),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            File,
        ),
        "application/vnd.ms-excel" => ("application/vnd.ms-excel", File),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            File,
        ),
        "application/vnd.ms-powerpoint" => ("application/vnd.ms-powerpoint", File),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => (
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            File,
        ),
        "application/zip" => ("application/zip", File),
        _ => return None,
    })
}

/// The display name of an upload: the `name` part if sent (validated),
/// else the part's filename (made safe: control characters dropped, cut
/// at 255 characters), else `file`.
pub fn display_name(part: Option<&str>, filename: Option<&str>) -> DomainResult<String> {
    if let Some(raw) = part {
        let n = raw.chars().count();
        if n == 0 || n > MAX_NAME_CHARS || raw.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "name",
                "name must be 1-255 characters without control characters",
            ));
        }
        return Ok(raw.to_string());
    }
    let safe: String = filename
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let safe = safe.trim();
    Ok(if safe.is_empty() {
        "file".to_string()
    } else {
        safe.to_string()
    })
}

/// A stored thumbnail: what serving it needs without touching its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    pub mime: String,
    pub size: u64,
}

/// An upload as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRow {
    pub id: String,
    pub uploader_id: String,
    pub kind: MediaKind,
    pub mime: String,
    pub size: u64,
    pub name: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    /// Its thumbnail's type and size, when it has one.
    pub thumbnail: Option<Thumbnail>,
    /// An avatar: served to anyone who has the URL.
    pub public: bool,
    /// Deleted (an admin delete, or unattached for a day); the bytes go
    /// with the next sweep.
    pub removed: bool,
    pub created_at: i64,
}

impl MediaRow {
    pub fn to_wire(&self) -> Media {
        Media {
            id: self.id.clone(),
            kind: self.kind,
            mime: self.mime.clone(),
            size: self.size,
            name: self.name.clone(),
            width: self.width,
            height: self.height,
            duration_ms: self.duration_ms,
            url: media_url(&self.id),
            thumbnail_url: self.thumbnail.as_ref().map(|_| thumbnail_url(&self.id)),
            created_at: Timestamp(self.created_at),
        }
    }
}

pub fn media_url(id: &str) -> String {
    format!("{MEDIA_PATH}{id}")
}

/// The media id an `avatar_url` made by this server names (`MEDIA_PATH`
/// then one id), if it is one.
pub fn media_id_of_url(url: &str) -> Option<&str> {
    url.strip_prefix(MEDIA_PATH)
        .filter(|id| !id.is_empty() && !id.contains(['/', '?', '#']))
}

/// The upload to retire when a profile's `avatar_url` goes from `old` to
/// `new`: the one `old` names, if it changed (replaced or cleared).
pub fn replaced_avatar<'a>(old: Option<&'a str>, new: Option<&str>) -> Option<&'a str> {
    old.filter(|o| Some(*o) != new).and_then(media_id_of_url)
}

pub fn thumbnail_url(id: &str) -> String {
    format!("{MEDIA_PATH}{id}/thumbnail")
}

/// What reading an upload needs, as read by storage.
#[derive(Debug, Clone, Default)]
pub struct ReadFacts {
    pub row: Option<MediaRow>,
    /// The viewer can see a live message that attaches it: a current
    /// member whose `joined_seq` is at or before the message's seq.
    pub attached_visible: bool,
}

/// Who may read an upload: the uploader; anyone who can see a live message
/// attaching it; anyone for an avatar. Everyone else: `not_found`.
pub fn can_read(viewer: &str, facts: ReadFacts) -> DomainResult<MediaRow> {
    match facts.row {
        Some(row)
            if !row.removed
                && (row.public || row.uploader_id == viewer || facts.attached_visible) =>
        {
            Ok(row)
        }
        _ => Err(DomainError::NotFound("media")),
    }
}

/// The upload a user's avatar is made from (`PATCH /users/me`
/// `avatar_media_id`): their own, live image (it has a thumbnail, which the
/// square avatar is cut from). Someone else's or a missing upload is
/// `not_found`, as everywhere; another kind is `invalid_request`.
pub fn avatar_source(user: &str, facts: ReadFacts) -> DomainResult<MediaRow> {
    match facts.row {
        Some(row) if !row.removed && row.uploader_id == user => {
            if row.kind == MediaKind::Image && row.thumbnail.is_some() {
                Ok(row)
            } else {
                Err(DomainError::invalid(
                    "avatar_media_id",
                    "an avatar must be an image",
                ))
            }
        }
        _ => Err(DomainError::NotFound("media")),
    }
}

/// The longest side of an avatar, in pixels (cut square from the
/// thumbnail, whose longest side is at most 320).
pub const AVATAR_SIDE: u32 = 256;

/// The shape of a send's `attachments`: 1-10 distinct ids.
pub fn check_attachment_ids(ids: &[String]) -> DomainResult<()> {
    if ids.is_empty() || ids.len() > MAX_ATTACHMENTS {
        return Err(DomainError::invalid(
            "attachments",
            "attachments must list 1-10 media ids",
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(DomainError::invalid(
                "attachments",
                "attachments must not repeat a media id",
            ));
        }
    }
    Ok(())
}

/// The refusal for an attachment the sender did not upload (or that is
/// gone): `not_found` naming the field.
pub const NO_SUCH_MEDIA: DomainError = DomainError::NotFoundIn {
    what: "media",
    field: "attachments",
};

/// What a send attaches, in the order asked: each id must name a live
/// upload of the sender's (`found` holds the rows read under the lock).
pub fn attach(sender: &str, ids: &[String], found: &[MediaRow]) -> DomainResult<Vec<MediaRow>> {
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|r| &r.id == id && r.uploader_id == sender && !r.removed)
                .cloned()
                .ok_or(NO_SUCH_MEDIA)
        })
        .collect()
}

/// The attachments of a message as the wire carries them.
pub fn attachments_json(rows: &[MediaRow]) -> Vec<serde_json::Value> {
    rows.iter()
        // A media object always serializes.
        .filter_map(|r| serde_json::to_value(r.to_wire()).ok())
        .collect()
}

/// Which kinds `GET /conversations/{id}/media?kind=` lists: images and
/// videos by default.
pub fn list_kinds(kind: Option<&str>) -> DomainResult<Vec<MediaKind>> {
    match kind {
        None => Ok(vec![MediaKind::Image, MediaKind::Video]),
        Some(k) => MediaKind::parse(k).map(|k| vec![k]).ok_or_else(|| {
            DomainError::invalid("kind", "kind must be image, video, audio or file")
        }),
    }
}

/// The links a message lists: those of its text (a tombstone has none).
pub fn links_of(text: Option<&str>) -> Vec<String> {
    text.map(extract_links).unwrap_or_default()
}

/// A message with attachments is a media message; its text is a caption.
pub fn message_kind(attachments: &[String]) -> parley_protocol::MessageKind {
    if attachments.is_empty() {
        parley_protocol::MessageKind::Text
    } else {
        parley_protocol::MessageKind::Media
    }
}

/// The links of a message's text, in order, each once (protocol.md §10):
/// a maximal run of non-white-space characters starting with `http://` or
/// `https://`, minus trailing `.,:;!?'"` and a trailing `)` without a
/// matching `(`.
pub fn extract_links(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in text.split(char::is_whitespace) {
        let Some(start) = word
            .find("http://")
            .into_iter()
            .chain(word.find("https://"))
            .min()
        else {
            continue;
        };
        // The run starts at the scheme (`(https://...)` lists the URL).
        let url = trim_link(&word[start..]);
        let bare = url == "http://" || url == "https://";
        if !bare && !out.iter().any(|u| u == url) {
            out.push(url.to_string());
            if out.len() == MAX_LINKS_PER_MESSAGE {
                break;
            }
        }
    }
    out
}

fn trim_link(mut url: &str) -> &str {
    loop {
        let before = url.len();
        url = url.trim_end_matches(['.', ',', ':', ';', '!', '?', '\'', '"']);
        if url.ends_with(')') && url.matches(')').count() > url.matches('(').count() {
            url = &url[..url.len() - 1];
        }
        if url.len() == before {
            return url;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, uploader: &str) -> MediaRow {
        MediaRow {
            id: id.into(),
            uploader_id: uploader.into(),
            kind: MediaKind::Image,
            mime: "image/png".into(),
            size: 10,
            name: "a.png".into(),
            width: Some(2),
            height: Some(1),
            duration_ms: None,
            thumbnail: Some(Thumbnail {
                mime: "image/jpeg".into(),
                size: 5,
            }),
            public: false,
            removed: false,
            created_at: 0,
        }
    }

    #[test]
    fn bombs_are_refused_from_their_dimensions() {
        assert!(check_image_dimensions(16_384, 2_000).is_ok());
        assert!(check_image_dimensions(16_385, 1).is_err());
        assert!(check_image_dimensions(1, 16_385).is_err());
        assert!(check_image_dimensions(8_000, 5_000).is_ok());
        assert!(check_image_dimensions(8_000, 5_001).is_err());
        assert!(check_image_dimensions(50_000, 50_000).is_err());
    }

    #[test]
    fn thumbnails_keep_the_aspect_and_never_upscale() {
        assert_eq!(thumbnail_size(800, 400), (320, 160));
        assert_eq!(thumbnail_size(400, 800), (160, 320));
        assert_eq!(thumbnail_size(100, 50), (100, 50));
        assert_eq!(thumbnail_size(10_000, 1), (320, 1));
        assert_eq!(thumbnail_size(333, 111), (320, 107));
    }

    #[test]
    fn the_allow_list_names_iana_types() {
        assert_eq!(allowed("audio/m4a"), Some(("audio/mp4", MediaKind::Audio)));
        assert_eq!(allowed("image/png"), Some(("image/png", MediaKind::Image)));
        assert_eq!(allowed("image/svg+xml"), None);
        assert_eq!(allowed("application/x-executable"), None);
        assert_eq!(allowed("text/html"), None);
    }

    #[test]
    fn names_default_to_a_safe_filename() {
        assert_eq!(
            display_name(None, Some("beach.png")).ok().as_deref(),
            Some("beach.png")
        );
        assert_eq!(
            display_name(None, Some("a\u{0}b\nc")).ok().as_deref(),
            Some("abc")
        );
        assert_eq!(display_name(None, None).ok().as_deref(), Some("file"));
        assert_eq!(display_name(None, Some("  ")).ok().as_deref(), Some("file"));
        let long = "x".repeat(300);
        assert_eq!(
            display_name(None, Some(&long)).map(|n| n.len()).ok(),
            Some(255)
        );
        assert!(display_name(Some(&long), None).is_err());
        assert!(display_name(Some("a\u{7}"), None).is_err());
        assert!(display_name(Some(""), None).is_err());
        assert_eq!(
            display_name(Some("ok.txt"), Some("x")).ok().as_deref(),
            Some("ok.txt")
        );
    }

    #[test]
    fn only_the_uploader_or_a_viewer_of_an_attaching_message_reads() {
        let facts = |row: Option<MediaRow>, seen| ReadFacts {
            row,
            attached_visible: seen,
        };
        assert!(can_read("u", facts(Some(row("m", "u")), false)).is_ok());
        assert!(can_read("v", facts(Some(row("m", "u")), false)).is_err());
        assert!(can_read("v", facts(Some(row("m", "u")), true)).is_ok());
        assert!(can_read("v", facts(None, true)).is_err());
        let mut gone = row("m", "u");
        gone.removed = true;
        assert!(can_read("u", facts(Some(gone), true)).is_err());
        let mut avatar = row("m", "u");
        avatar.public = true;
        assert!(can_read("anyone", facts(Some(avatar), false)).is_ok());
    }

    #[test]
    fn media_ids_in_urls() {
        assert_eq!(media_id_of_url(&media_url("abc-1")), Some("abc-1"));
        for other in [
            "",
            "/api/v1/media/",
            "/api/v1/media/a/thumbnail",
            "/api/v1/media/a?x",
            "https://x/api/v1/media/a",
        ] {
            assert_eq!(media_id_of_url(other), None, "{other}");
        }
    }

    #[test]
    fn a_changed_avatar_retires_the_old_upload() {
        let (a, b) = (media_url("a"), media_url("b"));
        assert_eq!(replaced_avatar(Some(&a), Some(&b)), Some("a"));
        assert_eq!(replaced_avatar(Some(&a), None), Some("a"), "cleared");
        assert_eq!(replaced_avatar(Some(&a), Some(&a)), None, "unchanged");
        assert_eq!(replaced_avatar(None, Some(&b)), None);
        assert_eq!(
            replaced_avatar(Some("https://img.example/x.png"), None),
            None
        );
    }

    #[test]
    fn avatars_come_from_the_users_own_live_images() {
        let facts = |row: Option<MediaRow>| ReadFacts {
            row,
            attached_visible: true,
        };
        let mut image = row("m", "u");
        image.kind = MediaKind::Image;
        image.thumbnail = Some(Thumbnail {
            mime: "image/jpeg".into(),
            size: 10,
        });
        assert!(avatar_source("u", facts(Some(image.clone()))).is_ok());
        assert_eq!(
            avatar_source("v", facts(Some(image.clone()))).err(),
            Some(DomainError::NotFound("media")),
            "someone else's upload, even one the caller can see"
        );
        assert!(avatar_source("u", facts(None)).is_err());
        let mut gone = image.clone();
        gone.removed = true;
        assert_eq!(
            avatar_source("u", facts(Some(gone))).err(),
            Some(DomainError::NotFound("media"))
        );
        let mut pdf = image;
        pdf.kind = MediaKind::File;
        pdf.thumbnail = None;
        assert!(matches!(
            avatar_source("u", facts(Some(pdf))),
            Err(DomainError::Invalid { .. })
        ));
    }

    #[test]
    fn attachments_are_the_senders_own_in_order() {
        let found = vec![row("a", "u"), row("b", "u"), row("c", "other")];
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = attach("u", &ids(&["b", "a"]), &found)
            .map(|r| r.into_iter().map(|r| r.id).collect::<Vec<_>>());
        assert_eq!(got, Ok(vec!["b".to_string(), "a".to_string()]));
        assert_eq!(attach("u", &ids(&["c"]), &found), Err(NO_SUCH_MEDIA));
        assert_eq!(attach("u", &ids(&["zz"]), &found), Err(NO_SUCH_MEDIA));
        assert!(check_attachment_ids(&ids(&["a", "a"])).is_err());
        assert!(check_attachment_ids(&[]).is_err());
        let eleven: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        assert!(check_attachment_ids(&eleven).is_err());
        assert!(check_attachment_ids(&eleven[..10]).is_ok());
        assert!(check_attachment_ids(&ids(&["a", "b"])).is_ok());
    }

    #[test]
    fn links_follow_the_protocol() {
        assert_eq!(
            extract_links(
                "see https://a.example/x. and (http://b.example/y) or https://c.example/p_(q)!"
            ),
            vec![
                "https://a.example/x",
                "http://b.example/y",
                "https://c.example/p_(q)"
            ]
        );
        assert_eq!(
            extract_links("https://a.example https://a.example"),
            vec!["https://a.example"]
        );
        assert_eq!(
            extract_links("ftp://b https:// http:// https:/x"),
            Vec::<String>::new()
        );
        assert_eq!(
            extract_links("(https://a.example/b)."),
            vec!["https://a.example/b"]
        );
        assert_eq!(
            extract_links("\"https://q.example/?a=1\","),
            vec!["https://q.example/?a=1"]
        );
        let many: String = (0..100).map(|i| format!("https://h{i}.example ")).collect();
        assert_eq!(extract_links(&many).len(), MAX_LINKS_PER_MESSAGE);
    }

    #[test]
    fn media_paths_name_their_id() {
        assert_eq!(media_url("abc"), "/api/v1/media/abc");
        assert_eq!(thumbnail_url("abc"), "/api/v1/media/abc/thumbnail");
        assert_eq!(
            list_kinds(None),
            Ok(vec![MediaKind::Image, MediaKind::Video])
        );
        assert!(list_kinds(Some("pdf")).is_err());
    }
}
