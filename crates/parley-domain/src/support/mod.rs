//! Support inboxes (protocol.md §9): the business-hours calendar
//! ([`hours`]), the routing policy ([`routing`]) and the rules of inboxes,
//! claims, transfers, resolve and reopen, as functions from the facts a
//! backend read under its lock to what it applies.

pub mod hours;
pub mod routing;

use crate::NewEvent;
use crate::error::{DomainError, DomainResult};
use crate::input;
use hours::BusinessHours;
use parley_protocol::events::{
    EventData, QueueReason, SupportAssigned, SupportQueued, SupportReopened, SupportResolved,
    SupportTransferred,
};
use parley_protocol::support::{
    HoursInterval, Inbox, InboxRequest, Routing, SupportInfo, SupportState,
};
use parley_protocol::{Role, Timestamp};

/// What an inbox says when a customer arrives while it is closed and the
/// admin wrote nothing of their own.
pub const DEFAULT_OFFLINE_MESSAGE: &str =
    "We are away right now. Leave your message and we will answer when we are back.";
pub const DEFAULT_MAX_CHATS: u32 = 5;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_OFFLINE_CHARS: usize = 1000;
pub const MAX_CAPACITY: u32 = 1000;

/// An inbox's settings as stored (everything but its id and creation).
#[derive(Debug, Clone, PartialEq)]
pub struct InboxFields {
    pub name: String,
    pub timezone: String,
    pub hours: Option<Vec<HoursInterval>>,
    pub holidays: Vec<String>,
    pub offline_message: String,
    pub routing: Routing,
    pub max_chats_per_agent: u32,
}

impl InboxFields {
    /// The calendar of stored (already validated) fields; `None` if a
    /// stored value no longer validates (a zone dropped from the
    /// database), which reads as closed rather than failing every read.
    pub fn calendar(&self) -> Option<BusinessHours> {
        BusinessHours::new(&self.timezone, self.hours.as_deref(), &self.holidays).ok()
    }

    pub fn is_open(&self, now: Timestamp) -> bool {
        self.calendar().is_some_and(|c| c.is_open(now))
    }
}

/// Only admins create and edit inboxes.
pub fn require_admin(role: Role) -> DomainResult<()> {
    match role {
        Role::Admin => Ok(()),
        _ => Err(DomainError::Forbidden("only an admin can manage inboxes")),
    }
}

/// Agents' own endpoints (`/agents/me/...`): roles agent and admin.
pub fn require_agent_role(role: Role) -> DomainResult<()> {
    match role {
        Role::Agent | Role::Admin => Ok(()),
        _ => Err(DomainError::Forbidden(
            "only agents and admins work inboxes",
        )),
    }
}

/// `POST /inboxes` (`base` None) or `PATCH /inboxes/{id}` (`base` the
/// stored fields): the fields to store, or the first invalid one.
pub fn inbox_fields(req: &InboxRequest, base: Option<&InboxFields>) -> DomainResult<InboxFields> {
    let name = match (&req.name, base) {
        (Some(n), _) => input::label("name", n, MAX_NAME_CHARS)?,
        (None, Some(b)) => b.name.clone(),
        (None, None) => return Err(DomainError::invalid("name", "name is required")),
    };
    let timezone = match (&req.timezone, base) {
        (Some(t), _) => t.clone(),
        (None, Some(b)) => b.timezone.clone(),
        (None, None) => return Err(DomainError::invalid("timezone", "timezone is required")),
    };
    let hours = match (&req.hours, base) {
        (Some(h), _) => h.clone(),
        (None, Some(b)) => b.hours.clone(),
        (None, None) => None,
    };
    let holidays = match (&req.holidays, base) {
        (Some(h), _) => h.clone(),
        (None, Some(b)) => b.holidays.clone(),
        (None, None) => Vec::new(),
    };
    // The calendar validates the zone, the intervals and the dates.
    BusinessHours::new(&timezone, hours.as_deref(), &holidays)?;
    let offline_message = match (&req.offline_message, base) {
        (Some(m), _) => {
            let t = input::free_text("offline_message", m.trim(), MAX_OFFLINE_CHARS)?;
            if t.is_empty() {
                return Err(DomainError::invalid(
                    "offline_message",
                    "offline_message must be 1-1000 characters",
                ));
            }
            t
        }
        (None, Some(b)) => b.offline_message.clone(),
        (None, None) => DEFAULT_OFFLINE_MESSAGE.to_string(),
    };
    let routing = req.routing.or(base.map(|b| b.routing)).unwrap_or_default();
    let max_chats_per_agent = match (req.max_chats_per_agent, base) {
        (Some(n), _) => capacity("max_chats_per_agent", n)?,
        (None, Some(b)) => b.max_chats_per_agent,
        (None, None) => DEFAULT_MAX_CHATS,
    };
    Ok(InboxFields {
        name,
        timezone,
        hours,
        holidays,
        offline_message,
        routing,
        max_chats_per_agent,
    })
}

/// A capacity (1-1000) for `field`.
pub fn capacity(field: &'static str, n: u32) -> DomainResult<u32> {
    if (1..=MAX_CAPACITY).contains(&n) {
        Ok(n)
    } else {
        Err(DomainError::invalid(
            field,
            format!("{field} must be 1-1000"),
        ))
    }
}

/// An agent of an inbox must hold the role for it.
pub fn require_agent_user(role: Role) -> DomainResult<()> {
    match role {
        Role::Agent | Role::Admin => Ok(()),
        _ => Err(DomainError::invalid(
            "user_id",
            "only users with role agent or admin can be agents of an inbox",
        )),
    }
}

/// The inbox as read at `now`: `open_now` and `next_open_at` computed.
pub fn inbox_view(id: &str, f: &InboxFields, created_at: i64, now: Timestamp) -> Inbox {
    let calendar = f.calendar();
    let open_now = calendar.as_ref().is_some_and(|c| c.is_open(now));
    Inbox {
        id: id.to_string(),
        name: f.name.clone(),
        timezone: f.timezone.clone(),
        hours: f.hours.clone(),
        holidays: f.holidays.clone(),
        offline_message: f.offline_message.clone(),
        routing: f.routing,
        max_chats_per_agent: f.max_chats_per_agent,
        created_at: Timestamp(created_at),
        open_now,
        next_open_at: match (&calendar, open_now) {
            (Some(c), false) => c.next_open(now),
            _ => None,
        },
    }
}

/// A support conversation's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportRow {
    pub conversation_id: String,
    pub inbox_id: String,
    pub customer_id: String,
    pub state: SupportState,
    pub assignee_id: Option<String>,
    pub queued_at: Option<i64>,
    pub assigned_at: Option<i64>,
    pub resolved_at: Option<i64>,
}

impl SupportRow {
    /// The wire `support` block, with the queue position when queued.
    pub fn to_wire(&self, position: Option<u32>) -> SupportInfo {
        SupportInfo {
            inbox_id: self.inbox_id.clone(),
            customer_id: self.customer_id.clone(),
            state: self.state,
            assignee_id: self.assignee_id.clone(),
            queued_at: self.queued_at.map(Timestamp),
            assigned_at: self.assigned_at.map(Timestamp),
            resolved_at: self.resolved_at.map(Timestamp),
            position: if self.state == SupportState::Queued {
                position
            } else {
                None
            },
        }
    }
}

/// Who the caller is to a support conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub is_customer: bool,
    pub is_assignee: bool,
    /// An agent of the conversation's inbox.
    pub is_inbox_agent: bool,
    pub is_admin: bool,
}

impl Standing {
    /// The customer, the assignee, the inbox's agents and admins may read
    /// it; anyone else gets `not_found`.
    pub fn may_read(&self) -> bool {
        self.is_customer || self.is_assignee || self.is_inbox_agent || self.is_admin
    }

    fn require_read(&self) -> DomainResult<()> {
        if self.may_read() {
            Ok(())
        } else {
            Err(DomainError::NotFound("conversation"))
        }
    }
}

/// `claim`: an agent of the inbox, below capacity, takes a queued chat.
pub fn check_claim(s: &Standing, row: &SupportRow, below_capacity: bool) -> DomainResult<()> {
    if !s.is_inbox_agent {
        return Err(if s.is_customer {
            DomainError::Forbidden("only an agent of the inbox can claim a conversation")
        } else {
            // Admins who are not agents of the inbox cannot hold its chats.
            DomainError::NotFound("conversation")
        });
    }
    if row.state != SupportState::Queued {
        return Err(DomainError::Conflict(
            "the conversation is not in the queue",
        ));
    }
    if !below_capacity {
        return Err(DomainError::Conflict("you are at your capacity"));
    }
    Ok(())
}

/// Where a transfer sends a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    Agent(String),
    Inbox(String),
}

/// The body of a transfer: exactly one of `agent_id`, `inbox_id`.
pub fn transfer_target(
    agent_id: Option<&str>,
    inbox_id: Option<&str>,
) -> DomainResult<TransferTarget> {
    match (agent_id, inbox_id) {
        (Some(a), None) => Ok(TransferTarget::Agent(a.to_string())),
        (None, Some(i)) => Ok(TransferTarget::Inbox(i.to_string())),
        _ => Err(DomainError::invalid(
            "agent_id",
            "give exactly one of agent_id and inbox_id",
        )),
    }
}

/// `transfer`: the assignee or an admin, of a conversation not resolved.
pub fn check_transfer(s: &Standing, row: &SupportRow) -> DomainResult<()> {
    s.require_read()?;
    if !s.is_assignee && !s.is_admin {
        return Err(DomainError::Forbidden(
            "only the assignee or an admin can transfer a conversation",
        ));
    }
    if row.state == SupportState::Resolved {
        return Err(DomainError::Conflict("the conversation is resolved"));
    }
    Ok(())
}

/// A transfer to an agent needs them assignable for the inbox.
pub const TARGET_NOT_ASSIGNABLE: DomainError =
    DomainError::Conflict("that agent cannot take the conversation now");

/// A transfer into an inbox where the customer already has an open
/// conversation (the one-open index refused it).
pub const CUSTOMER_OPEN_THERE: DomainError =
    DomainError::Conflict("the customer already has an open conversation with that inbox");

/// A transfer to `agent`: someone other than the assignee, an agent of the
/// inbox (`facts`, as routing read them) and assignable now.
pub fn check_transfer_to_agent(
    previous: Option<&str>,
    agent: &str,
    facts: Option<&routing::AgentFacts>,
) -> DomainResult<()> {
    match facts {
        Some(f) if previous != Some(agent) && f.assignable() => Ok(()),
        _ => Err(TARGET_NOT_ASSIGNABLE),
    }
}

/// `resolve`: an agent of the inbox (or its assignee) or an admin.
pub fn check_resolve(s: &Standing, row: &SupportRow) -> DomainResult<()> {
    s.require_read()?;
    if !s.is_inbox_agent && !s.is_assignee && !s.is_admin {
        return Err(DomainError::Forbidden(
            "only an agent of the inbox can resolve a conversation",
        ));
    }
    if row.state == SupportState::Resolved {
        return Err(DomainError::Conflict(
            "the conversation is already resolved",
        ));
    }
    Ok(())
}

/// `reopen`: the customer, the inbox's agents, admins; only a resolved
/// conversation, and not while the customer has another open one there.
pub fn check_reopen(s: &Standing, row: &SupportRow, other_open: Option<&str>) -> DomainResult<()> {
    s.require_read()?;
    if row.state != SupportState::Resolved {
        return Err(DomainError::Conflict("the conversation is not resolved"));
    }
    if other_open.is_some() {
        return Err(ANOTHER_OPEN);
    }
    Ok(())
}

/// Reopening while another conversation in the inbox is open.
pub const ANOTHER_OPEN: DomainError =
    DomainError::Conflict("there is already an open conversation with this inbox");

/// Sending in a support conversation: the customer and the assignee only.
pub fn check_send(s: &Standing) -> DomainResult<()> {
    s.require_read()?;
    if s.is_customer || s.is_assignee {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only the customer and the assigned agent can write here",
        ))
    }
}

pub fn queued(actor: Option<&str>, inbox_id: &str, reason: QueueReason) -> NewEvent {
    NewEvent {
        actor_id: actor.map(str::to_string),
        data: EventData::SupportQueued(SupportQueued {
            inbox_id: inbox_id.to_string(),
            reason,
        }),
    }
}

pub fn assigned(actor: Option<&str>, agent_id: &str) -> NewEvent {
    NewEvent {
        actor_id: actor.map(str::to_string),
        data: EventData::SupportAssigned(SupportAssigned {
            agent_id: agent_id.to_string(),
        }),
    }
}

pub fn transferred(
    actor: &str,
    from_agent: Option<&str>,
    from_inbox: &str,
    target: &TransferTarget,
) -> NewEvent {
    let (to_agent_id, to_inbox_id) = match target {
        TransferTarget::Agent(a) => (Some(a.clone()), None),
        TransferTarget::Inbox(i) => (None, Some(i.clone())),
    };
    NewEvent::by(
        actor,
        EventData::SupportTransferred(SupportTransferred {
            from_agent_id: from_agent.map(str::to_string),
            from_inbox_id: to_inbox_id.as_ref().map(|_| from_inbox.to_string()),
            to_agent_id,
            to_inbox_id,
        }),
    )
}

pub fn resolved(actor: &str, agent: Option<&str>) -> NewEvent {
    NewEvent::by(
        actor,
        EventData::SupportResolved(SupportResolved {
            agent_id: agent.map(str::to_string),
        }),
    )
}

pub fn reopened(actor: &str) -> NewEvent {
    NewEvent::by(actor, EventData::SupportReopened(SupportReopened {}))
}

/// The system message posted on assignment: its text and its report.
pub fn assigned_notice(agent_id: &str, agent_name: &str) -> (String, serde_json::Value) {
    (
        format!("{agent_name} joined the conversation"),
        serde_json::json!({"type": "support.assigned", "agent_id": agent_id}),
    )
}

/// The report of a system message an integration (an API key) or an
/// admin posts into a support conversation.
pub fn integration_note(author_id: &str) -> serde_json::Value {
    serde_json::json!({"type": "support.note", "author_id": author_id})
}

/// The system message posted when a conversation enters a closed inbox's
/// queue.
pub fn offline_notice(
    offline_message: &str,
    next_open_at: Option<Timestamp>,
) -> (String, serde_json::Value) {
    (
        offline_message.to_string(),
        serde_json::json!({"type": "support.offline", "next_open_at": next_open_at}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(customer: bool, assignee: bool, agent: bool, admin: bool) -> Standing {
        Standing {
            is_customer: customer,
            is_assignee: assignee,
            is_inbox_agent: agent,
            is_admin: admin,
        }
    }

    fn row(state: SupportState) -> SupportRow {
        SupportRow {
            conversation_id: "c".into(),
            inbox_id: "i".into(),
            customer_id: "cu".into(),
            state,
            assignee_id: None,
            queued_at: Some(1),
            assigned_at: None,
            resolved_at: None,
        }
    }

    #[test]
    fn claims() {
        let q = row(SupportState::Queued);
        assert!(check_claim(&standing(false, false, true, false), &q, true).is_ok());
        assert!(matches!(
            check_claim(&standing(false, false, true, false), &q, false),
            Err(DomainError::Conflict(_))
        ));
        assert!(matches!(
            check_claim(&standing(true, false, false, false), &q, true),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            check_claim(&standing(false, false, false, false), &q, true),
            Err(DomainError::NotFound(_))
        ));
        assert!(matches!(
            check_claim(
                &standing(false, false, true, false),
                &row(SupportState::Assigned),
                true
            ),
            Err(DomainError::Conflict(_))
        ));
    }

    #[test]
    fn transfers_and_resolves() {
        let a = row(SupportState::Assigned);
        assert!(check_transfer(&standing(false, true, true, false), &a).is_ok());
        assert!(check_transfer(&standing(false, false, false, true), &a).is_ok());
        assert!(matches!(
            check_transfer(&standing(false, false, true, false), &a),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            check_transfer(&standing(true, false, false, false), &a),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            check_transfer(&standing(false, false, false, false), &a),
            Err(DomainError::NotFound(_))
        ));
        assert!(matches!(
            check_resolve(&standing(true, false, false, false), &a),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            check_resolve(
                &standing(false, false, true, false),
                &row(SupportState::Resolved)
            ),
            Err(DomainError::Conflict(_))
        ));
        assert!(transfer_target(Some("a"), Some("b")).is_err());
        assert!(transfer_target(None, None).is_err());
    }

    #[test]
    fn reopens_and_sends() {
        let r = row(SupportState::Resolved);
        assert!(check_reopen(&standing(true, false, false, false), &r, None).is_ok());
        assert_eq!(
            check_reopen(&standing(true, false, false, false), &r, Some("x")),
            Err(ANOTHER_OPEN)
        );
        assert!(matches!(
            check_reopen(
                &standing(true, false, false, false),
                &row(SupportState::Queued),
                None
            ),
            Err(DomainError::Conflict(_))
        ));
        assert!(check_send(&standing(true, false, false, false)).is_ok());
        assert!(matches!(
            check_send(&standing(false, false, true, false)),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn inbox_fields_validate_and_default() {
        let req = InboxRequest {
            name: Some("  Billing ".into()),
            timezone: Some("Europe/Paris".into()),
            ..Default::default()
        };
        let f = inbox_fields(&req, None).expect("valid");
        assert_eq!(f.name, "Billing");
        assert_eq!(f.routing, Routing::LeastBusy);
        assert_eq!(f.max_chats_per_agent, 5);
        assert_eq!(f.hours, None);
        let bad = InboxRequest {
            max_chats_per_agent: Some(0),
            ..req.clone()
        };
        assert!(
            matches!(inbox_fields(&bad, None), Err(DomainError::Invalid { field, .. }) if field == "max_chats_per_agent")
        );
        let no_name = InboxRequest {
            name: None,
            ..req.clone()
        };
        assert!(
            matches!(inbox_fields(&no_name, None), Err(DomainError::Invalid { field, .. }) if field == "name")
        );
        let patch = InboxRequest {
            routing: Some(Routing::Manual),
            ..Default::default()
        };
        let patched = inbox_fields(&patch, Some(&f)).expect("patch");
        assert_eq!(patched.routing, Routing::Manual);
        assert_eq!(patched.name, "Billing");
    }
}
