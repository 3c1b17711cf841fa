//! Support inboxes (protocol.md §9): inboxes, their hours and agents, the
//! `support` block of a support conversation, and the support actions'
//! bodies. The support events themselves are variants of
//! [`crate::events::EventData`].

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One interval of an inbox's week, in its zone's wall-clock time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursInterval {
    /// `mon` .. `sun`.
    pub day: String,
    /// `HH:MM`, 24-hour.
    pub open: String,
    /// `HH:MM` or `24:00`; earlier than `open` ends on the next day.
    pub close: String,
}

/// How an inbox hands its queue to agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Routing {
    #[default]
    LeastBusy,
    RoundRobin,
    Manual,
}

impl Routing {
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::LeastBusy => "least_busy",
            Routing::RoundRobin => "round_robin",
            Routing::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Routing> {
        match s {
            "least_busy" => Some(Routing::LeastBusy),
            "round_robin" => Some(Routing::RoundRobin),
            "manual" => Some(Routing::Manual),
            _ => None,
        }
    }
}

/// An inbox as every reader sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Inbox {
    pub id: String,
    pub name: String,
    pub timezone: String,
    /// `null`: always open; `[]`: never open.
    pub hours: Option<Vec<HoursInterval>>,
    pub holidays: Vec<String>,
    pub offline_message: String,
    pub routing: Routing,
    pub max_chats_per_agent: u32,
    pub created_at: Timestamp,
    pub open_now: bool,
    pub next_open_at: Option<Timestamp>,
}

/// `POST /inboxes` and `PATCH /inboxes/{id}`: every field optional for a
/// PATCH; `name` and `timezone` required for a create. `hours: null`
/// (always open) differs from an absent `hours` in a PATCH (unchanged).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboxRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Vec<HoursInterval>>)]
    pub hours: Option<Option<Vec<HoursInterval>>>,
    #[serde(default)]
    pub holidays: Option<Vec<String>>,
    #[serde(default)]
    pub offline_message: Option<String>,
    #[serde(default)]
    pub routing: Option<Routing>,
    #[serde(default)]
    pub max_chats_per_agent: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboxList {
    pub inboxes: Vec<Inbox>,
}

/// `PUT /inboxes/{id}/agents/{user_id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutAgentRequest {
    /// `null` or absent: the inbox's `max_chats_per_agent`.
    #[serde(default)]
    pub max_chats: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InboxAgentMembership {
    pub user_id: String,
    pub max_chats: Option<u32>,
}

/// An agent's availability, for every inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    #[default]
    Available,
    Away,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Away => "away",
        }
    }

    pub fn parse(s: &str) -> Option<AgentStatus> {
        match s {
            "available" => Some(AgentStatus::Available),
            "away" => Some(AgentStatus::Away),
            _ => None,
        }
    }
}

/// One row of `GET /inboxes/{id}/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InboxAgent {
    pub user_id: String,
    pub max_chats: Option<u32>,
    pub status: AgentStatus,
    pub connected: bool,
    pub open_chats: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboxAgentList {
    pub agents: Vec<InboxAgent>,
}

/// `PUT /agents/me/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAgentStatusRequest {
    pub status: AgentStatus,
}

/// `GET` and `PUT /agents/me/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentStatusView {
    pub status: AgentStatus,
    pub connected: bool,
    pub open_chats: u32,
}

/// `POST /inboxes/{id}/conversations`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenSupportRequest {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
}

/// `POST /conversations/{id}/support/transfer`: exactly one of the two.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub inbox_id: Option<String>,
}

/// `POST /conversations/{id}/support/notes`: a system message posted by an
/// integration (an API key) or an admin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupportNoteRequest {
    /// 1-128 printable ASCII characters: a retry with the same value posts
    /// nothing new.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub client_id: String,
    /// At least one visible character, at most `limits.message_chars`.
    #[schema(min_length = 1)]
    pub text: String,
}

/// Where a support conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupportState {
    Queued,
    Assigned,
    Resolved,
}

impl SupportState {
    pub fn as_str(self) -> &'static str {
        match self {
            SupportState::Queued => "queued",
            SupportState::Assigned => "assigned",
            SupportState::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<SupportState> {
        match s {
            "queued" => Some(SupportState::Queued),
            "assigned" => Some(SupportState::Assigned),
            "resolved" => Some(SupportState::Resolved),
            _ => None,
        }
    }
}

/// The `support` field of a conversation of kind `support`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SupportInfo {
    pub inbox_id: String,
    pub customer_id: String,
    pub state: SupportState,
    pub assignee_id: Option<String>,
    pub queued_at: Option<Timestamp>,
    pub assigned_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    /// 1-based place in the queue while queued.
    pub position: Option<u32>,
}
