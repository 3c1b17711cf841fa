//! Who reacted to a message, on SQLite.

use crate::SqliteStore;
use crate::rows::{self, db_err};
use async_trait::async_trait;
use parley_domain::reactors::ReactionRow;
use parley_store::{ReactorStore, StoreResult};
use rusqlite::params;

#[async_trait]
impl ReactorStore for SqliteStore {
    async fn reactors(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<ReactionRow>> {
        let (viewer, message_id) = (viewer.to_string(), message_id.to_string());
        self.read(move |c| {
            rows::visible_message(c, &viewer, &message_id)?;
            c.prepare_cached(
                "SELECT emoji, user_id, created_at FROM reactions WHERE message_id = ?1",
            )
            .map_err(db_err)?
            .query_map(params![message_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)
        })
        .await
    }
}
