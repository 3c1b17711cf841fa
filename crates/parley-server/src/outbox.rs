//! The delivery worker of the durable outbox (protocol.md §12): every
//! process runs one. It claims due deliveries from storage for a lease,
//! attempts each in a task of its own (signed per Standard Webhooks, through
//! the outbound client's destination policy and timeout) and records the
//! outcome, which storage turns into delivered, the next retry or failed.
//!
//! Nothing here runs inside a request or a send. A slow or dead receiver
//! holds fewer than twice [`PER_WEBHOOK`] attempts of this process (a
//! claim takes at most that many of one webhook, and skips a webhook
//! already at it), so it delays only its own deliveries. A process that dies mid-attempt leaves the
//! row leased: it is attempted again, with the same `webhook-id`, when
//! the lease ends.

use crate::metrics;
use parley_domain::webhooks::{Outcome, RetryPolicy};
use parley_outbound::{Outbound, SigningKey};
use parley_protocol::Timestamp;
use parley_store::{ClaimedDelivery, WebhookStore};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Attempts in flight in one process.
const IN_FLIGHT: usize = 128;
/// Attempts in flight per webhook in one process.
pub const PER_WEBHOOK: usize = 8;
/// Deliveries claimed at once.
const CLAIM_BATCH: u32 = 32;
/// How often an idle worker looks for due deliveries: an attempt leaves
/// within 2 s of its due time.
const POLL: Duration = Duration::from_millis(500);
/// A lease outlives the attempt's timeout by this much.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// How often the outbox gauges are refreshed.
const STATS_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct OutboxWorker {
    store: Arc<dyn WebhookStore>,
    client: Outbound,
    policy: Arc<RetryPolicy>,
    /// Attempts in flight per webhook (a std Mutex: never held across an
    /// await).
    busy: Arc<Mutex<HashMap<String, usize>>>,
}

/// Only the event's time is read from the stored event.
#[derive(Deserialize)]
struct EventTime<'a> {
    #[serde(borrow)]
    at: &'a str,
}

impl OutboxWorker {
    pub fn new(store: Arc<dyn WebhookStore>, client: Outbound, policy: RetryPolicy) -> Self {
        OutboxWorker {
            store,
            client,
            policy: Arc::new(policy),
            busy: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Runs until `stop`; in-flight attempts are then abandoned (their
    /// leases bring them back).
    pub async fn run(self, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut attempts = JoinSet::new();
        let mut stats_at = tokio::time::Instant::now();
        loop {
            while attempts.try_join_next().is_some() {}
            if stats_at.elapsed() >= STATS_EVERY {
                stats_at = tokio::time::Instant::now();
                self.refresh_stats().await;
            }
            let claimed = match self.claim(slots.available_permits()).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: claiming deliveries failed");
                    Vec::new()
                }
            };
            let full = claimed.len() as u32 == CLAIM_BATCH;
            for d in claimed {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                self.enter(&d.webhook_id);
                let me = self.clone();
                attempts.spawn(async move {
                    let webhook = d.webhook_id.clone();
                    me.attempt(d).await;
                    me.leave(&webhook);
                    drop(permit);
                });
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
                Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
            }
        }
        attempts.shutdown().await;
    }

    /// Due deliveries for up to `room` attempts, none of a webhook already
    /// at its limit here. A read first: an idle outbox costs no write.
    async fn claim(&self, room: usize) -> parley_store::StoreResult<Vec<ClaimedDelivery>> {
        let now = Timestamp::now();
        let room = (room as u32).min(CLAIM_BATCH);
        if room == 0 {
            return Ok(Vec::new());
        }
        match self.store.next_delivery_due().await? {
            Some(due) if due.millis() <= now.millis() => {}
            _ => return Ok(Vec::new()),
        }
        let skip: Vec<String> = self
            .busy
            .lock()
            .map(|b| {
                b.iter()
                    .filter(|(_, n)| **n >= PER_WEBHOOK)
                    .map(|(w, _)| w.clone())
                    .collect()
            })
            .unwrap_or_default();
        let lease = self.client.policy().timeout + LEASE_MARGIN;
        let lease_until = Timestamp(now.millis() + lease.as_millis() as i64);
        self.store
            .claim_deliveries(now, lease_until, room, PER_WEBHOOK as u32, &skip)
            .await
    }

    fn enter(&self, webhook: &str) {
        if let Ok(mut b) = self.busy.lock() {
            *b.entry(webhook.to_string()).or_default() += 1;
        }
    }

    fn leave(&self, webhook: &str) {
        if let Ok(mut b) = self.busy.lock()
            && let Some(n) = b.get_mut(webhook)
        {
            *n -= 1;
            if *n == 0 {
                b.remove(webhook);
            }
        }
    }

    /// One attempt of one delivery, and its outcome recorded.
    async fn attempt(&self, d: ClaimedDelivery) {
        let hook = match self.store.webhook(&d.webhook_id).await {
            Ok(Some(h)) => h,
            // Deleted meanwhile: its deliveries went with it.
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, delivery = %d.id, "outbox: reading the webhook failed");
                return;
            }
        };
        let outcome = match self.post(&d, &hook.webhook.url, &hook.secret).await {
            Ok(status) if (200..300).contains(&status) => Outcome::Delivered(status),
            Ok(status) => Outcome::Failed(Some(status)),
            Err(()) => Outcome::Failed(None),
        };
        let result = match outcome {
            Outcome::Delivered(_) => "delivered",
            Outcome::Failed(_) if d.attempts as usize >= self.policy.schedule_ms.len() => "failed",
            Outcome::Failed(_) => "retry",
        };
        metrics::outbound_delivery("webhook", result);
        tracing::debug!(delivery = %d.id, webhook = %d.webhook_id, ?outcome, "webhook attempt");
        if let Err(e) = self
            .store
            .finish_delivery(&d.id, outcome, Timestamp::now(), &self.policy)
            .await
        {
            // The lease brings it back: at least once, with the same id.
            tracing::warn!(error = %e, delivery = %d.id, "outbox: recording an attempt failed");
        }
    }

    /// `POST`s the delivery; the status of the answer, or `Err` for none.
    async fn post(&self, d: &ClaimedDelivery, url: &str, secret: &str) -> Result<u16, ()> {
        let (Ok(url), Some(key)) = (url::Url::parse(url), SigningKey::parse(secret)) else {
            tracing::error!(webhook = %d.webhook_id, "outbox: a stored webhook URL or secret is invalid");
            return Err(());
        };
        let at = match serde_json::from_str::<EventTime<'_>>(&d.event) {
            Ok(t) => t.at.to_string(),
            Err(e) => {
                tracing::error!(error = %e, delivery = %d.id, "outbox: a stored event is corrupt");
                return Err(());
            }
        };
        let body = envelope(&d.event_type, &at, &d.event);
        let now = Timestamp::now().millis() / 1000;
        let [id, ts, sig] = key.headers(&d.id, now, body.as_bytes());
        let headers = [
            ("content-type", "application/json".to_string()),
            id,
            ts,
            sig,
        ];
        match self.client.post(&url, &headers, body.into()).await {
            Ok(answer) => Ok(answer.status),
            Err(e) => {
                tracing::debug!(error = %e, delivery = %d.id, "webhook attempt without an answer");
                Err(())
            }
        }
    }

    async fn refresh_stats(&self) {
        match self.store.outbox_stats().await {
            Ok(s) => {
                let age = s
                    .oldest_pending_at
                    .map(|t| (Timestamp::now().millis() - t.millis()).max(0) as f64 / 1000.0)
                    .unwrap_or(0.0);
                metrics::outbox_depth(s.pending, age);
            }
            Err(e) => tracing::debug!(error = %e, "outbox: reading its depth failed"),
        }
    }
}

/// `{type, timestamp, data}` around the stored event, without re-encoding it.
fn envelope(event_type: &str, at: &str, event: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    format!(
        r#"{{"type":{},"timestamp":{},"data":{}}}"#,
        quote(event_type),
        quote(at),
        event
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_wraps_the_event_as_stored() {
        let event = r#"{"conversation_id":"c","seq":3,"type":"message.created","actor_id":"u","at":"2026-12-04T03:00:00.000Z","data":{}}"#;
        let body = envelope("message.created", "2026-12-04T03:00:00.000Z", event);
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["type"], "message.created");
        assert_eq!(v["timestamp"], "2026-12-04T03:00:00.000Z");
        assert_eq!(v["data"]["seq"], 3);
        assert!(body.ends_with(&format!("\"data\":{event}}}")));
    }
}
