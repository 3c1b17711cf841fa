//! How the writer appends a plan's events and member changes: the seq is
//! allocated in the transaction that stores the event, and the event's
//! delivery goes to the members at that moment.

use crate::WriterState;
use crate::rows::{self, db_err, seq_param};
use crate::views;
use parley_domain::NewEvent;
use parley_domain::conversations::NewConversation;
use parley_protocol::events::EventData;
use parley_protocol::{ConversationKind, Event, MemberRole, Timestamp};
use parley_store::{Delivery, StoreError, StoreResult, delivery};
use rusqlite::params;
use std::sync::Arc;

/// Entries kept in each writer cache before it starts over.
const CACHE_LIMIT: usize = 50_000;

impl WriterState {
    /// Allocates the next seq, stores the event and queues its delivery to
    /// the conversation's current members.
    pub(crate) fn append_event(
        &mut self,
        conv: &str,
        at: Timestamp,
        event: NewEvent,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u64> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
            )
            .map_err(db_err)?
            .query_row([conv], |r| r.get(0))
            .map_err(db_err)?;
        self.store_event(
            Event {
                conversation_id: conv.to_string(),
                seq: seq as u64,
                actor_id: event.actor_id,
                at,
                data: event.data,
            },
            out,
        )
    }

    /// Stores an event whose seq is already allocated and queues its
    /// delivery to the conversation's current members.
    pub(crate) fn store_event(
        &mut self,
        event: Event,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u64> {
        let recipients = self.members_of(&event.conversation_id)?;
        let (body, d) = delivery::event(&event, recipients)?;
        self.conn
            .prepare_cached(
                "INSERT INTO events (conversation_id, seq, type, body) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db_err)?
            .execute(params![
                event.conversation_id,
                seq_param(event.seq),
                event.kind(),
                body
            ])
            .map_err(db_err)?;
        // Its webhook deliveries, in the same transaction (protocol.md §12).
        self.conn
            .prepare_cached(crate::webhooks::ENQUEUE_DELIVERIES)
            .map_err(db_err)?
            .execute(params![event.kind(), body, event.at.millis()])
            .map_err(db_err)?;
        // And a new message's pushes (protocol.md §12, "Web Push").
        if let EventData::MessageCreated(_) = &event.data {
            self.conn
                .prepare_cached(crate::push::ENQUEUE_PUSHES)
                .map_err(db_err)?
                .execute(params![
                    event.conversation_id,
                    event.actor_id.as_deref().unwrap_or_default(),
                    seq_param(event.seq),
                    body,
                    event.at.millis()
                ])
                .map_err(db_err)?;
        }
        out.push(d);
        Ok(event.seq)
    }

    /// Current members, cached: the writer is the only one changing them.
    pub(crate) fn members_of(&mut self, conv: &str) -> StoreResult<Arc<[String]>> {
        if let Some(m) = self.members_cache.get(conv) {
            return Ok(m.clone());
        }
        let ids = rows::strings(
            &self.conn,
            "SELECT user_id FROM members WHERE conversation_id = ?1 AND active = 1",
            [conv],
        )?;
        let ids: Arc<[String]> = Arc::from(ids);
        if self.members_cache.len() > CACHE_LIMIT {
            self.members_cache.clear();
        }
        self.members_cache.insert(conv.to_string(), ids.clone());
        Ok(ids)
    }

    /// A conversation's kind (`None`: no such conversation), cached: it
    /// never changes.
    pub(crate) fn conversation_kind(
        &mut self,
        conv: &str,
    ) -> StoreResult<Option<ConversationKind>> {
        if let Some(k) = self.kinds_cache.get(conv) {
            return Ok(Some(*k));
        }
        let Some(kind) = rows::conversation_kind(&self.conn, conv)? else {
            return Ok(None);
        };
        if self.kinds_cache.len() > CACHE_LIMIT {
            self.kinds_cache.clear();
        }
        self.kinds_cache.insert(conv.to_string(), kind);
        Ok(Some(kind))
    }

    /// The seq the next event will get (exact: the writer is alone).
    pub(crate) fn peek_next_seq(&self, id: &str) -> StoreResult<u64> {
        self.conn
            .prepare_cached("SELECT last_seq + 1 FROM conversations WHERE id = ?1")
            .map_err(db_err)?
            .query_row([id], |r| rows::u64_col(r, 0))
            .map_err(db_err)
    }

    pub(crate) fn insert_member(
        &mut self,
        conv: &str,
        user: &str,
        role: MemberRole,
        joined_seq: u64,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_at, read_seq, delivered_seq, muted_until, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?4, NULL, 1)
                 ON CONFLICT (conversation_id, user_id) DO UPDATE SET
                   role = excluded.role, joined_seq = excluded.joined_seq, joined_at = excluded.joined_at,
                   read_seq = excluded.read_seq, delivered_seq = excluded.delivered_seq,
                   muted_until = NULL, active = 1",
            )
            .map_err(db_err)?
            .execute(params![conv, user, role.as_str(), seq_param(joined_seq), at.millis()])
            .map_err(db_err)?;
        self.members_cache.remove(conv);
        Ok(())
    }

    pub(crate) fn deactivate_member(&mut self, conv: &str, user: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE members SET active = 0 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .map_err(db_err)?
            .execute(params![conv, user])
            .map_err(db_err)?;
        self.members_cache.remove(conv);
        Ok(())
    }

    pub(crate) fn set_member_count(&mut self, conv: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE conversations SET member_count =
                   (SELECT count(*) FROM members WHERE conversation_id = ?1 AND active = 1) WHERE id = ?1",
            )
            .map_err(db_err)?
            .execute([conv])
            .map_err(db_err)?;
        Ok(())
    }

    pub(crate) fn set_role(&mut self, id: &str, user: &str, role: MemberRole) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE members SET role = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .map_err(db_err)?
            .execute(params![id, user, role.as_str()])
            .map_err(db_err)?;
        Ok(())
    }

    /// `conversation.added` for `user`, with the conversation as they see it.
    pub(crate) fn added(&self, user: &str, conv: &str) -> StoreResult<Delivery> {
        delivery::added(user, views::conversation_view(&self.conn, user, conv)?)
    }

    /// Creates a planned conversation: the row, its members, its created
    /// event; `conversation.added` goes to each member before the event.
    pub(crate) fn create_conversation(
        &mut self,
        id: &str,
        plan: NewConversation,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO conversations (id, kind, title, avatar_url, created_at, last_seq, last_activity_at, member_count, direct_key)
                 VALUES (?1, ?2, ?3, NULL, ?4, 0, ?4, 0, ?5)",
            )
            .map_err(db_err)?
            .execute(params![id, plan.kind.as_str(), plan.title, at.millis(), plan.direct_key]);
        match inserted {
            Ok(_) => {}
            Err(e) if rows::is_unique_violation(&e) => {
                return Err(StoreError::Internal(format!(
                    "conversation {id} exists: {e}"
                )));
            }
            Err(e) => return Err(db_err(e)),
        }
        for (user, role) in &plan.members {
            self.insert_member(id, user, *role, 1, at)?;
        }
        self.set_member_count(id)?;
        let mut events = Vec::new();
        self.append_event(id, at, plan.created, &mut events)?;
        for u in &plan.added {
            out.push(self.added(u, id)?);
        }
        out.extend(events);
        Ok(())
    }
}
