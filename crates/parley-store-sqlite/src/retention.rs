//! Retention on SQLite (protocol.md §13). The writer expires one
//! conversation's messages at a time, at most a batch per write, past the
//! conversation's `expired_seq` mark; the rule is
//! `parley_domain::retention`.

use crate::rows::{db_err, seq_param, u64_col};
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::retention::{self as rules, Pass};
use parley_store::{Expired, RetentionStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

/// A message past a conversation's mark, as retention reads it.
struct Candidate {
    id: String,
    seq: u64,
    created_at: i64,
    deleted: bool,
}

/// A conversation's setting and the head of its unexpired history.
struct Head {
    id: String,
    days: Option<u32>,
    /// When its oldest message past the mark was created (`None`: none).
    oldest: Option<i64>,
}

fn days_col(r: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<u32>> {
    Ok(r.get::<_, Option<i64>>(idx)?
        .map(|d| u32::try_from(d).unwrap_or(rules::MAX_DAYS)))
}

impl WriterState {
    /// Records that the event at `seq` edits `message`.
    pub(crate) fn record_edit(&self, conv: &str, message: &str, seq: u64) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO message_edits (message_id, conversation_id, seq) VALUES (?1, ?2, ?3)",
            )
            .map_err(db_err)?
            .execute(params![message, conv, seq_param(seq)])
            .map_err(db_err)?;
        Ok(())
    }

    fn expire_conversation(&mut self, conv: &str, pass: Pass, limit: u32) -> StoreResult<Expired> {
        let Some((days, mark)) = self
            .conn
            .prepare_cached("SELECT retention_days, expired_seq FROM conversations WHERE id = ?1")
            .map_err(db_err)?
            .query_row([conv], |r| Ok((days_col(r, 0)?, u64_col(r, 1)?)))
            .optional()
            .map_err(db_err)?
        else {
            return Ok(Expired::default());
        };
        if pass.cutoff(days).is_none() {
            return Ok(Expired::default());
        }
        let candidates = self
            .conn
            .prepare_cached(
                "SELECT id, seq, created_at, deleted FROM messages
                 WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(db_err)?
            .query_map(params![conv, seq_param(mark), i64::from(limit) + 1], |r| {
                Ok(Candidate {
                    id: r.get(0)?,
                    seq: u64_col(r, 1)?,
                    created_at: r.get(2)?,
                    deleted: r.get::<_, i64>(3)? != 0,
                })
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        let mut done = Expired::default();
        let mut last = mark;
        for (i, m) in candidates.iter().enumerate() {
            if !pass.expired(days, m.created_at) {
                break;
            }
            if i == limit as usize {
                done.more = true;
                break;
            }
            self.expire_message(conv, m)?;
            if !m.deleted {
                done.tombstoned += 1;
            }
            last = m.seq;
        }
        if last != mark {
            self.conn
                .prepare_cached("UPDATE conversations SET expired_seq = ?2 WHERE id = ?1")
                .map_err(db_err)?
                .execute(params![conv, seq_param(last)])
                .map_err(db_err)?;
        }
        Ok(done)
    }

    /// Makes `m` a tombstone without an event and redacts its events.
    fn expire_message(&mut self, conv: &str, m: &Candidate) -> StoreResult<()> {
        let media: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT media_id FROM message_media WHERE conversation_id = ?1 AND seq = ?2",
            )
            .map_err(db_err)?
            .query_map(params![conv, seq_param(m.seq)], |r| r.get(0))
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        self.conn
            .prepare_cached(
                "UPDATE messages SET deleted = 1, text = NULL, attachments = '[]' WHERE id = ?1",
            )
            .map_err(db_err)?
            .execute([&m.id])
            .map_err(db_err)?;
        self.conn
            .prepare_cached("DELETE FROM reactions WHERE message_id = ?1")
            .map_err(db_err)?
            .execute([&m.id])
            .map_err(db_err)?;
        self.detach(conv, m.seq, false)?;
        for id in &media {
            self.conn
                .prepare_cached(
                    "UPDATE media SET removed = 1 WHERE id = ?1 AND attached = 0 AND public = 0",
                )
                .map_err(db_err)?
                .execute([id])
                .map_err(db_err)?;
        }
        let edits: Vec<u64> = self
            .conn
            .prepare_cached("SELECT seq FROM message_edits WHERE message_id = ?1")
            .map_err(db_err)?
            .query_map([&m.id], |r| u64_col(r, 0))
            .map_err(db_err)?
            .collect::<Result<_, _>>()
            .map_err(db_err)?;
        for seq in std::iter::once(m.seq).chain(edits) {
            self.redact_event(conv, seq, &m.id)?;
        }
        self.conn
            .prepare_cached("DELETE FROM message_edits WHERE message_id = ?1")
            .map_err(db_err)?
            .execute([&m.id])
            .map_err(db_err)?;
        Ok(())
    }

    fn redact_event(&self, conv: &str, seq: u64, message: &str) -> StoreResult<()> {
        let body: Option<String> = self
            .conn
            .prepare_cached("SELECT body FROM events WHERE conversation_id = ?1 AND seq = ?2")
            .map_err(db_err)?
            .query_row(params![conv, seq_param(seq)], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        let Some(body) = body else {
            return Ok(());
        };
        if let Some(redacted) = rules::redact_event(&body, message)? {
            self.conn
                .prepare_cached(
                    "UPDATE events SET body = ?3 WHERE conversation_id = ?1 AND seq = ?2",
                )
                .map_err(db_err)?
                .execute(params![conv, seq_param(seq), redacted])
                .map_err(db_err)?;
        }
        Ok(())
    }
}

/// Every conversation with its setting and the head of its history past
/// the mark (one indexed lookup each).
fn heads(c: &Connection) -> StoreResult<Vec<Head>> {
    c.prepare_cached(
        "SELECT c.id, c.retention_days,
                (SELECT m.created_at FROM messages m
                 WHERE m.conversation_id = c.id AND m.seq > c.expired_seq ORDER BY m.seq LIMIT 1)
         FROM conversations c",
    )
    .map_err(db_err)?
    .query_map([], |r| {
        Ok(Head {
            id: r.get(0)?,
            days: days_col(r, 1)?,
            oldest: r.get(2)?,
        })
    })
    .map_err(db_err)?
    .collect::<Result<_, _>>()
    .map_err(db_err)
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn expirable_conversations(&self, pass: Pass, limit: u32) -> StoreResult<Vec<String>> {
        self.read(move |c| {
            Ok(heads(c)?
                .into_iter()
                .filter(|h| h.oldest.is_some_and(|t| pass.expired(h.days, t)))
                .take(limit as usize)
                .map(|h| h.id)
                .collect())
        })
        .await
    }

    async fn expire_conversation(
        &self,
        conversation: &str,
        pass: Pass,
        limit: u32,
    ) -> StoreResult<Expired> {
        let conversation = conversation.to_string();
        self.write(move |s, _| s.expire_conversation(&conversation, pass, limit))
            .await
    }

    async fn count_expired(&self, pass: Pass) -> StoreResult<u64> {
        self.read(move |c| {
            let mut n = 0;
            for h in heads(c)? {
                let Some(cutoff) = pass.cutoff(h.days) else {
                    continue;
                };
                n += c
                    .prepare_cached(
                        "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
                         WHERE m.conversation_id = ?1 AND m.seq > c.expired_seq
                           AND m.created_at < ?2 AND m.deleted = 0",
                    )
                    .map_err(db_err)?
                    .query_row(params![h.id, cutoff], |r| u64_col(r, 0))
                    .map_err(db_err)?;
            }
            Ok(n)
        })
        .await
    }

    async fn set_conversation_retention(
        &self,
        conversation: &str,
        days: Option<u32>,
    ) -> StoreResult<()> {
        let conversation = conversation.to_string();
        self.write(move |s, _| {
            let n = s
                .conn
                .prepare_cached("UPDATE conversations SET retention_days = ?2 WHERE id = ?1")
                .map_err(db_err)?
                .execute(params![conversation, days.map(i64::from)])
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::not_found("conversation"));
            }
            Ok(())
        })
        .await
    }

    async fn conversation_retention(&self, conversation: &str) -> StoreResult<Option<u32>> {
        let conversation = conversation.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT retention_days FROM conversations WHERE id = ?1")
                .map_err(db_err)?
                .query_row([&conversation], |r| days_col(r, 0))
                .optional()
                .map_err(db_err)?
                .ok_or(StoreError::not_found("conversation"))
        })
        .await
    }

    async fn any_conversation_retention(&self) -> StoreResult<bool> {
        self.read(|c| {
            c.query_row(
                "SELECT EXISTS(SELECT 1 FROM conversations WHERE retention_days IS NOT NULL)",
                [],
                |r| r.get(0),
            )
            .map_err(db_err)
        })
        .await
    }
}
