//! Parley's wire types: everything a client and the server exchange.
//!
//! - [`time`]: the RFC 3339 millisecond timestamp used on the wire.
//! - [`error`]: the one error shape and its stable codes (protocol.md §1).
//! - [`rest`]: request and response bodies of the REST API (§2-§5).
//! - [`events`]: conversation events, typed per event type (§5).
//! - [`gateway`]: WebSocket frames in both directions (§6, §8).
//! - [`media`]: the media object and the media, files and links lists (§10).
//!
//! Nothing in here knows about storage or HTTP frameworks; the server maps
//! its internal types into these, and the SDK and load generator speak them.
#![forbid(unsafe_code)]

pub mod chat_state;
pub mod compliance;
pub mod error;
pub mod events;
pub mod gateway;
pub mod media;
pub mod message_marks;
pub mod notifications;
pub mod push;
pub mod reactors;
pub mod rest;
pub mod retention;
pub mod search;
pub mod support;
pub mod time;
pub mod webhooks;

pub use chat_state::ChatState;
pub use error::{ApiError, ErrorBody, ErrorCode};
pub use gateway::{ClientFrame, ServerFrame};
pub use media::{Media, MediaKind};
pub use rest::*;
pub use time::Timestamp;

/// For PATCH fields where `null` means "clear": a field that is present
/// (even as `null`) is `Some`, an absent one (with `#[serde(default)]`)
/// `None`.
pub fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Protocol limits that clients may want to check before sending.
pub mod limits {
    /// Largest WebSocket frame the server accepts (bytes).
    pub const MAX_FRAME_BYTES: usize = 64 * 1024;
    /// Longest `ref` a client may attach to a gateway request.
    pub const MAX_REF_CHARS: usize = 64;
    /// Default and maximum page sizes for lists.
    pub const DEFAULT_PAGE: u32 = 50;
    pub const MAX_PAGE: u32 = 200;
}
