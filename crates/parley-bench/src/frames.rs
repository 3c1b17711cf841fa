//! Just enough of the server's gateway frames to measure with. The load
//! generator shares the machine's cores with the server, so it decodes the
//! few fields it needs, borrowing from the frame, instead of whole
//! `ServerFrame`s.

use serde::Deserialize;
use std::borrow::Cow;

#[derive(Debug, Deserialize)]
pub struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(rename = "ref", default)]
    pub reference: Option<String>,
    #[serde(default, borrow)]
    pub event: Option<Event<'a>>,
    /// `conversation.added`.
    #[serde(default)]
    pub conversation: Option<Conversation>,
    /// `ready`.
    #[serde(default)]
    pub user: Option<User>,
    /// `sync.done`.
    #[serde(default)]
    pub resync: Option<Vec<String>>,
    /// `error`.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    /// The `ack` of `message.send`.
    #[serde(default)]
    pub message: Option<AckedMessage>,
}

#[derive(Debug, Deserialize)]
pub struct Event<'a> {
    #[serde(borrow)]
    pub conversation_id: Cow<'a, str>,
    pub seq: u64,
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    #[serde(default, borrow)]
    pub data: Option<EventData<'a>>,
}

impl Event<'_> {
    /// The message of a `message.created` event.
    pub fn message(&self) -> Option<&EventMessage<'_>> {
        if self.kind != "message.created" {
            return None;
        }
        self.data.as_ref()?.message.as_ref()
    }
}

#[derive(Debug, Deserialize)]
pub struct EventData<'a> {
    #[serde(default, borrow)]
    pub message: Option<EventMessage<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct EventMessage<'a> {
    #[serde(borrow)]
    pub sender_id: Cow<'a, str>,
    #[serde(default, borrow)]
    pub text: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub last_seq: u64,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct AckedMessage {
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_message_event_and_ignores_the_rest() {
        let text = r#"{"type":"event","event":{"conversation_id":"c1","seq":7,"type":"message.created","actor_id":"u","at":"x","data":{"message":{"id":"m","seq":7,"sender_id":"u1","text":"t5;xx","reactions":[]}}}}"#;
        let f: Frame<'_> = serde_json::from_str(text).expect("decodes");
        let e = f.event.expect("event");
        assert_eq!(e.seq, 7);
        let m = e.message().expect("message");
        assert_eq!(m.sender_id, "u1");
        assert_eq!(m.text.as_deref(), Some("t5;xx"));
    }
}
