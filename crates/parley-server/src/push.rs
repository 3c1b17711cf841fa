//! The Web Push worker (protocol.md §12, "Web Push"): every process runs
//! one. It claims due pushes from the outbox for a lease, with the facts
//! storage read at claim time; asks `parley_domain::push` whether each
//! leaves, waits for an online recipient, or is dropped (read on any
//! device, muted, preference, blocked sender); sends the ones that leave
//! in tasks of their own (RFC 8291 body, VAPID, through the outbound
//! client's destination policy and timeout) and settles each by what the
//! push service answered.
//!
//! Nothing here runs inside a request or a send. A process that dies
//! mid-attempt leaves the row leased: it is attempted again when the lease
//! ends, with facts read afresh (so not if the message was read
//! meanwhile).

use crate::config::PushConfig;
use crate::metrics;
use crate::services::presence::PresenceService;
use parley_domain::push::{self as rules, AfterAnswer, Answer, Decision};
use parley_outbound::webpush::{self, VapidKey};
use parley_outbound::{Outbound, OutboundError, SigningKey};
use parley_protocol::Timestamp;
use parley_protocol::push::{GatewayDevice, GatewayNotification, PushNotification};
use parley_store::{ClaimedPush, PushSettle, PushStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Pushes in flight in one process.
const IN_FLIGHT: usize = 128;
/// Pushes claimed at once.
const CLAIM_BATCH: u32 = 64;
/// How often an idle worker looks for due pushes: one leaves within 2 s.
const POLL: Duration = Duration::from_millis(500);
/// A lease outlives the attempt's timeout by this much.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// How long the push service keeps an undelivered push (`TTL`).
const TTL_SECS: u32 = 86_400;

#[derive(Clone)]
pub struct PushWorker {
    store: Arc<dyn PushStore>,
    /// The push gateway's URL and signing key, when configured.
    gateway: Option<Arc<(url::Url, SigningKey)>>,
    client: Outbound,
    presence: PresenceService,
    key: Arc<VapidKey>,
    config: Arc<PushConfig>,
}

impl PushWorker {
    pub fn new(
        store: Arc<dyn PushStore>,
        client: Outbound,
        presence: PresenceService,
        key: VapidKey,
        config: PushConfig,
    ) -> Self {
        let gateway = config.gateway.as_ref().and_then(|(url, secret)| {
            SigningKey::parse(&secret.0).map(|key| Arc::new((url.clone(), key)))
        });
        PushWorker {
            store,
            gateway,
            client,
            presence,
            key: Arc::new(key),
            config: Arc::new(config),
        }
    }

    /// Runs until `stop`; in-flight pushes are then abandoned (their
    /// leases bring them back).
    pub async fn run(self, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut sends = JoinSet::new();
        loop {
            while sends.try_join_next().is_some() {}
            let claimed = match self.claim(slots.available_permits()).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "push: claiming pushes failed");
                    Vec::new()
                }
            };
            let full = claimed.len() as u32 == CLAIM_BATCH;
            let subscribers: Vec<String> =
                claimed.iter().map(|c| c.facts.subscriber.clone()).collect();
            let online = if claimed.is_empty() {
                Default::default()
            } else {
                self.presence.online_among(&subscribers).await
            };
            let hold_ms = self.config.hold.as_millis() as i64;
            for push in claimed {
                if push.read_update {
                    // A silent update leaves at once, whoever is online.
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let me = self.clone();
                    let update = rules::read_update(&push.facts.conversation_id, push.seq);
                    sends.spawn(async move {
                        me.send(push, PushNotification::Read(update), rules::Urgency::Normal)
                            .await;
                        drop(permit);
                    });
                    continue;
                }
                let now = Timestamp::now().millis();
                let is_online = online.contains(&push.facts.subscriber);
                match rules::decide(&push.facts, now, hold_ms, is_online) {
                    Decision::Drop(reason) => {
                        tracing::debug!(push = %push.id, ?reason, "push dropped");
                        metrics::outbound_delivery("webpush", "dropped");
                        self.settle(&push, PushSettle::Done).await;
                    }
                    Decision::HoldUntil(at) => {
                        self.settle(&push, PushSettle::Hold(Timestamp(at))).await;
                    }
                    Decision::Send { payload, urgency } => {
                        let Ok(permit) = slots.clone().acquire_owned().await else {
                            return;
                        };
                        let me = self.clone();
                        sends.spawn(async move {
                            me.send(push, PushNotification::Message(payload), urgency)
                                .await;
                            drop(permit);
                        });
                    }
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
                Some(_) = sends.join_next(), if !sends.is_empty() => {}
            }
        }
        sends.shutdown().await;
    }

    /// Due pushes for up to `room` sends. A read first: an idle outbox
    /// costs no write.
    async fn claim(&self, room: usize) -> parley_store::StoreResult<Vec<ClaimedPush>> {
        let now = Timestamp::now();
        let room = (room as u32).min(CLAIM_BATCH);
        if room == 0 {
            return Ok(Vec::new());
        }
        match self.store.next_push_due().await? {
            Some(due) if due.millis() <= now.millis() => {}
            _ => return Ok(Vec::new()),
        }
        let lease = self.client.policy().timeout + LEASE_MARGIN;
        let lease_until = Timestamp(now.millis() + lease.as_millis() as i64);
        self.store.claim_pushes(now, lease_until, room).await
    }

    async fn settle(&self, push: &ClaimedPush, settle: PushSettle) {
        if let Err(e) = self
            .store
            .settle_push(&push.id, push.seq, settle, Timestamp::now())
            .await
        {
            // The lease brings it back, with facts read afresh.
            tracing::warn!(error = %e, push = %push.id, "push: settling failed");
        }
    }

    /// One request to the push service (or the push gateway), and its
    /// answer applied.
    async fn send(&self, push: ClaimedPush, payload: PushNotification, urgency: rules::Urgency) {
        let request = match &push.gateway {
            Some(device) => self.gateway_request(&push, device, payload),
            None => self.web_push_request(&push, &payload, urgency),
        };
        let (url, headers, body) = match request {
            Ok(r) => r,
            Err(settle) => return self.settle(&push, settle).await,
        };
        let answer = match self.client.post(&url, &headers, body.into()).await {
            Ok(a) => {
                // A Matrix-style gateway names the devices it no longer
                // knows in `rejected`.
                if let Some(device) = &push.gateway
                    && rejected(&a.body).contains(&device.token)
                {
                    metrics::outbound_delivery("push_gateway", "unsubscribed");
                    return self.settle(&push, PushSettle::Unsubscribe).await;
                }
                Answer::Status {
                    status: a.status,
                    retry_after_secs: a.retry_after_secs,
                }
            }
            Err(OutboundError::RefusedAddress) => Answer::Refused,
            Err(e) => {
                tracing::debug!(push = %push.id, error = %e, "push without an answer");
                Answer::NoAnswer
            }
        };
        let channel = if push.gateway.is_some() {
            "push_gateway"
        } else {
            "webpush"
        };
        let after = rules::after_answer(answer, push.retries, Timestamp::now().millis());
        tracing::debug!(push = %push.id, ?answer, ?after, "push attempt");
        let (result, settle) = match after {
            // A message shown on the device: a read elsewhere closes it.
            AfterAnswer::Delivered if !push.read_update => ("delivered", PushSettle::Delivered),
            AfterAnswer::Delivered => ("delivered", PushSettle::Done),
            AfterAnswer::Unsubscribe => ("unsubscribed", PushSettle::Unsubscribe),
            AfterAnswer::Retry(at) => ("retry", PushSettle::Retry(Timestamp(at))),
            AfterAnswer::Failed => ("failed", PushSettle::Done),
        };
        metrics::outbound_delivery(channel, result);
        self.settle(&push, settle).await;
    }

    /// The RFC 8030 request: the encrypted payload and its headers.
    fn web_push_request(
        &self,
        push: &ClaimedPush,
        payload: &PushNotification,
        urgency: rules::Urgency,
    ) -> Result<Request, PushSettle> {
        let Ok(url) = url::Url::parse(&push.endpoint) else {
            tracing::error!(push = %push.id, "push: a stored endpoint is not a URL");
            return Err(PushSettle::Unsubscribe);
        };
        let body = serde_json::to_vec(payload)
            .map_err(|e| e.to_string())
            .and_then(|plain| {
                webpush::encrypt(&plain, &push.p256dh, &push.auth).map_err(|e| e.to_string())
            })
            .map_err(|e| {
                tracing::error!(push = %push.id, error = %e, "push: the payload cannot be encrypted");
                PushSettle::Unsubscribe
            })?;
        let now_secs = Timestamp::now().millis() / 1000;
        let headers = vec![
            ("content-type", "application/octet-stream".to_string()),
            ("content-encoding", "aes128gcm".to_string()),
            ("ttl", TTL_SECS.to_string()),
            ("urgency", urgency.as_str().to_string()),
            ("topic", webpush::topic(&push.facts.conversation_id)),
            (
                "authorization",
                self.key
                    .authorization(&url, &self.config.vapid_subject, now_secs),
            ),
        ];
        Ok((url, headers, body))
    }

    /// The push gateway's request: `{platform, token, notification}`,
    /// signed like a webhook delivery; its id is the same on every retry
    /// of this push.
    fn gateway_request(
        &self,
        push: &ClaimedPush,
        device: &GatewayDevice,
        notification: PushNotification,
    ) -> Result<Request, PushSettle> {
        let Some((url, key)) = self.gateway.as_deref() else {
            // Registered while a gateway was configured; it is not now.
            metrics::outbound_delivery("push_gateway", "failed");
            return Err(PushSettle::Done);
        };
        let body = serde_json::to_vec(&GatewayNotification {
            platform: device.platform,
            token: device.token.clone(),
            notification,
        })
        .map_err(|e| {
            tracing::error!(push = %push.id, error = %e, "push: the notification cannot be encoded");
            PushSettle::Done
        })?;
        let id = format!("{}_{}", push.id, push.seq);
        let [id, ts, sig] = key.headers(&id, Timestamp::now().millis() / 1000, &body);
        let headers = vec![
            ("content-type", "application/json".to_string()),
            id,
            ts,
            sig,
        ];
        Ok((url.clone(), headers, body))
    }
}

/// A request ready for [`Outbound::post`].
type Request = (url::Url, Vec<(&'static str, String)>, Vec<u8>);

/// The tokens of a gateway answer's `rejected` list, if any.
fn rejected(body: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        rejected: Vec<String>,
    }
    serde_json::from_slice::<Answer>(body)
        .map(|a| a.rejected)
        .unwrap_or_default()
}
