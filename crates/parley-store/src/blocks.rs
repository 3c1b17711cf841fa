//! Blocks between users.

use crate::StoreResult;
use crate::users::UserRow;
use async_trait::async_trait;
use parley_protocol::Timestamp;

#[async_trait]
pub trait BlockStore: Send + Sync + 'static {
    /// Returns whether the block is new; `not_found` for an unknown user.
    async fn block(&self, blocker: &str, blocked: &str, at: Timestamp) -> StoreResult<bool>;
    async fn unblock(&self, blocker: &str, blocked: &str) -> StoreResult<()>;
    /// Users `user` blocks, newest first, after the keyset cursor.
    async fn blocks(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(UserRow, Timestamp)>>;
    /// (a blocks b, b blocks a).
    async fn block_status(&self, a: &str, b: &str) -> StoreResult<(bool, bool)>;
    /// Everyone `user` blocks or is blocked by.
    async fn block_partners(&self, user: &str) -> StoreResult<Vec<String>>;
}
