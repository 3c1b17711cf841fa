//! Who reacted to a message (docs/protocol.md deviation 44).

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::reactors::ReactionRow;

#[async_trait]
pub trait ReactorStore: Send + Sync + 'static {
    /// Every reaction on the message, `not_found` unless `viewer` may read it.
    async fn reactors(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<ReactionRow>>;
}
