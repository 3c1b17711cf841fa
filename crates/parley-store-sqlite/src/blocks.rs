//! Blocks between users.

use crate::SqliteStore;
use crate::rows::{self, db_err};
use async_trait::async_trait;
use parley_protocol::Timestamp;
use parley_store::{BlockStore, StoreError, StoreResult, UserRow};
use rusqlite::params;

#[async_trait]
impl BlockStore for SqliteStore {
    async fn block(&self, blocker: &str, blocked: &str, at: Timestamp) -> StoreResult<bool> {
        let (blocker, blocked) = (blocker.to_string(), blocked.to_string());
        self.write(move |s, _| {
            if !rows::user_exists(&s.conn, &blocked)? {
                return Err(StoreError::not_found("user"));
            }
            let n = s
                .conn
                .prepare_cached("INSERT OR IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?1, ?2, ?3)")
                .map_err(db_err)?
                .execute(params![blocker, blocked, at.millis()])
                .map_err(db_err)?;
            Ok(n > 0)
        })
        .await
    }

    async fn unblock(&self, blocker: &str, blocked: &str) -> StoreResult<()> {
        let (blocker, blocked) = (blocker.to_string(), blocked.to_string());
        self.write(move |s, _| {
            s.conn
                .prepare_cached("DELETE FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2")
                .map_err(db_err)?
                .execute(params![blocker, blocked])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn blocks(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(UserRow, Timestamp)>> {
        let user = user.to_string();
        self.read(move |c| {
            let (at, id) = before.clone().unwrap_or((i64::MAX, String::new()));
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT b.created_at, {} FROM blocks b JOIN users u ON u.id = b.blocked_id
                     WHERE b.blocker_id = ?1 AND (?4 = 0 OR b.created_at < ?2 OR (b.created_at = ?2 AND b.blocked_id < ?3))
                     ORDER BY b.created_at DESC, b.blocked_id DESC LIMIT ?5",
                    rows::user_cols("u")
                ))
                .map_err(db_err)?;
            stmt.query_map(params![user, at, id, before.is_some() as i64, limit], |r| {
                let mut user = rows::user_row_at(r, 1)?;
                user.password_hash = None;
                Ok((user, Timestamp(r.get(0)?)))
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)
        })
        .await
    }

    async fn block_status(&self, a: &str, b: &str) -> StoreResult<(bool, bool)> {
        let (a, b) = (a.to_string(), b.to_string());
        self.read(move |c| {
            let q = |x: &str, y: &str| -> StoreResult<bool> {
                c.prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2)",
                )
                .map_err(db_err)?
                .query_row(params![x, y], |r| r.get(0))
                .map_err(db_err)
            };
            Ok((q(&a, &b)?, q(&b, &a)?))
        })
        .await
    }

    async fn block_partners(&self, user: &str) -> StoreResult<Vec<String>> {
        let user = user.to_string();
        self.read(move |c| rows::block_partners(c, &user)).await
    }
}
