//! What a committed write hands to the fan-out: frames already serialized,
//! with the users they are for. Storage produces these in commit order;
//! the fan-out moves them to connections; nothing re-serializes them.
//! Both backends build them with the functions here.

use crate::{StoreError, StoreResult};
use bytes::Bytes;
use parley_protocol::{Conversation, Event, ServerFrame};
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

fn internal(e: serde_json::Error) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// The event as stored and sent (serialized once), and its delivery to
/// `recipients`, the conversation's current members.
pub fn event(event: &Event, recipients: Arc<[String]>) -> StoreResult<(String, Delivery)> {
    let body = serde_json::to_string(event).map_err(internal)?;
    let delivery = Delivery::Event {
        conversation_id: Arc::from(event.conversation_id.as_str()),
        seq: event.seq,
        recipients,
        frame: event_frame(&body),
    };
    Ok((body, delivery))
}

/// `conversation.added` for `user`, with the conversation as they see it.
pub fn added(user: &str, view: Conversation) -> StoreResult<Delivery> {
    let conversation_id = Arc::from(view.id.as_str());
    let last_seq = view.last_seq;
    let frame = serde_json::to_vec(&ServerFrame::ConversationAdded { conversation: view })
        .map_err(internal)?;
    Ok(Delivery::Added {
        user_id: user.to_string(),
        conversation_id,
        last_seq,
        frame: frame.into(),
    })
}

/// `conversation.removed` for `user`.
pub fn removed(user: &str, conv: &str) -> StoreResult<Delivery> {
    let frame = serde_json::to_vec(&ServerFrame::ConversationRemoved {
        conversation_id: conv.to_string(),
    })
    .map_err(internal)?;
    Ok(Delivery::Removed {
        user_id: user.to_string(),
        conversation_id: Arc::from(conv),
        frame: frame.into(),
    })
}

/// `receipt` to `recipients` (see `parley_domain::receipts`); nothing if
/// nobody is to hear it.
pub fn receipt(
    conv: &str,
    user: &str,
    delivered: u64,
    read: u64,
    recipients: Vec<String>,
) -> StoreResult<Option<Delivery>> {
    if recipients.is_empty() {
        return Ok(None);
    }
    let frame = serde_json::to_vec(&ServerFrame::Receipt {
        conversation_id: conv.to_string(),
        user_id: user.to_string(),
        delivered_seq: delivered,
        read_seq: read,
    })
    .map_err(internal)?;
    Ok(Some(Delivery::Ephemeral {
        recipients: Arc::from(recipients),
        frame: frame.into(),
    }))
}
