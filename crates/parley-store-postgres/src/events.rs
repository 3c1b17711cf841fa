//! How a write locks, appends a plan's events and changes members. Each
//! write runs inside its own READ COMMITTED transaction ([`WriteTx`]):
//! checks, seq allocation, the event row and its delivery happen
//! atomically, so no reader ever sees a seq without its event.
//!
//! SQLite has one writer, so its facts can never change while a rule looks
//! at them. Here many connections (and processes) write at once, so every
//! write that appends events first locks the conversation row
//! ([`WriteTx::lock_conversation`], `FOR NO KEY UPDATE`: the same lock the
//! seq's `UPDATE ... RETURNING last_seq` takes, weak enough not to block
//! foreign-key checks) and only then reads membership, roles, the
//! idempotency key or reactions. Under READ COMMITTED each statement sees
//! everything committed before it started, and the lock is granted only
//! once the previous writer of that conversation committed or rolled back,
//! so the facts are exactly what a serial (SQLite-like) execution would
//! see. Watermark moves lock the member row instead; refresh-token
//! rotation locks the token row. Nothing caches membership across
//! transactions: the recipients of an event are read in the transaction
//! that stores it.

use crate::rows::{self, col, col_u64, execute, query_one, query_opt, seq_param};
use crate::views;
use deadpool_postgres::Transaction;
use parley_domain::NewEvent;
use parley_domain::conversations::NewConversation;
use parley_protocol::{Event, MemberRole, Timestamp};
use parley_store::{Delivery, StoreError, StoreResult, delivery};
use std::sync::Arc;

/// Stores an event (`$1` conversation, `$2` seq, `$3` type, `$4` body,
/// `$5` its time in ms, `$6` its actor or '') and, in the same statement,
/// one pending webhook delivery per active webhook listing its type and,
/// for a `message.created`, one push fan-out row (the push worker expands
/// it per subscription: `push.rs`) (protocol.md §12): no extra round trip
/// for a send, one row however large the group, and no event without its
/// deliveries.
pub const INSERT_EVENT: &str = "WITH stored AS (
       INSERT INTO events (conversation_id, seq, type, body) VALUES ($1, $2, $3, $4)),
     pushes AS (
       INSERT INTO outbox (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at, topic, seq)
       SELECT 'pfo_' || replace(gen_random_uuid()::text, '-', ''), 'push_fanout', $6, $3, $4, 'pending', 0, $5, $5, $1, $2
       WHERE $3 = 'message.created' AND EXISTS (SELECT 1 FROM push_subscriptions))
     INSERT INTO outbox (id, channel, target, event_type, body, status, attempts, created_at, next_attempt_at)
     SELECT 'msg_' || replace(gen_random_uuid()::text, '-', ''), 'webhook', w.id, $3, $4, 'pending', 0, $5, $5
     FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id
     WHERE e.event_type = $3 AND w.active";

/// One write's transaction, plus the conversations it locked or wrote
/// (the keys that order its deliveries, see `commit.rs`; a support
/// routing step writes several).
pub struct WriteTx<'a> {
    pub tx: Transaction<'a>,
    pub keys: Vec<String>,
    /// The write's send reopened a resolved support conversation (told to
    /// the support area after commit, as on SQLite).
    pub reopened_support: bool,
}

impl WriteTx<'_> {
    /// Records that this write orders deliveries of `conv`.
    pub fn touch(&mut self, conv: &str) {
        if !self.keys.iter().any(|k| k == conv) {
            self.keys.push(conv.to_string());
        }
    }

    /// Locks the conversation row until commit: writers of one
    /// conversation run one at a time, in every process. Returns
    /// `not_found` (as `require_member` would) when it does not exist.
    pub async fn lock_conversation(&mut self, conv: &str) -> StoreResult<()> {
        query_opt(
            &self.tx,
            "SELECT last_seq FROM conversations WHERE id = $1 FOR NO KEY UPDATE",
            &[&conv],
        )
        .await?
        .ok_or(StoreError::not_found("conversation"))?;
        self.touch(conv);
        Ok(())
    }

    /// Locks the conversation of a message; `not_found` if there is no
    /// such message. The caller then re-reads the message under the lock.
    pub async fn lock_message_conversation(&mut self, message_id: &str) -> StoreResult<()> {
        let conv: String = match query_opt(
            &self.tx,
            "SELECT conversation_id FROM messages WHERE id = $1",
            &[&message_id],
        )
        .await?
        {
            Some(r) => col(&r, 0)?,
            None => return Err(StoreError::not_found("message")),
        };
        self.lock_conversation(&conv).await.map_err(|e| match e {
            StoreError::Domain(_) => StoreError::not_found("message"),
            other => other,
        })
    }

    /// Allocates the next seq, stores the event and queues its delivery to
    /// the conversation's current members.
    pub async fn append_event(
        &mut self,
        conv: &str,
        at: Timestamp,
        event: NewEvent,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u64> {
        let r = query_one(
            &self.tx,
            "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
            &[&conv],
        )
        .await?;
        let seq = col_u64(&r, 0)?;
        self.touch(conv);
        let recipients = self.members_of(conv).await?;
        let event = Event {
            conversation_id: conv.to_string(),
            seq,
            actor_id: event.actor_id,
            at,
            data: event.data,
        };
        let (body, d) = delivery::event(&event, recipients)?;
        execute(
            &self.tx,
            INSERT_EVENT,
            &[
                &event.conversation_id,
                &seq_param(seq),
                &event.kind(),
                &body,
                &at.millis(),
                &event.actor_id.as_deref().unwrap_or_default(),
            ],
        )
        .await?;
        out.push(d);
        Ok(seq)
    }

    /// Current members, read in this transaction (no cache: other
    /// processes change membership too).
    pub async fn members_of(&self, conv: &str) -> StoreResult<Arc<[String]>> {
        let ids = rows::strings(
            &self.tx,
            "SELECT user_id FROM members WHERE conversation_id = $1 AND active = TRUE",
            &[&conv],
        )
        .await?;
        Ok(Arc::from(ids))
    }

    /// `conversation.added` for `user`, with the conversation as they see it.
    pub async fn added(&self, user: &str, conv: &str) -> StoreResult<Delivery> {
        delivery::added(user, views::conversation_view(&self.tx, user, conv).await?)
    }

    pub async fn insert_member(
        &self,
        conv: &str,
        user: &str,
        role: MemberRole,
        joined_seq: u64,
        at: Timestamp,
    ) -> StoreResult<()> {
        execute(
            &self.tx,
            "INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_at, read_seq, delivered_seq, muted_until, active)
             VALUES ($1, $2, $3, $4, $5, $4, $4, NULL, TRUE)
             ON CONFLICT (conversation_id, user_id) DO UPDATE SET
               role = excluded.role, joined_seq = excluded.joined_seq, joined_at = excluded.joined_at,
               read_seq = excluded.read_seq, delivered_seq = excluded.delivered_seq,
               muted_until = NULL, active = TRUE",
            &[&conv, &user, &role.as_str(), &seq_param(joined_seq), &at.millis()],
        )
        .await?;
        Ok(())
    }

    pub async fn deactivate_member(&self, conv: &str, user: &str) -> StoreResult<()> {
        execute(
            &self.tx,
            "UPDATE members SET active = FALSE WHERE conversation_id = $1 AND user_id = $2",
            &[&conv, &user],
        )
        .await?;
        Ok(())
    }

    pub async fn set_member_count(&self, conv: &str) -> StoreResult<()> {
        execute(
            &self.tx,
            "UPDATE conversations SET member_count =
               (SELECT count(*) FROM members WHERE conversation_id = $1 AND active = TRUE) WHERE id = $1",
            &[&conv],
        )
        .await?;
        Ok(())
    }

    pub async fn set_role(&self, id: &str, user: &str, role: MemberRole) -> StoreResult<()> {
        execute(
            &self.tx,
            "UPDATE members SET role = $3 WHERE conversation_id = $1 AND user_id = $2",
            &[&id, &user, &role.as_str()],
        )
        .await?;
        Ok(())
    }

    /// The seq the next event will get; exact only while the conversation
    /// row is locked (every caller has locked it).
    pub async fn peek_next_seq(&self, id: &str) -> StoreResult<u64> {
        let r = query_one(
            &self.tx,
            "SELECT last_seq + 1 FROM conversations WHERE id = $1",
            &[&id],
        )
        .await?;
        col_u64(&r, 0)
    }

    /// Creates a planned conversation whose row is already inserted: its
    /// members and its created event; `conversation.added` goes to each
    /// member before the event.
    pub async fn populate_conversation(
        &mut self,
        id: &str,
        plan: NewConversation,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        for (user, role) in &plan.members {
            self.insert_member(id, user, *role, 1, at).await?;
        }
        self.set_member_count(id).await?;
        let mut events = Vec::new();
        self.append_event(id, at, plan.created, &mut events).await?;
        for u in &plan.added {
            out.push(self.added(u, id).await?);
        }
        out.extend(events);
        Ok(())
    }
}

/// A mismatch would mean the lock did not hold, so the transaction is
/// refused rather than storing a wrong seq.
pub fn seq_matches(got: u64, expected: u64) -> StoreResult<()> {
    if got == expected {
        Ok(())
    } else {
        Err(StoreError::Internal(format!(
            "seq allocated {got}, expected {expected}"
        )))
    }
}
