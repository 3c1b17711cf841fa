//! Web Push subscriptions (protocol.md §12, "Web Push"): the VAPID public
//! key and a user's subscriptions. What an endpoint may be is the outbound
//! policy's (the operator's flags) plus `https`; the keys are checked here
//! so that a push can always be encrypted. Pushes are written by storage
//! with their messages and sent by [`crate::push::PushWorker`].

use crate::error::{AppError, AppResult};
use parley_domain::push as rules;
use parley_outbound::webpush::{parse_auth, parse_p256dh};
use parley_outbound::{Policy, VapidKey};
use parley_protocol::Timestamp;
use parley_protocol::push::{
    PushSubscription, SubscribeRequest, UnsubscribeRequest, VapidPublicKey,
};
use parley_store::ids::new_id;
use parley_store::{NewSubscription, PushStore, gateway_key};
use std::sync::Arc;

/// The `server_keys` name of the VAPID key.
const VAPID_KEY: &str = "vapid";

/// The server's VAPID key: the one stored, or a new one stored now (the
/// first process to store it wins; every process reads that one).
pub async fn vapid_key(store: &dyn PushStore) -> anyhow::Result<VapidKey> {
    let stored = store
        .server_key(VAPID_KEY, VapidKey::generate().encoded())
        .await
        .map_err(|e| anyhow::anyhow!("reading the VAPID key: {e}"))?;
    VapidKey::from_encoded(&stored)
        .ok_or_else(|| anyhow::anyhow!("the stored VAPID key is not a P-256 private key"))
}

#[derive(Clone)]
pub struct PushService {
    store: Arc<dyn PushStore>,
    policy: Arc<Policy>,
    public_key: Arc<str>,
    /// Whether a push gateway is configured (native-app registrations).
    gateway: bool,
}

impl PushService {
    pub fn new(store: Arc<dyn PushStore>, policy: Policy, key: &VapidKey, gateway: bool) -> Self {
        PushService {
            store,
            policy: Arc::new(policy),
            public_key: key.public_key().into(),
            gateway,
        }
    }

    pub fn vapid_public_key(&self) -> VapidPublicKey {
        VapidPublicKey {
            public_key: self.public_key.to_string(),
        }
    }

    /// An endpoint pushes may be sent to: absolute, `https` (or `http` to
    /// a host the operator lists), not a refused literal address.
    fn endpoint(&self, raw: &str) -> AppResult<String> {
        rules::endpoint_length(raw)?;
        let url = self
            .policy
            .check_url(raw)
            .map_err(|refusal| AppError::invalid("endpoint", format!("endpoint: {refusal}")))?;
        if url.scheme() != "https" && !self.policy.listed(&url) {
            return Err(AppError::invalid(
                "endpoint",
                "endpoint must be an https URL",
            ));
        }
        Ok(raw.to_string())
    }

    /// `true` when the subscription is new (201), `false` when the endpoint
    /// (or gateway device) was known (200, now the caller's).
    pub async fn subscribe(
        &self,
        user: &str,
        req: SubscribeRequest,
    ) -> AppResult<(PushSubscription, bool)> {
        let (endpoint, p256dh, auth, gateway) = match (req.gateway, req.endpoint, req.keys) {
            (Some(device), None, None) => {
                if !self.gateway {
                    return Err(AppError::invalid("gateway", rules::NO_GATEWAY));
                }
                rules::gateway_token(&device.token)?;
                (
                    gateway_key(&device),
                    String::new(),
                    String::new(),
                    Some(device),
                )
            }
            (Some(_), _, _) => {
                return Err(AppError::invalid("gateway", rules::GATEWAY_ALONE));
            }
            (None, Some(endpoint), Some(keys)) => {
                let endpoint = self.endpoint(&endpoint)?;
                if parse_p256dh(&keys.p256dh).is_none() {
                    return Err(AppError::invalid("keys.p256dh", rules::BAD_P256DH));
                }
                if parse_auth(&keys.auth).is_none() {
                    return Err(AppError::invalid("keys.auth", rules::BAD_AUTH));
                }
                (endpoint, keys.p256dh, keys.auth, None)
            }
            (None, None, _) => return Err(AppError::invalid("endpoint", rules::NO_ENDPOINT)),
            (None, Some(_), None) => return Err(AppError::invalid("keys", rules::NO_KEYS)),
        };
        Ok(self
            .store
            .subscribe(NewSubscription {
                id: new_id(),
                user_id: user.to_string(),
                endpoint,
                p256dh,
                auth,
                gateway,
                created_at: Timestamp::now(),
            })
            .await?)
    }

    pub async fn list(&self, user: &str) -> AppResult<Vec<PushSubscription>> {
        Ok(self.store.subscriptions(user).await?)
    }

    pub async fn unsubscribe(&self, user: &str, req: UnsubscribeRequest) -> AppResult<()> {
        let key = match (req.endpoint, req.gateway) {
            (Some(endpoint), None) => endpoint,
            (None, Some(device)) => gateway_key(&device),
            _ => return Err(AppError::invalid("endpoint", rules::ONE_OF)),
        };
        if self.store.unsubscribe(user, &key).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("subscription"))
        }
    }
}
