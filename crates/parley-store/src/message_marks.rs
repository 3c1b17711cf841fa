//! A user's own marks on messages: starred, and deleted for this user only
//! (docs/protocol.md, "Starred messages and delete for me"). A backend
//! checks the message is visible to the user, asks
//! [`parley_domain::message_marks::plan`] and stores what it returns.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::message_marks::Change;
use parley_protocol::Timestamp;
use parley_protocol::message_marks::{MessageMark, StarredMessage};

#[async_trait]
pub trait MessageMarkStore: Send + Sync + 'static {
    /// `not_found` unless `user` may read the message; `conflict` for a star
    /// the rules refuse.
    async fn change_message_mark(
        &self,
        user: &str,
        message_id: &str,
        change: Change,
        now: Timestamp,
    ) -> StoreResult<MessageMark>;
    /// `user`'s marks in `conv`, ascending seq (`not_found` unless a member;
    /// marks on messages before the current membership are left out).
    async fn message_marks(&self, user: &str, conv: &str) -> StoreResult<Vec<MessageMark>>;
    /// `user`'s starred messages they may still read and that are not
    /// deleted, newest star first, after the keyset cursor (starred_at,
    /// message id).
    async fn starred(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<StarredMessage>>;
}
