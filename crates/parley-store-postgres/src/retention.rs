//! Retention on PostgreSQL (protocol.md §13). A write locks the
//! conversation (as every writer of it does, so an edit or a reaction
//! never lands on a half-expired message), expires at most a batch of its
//! messages past its `expired_seq` mark and commits; the rule is
//! `parley_domain::retention`. Processes running passes at once split the
//! work: each re-reads the mark under the lock.

use crate::PostgresStore;
use crate::events::WriteTx;
use crate::in_tx;
use crate::rows::{col, col_u64, execute, query, query_one, query_opt, seq_param};
use async_trait::async_trait;
use parley_domain::retention::{self as rules, Pass};
use parley_store::{Expired, RetentionStore, StoreError, StoreResult};
use tokio_postgres::Row;

fn days_col(r: &Row, idx: usize) -> StoreResult<Option<u32>> {
    Ok(col::<Option<i32>>(r, idx)?.map(|d| u32::try_from(d).unwrap_or(rules::MAX_DAYS)))
}

impl WriteTx<'_> {
    /// Records that the event at `seq` edits `message`.
    pub async fn record_edit(&self, conv: &str, message: &str, seq: u64) -> StoreResult<()> {
        execute(
            &self.tx,
            "INSERT INTO message_edits (message_id, conversation_id, seq) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&message, &conv, &seq_param(seq)],
        )
        .await?;
        Ok(())
    }

    async fn expire_conversation(
        &mut self,
        conv: &str,
        pass: Pass,
        limit: u32,
    ) -> StoreResult<Expired> {
        match self.lock_conversation(conv).await {
            Ok(()) => {}
            Err(StoreError::Domain(_)) => return Ok(Expired::default()),
            Err(e) => return Err(e),
        }
        let r = query_one(
            &self.tx,
            "SELECT retention_days, expired_seq FROM conversations WHERE id = $1",
            &[&conv],
        )
        .await?;
        let (days, mark) = (days_col(&r, 0)?, col_u64(&r, 1)?);
        if pass.cutoff(days).is_none() {
            return Ok(Expired::default());
        }
        let candidates = query(
            &self.tx,
            "SELECT id, seq, created_at, deleted FROM messages
             WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&conv, &seq_param(mark), &(i64::from(limit) + 1)],
        )
        .await?;
        let mut done = Expired::default();
        let mut last = mark;
        for (i, r) in candidates.iter().enumerate() {
            let created_at: i64 = col(r, 2)?;
            if !pass.expired(days, created_at) {
                break;
            }
            if i == limit as usize {
                done.more = true;
                break;
            }
            let (id, seq, deleted): (String, u64, bool) = (col(r, 0)?, col_u64(r, 1)?, col(r, 3)?);
            self.expire_message(conv, &id, seq).await?;
            if !deleted {
                done.tombstoned += 1;
            }
            last = seq;
        }
        if last != mark {
            execute(
                &self.tx,
                "UPDATE conversations SET expired_seq = $2 WHERE id = $1",
                &[&conv, &seq_param(last)],
            )
            .await?;
        }
        Ok(done)
    }

    /// Makes the message a tombstone without an event and redacts its events.
    async fn expire_message(&self, conv: &str, id: &str, seq: u64) -> StoreResult<()> {
        let media: Vec<String> = query(
            &self.tx,
            "SELECT media_id FROM message_media WHERE conversation_id = $1 AND seq = $2",
            &[&conv, &seq_param(seq)],
        )
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect::<StoreResult<_>>()?;
        execute(
            &self.tx,
            "UPDATE messages SET deleted = TRUE, text = NULL, attachments = '[]' WHERE id = $1",
            &[&id],
        )
        .await?;
        execute(
            &self.tx,
            "DELETE FROM reactions WHERE message_id = $1",
            &[&id],
        )
        .await?;
        self.detach(conv, seq, false).await?;
        execute(
            &self.tx,
            "UPDATE media SET removed = TRUE WHERE id = ANY($1) AND attached = 0 AND public = FALSE",
            &[&media],
        )
        .await?;
        let edits = query(
            &self.tx,
            "DELETE FROM message_edits WHERE message_id = $1 RETURNING seq",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| col_u64(r, 0))
        .collect::<StoreResult<Vec<_>>>()?;
        for at in std::iter::once(seq).chain(edits) {
            let Some(r) = query_opt(
                &self.tx,
                "SELECT body FROM events WHERE conversation_id = $1 AND seq = $2",
                &[&conv, &seq_param(at)],
            )
            .await?
            else {
                continue;
            };
            let body: String = col(&r, 0)?;
            if let Some(redacted) = rules::redact_event(&body, id)? {
                execute(
                    &self.tx,
                    "UPDATE events SET body = $3 WHERE conversation_id = $1 AND seq = $2",
                    &[&conv, &seq_param(at), &redacted],
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// Every conversation's setting and the time of the oldest message past
/// its mark (one index lookup each).
const HEADS: &str = "SELECT c.id, c.retention_days,
        (SELECT m.created_at FROM messages m
         WHERE m.conversation_id = c.id AND m.seq > c.expired_seq ORDER BY m.seq LIMIT 1)
     FROM conversations c";

#[async_trait]
impl RetentionStore for PostgresStore {
    async fn expirable_conversations(&self, pass: Pass, limit: u32) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        let mut found = Vec::new();
        for r in query(&c, HEADS, &[]).await? {
            let (days, oldest): (_, Option<i64>) = (days_col(&r, 1)?, col(&r, 2)?);
            if oldest.is_some_and(|t| pass.expired(days, t)) {
                found.push(col(&r, 0)?);
                if found.len() >= limit as usize {
                    break;
                }
            }
        }
        Ok(found)
    }

    async fn expire_conversation(
        &self,
        conversation: &str,
        pass: Pass,
        limit: u32,
    ) -> StoreResult<Expired> {
        let conversation = conversation.to_string();
        in_tx!(self, move |w, _out| w.expire_conversation(
            &conversation,
            pass,
            limit
        ))
    }

    async fn count_expired(&self, pass: Pass) -> StoreResult<u64> {
        let c = self.client().await?;
        let mut n = 0;
        for r in query(&c, HEADS, &[]).await? {
            let Some(cutoff) = pass.cutoff(days_col(&r, 1)?) else {
                continue;
            };
            let id: String = col(&r, 0)?;
            let found = query_one(
                &c,
                "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
                 WHERE m.conversation_id = $1 AND m.seq > c.expired_seq
                   AND m.created_at < $2 AND NOT m.deleted",
                &[&id, &cutoff],
            )
            .await?;
            n += col_u64(&found, 0)?;
        }
        Ok(n)
    }

    async fn set_conversation_retention(
        &self,
        conversation: &str,
        days: Option<u32>,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        let days = days.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
        let n = execute(
            &c,
            "UPDATE conversations SET retention_days = $2 WHERE id = $1",
            &[&conversation, &days],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::not_found("conversation"));
        }
        Ok(())
    }

    async fn conversation_retention(&self, conversation: &str) -> StoreResult<Option<u32>> {
        let c = self.client().await?;
        let r = query_opt(
            &c,
            "SELECT retention_days FROM conversations WHERE id = $1",
            &[&conversation],
        )
        .await?
        .ok_or(StoreError::not_found("conversation"))?;
        days_col(&r, 0)
    }

    async fn any_conversation_retention(&self) -> StoreResult<bool> {
        let c = self.client().await?;
        let r = query_one(
            &c,
            "SELECT EXISTS(SELECT 1 FROM conversations WHERE retention_days IS NOT NULL)",
            &[],
        )
        .await?;
        col(&r, 0)
    }
}
