//! Email addresses and email digests (protocol.md §12, "Email digests").
//!
//! A digest is an outbox row (`channel = 'email'`, `target` the user) whose
//! body lists, per conversation, the seq range it covers. It is written by
//! [`enqueue_digest`](DigestStore::enqueue_digest), which in the same
//! transaction records each listed conversation as digested (when, and up
//! to which seq) in `email_digests`: that record is what keeps a
//! conversation out of digests for an hour and keeps a message from being
//! mailed twice, and, since the check and the record are one transaction
//! (the SQLite writer; a per-user advisory lock on PostgreSQL), two
//! processes scanning at once queue one digest. Workers
//! [`claim`](DigestStore::claim_digests) due rows for a lease with the
//! facts `parley_domain::digest::compose` needs, read at claim time, so a
//! message read meanwhile is not listed.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::digest::DigestFacts;
use parley_protocol::Timestamp;
use serde::{Deserialize, Serialize};

/// When a scan runs: a conversation is due for `user` if it has an
/// unread message from someone else sent at or before `cutoff` and newer
/// than its previous digest, is not muted at `now`, and was last digested
/// at or before `again_before` (or never).
#[derive(Debug, Clone, Copy)]
pub struct DigestWindow {
    pub now: Timestamp,
    pub cutoff: Timestamp,
    pub again_before: Timestamp,
}

/// One conversation of a queued digest: the messages with `after_seq <
/// seq <= until_seq`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DigestItem {
    pub conversation_id: String,
    pub after_seq: u64,
    pub until_seq: u64,
}

/// A queued digest claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDigest {
    /// The outbox row (also the email's `Message-ID` local part).
    pub id: String,
    /// Retries already made.
    pub retries: u32,
    pub facts: DigestFacts,
}

/// How a claimed digest ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestSettle {
    /// Handed to the SMTP server, dropped or given up: the row goes.
    Done,
    /// Tried again at this time.
    Retry(Timestamp),
}

#[async_trait]
pub trait DigestStore: Send + Sync + 'static {
    /// The user's email address, if they gave one.
    async fn email_address(&self, user: &str) -> StoreResult<Option<String>>;
    /// Sets (`Some`) or clears (`None`) the user's address.
    async fn set_email_address(&self, user: &str, address: Option<String>) -> StoreResult<()>;
    /// Up to `limit` users (by id, after `after`) with an address, `email`
    /// not `off` and at least one conversation due in `window`.
    async fn digest_candidates(
        &self,
        window: DigestWindow,
        after: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<String>>;
    /// In one transaction: the user's conversations due in `window` (read
    /// afresh), each recorded as digested at `window.now` up to its newest
    /// seq, and one pending digest `id` listing them. `false` (and nothing
    /// written) when none is due any more.
    async fn enqueue_digest(&self, user: &str, id: &str, window: DigestWindow)
    -> StoreResult<bool>;
    /// Claims up to `limit` digests due at `now`, each due again at
    /// `lease_until` unless settled before.
    async fn claim_digests(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDigest>>;
    async fn settle_digest(&self, id: &str, settle: DigestSettle) -> StoreResult<()>;
    /// When the earliest pending digest is due.
    async fn next_digest_due(&self) -> StoreResult<Option<Timestamp>>;
}
