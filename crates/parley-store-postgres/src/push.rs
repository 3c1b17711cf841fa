//! Web Push on PostgreSQL. A message's pushes are one fan-out row written
//! by the statement that stores it (`events::INSERT_EVENT`); before each
//! claim, workers of every process expand due fan-out rows into one push
//! per subscription, a chunk per transaction (the row locked with `SKIP
//! LOCKED`, so two workers never expand one chunk twice), then claim due
//! pushes with `FOR UPDATE SKIP LOCKED` and a lease, and read the facts. A subscription's cap locks the user's subscriptions first, so
//! concurrent subscribes of one user keep at most the cap.

use crate::rows::{self, col, col_u64, execute, query, query_opt, seq_param};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use parley_domain::push::{MAX_SUBSCRIPTIONS, PushFacts, PushMessage};
use parley_protocol::Timestamp;
use parley_protocol::push::{GatewayDevice, GatewayPlatform, PushSubscription};
use parley_store::{ClaimedPush, NewSubscription, PushSettle, PushStore, StoreError, StoreResult};

/// The columns [`subscription`] reads.
const SUBSCRIPTION_COLS: &str = "id, endpoint, created_at, platform, token";

fn gateway(platform: Option<String>, token: Option<String>) -> Option<GatewayDevice> {
    Some(GatewayDevice {
        platform: GatewayPlatform::parse(platform.as_deref()?)?,
        token: token?,
    })
}

fn subscription(r: &tokio_postgres::Row) -> StoreResult<PushSubscription> {
    let gateway = gateway(col(r, 3)?, col(r, 4)?);
    Ok(PushSubscription {
        id: col(r, 0)?,
        endpoint: if gateway.is_some() {
            None
        } else {
            Some(col(r, 1)?)
        },
        gateway,
        created_at: Timestamp(col(r, 2)?),
    })
}

/// A read by `$1` of conversation `$2` up to `$3` at `$4`: a silent update
/// for every subscription of theirs shown a notification for it at or
/// before that seq (see the SQLite backend), and those records go.
pub(crate) const ENQUEUE_READ_UPDATES: &str = "WITH shown AS (
       DELETE FROM push_notified WHERE user_id = $1 AND conversation_id = $2 AND seq <= $3
       RETURNING subscription_id)
     INSERT INTO outbox (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at, topic, seq)
     SELECT 'prd_' || replace(gen_random_uuid()::text, '-', ''), 'push_read', subscription_id, 'read', '', 'pending', 0, $4, $4, $2, $3
     FROM shown
     ON CONFLICT (target, topic) WHERE channel = 'push_read'
     DO UPDATE SET seq = greatest(outbox.seq, excluded.seq)";

async fn delete_subscription<C: GenericClient>(c: &C, id: &str) -> StoreResult<()> {
    execute(
        c,
        "DELETE FROM outbox WHERE channel IN ('push', 'push_read') AND target = $1",
        &[&id],
    )
    .await?;
    execute(
        c,
        "DELETE FROM push_notified WHERE subscription_id = $1",
        &[&id],
    )
    .await?;
    execute(c, "DELETE FROM push_subscriptions WHERE id = $1", &[&id]).await?;
    Ok(())
}

async fn facts<C: GenericClient>(
    c: &C,
    user: &str,
    conv: &str,
    seq: u64,
    pending_since: i64,
) -> StoreResult<PushFacts> {
    let (kind, title) = match rows::conversation_row(c, conv).await {
        Ok(row) => (row.kind, row.title),
        Err(_) => (parley_protocol::rest::ConversationKind::Group, None),
    };
    let message = match query_opt(
        c,
        &format!(
            "SELECT {} FROM messages WHERE conversation_id = $1 AND seq = $2",
            rows::MESSAGE_COLS
        ),
        &[&conv, &seq_param(seq)],
    )
    .await?
    {
        Some(r) => Some(rows::message_row(&r)?),
        None => None,
    };
    let (sender_name, blocked_sender) = match &message {
        Some(m) => (
            rows::user_by_id(c, &m.sender_id)
                .await?
                .map(|u| u.display_name)
                .unwrap_or_default(),
            query_opt(
                c,
                "SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
                &[&user, &m.sender_id],
            )
            .await?
            .is_some(),
        ),
        None => (String::new(), false),
    };
    let member = rows::member_info(c, conv, user).await?;
    let prefs = crate::notifications::load(c, user, false).await?;
    let unread_count = match &member {
        Some(m) => crate::views::unread_count(c, conv, user, m.read_seq).await?,
        None => 0,
    };
    Ok(PushFacts {
        subscriber: user.to_string(),
        conversation_id: conv.to_string(),
        kind,
        title,
        message: message.map(PushMessage::from),
        sender_name,
        member: member.is_some(),
        read_seq: member.as_ref().map(|m| m.read_seq).unwrap_or(0),
        muted_until: member.and_then(|m| m.muted_until),
        prefs,
        blocked_sender,
        unread_count,
        pending_since,
    })
}

/// Members expanded per transaction.
const FANOUT_CHUNK: i64 = 500;
/// Chunks expanded per claim.
const FANOUT_CHUNKS_PER_CLAIM: usize = 40;

impl PostgresStore {
    /// Expands the next chunk of one due fan-out row (see the SQLite
    /// backend's `expand_fanout`); `false` when none is due or free.
    async fn expand_fanout(&self, now: i64) -> StoreResult<bool> {
        in_tx!(self, move |w, _out| async {
            let Some(f) = query_opt(
                &w.tx,
                "SELECT id, target, topic, seq, body, created_at, fanout_cursor FROM outbox
                 WHERE channel = 'push_fanout' AND status = 'pending' AND next_attempt_at <= $1
                 ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&now],
            )
            .await?
            else {
                return Ok(false);
            };
            let id: String = col(&f, 0)?;
            let sender: String = col(&f, 1)?;
            let conv: String = col(&f, 2)?;
            let seq: i64 = col(&f, 3)?;
            let body: String = col(&f, 4)?;
            let at: i64 = col(&f, 5)?;
            let cursor: String = col::<Option<String>>(&f, 6)?.unwrap_or_default();
            let chunk = rows::strings(
                &w.tx,
                "SELECT user_id FROM members WHERE conversation_id = $1 AND user_id > $2
                 ORDER BY user_id LIMIT $3",
                &[&conv, &cursor, &FANOUT_CHUNK],
            )
            .await?;
            if let Some(last) = chunk.last() {
                execute(
                    &w.tx,
                    "INSERT INTO outbox
                       (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at, topic, seq)
                     SELECT 'psh_' || replace(gen_random_uuid()::text, '-', ''), 'push', s.id, 'message.created',
                            $4, 'pending', 0, $5, $5, $1, $3
                     FROM members m JOIN push_subscriptions s ON s.user_id = m.user_id
                     WHERE m.conversation_id = $1 AND m.user_id > $6 AND m.user_id <= $7
                       AND m.active AND m.user_id <> $2
                     ON CONFLICT (target, topic) WHERE channel = 'push'
                     DO UPDATE SET body = CASE WHEN excluded.seq > outbox.seq THEN excluded.body ELSE outbox.body END,
                                   seq = greatest(outbox.seq, excluded.seq)",
                    &[&conv, &sender, &seq, &body, &at, &cursor, last],
                )
                .await?;
            }
            match chunk.last() {
                Some(last) if chunk.len() as i64 == FANOUT_CHUNK => {
                    execute(
                        &w.tx,
                        "UPDATE outbox SET fanout_cursor = $2 WHERE id = $1",
                        &[&id, last],
                    )
                    .await?;
                }
                _ => {
                    execute(&w.tx, "DELETE FROM outbox WHERE id = $1", &[&id]).await?;
                }
            }
            Ok(true)
        })
    }
}

#[async_trait]
impl PushStore for PostgresStore {
    async fn server_key(&self, name: &str, generated: String) -> StoreResult<String> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &generated],
        )
        .await?;
        let r = query_opt(
            &c,
            "SELECT value FROM server_keys WHERE name = $1",
            &[&name],
        )
        .await?
        .ok_or_else(|| StoreError::Internal(format!("server key {name} vanished")))?;
        col(&r, 0)
    }

    async fn subscribe(&self, new: NewSubscription) -> StoreResult<(PushSubscription, bool)> {
        in_tx!(self, move |w, _out| async {
            // Serialises this user's subscribes (the cap) in every process.
            execute(
                &w.tx,
                "SELECT pg_advisory_xact_lock(hashtextextended('push:' || $1, 0))",
                &[&new.user_id],
            )
            .await?;
            let inserted = query_opt(
                &w.tx,
                &format!(
                    "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, platform, token, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (endpoint) DO NOTHING
                     RETURNING {SUBSCRIPTION_COLS}"
                ),
                &[
                    &new.id,
                    &new.user_id,
                    &new.endpoint,
                    &new.p256dh,
                    &new.auth,
                    &new.gateway.as_ref().map(|g| g.platform.as_str()),
                    &new.gateway.as_ref().map(|g| g.token.as_str()),
                    &new.created_at.millis(),
                ],
            )
            .await?;
            let (sub, created) = match inserted {
                Some(r) => (subscription(&r)?, true),
                None => {
                    // The endpoint is the browser's: whoever registers it
                    // last owns it, with the keys it sent last.
                    let r = query_opt(
                        &w.tx,
                        &format!(
                            "UPDATE push_subscriptions SET user_id = $2, p256dh = $3, auth = $4
                             WHERE endpoint = $1 RETURNING {SUBSCRIPTION_COLS}"
                        ),
                        &[&new.endpoint, &new.user_id, &new.p256dh, &new.auth],
                    )
                    .await?
                    .ok_or_else(|| StoreError::Unavailable("subscription raced".into()))?;
                    (subscription(&r)?, false)
                }
            };
            let over = rows::strings(
                &w.tx,
                "SELECT id FROM push_subscriptions WHERE user_id = $1 AND id <> $2
                 ORDER BY created_at DESC, id DESC OFFSET $3",
                &[&new.user_id, &sub.id, &(MAX_SUBSCRIPTIONS as i64 - 1)],
            )
            .await?;
            for id in over {
                delete_subscription(&w.tx, &id).await?;
            }
            Ok((sub, created))
        })
    }

    async fn subscriptions(&self, user: &str) -> StoreResult<Vec<PushSubscription>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {SUBSCRIPTION_COLS} FROM push_subscriptions WHERE user_id = $1
                 ORDER BY created_at, id"
            ),
            &[&user],
        )
        .await?
        .iter()
        .map(subscription)
        .collect()
    }

    async fn unsubscribe(&self, user: &str, endpoint: &str) -> StoreResult<bool> {
        let (user, endpoint) = (user.to_string(), endpoint.to_string());
        in_tx!(self, move |w, _out| async {
            let Some(r) = query_opt(
                &w.tx,
                "SELECT id FROM push_subscriptions WHERE endpoint = $1 AND user_id = $2 FOR UPDATE",
                &[&endpoint, &user],
            )
            .await?
            else {
                return Ok(false);
            };
            let id: String = col(&r, 0)?;
            delete_subscription(&w.tx, &id).await?;
            Ok(true)
        })
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedPush>> {
        for _ in 0..FANOUT_CHUNKS_PER_CLAIM {
            if !self.expand_fanout(now.millis()).await? {
                break;
            }
        }
        let c = self.client().await?;
        // One statement, its own transaction: due rows no other worker
        // holds; a row claimed and committed meanwhile fails the re-checked
        // due time.
        let claimed = query(
            &c,
            "WITH due AS (
               SELECT id FROM outbox
               WHERE channel IN ('push', 'push_read') AND status = 'pending' AND next_attempt_at <= $1
               ORDER BY next_attempt_at LIMIT $3
               FOR UPDATE SKIP LOCKED)
             UPDATE outbox o SET next_attempt_at = $2
             FROM due WHERE o.id = due.id AND o.next_attempt_at <= $1
             RETURNING o.id, o.target, o.topic, o.attempts, o.seq, o.created_at, o.channel = 'push_read'",
            &[&now.millis(), &lease_until.millis(), &i64::from(limit)],
        )
        .await?;
        let mut out = Vec::with_capacity(claimed.len());
        for r in &claimed {
            let id: String = col(r, 0)?;
            let target: String = col(r, 1)?;
            let conv: String = col(r, 2)?;
            let retries = u32::try_from(col::<i32>(r, 3)?)
                .map_err(|_| StoreError::Internal("negative attempts".into()))?;
            let seq = col_u64(r, 4)?;
            let since: i64 = col(r, 5)?;
            let read_update: bool = col(r, 6)?;
            let Some(sub) = query_opt(
                &c,
                "SELECT user_id, endpoint, p256dh, auth, platform, token
                 FROM push_subscriptions WHERE id = $1",
                &[&target],
            )
            .await?
            else {
                continue;
            };
            let user: String = col(&sub, 0)?;
            let facts = facts(&c, &user, &conv, seq, since).await?;
            out.push(ClaimedPush {
                id,
                subscription_id: target,
                endpoint: col(&sub, 1)?,
                p256dh: col(&sub, 2)?,
                auth: col(&sub, 3)?,
                gateway: gateway(col(&sub, 4)?, col(&sub, 5)?),
                retries,
                seq,
                read_update,
                facts,
            });
        }
        Ok(out)
    }

    async fn settle_push(
        &self,
        id: &str,
        seq: u64,
        settle: PushSettle,
        now: Timestamp,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        if settle == PushSettle::Delivered {
            execute(
                &c,
                "INSERT INTO push_notified (subscription_id, conversation_id, user_id, seq)
                 SELECT o.target, o.topic, p.user_id, $2
                 FROM outbox o JOIN push_subscriptions p ON p.id = o.target
                 WHERE o.id = $1 AND o.channel = 'push'
                 ON CONFLICT (subscription_id, conversation_id)
                 DO UPDATE SET seq = greatest(push_notified.seq, excluded.seq)",
                &[&id, &seq_param(seq)],
            )
            .await?;
        }
        match settle {
            PushSettle::Done | PushSettle::Delivered => {
                let gone = execute(
                    &c,
                    "DELETE FROM outbox WHERE id = $1 AND seq = $2",
                    &[&id, &seq_param(seq)],
                )
                .await?;
                if gone == 0 {
                    // A newer message merged in meanwhile: it is due now,
                    // with its own retries.
                    execute(
                        &c,
                        "UPDATE outbox SET next_attempt_at = $2, attempts = 0 WHERE id = $1",
                        &[&id, &now.millis()],
                    )
                    .await?;
                }
            }
            PushSettle::Hold(at) => {
                execute(
                    &c,
                    "UPDATE outbox SET next_attempt_at = $2 WHERE id = $1",
                    &[&id, &at.millis()],
                )
                .await?;
            }
            PushSettle::Retry(at) => {
                execute(
                    &c,
                    "UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1 WHERE id = $1",
                    &[&id, &at.millis()],
                )
                .await?;
            }
            PushSettle::Unsubscribe => {
                let id = id.to_string();
                in_tx!(self, move |w, _out| async {
                    if let Some(r) = query_opt(
                        &w.tx,
                        "SELECT target FROM outbox WHERE id = $1 FOR UPDATE",
                        &[&id],
                    )
                    .await?
                    {
                        let target: String = col(&r, 0)?;
                        delete_subscription(&w.tx, &target).await?;
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    async fn next_push_due(&self) -> StoreResult<Option<Timestamp>> {
        let c = self.client().await?;
        let r = query_opt(
            &c,
            "SELECT min(next_attempt_at) FROM outbox
             WHERE channel IN ('push', 'push_fanout', 'push_read') AND status = 'pending'",
            &[],
        )
        .await?;
        Ok(match r {
            Some(r) => col::<Option<i64>>(&r, 0)?.map(Timestamp),
            None => None,
        })
    }
}
