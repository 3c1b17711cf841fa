//! Webhooks and the outbox on PostgreSQL. Deliveries are written by the
//! statement that stores their event (`events::INSERT_EVENT`); workers of
//! every process claim due rows with `FOR UPDATE SKIP LOCKED` and a lease,
//! so two never attempt one delivery at once and none waits for another.
//! An attempt's outcome locks only its own row; the webhook's row is
//! touched only when its failing streak starts, ends or turns it off.

use crate::rows::{col, col_parsed, col_u64, execute, query, query_one, query_opt, strings};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use parley_domain::webhooks::{self as rules, AttemptFacts, Outcome, RetryPolicy};
use parley_protocol::Timestamp;
use parley_protocol::webhooks::{DeliveryStatus, Webhook, WebhookDelivery};
use parley_store::{
    ClaimedDelivery, NewWebhook, OutboxStats, StoreError, StoreResult, WebhookPatch, WebhookRow,
    WebhookStore,
};

/// Serialises webhook creations (the count limit) across processes.
const CREATE_LOCK: i64 = 0x7061_726c_6579_7768;

fn u32_of(v: i32) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| StoreError::Internal(format!("negative count {v}")))
}

fn status_of(v: Option<i32>) -> Option<u16> {
    v.and_then(|s| u16::try_from(s).ok())
}

async fn load<C: GenericClient>(c: &C, id: &str, lock: bool) -> StoreResult<Option<WebhookRow>> {
    let sql = if lock {
        "SELECT url, description, secret, active, created_at FROM webhooks WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT url, description, secret, active, created_at FROM webhooks WHERE id = $1"
    };
    let Some(r) = query_opt(c, sql, &[&id]).await? else {
        return Ok(None);
    };
    let events = strings(
        c,
        "SELECT event_type FROM webhook_events WHERE webhook_id = $1 ORDER BY event_type",
        &[&id],
    )
    .await?;
    Ok(Some(WebhookRow {
        webhook: Webhook {
            id: id.to_string(),
            url: col(&r, 0)?,
            events,
            description: col(&r, 1)?,
            active: col(&r, 3)?,
            created_at: Timestamp(col(&r, 4)?),
        },
        secret: col(&r, 2)?,
    }))
}

async fn set_events<C: GenericClient>(c: &C, id: &str, events: &[String]) -> StoreResult<()> {
    execute(
        c,
        "DELETE FROM webhook_events WHERE webhook_id = $1",
        &[&id],
    )
    .await?;
    execute(
        c,
        "INSERT INTO webhook_events (event_type, webhook_id) SELECT unnest($2::text[]), $1",
        &[&id, &events],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_webhook(&self, new: NewWebhook) -> StoreResult<Webhook> {
        in_tx!(self, move |w, _out| async {
            execute(&w.tx, "SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK]).await?;
            let count = query_one(&w.tx, "SELECT count(*) FROM webhooks", &[]).await?;
            rules::may_create(col_u64(&count, 0)?)?;
            execute(
                &w.tx,
                "INSERT INTO webhooks (id, url, description, secret, active, created_at)
                 VALUES ($1, $2, $3, $4, TRUE, $5)",
                &[
                    &new.id,
                    &new.url,
                    &new.description,
                    &new.secret,
                    &new.created_at.millis(),
                ],
            )
            .await?;
            set_events(&w.tx, &new.id, &new.events).await?;
            Ok(Webhook {
                id: new.id,
                url: new.url,
                events: new.events,
                description: new.description,
                active: true,
                created_at: new.created_at,
            })
        })
    }

    async fn webhooks(&self, after: Option<String>, limit: u32) -> StoreResult<Vec<Webhook>> {
        let c = self.client().await?;
        let ids = strings(
            &c,
            "SELECT id FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2",
            &[&after.unwrap_or_default(), &i64::from(limit)],
        )
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(w) = load(&c, &id, false).await? {
                out.push(w.webhook);
            }
        }
        Ok(out)
    }

    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRow>> {
        let c = self.client().await?;
        load(&c, id, false).await
    }

    async fn update_webhook(&self, id: &str, patch: WebhookPatch) -> StoreResult<Webhook> {
        let id = id.to_string();
        in_tx!(self, move |w, _out| async {
            let Some(mut hook) = load(&w.tx, &id, true).await?.map(|r| r.webhook) else {
                return Err(StoreError::not_found("webhook"));
            };
            if let Some(url) = patch.url {
                hook.url = url;
            }
            if let Some(d) = patch.description {
                hook.description = d;
            }
            if let Some(a) = patch.active {
                hook.active = a;
            }
            // Turning a webhook on starts its failing streak afresh.
            let restart = patch.active == Some(true);
            execute(
                &w.tx,
                "UPDATE webhooks SET url = $2, description = $3, active = $4,
                   failing_since = CASE WHEN $5 THEN NULL ELSE failing_since END
                 WHERE id = $1",
                &[&id, &hook.url, &hook.description, &hook.active, &restart],
            )
            .await?;
            if let Some(events) = patch.events {
                set_events(&w.tx, &id, &events).await?;
                hook.events = events;
            }
            Ok(hook)
        })
    }

    async fn delete_webhook(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        in_tx!(self, move |w, _out| async {
            execute(
                &w.tx,
                "DELETE FROM outbox WHERE channel = 'webhook' AND target = $1",
                &[&id],
            )
            .await?;
            // webhook_events go with it (ON DELETE CASCADE).
            let n = execute(&w.tx, "DELETE FROM webhooks WHERE id = $1", &[&id]).await?;
            Ok(n > 0)
        })
    }

    async fn webhook_deliveries(
        &self,
        webhook: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>> {
        let c = self.client().await?;
        let (ms, id) = before.unwrap_or((i64::MAX, String::new()));
        let rows = query(
            &c,
            "SELECT id, event_type, status, attempts, last_status, created_at, next_attempt_at
             FROM outbox WHERE target = $1 AND channel = 'webhook'
               AND (created_at < $2 OR (created_at = $2 AND ($3 = '' OR id < $3)))
             ORDER BY created_at DESC, id DESC LIMIT $4",
            &[&webhook, &ms, &id, &i64::from(limit)],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(WebhookDelivery {
                    id: col(r, 0)?,
                    event_type: col(r, 1)?,
                    status: col_parsed(r, 2, "delivery status", DeliveryStatus::parse)?,
                    attempts: u32_of(col(r, 3)?)?,
                    last_status: status_of(col(r, 4)?),
                    created_at: Timestamp(col(r, 5)?),
                    next_attempt_at: col::<Option<i64>>(r, 6)?.map(Timestamp),
                })
            })
            .collect()
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        per_webhook: u32,
        skip: &[String],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let c = self.client().await?;
        let skip = skip.to_vec();
        // One statement, its own transaction: the oldest due rows no other
        // worker holds (a window a few claims wide), at most `per_webhook`
        // of each webhook among them; a row claimed and committed
        // meanwhile fails the re-checked due time.
        let rows = query(
            &c,
            "WITH due AS (
               SELECT d.id, d.target, d.next_attempt_at FROM outbox d
               WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND d.channel = 'webhook'
                 AND NOT (d.target = ANY($4))
                 AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.target AND w.active)
               ORDER BY d.next_attempt_at LIMIT $3::bigint * 4
               FOR UPDATE OF d SKIP LOCKED),
             chosen AS (
               SELECT id FROM (
                 SELECT id, next_attempt_at,
                        row_number() OVER (PARTITION BY target ORDER BY next_attempt_at) AS n
                 FROM due) r
               WHERE n <= $5::bigint ORDER BY next_attempt_at LIMIT $3::bigint)
             UPDATE outbox o SET next_attempt_at = $2
             FROM chosen WHERE o.id = chosen.id AND o.status = 'pending' AND o.next_attempt_at <= $1
             RETURNING o.id, o.target, o.event_type, o.body, o.attempts",
            &[
                &now.millis(),
                &lease_until.millis(),
                &i64::from(limit),
                &skip,
                &i64::from(per_webhook),
            ],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedDelivery {
                    id: col(r, 0)?,
                    webhook_id: col(r, 1)?,
                    event_type: col(r, 2)?,
                    event: col(r, 3)?,
                    attempts: u32_of(col(r, 4)?)?,
                })
            })
            .collect()
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
        in_tx!(self, move |w, _out| async {
            let Some(r) = query_opt(
                &w.tx,
                "SELECT o.target, o.attempts, wh.active, wh.failing_since
                 FROM outbox o JOIN webhooks wh ON wh.id = o.target
                 WHERE o.id = $1 AND o.status = 'pending' FOR UPDATE OF o",
                &[&id],
            )
            .await?
            else {
                return Ok(());
            };
            let webhook: String = col(&r, 0)?;
            let facts = AttemptFacts {
                attempts: u32_of(col(&r, 1)?)?,
                webhook_active: col(&r, 2)?,
                failing_since: col(&r, 3)?,
            };
            let plan = rules::after_attempt(&webhook, facts, outcome, now.millis(), &policy);
            let attempts = i32::try_from(plan.attempts).unwrap_or(i32::MAX);
            let last_status = plan.last_status.map(i32::from);
            execute(
                &w.tx,
                "UPDATE outbox SET status = $2, attempts = $3, last_status = $4, next_attempt_at = $5
                 WHERE id = $1",
                &[
                    &id,
                    &plan.status.as_str(),
                    &attempts,
                    &last_status,
                    &plan.next_attempt_at,
                ],
            )
            .await?;
            // The webhook's row only when the streak changes: attempts of
            // one busy webhook do not queue on it.
            match plan.failing_since {
                None => {
                    execute(
                        &w.tx,
                        "UPDATE webhooks SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
                        &[&webhook],
                    )
                    .await?;
                }
                Some(since) if facts.failing_since.is_none() => {
                    execute(
                        &w.tx,
                        "UPDATE webhooks SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL",
                        &[&webhook, &since],
                    )
                    .await?;
                }
                Some(_) => {}
            }
            if let Some(entry) = &plan.disable {
                // Once, whichever process saw the deciding failure.
                let turned_off = execute(
                    &w.tx,
                    "UPDATE webhooks SET active = FALSE WHERE id = $1 AND active",
                    &[&webhook],
                )
                .await?;
                if turned_off > 0 {
                    w.append_audit(entry, now).await?;
                }
            }
            Ok(())
        })
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<Timestamp>> {
        let c = self.client().await?;
        let r = query_one(
            &c,
            "SELECT min(next_attempt_at) FROM outbox WHERE channel = 'webhook' AND status = 'pending'",
            &[],
        )
        .await?;
        Ok(col::<Option<i64>>(&r, 0)?.map(Timestamp))
    }

    async fn outbox_stats(&self) -> StoreResult<OutboxStats> {
        let c = self.client().await?;
        let r = query_one(
            &c,
            "SELECT count(*), min(created_at) FROM outbox WHERE status = 'pending'",
            &[],
        )
        .await?;
        Ok(OutboxStats {
            pending: col_u64(&r, 0)?,
            oldest_pending_at: col::<Option<i64>>(&r, 1)?.map(Timestamp),
        })
    }
}
