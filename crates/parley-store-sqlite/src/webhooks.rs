//! Webhooks and the outbox on SQLite. Every write runs on the writer, so
//! a claim, an attempt's outcome and the creation limit are decided alone;
//! deliveries are written with their event by `events.rs`.

use crate::SqliteStore;
use crate::rows::{self, db_err};
use async_trait::async_trait;
use parley_domain::webhooks::{self as rules, AttemptFacts, Outcome, RetryPolicy};
use parley_protocol::Timestamp;
use parley_protocol::webhooks::{DeliveryStatus, Webhook, WebhookDelivery};
use parley_store::{
    ClaimedDelivery, NewWebhook, OutboxStats, StoreError, StoreResult, WebhookPatch, WebhookRow,
    WebhookStore,
};
use rusqlite::{Connection, OptionalExtension, params};

/// One pending delivery per active webhook listing the event's type
/// (`?1` the type, `?2` the stored event, `?3` its time): run by the
/// writer right after it stores an event.
pub(crate) const ENQUEUE_DELIVERIES: &str = "INSERT INTO outbox
     (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at)
     SELECT 'msg_' || lower(hex(randomblob(16))), 'webhook', w.id, ?1, ?2, 'pending', 0, ?3, ?3
     FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
     WHERE e.event_type = ?1 AND w.active = 1";

fn events_of(conn: &Connection, id: &str) -> StoreResult<Vec<String>> {
    rows::strings(
        conn,
        "SELECT event_type FROM webhook_events WHERE webhook_id = ?1 ORDER BY event_type",
        [id],
    )
}

fn load(conn: &Connection, id: &str) -> StoreResult<Option<WebhookRow>> {
    let Some((url, description, secret, active, created_at)) = conn
        .prepare_cached(
            "SELECT url, description, secret, active, created_at FROM webhooks WHERE id = ?1",
        )
        .map_err(db_err)?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .optional()
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    Ok(Some(WebhookRow {
        webhook: Webhook {
            id: id.to_string(),
            url,
            events: events_of(conn, id)?,
            description,
            active,
            created_at: Timestamp(created_at),
        },
        secret,
    }))
}

fn set_events(conn: &Connection, id: &str, events: &[String]) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM webhook_events WHERE webhook_id = ?1")
        .map_err(db_err)?
        .execute([id])
        .map_err(db_err)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO webhook_events (event_type, webhook_id) VALUES (?1, ?2)")
        .map_err(db_err)?;
    for t in events {
        insert.execute(params![t, id]).map_err(db_err)?;
    }
    Ok(())
}

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WebhookDelivery> {
    Ok(WebhookDelivery {
        id: r.get(0)?,
        event_type: r.get(1)?,
        status: rows::parsed(r, 2, "delivery status", DeliveryStatus::parse)?,
        attempts: r.get(3)?,
        last_status: r.get(4)?,
        created_at: Timestamp(r.get(5)?),
        next_attempt_at: r.get::<_, Option<i64>>(6)?.map(Timestamp),
    })
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, new: NewWebhook) -> StoreResult<Webhook> {
        self.write(move |s, _| {
            let count: u64 = s
                .conn
                .query_row("SELECT count(*) FROM webhooks", [], |r| rows::u64_col(r, 0))
                .map_err(db_err)?;
            rules::may_create(count)?;
            s.conn
                .prepare_cached(
                    "INSERT INTO webhooks (id, url, description, secret, active, created_at)
                     VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                )
                .map_err(db_err)?
                .execute(params![
                    new.id,
                    new.url,
                    new.description,
                    new.secret,
                    new.created_at.millis()
                ])
                .map_err(db_err)?;
            set_events(&s.conn, &new.id, &new.events)?;
            Ok(Webhook {
                id: new.id,
                url: new.url,
                events: new.events,
                description: new.description,
                active: true,
                created_at: new.created_at,
            })
        })
        .await
    }

    async fn webhooks(&self, after: Option<String>, limit: u32) -> StoreResult<Vec<Webhook>> {
        self.read(move |c| {
            let ids = rows::strings(
                c,
                "SELECT id FROM webhooks WHERE id > ?1 ORDER BY id LIMIT ?2",
                params![after.unwrap_or_default(), limit],
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(w) = load(c, &id)? {
                    out.push(w.webhook);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRow>> {
        let id = id.to_string();
        self.read(move |c| load(c, &id)).await
    }

    async fn update_webhook(&self, id: &str, patch: WebhookPatch) -> StoreResult<Webhook> {
        let id = id.to_string();
        self.write(move |s, _| {
            let Some(mut w) = load(&s.conn, &id)?.map(|r| r.webhook) else {
                return Err(StoreError::not_found("webhook"));
            };
            if let Some(url) = patch.url {
                w.url = url;
            }
            if let Some(d) = patch.description {
                w.description = d;
            }
            if let Some(a) = patch.active {
                w.active = a;
            }
            s.conn
                .prepare_cached(
                    "UPDATE webhooks SET url = ?2, description = ?3, active = ?4,
                       failing_since = CASE WHEN ?5 THEN NULL ELSE failing_since END
                     WHERE id = ?1",
                )
                .map_err(db_err)?
                // Turning a webhook on starts its failing streak afresh.
                .execute(params![
                    id,
                    w.url,
                    w.description,
                    w.active,
                    patch.active == Some(true)
                ])
                .map_err(db_err)?;
            if let Some(events) = patch.events {
                set_events(&s.conn, &id, &events)?;
                w.events = events;
            }
            Ok(w)
        })
        .await
    }

    async fn delete_webhook(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |s, _| {
            s.conn
                .prepare_cached("DELETE FROM outbox WHERE channel = 'webhook' AND target = ?1")
                .map_err(db_err)?
                .execute([&id])
                .map_err(db_err)?;
            s.conn
                .prepare_cached("DELETE FROM webhook_events WHERE webhook_id = ?1")
                .map_err(db_err)?
                .execute([&id])
                .map_err(db_err)?;
            let n = s
                .conn
                .prepare_cached("DELETE FROM webhooks WHERE id = ?1")
                .map_err(db_err)?
                .execute([&id])
                .map_err(db_err)?;
            Ok(n > 0)
        })
        .await
    }

    async fn webhook_deliveries(
        &self,
        webhook: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let webhook = webhook.to_string();
        let (ms, id) = before.unwrap_or((i64::MAX, String::new()));
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, event_type, status, attempts, last_status, created_at, next_attempt_at
                     FROM outbox WHERE target = ?1 AND channel = 'webhook'
                       AND (created_at < ?2 OR (created_at = ?2 AND (?3 = '' OR id < ?3)))
                     ORDER BY created_at DESC, id DESC LIMIT ?4",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![webhook, ms, id, limit], delivery_row)
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        per_webhook: u32,
        skip: &[String],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let skip = serde_json::to_string(skip).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.write(move |s, _| {
            // The oldest due rows (a window a few claims wide), at most
            // `per_webhook` of each webhook among them.
            let mut stmt = s
                .conn
                .prepare_cached(
                    "UPDATE outbox SET next_attempt_at = ?2 WHERE id IN (
                       SELECT id FROM (
                         SELECT o.id, o.next_attempt_at AS due,
                                row_number() OVER (PARTITION BY o.target ORDER BY o.next_attempt_at) AS n
                         FROM (SELECT id, target, next_attempt_at FROM outbox
                               WHERE status = 'pending' AND next_attempt_at <= ?1
                                 AND target NOT IN (SELECT value FROM json_each(?4))
                                 AND target IN (SELECT id FROM webhooks WHERE active = 1)
                               ORDER BY next_attempt_at LIMIT ?3 * 4) o)
                       WHERE n <= ?5 ORDER BY due LIMIT ?3)
                     RETURNING id, target, event_type, body, attempts",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(
                    params![now.millis(), lease_until.millis(), limit, skip, per_webhook],
                    |r| {
                        Ok(ClaimedDelivery {
                            id: r.get(0)?,
                            webhook_id: r.get(1)?,
                            event_type: r.get(2)?,
                            event: r.get(3)?,
                            attempts: r.get(4)?,
                        })
                    },
                )
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn finish_delivery(
        &self,
        id: &str,
        outcome: Outcome,
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> StoreResult<()> {
        let id = id.to_string();
        let policy = policy.clone();
        self.write(move |s, _| {
            let facts = s
                .conn
                .prepare_cached(
                    "SELECT o.target, o.attempts, w.active, w.failing_since
                     FROM outbox o JOIN webhooks w ON w.id = o.target
                     WHERE o.id = ?1 AND o.status = 'pending'",
                )
                .map_err(db_err)?
                .query_row([&id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        AttemptFacts {
                            attempts: r.get(1)?,
                            webhook_active: r.get(2)?,
                            failing_since: r.get(3)?,
                        },
                    ))
                })
                .optional()
                .map_err(db_err)?;
            let Some((webhook, facts)) = facts else {
                return Ok(());
            };
            let plan = rules::after_attempt(&webhook, facts, outcome, now.millis(), &policy);
            s.conn
                .prepare_cached(
                    "UPDATE outbox SET status = ?2, attempts = ?3, last_status = ?4, next_attempt_at = ?5
                     WHERE id = ?1",
                )
                .map_err(db_err)?
                .execute(params![
                    id,
                    plan.status.as_str(),
                    plan.attempts,
                    plan.last_status,
                    plan.next_attempt_at
                ])
                .map_err(db_err)?;
            s.conn
                .prepare_cached(
                    "UPDATE webhooks SET failing_since = ?2, active = active AND NOT ?3 WHERE id = ?1",
                )
                .map_err(db_err)?
                .execute(params![webhook, plan.failing_since, plan.disable.is_some()])
                .map_err(db_err)?;
            if let Some(entry) = &plan.disable {
                s.append_audit(entry, now)?;
            }
            Ok(())
        })
        .await
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<Timestamp>> {
        self.read(|c| {
            c.query_row(
                "SELECT min(next_attempt_at) FROM outbox WHERE channel = 'webhook' AND status = 'pending'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|v| v.map(Timestamp))
            .map_err(db_err)
        })
        .await
    }

    async fn outbox_stats(&self) -> StoreResult<OutboxStats> {
        self.read(|c| {
            c.query_row(
                "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'",
                [],
                |r| {
                    Ok(OutboxStats {
                        pending: rows::u64_col(r, 0)?,
                        oldest_pending_at: r.get::<_, Option<i64>>(1)?.map(Timestamp),
                    })
                },
            )
            .map_err(db_err)
        })
        .await
    }
}
