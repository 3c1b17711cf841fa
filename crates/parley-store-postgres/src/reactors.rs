//! Who reacted to a message, on PostgreSQL.

use crate::PostgresStore;
use crate::rows::{self, col, query};
use async_trait::async_trait;
use parley_domain::reactors::ReactionRow;
use parley_store::{ReactorStore, StoreResult};

#[async_trait]
impl ReactorStore for PostgresStore {
    async fn reactors(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<ReactionRow>> {
        let c = self.client().await?;
        rows::visible_message(&c, viewer, message_id).await?;
        query(
            &c,
            "SELECT emoji, user_id, created_at FROM reactions WHERE message_id = $1",
            &[&message_id],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
        .collect()
    }
}
