//! Conversation events (protocol.md §5): `{conversation_id, seq, type,
//! actor_id, at, data}`, with `data` typed per event type.
//!
//! [`EventData`] is one adjacently tagged enum (`type` + `data`), so a new
//! event is a new variant here and nowhere else: the server builds it, the
//! SDK and the load generator read it, and serde writes the same JSON for
//! all of them. The payload structs declare their fields in alphabetical
//! order, the order in which the server wrote them before they were typed
//! (an untyped `serde_json` map sorts its keys), so stored and live events
//! keep their bytes.

use crate::rest::{ConversationKind, MemberRole, Message};
use crate::time::Timestamp;
use serde::ser::SerializeStruct as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

/// One entry of a conversation's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub conversation_id: String,
    pub seq: u64,
    pub actor_id: Option<String>,
    pub at: Timestamp,
    /// The type and its payload.
    pub data: EventData,
}

impl Event {
    /// The event's `type` on the wire.
    pub fn kind(&self) -> &'static str {
        self.data.kind()
    }

    /// The message carried by `message.created`.
    pub fn message(&self) -> Option<Message> {
        match &self.data {
            EventData::MessageCreated(c) => Some(c.message.clone()),
            _ => None,
        }
    }
}

/// What happened, by event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum EventData {
    #[serde(rename = "conversation.created")]
    ConversationCreated(ConversationCreated),
    #[serde(rename = "conversation.updated")]
    ConversationUpdated(ConversationUpdated),
    #[serde(rename = "message.created")]
    MessageCreated(MessageCreated),
    #[serde(rename = "message.edited")]
    MessageEdited(MessageEdited),
    #[serde(rename = "message.deleted")]
    MessageDeleted(MessageDeleted),
    #[serde(rename = "reaction.added")]
    ReactionAdded(ReactionChange),
    #[serde(rename = "reaction.removed")]
    ReactionRemoved(ReactionChange),
    #[serde(rename = "member.joined")]
    MemberJoined(MemberJoined),
    #[serde(rename = "member.left")]
    MemberLeft(MemberLeft),
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged(MemberRoleChanged),
    #[serde(rename = "support.queued")]
    SupportQueued(SupportQueued),
    #[serde(rename = "support.assigned")]
    SupportAssigned(SupportAssigned),
    #[serde(rename = "support.transferred")]
    SupportTransferred(SupportTransferred),
    #[serde(rename = "support.resolved")]
    SupportResolved(SupportResolved),
    #[serde(rename = "support.reopened")]
    SupportReopened(SupportReopened),
    /// A type this version does not know (a newer server's): clients skip
    /// it. The server never writes one.
    #[serde(skip)]
    Unknown,
}

impl EventData {
    pub fn kind(&self) -> &'static str {
        use event_type::*;
        match self {
            EventData::ConversationCreated(_) => CONVERSATION_CREATED,
            EventData::ConversationUpdated(_) => CONVERSATION_UPDATED,
            EventData::MessageCreated(_) => MESSAGE_CREATED,
            EventData::MessageEdited(_) => MESSAGE_EDITED,
            EventData::MessageDeleted(_) => MESSAGE_DELETED,
            EventData::ReactionAdded(_) => REACTION_ADDED,
            EventData::ReactionRemoved(_) => REACTION_REMOVED,
            EventData::MemberJoined(_) => MEMBER_JOINED,
            EventData::MemberLeft(_) => MEMBER_LEFT,
            EventData::MemberRoleChanged(_) => MEMBER_ROLE_CHANGED,
            EventData::SupportQueued(_) => SUPPORT_QUEUED,
            EventData::SupportAssigned(_) => SUPPORT_ASSIGNED,
            EventData::SupportTransferred(_) => SUPPORT_TRANSFERRED,
            EventData::SupportResolved(_) => SUPPORT_RESOLVED,
            EventData::SupportReopened(_) => SUPPORT_REOPENED,
            EventData::Unknown => "unknown",
        }
    }
}

/// `conversation.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConversationCreated {
    pub kind: ConversationKind,
    pub member_ids: Vec<String>,
    pub title: Option<String>,
}

/// `conversation.updated`: only what changed is present; `avatar_url:
/// null` means it was cleared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConversationUpdated {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::present"
    )]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl ConversationUpdated {
    pub fn is_empty(&self) -> bool {
        self.avatar_url.is_none() && self.title.is_none()
    }
}

/// `message.created`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageCreated {
    pub message: Message,
}

/// `message.edited`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageEdited {
    pub edited_at: Timestamp,
    pub message_id: String,
    pub seq: u64,
    /// The new text; `null` once retention expired the message (§13).
    pub text: Option<String>,
}

/// `message.deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MessageDeleted {
    pub message_id: String,
    pub seq: u64,
}

/// `reaction.added` and `reaction.removed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReactionChange {
    pub emoji: String,
    pub message_id: String,
    pub seq: u64,
    pub user_id: String,
}

/// `member.joined`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberJoined {
    pub added_by: String,
    pub role: MemberRole,
    pub user_id: String,
}

/// `member.left`: `removed_by` is present when someone else removed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberLeft {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_by: Option<String>,
    pub user_id: String,
}

/// `member.role_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemberRoleChanged {
    pub role: MemberRole,
    pub user_id: String,
}

/// Why a support conversation entered a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueReason {
    New,
    Reopened,
    Transferred,
    AgentGone,
    AgentRemoved,
}

/// `support.queued`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SupportQueued {
    pub inbox_id: String,
    pub reason: QueueReason,
}

/// `support.assigned`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SupportAssigned {
    pub agent_id: String,
}

/// `support.transferred`: nulls where not applicable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SupportTransferred {
    pub from_agent_id: Option<String>,
    pub from_inbox_id: Option<String>,
    pub to_agent_id: Option<String>,
    pub to_inbox_id: Option<String>,
}

/// `support.resolved`: the assignee at the time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SupportResolved {
    pub agent_id: Option<String>,
}

/// `support.reopened`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SupportReopened {}

/// Event type names.
pub mod event_type {
    pub const CONVERSATION_CREATED: &str = "conversation.created";
    pub const CONVERSATION_UPDATED: &str = "conversation.updated";
    pub const MESSAGE_CREATED: &str = "message.created";
    pub const MESSAGE_EDITED: &str = "message.edited";
    pub const MESSAGE_DELETED: &str = "message.deleted";
    pub const REACTION_ADDED: &str = "reaction.added";
    pub const REACTION_REMOVED: &str = "reaction.removed";
    pub const MEMBER_JOINED: &str = "member.joined";
    pub const MEMBER_LEFT: &str = "member.left";
    pub const MEMBER_ROLE_CHANGED: &str = "member.role_changed";
    pub const SUPPORT_QUEUED: &str = "support.queued";
    pub const SUPPORT_ASSIGNED: &str = "support.assigned";
    pub const SUPPORT_TRANSFERRED: &str = "support.transferred";
    pub const SUPPORT_RESOLVED: &str = "support.resolved";
    pub const SUPPORT_REOPENED: &str = "support.reopened";

    /// Every type this version knows.
    pub const ALL: [&str; 15] = [
        CONVERSATION_CREATED,
        CONVERSATION_UPDATED,
        MESSAGE_CREATED,
        MESSAGE_EDITED,
        MESSAGE_DELETED,
        REACTION_ADDED,
        REACTION_REMOVED,
        MEMBER_JOINED,
        MEMBER_LEFT,
        MEMBER_ROLE_CHANGED,
        SUPPORT_QUEUED,
        SUPPORT_ASSIGNED,
        SUPPORT_TRANSFERRED,
        SUPPORT_RESOLVED,
        SUPPORT_REOPENED,
    ];
}

/// `data` alone: [`Event`] writes `type` and `data` apart, in the wire's
/// field order (`type` before `actor_id`).
struct DataOnly<'a>(&'a EventData);

impl Serialize for DataOnly<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            EventData::ConversationCreated(d) => d.serialize(s),
            EventData::ConversationUpdated(d) => d.serialize(s),
            EventData::MessageCreated(d) => d.serialize(s),
            EventData::MessageEdited(d) => d.serialize(s),
            EventData::MessageDeleted(d) => d.serialize(s),
            EventData::ReactionAdded(d) | EventData::ReactionRemoved(d) => d.serialize(s),
            EventData::MemberJoined(d) => d.serialize(s),
            EventData::MemberLeft(d) => d.serialize(s),
            EventData::MemberRoleChanged(d) => d.serialize(s),
            EventData::SupportQueued(d) => d.serialize(s),
            EventData::SupportAssigned(d) => d.serialize(s),
            EventData::SupportTransferred(d) => d.serialize(s),
            EventData::SupportResolved(d) => d.serialize(s),
            EventData::SupportReopened(d) => d.serialize(s),
            EventData::Unknown => s.serialize_unit(),
        }
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Event", 6)?;
        st.serialize_field("conversation_id", &self.conversation_id)?;
        st.serialize_field("seq", &self.seq)?;
        st.serialize_field("type", self.data.kind())?;
        st.serialize_field("actor_id", &self.actor_id)?;
        st.serialize_field("at", &self.at)?;
        st.serialize_field("data", &DataOnly(&self.data))?;
        st.end()
    }
}

/// The wire form, for reading: `type` and `data` then go to [`EventData`].
#[derive(Deserialize)]
struct WireEvent {
    conversation_id: String,
    seq: u64,
    #[serde(rename = "type")]
    kind: String,
    actor_id: Option<String>,
    at: Timestamp,
    #[serde(default)]
    data: serde_json::Value,
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = WireEvent::deserialize(d)?;
        let data = if event_type::ALL.contains(&w.kind.as_str()) {
            let tagged = serde_json::json!({"type": w.kind, "data": w.data});
            EventData::deserialize(tagged).map_err(serde::de::Error::custom)?
        } else {
            EventData::Unknown
        };
        Ok(Event {
            conversation_id: w.conversation_id,
            seq: w.seq,
            actor_id: w.actor_id,
            at: w.at,
            data,
        })
    }
}

/// How the OpenAPI document describes an event.
#[derive(ToSchema)]
#[schema(as = Event)]
#[allow(dead_code)]
struct EventSchema {
    conversation_id: String,
    seq: u64,
    /// One of [`event_type`]'s names.
    #[schema(rename = "type")]
    kind: String,
    actor_id: Option<String>,
    at: Timestamp,
    /// Per type: see protocol.md §5.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

impl utoipa::PartialSchema for Event {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        EventSchema::schema()
    }
}

impl ToSchema for Event {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Event")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::MessageKind;
    use serde_json::{Value, json};

    fn message() -> Message {
        Message {
            id: "m1".into(),
            conversation_id: "c1".into(),
            seq: 7,
            sender_id: "u1".into(),
            client_id: Some("k".into()),
            kind: MessageKind::Text,
            text: Some("hi".into()),
            attachments: vec![],
            reply_to: None,
            mentions: vec![],
            created_at: Timestamp(1_700_000_000_000),
            edited_at: None,
            deleted: false,
            reactions: vec![],
            status: None,
            system: None,
        }
    }

    /// Every payload next to the `json!` the server wrote before events
    /// were typed: the bytes of the whole event must be the same (the
    /// message inside `message.created` only as JSON: it used to go
    /// through a sorted map).
    fn cases() -> Vec<(EventData, &'static str, Value)> {
        let at = Timestamp(1_700_000_000_500);
        vec![
            (
                EventData::ConversationCreated(ConversationCreated {
                    kind: ConversationKind::Direct,
                    member_ids: vec!["a".into(), "b".into()],
                    title: None,
                }),
                "conversation.created",
                json!({"kind": "direct", "title": null, "member_ids": ["a", "b"]}),
            ),
            (
                EventData::ConversationCreated(ConversationCreated {
                    kind: ConversationKind::Group,
                    member_ids: vec!["a".into()],
                    title: Some("Team".into()),
                }),
                "conversation.created",
                json!({"kind": "group", "title": "Team", "member_ids": ["a"]}),
            ),
            (
                EventData::ConversationUpdated(ConversationUpdated {
                    avatar_url: Some(None),
                    title: Some("New".into()),
                }),
                "conversation.updated",
                json!({"title": "New", "avatar_url": null}),
            ),
            (
                EventData::ConversationUpdated(ConversationUpdated {
                    avatar_url: Some(Some("https://x/a.png".into())),
                    title: None,
                }),
                "conversation.updated",
                json!({"avatar_url": "https://x/a.png"}),
            ),
            (
                EventData::MessageEdited(MessageEdited {
                    edited_at: at,
                    message_id: "m1".into(),
                    seq: 7,
                    text: Some("new".into()),
                }),
                "message.edited",
                json!({"message_id": "m1", "seq": 7, "text": "new", "edited_at": at}),
            ),
            (
                EventData::MessageDeleted(MessageDeleted {
                    message_id: "m1".into(),
                    seq: 7,
                }),
                "message.deleted",
                json!({"message_id": "m1", "seq": 7}),
            ),
            (
                EventData::ReactionAdded(ReactionChange {
                    emoji: "👍".into(),
                    message_id: "m1".into(),
                    seq: 7,
                    user_id: "u2".into(),
                }),
                "reaction.added",
                json!({"message_id": "m1", "seq": 7, "emoji": "👍", "user_id": "u2"}),
            ),
            (
                EventData::ReactionRemoved(ReactionChange {
                    emoji: "👍".into(),
                    message_id: "m1".into(),
                    seq: 7,
                    user_id: "u2".into(),
                }),
                "reaction.removed",
                json!({"message_id": "m1", "seq": 7, "emoji": "👍", "user_id": "u2"}),
            ),
            (
                EventData::MemberJoined(MemberJoined {
                    added_by: "u1".into(),
                    role: MemberRole::Member,
                    user_id: "u3".into(),
                }),
                "member.joined",
                json!({"user_id": "u3", "role": "member", "added_by": "u1"}),
            ),
            (
                EventData::MemberLeft(MemberLeft {
                    removed_by: None,
                    user_id: "u3".into(),
                }),
                "member.left",
                json!({"user_id": "u3"}),
            ),
            (
                EventData::MemberLeft(MemberLeft {
                    removed_by: Some("u1".into()),
                    user_id: "u3".into(),
                }),
                "member.left",
                json!({"user_id": "u3", "removed_by": "u1"}),
            ),
            (
                EventData::MemberRoleChanged(MemberRoleChanged {
                    role: MemberRole::Owner,
                    user_id: "u3".into(),
                }),
                "member.role_changed",
                json!({"user_id": "u3", "role": "owner"}),
            ),
            (
                EventData::SupportQueued(SupportQueued {
                    inbox_id: "i1".into(),
                    reason: QueueReason::AgentGone,
                }),
                "support.queued",
                json!({"reason": "agent_gone", "inbox_id": "i1"}),
            ),
            (
                EventData::SupportAssigned(SupportAssigned {
                    agent_id: "a1".into(),
                }),
                "support.assigned",
                json!({"agent_id": "a1"}),
            ),
            (
                EventData::SupportTransferred(SupportTransferred {
                    from_agent_id: Some("a1".into()),
                    from_inbox_id: Some("i1".into()),
                    to_agent_id: None,
                    to_inbox_id: Some("i2".into()),
                }),
                "support.transferred",
                json!({"to_inbox_id": "i2", "from_agent_id": "a1", "to_agent_id": null, "from_inbox_id": "i1"}),
            ),
            (
                EventData::SupportResolved(SupportResolved { agent_id: None }),
                "support.resolved",
                json!({"agent_id": null}),
            ),
            (
                EventData::SupportReopened(SupportReopened {}),
                "support.reopened",
                json!({}),
            ),
            (
                EventData::MessageCreated(MessageCreated { message: message() }),
                "message.created",
                json!({"message": message()}),
            ),
        ]
    }

    /// The untyped event as the server serialized it before.
    fn legacy(kind: &str, data: &Value) -> String {
        #[derive(Serialize)]
        struct Legacy<'a> {
            conversation_id: &'a str,
            seq: u64,
            #[serde(rename = "type")]
            kind: &'a str,
            actor_id: Option<&'a str>,
            at: Timestamp,
            data: &'a Value,
        }
        serde_json::to_string(&Legacy {
            conversation_id: "c1",
            seq: 9,
            kind,
            actor_id: Some("u1"),
            at: Timestamp(1_700_000_000_500),
            data,
        })
        .expect("serialize")
    }

    #[test]
    fn typed_events_write_what_untyped_ones_did() {
        let mut seen: Vec<&str> = cases().iter().map(|c| c.1).collect();
        seen.dedup();
        let mut all = event_type::ALL.to_vec();
        all.sort_unstable();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, all, "every event type is covered, and ALL lists them");
        for (data, kind, old) in cases() {
            let event = Event {
                conversation_id: "c1".into(),
                seq: 9,
                actor_id: Some("u1".into()),
                at: Timestamp(1_700_000_000_500),
                data: data.clone(),
            };
            assert_eq!(event.kind(), kind);
            let new = serde_json::to_string(&event).expect("serialize");
            let before = legacy(kind, &old);
            if kind == "message.created" {
                let a: Value = serde_json::from_str(&new).expect("json");
                let b: Value = serde_json::from_str(&before).expect("json");
                assert_eq!(a, b, "{kind}");
            } else {
                assert_eq!(new, before, "{kind}: bytes changed");
            }
            // Stored rows written before (sorted keys) read back the same.
            let read: Event = serde_json::from_str(&before).expect("read legacy");
            assert_eq!(read, event, "{kind}");
            let round: Event = serde_json::from_str(&new).expect("read");
            assert_eq!(round, event, "{kind}");
        }
    }

    #[test]
    fn unknown_types_are_skippable_not_errors() {
        let e: Event = serde_json::from_str(
            r#"{"conversation_id":"c","seq":3,"type":"poll.created","actor_id":null,"at":"2026-01-01T00:00:00.000Z","data":{"question":"x"}}"#,
        )
        .expect("an unknown type still parses");
        assert_eq!(e.data, EventData::Unknown);
        assert_eq!(e.seq, 3);
    }

    #[test]
    fn a_known_type_with_a_wrong_payload_is_an_error() {
        let r: Result<Event, _> = serde_json::from_str(
            r#"{"conversation_id":"c","seq":3,"type":"message.deleted","actor_id":null,"at":"2026-01-01T00:00:00.000Z","data":{"seq":"x"}}"#,
        );
        assert!(r.is_err());
    }
}
