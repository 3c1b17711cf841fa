//! Who reacted to a message (docs/protocol.md deviation 44).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One emoji on a message and who used it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReactionUsers {
    pub emoji: String,
    /// Everyone who reacted with it.
    pub count: u64,
    /// Whether the caller is one of them.
    pub me: bool,
    /// Who, in the order they reacted (the first 100).
    pub user_ids: Vec<String>,
}

/// `GET /messages/{id}/reactions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReactionUsersList {
    pub message_id: String,
    pub reactions: Vec<ReactionUsers>,
}
