//! Messages and the event log.

use crate::StoreResult;
use async_trait::async_trait;
use bytes::Bytes;
use parley_protocol::{
    EventPage, Message, MessageContext, MessagePage, ReactionSummary, Timestamp,
};

pub use parley_domain::messages::NewMessage;

/// Runs after the send's commit and before its event is fanned out, so
/// that a gateway `ack` reaches the sending connection before the event.
pub type AfterCommit = Box<dyn FnOnce(&Message, bool) + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    Latest,
    Before(u64),
    After(u64),
}

#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Idempotent by (conversation, sender, client_id): a repeat returns the
    /// original with `false` and writes nothing.
    async fn send_message(
        &self,
        msg: NewMessage,
        after_commit: Option<AfterCommit>,
    ) -> StoreResult<(Message, bool)>;
    async fn messages(
        &self,
        viewer: &str,
        id: &str,
        page: HistoryPage,
        limit: u32,
    ) -> StoreResult<MessagePage>;
    async fn events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<EventPage>;
    /// Stored event frames after `after`, visible to `viewer`, ascending.
    async fn raw_events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Bytes)>>;
    async fn message(&self, viewer: &str, message_id: &str) -> StoreResult<Message>;
    async fn message_context(
        &self,
        viewer: &str,
        message_id: &str,
        limit: u32,
    ) -> StoreResult<MessageContext>;
    async fn edit_message(
        &self,
        actor: &str,
        message_id: &str,
        text: &str,
        window_ms: i64,
        at: Timestamp,
    ) -> StoreResult<Message>;
    async fn delete_message(
        &self,
        actor: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message>;
    /// Adds (`add`) or removes a reaction; a repeat records nothing.
    async fn react(
        &self,
        actor: &str,
        message_id: &str,
        emoji: &str,
        add: bool,
        at: Timestamp,
    ) -> StoreResult<Vec<ReactionSummary>>;
}

/// The context page of a message: `before`, the message, `after`.
pub fn context(message: Message, before: MessagePage, after: MessagePage) -> MessageContext {
    let mut messages = before.messages;
    messages.push(message.clone());
    messages.extend(after.messages);
    MessageContext {
        message,
        messages,
        has_more_before: before.has_more,
        has_more_after: after.has_more,
    }
}
