//! What a committed write hands to the fan-out: frames already serialized,
//! with the users they are for. Storage produces these in commit order;
//! the fan-out moves them to connections; nothing re-serializes them.

use bytes::Bytes;
use std::sync::Arc;

/// One push produced by a committed transaction.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A conversation event, for every live connection of every recipient.
    Event {
        conversation_id: Arc<str>,
        seq: u64,
        recipients: Arc<[String]>,
        /// `{"type":"event","event":{...}}`, serialized once.
        frame: Bytes,
    },
    /// `conversation.added` for one user; their view includes `last_seq`,
    /// so their connections continue from there.
    Added {
        user_id: String,
        conversation_id: Arc<str>,
        last_seq: u64,
        frame: Bytes,
    },
    /// A push that is not an event (receipt, typing, presence): written as
    /// is to every live connection of every recipient, outside seq order.
    Ephemeral {
        recipients: Arc<[String]>,
        frame: Bytes,
    },
    /// `conversation.removed` for one user.
    Removed {
        user_id: String,
        conversation_id: Arc<str>,
        frame: Bytes,
    },
}

/// Receives deliveries after their transaction committed, in commit order.
pub type DeliverySink = Arc<dyn Fn(Vec<Delivery>) + Send + Sync>;

/// Builds the `event` frame around an event's stored JSON without parsing it.
pub fn event_frame(event_json: &str) -> Bytes {
    let mut s = String::with_capacity(event_json.len() + 26);
    s.push_str(r#"{"type":"event","event":"#);
    s.push_str(event_json);
    s.push('}');
    Bytes::from(s)
}
