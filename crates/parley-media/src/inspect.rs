//! What an upload is: [`inspect`] sniffs its type against the allow-list,
//! applies the size limit of its kind, and for images refuses bombs,
//! strips metadata, applies EXIF orientation and makes the thumbnail.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use crate::{mp4, ogg, picture, webm};
use parley_domain::media::{MediaLimits, TEXT_MIME, allowed};
use parley_protocol::MediaKind;

/// How many bytes of the upload the type is sniffed from.
pub const SNIFF_BYTES: usize = 8 * 1024;

/// The bytes to store and serve.
#[derive(Clone, PartialEq, Eq)]
pub enum Served {
    /// The upload's file as it is.
    AsUploaded,
    /// These bytes instead (an image without its metadata, or re-encoded).
    Rewritten(Vec<u8>),
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Served::AsUploaded => f.write_str("AsUploaded"),
            Served::Rewritten(b) => write!(f, "Rewritten({} bytes)", b.len()),
        }
    }
}

/// What [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// The served type: the sniffed type's IANA name, or [`TEXT_MIME`];
    /// for an image re-encoded to apply its orientation, the new type.
    pub mime: &'static str,
    pub kind: MediaKind,
    /// Pixels, as shown (orientation applied); for video when the
    /// container states them.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// For MP4 video, M4A audio, WebM and Ogg (Vorbis, Opus) when the
    /// container states it (for WebM without a stated duration: up to its
    /// last block; for Ogg: its last page's granule position).
    pub duration_ms: Option<u64>,
    pub served: Served,
    /// The thumbnail's bytes and type (`image/jpeg`, or `image/png` for an
    /// image with an alpha channel). Images only.
    pub thumbnail: Option<(Vec<u8>, &'static str)>,
}

/// Why an upload is refused.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The bytes match nothing on the allow-list and are not UTF-8 text
    /// (415 `unsupported_media_type`).
    #[error("unsupported media type")]
    Unsupported,
    /// Over the size limit of its kind (`limit_bytes`), or an image whose
    /// dimensions, pixel count or (GIF) frames × pixels are over the bomb
    /// limits (`limit_bytes: None`). 413 `payload_too_large`.
    #[error("media too large")]
    TooLarge { limit_bytes: Option<u64> },
    /// An image signature whose bytes do not decode (400 `invalid_request`).
    #[error("image does not decode")]
    Undecodable,
    /// The file is empty (400 `invalid_request`).
    #[error("empty file")]
    Empty,
    /// Reading the upload's file failed (a server error, not the client's).
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Inspects the upload at `path`. Synchronous and CPU-bound for images:
/// call it on a blocking thread.
///
/// The steps: sniff the first [`SNIFF_BYTES`] against the allow-list (else
/// UTF-8 text without NUL is [`TEXT_MIME`], else
/// [`InspectError::Unsupported`]); check the size limit of the kind; for
/// images read the dimensions from the header and refuse bombs before
/// decoding, then strip metadata (or apply the EXIF orientation and
/// re-encode) and make a thumbnail; for MP4, M4A and WebM read the
/// duration and the first video track's size from the container's
/// headers, for Ogg the duration from its first and last pages.
#[tracing::instrument(skip_all, fields(path = %path.display()))]
pub fn inspect(path: &Path, limits: &MediaLimits) -> Result<Inspected, InspectError> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    if size == 0 {
        return Err(InspectError::Empty);
    }
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut file)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)?;

    let sniffed = infer::get(&head).map(|t| t.mime_type());
    let (mime, kind) = match sniffed.and_then(allowed) {
        Some(found) => found,
        None => {
            // Check the limit first: no need to read a huge file through.
            check_size(size, limits.other_bytes)?;
            file.seek(SeekFrom::Start(0))?;
            if is_utf8_text(&mut file)? {
                (TEXT_MIME, MediaKind::File)
            } else {
                tracing::debug!(sniffed, "unsupported upload");
                return Err(InspectError::Unsupported);
            }
        }
    };
    check_size(size, limits.for_kind(kind))?;

    let mut inspected = Inspected {
        mime,
        kind,
        width: None,
        height: None,
        duration_ms: None,
        served: Served::AsUploaded,
        thumbnail: None,
    };
    match mime {
        "image/jpeg" | "image/png" | "image/gif" | "image/webp" => {
            return picture::inspect_image(path, mime);
        }
        "video/mp4" | "audio/mp4" => {
            file.seek(SeekFrom::Start(0))?;
            let info = mp4::probe(&mut file, size)?;
            inspected.duration_ms = info.duration_ms;
            if kind == MediaKind::Video {
                inspected.width = info.width;
                inspected.height = info.height;
            }
        }
        "video/webm" => {
            file.seek(SeekFrom::Start(0))?;
            let info = webm::probe(&mut file, size)?;
            inspected.duration_ms = info.duration_ms;
            inspected.width = info.width;
            inspected.height = info.height;
            // Audio-only WebM (a voice note, as Chromium records one) is
            // sniffed as video/webm too; its tracks say it is audio. It
            // passed the video limit, which is the larger.
            if info.audio_only {
                inspected.mime = "audio/webm";
                inspected.kind = MediaKind::Audio;
            }
        }
        "audio/ogg" => {
            inspected.duration_ms = ogg::probe(&mut file, size)?;
        }
        _ => {}
    }
    Ok(inspected)
}

fn check_size(size: u64, limit: u64) -> Result<(), InspectError> {
    if size > limit {
        Err(InspectError::TooLarge {
            limit_bytes: Some(limit),
        })
    } else {
        Ok(())
    }
}

/// Whether everything `r` yields is valid UTF-8 without a NUL byte. Reads
/// in chunks; a character split across two chunks is carried over.
pub(crate) fn is_utf8_text(mut r: impl Read) -> io::Result<bool> {
    const CHUNK: usize = 64 * 1024;
    // A UTF-8 character is at most 4 bytes, so at most 3 are carried.
    let mut buf = vec![0u8; CHUNK + 4];
    let mut carried = 0usize;
    loop {
        let n = match r.read(&mut buf[carried..carried + CHUNK]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            // Bytes still carried at the end are a truncated character.
            return Ok(carried == 0);
        }
        let filled = carried + n;
        let data = &buf[..filled];
        if data.contains(&0) {
            return Ok(false);
        }
        match std::str::from_utf8(data) {
            Ok(_) => carried = 0,
            // `error_len() == None`: the data ends inside a character,
            // which the next chunk may complete.
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
            Err(_) => return Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that yields at most `step` bytes a call, to split
    /// characters at every position.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn utf8_split_at_every_position() {
        let text = "aé€😀z".repeat(50);
        for step in 1..=7 {
            let r = Trickle {
                data: text.as_bytes(),
                step,
            };
            assert!(is_utf8_text(r).expect("read"), "step {step}");
        }
    }

    #[test]
    fn not_text() {
        assert!(!is_utf8_text(&b"abc\0def"[..]).expect("read"));
        assert!(!is_utf8_text(&b"abc\xff"[..]).expect("read"));
        // A character cut off by the end of the file.
        assert!(!is_utf8_text(&"ab€".as_bytes()[..4]).expect("read"));
        assert!(is_utf8_text(&b""[..]).expect("read"));
    }

    #[test]
    fn allow_list() {
        assert_eq!(
            allowed("audio/x-m4a"),
            Some(("audio/mp4", MediaKind::Audio))
        );
        assert_eq!(allowed("audio/m4a"), Some(("audio/mp4", MediaKind::Audio)));
        assert_eq!(allowed("text/html"), None);
        assert_eq!(allowed("application/x-executable"), None);
        assert_eq!(allowed("image/tiff"), None);
    }
}
