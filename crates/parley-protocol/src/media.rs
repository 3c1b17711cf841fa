//! Media (protocol.md §10): the media object, the per-conversation media,
//! files and links lists, and signed URLs.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    File,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::File => "file",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(MediaKind::Image),
            "video" => Some(MediaKind::Video),
            "audio" => Some(MediaKind::Audio),
            "file" => Some(MediaKind::File),
            _ => None,
        }
    }
}

/// An upload, and an attachment of a message (same `id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Media {
    pub id: String,
    pub kind: MediaKind,
    /// The sniffed type (text: `text/plain; charset=utf-8`).
    pub mime: String,
    /// Bytes served.
    pub size: u64,
    pub name: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    /// Path from the server's root.
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub created_at: Timestamp,
}

/// An entry of the media and files lists: the media object's fields and
/// the message that attaches it (`created_at` is the message's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MediaItem {
    pub id: String,
    pub kind: MediaKind,
    pub mime: String,
    pub size: u64,
    pub name: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub message_id: String,
    pub seq: u64,
    pub sender_id: String,
    /// When the message was sent.
    pub created_at: Timestamp,
}

impl MediaItem {
    /// `media` as attached by the message `message_id` at `seq`.
    pub fn new(
        media: Media,
        message_id: String,
        seq: u64,
        sender_id: String,
        created_at: Timestamp,
    ) -> Self {
        MediaItem {
            id: media.id,
            kind: media.kind,
            mime: media.mime,
            size: media.size,
            name: media.name,
            width: media.width,
            height: media.height,
            duration_ms: media.duration_ms,
            url: media.url,
            thumbnail_url: media.thumbnail_url,
            message_id,
            seq,
            sender_id,
            created_at,
        }
    }
}

/// `GET /conversations/{id}/media`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MediaPage {
    pub media: Vec<MediaItem>,
    pub next_cursor: Option<String>,
}

/// `GET /conversations/{id}/files`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FilesPage {
    pub files: Vec<MediaItem>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinkItem {
    pub url: String,
    pub message_id: String,
    pub seq: u64,
    pub sender_id: String,
    pub created_at: Timestamp,
}

/// `GET /conversations/{id}/links`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinksPage {
    pub links: Vec<LinkItem>,
    pub next_cursor: Option<String>,
}

/// `GET /media/{id}/signed`: URLs that work without an `Authorization`
/// header until `expires_at` (for `<img>`, `<video>` and downloads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SignedMedia {
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub expires_at: Timestamp,
}
