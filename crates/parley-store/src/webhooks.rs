//! Webhooks and the durable outbox (protocol.md §12).
//!
//! A delivery row is written by the same transaction as the event that
//! causes it: both backends add it where they store an event, one row per
//! active webhook listing the event's type. Workers in every process
//! [`claim`](WebhookStore::claim_deliveries) due rows for a lease (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, on SQLite on the writer), so
//! no two attempts of one delivery run at once while its lease holds, and
//! a worker that dies mid-attempt only delays the row until the lease
//! ends. After an attempt, [`finish_delivery`](WebhookStore::finish_delivery)
//! applies `parley_domain::webhooks::after_attempt` to the facts it read
//! under its lock.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::webhooks::{Outcome, RetryPolicy};
use parley_protocol::Timestamp;
use parley_protocol::webhooks::{Webhook, WebhookDelivery};

/// A webhook to create; its fields already checked.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub id: String,
    pub url: String,
    /// Known types, sorted, without repeats.
    pub events: Vec<String>,
    pub description: Option<String>,
    /// `whsec_...`, as stored.
    pub secret: String,
    pub created_at: Timestamp,
}

/// A webhook's changes; absent fields stay.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub active: Option<bool>,
}

/// A webhook with its secret: for the delivery worker only.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub webhook: Webhook,
    pub secret: String,
}

/// A delivery claimed for one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// The `webhook-id` of every attempt.
    pub id: String,
    pub webhook_id: String,
    pub event_type: String,
    /// The section 5 event as stored.
    pub event: String,
    /// Attempts recorded before this one.
    pub attempts: u32,
}

/// The outbox's depth, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    pub pending: u64,
    pub oldest_pending_at: Option<Timestamp>,
}

#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Creates a webhook, active; `conflict` past
    /// `parley_domain::webhooks::MAX_WEBHOOKS`.
    async fn create_webhook(&self, new: NewWebhook) -> StoreResult<Webhook>;
    /// Webhooks by id, after `after`.
    async fn webhooks(&self, after: Option<String>, limit: u32) -> StoreResult<Vec<Webhook>>;
    async fn webhook(&self, id: &str) -> StoreResult<Option<WebhookRow>>;
    /// `not_found` for an unknown id.
    async fn update_webhook(&self, id: &str, patch: WebhookPatch) -> StoreResult<Webhook>;
    /// Deletes the webhook and every delivery of it, pending ones
    /// included; `false` if there was none.
    async fn delete_webhook(&self, id: &str) -> StoreResult<bool>;
    /// The webhook's deliveries, newest first, before the keyset
    /// `(created_at ms, id)`.
    async fn webhook_deliveries(
        &self,
        webhook: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<WebhookDelivery>>;

    /// Claims up to `limit` pending deliveries of active webhooks due at
    /// `now` (oldest due first), at most `per_webhook` of one webhook,
    /// none of `skip` (webhooks with as many attempts in flight in this
    /// process as they may have): each is due again at `lease_until`,
    /// unless finished before.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        per_webhook: u32,
        skip: &[String],
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// Records an attempt's outcome at `now`: delivered, due again per
    /// the schedule, or failed; may turn the webhook off (with an audit
    /// entry). Nothing if the delivery is gone (its webhook deleted).
    async fn finish_delivery(
        &self,
        id: &str,
        outcome: Outcome,
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> StoreResult<()>;
    /// When the earliest pending delivery is due.
    async fn next_delivery_due(&self) -> StoreResult<Option<Timestamp>>;
    async fn outbox_stats(&self) -> StoreResult<OutboxStats>;
}
