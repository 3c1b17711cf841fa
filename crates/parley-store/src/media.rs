//! Media (protocol.md §10): uploads, who can read them, and the
//! per-conversation media, files and links lists. The bytes live behind
//! the server's blob store; this area keeps the rows and the attachments.
//!
//! A send attaches (see [`crate::MessageStore::send_message`]): the
//! backend reads the named uploads under its lock into
//! `SendFacts::media`, `parley_domain::media::attach` decides, and the
//! message's rows in `message_media` and `message_links` are written in
//! the send's transaction. A tombstone deletes them (and an admin delete
//! marks the media removed), so what these reads find is what the caller
//! may see.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::media::{MediaRow, ReadFacts};
use parley_protocol::media::{LinkItem, MediaItem};
use parley_protocol::{MediaKind, Timestamp};

/// Where a list page ends: the message's seq and the position within it
/// (attachments keep their order, links theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListCursor {
    pub seq: u64,
    pub position: u32,
}

impl ListCursor {
    /// The keyset bounds of the page after `cursor`, as statement
    /// parameters: rows with `seq < .0`, or `seq = .0 AND position > .1`
    /// (no cursor: everything).
    pub fn bounds(cursor: Option<ListCursor>) -> (i64, i64) {
        match cursor {
            Some(c) => (
                i64::try_from(c.seq).unwrap_or(i64::MAX),
                i64::from(c.position),
            ),
            None => (i64::MAX, -1),
        }
    }
}

/// A page of a list, newest message first; `next` is set when more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub next: Option<ListCursor>,
}

impl<T> ListPage<T> {
    /// The page from `fetched`: up to `limit + 1` rows read with their
    /// positions (the extra one only says that more follow).
    pub fn from_fetched(mut fetched: Vec<(T, ListCursor)>, limit: u32) -> Self {
        let more = fetched.len() > limit as usize;
        fetched.truncate(limit as usize);
        let next = if more {
            fetched.last().map(|(_, c)| *c)
        } else {
            None
        };
        ListPage {
            items: fetched.into_iter().map(|(t, _)| t).collect(),
            next,
        }
    }
}

#[async_trait]
pub trait MediaStore: Send + Sync + 'static {
    /// Stores a new upload (its bytes are already in the blob store).
    async fn create_media(&self, row: MediaRow) -> StoreResult<()>;
    /// The upload `id` (removed ones too) and whether `viewer` can see a
    /// live message that attaches it.
    async fn media_read_facts(&self, viewer: &str, id: &str) -> StoreResult<ReadFacts>;
    /// Attachments of kind `kinds` in `conv`, as `viewer` may see them
    /// (`not_found` for a non-member), after `cursor`.
    async fn conversation_media(
        &self,
        viewer: &str,
        conv: &str,
        kinds: &[MediaKind],
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> StoreResult<ListPage<MediaItem>>;
    /// Links of the messages of `conv` that `viewer` may see.
    async fn conversation_links(
        &self,
        viewer: &str,
        conv: &str,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> StoreResult<ListPage<LinkItem>>;
    /// Marks removed at most `limit` uploads made before `before` that no
    /// message attaches (avatars excepted); how many it marked.
    async fn expire_unattached(&self, before: Timestamp, limit: u32) -> StoreResult<u64>;
    /// Marks removed `uploader`'s public upload `id` (an avatar replaced
    /// by a newer one); whether it did. Anything else is left alone.
    async fn retire_avatar(&self, uploader: &str, id: &str) -> StoreResult<bool>;
    /// Ids of at most `limit` removed uploads, whose bytes may go.
    async fn removed_media(&self, limit: u32) -> StoreResult<Vec<String>>;
    /// Forgets removed uploads whose bytes are gone.
    async fn purge_media(&self, ids: &[String]) -> StoreResult<()>;
}
