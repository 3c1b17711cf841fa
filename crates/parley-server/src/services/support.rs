//! Support inboxes (protocol.md §9): inboxes, agents, the customer's
//! front door, claims, transfers, resolve and reopen, and the job that
//! routes on every change that can free or need an agent (an agent
//! connecting, the agent grace running out, an inbox opening) with a
//! slow sweep only as a safety net.
//!
//! Every decision is one storage transaction (`SupportStore`); this layer
//! adds what storage cannot know: who is connected (combined presence).

use super::check_id;
use super::presence::PresenceService;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{Action, Limiter};
use parley_domain::input;
use parley_domain::support::{self as rules, TransferTarget};
use parley_protocol::events::QueueReason;
use parley_protocol::support::{
    AgentStatusView, Inbox, InboxAgent, InboxAgentMembership, InboxRequest, OpenSupportRequest,
    PutAgentRequest, SupportNoteRequest, SupportState,
};
use parley_protocol::{Conversation, Message, MessageKind, Role, Timestamp};
use parley_store::support::Actor;
use parley_store::{ConversationStore, NewMessage, SupportStore, UserStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the safety-net sweep routes every inbox and looks for
/// agents whose grace ran out while no process was watching.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct SupportService {
    store: Arc<dyn SupportStore>,
    conversations: Arc<dyn ConversationStore>,
    users: Arc<dyn UserStore>,
    presence: PresenceService,
    limiter: Limiter,
    grace: Duration,
    max_chars: usize,
    /// Wakes the job when an inbox's hours changed.
    hours_changed: Arc<tokio::sync::Notify>,
    /// Inboxes being routed in this process, and whether another routing
    /// was asked for meanwhile (see `route`).
    routing: Arc<std::sync::Mutex<std::collections::HashMap<String, bool>>>,
}

impl SupportService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<dyn SupportStore>,
        conversations: Arc<dyn ConversationStore>,
        users: Arc<dyn UserStore>,
        presence: PresenceService,
        limiter: Limiter,
        grace: Duration,
        max_chars: usize,
    ) -> Self {
        SupportService {
            store,
            conversations,
            users,
            presence,
            limiter,
            grace,
            max_chars,
            hours_changed: Arc::new(tokio::sync::Notify::new()),
            routing: Arc::default(),
        }
    }

    fn actor(user: &str, role: Role) -> Actor {
        Actor {
            user_id: user.to_string(),
            is_admin: role == Role::Admin,
        }
    }

    /// Admins, and agents of this inbox; anyone else `not_found`.
    async fn require_staff(&self, inbox: &str, user: &str, role: Role) -> AppResult<()> {
        if role == Role::Admin || self.store.is_inbox_agent(inbox, user).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("inbox"))
        }
    }

    pub async fn create_inbox(&self, role: Role, req: InboxRequest) -> AppResult<Inbox> {
        rules::require_admin(role)?;
        let fields = rules::inbox_fields(&req, None)?;
        let now = Timestamp::now();
        let row = self
            .store
            .create_inbox(&parley_store::ids::new_id(), fields, now)
            .await?;
        self.hours_changed.notify_one();
        Ok(rules::inbox_view(&row.id, &row.fields, row.created_at, now))
    }

    pub async fn update_inbox(&self, role: Role, id: &str, req: InboxRequest) -> AppResult<Inbox> {
        rules::require_admin(role)?;
        check_id(id, "inbox")?;
        let row = self.store.update_inbox(id, req).await?;
        self.hours_changed.notify_one();
        // Capacity raised, routing changed or the inbox opened: route.
        self.route(id).await;
        Ok(rules::inbox_view(
            &row.id,
            &row.fields,
            row.created_at,
            Timestamp::now(),
        ))
    }

    /// Any authenticated user: an inbox is a front door.
    pub async fn inbox(&self, id: &str) -> AppResult<Inbox> {
        check_id(id, "inbox")?;
        let row = self.store.inbox(id).await?;
        Ok(rules::inbox_view(
            &row.id,
            &row.fields,
            row.created_at,
            Timestamp::now(),
        ))
    }

    /// Admins: every inbox; agents: theirs; others: none.
    pub async fn inboxes(&self, user: &str, role: Role) -> AppResult<Vec<Inbox>> {
        let rows = match role {
            Role::Admin => self.store.inboxes(None).await?,
            Role::Agent => self.store.inboxes(Some(user)).await?,
            Role::User => {
                return Err(AppError::Forbidden(
                    "only agents and admins list inboxes".into(),
                ));
            }
        };
        let now = Timestamp::now();
        Ok(rows
            .iter()
            .map(|r| rules::inbox_view(&r.id, &r.fields, r.created_at, now))
            .collect())
    }

    pub async fn put_agent(
        &self,
        role: Role,
        inbox: &str,
        user: &str,
        req: PutAgentRequest,
    ) -> AppResult<InboxAgentMembership> {
        rules::require_admin(role)?;
        check_id(inbox, "inbox")?;
        check_id(user, "user")?;
        if let Some(n) = req.max_chats {
            rules::capacity("max_chats", n)?;
        }
        self.store
            .put_inbox_agent(inbox, user, req.max_chats)
            .await?;
        // Connected before they became an agent: no change was announced.
        let connected = !self
            .presence
            .connected_among(&[user.to_string()])
            .await
            .is_empty();
        self.record_connected(user, connected).await;
        self.route(inbox).await;
        Ok(InboxAgentMembership {
            user_id: user.to_string(),
            max_chats: req.max_chats,
        })
    }

    /// `parley admin add-agent`: the user by username or id.
    pub async fn add_agent_from_cli(
        &self,
        inbox: &str,
        user: &str,
        max_chats: Option<u32>,
    ) -> AppResult<String> {
        let found = match self.users.user_by_username(&user.to_lowercase()).await? {
            Some(u) => Some(u),
            None if input::id_like(user) => self.users.user_by_id(user).await?,
            None => None,
        };
        let id = found.ok_or(AppError::NotFound("user"))?.id;
        self.put_agent(Role::Admin, inbox, &id, PutAgentRequest { max_chats })
            .await?;
        Ok(id)
    }

    pub async fn remove_agent(&self, role: Role, inbox: &str, user: &str) -> AppResult<()> {
        rules::require_admin(role)?;
        check_id(inbox, "inbox")?;
        check_id(user, "user")?;
        self.store
            .remove_inbox_agent(inbox, user, Timestamp::now())
            .await?;
        self.route(inbox).await;
        // Their capacity elsewhere may have grown.
        self.route_for_agent(user).await;
        Ok(())
    }

    pub async fn agents(&self, user: &str, role: Role, inbox: &str) -> AppResult<Vec<InboxAgent>> {
        check_id(inbox, "inbox")?;
        self.store.inbox(inbox).await?;
        self.require_staff(inbox, user, role).await?;
        let rows = self.store.inbox_agents(inbox).await?;
        let ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
        let connected = self.presence.connected_among(&ids).await;
        Ok(rows
            .into_iter()
            .map(|r| InboxAgent {
                connected: connected.contains(&r.user_id),
                user_id: r.user_id,
                max_chats: r.max_chats,
                status: r.status,
                open_chats: r.open_chats,
            })
            .collect())
    }

    pub async fn status(&self, user: &str, role: Role) -> AppResult<AgentStatusView> {
        rules::require_agent_role(role)?;
        let (status, open_chats) = self.store.agent_status(user).await?;
        let connected = !self
            .presence
            .connected_among(&[user.to_string()])
            .await
            .is_empty();
        Ok(AgentStatusView {
            status,
            connected,
            open_chats,
        })
    }

    pub async fn set_status(
        &self,
        user: &str,
        role: Role,
        status: parley_protocol::support::AgentStatus,
    ) -> AppResult<AgentStatusView> {
        rules::require_agent_role(role)?;
        self.store.set_agent_status(user, status).await?;
        self.route_for_agent(user).await;
        self.status(user, role).await
    }

    /// `POST /inboxes/{id}/conversations`: the customer's open
    /// conversation there, or a new one (`true`).
    pub async fn open(
        &self,
        customer: &str,
        inbox: &str,
        req: OpenSupportRequest,
    ) -> AppResult<(Conversation, bool)> {
        check_id(inbox, "inbox")?;
        self.limiter.spend(Action::Send, customer).await?;
        let first = match req.text {
            Some(text) => {
                input::message_text(&text, self.max_chars)?;
                let client_id = match req.client_id {
                    Some(c) => {
                        input::client_id(&c)?;
                        Some(c)
                    }
                    None => None,
                };
                Some(NewMessage {
                    id: parley_store::ids::new_id(),
                    conversation_id: String::new(),
                    sender_id: customer.to_string(),
                    client_id,
                    kind: MessageKind::Text,
                    text: Some(text),
                    reply_to: None,
                    mentions: Vec::new(),
                    attachments: Vec::new(),
                    at: Timestamp::now(),
                })
            }
            None if req.client_id.is_some() => {
                return Err(AppError::invalid("text", "client_id goes with a text"));
            }
            None => None,
        };
        let (id, created) = self
            .store
            .open_support(
                &parley_store::ids::new_id(),
                inbox,
                customer,
                first,
                Timestamp::now(),
            )
            .await?;
        if created {
            self.route(inbox).await;
        }
        Ok((
            self.conversations.conversation(customer, &id).await?,
            created,
        ))
    }

    pub async fn claim(&self, user: &str, role: Role, conv: &str) -> AppResult<Conversation> {
        check_id(conv, "conversation")?;
        self.store
            .claim(conv, &Self::actor(user, role), Timestamp::now())
            .await?;
        self.after_change(conv).await;
        Ok(self.conversations.conversation(user, conv).await?)
    }

    pub async fn transfer(
        &self,
        user: &str,
        role: Role,
        conv: &str,
        agent_id: Option<String>,
        inbox_id: Option<String>,
    ) -> AppResult<Conversation> {
        check_id(conv, "conversation")?;
        let target = rules::transfer_target(agent_id.as_deref(), inbox_id.as_deref())?;
        let connected = match &target {
            TransferTarget::Agent(a) => {
                if !input::id_like(a) {
                    return Err(AppError::NotFoundIn("user", "agent_id"));
                }
                !self
                    .presence
                    .connected_among(std::slice::from_ref(a))
                    .await
                    .is_empty()
            }
            TransferTarget::Inbox(i) => {
                if !input::id_like(i) {
                    return Err(AppError::NotFoundIn("inbox", "inbox_id"));
                }
                false
            }
        };
        let before = self.store.support_row(conv).await?;
        self.store
            .transfer(
                conv,
                &Self::actor(user, role),
                target.clone(),
                connected,
                Timestamp::now(),
            )
            .await?;
        if let TransferTarget::Inbox(i) = &target {
            self.route(i).await;
        }
        if let Some(prev) = before.and_then(|b| b.assignee_id) {
            self.route_for_agent(&prev).await;
        }
        Ok(self.conversations.conversation(user, conv).await?)
    }

    pub async fn resolve(&self, user: &str, role: Role, conv: &str) -> AppResult<Conversation> {
        check_id(conv, "conversation")?;
        let before = self.store.support_row(conv).await?;
        self.store
            .resolve(conv, &Self::actor(user, role), Timestamp::now())
            .await?;
        // The assignee's capacity is free at once, in every inbox.
        if let Some(agent) = before.and_then(|b| b.assignee_id) {
            self.route_for_agent(&agent).await;
        }
        Ok(self.conversations.conversation(user, conv).await?)
    }

    /// `POST /conversations/{id}/support/notes`: a system message by an
    /// integration (API keys act as admins) or an admin. It changes no
    /// support state (a note does not reopen a resolved chat).
    pub async fn note(
        &self,
        user: &str,
        role: Role,
        conv: &str,
        req: SupportNoteRequest,
    ) -> AppResult<(Message, bool)> {
        rules::require_admin(role)?;
        self.limiter.spend(Action::Send, user).await?;
        check_id(conv, "conversation")?;
        input::client_id(&req.client_id)?;
        input::message_text(&req.text, self.max_chars)?;
        Ok(self
            .store
            .post_note(conv, user, &req.client_id, &req.text, Timestamp::now())
            .await?)
    }

    pub async fn reopen(&self, user: &str, role: Role, conv: &str) -> AppResult<Conversation> {
        check_id(conv, "conversation")?;
        let before = self.store.support_row(conv).await?;
        let assignee_connected = match before.as_ref().and_then(|b| b.assignee_id.clone()) {
            Some(a) => !self.presence.connected_among(&[a]).await.is_empty(),
            None => false,
        };
        self.store
            .reopen(
                conv,
                &Self::actor(user, role),
                assignee_connected,
                Timestamp::now(),
            )
            .await?;
        self.after_change(conv).await;
        Ok(self.conversations.conversation(user, conv).await?)
    }

    async fn after_change(&self, conv: &str) {
        let store = &self.store;
        if let Ok(Some(row)) = store.support_row(conv).await
            && row.state == SupportState::Queued
        {
            self.route(&row.inbox_id).await;
        }
    }

    /// `GET /inboxes/{id}/queue`.
    pub async fn queue(
        &self,
        user: &str,
        role: Role,
        inbox: &str,
        after: u32,
        limit: u32,
    ) -> AppResult<(Vec<Conversation>, Option<u32>)> {
        check_id(inbox, "inbox")?;
        self.store.inbox(inbox).await?;
        self.require_staff(inbox, user, role).await?;
        let mut ids = self.store.queue(inbox, after, limit + 1).await?;
        let more = ids.len() > limit as usize;
        ids.truncate(limit as usize);
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.push(self.conversations.conversation(user, id).await?);
        }
        Ok((out, more.then_some(after + limit)))
    }

    /// `GET /agents/me/conversations`.
    pub async fn mine(
        &self,
        user: &str,
        role: Role,
        state: SupportState,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> AppResult<(Vec<Conversation>, Option<(i64, String)>)> {
        rules::require_agent_role(role)?;
        if state == SupportState::Queued {
            return Err(AppError::invalid(
                "state",
                "state must be assigned or resolved",
            ));
        }
        let mut rows = self
            .store
            .agent_conversations(user, state, before, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more {
            rows.last().map(|(id, at)| (*at, id.clone()))
        } else {
            None
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, _) in &rows {
            out.push(self.conversations.conversation(user, id).await?);
        }
        Ok((out, next))
    }

    /// Routes one inbox. Routings of one inbox in this process run one at a
    /// time: a request that arrives while one runs only asks it to run once
    /// more (it will see the new chat), instead of queueing on the inbox's
    /// lock behind it, which under a burst of arrivals is what made the
    /// tail. The loop is a task of its own, so a caller that goes away (a
    /// dropped request) cannot leave the inbox marked as being routed.
    async fn route(&self, inbox: &str) {
        {
            let Ok(mut running) = self.routing.lock() else {
                return;
            };
            match running.get_mut(inbox) {
                Some(again) => {
                    *again = true;
                    return;
                }
                None => {
                    running.insert(inbox.to_string(), false);
                }
            }
        }
        let this = self.clone();
        let inbox = inbox.to_string();
        let task = tokio::spawn(async move {
            loop {
                this.route_once(&inbox).await;
                let Ok(mut running) = this.routing.lock() else {
                    return;
                };
                match running.get_mut(&inbox) {
                    Some(again) if *again => *again = false,
                    _ => {
                        running.remove(&inbox);
                        return;
                    }
                }
            }
        });
        let _ = task.await;
    }

    /// One routing step of an inbox with who is connected now. A failure
    /// is logged: the sweep routes again.
    async fn route_once(&self, inbox: &str) {
        let store = &self.store;
        let agents = match store.inbox_agents(inbox).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "routing: reading agents failed");
                return;
            }
        };
        let ids: Vec<String> = agents.into_iter().map(|a| a.user_id).collect();
        let connected = self.presence.connected_among(&ids).await;
        if let Err(e) = store.route(inbox, connected, Timestamp::now()).await {
            tracing::warn!(error = %e, inbox, "routing failed");
        }
    }

    async fn route_for_agent(&self, agent: &str) {
        let store = &self.store;
        if let Ok(inboxes) = store.agent_inboxes(agent).await {
            for inbox in inboxes {
                self.route(&inbox).await;
            }
        }
    }

    async fn route_all(&self) {
        let store = &self.store;
        if let Ok(inboxes) = store.inboxes(None).await {
            for inbox in inboxes {
                self.route(&inbox.id).await;
            }
        }
    }

    /// The agent's grace ran out: if they are still gone, their open
    /// chats go back to the front of their queues, which are routed.
    async fn grace_expired(&self, agent: &str) {
        let store = &self.store;
        if !self
            .presence
            .connected_among(&[agent.to_string()])
            .await
            .is_empty()
        {
            return;
        }
        match store
            .requeue_agent(agent, QueueReason::AgentGone, Timestamp::now())
            .await
        {
            Ok(inboxes) => {
                for inbox in inboxes {
                    self.route(&inbox).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "requeueing a gone agent failed"),
        }
    }

    /// The next instant any inbox opens (routing resumes then).
    async fn next_opening(&self) -> Option<Instant> {
        let store = &self.store;
        let now = Timestamp::now();
        let inboxes = store.inboxes(None).await.ok()?;
        let next = inboxes
            .iter()
            .filter_map(|i| i.fields.calendar()?.next_open(now))
            .min()?;
        let wait = Duration::from_millis((next.millis() - now.millis()).max(0) as u64);
        // Past the instant, so the calendar says open when routing asks.
        Some(Instant::now() + wait + Duration::from_millis(5))
    }

    /// The routing job: agents connecting and leaving, grace timers,
    /// inbox openings, and the safety-net sweep, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let store = self.store.clone();
        let mut connections = self.presence.watch_connections();
        let (reopened_tx, mut reopened) = tokio::sync::mpsc::unbounded_channel::<String>();
        store.on_reopened_by_send(Box::new(move |conv| {
            let _ = reopened_tx.send(conv.to_string());
        }));
        // Agents gone, by when their grace ends.
        let mut graces: BTreeMap<Instant, Vec<String>> = BTreeMap::new();
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        let far = || Instant::now() + Duration::from_secs(3600);
        let mut opening = self.next_opening().await.unwrap_or_else(far);
        loop {
            let next_grace = graces.keys().next().copied().unwrap_or_else(far);
            tokio::select! {
                _ = stop.cancelled() => return,
                change = connections.recv() => {
                    let Some((user, connected)) = change else { return };
                    if !self.is_agent(&user).await {
                        continue;
                    }
                    self.record_connected(&user, connected).await;
                    if connected {
                        self.route_for_agent(&user).await;
                    } else {
                        graces.entry(Instant::now() + self.grace).or_default().push(user);
                    }
                }
                conv = reopened.recv() => {
                    if let Some(conv) = conv {
                        self.after_change(&conv).await;
                    }
                }
                _ = tokio::time::sleep_until(next_grace), if !graces.is_empty() => {
                    if let Some((_, agents)) = graces.pop_first() {
                        for agent in agents {
                            self.grace_expired(&agent).await;
                        }
                    }
                }
                _ = tokio::time::sleep_until(opening) => {
                    self.route_all().await;
                    opening = self.next_opening().await.unwrap_or_else(far);
                }
                _ = self.hours_changed.notified() => {
                    opening = self.next_opening().await.unwrap_or_else(far);
                }
                _ = sweep.tick() => {
                    self.route_all().await;
                    self.sweep_gone_agents().await;
                }
            }
        }
    }

    async fn is_agent(&self, user: &str) -> bool {
        self.store
            .agent_inboxes(user)
            .await
            .is_ok_and(|i| !i.is_empty())
    }

    /// Keeps the stored connection flag that a reopen by message reads.
    async fn record_connected(&self, agent: &str, connected: bool) {
        let store = &self.store;
        if let Err(e) = store.set_agent_connected(agent, connected).await {
            tracing::warn!(error = %e, "recording an agent's connection failed");
        }
    }

    /// Agents holding chats, offline for longer than the grace (their
    /// timer was lost with a process): the same as a grace expiry.
    async fn sweep_gone_agents(&self) {
        let store = &self.store;
        let Ok(agents) = store.agents_with_open_chats().await else {
            return;
        };
        let connected = self.presence.connected_among(&agents).await;
        let cutoff = Timestamp::now().millis() - self.grace.as_millis() as i64;
        for agent in agents.iter().filter(|a| !connected.contains(a)) {
            // A flag left set by a process that died with the connection.
            self.record_connected(agent, false).await;
            let gone_since = self
                .users
                .user_by_id(agent)
                .await
                .ok()
                .flatten()
                .and_then(|u| u.last_seen_at);
            if gone_since.is_none_or(|t| t.millis() < cutoff) {
                self.grace_expired(agent).await;
            }
        }
    }
}
