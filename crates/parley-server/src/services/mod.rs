//! Services: the one place each action is carried out, whichever way it
//! arrived (REST or the gateway). A service validates its input
//! (`parley_domain::input`), calls storage (which asks `parley_domain`
//! for the rules), fills in what storage cannot know (presence) and
//! pushes what is not stored (typing, presence). Handlers call services
//! and never storage; per-action limits, moderation checks and
//! notification hooks belong here.
//!
//! One module per area. [`Services`] builds them once over one
//! [`Store`](parley_store::Store), in dependency order.

pub mod accounts;
pub mod blocks;
pub mod chat_state;
pub mod conversations;
pub mod email;
pub mod export;
pub mod media;
pub mod message_marks;
pub mod messages;
pub mod moderation;
pub mod notifications;
pub mod presence;
pub mod push;
pub mod reactors;
pub mod receipts;
pub mod retention;
pub mod search;
pub mod sessions;
pub mod support;
pub mod typing;
pub mod users;
pub mod webhooks;

use crate::error::{AppError, AppResult};
use parley_domain::input;

/// Ids from a client that cannot name anything we store are simply
/// `not_found`, without a database round trip.
pub fn check_id(raw: &str, what: &'static str) -> AppResult<()> {
    if input::id_like(raw) {
        Ok(())
    } else {
        Err(AppError::NotFound(what))
    }
}

/// Sends `frame` to every live connection of `user` (their other devices
/// learn of a change made on one), outside seq order.
pub(crate) fn tell_own_devices(
    fanout: &dyn crate::fanout::Fanout,
    user: &str,
    frame: &parley_protocol::ServerFrame,
) {
    if let Ok(bytes) = serde_json::to_vec(frame) {
        fanout.publish(vec![parley_store::Delivery::Ephemeral {
            recipients: std::sync::Arc::from(vec![user.to_string()]),
            frame: bytes.into(),
        }]);
    }
}

/// Every service, sharing one store and one fan-out.
#[derive(Clone)]
pub struct Services {
    pub accounts: accounts::AccountsService,
    pub users: users::UsersService,
    pub blocks: blocks::BlocksService,
    pub chat_state: chat_state::ChatStateService,
    pub message_marks: message_marks::MessageMarksService,
    pub reactors: reactors::ReactorsService,
    pub presence: presence::PresenceService,
    pub typing: typing::TypingService,
    pub conversations: conversations::ConversationsService,
    pub messages: messages::MessagesService,
    pub media: media::MediaService,
    pub receipts: receipts::ReceiptsService,
    pub moderation: moderation::ModerationService,
    pub notifications: notifications::NotificationsService,
    pub support: support::SupportService,
    pub webhooks: webhooks::WebhooksService,
    pub push: push::PushService,
    pub email: email::EmailService,
    pub search: search::SearchService,
    pub export: export::ExportService,
    pub retention: retention::RetentionService,
    /// Only for [`Services::storage_ready`].
    health: std::sync::Arc<dyn parley_store::Store>,
}

impl Services {
    /// Builds every service over `store`, in dependency order.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: std::sync::Arc<dyn parley_store::Store>,
        fanout: std::sync::Arc<dyn crate::fanout::Fanout>,
        shared: Option<crate::cluster::Shared>,
        config: &crate::config::Config,
        limiter: crate::ratelimit::Limiter,
        accounts: accounts::AccountsConfig,
        media: media::MediaService,
        vapid: &parley_outbound::VapidKey,
        unsubscribe: parley_outbound::SigningKey,
        support_store: std::sync::Arc<dyn parley_store::SupportStore>,
    ) -> Self {
        use std::time::Duration;
        let blocks = blocks::BlocksService::new(store.clone(), store.clone());
        let gate = sessions::SessionGate::new(store.clone(), store.clone());
        let presence = presence::PresenceService::new(
            Duration::from_secs(config.presence_idle_secs),
            Duration::from_secs(config.presence_shared_ttl_secs),
            shared,
            store.clone(),
            store.clone(),
            blocks.clone(),
            fanout.clone(),
        );
        let typing = typing::TypingService::new(
            store.clone(),
            blocks.clone(),
            fanout.clone(),
            limiter.clone(),
        );
        let limits = &config.limits;
        Services {
            accounts: accounts::AccountsService::new(
                store.clone(),
                store.clone(),
                store.clone(),
                store.clone(),
                gate.clone(),
                accounts,
            ),
            moderation: moderation::ModerationService::new(
                store.clone(),
                store.clone(),
                gate,
                fanout.clone(),
            ),
            users: users::UsersService::new(
                store.clone(),
                store.clone(),
                store.clone(),
                presence.clone(),
                limiter.clone(),
                config.user_directory,
                config.avatar_policy(),
                media.clone(),
            ),
            conversations: conversations::ConversationsService::new(
                store.clone(),
                presence.clone(),
                limiter.clone(),
                limits.group_max_members,
                config.avatar_policy(),
            ),
            messages: messages::MessagesService::new(
                store.clone(),
                store.clone(),
                typing.clone(),
                limiter.clone(),
                limits.message_chars,
                limits.edit_window_secs as i64 * 1000,
            ),
            retention: retention::RetentionService::new(
                store.clone(),
                store.clone(),
                media.clone(),
                config.retention_message_days,
            ),
            media,
            support: support::SupportService::new(
                support_store,
                store.clone(),
                store.clone(),
                presence.clone(),
                limiter.clone(),
                Duration::from_secs(config.support_agent_grace_secs),
                limits.message_chars,
            ),
            notifications: notifications::NotificationsService::new(store.clone()),
            webhooks: webhooks::WebhooksService::new(store.clone(), config.outbound.clone()),
            search: search::SearchService::new(store.clone(), limiter.clone()),
            export: export::ExportService::new(
                store.clone(),
                store.clone(),
                store.clone(),
                store.clone(),
                store.clone(),
                store.clone(),
                limiter.clone(),
            ),
            push: push::PushService::new(
                store.clone(),
                config.outbound.clone(),
                vapid,
                config.push.gateway.is_some(),
            ),
            email: email::EmailService::new(store.clone(), store.clone(), unsubscribe),
            reactors: reactors::ReactorsService::new(store.clone(), limiter.clone()),
            message_marks: message_marks::MessageMarksService::new(
                store.clone(),
                fanout.clone(),
                limiter.clone(),
            ),
            chat_state: chat_state::ChatStateService::new(
                store.clone(),
                fanout.clone(),
                limiter.clone(),
            ),
            receipts: receipts::ReceiptsService::new(store.clone(), limiter),
            health: store,
            blocks,
            presence,
            typing,
        }
    }

    /// A cheap storage round trip (`/readyz`).
    pub async fn storage_ready(&self) -> AppResult<()> {
        Ok(self.health.ping().await?)
    }
}
