//! Gateway frames (protocol.md §6 and §8). One JSON object per text frame,
//! `type` first.

use crate::error::ApiError;
use crate::rest::{Conversation, Event, Message, PresenceState, SinceMap, User};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Frames a client sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum ClientFrame {
    #[serde(rename = "message.send")]
    MessageSend {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation_id: String,
        client_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachments: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<String>,
    },
    #[serde(rename = "message.delivered")]
    MessageDelivered {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation_id: String,
        #[serde(deserialize_with = "crate::rest::saturating_i64")]
        seq: i64,
    },
    #[serde(rename = "message.read")]
    MessageRead {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation_id: String,
        #[serde(deserialize_with = "crate::rest::saturating_i64")]
        seq: i64,
    },
    #[serde(rename = "typing.start")]
    TypingStart {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation_id: String,
    },
    #[serde(rename = "typing.stop")]
    TypingStop {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation_id: String,
    },
    #[serde(rename = "presence.set")]
    PresenceSet {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        state: PresenceState,
    },
    #[serde(rename = "sync")]
    Sync {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        #[serde(default)]
        since: SinceMap,
    },
    #[serde(rename = "ping")]
    Ping {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

impl ClientFrame {
    pub fn reference(&self) -> Option<&str> {
        match self {
            ClientFrame::MessageSend { reference, .. }
            | ClientFrame::MessageDelivered { reference, .. }
            | ClientFrame::MessageRead { reference, .. }
            | ClientFrame::TypingStart { reference, .. }
            | ClientFrame::TypingStop { reference, .. }
            | ClientFrame::PresenceSet { reference, .. }
            | ClientFrame::Sync { reference, .. }
            | ClientFrame::Ping { reference } => reference.as_deref(),
        }
    }

    /// The frame with its `ref` set (clients number their requests).
    pub fn with_reference(mut self, value: String) -> ClientFrame {
        match &mut self {
            ClientFrame::MessageSend { reference, .. }
            | ClientFrame::MessageDelivered { reference, .. }
            | ClientFrame::MessageRead { reference, .. }
            | ClientFrame::TypingStart { reference, .. }
            | ClientFrame::TypingStop { reference, .. }
            | ClientFrame::PresenceSet { reference, .. }
            | ClientFrame::Sync { reference, .. }
            | ClientFrame::Ping { reference } => *reference = Some(value),
        }
        self
    }
}

/// Frames the server sends.
// Frames live briefly (built, serialized, dropped); boxing the large
// variants would cost an allocation each for no memory saved.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerFrame {
    #[serde(rename = "ready")]
    Ready {
        session_id: String,
        user: User,
        heartbeat_ms: u64,
        server_time: Timestamp,
    },
    #[serde(rename = "ack")]
    Ack {
        #[serde(rename = "ref")]
        reference: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<Message>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        read_seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivered_seq: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unread_count: Option<u64>,
    },
    #[serde(rename = "error")]
    Error {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        error: ApiError,
    },
    #[serde(rename = "event")]
    Event { event: Event },
    #[serde(rename = "conversation.added")]
    ConversationAdded { conversation: Conversation },
    #[serde(rename = "conversation.removed")]
    ConversationRemoved { conversation_id: String },
    #[serde(rename = "receipt")]
    Receipt {
        conversation_id: String,
        user_id: String,
        delivered_seq: u64,
        read_seq: u64,
    },
    #[serde(rename = "typing")]
    Typing {
        conversation_id: String,
        user_id: String,
        typing: bool,
    },
    #[serde(rename = "presence")]
    Presence {
        user_id: String,
        state: PresenceState,
        last_seen_at: Option<Timestamp>,
    },
    #[serde(rename = "sync.done")]
    SyncDone {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        resync: Vec<String>,
    },
    /// The user pinned, unpinned, archived or unarchived a chat on one of
    /// their devices (sent to all of them).
    #[serde(rename = "chat.state")]
    ChatState {
        #[serde(flatten)]
        state: crate::chat_state::ChatState,
    },
    /// The user starred, unstarred, deleted for themselves or restored a
    /// message on one of their devices (sent to all of them).
    #[serde(rename = "message.mark")]
    MessageMark {
        #[serde(flatten)]
        mark: crate::message_marks::MessageMark,
    },
    #[serde(rename = "support.queue")]
    SupportQueue {
        conversation_id: String,
        position: u32,
    },
    #[serde(rename = "pong")]
    Pong {
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

impl ServerFrame {
    /// A bare ack with no result fields.
    pub fn ack(reference: String) -> Self {
        ServerFrame::Ack {
            reference,
            message: None,
            read_seq: None,
            delivered_seq: None,
            unread_count: None,
        }
    }
}

/// Gateway close codes (protocol.md §6).
pub mod close_code {
    pub const GOING_AWAY: u16 = 1001;
    pub const UNAUTHENTICATED: u16 = 4001;
    pub const BANNED: u16 = 4003;
    pub const TOO_SLOW: u16 = 4008;
    pub const FRAME_TOO_LARGE: u16 = 4009;
    pub const RATE_LIMITED: u16 = 4029;
    pub const PROTOCOL_ERROR: u16 = 4400;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_comes_first_in_server_frames() {
        let f = ServerFrame::Pong {
            reference: Some("r1".into()),
        };
        let s = serde_json::to_string(&f).expect("serializes");
        assert!(s.starts_with(r#"{"type":"pong""#), "{s}");
    }

    #[test]
    fn unknown_client_type_is_an_error() {
        let r: Result<ClientFrame, _> = serde_json::from_str(r#"{"type":"nope"}"#);
        assert!(r.is_err());
    }
}
