//! A member's own organisation of their chats (docs/protocol.md, "Pinned
//! and archived chats"): the REST bodies and the `chat.state` frame that
//! tells the user's other devices.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The state of one chat for the caller: the answer of both PUTs, an item
/// of `GET /users/me/chats` and the payload of the `chat.state` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChatState {
    pub conversation_id: String,
    /// When it was pinned (pinned chats are listed in this order, oldest
    /// pin first); `null`: not pinned.
    pub pinned_at: Option<Timestamp>,
    /// In the Archived list (until a new message arrives, unless muted).
    pub archived: bool,
}

/// `GET /users/me/chats`: every chat of the caller that is pinned or
/// archived now (others are neither).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChatStateList {
    pub chats: Vec<ChatState>,
}

/// `PUT /conversations/{id}/pin`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinRequest {
    pub pinned: bool,
}

/// `PUT /conversations/{id}/archive`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRequest {
    pub archived: bool,
}
