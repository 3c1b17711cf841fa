//! The admin (compliance) export on SQLite (protocol.md §13): reads only.

use crate::rows::{self, MESSAGE_COLS, db_err, seq_param};
use crate::{SqliteStore, views};
use async_trait::async_trait;
use parley_protocol::compliance::ComplianceConversation;
use parley_protocol::{Message, Timestamp};
use parley_store::{ComplianceStore, StoreError, StoreResult};
use rusqlite::params;

#[async_trait]
impl ComplianceStore for SqliteStore {
    async fn compliance_conversation(&self, id: &str) -> StoreResult<ComplianceConversation> {
        let id = id.to_string();
        self.read(move |c| {
            rows::conversation_kind(c, &id)?.ok_or(StoreError::not_found("conversation"))?;
            let row = rows::conversation_row(c, &id)?;
            let member_ids = c
                .prepare_cached(
                    "SELECT user_id FROM members WHERE conversation_id = ?1 AND active = 1 ORDER BY user_id",
                )
                .map_err(db_err)?
                .query_map([&id], |r| r.get(0))
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            Ok(ComplianceConversation {
                id,
                kind: row.kind,
                title: row.title,
                created_at: Timestamp(row.created_at),
                last_seq: row.last_seq,
                member_ids,
            })
        })
        .await
    }

    async fn compliance_messages(
        &self,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let id = id.to_string();
        self.read(move |c| {
            let found = c
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLS} FROM messages
                     WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
                ))
                .map_err(db_err)?
                .query_map(params![id, seq_param(after), limit], rows::message_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            // Viewed by nobody: no status, no reaction of one's own.
            found
                .iter()
                .map(|row| views::message_view(c, "", row, None))
                .collect()
        })
        .await
    }
}
