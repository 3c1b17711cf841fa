//! Messages and the event log (protocol.md §5). [`MessagesService::send`]
//! is the one send path, for REST and the gateway alike.

use super::check_id;
use super::typing::TypingService;
use crate::error::{AppError, AppResult};
use crate::metrics;
use crate::ratelimit::{Action, Limiter};
use bytes::Bytes;
use parley_domain::{input, media, mentions};
use parley_protocol::{
    EventPage, Message, MessageContext, MessagePage, ReactionSummary, SendMessageRequest, Timestamp,
};
use parley_store::ids::new_id;
use parley_store::{AfterCommit, ConversationStore, HistoryPage, MessageStore, NewMessage};
use std::sync::Arc;

#[derive(Clone)]
pub struct MessagesService {
    store: Arc<dyn MessageStore>,
    /// Who a text's `@username`s may name.
    members: Arc<dyn ConversationStore>,
    typing: TypingService,
    limiter: Limiter,
    /// `limits.message_chars`.
    max_chars: usize,
    /// `limits.edit_window`, in milliseconds.
    edit_window_ms: i64,
}

impl MessagesService {
    pub fn new(
        store: Arc<dyn MessageStore>,
        members: Arc<dyn ConversationStore>,
        typing: TypingService,
        limiter: Limiter,
        max_chars: usize,
        edit_window_ms: i64,
    ) -> Self {
        MessagesService {
            store,
            members,
            typing,
            limiter,
            max_chars,
            edit_window_ms,
        }
    }

    /// Sends (or, for a repeated `client_id`, returns the original with
    /// `false`). `after_commit` runs once the message is durable, before
    /// its event is fanned out (a gateway `ack`).
    pub async fn send(
        &self,
        sender: &str,
        conversation_id: &str,
        req: SendMessageRequest,
        after_commit: Option<AfterCommit>,
    ) -> AppResult<(Message, bool)> {
        // Before anything else: a refused send takes nothing, not even its
        // client_id, and an idempotent retry spends like any request.
        self.limiter.spend(Action::Send, sender).await?;
        check_id(conversation_id, "conversation")?;
        input::client_id(&req.client_id)?;
        // `attachments: []` is a message without attachments.
        let attachments = req.attachments.unwrap_or_default();
        let text = if attachments.is_empty() {
            let text = req
                .text
                .ok_or_else(|| AppError::invalid("text", "text is required"))?;
            input::message_text(&text, self.max_chars)?;
            Some(text)
        } else {
            media::check_attachment_ids(&attachments)?;
            if attachments.iter().any(|id| !input::id_like(id)) {
                return Err(media::NO_SUCH_MEDIA.into());
            }
            // A caption: absent, or empty, is none.
            match req.text {
                Some(t) if !t.trim().is_empty() => {
                    input::message_text(&t, self.max_chars)?;
                    Some(t)
                }
                _ => None,
            }
        };
        if let Some(r) = &req.reply_to
            && !input::id_like(r)
        {
            return Err(AppError::invalid(
                "reply_to",
                "no such message in this conversation",
            ));
        }
        let mentions = match &text {
            Some(t) if mentions::may_mention(t) => {
                self.mentions_in(sender, conversation_id, t).await
            }
            _ => Vec::new(),
        };
        let msg = NewMessage {
            id: new_id(),
            conversation_id: conversation_id.to_string(),
            sender_id: sender.to_string(),
            client_id: Some(req.client_id),
            kind: media::message_kind(&attachments),
            text,
            reply_to: req.reply_to,
            mentions,
            attachments,
            at: Timestamp::now(),
        };
        let started = std::time::Instant::now();
        let sent = self.store.send_message(msg, after_commit).await?;
        metrics::db_write(started.elapsed());
        if sent.1 {
            metrics::message_sent();
            self.typing.stop_on_send(conversation_id, sender).await;
        }
        Ok(sent)
    }

    /// The members `text` mentions. Read before the send's own transaction:
    /// a member leaving in between is still named, which notifies nobody
    /// (pushes and digests go to members only). A caller who may not read
    /// the members gets none; the send then refuses them on its own.
    async fn mentions_in(&self, sender: &str, conv: &str, text: &str) -> Vec<String> {
        let mut all: Vec<(String, String)> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let Ok(page) = self.members.members(sender, conv, after.clone(), 200).await else {
                return Vec::new();
            };
            let done = page.len() < 200;
            after = page.last().map(|m| m.user_id.clone());
            all.extend(page.into_iter().map(|m| (m.user_id, m.user.username)));
            if done || after.is_none() {
                break;
            }
        }
        mentions::resolve(text, sender, &all)
    }

    pub async fn history(
        &self,
        viewer: &str,
        conv: &str,
        page: HistoryPage,
        limit: u32,
    ) -> AppResult<MessagePage> {
        self.limiter.spend(Action::History, viewer).await?;
        check_id(conv, "conversation")?;
        Ok(self.store.messages(viewer, conv, page, limit).await?)
    }

    pub async fn events(
        &self,
        viewer: &str,
        conv: &str,
        after: u64,
        limit: u32,
    ) -> AppResult<EventPage> {
        self.limiter.spend(Action::History, viewer).await?;
        check_id(conv, "conversation")?;
        Ok(self.store.events(viewer, conv, after, limit).await?)
    }

    /// Stored event frames after `after` (the gateway's catch-up).
    pub async fn event_frames(
        &self,
        viewer: &str,
        conv: &str,
        after: u64,
        limit: u32,
    ) -> AppResult<Vec<(u64, Bytes)>> {
        Ok(self.store.raw_events(viewer, conv, after, limit).await?)
    }

    pub async fn get(&self, viewer: &str, id: &str) -> AppResult<Message> {
        check_id(id, "message")?;
        Ok(self.store.message(viewer, id).await?)
    }

    pub async fn context(&self, viewer: &str, id: &str, limit: u32) -> AppResult<MessageContext> {
        self.limiter.spend(Action::History, viewer).await?;
        check_id(id, "message")?;
        Ok(self.store.message_context(viewer, id, limit).await?)
    }

    pub async fn edit(&self, actor: &str, id: &str, text: &str) -> AppResult<Message> {
        check_id(id, "message")?;
        input::message_text(text, self.max_chars)?;
        Ok(self
            .store
            .edit_message(actor, id, text, self.edit_window_ms, Timestamp::now())
            .await?)
    }

    /// Deletes for everyone: the tombstone.
    pub async fn delete(&self, actor: &str, id: &str) -> AppResult<Message> {
        check_id(id, "message")?;
        Ok(self
            .store
            .delete_message(actor, id, Timestamp::now())
            .await?)
    }

    /// Adds (`add`) or removes a reaction; both idempotent.
    pub async fn react(
        &self,
        actor: &str,
        id: &str,
        emoji: &str,
        add: bool,
    ) -> AppResult<Vec<ReactionSummary>> {
        check_id(id, "message")?;
        input::emoji(emoji)?;
        Ok(self
            .store
            .react(actor, id, emoji, add, Timestamp::now())
            .await?)
    }
}
