//! Shared state and the operations both the REST API and the gateway
//! perform (so that a send is validated and stored the same way on both).

use crate::auth::password::Passwords;
use crate::auth::tokens::Tokens;
use crate::auth::{Principal, external::ExternalVerifier};
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::fanout::Fanout;
use crate::ratelimit::RateLimiter;
use crate::store::{AfterCommit, NewMessage, Store};
use crate::{ids, validate};
use parley_protocol::{Message, MessageKind, SendMessageRequest, Timestamp};
use std::ops::Deref;
use std::sync::Arc;
use tokio::sync::{Semaphore, watch};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub fanout: Arc<dyn Fanout>,
    pub tokens: Tokens,
    pub passwords: Passwords,
    pub external: Option<ExternalVerifier>,
    pub external_users: crate::auth::provisioned::ProvisionedUsers,
    pub limiter: Arc<dyn RateLimiter>,
    /// Flips to true when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
    /// Caps live gateway connections.
    pub connection_permits: Arc<Semaphore>,
    pub presence: crate::presence::PresenceTracker,
    /// Redis, when this process is one of several.
    pub shared: Option<crate::cluster::Shared>,
    pub typing: crate::typing::TypingTracker,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }

    /// Ids from a client that cannot name anything we store are simply
    /// `not_found`, without a database round trip.
    pub fn check_id(raw: &str, what: &'static str) -> AppResult<()> {
        if validate::id_like(raw) {
            Ok(())
        } else {
            Err(AppError::NotFound(what))
        }
    }

    /// The one send path (REST and gateway).
    pub async fn send_message(
        &self,
        who: &Principal,
        conversation_id: &str,
        req: SendMessageRequest,
        after_commit: Option<AfterCommit>,
    ) -> AppResult<(Message, bool)> {
        Self::check_id(conversation_id, "conversation")?;
        validate::client_id(&req.client_id)?;
        if let Some(list) = &req.attachments
            && !list.is_empty()
        {
            // Media lands in a later release; until then no media id exists.
            return Err(AppError::invalid("attachments", "no such media"));
        }
        let text = req
            .text
            .ok_or_else(|| AppError::invalid("text", "text is required"))?;
        validate::message_text(&text, self.config.limits.message_chars)?;
        if let Some(r) = &req.reply_to
            && !validate::id_like(r)
        {
            return Err(AppError::invalid(
                "reply_to",
                "no such message in this conversation",
            ));
        }
        let msg = NewMessage {
            id: ids::new_id(),
            conversation_id: conversation_id.to_string(),
            sender_id: who.user_id.clone(),
            client_id: Some(req.client_id),
            kind: MessageKind::Text,
            text: Some(text),
            reply_to: req.reply_to,
            mentions: Vec::new(),
            at: Timestamp::now(),
        };
        let started = std::time::Instant::now();
        let sent = self.store.send_message(msg, after_commit).await?;
        crate::metrics::METRICS.db_write.observe(started.elapsed());
        if sent.1 {
            crate::metrics::METRICS
                .messages_sent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.stop_typing_on_send(conversation_id, &who.user_id)
                .await;
        }
        Ok(sent)
    }

    /// Users hidden from `viewer` by a block in either direction.
    pub async fn hidden_from(&self, viewer: &str) -> AppResult<Vec<String>> {
        Ok(self.store.block_partners(viewer).await?)
    }

    /// The conversation as `viewer` sees it, presence included.
    pub async fn conversation_for(
        &self,
        viewer: &str,
        id: &str,
    ) -> AppResult<parley_protocol::Conversation> {
        let mut c = self.store.conversation(viewer, id).await?;
        self.present_conversation(&mut c, &self.hidden_from(viewer).await?)
            .await;
        Ok(c)
    }

    /// Members as `viewer` sees them, presence included.
    pub async fn members_for(
        &self,
        viewer: &str,
        id: &str,
        after: Option<String>,
        limit: u32,
    ) -> AppResult<Vec<parley_protocol::Member>> {
        let mut members = self.store.members(viewer, id, after, limit).await?;
        let hidden = self.hidden_from(viewer).await?;
        self.present_all(members.iter_mut().map(|m| &mut m.user), &hidden)
            .await;
        Ok(members)
    }

    /// A conversation with its peer's presence as `viewer` may see it.
    pub async fn present_conversation(
        &self,
        c: &mut parley_protocol::Conversation,
        hidden: &[String],
    ) {
        if let Some(peer) = c.peer.as_mut() {
            self.present(peer, hidden).await;
        }
    }
}
