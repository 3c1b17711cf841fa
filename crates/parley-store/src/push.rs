//! Web Push subscriptions and their pending pushes (protocol.md §12).
//!
//! A push is an outbox row (`channel = 'push'`, `target` the subscription,
//! `topic` the conversation) written by the transaction that stores a
//! `message.created`, one per subscription of every other current member.
//! One row per subscription and conversation: a newer message merges into
//! the pending row (`seq` and body replaced), so pushes pending together
//! leave as one, for the newest. Workers [`claim`](PushStore::claim_pushes)
//! due rows for a lease with the facts `parley_domain::push::decide`
//! needs, read in the claim's transaction; a row settles by being deleted
//! (delivered, dropped or failed) unless a newer message merged into it
//! meanwhile, which makes it due again at once.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::push::PushFacts;
use parley_protocol::Timestamp;
use parley_protocol::push::{GatewayDevice, PushSubscription};

/// The key under which a push-gateway device is stored (its `endpoint`
/// column): one registration per device, like an endpoint.
pub fn gateway_key(device: &GatewayDevice) -> String {
    format!("gateway:{}:{}", device.platform.as_str(), device.token)
}

/// A subscription to store; its fields already checked.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub id: String,
    pub user_id: String,
    /// The Web Push endpoint, or [`gateway_key`] of `gateway`.
    pub endpoint: String,
    /// Empty for a gateway device.
    pub p256dh: String,
    pub auth: String,
    pub gateway: Option<GatewayDevice>,
    pub created_at: Timestamp,
}

/// A pending push claimed for one attempt, with its subscription.
#[derive(Debug, Clone)]
pub struct ClaimedPush {
    /// The outbox row.
    pub id: String,
    pub subscription_id: String,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    /// Sent through the push gateway instead.
    pub gateway: Option<GatewayDevice>,
    /// Retries already made (a hold is not one).
    pub retries: u32,
    /// The message seq this claim is for (a merge raises the row's); for
    /// a read update, the read seq.
    pub seq: u64,
    /// A silent update: the conversation was read up to `seq` after a
    /// notification was shown on this subscription.
    pub read_update: bool,
    pub facts: PushFacts,
}

/// How a claimed push ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushSettle {
    /// Dropped or given up: the row goes, unless a newer message merged
    /// into it since the claim (then it is due at once).
    Done,
    /// As `Done`, and the subscription was shown a notification for the
    /// conversation up to the claimed seq (a read past it sends a silent
    /// update).
    Delivered,
    /// Held (the subscriber is online): due again at this time.
    Hold(Timestamp),
    /// Retried at this time.
    Retry(Timestamp),
    /// 404/410: the subscription and its pending pushes go.
    Unsubscribe,
}

#[async_trait]
pub trait PushStore: Send + Sync + 'static {
    /// The value of the server key `name`, storing `generated` if there is
    /// none yet: every process and restart gets the first one stored.
    async fn server_key(&self, name: &str, generated: String) -> StoreResult<String>;
    /// Stores a subscription, or (the same endpoint, by any user) gives
    /// the existing one to `new.user_id` with `new`'s keys, keeping its id
    /// and time; `true` when it is new. Past
    /// `parley_domain::push::MAX_SUBSCRIPTIONS` the user's oldest go.
    async fn subscribe(&self, new: NewSubscription) -> StoreResult<(PushSubscription, bool)>;
    /// The user's subscriptions, oldest first.
    async fn subscriptions(&self, user: &str) -> StoreResult<Vec<PushSubscription>>;
    /// Deletes the user's subscription with this endpoint (or
    /// [`gateway_key`]) and its pending
    /// pushes; `false` if the user has none.
    async fn unsubscribe(&self, user: &str, endpoint: &str) -> StoreResult<bool>;
    /// Claims up to `limit` pushes due at `now`, oldest due first: each
    /// is due again at `lease_until` unless settled before.
    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedPush>>;
    /// Settles a claimed push (`seq` the claim's).
    async fn settle_push(
        &self,
        id: &str,
        seq: u64,
        settle: PushSettle,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// When the earliest pending push is due.
    async fn next_push_due(&self) -> StoreResult<Option<Timestamp>>;
}
