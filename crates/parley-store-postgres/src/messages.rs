//! Messages and the event log. The send is the hot path: one round trip to
//! PostgreSQL costs every message, so after the lock (which also reads the
//! kind and the seq) the reads go out together in one round trip and the
//! writes in another (tokio-postgres pipelines queries issued together on
//! one connection): BEGIN, lock, reads, writes, COMMIT. Nothing is read
//! back that was just written.

use crate::events::{INSERT_EVENT, WriteTx, seq_matches};
use crate::rows::{
    self, Params, col, col_parsed, col_u64, execute, query_one, query_opt, seq_param,
};
use crate::views;
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use bytes::Bytes;
use parley_domain::NewEvent;
use parley_domain::messages::{
    self as rules, DeletePlan, MessageRow, ReactPlan, ReactionFacts, ReplyFacts, SendFacts,
};
use parley_domain::receipts;
use parley_protocol::{
    ConversationKind, Event, EventPage, Message, MessageContext, MessagePage, ReactionSummary,
    Timestamp,
};
use parley_store::messages::context;
use parley_store::{
    AfterCommit, Delivery, HistoryPage, MessageStore, NewMessage, StoreError, StoreResult, delivery,
};

/// What storing a new message at `seq` writes and hands out, built once
/// for the single send and the batch (`send_batch.rs`).
pub(crate) struct Created {
    pub row: MessageRow,
    /// The answer to the sender.
    pub answer: Message,
    /// Its `message.created` event as stored, and the event's type.
    pub body: String,
    pub event_kind: &'static str,
    /// The event's delivery to `members`.
    pub event: Delivery,
    /// The sender's own watermarks (they read what they send) for the
    /// other members not in a block with them.
    pub receipt: Option<Delivery>,
}

pub(crate) fn created(
    m: &NewMessage,
    seq: u64,
    media: &[parley_domain::media::MediaRow],
    members: std::sync::Arc<[String]>,
    hidden: &[String],
) -> StoreResult<Created> {
    let (row, event, answer) = rules::created(m, seq, media);
    let event = Event {
        conversation_id: m.conversation_id.clone(),
        seq,
        actor_id: event.actor_id,
        at: m.at,
        data: event.data,
    };
    let own = receipts::on_own_send(seq);
    let receipt = delivery::receipt(
        &m.conversation_id,
        &m.sender_id,
        own.delivered,
        own.read,
        receipts::receipt_recipients(&members, &m.sender_id, hidden),
    )?;
    let (body, event_delivery) = delivery::event(&event, members)?;
    Ok(Created {
        row,
        answer,
        body,
        event_kind: event.kind(),
        event: event_delivery,
        receipt,
    })
}

impl WriteTx<'_> {
    async fn message_by_client_id(
        &self,
        m: &NewMessage,
        client_id: &str,
    ) -> StoreResult<Option<MessageRow>> {
        query_opt(
            &self.tx,
            &format!(
                "SELECT {} FROM messages WHERE conversation_id = $1 AND sender_id = $2 AND client_id = $3",
                rows::MESSAGE_COLS
            ),
            &[&m.conversation_id, &m.sender_id, &client_id],
        )
        .await?
        .map(|r| rows::message_row(&r))
        .transpose()
    }

    pub(crate) async fn send_message(
        &mut self,
        m: &NewMessage,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(Message, bool)> {
        // Lock first: writers of this conversation in any process queue
        // here, so the seq read below is the one this transaction allocates,
        // and an earlier send of this client_id has either committed (and
        // the read below sees it) or waits behind us.
        let locked = query_opt(
            &self.tx,
            "SELECT kind, last_seq FROM conversations WHERE id = $1 FOR NO KEY UPDATE",
            &[&m.conversation_id],
        )
        .await?;
        let (kind, seq) = match &locked {
            Some(r) => (
                Some(col_parsed(
                    r,
                    0,
                    "conversation kind",
                    ConversationKind::parse,
                )?),
                col_u64(r, 1)? + 1,
            ),
            None => (None, 0),
        };
        self.touch(&m.conversation_id);
        // Membership cannot change while the lock is held (member changes
        // take it too).
        let blocked = async {
            if !kind.is_some_and(rules::blocks_apply) {
                return Ok(false);
            }
            let r = query_one(
                &self.tx,
                "SELECT EXISTS(SELECT 1 FROM members p JOIN blocks b
                   ON (b.blocker_id = $2 AND b.blocked_id = p.user_id)
                   OR (b.blocker_id = p.user_id AND b.blocked_id = $2)
                 WHERE p.conversation_id = $1 AND p.active = TRUE AND p.user_id <> $2)",
                &[&m.conversation_id, &m.sender_id],
            )
            .await?;
            col::<bool>(&r, 0)
        };
        let earlier = async {
            match &m.client_id {
                Some(client_id) => self.message_by_client_id(m, client_id).await,
                None => Ok(None),
            }
        };
        let (mut members, blocked, earlier, hidden) = tokio::try_join!(
            self.members_of(&m.conversation_id),
            blocked,
            earlier,
            rows::block_partners(&self.tx, &m.sender_id)
        )?;
        let is_member = members.contains(&m.sender_id);
        let reply = match &m.reply_to {
            Some(reply_to) if is_member => Some(ReplyFacts {
                target: rows::message_by_id(&self.tx, reply_to)
                    .await?
                    .map(|t| (t.conversation_id, t.seq)),
                joined_seq: rows::require_member(&self.tx, &m.conversation_id, &m.sender_id)
                    .await?
                    .joined_seq,
            }),
            _ => None,
        };
        let media = if is_member {
            self.media_for_send(&m.attachments).await?
        } else {
            Vec::new()
        };
        let facts = SendFacts {
            is_member,
            kind,
            blocked,
            reply,
            media,
        };
        let is_support = kind == Some(ConversationKind::Support);
        if is_support {
            // Readers who are not the customer or the assignee may not write.
            crate::support::check_support_send(&self.tx, &m.conversation_id, &m.sender_id).await?;
        }
        let media = rules::check_send(m, &facts)?;
        // A retry of a stored send: the original, and nothing written.
        if let Some(earlier) = earlier {
            return Ok((
                views::message_view(&self.tx, &m.sender_id, &earlier, None).await?,
                false,
            ));
        }
        // A customer writing in a resolved support conversation reopens it
        // first: its events take seqs, and the last assignee may leave.
        let mut seq = seq;
        if is_support && self.support_before_send(m, out).await? {
            self.reopened_support = true;
            seq = self.peek_next_seq(&m.conversation_id).await?;
            members = self.members_of(&m.conversation_id).await?;
        }
        let Created {
            row,
            answer,
            body,
            event_kind,
            event: d,
            receipt,
        } = created(m, seq, &media, members, &hidden)?;
        let (attachments, mentions) = row.lists_json();
        let (seq_p, kind_s, at) = (seq_param(seq), row.kind.as_str(), m.at.millis());
        let message_params: Params<'_> = &[
            &row.id,
            &row.conversation_id,
            &seq_p,
            &row.sender_id,
            &row.client_id,
            &kind_s,
            &row.text,
            &attachments,
            &row.reply_to,
            &mentions,
            &row.created_at,
        ];
        let conversation_params: Params<'_> = &[&m.conversation_id, &at];
        let event_params: Params<'_> = &[
            &m.conversation_id,
            &seq_p,
            &event_kind,
            &body,
            &at,
            &m.sender_id,
        ];
        let member_params: Params<'_> = &[&m.conversation_id, &m.sender_id, &seq_p];
        // The message, the seq and the conversation's last message, the
        // event, and the sender's own watermarks (they have read what they
        // sent: a read like any other, whose time is the message's), in one
        // round trip. Should the message insert still meet
        // the idempotency index (it cannot under the lock), the statement
        // fails and with it the whole transaction.
        let (_, allocated, _, _) = tokio::try_join!(
            execute(
                &self.tx,
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, attachments, reply_to, mentions, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                message_params,
            ),
            query_one(
                &self.tx,
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_seq = last_seq + 1, last_activity_at = $2
                 WHERE id = $1 RETURNING last_seq",
                conversation_params,
            ),
            execute(&self.tx, INSERT_EVENT, event_params),
            execute(
                &self.tx,
                "UPDATE members SET read_seq = $3, delivered_seq = $3 WHERE conversation_id = $1 AND user_id = $2",
                member_params,
            ),
        )?;
        seq_matches(col_u64(&allocated, 0)?, seq)?;
        self.attach(&m.conversation_id, seq, &m.id, &media, m.text.as_deref())
            .await?;
        out.push(d);
        out.extend(receipt);
        Ok((answer, true))
    }

    async fn edit_message(
        &mut self,
        actor: &str,
        id: &str,
        text: &str,
        window_ms: i64,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        self.lock_message_conversation(id).await?;
        let (mut row, _) = rows::visible_message(&self.tx, actor, id).await?;
        let event = rules::edit(actor, &row, text, window_ms, at)?;
        execute(
            &self.tx,
            "UPDATE messages SET text = $2, edited_at = $3 WHERE id = $1",
            &[&id, &text, &at.millis()],
        )
        .await?;
        row.text = Some(text.to_string());
        row.edited_at = Some(at.millis());
        self.relink(&row.conversation_id, row.seq, &row.id, row.text.as_deref())
            .await?;
        let conv = row.conversation_id.clone();
        let seq = self.append_event(&conv, at, event, out).await?;
        self.record_edit(&conv, &row.id, seq).await?;
        views::message_view(&self.tx, actor, &row, None).await
    }

    async fn delete_message(
        &mut self,
        actor: &str,
        id: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        self.lock_message_conversation(id).await?;
        let (mut row, me) = rows::visible_message(&self.tx, actor, id).await?;
        let kind = rows::conversation_kind(&self.tx, &row.conversation_id)
            .await?
            .ok_or(StoreError::not_found("message"))?;
        let event = match rules::delete(actor, &row, &me, kind)? {
            DeletePlan::AlreadyDeleted => {
                return views::message_view(&self.tx, actor, &row, None).await;
            }
            DeletePlan::Delete(event) => event,
        };
        self.tombstone(&mut row, event, false, at, out).await?;
        views::message_view(&self.tx, actor, &row, None).await
    }

    /// Makes `row` a tombstone (text and attachments gone, media detached
    /// and with `remove_media` deleted, links and reactions removed) and
    /// appends its `message.deleted`. The conversation is locked.
    pub(crate) async fn tombstone(
        &mut self,
        row: &mut MessageRow,
        event: NewEvent,
        remove_media: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        execute(
            &self.tx,
            "UPDATE messages SET deleted = TRUE, text = NULL, attachments = '[]' WHERE id = $1",
            &[&row.id],
        )
        .await?;
        execute(
            &self.tx,
            "DELETE FROM reactions WHERE message_id = $1",
            &[&row.id],
        )
        .await?;
        self.detach(&row.conversation_id, row.seq, remove_media)
            .await?;
        row.deleted = true;
        row.text = None;
        let conv = row.conversation_id.clone();
        self.append_event(&conv, at, event, out).await?;
        Ok(())
    }

    async fn react(
        &mut self,
        actor: &str,
        id: &str,
        emoji: &str,
        add: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Vec<ReactionSummary>> {
        self.lock_message_conversation(id).await?;
        let (row, _) = rows::visible_message(&self.tx, actor, id).await?;
        let r = query_one(
            &self.tx,
            "SELECT coalesce(bool_or(emoji = $2 AND user_id = $3), FALSE), count(DISTINCT emoji),
                    coalesce(bool_or(emoji = $2), FALSE)
             FROM reactions WHERE message_id = $1",
            &[&id, &emoji, &actor],
        )
        .await?;
        let facts = ReactionFacts {
            mine: col(&r, 0)?,
            distinct: col_u64(&r, 1)?,
            has_emoji: col(&r, 2)?,
        };
        let event: NewEvent = match rules::react(actor, &row, emoji, add, facts)? {
            ReactPlan::Nothing => return views::reactions(&self.tx, id, actor).await,
            ReactPlan::Add(e) => {
                execute(
                    &self.tx,
                    "INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES ($1, $2, $3, $4)",
                    &[&id, &actor, &emoji, &at.millis()],
                )
                .await?;
                e
            }
            ReactPlan::Remove(e) => {
                execute(
                    &self.tx,
                    "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
                    &[&id, &emoji, &actor],
                )
                .await?;
                e
            }
        };
        let conv = row.conversation_id.clone();
        self.append_event(&conv, at, event, out).await?;
        views::reactions(&self.tx, id, actor).await
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
impl MessageStore for PostgresStore {
    async fn send_message(
        &self,
        msg: NewMessage,
        after_commit: Option<AfterCommit>,
    ) -> StoreResult<(Message, bool)> {
        self.sends.send(msg, after_commit).await
    }

    async fn messages(
        &self,
        viewer: &str,
        id: &str,
        page: HistoryPage,
        limit: u32,
    ) -> StoreResult<MessagePage> {
        let c = self.client().await?;
        views::message_page(&c, viewer, id, page, limit).await
    }

    async fn events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<EventPage> {
        let c = self.client().await?;
        let mut rows =
            views::raw_event_rows(&c, viewer, id, after, limit.saturating_add(1)).await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        Ok(EventPage {
            events: parse_events(rows)?,
            has_more,
        })
    }

    async fn raw_events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Bytes)>> {
        let c = self.client().await?;
        Ok(views::raw_event_rows(&c, viewer, id, after, limit)
            .await?
            .into_iter()
            .map(|(seq, body)| (seq, delivery::event_frame(&body)))
            .collect())
    }

    async fn message(&self, viewer: &str, message_id: &str) -> StoreResult<Message> {
        let c = self.client().await?;
        let (row, _) = rows::visible_message(&c, viewer, message_id).await?;
        views::message_view(&c, viewer, &row, None).await
    }

    async fn message_context(
        &self,
        viewer: &str,
        message_id: &str,
        limit: u32,
    ) -> StoreResult<MessageContext> {
        let c = self.client().await?;
        let (row, _) = rows::visible_message(&c, viewer, message_id).await?;
        let conv = &row.conversation_id;
        let before =
            views::message_page(&c, viewer, conv, HistoryPage::Before(row.seq), limit).await?;
        let after =
            views::message_page(&c, viewer, conv, HistoryPage::After(row.seq), limit).await?;
        let message = views::message_view(&c, viewer, &row, None).await?;
        Ok(context(message, before, after))
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
        in_tx!(self, move |w, out| w.edit_message(
            &actor,
            &message_id,
            &text,
            window_ms,
            at,
            out
        ))
    }

    async fn delete_message(
        &self,
        actor: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (actor, message_id) = (actor.to_string(), message_id.to_string());
        in_tx!(self, move |w, out| w.delete_message(
            &actor,
            &message_id,
            at,
            out
        ))
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
        in_tx!(self, move |w, out| w.react(
            &actor,
            &message_id,
            &emoji,
            add,
            at,
            out
        ))
    }
}
