//! Web Push on SQLite. Every write runs on the writer, so a subscription's
//! cap, a claim and a settle are decided alone; a message's pushes are
//! written with it by `events.rs` as one fan-out row ([`ENQUEUE_PUSHES`]),
//! expanded per subscription before each claim.

use crate::SqliteStore;
use crate::rows::{self, db_err, seq_param, u64_col};
use async_trait::async_trait;
use parley_domain::push::{MAX_SUBSCRIPTIONS, PushFacts, PushMessage};
use parley_protocol::Timestamp;
use parley_protocol::push::{GatewayDevice, GatewayPlatform, PushSubscription};
use parley_store::{ClaimedPush, NewSubscription, PushSettle, PushStore, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

/// A `message.created`'s pushes, as one row written with the message (`?1`
/// the conversation, `?2` the sender, `?3` the seq, `?4` the stored event,
/// `?5` its time): the push worker expands it ([`expand_fanout`]), so a
/// send to a large group writes one row, not one per subscription. The
/// `EXISTS` is evaluated once: a server nobody subscribed on writes none.
pub(crate) const ENQUEUE_PUSHES: &str = "INSERT INTO outbox
     (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at, topic, seq)
     SELECT 'pfo_' || lower(hex(randomblob(16))), 'push_fanout', ?2, 'message.created', ?4, 'pending', 0, ?5, ?5, ?1, ?3
     WHERE EXISTS (SELECT 1 FROM push_subscriptions)";

/// Members expanded per writer job: small enough that a send queued
/// behind one waits a few milliseconds at most.
const FANOUT_CHUNK: i64 = 500;
/// Chunks expanded per claim.
const FANOUT_CHUNKS_PER_CLAIM: usize = 40;

/// Expands the next chunk of one due fan-out row: the next members (by
/// user id after the row's cursor, along the members' primary key) get one
/// pending push per subscription, merged into the pending push of the
/// same subscription and conversation; the row goes once every member is
/// covered. `false` when no fan-out row is due.
fn expand_fanout(conn: &Connection, now: i64) -> StoreResult<bool> {
    type Fanout = (String, String, String, i64, String, i64, Option<String>);
    let row: Option<Fanout> = conn
        .prepare_cached(
            "SELECT id, target, topic, seq, body, created_at, fanout_cursor FROM outbox
             WHERE channel = 'push_fanout' AND status = 'pending' AND next_attempt_at <= ?1
             ORDER BY next_attempt_at LIMIT 1",
        )
        .map_err(db_err)?
        .query_row([now], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    let Some((id, sender, conv, seq, body, at, cursor)) = row else {
        return Ok(false);
    };
    let cursor = cursor.unwrap_or_default();
    let chunk = rows::strings(
        conn,
        "SELECT user_id FROM members WHERE conversation_id = ?1 AND user_id > ?2
         ORDER BY user_id LIMIT ?3",
        params![conv, cursor, FANOUT_CHUNK],
    )?;
    if let Some(last) = chunk.last() {
        conn.prepare_cached(
            "INSERT INTO outbox
               (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at, topic, seq)
             SELECT 'psh_' || lower(hex(randomblob(16))), 'push', s.id, 'message.created', ?4, 'pending', 0, ?5, ?5, ?1, ?3
             FROM members m JOIN push_subscriptions s ON s.user_id = m.user_id
             WHERE m.conversation_id = ?1 AND m.user_id > ?6 AND m.user_id <= ?7
               AND m.active = 1 AND m.user_id <> ?2
             ON CONFLICT (target, topic) WHERE channel = 'push'
             DO UPDATE SET body = CASE WHEN excluded.seq > seq THEN excluded.body ELSE body END,
                           seq = max(seq, excluded.seq)",
        )
        .map_err(db_err)?
        .execute(params![conv, sender, seq, body, at, cursor, last])
        .map_err(db_err)?;
    }
    match chunk.last() {
        Some(last) if chunk.len() as i64 == FANOUT_CHUNK => {
            conn.prepare_cached("UPDATE outbox SET fanout_cursor = ?2 WHERE id = ?1")
                .map_err(db_err)?
                .execute(params![id, last])
                .map_err(db_err)?;
        }
        _ => {
            conn.prepare_cached("DELETE FROM outbox WHERE id = ?1")
                .map_err(db_err)?
                .execute([&id])
                .map_err(db_err)?;
        }
    }
    Ok(true)
}

/// A read by `?1` of conversation `?2` up to `?3` at `?4`: a silent update
/// for every subscription of theirs that was shown a notification for it
/// at or before that seq (merged per subscription and conversation), and
/// those records go ([`NOTIFIED_READ`]). Run with the watermark move.
pub(crate) const ENQUEUE_READ_UPDATES: &str = "INSERT INTO outbox
     (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at, topic, seq)
     SELECT 'prd_' || lower(hex(randomblob(16))), 'push_read', n.subscription_id, 'read', '', 'pending', 0, ?4, ?4, ?2, ?3
     FROM push_notified n WHERE n.user_id = ?1 AND n.conversation_id = ?2 AND n.seq <= ?3
     ON CONFLICT (target, topic) WHERE channel = 'push_read' DO UPDATE SET seq = max(seq, excluded.seq)";
pub(crate) const NOTIFIED_READ: &str =
    "DELETE FROM push_notified WHERE user_id = ?1 AND conversation_id = ?2 AND seq <= ?3";

/// The columns [`subscription`] reads.
const SUBSCRIPTION_COLS: &str = "id, endpoint, created_at, platform, token";

fn gateway(platform: Option<String>, token: Option<String>) -> Option<GatewayDevice> {
    Some(GatewayDevice {
        platform: GatewayPlatform::parse(platform.as_deref()?)?,
        token: token?,
    })
}

fn subscription(r: &rusqlite::Row<'_>) -> rusqlite::Result<PushSubscription> {
    let gateway = gateway(r.get(3)?, r.get(4)?);
    Ok(PushSubscription {
        id: r.get(0)?,
        endpoint: if gateway.is_some() {
            None
        } else {
            Some(r.get(1)?)
        },
        gateway,
        created_at: Timestamp(r.get(2)?),
    })
}

fn by_endpoint(conn: &Connection, endpoint: &str) -> StoreResult<Option<PushSubscription>> {
    conn.prepare_cached(&format!(
        "SELECT {SUBSCRIPTION_COLS} FROM push_subscriptions WHERE endpoint = ?1"
    ))
    .map_err(db_err)?
    .query_row([endpoint], subscription)
    .optional()
    .map_err(db_err)
}

fn delete_subscription(conn: &Connection, id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM outbox WHERE channel IN ('push', 'push_read') AND target = ?1",
    )
    .map_err(db_err)?
    .execute([id])
    .map_err(db_err)?;
    conn.prepare_cached("DELETE FROM push_notified WHERE subscription_id = ?1")
        .map_err(db_err)?
        .execute([id])
        .map_err(db_err)?;
    conn.prepare_cached("DELETE FROM push_subscriptions WHERE id = ?1")
        .map_err(db_err)?
        .execute([id])
        .map_err(db_err)?;
    Ok(())
}

/// What `decide` needs of one claimed row, read on the writer.
fn facts(
    conn: &Connection,
    user: &str,
    conv: &str,
    seq: u64,
    pending_since: i64,
) -> StoreResult<PushFacts> {
    let (kind, title) = match rows::conversation_row(conn, conv) {
        Ok(c) => (c.kind, c.title),
        Err(_) => (parley_protocol::rest::ConversationKind::Group, None),
    };
    let message = conn
        .prepare_cached(&format!(
            "SELECT {} FROM messages WHERE conversation_id = ?1 AND seq = ?2",
            rows::MESSAGE_COLS
        ))
        .map_err(db_err)?
        .query_row(params![conv, seq_param(seq)], rows::message_row)
        .optional()
        .map_err(db_err)?;
    let sender_name = match &message {
        Some(m) => rows::user_by_id(conn, &m.sender_id)?
            .map(|u| u.display_name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let member = rows::member_info(conn, conv, user)?;
    let prefs = crate::notifications::load(conn, user)?;
    let blocked_sender = match &message {
        Some(m) => conn
            .prepare_cached("SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2")
            .map_err(db_err)?
            .exists(params![user, m.sender_id])
            .map_err(db_err)?,
        None => false,
    };
    let read_seq = member.as_ref().map(|m| m.read_seq).unwrap_or(0);
    let unread_count = match &member {
        Some(m) => crate::views::unread_count(conn, conv, user, m.read_seq)?,
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
        read_seq,
        muted_until: member.and_then(|m| m.muted_until),
        prefs,
        blocked_sender,
        unread_count,
        pending_since,
    })
}

#[async_trait]
impl PushStore for SqliteStore {
    async fn server_key(&self, name: &str, generated: String) -> StoreResult<String> {
        let name = name.to_string();
        self.write(move |s, _| {
            s.conn
                .prepare_cached(
                    "INSERT INTO server_keys (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                )
                .map_err(db_err)?
                .execute(params![name, generated])
                .map_err(db_err)?;
            s.conn
                .query_row("SELECT value FROM server_keys WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .map_err(db_err)
        })
        .await
    }

    async fn subscribe(&self, new: NewSubscription) -> StoreResult<(PushSubscription, bool)> {
        self.write(move |s, _| {
            let existing = by_endpoint(&s.conn, &new.endpoint)?;
            let created = existing.is_none();
            let sub = match existing {
                Some(sub) => {
                    // The endpoint is the browser's: whoever registers it
                    // last owns it, with the keys it sent last.
                    s.conn
                        .prepare_cached(
                            "UPDATE push_subscriptions SET user_id = ?2, p256dh = ?3, auth = ?4 WHERE id = ?1",
                        )
                        .map_err(db_err)?
                        .execute(params![sub.id, new.user_id, new.p256dh, new.auth])
                        .map_err(db_err)?;
                    sub
                }
                None => {
                    s.conn
                        .prepare_cached(
                            "INSERT INTO push_subscriptions (id, user_id, endpoint, p256dh, auth, platform, token, created_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                        )
                        .map_err(db_err)?
                        .execute(params![
                            new.id,
                            new.user_id,
                            new.endpoint,
                            new.p256dh,
                            new.auth,
                            new.gateway.as_ref().map(|g| g.platform.as_str()),
                            new.gateway.as_ref().map(|g| g.token.as_str()),
                            new.created_at.millis()
                        ])
                        .map_err(db_err)?;
                    PushSubscription {
                        id: new.id,
                        endpoint: new.gateway.is_none().then_some(new.endpoint),
                        gateway: new.gateway,
                        created_at: new.created_at,
                    }
                }
            };
            let over = rows::strings(
                &s.conn,
                "SELECT id FROM push_subscriptions WHERE user_id = ?1 AND id <> ?2
                 ORDER BY created_at DESC, id DESC LIMIT -1 OFFSET ?3",
                params![new.user_id, sub.id, MAX_SUBSCRIPTIONS as i64 - 1],
            )?;
            for id in over {
                delete_subscription(&s.conn, &id)?;
            }
            Ok((sub, created))
        })
        .await
    }

    async fn subscriptions(&self, user: &str) -> StoreResult<Vec<PushSubscription>> {
        let user = user.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {SUBSCRIPTION_COLS} FROM push_subscriptions WHERE user_id = ?1
                     ORDER BY created_at, id"
                ))
                .map_err(db_err)?;
            let rows = stmt.query_map([user], subscription).map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn unsubscribe(&self, user: &str, endpoint: &str) -> StoreResult<bool> {
        let (user, endpoint) = (user.to_string(), endpoint.to_string());
        self.write(move |s, _| {
            let id: Option<String> = s
                .conn
                .prepare_cached(
                    "SELECT id FROM push_subscriptions WHERE endpoint = ?1 AND user_id = ?2",
                )
                .map_err(db_err)?
                .query_row(params![endpoint, user], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            let Some(id) = id else { return Ok(false) };
            delete_subscription(&s.conn, &id)?;
            Ok(true)
        })
        .await
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedPush>> {
        // Messages' fan-out rows first, a chunk per writer job, so sends
        // interleave with a large expansion.
        for _ in 0..FANOUT_CHUNKS_PER_CLAIM {
            if !self
                .write(move |s, _| expand_fanout(&s.conn, now.millis()))
                .await?
            {
                break;
            }
        }
        self.write(move |s, _| {
            type Claimed = (String, String, String, u32, u64, i64, bool);
            let claimed: Vec<Claimed> = {
                let mut stmt = s
                    .conn
                    .prepare_cached(
                        "UPDATE outbox SET next_attempt_at = ?2 WHERE id IN (
                           SELECT id FROM outbox
                           WHERE channel IN ('push', 'push_read') AND status = 'pending'
                             AND next_attempt_at <= ?1
                           ORDER BY next_attempt_at LIMIT ?3)
                         RETURNING id, target, topic, attempts, seq, created_at, channel = 'push_read'",
                    )
                    .map_err(db_err)?;
                let rows = stmt
                    .query_map(params![now.millis(), lease_until.millis(), limit], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            u64_col(r, 4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    })
                    .map_err(db_err)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db_err)?
            };
            let mut out = Vec::with_capacity(claimed.len());
            for (id, target, conv, retries, seq, since, read_update) in claimed {
                let sub = s
                    .conn
                    .prepare_cached(
                        "SELECT user_id, endpoint, p256dh, auth, platform, token
                         FROM push_subscriptions WHERE id = ?1",
                    )
                    .map_err(db_err)?
                    .query_row([&target], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            gateway(r.get(4)?, r.get(5)?),
                        ))
                    })
                    .optional()
                    .map_err(db_err)?;
                let Some((user, endpoint, p256dh, auth, gateway)) = sub else {
                    continue;
                };
                let facts = facts(&s.conn, &user, &conv, seq, since)?;
                out.push(ClaimedPush {
                    id,
                    subscription_id: target,
                    endpoint,
                    p256dh,
                    auth,
                    gateway,
                    retries,
                    seq,
                    read_update,
                    facts,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn settle_push(
        &self,
        id: &str,
        seq: u64,
        settle: PushSettle,
        now: Timestamp,
    ) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |s, _| {
            if settle == PushSettle::Delivered {
                s.conn
                    .prepare_cached(
                        "INSERT INTO push_notified (subscription_id, conversation_id, user_id, seq)
                         SELECT o.target, o.topic, p.user_id, ?2
                         FROM outbox o JOIN push_subscriptions p ON p.id = o.target
                         WHERE o.id = ?1 AND o.channel = 'push'
                         ON CONFLICT (subscription_id, conversation_id)
                         DO UPDATE SET seq = max(seq, excluded.seq)",
                    )
                    .map_err(db_err)?
                    .execute(params![id, seq_param(seq)])
                    .map_err(db_err)?;
            }
            match settle {
                PushSettle::Done | PushSettle::Delivered => {
                    let gone = s
                        .conn
                        .prepare_cached("DELETE FROM outbox WHERE id = ?1 AND seq = ?2")
                        .map_err(db_err)?
                        .execute(params![id, seq_param(seq)])
                        .map_err(db_err)?;
                    if gone == 0 {
                        // A newer message merged in meanwhile: it is due now,
                        // with its own retries.
                        s.conn
                            .prepare_cached(
                                "UPDATE outbox SET next_attempt_at = ?2, attempts = 0 WHERE id = ?1",
                            )
                            .map_err(db_err)?
                            .execute(params![id, now.millis()])
                            .map_err(db_err)?;
                    }
                }
                PushSettle::Hold(at) => {
                    s.conn
                        .prepare_cached("UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1")
                        .map_err(db_err)?
                        .execute(params![id, at.millis()])
                        .map_err(db_err)?;
                }
                PushSettle::Retry(at) => {
                    s.conn
                        .prepare_cached(
                            "UPDATE outbox SET next_attempt_at = ?2, attempts = attempts + 1 WHERE id = ?1",
                        )
                        .map_err(db_err)?
                        .execute(params![id, at.millis()])
                        .map_err(db_err)?;
                }
                PushSettle::Unsubscribe => {
                    let target: Option<String> = s
                        .conn
                        .prepare_cached("SELECT target FROM outbox WHERE id = ?1")
                        .map_err(db_err)?
                        .query_row([&id], |r| r.get(0))
                        .optional()
                        .map_err(db_err)?;
                    if let Some(t) = target {
                        delete_subscription(&s.conn, &t)?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn next_push_due(&self) -> StoreResult<Option<Timestamp>> {
        self.read(|c| {
            c.query_row(
                "SELECT min(next_attempt_at) FROM outbox
                 WHERE channel IN ('push', 'push_fanout', 'push_read') AND status = 'pending'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(Timestamp))
            .map_err(db_err)
        })
        .await
    }
}
