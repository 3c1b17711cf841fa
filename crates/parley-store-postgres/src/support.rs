//! Support inboxes on PostgreSQL: the same decisions as
//! `parley-store-sqlite/src/support.rs`, each one transaction, made safe
//! for many writers by row locks instead of the single writer.
//!
//! Lock order, the same in every decision, so that two of them never wait
//! on each other: the inbox rows (by id), then the agents' `agent_states`
//! rows (by user id), then the conversation row (`FOR NO KEY UPDATE`, what
//! a send takes), then the support row (updated in place). The inbox lock
//! serialises everything that reads or reorders its queue (routing, claims,
//! transfers, resolves, requeues); an agent's row lock is their capacity:
//! every change of the chats assigned to an agent holds it, so the count a
//! routing step reads cannot change before the step commits, whatever the
//! process. A customer's send takes only the conversation and support
//! rows, in that order, so a reopen by message never waits on routing.
//! One open conversation per customer and inbox is the partial unique
//! index `support_one_open`; an insert racing another waits for it and
//! then does nothing (`ON CONFLICT ... DO NOTHING`).

use crate::events::WriteTx;
use crate::rows::{
    self, Params, col, col_parsed, execute, execute_raw, is_unique_violation, query, query_one,
    query_opt,
};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use parley_domain::conversations::{MemberInfo, NewConversation};
use parley_domain::support::routing::{self, AgentFacts};
use parley_domain::support::{self as rules, InboxFields, Standing, SupportRow, TransferTarget};
use parley_domain::{DomainError, NewEvent};
use parley_protocol::events::{ConversationCreated, EventData, MessageCreated, QueueReason};
use parley_protocol::support::{AgentStatus, InboxRequest, Routing, SupportInfo, SupportState};
use parley_protocol::{
    ConversationKind, Event, MemberRole, MessageKind, Role, ServerFrame, Timestamp,
};
use parley_store::support::{Actor, InboxAgentRow, InboxRow};
use parley_store::{Delivery, NewMessage, StoreError, StoreResult, SupportStore, delivery};
use std::collections::HashSet;
use std::sync::Arc;
use tokio_postgres::Row;

pub(crate) type ReopenHook = Box<dyn Fn(&str) + Send + Sync>;

/// Who sends the server's own messages in a support conversation.
pub const SYSTEM_SENDER: &str = "system";

/// Times [`lock_support`](WriteTx::lock_support) takes its locks again for
/// a chat that moved meanwhile before giving up with `unavailable`. Each
/// retry means another decision about the same chat committed in between,
/// so the bound is only reached by a chat moved 64 times while one
/// decision waits.
const LOCK_SUPPORT_ATTEMPTS: usize = 64;

const INBOX_COLS: &str = "id, name, timezone, hours, holidays, offline_message, routing, \
     max_chats_per_agent, created_at";

const SUPPORT_COLS: &str = "conversation_id, inbox_id, customer_id, state, assignee_id, \
     queued_at, assigned_at, resolved_at";

fn json(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(raw: &str, what: &str) -> StoreResult<T> {
    serde_json::from_str(raw).map_err(|e| StoreError::Internal(format!("corrupt {what}: {e}")))
}

/// A stored count or capacity (an INTEGER column).
fn col_u32(r: &Row, idx: usize) -> StoreResult<u32> {
    let v: i32 = col(r, idx)?;
    u32::try_from(v)
        .map_err(|_| StoreError::Internal(format!("negative value {v} in column {idx}")))
}

fn col_opt_u32(r: &Row, idx: usize) -> StoreResult<Option<u32>> {
    col::<Option<i32>>(r, idx)?
        .map(|v| {
            u32::try_from(v)
                .map_err(|_| StoreError::Internal(format!("negative value {v} in column {idx}")))
        })
        .transpose()
}

/// A `count(*)` (BIGINT) as a chat count.
fn col_count(r: &Row, idx: usize) -> StoreResult<u32> {
    let v: i64 = col(r, idx)?;
    Ok(u32::try_from(v).unwrap_or(u32::MAX))
}

fn inbox_row(r: &Row) -> StoreResult<InboxRow> {
    let hours: Option<String> = col(r, 3)?;
    let holidays: String = col(r, 4)?;
    Ok(InboxRow {
        id: col(r, 0)?,
        fields: InboxFields {
            name: col(r, 1)?,
            timezone: col(r, 2)?,
            hours: hours.map(|h| from_json(&h, "hours")).transpose()?,
            holidays: from_json(&holidays, "holidays")?,
            offline_message: col(r, 5)?,
            routing: col_parsed(r, 6, "routing", Routing::parse)?,
            max_chats_per_agent: col_u32(r, 7)?,
        },
        created_at: col(r, 8)?,
    })
}

fn support_row(r: &Row) -> StoreResult<SupportRow> {
    Ok(SupportRow {
        conversation_id: col(r, 0)?,
        inbox_id: col(r, 1)?,
        customer_id: col(r, 2)?,
        state: col_parsed(r, 3, "support state", SupportState::parse)?,
        assignee_id: col(r, 4)?,
        queued_at: col(r, 5)?,
        assigned_at: col(r, 6)?,
        resolved_at: col(r, 7)?,
    })
}

fn cap_param(n: Option<u32>) -> Option<i32> {
    n.map(|n| i32::try_from(n).unwrap_or(i32::MAX))
}

pub(crate) async fn load_inbox<C: GenericClient>(c: &C, id: &str) -> StoreResult<Option<InboxRow>> {
    query_opt(
        c,
        &format!("SELECT {INBOX_COLS} FROM inboxes WHERE id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(inbox_row)
    .transpose()
}

async fn require_inbox<C: GenericClient>(c: &C, id: &str) -> StoreResult<InboxRow> {
    load_inbox(c, id)
        .await?
        .ok_or_else(|| StoreError::not_found("inbox"))
}

pub(crate) async fn load_support<C: GenericClient>(
    c: &C,
    conv: &str,
) -> StoreResult<Option<SupportRow>> {
    query_opt(
        c,
        &format!("SELECT {SUPPORT_COLS} FROM support_conversations WHERE conversation_id = $1"),
        &[&conv],
    )
    .await?
    .as_ref()
    .map(support_row)
    .transpose()
}

async fn is_agent_of<C: GenericClient>(c: &C, inbox: &str, user: &str) -> StoreResult<bool> {
    let r = query_one(
        c,
        "SELECT EXISTS(SELECT 1 FROM inbox_agents WHERE inbox_id = $1 AND user_id = $2)",
        &[&inbox, &user],
    )
    .await?;
    col(&r, 0)
}

async fn user_role<C: GenericClient>(c: &C, user: &str) -> StoreResult<Option<Role>> {
    Ok(rows::user_by_id(c, user).await?.map(|u| u.role))
}

/// Who `user` is to the support conversation `row`.
async fn standing<C: GenericClient>(
    c: &C,
    row: &SupportRow,
    user: &str,
    is_admin: bool,
) -> StoreResult<Standing> {
    Ok(Standing {
        is_customer: row.customer_id == user,
        is_assignee: row.state != SupportState::Resolved
            && row.assignee_id.as_deref() == Some(user),
        is_inbox_agent: is_agent_of(c, &row.inbox_id, user).await?,
        is_admin,
    })
}

/// A reader who is not a member (an agent of the inbox, an admin): they
/// see the whole log, as members of a support conversation do.
pub(crate) async fn support_reader<C: GenericClient>(
    c: &C,
    conv: &str,
    viewer: &str,
) -> StoreResult<Option<MemberInfo>> {
    let Some(row) = load_support(c, conv).await? else {
        return Ok(None);
    };
    let is_admin = user_role(c, viewer).await? == Some(Role::Admin);
    let s = standing(c, &row, viewer, is_admin).await?;
    Ok(s.may_read().then_some(MemberInfo {
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
pub(crate) async fn check_support_send<C: GenericClient>(
    c: &C,
    conv: &str,
    sender: &str,
) -> StoreResult<()> {
    let Some(row) = load_support(c, conv).await? else {
        return Ok(());
    };
    let is_admin = user_role(c, sender).await? == Some(Role::Admin);
    rules::check_send(&standing(c, &row, sender, is_admin).await?)?;
    Ok(())
}

/// The `support` block of a conversation's view.
pub(crate) async fn support_info<C: GenericClient>(
    c: &C,
    conv: &str,
) -> StoreResult<Option<SupportInfo>> {
    let Some(row) = load_support(c, conv).await? else {
        return Ok(None);
    };
    let position = if row.state == SupportState::Queued {
        position_of(c, &row.inbox_id, conv).await?
    } else {
        None
    };
    Ok(Some(row.to_wire(position)))
}

async fn position_of<C: GenericClient>(c: &C, inbox: &str, conv: &str) -> StoreResult<Option<u32>> {
    query_opt(
        c,
        "SELECT 1 + (SELECT count(*) FROM support_conversations o
                     WHERE o.inbox_id = s.inbox_id AND o.state = 'queued'
                       AND (o.queue_front > s.queue_front
                            OR (o.queue_front = s.queue_front AND (o.queue_rank < s.queue_rank
                                OR (o.queue_rank = s.queue_rank AND o.conversation_id < s.conversation_id)))))
         FROM support_conversations s WHERE s.conversation_id = $2 AND s.inbox_id = $1 AND s.state = 'queued'",
        &[&inbox, &conv],
    )
    .await?
    .map(|r| col_count(&r, 0))
    .transpose()
}

/// The queue of an inbox in order: (conversation, customer).
async fn queue_snapshot<C: GenericClient>(
    c: &C,
    inbox: &str,
) -> StoreResult<Vec<(String, String)>> {
    query(
        c,
        "SELECT conversation_id, customer_id FROM support_conversations
         WHERE inbox_id = $1 AND state = 'queued'
         ORDER BY queue_front DESC, queue_rank, conversation_id",
        &[&inbox],
    )
    .await?
    .iter()
    .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
    .collect()
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

async fn open_chats<C: GenericClient>(c: &C, agent: &str) -> StoreResult<u32> {
    let r = query_one(
        c,
        "SELECT count(*) FROM support_conversations WHERE assignee_id = $1 AND state = 'assigned'",
        &[&agent],
    )
    .await?;
    col_count(&r, 0)
}

async fn agent_status_of<C: GenericClient>(c: &C, agent: &str) -> StoreResult<AgentStatus> {
    let s: Option<String> = query_opt(
        c,
        "SELECT status FROM agent_states WHERE user_id = $1",
        &[&agent],
    )
    .await?
    .map(|r| col(&r, 0))
    .transpose()?;
    Ok(s.and_then(|s| AgentStatus::parse(&s)).unwrap_or_default())
}

/// The inbox's agents as routing sees them, in the order they were added.
async fn agent_facts<C: GenericClient>(
    c: &C,
    inbox: &InboxRow,
    connected: &HashSet<String>,
) -> StoreResult<Vec<AgentFacts>> {
    let default_cap = inbox.fields.max_chats_per_agent;
    query(
        c,
        "SELECT a.user_id, a.max_chats, s.status, s.last_assigned_at, s.last_assigned_n,
                (SELECT count(*) FROM support_conversations c WHERE c.assignee_id = a.user_id AND c.state = 'assigned')
         FROM inbox_agents a LEFT JOIN agent_states s ON s.user_id = a.user_id
         WHERE a.inbox_id = $1 ORDER BY a.position",
        &[&inbox.id],
    )
    .await?
    .iter()
    .map(|r| {
        let user_id: String = col(r, 0)?;
        let status: Option<String> = col(r, 2)?;
        let at: Option<i64> = col(r, 3)?;
        let n: Option<i64> = col(r, 4)?;
        Ok(AgentFacts {
            connected: connected.contains(&user_id),
            user_id,
            capacity: col_opt_u32(r, 1)?.unwrap_or(default_cap),
            status: status
                .and_then(|s| AgentStatus::parse(&s))
                .unwrap_or_default(),
            last_assigned: at.map(|t| (t, n.unwrap_or(0))),
            open_chats: col_count(r, 5)?,
        })
    })
    .collect()
}

fn sorted(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

impl WriteTx<'_> {
    /// Locks inbox rows, in id order (the first step of every decision).
    async fn lock_inboxes(&self, ids: &[String]) -> StoreResult<()> {
        let ids = sorted(ids.iter().cloned());
        query(
            &self.tx,
            "SELECT id FROM inboxes WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &[&ids],
        )
        .await?;
        Ok(())
    }

    /// Locks agents' capacity rows, in user id order, creating the rows of
    /// agents who never had one (a new row is locked by its insert).
    async fn lock_agents(&self, ids: impl IntoIterator<Item = String>) -> StoreResult<()> {
        let ids = sorted(ids);
        if ids.is_empty() {
            return Ok(());
        }
        execute(
            &self.tx,
            "INSERT INTO agent_states (user_id, status)
             SELECT u, 'available' FROM unnest($1::text[]) AS u ORDER BY u
             ON CONFLICT (user_id) DO NOTHING",
            &[&ids],
        )
        .await?;
        query(
            &self.tx,
            "SELECT user_id FROM agent_states WHERE user_id = ANY($1) ORDER BY user_id FOR UPDATE",
            &[&ids],
        )
        .await?;
        Ok(())
    }

    /// For a reopen by message: whether `agent` is connected (the stored
    /// flag) and the inbox and agent rows could be locked without waiting.
    async fn try_lock_for_reassign(&self, inbox: &str, agent: &str) -> StoreResult<bool> {
        let connected = query_opt(
            &self.tx,
            "SELECT connected FROM agent_states WHERE user_id = $1",
            &[&agent],
        )
        .await?
        .map(|r| col::<bool>(&r, 0))
        .transpose()?
        .unwrap_or(false);
        if !connected {
            return Ok(false);
        }
        let got_inbox = query_opt(
            &self.tx,
            "SELECT id FROM inboxes WHERE id = $1 FOR UPDATE SKIP LOCKED",
            &[&inbox],
        )
        .await?
        .is_some();
        Ok(got_inbox
            && query_opt(
                &self.tx,
                "SELECT user_id FROM agent_states WHERE user_id = $1 FOR UPDATE SKIP LOCKED",
                &[&agent],
            )
            .await?
            .is_some())
    }

    /// Every agent of an inbox (routing may pick any of them), in one
    /// statement: their rows exist since they were added.
    async fn lock_inbox_agents(&self, inbox: &str) -> StoreResult<()> {
        query(
            &self.tx,
            "SELECT s.user_id FROM agent_states s JOIN inbox_agents a ON a.user_id = s.user_id
             WHERE a.inbox_id = $1 ORDER BY s.user_id FOR UPDATE OF s",
            &[&inbox],
        )
        .await?;
        Ok(())
    }

    /// Locks what a decision about one support conversation needs (its
    /// inbox and `more_inboxes`, its assignee and `more_agents`, the
    /// conversation), then reads its row and who the actor is to it;
    /// `not_found` for a reader who may not see it. The locks are always
    /// taken in one order (inboxes, agents, conversation; ids sorted), so
    /// two decisions wait for each other but never deadlock. Should a
    /// concurrent transfer have moved the chat between the first read and
    /// the locks, the locks are given back (a savepoint) and taken again,
    /// in order, for where it is now.
    async fn lock_support(
        &mut self,
        conv: &str,
        actor: &Actor,
        more_inboxes: &[String],
        more_agents: &[String],
    ) -> StoreResult<(SupportRow, Standing)> {
        let mut seen = load_support(&self.tx, conv)
            .await?
            .ok_or_else(|| StoreError::not_found("conversation"))?;
        for _ in 0..LOCK_SUPPORT_ATTEMPTS {
            self.tx
                .batch_execute("SAVEPOINT lock_support")
                .await
                .map_err(rows::db_err)?;
            let mut inboxes = vec![seen.inbox_id.clone()];
            inboxes.extend(more_inboxes.iter().cloned());
            self.lock_inboxes(&inboxes).await?;
            let agents = seen.assignee_id.iter().chain(more_agents).cloned();
            self.lock_agents(agents).await?;
            self.lock_conversation(conv).await?;
            let row = load_support(&self.tx, conv)
                .await?
                .ok_or_else(|| StoreError::not_found("conversation"))?;
            if row.inbox_id != seen.inbox_id || row.assignee_id != seen.assignee_id {
                // Moved meanwhile: release what was locked for where it
                // was (row locks taken after a savepoint go with it).
                self.tx
                    .batch_execute(
                        "ROLLBACK TO SAVEPOINT lock_support; RELEASE SAVEPOINT lock_support",
                    )
                    .await
                    .map_err(rows::db_err)?;
                seen = row;
                continue;
            }
            self.tx
                .batch_execute("RELEASE SAVEPOINT lock_support")
                .await
                .map_err(rows::db_err)?;
            let s = standing(&self.tx, &row, &actor.user_id, actor.is_admin).await?;
            if !s.may_read() {
                return Err(StoreError::not_found("conversation"));
            }
            return Ok((row, s));
        }
        Err(StoreError::Unavailable(
            "the conversation kept moving between inboxes; try again".into(),
        ))
    }

    /// A `system` message in a support conversation: the server's own
    /// (`sender` [`SYSTEM_SENDER`], no `client_id`) or an integration's.
    #[allow(clippy::too_many_arguments)]
    async fn post_system(
        &mut self,
        conv: &str,
        sender: &str,
        client_id: Option<&str>,
        text: String,
        system: serde_json::Value,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<parley_domain::messages::MessageRow> {
        let r = query_one(
            &self.tx,
            "UPDATE conversations SET last_seq = last_seq + 1, last_message_seq = last_seq + 1, last_activity_at = $2
             WHERE id = $1 RETURNING last_seq",
            &[&conv, &at.millis()],
        )
        .await?;
        let seq = rows::col_u64(&r, 0)?;
        self.touch(conv);
        let row = parley_domain::messages::MessageRow {
            id: parley_store::ids::new_id(),
            conversation_id: conv.to_string(),
            seq,
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
        let system_json = json(&row.system)?;
        let seq_p = rows::seq_param(seq);
        let params: Params<'_> = &[
            &row.id,
            &row.conversation_id,
            &seq_p,
            &row.sender_id,
            &row.client_id,
            &row.text,
            &row.created_at,
            &system_json,
        ];
        execute(
            &self.tx,
            "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, attachments, reply_to, mentions, created_at, system)
             VALUES ($1, $2, $3, $4, $5, 'system', $6, '[]', NULL, '[]', $7, $8)",
            params,
        )
        .await?;
        let event = Event {
            conversation_id: conv.to_string(),
            seq,
            actor_id: (sender != SYSTEM_SENDER).then(|| sender.to_string()),
            at,
            data: EventData::MessageCreated(MessageCreated {
                message: row.to_wire(),
            }),
        };
        let recipients = self.members_of(conv).await?;
        let (body, d) = delivery::event(&event, recipients)?;
        let kind = event.kind();
        execute(
            &self.tx,
            crate::events::INSERT_EVENT,
            &[
                &event.conversation_id,
                &seq_p,
                &kind,
                &body,
                &at.millis(),
                &sender,
            ],
        )
        .await?;
        out.push(d);
        Ok(row)
    }

    /// Puts a conversation in `inbox`'s queue (at the back, or at the
    /// front for a chat an agent's departure returns), writes
    /// `support.queued` and, if the inbox is closed, the offline notice.
    async fn enqueue(
        &mut self,
        conv: &str,
        inbox: &InboxRow,
        reason: QueueReason,
        actor: Option<&str>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let front: i32 =
            matches!(reason, QueueReason::AgentGone | QueueReason::AgentRemoved).into();
        execute(
            &self.tx,
            "UPDATE support_conversations SET state = 'queued', inbox_id = $2, queued_at = $3,
               assigned_at = NULL, resolved_at = NULL,
               queue_front = $4, queue_rank = CASE WHEN $4 = 1 THEN queue_rank ELSE $3 END
             WHERE conversation_id = $1",
            &[&conv, &inbox.id, &at.millis(), &front],
        )
        .await?;
        self.append_event(conv, at, rules::queued(actor, &inbox.id, reason), out)
            .await?;
        // Closed (or a calendar that no longer reads, as closed): the notice.
        match inbox.fields.calendar() {
            Some(calendar) if calendar.is_open(at) => Ok(()),
            calendar => {
                let next_open = calendar.and_then(|c| c.next_open(at));
                let (text, system) =
                    rules::offline_notice(&inbox.fields.offline_message, next_open);
                self.post_system(conv, SYSTEM_SENDER, None, text, system, at, out)
                    .await?;
                Ok(())
            }
        }
    }

    /// Assigns `conv` to `agent`: the row, the membership (whole log),
    /// `conversation.added` for the agent, `support.assigned`, the notice.
    /// The caller holds the inbox, the agent and the conversation.
    async fn assign(
        &mut self,
        conv: &str,
        inbox: &str,
        agent: &str,
        actor: Option<&str>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        execute(
            &self.tx,
            "UPDATE support_conversations SET state = 'assigned', assignee_id = $2, assigned_at = $3,
               resolved_at = NULL, queue_front = 0
             WHERE conversation_id = $1",
            &[&conv, &agent, &at.millis()],
        )
        .await?;
        execute(
            &self.tx,
            "INSERT INTO agent_states (user_id, status, last_assigned_at, last_assigned_n)
             VALUES ($1, 'available', $2, 0)
             ON CONFLICT (user_id) DO UPDATE SET
               last_assigned_n = CASE WHEN agent_states.last_assigned_at = $2
                                      THEN coalesce(agent_states.last_assigned_n, 0) + 1 ELSE 0 END,
               last_assigned_at = $2",
            &[&agent, &at.millis()],
        )
        .await?;
        execute(
            &self.tx,
            "UPDATE inboxes SET last_agent_id = $2 WHERE id = $1",
            &[&inbox, &agent],
        )
        .await?;
        let already = self.members_of(conv).await?.iter().any(|m| m == agent);
        if !already {
            self.insert_member(conv, agent, MemberRole::Member, 1, at)
                .await?;
            self.set_member_count(conv).await?;
            out.push(self.added(agent, conv).await?);
        }
        self.append_event(conv, at, rules::assigned(actor, agent), out)
            .await?;
        let name = rows::user_by_id(&self.tx, agent)
            .await?
            .map(|u| u.display_name)
            .unwrap_or_else(|| agent.to_string());
        let (text, system) = rules::assigned_notice(agent, &name);
        self.post_system(conv, SYSTEM_SENDER, None, text, system, at, out)
            .await?;
        Ok(())
    }

    /// The assignee stops being a member (transfer, grace, removal).
    async fn unassign_member(
        &mut self,
        conv: &str,
        agent: &str,
        customer: &str,
        removed: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        if agent == customer {
            return Ok(());
        }
        self.deactivate_member(conv, agent).await?;
        self.set_member_count(conv).await?;
        removed.push(delivery::removed(agent, conv)?);
        Ok(())
    }

    /// The first half of a transfer: the previous assignee leaves (their
    /// `conversation.removed` is returned, to follow the events) and
    /// `support.transferred` is written.
    async fn hand_off(
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
            self.unassign_member(&row.conversation_id, p, &row.customer_id, &mut removed)
                .await?;
        }
        let event = rules::transferred(&actor.user_id, previous, &row.inbox_id, target);
        self.append_event(&row.conversation_id, at, event, out)
            .await?;
        Ok(removed)
    }

    /// Routing of one inbox: with the inbox and all its agents locked,
    /// assigns its front while it is open and the policy finds someone
    /// assignable; each step re-reads the agents.
    async fn route_inbox(
        &mut self,
        inbox: &str,
        connected: &HashSet<String>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u32> {
        self.lock_inboxes(&[inbox.to_string()]).await?;
        let Some(inbox) = load_inbox(&self.tx, inbox).await? else {
            return Ok(0);
        };
        if inbox.fields.routing == Routing::Manual || !inbox.fields.is_open(at) {
            return Ok(0);
        }
        self.lock_inbox_agents(&inbox.id).await?;
        let before = queue_snapshot(&self.tx, &inbox.id).await?;
        let mut assigned = 0;
        for (conv, _) in &before {
            let agents = agent_facts(&self.tx, &inbox, connected).await?;
            let r = query_one(
                &self.tx,
                "SELECT last_agent_id FROM inboxes WHERE id = $1",
                &[&inbox.id],
            )
            .await?;
            let last: Option<String> = col(&r, 0)?;
            let Some(agent) = routing::pick(inbox.fields.routing, &agents, last.as_deref()) else {
                break;
            };
            let agent = agent.user_id.clone();
            self.lock_conversation(conv).await?;
            // Queued chats of a locked inbox stay queued (every change of
            // their state holds the inbox); read again all the same, so a
            // broken invariant skips a chat instead of assigning it twice.
            let still_queued = load_support(&self.tx, conv)
                .await?
                .is_some_and(|r| r.state == SupportState::Queued && r.inbox_id == inbox.id);
            if !still_queued {
                continue;
            }
            self.assign(conv, &inbox.id, &agent, None, at, out).await?;
            assigned += 1;
        }
        if assigned > 0 {
            let after = queue_snapshot(&self.tx, &inbox.id).await?;
            queue_moves(&before, &after, out)?;
        }
        Ok(assigned)
    }

    /// An agent's assigned chats (of `only_inbox`, or all):
    /// (conversation, inbox, customer).
    async fn assigned_chats(
        &self,
        agent: &str,
        only_inbox: Option<&str>,
    ) -> StoreResult<Vec<(String, String, String)>> {
        query(
            &self.tx,
            "SELECT conversation_id, inbox_id, customer_id FROM support_conversations
             WHERE assignee_id = $1 AND state = 'assigned' AND ($2::text IS NULL OR inbox_id = $2)
             ORDER BY queue_rank, conversation_id",
            &[&agent, &only_inbox],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?)))
        .collect()
    }

    /// An agent's open chats (of `only_inbox`, or all) back to the front
    /// of their queues. Locks the inboxes concerned, then the agent, then
    /// each conversation.
    async fn requeue_agent_chats(
        &mut self,
        agent: &str,
        only_inbox: Option<&str>,
        reason: QueueReason,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Vec<String>> {
        // The inboxes as first read; a chat assigned meanwhile in another
        // inbox is one the agent's lock (taken next) made wait, so the
        // second read, under it, is the whole set. Its inbox, if new, is
        // locked late (see `lock_support`).
        let first = self.assigned_chats(agent, only_inbox).await?;
        let mut inboxes: Vec<String> = first.iter().map(|(_, i, _)| i.clone()).collect();
        inboxes.extend(only_inbox.map(str::to_string));
        self.lock_inboxes(&inboxes).await?;
        self.lock_agents([agent.to_string()]).await?;
        let chats = self.assigned_chats(agent, only_inbox).await?;
        let mut touched: Vec<String> = Vec::new();
        for (_, inbox, _) in &chats {
            if !touched.contains(inbox) {
                touched.push(inbox.clone());
            }
        }
        let late: Vec<String> = touched
            .iter()
            .filter(|i| !inboxes.contains(i))
            .cloned()
            .collect();
        if !late.is_empty() {
            self.lock_inboxes(&late).await?;
        }
        for inbox_id in &touched {
            let inbox = require_inbox(&self.tx, inbox_id).await?;
            let before = queue_snapshot(&self.tx, inbox_id).await?;
            let mut removed = Vec::new();
            for (conv, _, customer) in chats.iter().filter(|(_, i, _)| i == inbox_id) {
                self.lock_conversation(conv).await?;
                self.unassign_member(conv, agent, customer, &mut removed)
                    .await?;
                self.enqueue(conv, &inbox, reason, None, at, out).await?;
            }
            out.extend(removed);
            let after = queue_snapshot(&self.tx, inbox_id).await?;
            queue_moves(&before, &after, out)?;
        }
        Ok(touched)
    }

    /// A customer writing in their resolved conversation reopens it first
    /// (the send holds the conversation's lock). Returns whether it did.
    pub(crate) async fn support_before_send(
        &mut self,
        m: &NewMessage,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<bool> {
        let Some(row) = load_support(&self.tx, &m.conversation_id).await? else {
            return Ok(false);
        };
        if row.customer_id != m.sender_id || row.state != SupportState::Resolved {
            return Ok(false);
        }
        let actor = Actor {
            user_id: m.sender_id.clone(),
            is_admin: false,
        };
        // The previous assignee takes it back if assignable (and connected,
        // the flag the routing job keeps). That assignment needs the inbox
        // and the agent, locked after the conversation here, against the
        // order: so only if both are free at once (`SKIP LOCKED`, never a
        // wait, hence no deadlock); otherwise the chat is queued and the
        // routing after commit assigns it.
        let assignee_connected = match &row.assignee_id {
            Some(a) => self.try_lock_for_reassign(&row.inbox_id, a).await?,
            None => false,
        };
        self.reopen_locked(&row, &actor, assignee_connected, m.at, out)
            .await?;
        Ok(true)
    }

    /// Reopens a resolved conversation; the caller holds the conversation
    /// (and, when the previous assignee may take it back at once, the
    /// inbox and that agent).
    async fn reopen_locked(
        &mut self,
        row: &SupportRow,
        actor: &Actor,
        assignee_connected: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let s = standing(&self.tx, row, &actor.user_id, actor.is_admin).await?;
        let other: Option<String> = query_opt(
            &self.tx,
            "SELECT conversation_id FROM support_conversations
             WHERE inbox_id = $1 AND customer_id = $2 AND state <> 'resolved' AND conversation_id <> $3",
            &[&row.inbox_id, &row.customer_id, &row.conversation_id],
        )
        .await?
        .map(|r| col(&r, 0))
        .transpose()?;
        rules::check_reopen(&s, row, other.as_deref())?;
        let inbox = require_inbox(&self.tx, &row.inbox_id).await?;
        let conv = &row.conversation_id;
        // Marked open first so that the unique index can speak.
        match execute_raw(
            &self.tx,
            "UPDATE support_conversations SET state = 'queued', resolved_at = NULL WHERE conversation_id = $1",
            &[conv],
        )
        .await
        {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(rules::ANOTHER_OPEN.into()),
            Err(e) => return Err(rows::db_err(e)),
        }
        self.append_event(conv, at, rules::reopened(&actor.user_id), out)
            .await?;
        let previous = row.assignee_id.clone();
        let back_to_previous = match &previous {
            Some(agent) if assignee_connected => {
                let connected = HashSet::from([agent.clone()]);
                inbox.fields.is_open(at)
                    && agent_facts(&self.tx, &inbox, &connected)
                        .await?
                        .iter()
                        .any(|a| a.user_id == *agent && a.assignable())
            }
            _ => false,
        };
        let before = queue_snapshot(&self.tx, &inbox.id).await?;
        if let (true, Some(agent)) = (back_to_previous, previous.as_deref()) {
            self.assign(conv, &inbox.id, agent, None, at, out).await?;
        } else {
            let mut removed = Vec::new();
            if let Some(agent) = previous.as_deref() {
                self.unassign_member(conv, agent, &row.customer_id, &mut removed)
                    .await?;
            }
            self.enqueue(
                conv,
                &inbox,
                QueueReason::Reopened,
                Some(&actor.user_id),
                at,
                out,
            )
            .await?;
            out.extend(removed);
        }
        let after = queue_snapshot(&self.tx, &inbox.id).await?;
        queue_moves(&before, &after, out)
    }

    async fn open_support(
        &mut self,
        id: &str,
        inbox: &str,
        customer: &str,
        first: Option<NewMessage>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(String, bool)> {
        let inbox = require_inbox(&self.tx, inbox).await?;
        let before = queue_snapshot(&self.tx, &inbox.id).await?;
        // The unique index decides: a concurrent open by the same customer
        // waits for the other insert, then inserts nothing.
        let inserted = execute(
            &self.tx,
            "INSERT INTO support_conversations (conversation_id, inbox_id, customer_id, state, queued_at, queue_rank)
             VALUES ($1, $2, $3, 'queued', $4, $4)
             ON CONFLICT (inbox_id, customer_id) WHERE state <> 'resolved' DO NOTHING",
            &[&id, &inbox.id, &customer, &at.millis()],
        )
        .await?;
        if inserted == 0 {
            let existing: String = match query_opt(
                &self.tx,
                "SELECT conversation_id FROM support_conversations
                 WHERE inbox_id = $1 AND customer_id = $2 AND state <> 'resolved'",
                &[&inbox.id, &customer],
            )
            .await?
            {
                Some(r) => col(&r, 0)?,
                None => {
                    return Err(StoreError::Unavailable(
                        "support conversation changed; retry".into(),
                    ));
                }
            };
            // A retried first message with the same client_id lands in
            // the open conversation once, like any retried send.
            if let Some(mut m) = first {
                m.conversation_id = existing.clone();
                self.send_message(&m, out).await?;
            }
            return Ok((existing, false));
        }
        let title = Some(inbox.fields.name.clone());
        execute(
            &self.tx,
            "INSERT INTO conversations (id, kind, title, avatar_url, created_at, last_seq, last_activity_at, member_count, direct_key)
             VALUES ($1, $2, $3, NULL, $4, 0, $4, 0, NULL)",
            &[&id, &ConversationKind::Support.as_str(), &title, &at.millis()],
        )
        .await?;
        let plan = NewConversation {
            kind: ConversationKind::Support,
            title: title.clone(),
            direct_key: None,
            members: vec![(customer.to_string(), MemberRole::Member)],
            created: NewEvent::by(
                customer,
                EventData::ConversationCreated(ConversationCreated {
                    kind: ConversationKind::Support,
                    member_ids: vec![customer.to_string()],
                    title,
                }),
            ),
            added: vec![customer.to_string()],
        };
        self.populate_conversation(id, plan, at, out).await?;
        if let Some(mut m) = first {
            m.conversation_id = id.to_string();
            self.send_message(&m, out).await?;
        }
        // `enqueue` writes `support.queued` (and the offline notice) on
        // the row the insert made.
        self.enqueue(id, &inbox, QueueReason::New, Some(customer), at, out)
            .await?;
        let after = queue_snapshot(&self.tx, &inbox.id).await?;
        queue_moves(&before, &after, out)?;
        Ok((id.to_string(), true))
    }

    async fn claim(
        &mut self,
        conv: &str,
        actor: &Actor,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let (row, st) = self
            .lock_support(conv, actor, &[], std::slice::from_ref(&actor.user_id))
            .await?;
        let inbox = require_inbox(&self.tx, &row.inbox_id).await?;
        let below = if st.is_inbox_agent {
            // Status and connection do not matter for a claim.
            let everyone = HashSet::from([actor.user_id.clone()]);
            agent_facts(&self.tx, &inbox, &everyone)
                .await?
                .iter()
                .any(|a| a.user_id == actor.user_id && a.open_chats < a.capacity)
        } else {
            false
        };
        rules::check_claim(&st, &row, below)?;
        let before = queue_snapshot(&self.tx, &inbox.id).await?;
        self.assign(
            conv,
            &inbox.id,
            &actor.user_id,
            Some(&actor.user_id),
            at,
            out,
        )
        .await?;
        let after = queue_snapshot(&self.tx, &inbox.id).await?;
        queue_moves(&before, &after, out)
    }

    async fn transfer(
        &mut self,
        conv: &str,
        actor: &Actor,
        target: &TransferTarget,
        target_connected: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let (more_inboxes, more_agents) = match target {
            TransferTarget::Agent(a) => (Vec::new(), vec![a.clone()]),
            TransferTarget::Inbox(i) => (vec![i.clone()], Vec::new()),
        };
        let (row, st) = self
            .lock_support(conv, actor, &more_inboxes, &more_agents)
            .await?;
        rules::check_transfer(&st, &row)?;
        let from_inbox = require_inbox(&self.tx, &row.inbox_id).await?;
        let previous = row
            .assignee_id
            .clone()
            .filter(|_| row.state == SupportState::Assigned);
        match target {
            TransferTarget::Agent(agent) => {
                if user_role(&self.tx, agent).await?.is_none() {
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
                let facts = agent_facts(&self.tx, &from_inbox, &connected).await?;
                rules::check_transfer_to_agent(
                    previous.as_deref(),
                    agent,
                    facts.iter().find(|a| a.user_id == *agent),
                )?;
                let before = queue_snapshot(&self.tx, &from_inbox.id).await?;
                let removed = self
                    .hand_off(&row, previous.as_deref(), actor, target, at, out)
                    .await?;
                self.assign(conv, &from_inbox.id, agent, Some(&actor.user_id), at, out)
                    .await?;
                out.extend(removed);
                let after = queue_snapshot(&self.tx, &from_inbox.id).await?;
                queue_moves(&before, &after, out)
            }
            TransferTarget::Inbox(inbox_id) => {
                let to = load_inbox(&self.tx, inbox_id)
                    .await?
                    .ok_or(DomainError::NotFoundIn {
                        what: "inbox",
                        field: "inbox_id",
                    })?;
                let before_from = queue_snapshot(&self.tx, &from_inbox.id).await?;
                let before_to = queue_snapshot(&self.tx, &to.id).await?;
                let removed = self
                    .hand_off(&row, previous.as_deref(), actor, target, at, out)
                    .await?;
                match execute_raw(
                    &self.tx,
                    "UPDATE support_conversations SET inbox_id = $2, queue_front = 0 WHERE conversation_id = $1",
                    &[&conv, &to.id],
                )
                .await
                {
                    Ok(_) => {}
                    Err(e) if is_unique_violation(&e) => {
                        return Err(rules::CUSTOMER_OPEN_THERE.into());
                    }
                    Err(e) => return Err(rows::db_err(e)),
                }
                self.enqueue(
                    conv,
                    &to,
                    QueueReason::Transferred,
                    Some(&actor.user_id),
                    at,
                    out,
                )
                .await?;
                out.extend(removed);
                let after_from = queue_snapshot(&self.tx, &from_inbox.id).await?;
                queue_moves(&before_from, &after_from, out)?;
                let after_to = queue_snapshot(&self.tx, &to.id).await?;
                queue_moves(&before_to, &after_to, out)
            }
        }
    }

    async fn resolve(
        &mut self,
        conv: &str,
        actor: &Actor,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let (row, st) = self.lock_support(conv, actor, &[], &[]).await?;
        rules::check_resolve(&st, &row)?;
        let before = queue_snapshot(&self.tx, &row.inbox_id).await?;
        let assignee = row
            .assignee_id
            .clone()
            .filter(|_| row.state == SupportState::Assigned);
        execute(
            &self.tx,
            "UPDATE support_conversations SET state = 'resolved', resolved_at = $2, queue_front = 0
             WHERE conversation_id = $1",
            &[&conv, &at.millis()],
        )
        .await?;
        self.append_event(
            conv,
            at,
            rules::resolved(&actor.user_id, assignee.as_deref()),
            out,
        )
        .await?;
        let after = queue_snapshot(&self.tx, &row.inbox_id).await?;
        queue_moves(&before, &after, out)
    }
}

#[async_trait]
impl SupportStore for PostgresStore {
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
        let f = &row.fields;
        let c = self.client().await?;
        let hours = f.hours.as_ref().map(json).transpose()?;
        let holidays = json(&f.holidays)?;
        let cap = cap_param(Some(f.max_chats_per_agent));
        let params: Params<'_> = &[
            &row.id,
            &f.name,
            &f.timezone,
            &hours,
            &holidays,
            &f.offline_message,
            &f.routing.as_str(),
            &cap,
            &row.created_at,
        ];
        execute(
            &c,
            "INSERT INTO inboxes (id, name, timezone, hours, holidays, offline_message, routing, max_chats_per_agent, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            params,
        )
        .await?;
        Ok(row)
    }

    async fn update_inbox(&self, id: &str, patch: InboxRequest) -> StoreResult<InboxRow> {
        let id = id.to_string();
        in_tx!(self, move |w, _out| async {
            w.lock_inboxes(std::slice::from_ref(&id)).await?;
            let base = require_inbox(&w.tx, &id).await?;
            let f = rules::inbox_fields(&patch, Some(&base.fields))?;
            let hours = f.hours.as_ref().map(json).transpose()?;
            let holidays = json(&f.holidays)?;
            let cap = cap_param(Some(f.max_chats_per_agent));
            let params: Params<'_> = &[
                &id,
                &f.name,
                &f.timezone,
                &hours,
                &holidays,
                &f.offline_message,
                &f.routing.as_str(),
                &cap,
            ];
            execute(
                &w.tx,
                "UPDATE inboxes SET name = $2, timezone = $3, hours = $4, holidays = $5, offline_message = $6,
                   routing = $7, max_chats_per_agent = $8 WHERE id = $1",
                params,
            )
            .await?;
            Ok(InboxRow {
                id: id.clone(),
                fields: f,
                created_at: base.created_at,
            })
        })
    }

    async fn inbox(&self, id: &str) -> StoreResult<InboxRow> {
        let c = self.client().await?;
        require_inbox(&c, id).await
    }

    async fn inboxes(&self, agent: Option<&str>) -> StoreResult<Vec<InboxRow>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {INBOX_COLS} FROM inboxes
                 WHERE $1::text IS NULL OR id IN (SELECT inbox_id FROM inbox_agents WHERE user_id = $1)
                 ORDER BY created_at, id"
            ),
            &[&agent],
        )
        .await?
        .iter()
        .map(inbox_row)
        .collect()
    }

    async fn put_inbox_agent(
        &self,
        inbox: &str,
        user: &str,
        max_chats: Option<u32>,
    ) -> StoreResult<()> {
        let (inbox, user) = (inbox.to_string(), user.to_string());
        in_tx!(self, move |w, _out| async {
            // The inbox lock orders concurrent additions' positions.
            w.lock_inboxes(std::slice::from_ref(&inbox)).await?;
            require_inbox(&w.tx, &inbox).await?;
            let role = user_role(&w.tx, &user)
                .await?
                .ok_or_else(|| StoreError::not_found("user"))?;
            rules::require_agent_user(role)?;
            let cap = cap_param(max_chats);
            execute(
                &w.tx,
                "INSERT INTO inbox_agents (inbox_id, user_id, max_chats, position)
                 VALUES ($1, $2, $3, (SELECT coalesce(max(position), 0) + 1 FROM inbox_agents WHERE inbox_id = $1))
                 ON CONFLICT (inbox_id, user_id) DO UPDATE SET max_chats = excluded.max_chats",
                &[&inbox, &user, &cap],
            )
            .await?;
            // The agent's capacity lock exists from now on, so routing
            // only has to take it.
            execute(
                &w.tx,
                "INSERT INTO agent_states (user_id, status) VALUES ($1, 'available') ON CONFLICT (user_id) DO NOTHING",
                &[&user],
            )
            .await?;
            Ok(())
        })
    }

    async fn remove_inbox_agent(&self, inbox: &str, user: &str, at: Timestamp) -> StoreResult<()> {
        let (inbox, user) = (inbox.to_string(), user.to_string());
        in_tx!(self, move |w, out| async {
            w.lock_inboxes(std::slice::from_ref(&inbox)).await?;
            require_inbox(&w.tx, &inbox).await?;
            let n = execute(
                &w.tx,
                "DELETE FROM inbox_agents WHERE inbox_id = $1 AND user_id = $2",
                &[&inbox, &user],
            )
            .await?;
            if n == 0 {
                return Err(StoreError::not_found("agent"));
            }
            w.requeue_agent_chats(&user, Some(&inbox), QueueReason::AgentRemoved, at, out)
                .await?;
            Ok(())
        })
    }

    async fn inbox_agents(&self, inbox: &str) -> StoreResult<Vec<InboxAgentRow>> {
        let c = self.client().await?;
        require_inbox(&c, inbox).await?;
        query(
            &c,
            "SELECT a.user_id, a.max_chats, s.status,
               (SELECT count(*) FROM support_conversations c WHERE c.assignee_id = a.user_id AND c.state = 'assigned')
             FROM inbox_agents a LEFT JOIN agent_states s ON s.user_id = a.user_id
             WHERE a.inbox_id = $1 ORDER BY a.position",
            &[&inbox],
        )
        .await?
        .iter()
        .map(|r| {
            let status: Option<String> = col(r, 2)?;
            Ok(InboxAgentRow {
                user_id: col(r, 0)?,
                max_chats: col_opt_u32(r, 1)?,
                status: status
                    .and_then(|s| AgentStatus::parse(&s))
                    .unwrap_or_default(),
                open_chats: col_count(r, 3)?,
            })
        })
        .collect()
    }

    async fn is_inbox_agent(&self, inbox: &str, user: &str) -> StoreResult<bool> {
        let c = self.client().await?;
        is_agent_of(&c, inbox, user).await
    }

    async fn agent_inboxes(&self, user: &str) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::strings(
            &c,
            "SELECT inbox_id FROM inbox_agents WHERE user_id = $1 ORDER BY inbox_id",
            &[&user],
        )
        .await
    }

    async fn set_agent_status(&self, user: &str, status: AgentStatus) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO agent_states (user_id, status) VALUES ($1, $2)
             ON CONFLICT (user_id) DO UPDATE SET status = excluded.status",
            &[&user, &status.as_str()],
        )
        .await?;
        Ok(())
    }

    async fn set_agent_connected(&self, user: &str, connected: bool) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO agent_states (user_id, status, connected) VALUES ($1, 'available', $2)
             ON CONFLICT (user_id) DO UPDATE SET connected = excluded.connected",
            &[&user, &connected],
        )
        .await?;
        Ok(())
    }

    async fn agent_status(&self, user: &str) -> StoreResult<(AgentStatus, u32)> {
        let c = self.client().await?;
        Ok((
            agent_status_of(&c, user).await?,
            open_chats(&c, user).await?,
        ))
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
        in_tx!(self, move |w, out| w
            .open_support(&id, &inbox, &customer, first, at, out))
    }

    async fn route(&self, inbox: &str, connected: Vec<String>, at: Timestamp) -> StoreResult<u32> {
        let inbox = inbox.to_string();
        let connected: HashSet<String> = connected.into_iter().collect();
        in_tx!(self, move |w, out| w
            .route_inbox(&inbox, &connected, at, out))
    }

    async fn claim(&self, conv: &str, actor: &Actor, at: Timestamp) -> StoreResult<()> {
        let (conv, actor) = (conv.to_string(), actor.clone());
        in_tx!(self, move |w, out| w.claim(&conv, &actor, at, out))
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
        in_tx!(self, move |w, out| w.transfer(
            &conv,
            &actor,
            &target,
            target_connected,
            at,
            out
        ))
    }

    async fn resolve(&self, conv: &str, actor: &Actor, at: Timestamp) -> StoreResult<()> {
        let (conv, actor) = (conv.to_string(), actor.clone());
        in_tx!(self, move |w, out| w.resolve(&conv, &actor, at, out))
    }

    async fn reopen(
        &self,
        conv: &str,
        actor: &Actor,
        assignee_connected: bool,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (conv, actor) = (conv.to_string(), actor.clone());
        in_tx!(self, move |w, out| async {
            let (row, _) = w.lock_support(&conv, &actor, &[], &[]).await?;
            w.reopen_locked(&row, &actor, assignee_connected, at, out)
                .await
        })
    }

    async fn requeue_agent(
        &self,
        agent: &str,
        reason: QueueReason,
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let agent = agent.to_string();
        in_tx!(self, move |w, out| w
            .requeue_agent_chats(&agent, None, reason, at, out))
    }

    async fn support_row(&self, conv: &str) -> StoreResult<Option<SupportRow>> {
        let c = self.client().await?;
        load_support(&c, conv).await
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
        in_tx!(self, move |w, out| async {
            // The conversation's lock orders this with sends (seqs) and
            // makes the idempotency check exact.
            w.lock_conversation(&conv).await?;
            load_support(&w.tx, &conv)
                .await?
                .ok_or_else(|| StoreError::not_found("conversation"))?;
            let earlier = query_opt(
                &w.tx,
                &format!(
                    "SELECT {} FROM messages WHERE conversation_id = $1 AND sender_id = $2 AND client_id = $3",
                    rows::MESSAGE_COLS
                ),
                &[&conv, &author, &client_id],
            )
            .await?;
            if let Some(r) = earlier {
                let row = rows::message_row(&r)?;
                return Ok((
                    crate::views::message_view(&w.tx, &author, &row, None).await?,
                    false,
                ));
            }
            let system = rules::integration_note(&author);
            let row = w
                .post_system(&conv, &author, Some(&client_id), text, system, at, out)
                .await?;
            Ok((row.to_wire(), true))
        })
    }

    async fn queue(&self, inbox: &str, after: u32, limit: u32) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        require_inbox(&c, inbox).await?;
        rows::strings(
            &c,
            "SELECT conversation_id FROM support_conversations
             WHERE inbox_id = $1 AND state = 'queued'
             ORDER BY queue_front DESC, queue_rank, conversation_id LIMIT $3 OFFSET $2",
            &[&inbox, &i64::from(after), &i64::from(limit)],
        )
        .await
    }

    async fn agent_conversations(
        &self,
        agent: &str,
        state: SupportState,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(String, i64)>> {
        let c = self.client().await?;
        let paged = before.is_some();
        let (at, id) = before.unwrap_or((i64::MAX, String::new()));
        query(
            &c,
            "SELECT s.conversation_id, c.last_activity_at FROM support_conversations s
             JOIN conversations c ON c.id = s.conversation_id
             WHERE s.assignee_id = $1 AND s.state = $2
               AND (NOT $5 OR c.last_activity_at < $3 OR (c.last_activity_at = $3 AND s.conversation_id < $4))
             ORDER BY c.last_activity_at DESC, s.conversation_id DESC LIMIT $6",
            &[&agent, &state.as_str(), &at, &id, &paged, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
        .collect()
    }

    async fn agents_with_open_chats(&self) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::strings(
            &c,
            "SELECT DISTINCT assignee_id FROM support_conversations WHERE state = 'assigned' AND assignee_id IS NOT NULL",
            &[],
        )
        .await
    }
}
