//! Storage: the one seam between Parley's logic and its database.
//!
//! One trait per area ([`UserStore`], [`CredentialStore`],
//! [`ConversationStore`], [`MessageStore`], [`ReceiptStore`],
//! [`BlockStore`], [`ModerationStore`], [`MediaStore`], [`SupportStore`],
//! [`NotificationStore`], [`WebhookStore`], [`PushStore`], [`DigestStore`],
//! [`SearchStore`]), combined in [`Store`]. Each backend crate
//! (`parley-store-sqlite`, `parley-store-postgres`) implements every area
//! in a file of its own. A new capability adds a trait here and a file per
//! backend; nothing else grows.
//!
//! The rules are not here: a write reads its facts under the backend's
//! lock, asks `parley_domain` for the plan, and applies it. Every write
//! that appends events allocates their seqs in the transaction that stores
//! them and, once committed, hands the resulting [`Delivery`] list to the
//! sink given at open, in commit order.
//!
//! With the `conformance` feature, [`conformance`] is the behaviour every
//! backend must show, one suite per area.
#![forbid(unsafe_code)]

pub mod blocks;
pub mod chat_state;
pub mod compliance;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod conversations;
pub mod credentials;
pub mod delivery;
pub mod digests;
pub mod ids;
pub mod media;
pub mod message_marks;
pub mod messages;
pub mod moderation;
pub mod notifications;
pub mod push;
pub mod reactors;
pub mod receipts;
pub mod retention;
pub mod search;
pub mod support;
pub mod users;
pub mod webhooks;

pub use blocks::BlockStore;
pub use chat_state::ChatStateStore;
pub use compliance::ComplianceStore;
pub use conversations::{ActivityCursor, ConversationStore, Membership};
pub use credentials::{CredentialStore, RefreshTokenRow, RotateOutcome};
pub use delivery::{Delivery, DeliverySink};
pub use digests::{ClaimedDigest, DigestItem, DigestSettle, DigestStore, DigestWindow};
pub use media::{ListCursor, ListPage, MediaStore};
pub use message_marks::MessageMarkStore;
pub use messages::{AfterCommit, HistoryPage, MessageStore, NewMessage};
pub use moderation::ModerationStore;
pub use notifications::NotificationStore;
pub use push::{ClaimedPush, NewSubscription, PushSettle, PushStore, gateway_key};
pub use reactors::ReactorStore;
pub use receipts::ReceiptStore;
pub use retention::{Expired, RetentionStore};
pub use search::{SearchFound, SearchFoundPage, SearchStore};
pub use support::SupportStore;
pub use users::{NewUser, UserPatch, UserRow, UserStore};
pub use webhooks::{
    ClaimedDelivery, NewWebhook, OutboxStats, WebhookPatch, WebhookRow, WebhookStore,
};

use async_trait::async_trait;
use parley_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A rule refused the request (`parley_domain` decided, with its text).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Worth a retry: the database is busy, restarting or out of reach.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bug or a corrupt value: logged, never shown.
    #[error("database error: {0}")]
    Internal(String),
}

impl StoreError {
    /// `not_found` for `what`.
    pub fn not_found(what: &'static str) -> Self {
        StoreError::Domain(DomainError::NotFound(what))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Every area, on one database.
#[async_trait]
pub trait Store:
    UserStore
    + CredentialStore
    + ConversationStore
    + MessageStore
    + ReceiptStore
    + BlockStore
    + ChatStateStore
    + MessageMarkStore
    + ReactorStore
    + ModerationStore
    + MediaStore
    + NotificationStore
    + WebhookStore
    + PushStore
    + DigestStore
    + SearchStore
    + RetentionStore
    + ComplianceStore
{
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
}
