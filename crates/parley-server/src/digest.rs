//! The email digest worker (protocol.md §12, "Email digests"): every
//! process with SMTP configured runs one.
//!
//! It scans for users with an address, `email: "digest"`, no live
//! connection and unread messages older than `--email-after` in unmuted
//! conversations, and queues one digest each in the outbox (storage
//! records what it lists in the same transaction, so a message is mailed
//! once and a conversation at most hourly, however many processes scan).
//! It then claims due digests with the facts read at claim time, asks
//! `parley_domain::digest` what the email says (or why none leaves: read
//! meanwhile, connected again, turned off) and hands it to the relay.
//!
//! Nothing here runs inside a request or a send; a relay that hangs slows
//! only digests. A process that dies mid-attempt leaves the row leased: it
//! is tried again when the lease ends, with the same `Message-ID`.

use crate::metrics;
use crate::services::email::EmailService;
use crate::services::presence::PresenceService;
use parley_domain::digest::{self as rules, AGAIN_AFTER_MS, DigestLinks};
use parley_outbound::{Email, EmailError, Mailer};
use parley_protocol::Timestamp;
use parley_store::{ClaimedDigest, DigestSettle, DigestStore, DigestWindow};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Users read per candidate page.
const SCAN_PAGE: u32 = 200;
/// Digests claimed at once.
const CLAIM_BATCH: u32 = 16;
/// How often due digests are looked for.
const POLL: Duration = Duration::from_secs(1);
/// The relay's timeout for each SMTP command.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// A claimed digest comes back after this if its attempt never settles.
const LEASE: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct DigestWorker {
    store: Arc<dyn DigestStore>,
    mailer: Mailer,
    presence: PresenceService,
    email: EmailService,
    /// How old an unread message is before it is mailed.
    after: Duration,
    /// This server's URL, for the links.
    base_url: Arc<str>,
}

impl DigestWorker {
    pub fn new(
        store: Arc<dyn DigestStore>,
        mailer: Mailer,
        presence: PresenceService,
        email: EmailService,
        after: Duration,
        base_url: String,
    ) -> Self {
        DigestWorker {
            store,
            mailer,
            presence,
            email,
            after,
            base_url: base_url.into(),
        }
    }

    /// How often users are scanned: a quarter of the threshold, between
    /// half a second and half a minute.
    fn scan_every(&self) -> Duration {
        (self.after / 4).clamp(Duration::from_millis(500), Duration::from_secs(30))
    }

    /// Runs until `stop`; an attempt in progress is abandoned (its lease
    /// brings it back).
    pub async fn run(self, stop: CancellationToken) {
        let mut last_scan: Option<tokio::time::Instant> = None;
        loop {
            if last_scan.is_none_or(|t| t.elapsed() >= self.scan_every()) {
                last_scan = Some(tokio::time::Instant::now());
                tokio::select! {
                    _ = stop.cancelled() => break,
                    r = self.scan() => if let Err(e) = r {
                        tracing::warn!(error = %e, "email: scanning for digests failed");
                    },
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.deliver_due() => {}
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(POLL.min(self.scan_every())) => {}
            }
        }
    }

    /// Queues a digest for every user due now who is not connected.
    async fn scan(&self) -> parley_store::StoreResult<()> {
        let now = Timestamp::now().millis();
        let window = DigestWindow {
            now: Timestamp(now),
            cutoff: Timestamp(now.saturating_sub(self.after.as_millis() as i64)),
            again_before: Timestamp(now.saturating_sub(AGAIN_AFTER_MS)),
        };
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .digest_candidates(window, after.clone(), SCAN_PAGE)
                .await?;
            let Some(last) = page.last().cloned() else {
                return Ok(());
            };
            let connected = self.presence.connected_among(&page).await;
            for user in page.iter().filter(|u| !connected.contains(u)) {
                let id = format!("eml_{}", parley_store::ids::new_id());
                if self.store.enqueue_digest(user, &id, window).await? {
                    tracing::debug!(digest = %id, user = %user, "email digest queued");
                }
            }
            if (page.len() as u32) < SCAN_PAGE {
                return Ok(());
            }
            after = Some(last);
        }
    }

    async fn deliver_due(&self) {
        let now = Timestamp::now();
        match self.store.next_digest_due().await {
            Ok(Some(due)) if due.millis() <= now.millis() => {}
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "email: reading the outbox failed");
                return;
            }
        }
        let lease_until = Timestamp(now.millis() + LEASE.as_millis() as i64);
        let claimed = match self
            .store
            .claim_digests(now, lease_until, CLAIM_BATCH)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "email: claiming digests failed");
                return;
            }
        };
        if claimed.is_empty() {
            return;
        }
        let users: Vec<String> = claimed.iter().map(|d| d.facts.user_id.clone()).collect();
        let connected = self.presence.connected_among(&users).await;
        for digest in claimed {
            let is_connected = connected.contains(&digest.facts.user_id);
            self.deliver(digest, is_connected).await;
        }
    }

    async fn deliver(&self, digest: ClaimedDigest, connected: bool) {
        let links = DigestLinks {
            open: format!("{}/", self.base_url.trim_end_matches('/')),
            unsubscribe: self
                .email
                .unsubscribe_url(&self.base_url, &digest.facts.user_id),
        };
        let email = match rules::compose(&digest.facts, connected, &links) {
            Ok(e) => e,
            Err(reason) => {
                tracing::debug!(digest = %digest.id, ?reason, "email digest dropped");
                metrics::outbound_delivery("email", "dropped");
                return self.settle(&digest, DigestSettle::Done).await;
            }
        };
        let sent = self
            .mailer
            .send(Email {
                to: email.to,
                subject: email.subject,
                text: email.text,
                html: email.html,
                id: digest.id.clone(),
                unsubscribe: links.unsubscribe,
            })
            .await;
        let (result, settle) = match sent {
            Ok(()) => ("delivered", DigestSettle::Done),
            Err(EmailError::Smtp { transient, message }) => {
                tracing::warn!(digest = %digest.id, transient, error = %message, "email digest not accepted");
                match rules::retry_at(transient, digest.retries, Timestamp::now().millis()) {
                    Some(at) => ("retry", DigestSettle::Retry(Timestamp(at))),
                    None => ("failed", DigestSettle::Done),
                }
            }
            Err(e) => {
                tracing::warn!(digest = %digest.id, error = %e, "email digest cannot be sent");
                ("failed", DigestSettle::Done)
            }
        };
        metrics::outbound_delivery("email", result);
        self.settle(&digest, settle).await;
    }

    async fn settle(&self, digest: &ClaimedDigest, settle: DigestSettle) {
        if let Err(e) = self.store.settle_digest(&digest.id, settle).await {
            // The lease brings it back, with facts read afresh.
            tracing::warn!(error = %e, digest = %digest.id, "email: settling failed");
        }
    }
}
