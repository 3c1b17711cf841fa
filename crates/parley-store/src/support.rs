//! Support inboxes (protocol.md §9): inboxes and their agents, agent
//! status, support conversations, the queue and every routing decision.
//! Each decision (an assignment, a claim, a transfer, the capacity check)
//! is one transaction of the backend; the rules are `parley_domain::support`.

use crate::{NewMessage, StoreResult};
use async_trait::async_trait;
use parley_domain::support::{InboxFields, SupportRow, TransferTarget};
use parley_protocol::events::QueueReason;
use parley_protocol::support::{AgentStatus, InboxRequest, SupportState};
use parley_protocol::{Message, Timestamp};

/// An inbox as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxRow {
    pub id: String,
    pub fields: InboxFields,
    pub created_at: i64,
}

/// One agent of an inbox, with what `GET /inboxes/{id}/agents` shows
/// (`connected` comes from presence, not storage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxAgentRow {
    pub user_id: String,
    pub max_chats: Option<u32>,
    pub status: AgentStatus,
    pub open_chats: u32,
}

/// Who is acting, as the service authenticated them.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    pub is_admin: bool,
}

#[async_trait]
pub trait SupportStore: Send + Sync + 'static {
    /// `hook` is told, after commit, of each support conversation that a
    /// customer's message reopened (so that it is routed at once).
    fn on_reopened_by_send(&self, hook: Box<dyn Fn(&str) + Send + Sync>);

    async fn create_inbox(
        &self,
        id: &str,
        fields: InboxFields,
        at: Timestamp,
    ) -> StoreResult<InboxRow>;
    /// Applies a PATCH (validated against the stored fields under the lock).
    async fn update_inbox(&self, id: &str, patch: InboxRequest) -> StoreResult<InboxRow>;
    /// `not_found` for an unknown id.
    async fn inbox(&self, id: &str) -> StoreResult<InboxRow>;
    /// Every inbox (`agent` None) or those `agent` works, by creation.
    async fn inboxes(&self, agent: Option<&str>) -> StoreResult<Vec<InboxRow>>;
    /// Adds or updates an agent of an inbox; the user must hold the role.
    async fn put_inbox_agent(
        &self,
        inbox: &str,
        user: &str,
        max_chats: Option<u32>,
    ) -> StoreResult<()>;
    /// Removes an agent; their open chats of the inbox return to the front
    /// of its queue (`agent_removed`).
    async fn remove_inbox_agent(&self, inbox: &str, user: &str, at: Timestamp) -> StoreResult<()>;
    /// In the order they were added.
    async fn inbox_agents(&self, inbox: &str) -> StoreResult<Vec<InboxAgentRow>>;
    async fn is_inbox_agent(&self, inbox: &str, user: &str) -> StoreResult<bool>;
    /// The inboxes `user` is an agent of.
    async fn agent_inboxes(&self, user: &str) -> StoreResult<Vec<String>>;
    async fn set_agent_status(&self, user: &str, status: AgentStatus) -> StoreResult<()>;
    /// Records an agent's combined connection state, as the one process
    /// that announces a change tells it: a customer's message reopening a
    /// resolved chat decides in its own transaction whether the previous
    /// assignee takes it back, and presence is not a storage fact.
    async fn set_agent_connected(&self, user: &str, connected: bool) -> StoreResult<()>;
    /// (status, open chats).
    async fn agent_status(&self, user: &str) -> StoreResult<(AgentStatus, u32)>;
    /// The customer's open conversation in the inbox (`false`), or a new
    /// one (`true`) with `first` as its first message; the unique index
    /// settles concurrent opens.
    async fn open_support(
        &self,
        id: &str,
        inbox: &str,
        customer: &str,
        first: Option<NewMessage>,
        at: Timestamp,
    ) -> StoreResult<(String, bool)>;
    /// Assigns the front of the inbox's queue while the inbox is open and
    /// someone in `connected` is assignable; returns how many.
    async fn route(&self, inbox: &str, connected: Vec<String>, at: Timestamp) -> StoreResult<u32>;
    async fn claim(&self, conv: &str, actor: &Actor, at: Timestamp) -> StoreResult<()>;
    /// `target_connected`: whether a target agent has a live connection.
    async fn transfer(
        &self,
        conv: &str,
        actor: &Actor,
        target: TransferTarget,
        target_connected: bool,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn resolve(&self, conv: &str, actor: &Actor, at: Timestamp) -> StoreResult<()>;
    /// `assignee_connected`: whether the previous assignee is connected.
    async fn reopen(
        &self,
        conv: &str,
        actor: &Actor,
        assignee_connected: bool,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Returns an agent's open chats to the front of their queues;
    /// the inboxes touched.
    async fn requeue_agent(
        &self,
        agent: &str,
        reason: QueueReason,
        at: Timestamp,
    ) -> StoreResult<Vec<String>>;
    async fn support_row(&self, conv: &str) -> StoreResult<Option<SupportRow>>;
    /// A `system` message by `author` (an integration or an admin, checked
    /// by the caller) in a support conversation, in any state; `not_found`
    /// for anything else. A retry with the same `client_id` returns the
    /// original (`false`).
    async fn post_note(
        &self,
        conv: &str,
        author: &str,
        client_id: &str,
        text: &str,
        at: Timestamp,
    ) -> StoreResult<(Message, bool)>;
    /// Queued conversation ids in queue order, after the `after`-th.
    async fn queue(&self, inbox: &str, after: u32, limit: u32) -> StoreResult<Vec<String>>;
    /// The agent's conversations in `state`, latest activity first:
    /// (conversation id, activity) pairs after `before`.
    async fn agent_conversations(
        &self,
        agent: &str,
        state: SupportState,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(String, i64)>>;
    /// Agents holding open chats (the grace sweep's candidates).
    async fn agents_with_open_chats(&self) -> StoreResult<Vec<String>>;
}
