//! Pinned and archived chats, per user (docs/protocol.md, "Pinned and
//! archived chats"). A backend reads the facts under its lock, asks
//! [`parley_domain::chat_state::plan`] and stores the row it returns; a row
//! belongs to one membership (its `joined_seq`), so a rejoin starts clean.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::chat_state::Change;
use parley_protocol::{ChatState, Timestamp};

#[async_trait]
pub trait ChatStateStore: Send + Sync + 'static {
    /// Applies `change` to `user`'s state of `conv` and returns the state
    /// after it; `not_found` unless `user` is a member; `conflict` past the
    /// pin limit.
    async fn change_chat_state(
        &self,
        user: &str,
        conv: &str,
        change: Change,
        now: Timestamp,
    ) -> StoreResult<ChatState>;
    /// `user`'s chats that are pinned or archived at `now` (current
    /// memberships only), pinned ones first in pin order.
    async fn chat_states(&self, user: &str, now: Timestamp) -> StoreResult<Vec<ChatState>>;
}
