//! Blocks between users.

use crate::PostgresStore;
use crate::rows::{self, col, execute, query, query_one};
use async_trait::async_trait;
use parley_protocol::Timestamp;
use parley_store::{BlockStore, StoreError, StoreResult, UserRow};

#[async_trait]
impl BlockStore for PostgresStore {
    async fn block(&self, blocker: &str, blocked: &str, at: Timestamp) -> StoreResult<bool> {
        let c = self.client().await?;
        if !rows::user_exists(&c, blocked).await? {
            return Err(StoreError::not_found("user"));
        }
        let n = execute(
            &c,
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
            &[&blocker, &blocked, &at.millis()],
        )
        .await?;
        Ok(n > 0)
    }

    async fn unblock(&self, blocker: &str, blocked: &str) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
            &[&blocker, &blocked],
        )
        .await?;
        Ok(())
    }

    async fn blocks(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(UserRow, Timestamp)>> {
        let c = self.client().await?;
        let (at, id) = before.clone().unwrap_or((i64::MAX, String::new()));
        query(
            &c,
            &format!(
                "SELECT b.created_at, {} FROM blocks b JOIN users u ON u.id = b.blocked_id
                 WHERE b.blocker_id = $1 AND ($4::boolean = FALSE OR b.created_at < $2 OR (b.created_at = $2 AND b.blocked_id < $3))
                 ORDER BY b.created_at DESC, b.blocked_id DESC LIMIT $5",
                rows::user_cols("u")
            ),
            &[&user, &at, &id, &before.is_some(), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(|r| {
            let mut user = rows::user_row_at(r, 1)?;
            user.password_hash = None;
            Ok((user, Timestamp(col(r, 0)?)))
        })
        .collect()
    }

    async fn block_status(&self, a: &str, b: &str) -> StoreResult<(bool, bool)> {
        let c = self.client().await?;
        let r = query_one(
            &c,
            "SELECT EXISTS(SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2),
                    EXISTS(SELECT 1 FROM blocks WHERE blocker_id = $2 AND blocked_id = $1)",
            &[&a, &b],
        )
        .await?;
        Ok((col(&r, 0)?, col(&r, 1)?))
    }

    async fn block_partners(&self, user: &str) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::block_partners(&c, user).await
    }
}
