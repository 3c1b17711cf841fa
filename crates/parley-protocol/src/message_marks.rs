//! A user's own marks on messages (docs/protocol.md, "Starred messages and
//! delete for me"): the REST bodies and the `message.mark` frame that tells
//! the user's other devices.

use crate::rest::Message;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One message's marks for the caller: the answer of both PUTs, an item of
/// `GET /conversations/{id}/marks` and the payload of `message.mark`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessageMark {
    pub message_id: String,
    pub conversation_id: String,
    pub seq: u64,
    /// In the caller's starred list.
    pub starred: bool,
    /// Deleted for the caller only: clients do not show it.
    pub hidden: bool,
}

/// `GET /conversations/{id}/marks`: every message of the conversation the
/// caller starred or deleted for themselves, ascending seq.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MessageMarkList {
    pub marks: Vec<MessageMark>,
}

/// `PUT /messages/{id}/star`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StarRequest {
    pub starred: bool,
}

/// `PUT /messages/{id}/hidden` (delete for me; `false` undoes it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HideRequest {
    pub hidden: bool,
}

/// One starred message with when it was starred.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StarredMessage {
    pub message: Message,
    pub starred_at: crate::time::Timestamp,
}

/// `GET /users/me/starred?cursor=&limit=`: newest star first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StarredList {
    pub starred: Vec<StarredMessage>,
    pub next_cursor: Option<String>,
}
