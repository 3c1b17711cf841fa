//! Messages and the event log. The send is the hot path: membership and
//! kind come from the writer's caches, a retry is found by the unique index
//! refusing the insert rather than by a lookup first, and the answer is
//! built without reading back what was just written (see the W3 profile in
//! bench/results).

use crate::client_keys;
use crate::rows::{self, db_err, seq_param};
use crate::views;
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use bytes::Bytes;
use parley_domain::NewEvent;
use parley_domain::messages::{
    self as rules, DeletePlan, MessageRow, ReactPlan, ReactionFacts, ReplyFacts, SendFacts,
};
use parley_domain::receipts;
use parley_protocol::{
    Event, EventPage, Message, MessageContext, MessagePage, ReactionSummary, Timestamp,
};
use parley_store::messages::context;
use parley_store::{
    AfterCommit, Delivery, HistoryPage, MessageStore, NewMessage, StoreError, StoreResult, delivery,
};
use rusqlite::params;

impl WriterState {
    fn send_facts(&mut self, m: &NewMessage) -> StoreResult<SendFacts> {
        let members = self.members_of(&m.conversation_id)?;
        let is_member = members.contains(&m.sender_id);
        let kind = self.conversation_kind(&m.conversation_id)?;
        // Only what the rules will look at is read: nothing more for an
        // outsider, the block only where blocks stop sends.
        let blocked = match (kind, members.iter().find(|u| **u != m.sender_id)) {
            (Some(kind), Some(peer)) if is_member && rules::blocks_apply(kind) => {
                rows::blocked_between(&self.conn, &m.sender_id, peer)?
            }
            _ => false,
        };
        let reply = match &m.reply_to {
            Some(reply_to) if is_member => Some(ReplyFacts {
                target: rows::message_by_id(&self.conn, reply_to)?
                    .map(|t| (t.conversation_id, t.seq)),
                joined_seq: rows::require_member(&self.conn, &m.conversation_id, &m.sender_id)?
                    .joined_seq,
            }),
            _ => None,
        };
        let media = if is_member {
            self.media_by_ids(&m.attachments)?
        } else {
            Vec::new()
        };
        Ok(SendFacts {
            is_member,
            kind,
            blocked,
            reply,
            media,
        })
    }

    pub(crate) fn send_message(
        &mut self,
        m: &NewMessage,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(Message, bool)> {
        let facts = self.send_facts(m)?;
        if facts.kind == Some(parley_protocol::ConversationKind::Support) {
            // Readers who are not the customer or the assignee may not write.
            crate::support::check_support_send(&self.conn, &m.conversation_id, &m.sender_id)?;
        }
        let media = rules::check_send(m, &facts)?;
        if facts.kind == Some(parley_protocol::ConversationKind::Support) {
            self.support_before_send(m, out)?;
        }
        // A retry of a stored send answers with the original.
        if let Some(client_id) = &m.client_id
            && let Some(row) =
                client_keys::earlier_send(&self.conn, &m.conversation_id, &m.sender_id, client_id)?
        {
            return Ok((
                views::message_view(&self.conn, &m.sender_id, &row, None)?,
                false,
            ));
        }
        let seq = self.peek_next_seq(&m.conversation_id)?;
        let (row, event, answer) = rules::created(m, seq, &media);
        let (attachments, mentions) = row.lists_json();
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, attachments, reply_to, mentions, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(db_err)?
            .execute(params![
                row.id, row.conversation_id, seq_param(seq), row.sender_id, row.client_id, row.kind.as_str(),
                row.text, attachments, row.reply_to, mentions, row.created_at
            ])
            .map_err(db_err)?;
        client_keys::record(
            &self.conn,
            &row.conversation_id,
            &row.sender_id,
            row.client_id.as_deref(),
        )?;
        // The seq, the conversation's last message and its activity time in
        // one statement.
        let allocated: i64 = self
            .conn
            .prepare_cached(
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_seq = last_seq + 1, last_activity_at = ?2
                 WHERE id = ?1 RETURNING last_seq",
            )
            .map_err(db_err)?
            .query_row(params![m.conversation_id, m.at.millis()], |r| r.get(0))
            .map_err(db_err)?;
        if allocated as u64 != seq {
            // The writer is alone, so this cannot happen; if it ever did,
            // the whole transaction is refused rather than storing a wrong
            // seq.
            return Err(StoreError::Internal(format!(
                "seq allocated {allocated}, expected {seq}"
            )));
        }
        self.attach(&m.conversation_id, seq, &m.id, &media, m.text.as_deref())?;
        self.store_event(
            Event {
                conversation_id: m.conversation_id.clone(),
                seq,
                actor_id: event.actor_id,
                at: m.at,
                data: event.data,
            },
            out,
        )?;
        // The sender has read what they sent: a read like any other.
        self.apply_watermarks(
            &m.sender_id,
            &m.conversation_id,
            &receipts::on_own_send(seq),
            m.at,
            out,
        )?;
        Ok((answer, true))
    }

    fn edit_message(
        &mut self,
        actor: &str,
        id: &str,
        text: &str,
        window_ms: i64,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        let (mut row, _) = rows::visible_message(&self.conn, actor, id)?;
        let event = rules::edit(actor, &row, text, window_ms, at)?;
        self.conn
            .prepare_cached("UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1")
            .map_err(db_err)?
            .execute(params![id, text, at.millis()])
            .map_err(db_err)?;
        row.text = Some(text.to_string());
        row.edited_at = Some(at.millis());
        self.relink(&row.conversation_id, row.seq, &row.id, row.text.as_deref())?;
        let seq = self.append_event(&row.conversation_id, at, event, out)?;
        self.record_edit(&row.conversation_id, &row.id, seq)?;
        views::message_view(&self.conn, actor, &row, None)
    }

    fn delete_message(
        &mut self,
        actor: &str,
        id: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        let (mut row, me) = rows::visible_message(&self.conn, actor, id)?;
        let kind = self
            .conversation_kind(&row.conversation_id)?
            .ok_or(StoreError::not_found("message"))?;
        let event = match rules::delete(actor, &row, &me, kind)? {
            DeletePlan::AlreadyDeleted => {
                return views::message_view(&self.conn, actor, &row, None);
            }
            DeletePlan::Delete(event) => event,
        };
        self.tombstone(&mut row, event, false, at, out)?;
        views::message_view(&self.conn, actor, &row, None)
    }

    /// Makes `row` a tombstone (text and attachments gone, media detached
    /// and with `remove_media` deleted, links and reactions removed) and
    /// appends its `message.deleted`.
    pub(crate) fn tombstone(
        &mut self,
        row: &mut MessageRow,
        event: NewEvent,
        remove_media: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET deleted = 1, text = NULL, attachments = '[]' WHERE id = ?1",
            )
            .map_err(db_err)?
            .execute([&row.id])
            .map_err(db_err)?;
        self.conn
            .prepare_cached("DELETE FROM reactions WHERE message_id = ?1")
            .map_err(db_err)?
            .execute([&row.id])
            .map_err(db_err)?;
        self.detach(&row.conversation_id, row.seq, remove_media)?;
        row.deleted = true;
        row.text = None;
        self.append_event(&row.conversation_id, at, event, out)?;
        Ok(())
    }

    fn react(
        &mut self,
        actor: &str,
        id: &str,
        emoji: &str,
        add: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Vec<ReactionSummary>> {
        let (row, _) = rows::visible_message(&self.conn, actor, id)?;
        let facts = self
            .conn
            .prepare_cached(
                "SELECT coalesce(max(emoji = ?2 AND user_id = ?3), 0), count(DISTINCT emoji), coalesce(max(emoji = ?2), 0)
                 FROM reactions WHERE message_id = ?1",
            )
            .map_err(db_err)?
            .query_row(params![id, emoji, actor], |r| {
                Ok(ReactionFacts {
                    mine: r.get::<_, i64>(0)? != 0,
                    distinct: rows::u64_col(r, 1)?,
                    has_emoji: r.get::<_, i64>(2)? != 0,
                })
            })
            .map_err(db_err)?;
        let event: NewEvent = match rules::react(actor, &row, emoji, add, facts)? {
            ReactPlan::Nothing => return views::reactions(&self.conn, id, actor),
            ReactPlan::Add(e) => {
                self.conn
                    .prepare_cached("INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?1, ?2, ?3, ?4)")
                    .map_err(db_err)?
                    .execute(params![id, actor, emoji, at.millis()])
                    .map_err(db_err)?;
                e
            }
            ReactPlan::Remove(e) => {
                self.conn
                    .prepare_cached("DELETE FROM reactions WHERE message_id = ?1 AND user_id = ?2 AND emoji = ?3")
                    .map_err(db_err)?
                    .execute(params![id, actor, emoji])
                    .map_err(db_err)?;
                e
            }
        };
        self.append_event(&row.conversation_id, at, event, out)?;
        views::reactions(&self.conn, id, actor)
    }
}

fn parse_events(rows: Vec<(u64, String)>) -> StoreResult<Vec<Event>> {
    rows.iter()
        .map(|(_, body)| {
            serde_json::from_str(body)
                .map_err(|e| StoreError::Internal(format!("corrupt event: {e}")))
        })
        .collect()
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn send_message(
        &self,
        msg: NewMessage,
        after_commit: Option<AfterCommit>,
    ) -> StoreResult<(Message, bool)> {
        // After commit: the caller's hook, then, if the send reopened a
        // resolved support conversation, the support area's (routing).
        let reopened_hook = self.support_hook.clone();
        let conv = msg.conversation_id.clone();
        let hook: crate::writer::Hook<((Message, bool), bool)> =
            Box::new(move |r: &((Message, bool), bool)| {
                if let Some(h) = after_commit {
                    h(&r.0.0, r.0.1);
                }
                if r.1
                    && let Some(h) = reopened_hook.get()
                {
                    h(&conv);
                }
            });
        let (sent, _) = self
            .writer
            .write(
                move |s, out| {
                    s.reopened_by_send = false;
                    let sent = s.send_message(&msg, out)?;
                    Ok((sent, std::mem::take(&mut s.reopened_by_send)))
                },
                Some(hook),
            )
            .await?;
        Ok(sent)
    }

    async fn messages(
        &self,
        viewer: &str,
        id: &str,
        page: HistoryPage,
        limit: u32,
    ) -> StoreResult<MessagePage> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| views::message_page(c, &viewer, &id, page, limit))
            .await
    }

    async fn events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<EventPage> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| {
            let mut rows = views::raw_event_rows(c, &viewer, &id, after, limit.saturating_add(1))?;
            let has_more = rows.len() > limit as usize;
            rows.truncate(limit as usize);
            Ok(EventPage {
                events: parse_events(rows)?,
                has_more,
            })
        })
        .await
    }

    async fn raw_events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Bytes)>> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| {
            Ok(views::raw_event_rows(c, &viewer, &id, after, limit)?
                .into_iter()
                .map(|(seq, body)| (seq, delivery::event_frame(&body)))
                .collect())
        })
        .await
    }

    async fn message(&self, viewer: &str, message_id: &str) -> StoreResult<Message> {
        let (viewer, message_id) = (viewer.to_string(), message_id.to_string());
        self.read(move |c| {
            let (row, _) = rows::visible_message(c, &viewer, &message_id)?;
            views::message_view(c, &viewer, &row, None)
        })
        .await
    }

    async fn message_context(
        &self,
        viewer: &str,
        message_id: &str,
        limit: u32,
    ) -> StoreResult<MessageContext> {
        let (viewer, message_id) = (viewer.to_string(), message_id.to_string());
        self.read(move |c| {
            let (row, _) = rows::visible_message(c, &viewer, &message_id)?;
            let conv = &row.conversation_id;
            let before =
                views::message_page(c, &viewer, conv, HistoryPage::Before(row.seq), limit)?;
            let after = views::message_page(c, &viewer, conv, HistoryPage::After(row.seq), limit)?;
            let message = views::message_view(c, &viewer, &row, None)?;
            Ok(context(message, before, after))
        })
        .await
    }

    async fn edit_message(
        &self,
        actor: &str,
        message_id: &str,
        text: &str,
        window_ms: i64,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (actor, message_id, text) =
            (actor.to_string(), message_id.to_string(), text.to_string());
        self.write(move |s, out| s.edit_message(&actor, &message_id, &text, window_ms, at, out))
            .await
    }

    async fn delete_message(
        &self,
        actor: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (actor, message_id) = (actor.to_string(), message_id.to_string());
        self.write(move |s, out| s.delete_message(&actor, &message_id, at, out))
            .await
    }

    async fn react(
        &self,
        actor: &str,
        message_id: &str,
        emoji: &str,
        add: bool,
        at: Timestamp,
    ) -> StoreResult<Vec<ReactionSummary>> {
        let (actor, message_id, emoji) =
            (actor.to_string(), message_id.to_string(), emoji.to_string());
        self.write(move |s, out| s.react(&actor, &message_id, &emoji, add, at, out))
            .await
    }
}
