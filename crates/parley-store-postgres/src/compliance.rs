//! The admin (compliance) export on PostgreSQL (protocol.md §13): reads only.

use crate::rows::{self, MESSAGE_COLS, col, query, seq_param};
use crate::{PostgresStore, views};
use async_trait::async_trait;
use parley_protocol::compliance::ComplianceConversation;
use parley_protocol::{Message, Timestamp};
use parley_store::{ComplianceStore, StoreError, StoreResult};

#[async_trait]
impl ComplianceStore for PostgresStore {
    async fn compliance_conversation(&self, id: &str) -> StoreResult<ComplianceConversation> {
        let c = self.client().await?;
        rows::conversation_kind(&c, id)
            .await?
            .ok_or(StoreError::not_found("conversation"))?;
        let row = rows::conversation_row(&c, id).await?;
        let member_ids = query(
            &c,
            "SELECT user_id FROM members WHERE conversation_id = $1 AND active ORDER BY user_id",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect::<StoreResult<_>>()?;
        Ok(ComplianceConversation {
            id: id.to_string(),
            kind: row.kind,
            title: row.title,
            created_at: Timestamp(row.created_at),
            last_seq: row.last_seq,
            member_ids,
        })
    }

    async fn compliance_messages(
        &self,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let c = self.client().await?;
        let found = query(
            &c,
            &format!(
                "SELECT {MESSAGE_COLS} FROM messages
                 WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ),
            &[&id, &seq_param(after), &i64::from(limit)],
        )
        .await?;
        let mut out = Vec::with_capacity(found.len());
        for r in &found {
            // Viewed by nobody: no status, no reaction of one's own.
            out.push(views::message_view(&c, "", &rows::message_row(r)?, None).await?);
        }
        Ok(out)
    }
}
