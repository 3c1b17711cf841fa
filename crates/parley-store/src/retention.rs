//! Retention (protocol.md §13): expiring messages without writing events.
//!
//! A pass first lists the conversations with work ([`RetentionStore::
//! expirable_conversations`], a read), then expires each in bounded
//! writes ([`RetentionStore::expire_conversation`]), so no write holds
//! the SQLite writer or a PostgreSQL conversation lock for long. The rule
//! (which messages, what stays, how events are redacted) is
//! `parley_domain::retention`; each backend reads a conversation's
//! setting and its expiry mark under its lock and applies that rule.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::retention::Pass;

/// What one write expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Messages that became tombstones (ones already deleted only lose
    /// their events' copies and are not counted).
    pub tombstoned: u64,
    /// Whether the conversation has more expired messages to go.
    pub more: bool,
}

#[async_trait]
pub trait RetentionStore: Send + Sync + 'static {
    /// Conversations with at least one message expired at `pass` that is
    /// not yet a retention tombstone, at most `limit`.
    async fn expirable_conversations(&self, pass: Pass, limit: u32) -> StoreResult<Vec<String>>;
    /// Expires at most `limit` of `conversation`'s oldest messages expired
    /// at `pass`: each becomes a tombstone (text, attachments, reactions
    /// and links gone, out of the search index) with no event and no seq,
    /// its `message.created` and `message.edited` events are redacted, and
    /// media no message attaches any more are marked removed (the media
    /// sweep deletes their bytes). A conversation that is gone expires
    /// nothing.
    async fn expire_conversation(
        &self,
        conversation: &str,
        pass: Pass,
        limit: u32,
    ) -> StoreResult<Expired>;
    /// How many messages, not deleted, a pass at `pass` would tombstone.
    async fn count_expired(&self, pass: Pass) -> StoreResult<u64>;
    /// Sets (`Some`) or clears a conversation's own retention in days;
    /// `not_found` for no such conversation.
    async fn set_conversation_retention(
        &self,
        conversation: &str,
        days: Option<u32>,
    ) -> StoreResult<()>;
    /// A conversation's own retention; `not_found` for no such conversation.
    async fn conversation_retention(&self, conversation: &str) -> StoreResult<Option<u32>>;
    /// Whether any conversation has its own retention.
    async fn any_conversation_retention(&self) -> StoreResult<bool>;
}
