//! Email addresses and digests on PostgreSQL. A user's enqueue runs under
//! a per-user advisory lock, so two processes scanning at once queue one
//! digest and record its conversations once; workers of every process
//! claim due digests with `FOR UPDATE SKIP LOCKED` and a lease.

use crate::rows::{self, col, col_u64, execute, query, query_opt, seq_param};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use parley_domain::digest::{DigestConversation, DigestFacts, DigestMessage, MESSAGES_SHOWN};
use parley_protocol::Timestamp;
use parley_store::{
    ClaimedDigest, DigestItem, DigestSettle, DigestStore, DigestWindow, StoreError, StoreResult,
};

/// The conditions under which member row `m` (with its digest record `d`
/// left-joined) is due: `$2` now, `$3` the cutoff, `$4` again-before.
const DUE: &str = "m.active
   AND (m.muted_until IS NULL OR m.muted_until <= $2)
   AND (d.sent_at IS NULL OR d.sent_at <= $4)
   AND EXISTS (SELECT 1 FROM messages x
     WHERE x.conversation_id = m.conversation_id
       AND x.seq > GREATEST(m.read_seq, COALESCE(d.sent_seq, 0))
       AND x.sender_id <> m.user_id AND NOT x.deleted AND x.created_at <= $3
       AND NOT EXISTS (SELECT 1 FROM blocks b
                       WHERE b.blocker_id = m.user_id AND b.blocked_id = x.sender_id))";

/// Unread messages of a listed range: `$1` conversation, `$2` after, `$3`
/// until, `$4` the user.
const UNREAD: &str = "FROM messages x JOIN users u ON u.id = x.sender_id
     WHERE x.conversation_id = $1 AND x.seq > $2 AND x.seq <= $3
       AND x.sender_id <> $4 AND NOT x.deleted
       AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $4 AND b.blocked_id = x.sender_id)";

async fn due_items<C: GenericClient>(
    c: &C,
    user: &str,
    w: DigestWindow,
) -> StoreResult<Vec<DigestItem>> {
    query(
        c,
        &format!(
            "SELECT m.conversation_id, GREATEST(m.read_seq, COALESCE(d.sent_seq, 0)),
                    (SELECT max(seq) FROM messages WHERE conversation_id = m.conversation_id)
             FROM members m
             LEFT JOIN email_digests d ON d.user_id = m.user_id AND d.conversation_id = m.conversation_id
             WHERE m.user_id = $1 AND {DUE}
             ORDER BY m.conversation_id"
        ),
        &[
            &user,
            &w.now.millis(),
            &w.cutoff.millis(),
            &w.again_before.millis(),
        ],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(DigestItem {
            conversation_id: col(r, 0)?,
            after_seq: col_u64(r, 1)?,
            until_seq: col_u64(r, 2)?,
        })
    })
    .collect()
}

async fn address<C: GenericClient>(c: &C, user: &str) -> StoreResult<Option<String>> {
    match query_opt(
        c,
        "SELECT address FROM user_emails WHERE user_id = $1",
        &[&user],
    )
    .await?
    {
        Some(r) => Ok(Some(col(&r, 0)?)),
        None => Ok(None),
    }
}

/// What the digest `items` would say for `user` now.
async fn facts<C: GenericClient>(
    c: &C,
    user: &str,
    items: &[DigestItem],
    now: i64,
) -> StoreResult<DigestFacts> {
    let display_name = rows::user_by_id(c, user)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    let address = address(c, user).await?;
    let prefs = crate::notifications::load(c, user, false).await?;
    let mut conversations = Vec::with_capacity(items.len());
    for item in items {
        let Some(member) = rows::member_info(c, &item.conversation_id, user).await? else {
            continue;
        };
        let Ok(conv) = rows::conversation_row(c, &item.conversation_id).await else {
            continue;
        };
        let after = seq_param(item.after_seq.max(member.read_seq));
        let until = seq_param(item.until_seq);
        let params: rows::Params<'_> = &[&item.conversation_id, &after, &until, &user];
        let unread = match query_opt(c, &format!("SELECT count(*) {UNREAD}"), params).await? {
            Some(r) => col_u64(&r, 0)?,
            None => 0,
        };
        let mut latest = query(
            c,
            &format!(
                "SELECT u.display_name, x.text {UNREAD} ORDER BY x.seq DESC LIMIT {MESSAGES_SHOWN}"
            ),
            params,
        )
        .await?
        .iter()
        .map(|r| {
            Ok(DigestMessage {
                sender_name: col(r, 0)?,
                text: col(r, 1)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        latest.reverse();
        conversations.push(DigestConversation {
            conversation_id: item.conversation_id.clone(),
            kind: conv.kind,
            title: conv.title,
            muted: member.muted_until.is_some_and(|until| until > now),
            unread,
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

#[async_trait]
impl DigestStore for PostgresStore {
    async fn email_address(&self, user: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        address(&c, user).await
    }

    async fn set_email_address(&self, user: &str, address: Option<String>) -> StoreResult<()> {
        let c = self.client().await?;
        match address {
            Some(a) => {
                execute(
                    &c,
                    "INSERT INTO user_emails (user_id, address) VALUES ($1, $2)
                     ON CONFLICT (user_id) DO UPDATE SET address = excluded.address",
                    &[&user, &a],
                )
                .await?
            }
            None => execute(&c, "DELETE FROM user_emails WHERE user_id = $1", &[&user]).await?,
        };
        Ok(())
    }

    async fn digest_candidates(
        &self,
        window: DigestWindow,
        after: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::strings(
            &c,
            &format!(
                "SELECT e.user_id FROM user_emails e
                 LEFT JOIN notification_prefs p ON p.user_id = e.user_id
                 WHERE e.user_id > $1 AND COALESCE(p.email, 'digest') = 'digest'
                   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.channel = 'email' AND o.target = e.user_id)
                   AND EXISTS (SELECT 1 FROM members m
                     LEFT JOIN email_digests d ON d.user_id = m.user_id AND d.conversation_id = m.conversation_id
                     WHERE m.user_id = e.user_id AND {DUE})
                 ORDER BY e.user_id LIMIT $5"
            ),
            &[
                &after.unwrap_or_default(),
                &window.now.millis(),
                &window.cutoff.millis(),
                &window.again_before.millis(),
                &i64::from(limit),
            ],
        )
        .await
    }

    async fn enqueue_digest(
        &self,
        user: &str,
        id: &str,
        window: DigestWindow,
    ) -> StoreResult<bool> {
        let (user, id) = (user.to_string(), id.to_string());
        in_tx!(self, move |w, _out| async {
            // One scan per user at a time in every process: the due check
            // and its record below are one decision.
            execute(
                &w.tx,
                "SELECT pg_advisory_xact_lock(hashtextextended('email:' || $1, 0))",
                &[&user],
            )
            .await?;
            let items = due_items(&w.tx, &user, window).await?;
            if items.is_empty() {
                return Ok(false);
            }
            let body = serde_json::to_string(&items)
                .map_err(|e| StoreError::Internal(format!("digest body: {e}")))?;
            let queued = execute(
                &w.tx,
                "INSERT INTO outbox (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at)
                 VALUES ($1, 'email', $2, 'digest', $3, 'pending', 0, $4, $4)
                 ON CONFLICT (target) WHERE channel = 'email' DO NOTHING",
                &[&id, &user, &body, &window.now.millis()],
            )
            .await?;
            if queued == 0 {
                return Ok(false);
            }
            for item in &items {
                execute(
                    &w.tx,
                    "INSERT INTO email_digests (user_id, conversation_id, sent_at, sent_seq)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (user_id, conversation_id)
                     DO UPDATE SET sent_at = excluded.sent_at, sent_seq = excluded.sent_seq",
                    &[
                        &user,
                        &item.conversation_id,
                        &window.now.millis(),
                        &seq_param(item.until_seq),
                    ],
                )
                .await?;
            }
            Ok(true)
        })
    }

    async fn claim_digests(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDigest>> {
        let c = self.client().await?;
        // As for pushes: one statement, due rows no other worker holds.
        let claimed = query(
            &c,
            "WITH due AS (
               SELECT id FROM outbox
               WHERE channel = 'email' AND status = 'pending' AND next_attempt_at <= $1
               ORDER BY next_attempt_at LIMIT $3
               FOR UPDATE SKIP LOCKED)
             UPDATE outbox o SET next_attempt_at = $2
             FROM due WHERE o.id = due.id AND o.next_attempt_at <= $1
             RETURNING o.id, o.target, o.body, o.attempts",
            &[&now.millis(), &lease_until.millis(), &i64::from(limit)],
        )
        .await?;
        let mut out = Vec::with_capacity(claimed.len());
        for r in &claimed {
            let user: String = col(r, 1)?;
            let body: String = col(r, 2)?;
            // A body this server did not write lists nothing.
            let items: Vec<DigestItem> = serde_json::from_str(&body).unwrap_or_default();
            out.push(ClaimedDigest {
                id: col(r, 0)?,
                retries: u32::try_from(col::<i32>(r, 3)?)
                    .map_err(|_| StoreError::Internal("negative attempts".into()))?,
                facts: facts(&c, &user, &items, now.millis()).await?,
            });
        }
        Ok(out)
    }

    async fn settle_digest(&self, id: &str, settle: DigestSettle) -> StoreResult<()> {
        let c = self.client().await?;
        match settle {
            DigestSettle::Done => {
                execute(
                    &c,
                    "DELETE FROM outbox WHERE id = $1 AND channel = 'email'",
                    &[&id],
                )
                .await?
            }
            DigestSettle::Retry(at) => {
                execute(
                    &c,
                    "UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1
                     WHERE id = $1 AND channel = 'email'",
                    &[&id, &at.millis()],
                )
                .await?
            }
        };
        Ok(())
    }

    async fn next_digest_due(&self) -> StoreResult<Option<Timestamp>> {
        let c = self.client().await?;
        let r = query_opt(
            &c,
            "SELECT min(next_attempt_at) FROM outbox WHERE channel = 'email' AND status = 'pending'",
            &[],
        )
        .await?;
        Ok(match r {
            Some(r) => col::<Option<i64>>(&r, 0)?.map(Timestamp),
            None => None,
        })
    }
}
