//! Messages (protocol.md §5): the stored row and its wire form, and the
//! rules of sending, editing, deleting and reacting.

use crate::NewEvent;
use crate::conversations::MemberInfo;
use crate::error::{DomainError, DomainResult};
use crate::media::{self, MediaRow};
use crate::receipts::{OthersWatermarks, status_for};
use parley_protocol::events::{
    EventData, MessageCreated, MessageDeleted, MessageEdited, ReactionChange,
};
use parley_protocol::{
    ConversationKind, Message, MessageKind, MessageStatus, ReactionSummary, Timestamp,
};

/// Most distinct emoji one message may carry.
pub const MAX_DISTINCT_REACTIONS: u64 = 20;

/// A message to store, as the send path built it.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: String,
    pub client_id: Option<String>,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub reply_to: Option<String>,
    pub mentions: Vec<String>,
    /// Media ids to attach, in order (checked under the lock).
    pub attachments: Vec<String>,
    pub at: Timestamp,
}

/// A message as stored, before it is dressed for a viewer.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: String,
    pub conversation_id: String,
    pub seq: u64,
    pub sender_id: String,
    pub client_id: Option<String>,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub attachments: Vec<serde_json::Value>,
    pub reply_to: Option<String>,
    pub mentions: Vec<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
    /// A system message's report (`system` on the wire).
    pub system: Option<serde_json::Value>,
}

impl MessageRow {
    /// The row a send stores at `seq`, attaching `media`.
    pub fn new(m: &NewMessage, seq: u64, media: &[MediaRow]) -> Self {
        MessageRow {
            id: m.id.clone(),
            conversation_id: m.conversation_id.clone(),
            seq,
            sender_id: m.sender_id.clone(),
            client_id: m.client_id.clone(),
            kind: m.kind,
            text: m.text.clone(),
            attachments: crate::media::attachments_json(media),
            reply_to: m.reply_to.clone(),
            mentions: m.mentions.clone(),
            created_at: m.at.millis(),
            edited_at: None,
            deleted: false,
            system: None,
        }
    }

    /// The viewer-independent wire form (no status, no reactions): what an
    /// event carries. A tombstone keeps its id and seq, nothing else.
    pub fn to_wire(&self) -> Message {
        Message {
            id: self.id.clone(),
            conversation_id: self.conversation_id.clone(),
            seq: self.seq,
            sender_id: self.sender_id.clone(),
            client_id: self.client_id.clone(),
            kind: self.kind,
            text: if self.deleted {
                None
            } else {
                self.text.clone()
            },
            attachments: if self.deleted {
                Vec::new()
            } else {
                self.attachments.clone()
            },
            reply_to: self.reply_to.clone(),
            mentions: self.mentions.clone(),
            created_at: Timestamp(self.created_at),
            edited_at: self.edited_at.map(Timestamp),
            deleted: self.deleted,
            reactions: Vec::new(),
            status: None,
            system: if self.deleted {
                None
            } else {
                self.system.clone()
            },
        }
    }

    /// The stored JSON of `attachments` and `mentions`.
    pub fn lists_json(&self) -> (String, String) {
        (json_list(&self.attachments), json_list(&self.mentions))
    }
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    if items.is_empty() {
        return "[]".to_string();
    }
    // Serializing plain values and strings cannot fail.
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_string())
}

/// Reads a stored `system` column (JSON or NULL).
pub fn parse_system(raw: Option<String>) -> Result<Option<serde_json::Value>, String> {
    raw.map(|s| serde_json::from_str(&s).map_err(|e| format!("corrupt system: {e}")))
        .transpose()
}

/// Reads a stored JSON list column; a corrupt value is an error (for the
/// backend to report as internal), never an empty list.
pub fn parse_attachments(raw: &str) -> Result<Vec<serde_json::Value>, String> {
    serde_json::from_str(raw).map_err(|e| format!("corrupt attachments: {e}"))
}

/// See [`parse_attachments`].
pub fn parse_mentions(raw: &str) -> Result<Vec<String>, String> {
    serde_json::from_str(raw).map_err(|e| format!("corrupt mentions: {e}"))
}

/// What a viewer's copy of a message needs besides the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewNeeds {
    /// The reaction summary (live messages only).
    pub reactions: bool,
    /// The others' watermarks, for `status` (the viewer's own only).
    pub status: bool,
}

pub fn view_needs(row: &MessageRow, viewer: &str) -> ViewNeeds {
    ViewNeeds {
        reactions: !row.deleted,
        status: row.sender_id == viewer,
    }
}

/// The message as `viewer` sees it, from what [`view_needs`] asked for.
pub fn view(
    row: &MessageRow,
    reactions: Option<Vec<ReactionSummary>>,
    marks: Option<OthersWatermarks>,
) -> Message {
    let mut m = row.to_wire();
    if let Some(r) = reactions {
        m.reactions = r;
    }
    m.status = marks.map(|marks| status_for(row.seq, marks));
    m
}

/// The target of `reply_to`, as read under the lock.
#[derive(Debug, Clone)]
pub struct ReplyFacts {
    /// (conversation, seq) of the message named, if it exists.
    pub target: Option<(String, u64)>,
    /// The sender's `joined_seq`.
    pub joined_seq: u64,
}

/// What a send needs to know.
#[derive(Debug, Clone)]
pub struct SendFacts {
    pub is_member: bool,
    /// `None`: there is no such conversation.
    pub kind: Option<ConversationKind>,
    /// A block between the sender and the peer; read only where
    /// [`blocks_apply`] says it matters.
    pub blocked: bool,
    /// Read only when the message replies to one.
    pub reply: Option<ReplyFacts>,
    /// The uploads named by `attachments` that exist (read only for a
    /// member).
    pub media: Vec<MediaRow>,
}

/// Blocks stop sends in direct conversations only (in a group the block
/// hides the two from each other instead).
pub fn blocks_apply(kind: ConversationKind) -> bool {
    kind == ConversationKind::Direct
}

/// Whether the send may be stored, and what it attaches. A retry of a
/// stored send passes the same checks and is then answered with the
/// original.
pub fn check_send(m: &NewMessage, facts: &SendFacts) -> DomainResult<Vec<MediaRow>> {
    let kind = match (facts.is_member, facts.kind) {
        (true, Some(kind)) => kind,
        _ => return Err(DomainError::NotFound("conversation")),
    };
    if blocks_apply(kind) && facts.blocked {
        return Err(DomainError::Blocked);
    }
    if m.reply_to.is_some() {
        let ok = matches!(&facts.reply, Some(ReplyFacts { target: Some((conv, seq)), joined_seq })
            if *conv == m.conversation_id && seq >= joined_seq);
        if !ok {
            return Err(DomainError::invalid(
                "reply_to",
                "no such message in this conversation",
            ));
        }
    }
    if m.attachments.is_empty() {
        Ok(Vec::new())
    } else {
        media::attach(&m.sender_id, &m.attachments, &facts.media)
    }
}

/// The row a send stores at `seq`, its `message.created` event, and the
/// answer to the sender: nobody else can have reached a seq that did not
/// exist until now, and nobody has reacted yet.
pub fn created(m: &NewMessage, seq: u64, media: &[MediaRow]) -> (MessageRow, NewEvent, Message) {
    let row = MessageRow::new(m, seq, media);
    let message = row.to_wire();
    let event = NewEvent::by(
        &m.sender_id,
        EventData::MessageCreated(MessageCreated {
            message: message.clone(),
        }),
    );
    let mut answer = message;
    answer.status = Some(MessageStatus::Sent);
    (row, event, answer)
}

/// `PATCH /messages/{id}`: the sender, within the edit window, of a live
/// user message.
pub fn edit(
    actor: &str,
    row: &MessageRow,
    text: &str,
    window_ms: i64,
    at: Timestamp,
) -> DomainResult<NewEvent> {
    if row.sender_id != actor {
        return Err(DomainError::Forbidden("only the sender can edit a message"));
    }
    if row.deleted {
        return Err(DomainError::Conflict("the message was deleted"));
    }
    if row.kind == MessageKind::System {
        return Err(DomainError::Forbidden("system messages cannot be edited"));
    }
    if at.millis() - row.created_at > window_ms {
        return Err(DomainError::Forbidden("the edit window has passed"));
    }
    Ok(NewEvent::by(
        actor,
        EventData::MessageEdited(MessageEdited {
            edited_at: at,
            message_id: row.id.clone(),
            seq: row.seq,
            text: Some(text.to_string()),
        }),
    ))
}

// A plan lives for one write, on the stack: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum DeletePlan {
    /// Already a tombstone: answer with it, change nothing.
    AlreadyDeleted,
    /// Make it a tombstone (text and attachments gone, reactions removed).
    Delete(NewEvent),
}

/// `DELETE /messages/{id}`: the sender, or an owner or admin of a group.
pub fn delete(
    actor: &str,
    row: &MessageRow,
    me: &MemberInfo,
    kind: ConversationKind,
) -> DomainResult<DeletePlan> {
    if row.deleted {
        return Ok(DeletePlan::AlreadyDeleted);
    }
    let is_group = kind == ConversationKind::Group;
    if row.sender_id != actor && !(is_group && me.can_manage()) {
        return Err(DomainError::Forbidden(
            "only the sender or a group admin can delete a message",
        ));
    }
    Ok(DeletePlan::Delete(NewEvent::by(
        actor,
        EventData::MessageDeleted(MessageDeleted {
            message_id: row.id.clone(),
            seq: row.seq,
        }),
    )))
}

/// The message's reactions, as a reaction needs them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReactionFacts {
    /// The actor already reacted with this emoji.
    pub mine: bool,
    /// Distinct emoji on the message.
    pub distinct: u64,
    /// Someone already reacted with this emoji.
    pub has_emoji: bool,
}

// A plan lives for one write, on the stack: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ReactPlan {
    /// A repeat: nothing to record.
    Nothing,
    Add(NewEvent),
    Remove(NewEvent),
}

/// `PUT` (add) or `DELETE` a reaction; both idempotent.
pub fn react(
    actor: &str,
    row: &MessageRow,
    emoji: &str,
    add: bool,
    facts: ReactionFacts,
) -> DomainResult<ReactPlan> {
    let change = || ReactionChange {
        emoji: emoji.to_string(),
        message_id: row.id.clone(),
        seq: row.seq,
        user_id: actor.to_string(),
    };
    match (add, facts.mine) {
        (true, false) => {
            if row.deleted {
                return Err(DomainError::Conflict("the message was deleted"));
            }
            if !facts.has_emoji && facts.distinct >= MAX_DISTINCT_REACTIONS {
                return Err(DomainError::invalid(
                    "emoji",
                    "a message carries at most 20 distinct emoji",
                ));
            }
            Ok(ReactPlan::Add(NewEvent::by(
                actor,
                EventData::ReactionAdded(change()),
            )))
        }
        (false, true) => Ok(ReactPlan::Remove(NewEvent::by(
            actor,
            EventData::ReactionRemoved(change()),
        ))),
        _ => Ok(ReactPlan::Nothing),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use parley_protocol::MemberRole;

    pub(crate) fn row(seq: u64) -> MessageRow {
        MessageRow {
            id: "m".into(),
            conversation_id: "c".into(),
            seq,
            sender_id: "s".into(),
            client_id: Some("k".into()),
            kind: MessageKind::Text,
            text: Some("hi".into()),
            attachments: vec![serde_json::json!({"id": "x"})],
            reply_to: None,
            mentions: vec![],
            created_at: 1_000,
            system: None,
            edited_at: None,
            deleted: false,
        }
    }

    fn draft(reply_to: Option<&str>) -> NewMessage {
        NewMessage {
            id: "m".into(),
            conversation_id: "c".into(),
            sender_id: "s".into(),
            client_id: Some("k".into()),
            kind: MessageKind::Text,
            text: Some("hi".into()),
            reply_to: reply_to.map(str::to_string),
            mentions: vec![],
            attachments: vec![],
            at: Timestamp(1_000),
        }
    }

    fn member(role: MemberRole) -> MemberInfo {
        MemberInfo {
            role,
            joined_seq: 1,
            read_seq: 1,
            delivered_seq: 1,
            muted_until: None,
        }
    }

    #[test]
    fn tombstones_keep_id_and_seq_only() {
        let mut r = row(3);
        r.deleted = true;
        let w = r.to_wire();
        assert!(w.text.is_none() && w.attachments.is_empty() && w.deleted);
        assert_eq!((w.id.as_str(), w.seq), ("m", 3));
    }

    #[test]
    fn corrupt_lists_are_errors_not_empty() {
        assert!(parse_mentions("[\"a\"]").is_ok());
        assert!(parse_mentions("{oops").is_err());
        assert!(parse_attachments("3").is_err());
        assert_eq!(row(1).lists_json().1, "[]");
    }

    #[test]
    fn sends_need_membership_no_block_in_direct_and_a_visible_reply() {
        let facts = SendFacts {
            is_member: true,
            kind: Some(ConversationKind::Direct),
            blocked: false,
            reply: None,
            media: vec![],
        };
        assert!(check_send(&draft(None), &facts).is_ok());
        let outsider = SendFacts {
            is_member: false,
            ..facts.clone()
        };
        assert_eq!(
            check_send(&draft(None), &outsider),
            Err(DomainError::NotFound("conversation"))
        );
        let blocked = SendFacts {
            blocked: true,
            ..facts.clone()
        };
        assert_eq!(
            check_send(&draft(None), &blocked),
            Err(DomainError::Blocked)
        );
        let in_group = SendFacts {
            kind: Some(ConversationKind::Group),
            ..blocked
        };
        assert!(check_send(&draft(None), &in_group).is_ok());
        let reply = |target: Option<(&str, u64)>, joined_seq| SendFacts {
            reply: Some(ReplyFacts {
                target: target.map(|(c, s)| (c.to_string(), s)),
                joined_seq,
            }),
            ..facts.clone()
        };
        assert!(check_send(&draft(Some("t")), &reply(Some(("c", 5)), 5)).is_ok());
        for bad in [
            reply(Some(("c", 4)), 5),
            reply(Some(("other", 9)), 1),
            reply(None, 1),
        ] {
            assert!(matches!(
                check_send(&draft(Some("t")), &bad),
                Err(DomainError::Invalid { .. })
            ));
        }
    }

    #[test]
    fn the_sender_sees_sent_and_the_event_carries_no_status() {
        let (row, event, answer) = created(&draft(None), 7, &[]);
        assert_eq!(row.seq, 7);
        assert_eq!(answer.status, Some(MessageStatus::Sent));
        let EventData::MessageCreated(c) = event.data else {
            panic!("message.created");
        };
        assert_eq!(c.message.status, None);
        assert_eq!(c.message.seq, 7);
    }

    #[test]
    fn edit_rules() {
        let r = row(2);
        assert!(edit("s", &r, "x", 100, Timestamp(1_050)).is_ok());
        assert!(matches!(
            edit("o", &r, "x", 100, Timestamp(1_050)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            edit("s", &r, "x", 100, Timestamp(1_101)),
            Err(DomainError::Forbidden(_))
        ));
        let mut gone = r.clone();
        gone.deleted = true;
        assert!(matches!(
            edit("s", &gone, "x", 100, Timestamp(1_050)),
            Err(DomainError::Conflict(_))
        ));
        let mut system = r;
        system.kind = MessageKind::System;
        assert!(matches!(
            edit("s", &system, "x", 100, Timestamp(1_050)),
            Err(DomainError::Forbidden(_))
        ));
    }

    #[test]
    fn delete_rules() {
        let r = row(2);
        let member = member(MemberRole::Member);
        let admin = super::tests::member(MemberRole::Admin);
        assert!(matches!(
            delete("s", &r, &member, ConversationKind::Direct),
            Ok(DeletePlan::Delete(_))
        ));
        assert!(delete("o", &r, &member, ConversationKind::Group).is_err());
        assert!(delete("o", &r, &admin, ConversationKind::Group).is_ok());
        assert!(
            delete("o", &r, &admin, ConversationKind::Direct).is_err(),
            "no admins in direct conversations"
        );
        let mut gone = r;
        gone.deleted = true;
        assert_eq!(
            delete("o", &gone, &member, ConversationKind::Group),
            Ok(DeletePlan::AlreadyDeleted)
        );
    }

    #[test]
    fn reactions_are_idempotent_and_bounded() {
        let r = row(2);
        let f = |mine, distinct, has_emoji| ReactionFacts {
            mine,
            distinct,
            has_emoji,
        };
        assert!(matches!(
            react("u", &r, "👍", true, f(false, 0, false)),
            Ok(ReactPlan::Add(_))
        ));
        assert_eq!(
            react("u", &r, "👍", true, f(true, 1, true)),
            Ok(ReactPlan::Nothing)
        );
        assert_eq!(
            react("u", &r, "👍", false, f(false, 0, false)),
            Ok(ReactPlan::Nothing)
        );
        assert!(matches!(
            react("u", &r, "👍", false, f(true, 1, true)),
            Ok(ReactPlan::Remove(_))
        ));
        assert!(matches!(
            react("u", &r, "👍", true, f(false, 20, false)),
            Err(DomainError::Invalid { .. })
        ));
        assert!(
            react("u", &r, "👍", true, f(false, 20, true)).is_ok(),
            "an emoji already there is not a new one"
        );
        let mut gone = r;
        gone.deleted = true;
        assert!(matches!(
            react("u", &gone, "👍", true, f(false, 0, false)),
            Err(DomainError::Conflict(_))
        ));
        assert!(
            react("u", &gone, "👍", false, f(true, 0, false)).is_ok(),
            "removing from a tombstone is allowed (deletion removed them anyway)"
        );
    }
}
