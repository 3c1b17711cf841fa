//! Webhooks (protocol.md §12, "Webhooks (admin)"): the admin API. What a
//! webhook may list is `parley_domain::webhooks`'; whether its URL may be
//! reached is the outbound policy's (the operator's flags). Deliveries are
//! written by storage with their events and sent by [`crate::outbox`].

use super::check_id;
use crate::auth::Principal;
use crate::error::{AppError, AppResult};
use parley_domain::moderation::require_admin;
use parley_domain::webhooks as rules;
use parley_outbound::{Policy, SigningKey};
use parley_protocol::Timestamp;
use parley_protocol::webhooks::{
    CreateWebhook, UpdateWebhook, Webhook, WebhookCreated, WebhookDelivery,
};
use parley_store::ids::new_id;
use parley_store::{NewWebhook, WebhookPatch, WebhookStore};
use std::sync::Arc;

#[derive(Clone)]
pub struct WebhooksService {
    store: Arc<dyn WebhookStore>,
    policy: Arc<Policy>,
}

impl WebhooksService {
    pub fn new(store: Arc<dyn WebhookStore>, policy: Policy) -> Self {
        WebhooksService {
            store,
            policy: Arc::new(policy),
        }
    }

    /// A URL outbound calls may be made to, as given.
    fn url(&self, raw: &str) -> AppResult<String> {
        rules::url_length(raw)?;
        self.policy
            .check_url(raw)
            .map_err(|refusal| AppError::invalid("url", format!("url: {refusal}")))?;
        Ok(raw.to_string())
    }

    pub async fn create(&self, who: &Principal, req: CreateWebhook) -> AppResult<WebhookCreated> {
        require_admin(who.role)?;
        let url = self.url(&req.url)?;
        let events = rules::event_types(&req.events)?;
        let description = rules::description(req.description.as_deref())?;
        let key = match req.secret.as_deref() {
            None => SigningKey::generate(),
            Some(s) => SigningKey::parse(s)
                .ok_or_else(|| AppError::invalid("secret", rules::BAD_SECRET))?,
        };
        let secret = key.encoded();
        let webhook = self
            .store
            .create_webhook(NewWebhook {
                id: new_id(),
                url,
                events,
                description,
                secret: secret.clone(),
                created_at: Timestamp::now(),
            })
            .await?;
        Ok(WebhookCreated { webhook, secret })
    }

    pub async fn list(
        &self,
        who: &Principal,
        after: Option<String>,
        limit: u32,
    ) -> AppResult<Vec<Webhook>> {
        require_admin(who.role)?;
        Ok(self.store.webhooks(after, limit).await?)
    }

    pub async fn get(&self, who: &Principal, id: &str) -> AppResult<Webhook> {
        require_admin(who.role)?;
        check_id(id, "webhook")?;
        self.store
            .webhook(id)
            .await?
            .map(|w| w.webhook)
            .ok_or(AppError::NotFound("webhook"))
    }

    pub async fn update(
        &self,
        who: &Principal,
        id: &str,
        req: UpdateWebhook,
    ) -> AppResult<Webhook> {
        require_admin(who.role)?;
        check_id(id, "webhook")?;
        let patch = WebhookPatch {
            url: req.url.as_deref().map(|u| self.url(u)).transpose()?,
            events: req.events.as_deref().map(rules::event_types).transpose()?,
            description: match req.description {
                None => None,
                Some(d) => Some(rules::description(d.as_deref())?),
            },
            active: req.active,
        };
        Ok(self.store.update_webhook(id, patch).await?)
    }

    pub async fn delete(&self, who: &Principal, id: &str) -> AppResult<()> {
        require_admin(who.role)?;
        check_id(id, "webhook")?;
        if self.store.delete_webhook(id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("webhook"))
        }
    }

    pub async fn deliveries(
        &self,
        who: &Principal,
        id: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> AppResult<Vec<WebhookDelivery>> {
        self.get(who, id).await?;
        Ok(self.store.webhook_deliveries(id, before, limit).await?)
    }
}
