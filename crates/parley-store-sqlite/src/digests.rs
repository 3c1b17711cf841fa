//! Email addresses and digests on SQLite. Enqueue, claim and settle run
//! on the writer, so the due check and its record are decided alone.

use crate::SqliteStore;
use crate::rows::{self, db_err, seq_param, u64_col};
use async_trait::async_trait;
use parley_domain::digest::{DigestConversation, DigestFacts, DigestMessage, MESSAGES_SHOWN};
use parley_protocol::Timestamp;
use parley_store::{
    ClaimedDigest, DigestItem, DigestSettle, DigestStore, DigestWindow, StoreError, StoreResult,
};
use rusqlite::{Connection, OptionalExtension, params};

/// The conditions under which member row `m` (with its digest record `d`
/// left-joined) is due: `?2` now, `?3` the cutoff, `?4` again-before.
const DUE: &str = "m.active = 1
   AND (m.muted_until IS NULL OR m.muted_until <= ?2)
   AND (d.sent_at IS NULL OR d.sent_at <= ?4)
   AND EXISTS (SELECT 1 FROM messages x
     WHERE x.conversation_id = m.conversation_id
       AND x.seq > max(m.read_seq, COALESCE(d.sent_seq, 0))
       AND x.sender_id <> m.user_id AND x.deleted = 0 AND x.created_at <= ?3
       AND NOT EXISTS (SELECT 1 FROM blocks b
                       WHERE b.blocker_id = m.user_id AND b.blocked_id = x.sender_id))";

/// Unread messages of a listed range: `?1` conversation, `?2` after,
/// `?3` until, `?4` the user.
const UNREAD: &str = "FROM messages x JOIN users u ON u.id = x.sender_id
     WHERE x.conversation_id = ?1 AND x.seq > ?2 AND x.seq <= ?3
       AND x.sender_id <> ?4 AND x.deleted = 0
       AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = ?4 AND b.blocked_id = x.sender_id)";

fn due_items(conn: &Connection, user: &str, w: DigestWindow) -> StoreResult<Vec<DigestItem>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT m.conversation_id, max(m.read_seq, COALESCE(d.sent_seq, 0)),
                    (SELECT max(seq) FROM messages WHERE conversation_id = m.conversation_id)
             FROM members m
             LEFT JOIN email_digests d ON d.user_id = m.user_id AND d.conversation_id = m.conversation_id
             WHERE m.user_id = ?1 AND {DUE}
             ORDER BY m.conversation_id"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(
            params![
                user,
                w.now.millis(),
                w.cutoff.millis(),
                w.again_before.millis()
            ],
            |r| {
                Ok(DigestItem {
                    conversation_id: r.get(0)?,
                    after_seq: u64_col(r, 1)?,
                    until_seq: u64_col(r, 2)?,
                })
            },
        )
        .map_err(db_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
}

/// What the digest `items` would say for `user` now.
fn facts(
    conn: &Connection,
    user: &str,
    items: &[DigestItem],
    now: i64,
) -> StoreResult<DigestFacts> {
    let display_name = rows::user_by_id(conn, user)?
        .map(|u| u.display_name)
        .unwrap_or_default();
    let address = address(conn, user)?;
    let prefs = crate::notifications::load(conn, user)?;
    let mut conversations = Vec::with_capacity(items.len());
    for item in items {
        let Some(member) = rows::member_info(conn, &item.conversation_id, user)? else {
            continue;
        };
        let Ok(conv) = rows::conversation_row(conn, &item.conversation_id) else {
            continue;
        };
        let after = seq_param(item.after_seq.max(member.read_seq));
        let until = seq_param(item.until_seq);
        let unread: i64 = conn
            .prepare_cached(&format!("SELECT count(*) {UNREAD}"))
            .map_err(db_err)?
            .query_row(params![item.conversation_id, after, until, user], |r| {
                r.get(0)
            })
            .map_err(db_err)?;
        let mut latest = conn
            .prepare_cached(&format!(
                "SELECT u.display_name, x.text {UNREAD} ORDER BY x.seq DESC LIMIT ?5"
            ))
            .map_err(db_err)?
            .query_map(
                params![
                    item.conversation_id,
                    after,
                    until,
                    user,
                    MESSAGES_SHOWN as i64
                ],
                |r| {
                    Ok(DigestMessage {
                        sender_name: r.get(0)?,
                        text: r.get(1)?,
                    })
                },
            )
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        latest.reverse();
        conversations.push(DigestConversation {
            conversation_id: item.conversation_id.clone(),
            kind: conv.kind,
            title: conv.title,
            muted: member.muted_until.is_some_and(|until| until > now),
            unread: unread.max(0) as u64,
            latest,
        });
    }
    Ok(DigestFacts {
        user_id: user.to_string(),
        display_name,
        address,
        prefs,
        conversations,
    })
}

fn address(conn: &Connection, user: &str) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT address FROM user_emails WHERE user_id = ?1")
        .map_err(db_err)?
        .query_row([user], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

#[async_trait]
impl DigestStore for SqliteStore {
    async fn email_address(&self, user: &str) -> StoreResult<Option<String>> {
        let user = user.to_string();
        self.read(move |c| address(c, &user)).await
    }

    async fn set_email_address(&self, user: &str, address: Option<String>) -> StoreResult<()> {
        let user = user.to_string();
        self.write(move |s, _| {
            match address {
                Some(a) => s
                    .conn
                    .prepare_cached(
                        "INSERT INTO user_emails (user_id, address) VALUES (?1, ?2)
                         ON CONFLICT (user_id) DO UPDATE SET address = excluded.address",
                    )
                    .map_err(db_err)?
                    .execute(params![user, a]),
                None => s
                    .conn
                    .prepare_cached("DELETE FROM user_emails WHERE user_id = ?1")
                    .map_err(db_err)?
                    .execute([&user]),
            }
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn digest_candidates(
        &self,
        window: DigestWindow,
        after: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        self.read(move |c| {
            rows::strings(
                c,
                &format!(
                    "SELECT e.user_id FROM user_emails e
                     LEFT JOIN notification_prefs p ON p.user_id = e.user_id
                     WHERE e.user_id > ?1 AND COALESCE(p.email, 'digest') = 'digest'
                       AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.channel = 'email' AND o.target = e.user_id)
                       AND EXISTS (SELECT 1 FROM members m
                         LEFT JOIN email_digests d ON d.user_id = m.user_id AND d.conversation_id = m.conversation_id
                         WHERE m.user_id = e.user_id AND {DUE})
                     ORDER BY e.user_id LIMIT ?5"
                ),
                params![
                    after.unwrap_or_default(),
                    window.now.millis(),
                    window.cutoff.millis(),
                    window.again_before.millis(),
                    limit
                ],
            )
        })
        .await
    }

    async fn enqueue_digest(
        &self,
        user: &str,
        id: &str,
        window: DigestWindow,
    ) -> StoreResult<bool> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write(move |s, _| {
            let items = due_items(&s.conn, &user, window)?;
            if items.is_empty() {
                return Ok(false);
            }
            let body = serde_json::to_string(&items)
                .map_err(|e| StoreError::Internal(format!("digest body: {e}")))?;
            let queued = s
                .conn
                .prepare_cached(
                    "INSERT INTO outbox (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at)
                     VALUES (?1, 'email', ?2, 'digest', ?3, 'pending', 0, ?4, ?4)
                     ON CONFLICT (target) WHERE channel = 'email' DO NOTHING",
                )
                .map_err(db_err)?
                .execute(params![id, user, body, window.now.millis()])
                .map_err(db_err)?;
            if queued == 0 {
                return Ok(false);
            }
            let mut record = s
                .conn
                .prepare_cached(
                    "INSERT INTO email_digests (user_id, conversation_id, sent_at, sent_seq)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id, conversation_id)
                     DO UPDATE SET sent_at = excluded.sent_at, sent_seq = excluded.sent_seq",
                )
                .map_err(db_err)?;
            for item in &items {
                record
                    .execute(params![
                        user,
                        item.conversation_id,
                        window.now.millis(),
                        seq_param(item.until_seq)
                    ])
                    .map_err(db_err)?;
            }
            Ok(true)
        })
        .await
    }

    async fn claim_digests(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDigest>> {
        self.write(move |s, _| {
            let claimed: Vec<(String, String, String, u32)> = {
                let mut stmt = s
                    .conn
                    .prepare_cached(
                        "UPDATE outbox SET next_attempt_at = ?2 WHERE id IN (
                           SELECT id FROM outbox
                           WHERE channel = 'email' AND status = 'pending' AND next_attempt_at <= ?1
                           ORDER BY next_attempt_at LIMIT ?3)
                         RETURNING id, target, body, attempts",
                    )
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map(params![now.millis(), lease_until.millis(), limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)?
            };
            let mut out = Vec::with_capacity(claimed.len());
            for (id, user, body, retries) in claimed {
                // A body this server did not write lists nothing.
                let items: Vec<DigestItem> = serde_json::from_str(&body).unwrap_or_default();
                out.push(ClaimedDigest {
                    id,
                    retries,
                    facts: facts(&s.conn, &user, &items, now.millis())?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn settle_digest(&self, id: &str, settle: DigestSettle) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |s, _| {
            match settle {
                DigestSettle::Done => s
                    .conn
                    .prepare_cached("DELETE FROM outbox WHERE id = ?1 AND channel = 'email'")
                    .map_err(db_err)?
                    .execute([&id]),
                DigestSettle::Retry(at) => s
                    .conn
                    .prepare_cached(
                        "UPDATE outbox SET next_attempt_at = ?2, attempts = attempts + 1
                         WHERE id = ?1 AND channel = 'email'",
                    )
                    .map_err(db_err)?
                    .execute(params![id, at.millis()]),
            }
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn next_digest_due(&self) -> StoreResult<Option<Timestamp>> {
        self.read(|c| {
            c.query_row(
                "SELECT min(next_attempt_at) FROM outbox WHERE channel = 'email' AND status = 'pending'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(Timestamp))
            .map_err(db_err)
        })
        .await
    }
}
