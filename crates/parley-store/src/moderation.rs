//! Moderation: bans, admin deletes and the append-only audit log
//! (protocol.md §11). `parley_domain::moderation` decides; a backend reads
//! the facts under its lock, applies the plan and appends the entry in the
//! same transaction.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::moderation::NewAuditEntry;
use parley_protocol::{AuditEntry, Message, Timestamp};

#[async_trait]
pub trait ModerationStore: Send + Sync + 'static {
    /// Bans `target` (by `actor`, `None` for the command line): marks the
    /// user, moves `sessions_valid_after` to `at`, revokes every refresh
    /// token and API key of the user, appends `user.ban`. `false` when already banned (nothing
    /// written). `not_found` for an unknown user.
    async fn ban_user(
        &self,
        actor: Option<&str>,
        target: &str,
        reason: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Lifts a ban (earlier credentials stay refused); `false` when the
    /// user was not banned.
    async fn unban_user(
        &self,
        actor: Option<&str>,
        target: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Tombstones a message in any conversation (the event's actor is the
    /// admin) and appends `message.delete`; a tombstone again changes
    /// nothing. Returns the tombstone.
    async fn admin_delete_message(
        &self,
        admin: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message>;
    /// Appends a security event.
    async fn append_audit(&self, entry: NewAuditEntry, at: Timestamp) -> StoreResult<()>;
    /// Newest first, before the entry id `before`.
    async fn audit_log(&self, before: Option<String>, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// Users banned at or after `since` and still banned.
    async fn banned_since(&self, since: Timestamp) -> StoreResult<Vec<String>>;
}
