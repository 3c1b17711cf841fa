//! Support inboxes on SQLite. Every decision runs on the single writer,
//! so a routing step, a claim, a transfer and their capacity checks see
//! and change the same state in one transaction; one open conversation per
//! customer and inbox is the partial unique index `support_one_open`.

use crate::rows::{self, db_err, is_unique_violation};
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::conversations::NewConversation;
use parley_domain::support::routing::{self, AgentFacts};
use parley_domain::support::{self as rules, InboxFields, Standing, SupportRow, TransferTarget};
use parley_domain::{DomainError, NewEvent};
use parley_protocol::events::{ConversationCreated, EventData, MessageCreated, QueueReason};
use parley_protocol::support::{AgentStatus, InboxRequest, Routing, SupportInfo, SupportState};
use parley_protocol::{
    ConversationKind, Event, MemberRole, MessageKind, Role, ServerFrame, Timestamp,
};
use parley_store::support::{Actor, InboxAgentRow, InboxRow};
use parley_store::{Delivery, NewMessage, StoreError, StoreResult, SupportStore};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashSet;
use std::sync::Arc;

pub(crate) type ReopenHook = Box<dyn Fn(&str) + Send + Sync>;

/// Who sends the server's own messages in a support conversation.
pub const SYSTEM_SENDER: &str = "system";

const INBOX_COLS: &str = "id, name, timezone, hours, holidays, offline_message, routing, \
     max_chats_per_agent, created_at";

const SUPPORT_COLS: &str = "conversation_id, inbox_id, customer_id, state, assignee_id, \
     queued_at, assigned_at, resolved_at";

fn corrupt(i: usize, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.to_string().into())
}

fn inbox_row(r: &Row<'_>) -> rusqlite::Result<InboxRow> {
    let hours: Option<String> = r.get(3)?;
    let holidays: String = r.get(4)?;
    Ok(InboxRow {
        id: r.get(0)?,
        fields: InboxFields {
            name: r.get(1)?,
            timezone: r.get(2)?,
            hours: hours
                .map(|h| serde_json::from_str(&h))
                .transpose()
                .map_err(|e| corrupt(3, e))?,
            holidays: serde_json::from_str(&holidays).map_err(|e| corrupt(4, e))?,
            offline_message: r.get(5)?,
            routing: rows::parsed(r, 6, "routing", Routing::parse)?,
            max_chats_per_agent: r.get(7)?,
        },
        created_at: r.get(8)?,
    })
}

fn support_row(r: &Row<'_>) -> rusqlite::Result<SupportRow> {
    Ok(SupportRow {
        conversation_id: r.get(0)?,
        inbox_id: r.get(1)?,
        customer_id: r.get(2)?,
        state: rows::parsed(r, 3, "support state", SupportState::parse)?,
        assignee_id: r.get(4)?,
        queued_at: r.get(5)?,
        assigned_at: r.get(6)?,
        resolved_at: r.get(7)?,
    })
}

fn json(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

pub(crate) fn load_inbox(conn: &Connection, id: &str) -> StoreResult<Option<InboxRow>> {
    conn.prepare_cached(&format!("SELECT {INBOX_COLS} FROM inboxes WHERE id = ?1"))
        .map_err(db_err)?
        .query_row([id], inbox_row)
        .optional()
        .map_err(db_err)
}

fn require_inbox(conn: &Connection, id: &str) -> StoreResult<InboxRow> {
    load_inbox(conn, id)?.ok_or_else(|| StoreError::not_found("inbox"))
}

pub(crate) fn load_support(conn: &Connection, conv: &str) -> StoreResult<Option<SupportRow>> {
    conn.prepare_cached(&format!(
        "SELECT {SUPPORT_COLS} FROM support_conversations WHERE conversation_id = ?1"
    ))
    .map_err(db_err)?
    .query_row([conv], support_row)
    .optional()
    .map_err(db_err)
}

fn is_agent_of(conn: &Connection, inbox: &str, user: &str) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM inbox_agents WHERE inbox_id = ?1 AND user_id = ?2)",
    )
    .map_err(db_err)?
    .query_row(params![inbox, user], |r| r.get(0))
    .map_err(db_err)
}

fn user_role(conn: &Connection, user: &str) -> StoreResult<Option<Role>> {
    Ok(rows::user_by_id(conn, user)?.map(|u| u.role))
}

/// Who `user` is to the support conversation `row`.
fn standing(
    conn: &Connection,
    row: &SupportRow,
    user: &str,
    is_admin: bool,
) -> StoreResult<Standing> {
    Ok(Standing {
        is_customer: row.customer_id == user,
        is_assignee: row.state != SupportState::Resolved
            && row.assignee_id.as_deref() == Some(user),
        is_inbox_agent: is_agent_of(conn, &row.inbox_id, user)?,
        is_admin,
    })
}

/// The support conversation `conv`, as a reader of it: `not_found` for
/// anyone else (and for ids that are no support conversation).
fn require_support(
    conn: &Connection,
    conv: &str,
    actor: &Actor,
) -> StoreResult<(SupportRow, Standing)> {
    let row = load_support(conn, conv)?.ok_or_else(|| StoreError::not_found("conversation"))?;
    let s = standing(conn, &row, &actor.user_id, actor.is_admin)?;
    if !s.may_read() {
        return Err(StoreError::not_found("conversation"));
    }
    Ok((row, s))
}

/// A reader who is not a member (an agent of the inbox, an admin): they
/// see the whole log, as members of a support conversation do.
pub(crate) fn support_reader(
    conn: &Connection,
    conv: &str,
    viewer: &str,
) -> StoreResult<Option<parley_domain::conversations::MemberInfo>> {
    let Some(row) = load_support(conn, conv)? else {
        return Ok(None);
    };
    let is_admin = user_role(conn, viewer)? == Some(Role::Admin);
    let s = standing(conn, &row, viewer, is_admin)?;
    Ok(s.may_read()
        .then_some(parley_domain::conversations::MemberInfo {
            role: MemberRole::Member,
            joined_seq: 1,
            read_seq: 0,
            delivered_seq: 0,
            muted_until: None,
        }))
}

/// Who may write in a support conversation: the customer and the
/// current assignee; other readers (agents of the inbox, admins, the last
/// assignee of a resolved chat) `forbidden`, anyone else `not_found`, per
/// `parley_domain::support::check_send`.
pub(crate) fn check_support_send(conn: &Connection, conv: &str, sender: &str) -> StoreResult<()> {
    let Some(row) = load_support(conn, conv)? else {
        return Ok(());
    };
    let is_admin = user_role(conn, sender)? == Some(Role::Admin);
    rules::check_send(&standing(conn, &row, sender, is_admin)?)?;
    Ok(())
}

/// The `support` block of a conversation's view.
pub(crate) fn support_info(conn: &Connection, conv: &str) -> StoreResult<Option<SupportInfo>> {
    let Some(row) = load_support(conn, conv)? else {
        return Ok(None);
    };
    let position = if row.state == SupportState::Queued {
        position_of(conn, &row.inbox_id, conv)?
    } else {
        None
    };
    Ok(Some(row.to_wire(position)))
}

fn position_of(conn: &Connection, inbox: &str, conv: &str) -> StoreResult<Option<u32>> {
    conn.prepare_cached(
        "SELECT 1 + (SELECT count(*) FROM support_conversations o
                     WHERE o.inbox_id = s.inbox_id AND o.state = 'queued'
                       AND (o.queue_front > s.queue_front
                            OR (o.queue_front = s.queue_front AND (o.queue_rank < s.queue_rank
                                OR (o.queue_rank = s.queue_rank AND o.conversation_id < s.conversation_id)))))
         FROM support_conversations s WHERE s.conversation_id = ?2 AND s.inbox_id = ?1 AND s.state = 'queued'",
    )
    .map_err(db_err)?
    .query_row(params![inbox, conv], |r| r.get(0))
    .optional()
    .map_err(db_err)
}

/// The queue of an inbox in order: (conversation, customer).
fn queue_snapshot(conn: &Connection, inbox: &str) -> StoreResult<Vec<(String, String)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT conversation_id, customer_id FROM support_conversations
             WHERE inbox_id = ?1 AND state = 'queued'
             ORDER BY queue_front DESC, queue_rank, conversation_id",
        )
        .map_err(db_err)?;
    stmt.query_map([inbox], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)
}

/// `support.queue` to each customer whose place changed between two
/// snapshots of the same queue.
fn queue_moves(
    before: &[(String, String)],
    after: &[(String, String)],
    out: &mut Vec<Delivery>,
) -> StoreResult<()> {
    for (i, (conv, customer)) in after.iter().enumerate() {
        let was = before.iter().position(|(c, _)| c == conv);
        if was == Some(i) {
            continue;
        }
        let frame = serde_json::to_vec(&ServerFrame::SupportQueue {
            conversation_id: conv.clone(),
            position: (i + 1) as u32,
        })
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        out.push(Delivery::Ephemeral {
            recipients: Arc::from(vec![customer.clone()]),
            frame: frame.into(),
        });
    }
    Ok(())
}

fn open_chats(conn: &Connection, agent: &str) -> StoreResult<u32> {
    conn.prepare_cached(
        "SELECT count(*) FROM support_conversations WHERE assignee_id = ?1 AND state = 'assigned'",
    )
    .map_err(db_err)?
    .query_row([agent], |r| r.get(0))
    .map_err(db_err)
}

fn agent_status_of(conn: &Connection, agent: &str) -> StoreResult<AgentStatus> {
    let s: Option<String> = conn
        .prepare_cached("SELECT status FROM agent_states WHERE user_id = ?1")
        .map_err(db_err)?
        .query_row([agent], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    Ok(s.and_then(|s| AgentStatus::parse(&s)).unwrap_or_default())
}

/// The connection flag `set_agent_connected` keeps.
fn stored_connected(conn: &Connection, agent: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("SELECT connected FROM agent_states WHERE user_id = ?1")
        .map_err(db_err)?
        .query_row([agent], |r| r.get::<_, bool>(0))
        .optional()
        .map_err(db_err)?
        .unwrap_or(false))
}

/// The inbox's agents as routing sees them, in the order they were added.
fn agent_facts(
    conn: &Connection,
    inbox: &InboxRow,
    connected: &HashSet<String>,
) -> StoreResult<Vec<AgentFacts>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.user_id, a.max_chats, s.status, s.last_assigned_at, s.last_assigned_n,
                    (SELECT count(*) FROM support_conversations c WHERE c.assignee_id = a.user_id AND c.state = 'assigned')
             FROM inbox_agents a LEFT JOIN agent_states s ON s.user_id = a.user_id
             WHERE a.inbox_id = ?1 ORDER BY a.position",
        )
        .map_err(db_err)?;
    let default_cap = inbox.fields.max_chats_per_agent;
    stmt.query_map([&inbox.id], |r| {
        let user_id: String = r.get(0)?;
        let status: Option<String> = r.get(2)?;
        let at: Option<i64> = r.get(3)?;
        let n: Option<i64> = r.get(4)?;
        Ok(AgentFacts {
            connected: connected.contains(&user_id),
            user_id,
            capacity: r.get::<_, Option<u32>>(1)?.unwrap_or(default_cap),
            status: status
                .and_then(|s| AgentStatus::parse(&s))
                .unwrap_or_default(),
            last_assigned: at.map(|t| (t, n.unwrap_or(0))),
            open_chats: r.get(5)?,
        })
    })
    .map_err(db_err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_err)
}

impl WriterState {
    /// A `system` message in a support conversation: the server's own
    /// (`sender` [`SYSTEM_SENDER`], no `client_id`) or an integration's.
    #[allow(clippy::too_many_arguments)]
    fn post_system(
        &mut self,
        conv: &str,
        sender: &str,
        client_id: Option<&str>,
        text: String,
        system: serde_json::Value,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<parley_domain::messages::MessageRow> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_seq = last_seq + 1, last_activity_at = ?2
                 WHERE id = ?1 RETURNING last_seq",
            )
            .map_err(db_err)?
            .query_row(params![conv, at.millis()], |r| r.get(0))
            .map_err(db_err)?;
        let row = parley_domain::messages::MessageRow {
            id: parley_store::ids::new_id(),
            conversation_id: conv.to_string(),
            seq: seq as u64,
            sender_id: sender.to_string(),
            client_id: client_id.map(str::to_string),
            kind: MessageKind::System,
            text: Some(text),
            attachments: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            created_at: at.millis(),
            edited_at: None,
            deleted: false,
            system: Some(system),
        };
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, attachments, reply_to, mentions, created_at, system)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'system', ?6, '[]', NULL, '[]', ?7, ?8)",
            )
            .map_err(db_err)?
            .execute(params![
                row.id,
                conv,
                seq,
                sender,
                client_id,
                row.text,
                at.millis(),
                json(&row.system)?
            ])
            .map_err(db_err)?;
        crate::client_keys::record(&self.conn, conv, sender, client_id)?;
        self.store_event(
            Event {
                conversation_id: conv.to_string(),
                seq: seq as u64,
                actor_id: (sender != SYSTEM_SENDER).then(|| sender.to_string()),
                at,
                data: EventData::MessageCreated(MessageCreated {
                    message: row.to_wire(),
                }),
            },
            out,
        )?;
        Ok(row)
    }

    /// Puts a conversation in `inbox`'s queue (at the back, or at the
    /// front for a chat an agent's departure returns), writes
    /// `support.queued` and, if the inbox is closed, the offline notice.
    fn enqueue(
        &mut self,
        conv: &str,
        inbox: &InboxRow,
        reason: QueueReason,
        actor: Option<&str>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let front = matches!(reason, QueueReason::AgentGone | QueueReason::AgentRemoved);
        self.conn
            .prepare_cached(
                "UPDATE support_conversations SET state = 'queued', inbox_id = ?2, queued_at = ?3,
                   assigned_at = NULL, resolved_at = NULL,
                   queue_front = ?4, queue_rank = CASE WHEN ?4 = 1 THEN queue_rank ELSE ?3 END
                 WHERE conversation_id = ?1",
            )
            .map_err(db_err)?
            .execute(params![conv, inbox.id, at.millis(), front as i64])
            .map_err(db_err)?;
        self.append_event(conv, at, rules::queued(actor, &inbox.id, reason), out)?;
        // Closed (or a calendar that no longer reads, as closed): the notice.
        match inbox.fields.calendar() {
            Some(calendar) if calendar.is_open(at) => Ok(()),
            calendar => {
                let next_open = calendar.and_then(|c| c.next_open(at));
                let (text, system) =
                    rules::offline_notice(&inbox.fields.offline_message, next_open);
                self.post_system(conv, SYSTEM_SENDER, None, text, system, at, out)?;
                Ok(())
            }
        }
    }

    /// Assigns `conv` to `agent`: the row, the membership (whole log),
    /// `conversation.added` for the agent, `support.assigned`, the notice.
    fn assign(
        &mut self,
        conv: &str,
        inbox: &str,
        agent: &str,
        actor: Option<&str>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE support_conversations SET state = 'assigned', assignee_id = ?2, assigned_at = ?3,
                   resolved_at = NULL, queue_front = 0
                 WHERE conversation_id = ?1",
            )
            .map_err(db_err)?
            .execute(params![conv, agent, at.millis()])
            .map_err(db_err)?;
        self.conn
            .prepare_cached(
                "INSERT INTO agent_states (user_id, status, last_assigned_at, last_assigned_n)
                 VALUES (?1, 'available', ?2, 0)
                 ON CONFLICT (user_id) DO UPDATE SET
                   last_assigned_n = CASE WHEN last_assigned_at = ?2 THEN coalesce(last_assigned_n, 0) + 1 ELSE 0 END,
                   last_assigned_at = ?2",
            )
            .map_err(db_err)?
            .execute(params![agent, at.millis()])
            .map_err(db_err)?;
        self.conn
            .prepare_cached("UPDATE inboxes SET last_agent_id = ?2 WHERE id = ?1")
            .map_err(db_err)?
            .execute(params![inbox, agent])
            .map_err(db_err)?;
        let already = self.members_of(conv)?.iter().any(|m| m == agent);
        if !already {
            self.insert_member(conv, agent, MemberRole::Member, 1, at)?;
            self.set_member_count(conv)?;
            out.push(self.added(agent, conv)?);
        }
        self.append_event(conv, at, rules::assigned(actor, agent), out)?;
        let name = rows::user_by_id(&self.conn, agent)?
            .map(|u| u.display_name)
            .unwrap_or_else(|| agent.to_string());
        let (text, system) = rules::assigned_notice(agent, &name);
        self.post_system(conv, SYSTEM_SENDER, None, text, system, at, out)?;
        Ok(())
    }

    /// The assignee stops being a member (transfer, grace, removal).
    fn unassign_member(
        &mut self,
        conv: &str,
        agent: &str,
        customer: &str,
        removed: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        if agent == customer {
            return Ok(());
        }
        self.deactivate_member(conv, agent)?;
        self.set_member_count(conv)?;
        removed.push(parley_store::delivery::removed(agent, conv)?);
        Ok(())
    }

    /// The first half of a transfer: the previous assignee leaves (their
    /// `conversation.removed` is returned, to follow the events) and
    /// `support.transferred` is written.
    fn hand_off(
        &mut self,
        row: &SupportRow,
        previous: Option<&str>,
        actor: &Actor,
        target: &TransferTarget,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Vec<Delivery>> {
        let mut removed = Vec::new();
        if let Some(p) = previous {
            self.unassign_member(&row.conversation_id, p, &row.customer_id, &mut removed)?;
        }
        let event = rules::transferred(&actor.user_id, previous, &row.inbox_id, target);
        self.append_event(&row.conversation_id, at, event, out)?;
        Ok(removed)
    }

    /// Routing of one inbox: assigns its front while it is open and the
    /// policy finds someone assignable; each step re-reads the agents.
    fn route_inbox(
        &mut self,
        inbox: &str,
        connected: &HashSet<String>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u32> {
        let Some(inbox) = load_inbox(&self.conn, inbox)? else {
            return Ok(0);
        };
        if inbox.fields.routing == Routing::Manual || !inbox.fields.is_open(at) {
            return Ok(0);
        }
        let before = queue_snapshot(&self.conn, &inbox.id)?;
        let mut assigned = 0;
        for (conv, _) in &before {
            let agents = agent_facts(&self.conn, &inbox, connected)?;
            let last: Option<String> = self
                .conn
                .prepare_cached("SELECT last_agent_id FROM inboxes WHERE id = ?1")
                .map_err(db_err)?
                .query_row([&inbox.id], |r| r.get(0))
                .map_err(db_err)?;
            let Some(agent) = routing::pick(inbox.fields.routing, &agents, last.as_deref()) else {
                break;
            };
            let agent = agent.user_id.clone();
            self.assign(conv, &inbox.id, &agent, None, at, out)?;
            assigned += 1;
        }
        if assigned > 0 {
            let after = queue_snapshot(&self.conn, &inbox.id)?;
            queue_moves(&before, &after, out)?;
        }
        Ok(assigned)
    }

    /// An agent's open chats (of `only_inbox`, or all) back to the front
    /// of their queues.
    fn requeue_agent_chats(
        &mut self,
        agent: &str,
        only_inbox: Option<&str>,
        reason: QueueReason,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Vec<String>> {
        let chats: Vec<(String, String, String)> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT conversation_id, inbox_id, customer_id FROM support_conversations
                     WHERE assignee_id = ?1 AND state = 'assigned' AND (?2 IS NULL OR inbox_id = ?2)
                     ORDER BY queue_rank, conversation_id",
                )
                .map_err(db_err)?;
            stmt.query_map(params![agent, only_inbox], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?
        };
        let mut inboxes: Vec<String> = Vec::new();
        for (_, inbox, _) in &chats {
            if !inboxes.contains(inbox) {
                inboxes.push(inbox.clone());
            }
        }
        for inbox_id in &inboxes {
            let inbox = require_inbox(&self.conn, inbox_id)?;
            let before = queue_snapshot(&self.conn, inbox_id)?;
            let mut removed = Vec::new();
            for (conv, _, customer) in chats.iter().filter(|(_, i, _)| i == inbox_id) {
                self.unassign_member(conv, agent, customer, &mut removed)?;
                self.enqueue(conv, &inbox, reason, None, at, out)?;
            }
            out.extend(removed);
            let after = queue_snapshot(&self.conn, inbox_id)?;
            queue_moves(&before, &after, out)?;
        }
        Ok(inboxes)
    }

    /// A customer writing in their resolved conversation reopens it first.
    pub(crate) fn support_before_send(
        &mut self,
        m: &NewMessage,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let Some(row) = load_support(&self.conn, &m.conversation_id)? else {
            return Ok(());
        };
        if row.customer_id != m.sender_id || row.state != SupportState::Resolved {
            return Ok(());
        }
        // A retry of a message already stored changes nothing.
        if let Some(client_id) = &m.client_id {
            let earlier = crate::client_keys::earlier_send(
                &self.conn,
                &m.conversation_id,
                &m.sender_id,
                client_id,
            )?;
            if earlier.is_some() {
                return Ok(());
            }
        }
        let actor = Actor {
            user_id: m.sender_id.clone(),
            is_admin: false,
        };
        // The previous assignee takes it back if assignable; whether they
        // are connected is the flag the routing job keeps.
        let assignee_connected = match &row.assignee_id {
            Some(a) => stored_connected(&self.conn, a)?,
            None => false,
        };
        self.reopen_locked(&row, &actor, assignee_connected, m.at, out)?;
        self.reopened_by_send = true;
        Ok(())
    }

    fn reopen_locked(
        &mut self,
        row: &SupportRow,
        actor: &Actor,
        assignee_connected: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let s = standing(&self.conn, row, &actor.user_id, actor.is_admin)?;
        let other: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT conversation_id FROM support_conversations
                 WHERE inbox_id = ?1 AND customer_id = ?2 AND state <> 'resolved' AND conversation_id <> ?3",
            )
            .map_err(db_err)?
            .query_row(params![row.inbox_id, row.customer_id, row.conversation_id], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        rules::check_reopen(&s, row, other.as_deref())?;
        let inbox = require_inbox(&self.conn, &row.inbox_id)?;
        let conv = &row.conversation_id;
        // Marked open first so that the unique index can speak.
        let reopened = self
            .conn
            .prepare_cached(
                "UPDATE support_conversations SET state = 'queued', resolved_at = NULL WHERE conversation_id = ?1",
            )
            .map_err(db_err)?
            .execute([conv]);
        match reopened {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(rules::ANOTHER_OPEN.into()),
            Err(e) => return Err(db_err(e)),
        }
        self.append_event(conv, at, rules::reopened(&actor.user_id), out)?;
        let previous = row.assignee_id.clone();
        let back_to_previous = match &previous {
            Some(agent) if assignee_connected => {
                let connected = HashSet::from([agent.clone()]);
                inbox.fields.is_open(at)
                    && agent_facts(&self.conn, &inbox, &connected)?
                        .iter()
                        .any(|a| a.user_id == *agent && a.assignable())
            }
            _ => false,
        };
        let before = queue_snapshot(&self.conn, &inbox.id)?;
        if let (true, Some(agent)) = (back_to_previous, previous.as_deref()) {
            self.assign(conv, &inbox.id, agent, None, at, out)?;
        } else {
            let mut removed = Vec::new();
            if let Some(agent) = previous.as_deref() {
                self.unassign_member(conv, agent, &row.customer_id, &mut removed)?;
            }
            self.enqueue(
                conv,
                &inbox,
                QueueReason::Reopened,
                Some(&actor.user_id),
                at,
                out,
            )?;
            out.extend(removed);
        }
        let after = queue_snapshot(&self.conn, &inbox.id)?;
        queue_moves(&before, &after, out)
    }
}

#[async_trait]
impl SupportStore for SqliteStore {
    fn on_reopened_by_send(&self, hook: Box<dyn Fn(&str) + Send + Sync>) {
        let _ = self.support_hook.set(hook);
    }

    async fn create_inbox(
        &self,
        id: &str,
        fields: InboxFields,
        at: Timestamp,
    ) -> StoreResult<InboxRow> {
        let row = InboxRow {
            id: id.to_string(),
            fields,
            created_at: at.millis(),
        };
        let stored = row.clone();
        self.write(move |s, _| {
            let f = &stored.fields;
            s.conn
                .prepare_cached(
                    "INSERT INTO inboxes (id, name, timezone, hours, holidays, offline_message, routing, max_chats_per_agent, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(db_err)?
                .execute(params![
                    stored.id,
                    f.name,
                    f.timezone,
                    f.hours.as_ref().map(json).transpose()?,
                    json(&f.holidays)?,
                    f.offline_message,
                    f.routing.as_str(),
                    f.max_chats_per_agent,
                    stored.created_at
                ])
                .map_err(db_err)?;
            Ok(())
        })
        .await?;
        Ok(row)
    }

    async fn update_inbox(&self, id: &str, patch: InboxRequest) -> StoreResult<InboxRow> {
        let id = id.to_string();
        self.write(move |s, _| {
            let base = require_inbox(&s.conn, &id)?;
            let f = rules::inbox_fields(&patch, Some(&base.fields))?;
            s.conn
                .prepare_cached(
                    "UPDATE inboxes SET name = ?2, timezone = ?3, hours = ?4, holidays = ?5, offline_message = ?6,
                       routing = ?7, max_chats_per_agent = ?8 WHERE id = ?1",
                )
                .map_err(db_err)?
                .execute(params![
                    id,
                    f.name,
                    f.timezone,
                    f.hours.as_ref().map(json).transpose()?,
                    json(&f.holidays)?,
                    f.offline_message,
                    f.routing.as_str(),
                    f.max_chats_per_agent
                ])
                .map_err(db_err)?;
            Ok(InboxRow {
                id,
                fields: f,
                created_at: base.created_at,
            })
        })
        .await
    }

    async fn inbox(&self, id: &str) -> StoreResult<InboxRow> {
        let id = id.to_string();
        self.read(move |c| require_inbox(c, &id)).await
    }

    async fn inboxes(&self, agent: Option<&str>) -> StoreResult<Vec<InboxRow>> {
        let agent = agent.map(str::to_string);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {INBOX_COLS} FROM inboxes
                     WHERE ?1 IS NULL OR id IN (SELECT inbox_id FROM inbox_agents WHERE user_id = ?1)
                     ORDER BY created_at, id"
                ))
                .map_err(db_err)?;
            stmt.query_map([agent], inbox_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)
        })
        .await
    }

    async fn put_inbox_agent(
        &self,
        inbox: &str,
        user: &str,
        max_chats: Option<u32>,
    ) -> StoreResult<()> {
        let (inbox, user) = (inbox.to_string(), user.to_string());
        self.write(move |s, _| {
            require_inbox(&s.conn, &inbox)?;
            let role = user_role(&s.conn, &user)?.ok_or_else(|| StoreError::not_found("user"))?;
            rules::require_agent_user(role)?;
            s.conn
                .prepare_cached(
                    "INSERT INTO inbox_agents (inbox_id, user_id, max_chats, position)
                     VALUES (?1, ?2, ?3, (SELECT coalesce(max(position), 0) + 1 FROM inbox_agents WHERE inbox_id = ?1))
                     ON CONFLICT (inbox_id, user_id) DO UPDATE SET max_chats = excluded.max_chats",
                )
                .map_err(db_err)?
                .execute(params![inbox, user, max_chats])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn remove_inbox_agent(&self, inbox: &str, user: &str, at: Timestamp) -> StoreResult<()> {
        let (inbox, user) = (inbox.to_string(), user.to_string());
        self.write(move |s, out| {
            require_inbox(&s.conn, &inbox)?;
            let n = s
                .conn
                .prepare_cached("DELETE FROM inbox_agents WHERE inbox_id = ?1 AND user_id = ?2")
                .map_err(db_err)?
                .execute(params![inbox, user])
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::not_found("agent"));
            }
            s.requeue_agent_chats(&user, Some(&inbox), QueueReason::AgentRemoved, at, out)?;
            Ok(())
        })
        .await
    }

    async fn inbox_agents(&self, inbox: &str) -> StoreResult<Vec<InboxAgentRow>> {
        let inbox = inbox.to_string();
        self.read(move |c| {
            require_inbox(c, &inbox)?;
            let mut stmt = c
                .prepare_cached(
                    "SELECT a.user_id, a.max_chats, s.status,
                       (SELECT count(*) FROM support_conversations c WHERE c.assignee_id = a.user_id AND c.state = 'assigned')
                     FROM inbox_agents a LEFT JOIN agent_states s ON s.user_id = a.user_id
                     WHERE a.inbox_id = ?1 ORDER BY a.position",
                )
                .map_err(db_err)?;
            stmt.query_map([&inbox], |r| {
                let status: Option<String> = r.get(2)?;
                Ok(InboxAgentRow {
                    user_id: r.get(0)?,
                    max_chats: r.get(1)?,
                    status: status
                        .and_then(|s| AgentStatus::parse(&s))
                        .unwrap_or_default(),
                    open_chats: r.get(3)?,
                })
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)
        })
        .await
    }

    async fn is_inbox_agent(&self, inbox: &str, user: &str) -> StoreResult<bool> {
        let (inbox, user) = (inbox.to_string(), user.to_string());
        self.read(move |c| is_agent_of(c, &inbox, &user)).await
    }

    async fn agent_inboxes(&self, user: &str) -> StoreResult<Vec<String>> {
        let user = user.to_string();
        self.read(move |c| {
            rows::strings(
                c,
                "SELECT inbox_id FROM inbox_agents WHERE user_id = ?1 ORDER BY inbox_id",
                [&user],
            )
        })
        .await
    }

    async fn set_agent_status(&self, user: &str, status: AgentStatus) -> StoreResult<()> {
        let user = user.to_string();
        self.write(move |s, _| {
            s.conn
                .prepare_cached(
                    "INSERT INTO agent_states (user_id, status) VALUES (?1, ?2)
                     ON CONFLICT (user_id) DO UPDATE SET status = excluded.status",
                )
                .map_err(db_err)?
                .execute(params![user, status.as_str()])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn set_agent_connected(&self, user: &str, connected: bool) -> StoreResult<()> {
        let user = user.to_string();
        self.write(move |s, _| {
            s.conn
                .prepare_cached(
                    "INSERT INTO agent_states (user_id, status, connected) VALUES (?1, 'available', ?2)
                     ON CONFLICT (user_id) DO UPDATE SET connected = excluded.connected",
                )
                .map_err(db_err)?
                .execute(params![user, connected])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn agent_status(&self, user: &str) -> StoreResult<(AgentStatus, u32)> {
        let user = user.to_string();
        self.read(move |c| Ok((agent_status_of(c, &user)?, open_chats(c, &user)?)))
            .await
    }

    async fn open_support(
        &self,
        id: &str,
        inbox: &str,
        customer: &str,
        first: Option<NewMessage>,
        at: Timestamp,
    ) -> StoreResult<(String, bool)> {
        let (id, inbox, customer) = (id.to_string(), inbox.to_string(), customer.to_string());
        self.write(move |s, out| {
            let inbox = require_inbox(&s.conn, &inbox)?;
            let before = queue_snapshot(&s.conn, &inbox.id)?;
            // The unique index decides: a second open conversation for the
            // same customer and inbox is refused by the database itself.
            let inserted = s
                .conn
                .prepare_cached(
                    "INSERT INTO support_conversations (conversation_id, inbox_id, customer_id, state, queued_at, queue_rank)
                     VALUES (?1, ?2, ?3, 'queued', ?4, ?4)
                     ON CONFLICT (inbox_id, customer_id) WHERE state <> 'resolved' DO NOTHING",
                )
                .map_err(db_err)?
                .execute(params![id, inbox.id, customer, at.millis()])
                .map_err(db_err)?;
            if inserted == 0 {
                let existing: String = s
                    .conn
                    .prepare_cached(
                        "SELECT conversation_id FROM support_conversations
                         WHERE inbox_id = ?1 AND customer_id = ?2 AND state <> 'resolved'",
                    )
                    .map_err(db_err)?
                    .query_row(params![inbox.id, customer], |r| r.get(0))
                    .map_err(db_err)?;
                // A retried first message with the same client_id lands in
                // the open conversation once, like any retried send.
                if let Some(mut m) = first {
                    m.conversation_id = existing.clone();
                    s.send_message(&m, out)?;
                }
                return Ok((existing, false));
            }
            s.create_conversation(
                &id,
                NewConversation {
                    kind: ConversationKind::Support,
                    title: Some(inbox.fields.name.clone()),
                    direct_key: None,
                    members: vec![(customer.clone(), MemberRole::Member)],
                    created: NewEvent::by(
                        &customer,
                        EventData::ConversationCreated(ConversationCreated {
                            kind: ConversationKind::Support,
                            member_ids: vec![customer.clone()],
                            title: Some(inbox.fields.name.clone()),
                        }),
                    ),
                    added: vec![customer.clone()],
                },
                at,
                out,
            )?;
            if let Some(mut m) = first {
                m.conversation_id = id.clone();
                s.send_message(&m, out)?;
            }
            // `enqueue` writes `support.queued` (and the offline notice)
            // on the row the insert made.
            s.enqueue(&id, &inbox, QueueReason::New, Some(&customer), at, out)?;
            let after = queue_snapshot(&s.conn, &inbox.id)?;
            queue_moves(&before, &after, out)?;
            Ok((id, true))
        })
        .await
    }

    async fn route(&self, inbox: &str, connected: Vec<String>, at: Timestamp) -> StoreResult<u32> {
        let inbox = inbox.to_string();
        let connected: HashSet<String> = connected.into_iter().collect();
        self.write(move |s, out| s.route_inbox(&inbox, &connected, at, out))
            .await
    }

    async fn claim(&self, conv: &str, actor: &Actor, at: Timestamp) -> StoreResult<()> {
        let (conv, actor) = (conv.to_string(), actor.clone());
        self.write(move |s, out| {
            let (row, st) = require_support(&s.conn, &conv, &actor)?;
            let inbox = require_inbox(&s.conn, &row.inbox_id)?;
            let below = if st.is_inbox_agent {
                // Status and connection do not matter for a claim.
                let everyone = HashSet::from([actor.user_id.clone()]);
                agent_facts(&s.conn, &inbox, &everyone)?
                    .iter()
                    .any(|a| a.user_id == actor.user_id && a.open_chats < a.capacity)
            } else {
                false
            };
            rules::check_claim(&st, &row, below)?;
            let before = queue_snapshot(&s.conn, &inbox.id)?;
            s.assign(
                &conv,
                &inbox.id,
                &actor.user_id,
                Some(&actor.user_id),
                at,
                out,
            )?;
            let after = queue_snapshot(&s.conn, &inbox.id)?;
            queue_moves(&before, &after, out)
        })
        .await
    }

    async fn transfer(
        &self,
        conv: &str,
        actor: &Actor,
        target: TransferTarget,
        target_connected: bool,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (conv, actor) = (conv.to_string(), actor.clone());
        self.write(move |s, out| {
            let (row, st) = require_support(&s.conn, &conv, &actor)?;
            rules::check_transfer(&st, &row)?;
            let from_inbox = require_inbox(&s.conn, &row.inbox_id)?;
            let previous = row
                .assignee_id
                .clone()
                .filter(|_| row.state == SupportState::Assigned);
            match &target {
                TransferTarget::Agent(agent) => {
                    if user_role(&s.conn, agent)?.is_none() {
                        return Err(DomainError::NotFoundIn {
                            what: "user",
                            field: "agent_id",
                        }
                        .into());
                    }
                    let connected: HashSet<String> = if target_connected {
                        HashSet::from([agent.clone()])
                    } else {
                        HashSet::new()
                    };
                    let facts = agent_facts(&s.conn, &from_inbox, &connected)?;
                    rules::check_transfer_to_agent(
                        previous.as_deref(),
                        agent,
                        facts.iter().find(|a| a.user_id == *agent),
                    )?;
                    let before = queue_snapshot(&s.conn, &from_inbox.id)?;
                    let removed = s.hand_off(&row, previous.as_deref(), &actor, &target, at, out)?;
                    s.assign(&conv, &from_inbox.id, agent, Some(&actor.user_id), at, out)?;
                    out.extend(removed);
                    let after = queue_snapshot(&s.conn, &from_inbox.id)?;
                    queue_moves(&before, &after, out)
                }
                TransferTarget::Inbox(inbox_id) => {
                    let to = load_inbox(&s.conn, inbox_id)?.ok_or(DomainError::NotFoundIn {
                        what: "inbox",
                        field: "inbox_id",
                    })?;
                    let before_from = queue_snapshot(&s.conn, &from_inbox.id)?;
                    let before_to = queue_snapshot(&s.conn, &to.id)?;
                    let removed = s.hand_off(&row, previous.as_deref(), &actor, &target, at, out)?;
                    let moved = s
                        .conn
                        .prepare_cached(
                            "UPDATE support_conversations SET inbox_id = ?2, queue_front = 0 WHERE conversation_id = ?1",
                        )
                        .map_err(db_err)?
                        .execute(params![conv, to.id]);
                    match moved {
                        Ok(_) => {}
                        Err(e) if is_unique_violation(&e) => {
                            return Err(rules::CUSTOMER_OPEN_THERE.into());
                        }
                        Err(e) => return Err(db_err(e)),
                    }
                    s.enqueue(&conv, &to, QueueReason::Transferred, Some(&actor.user_id), at, out)?;
                    out.extend(removed);
                    let after_from = queue_snapshot(&s.conn, &from_inbox.id)?;
                    queue_moves(&before_from, &after_from, out)?;
                    let after_to = queue_snapshot(&s.conn, &to.id)?;
                    queue_moves(&before_to, &after_to, out)
                }
            }
        })
        .await
    }

    async fn resolve(&self, conv: &str, actor: &Actor, at: Timestamp) -> StoreResult<()> {
        let (conv, actor) = (conv.to_string(), actor.clone());
        self.write(move |s, out| {
            let (row, st) = require_support(&s.conn, &conv, &actor)?;
            rules::check_resolve(&st, &row)?;
            let before = queue_snapshot(&s.conn, &row.inbox_id)?;
            let assignee = row
                .assignee_id
                .clone()
                .filter(|_| row.state == SupportState::Assigned);
            s.conn
                .prepare_cached(
                    "UPDATE support_conversations SET state = 'resolved', resolved_at = ?2, queue_front = 0
                     WHERE conversation_id = ?1",
                )
                .map_err(db_err)?
                .execute(params![conv, at.millis()])
                .map_err(db_err)?;
            s.append_event(&conv, at, rules::resolved(&actor.user_id, assignee.as_deref()), out)?;
            let after = queue_snapshot(&s.conn, &row.inbox_id)?;
            queue_moves(&before, &after, out)
        })
        .await
    }

    async fn reopen(
        &self,
        conv: &str,
        actor: &Actor,
        assignee_connected: bool,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (conv, actor) = (conv.to_string(), actor.clone());
        self.write(move |s, out| {
            let (row, _) = require_support(&s.conn, &conv, &actor)?;
            s.reopen_locked(&row, &actor, assignee_connected, at, out)
        })
        .await
    }

    async fn requeue_agent(
        &self,
        agent: &str,
        reason: QueueReason,
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let agent = agent.to_string();
        self.write(move |s, out| s.requeue_agent_chats(&agent, None, reason, at, out))
            .await
    }

    async fn support_row(&self, conv: &str) -> StoreResult<Option<SupportRow>> {
        let conv = conv.to_string();
        self.read(move |c| load_support(c, &conv)).await
    }

    async fn post_note(
        &self,
        conv: &str,
        author: &str,
        client_id: &str,
        text: &str,
        at: Timestamp,
    ) -> StoreResult<(parley_protocol::Message, bool)> {
        let (conv, author, client_id, text) = (
            conv.to_string(),
            author.to_string(),
            client_id.to_string(),
            text.to_string(),
        );
        self.write(move |s, out| {
            load_support(&s.conn, &conv)?.ok_or_else(|| StoreError::not_found("conversation"))?;
            let earlier = crate::client_keys::earlier_send(&s.conn, &conv, &author, &client_id)?;
            if let Some(row) = earlier {
                return Ok((
                    crate::views::message_view(&s.conn, &author, &row, None)?,
                    false,
                ));
            }
            let system = rules::integration_note(&author);
            let row = s.post_system(&conv, &author, Some(&client_id), text, system, at, out)?;
            Ok((row.to_wire(), true))
        })
        .await
    }

    async fn queue(&self, inbox: &str, after: u32, limit: u32) -> StoreResult<Vec<String>> {
        let inbox = inbox.to_string();
        self.read(move |c| {
            require_inbox(c, &inbox)?;
            rows::strings(
                c,
                "SELECT conversation_id FROM support_conversations
                 WHERE inbox_id = ?1 AND state = 'queued'
                 ORDER BY queue_front DESC, queue_rank, conversation_id LIMIT ?3 OFFSET ?2",
                params![inbox, after, limit],
            )
        })
        .await
    }

    async fn agent_conversations(
        &self,
        agent: &str,
        state: SupportState,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(String, i64)>> {
        let agent = agent.to_string();
        self.read(move |c| {
            let (at, id) = before.clone().unwrap_or((i64::MAX, String::new()));
            let mut stmt = c
                .prepare_cached(
                    "SELECT s.conversation_id, c.last_activity_at FROM support_conversations s
                     JOIN conversations c ON c.id = s.conversation_id
                     WHERE s.assignee_id = ?1 AND s.state = ?2
                       AND (?5 = 0 OR c.last_activity_at < ?3 OR (c.last_activity_at = ?3 AND s.conversation_id < ?4))
                     ORDER BY c.last_activity_at DESC, s.conversation_id DESC LIMIT ?6",
                )
                .map_err(db_err)?;
            stmt.query_map(
                params![agent, state.as_str(), at, id, before.is_some() as i64, limit],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)
        })
        .await
    }

    async fn agents_with_open_chats(&self) -> StoreResult<Vec<String>> {
        self.read(|c| {
            rows::strings(
                c,
                "SELECT DISTINCT assignee_id FROM support_conversations WHERE state = 'assigned' AND assignee_id IS NOT NULL",
                [],
            )
        })
        .await
    }
}
