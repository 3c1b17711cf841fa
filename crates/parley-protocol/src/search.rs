//! Message search (protocol.md §13).

use crate::{ConversationKind, Message};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The conversation of a hit; `title` is the group's title, or for a
/// direct conversation the other person's display name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchConversation {
    pub id: String,
    pub kind: ConversationKind,
    pub title: Option<String>,
}

/// One hit: the message as the caller sees it, its conversation, and up
/// to 200 characters of its text around the first match, HTML-escaped,
/// matches in `<mark>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub message: Message,
    pub conversation: SearchConversation,
    pub snippet: String,
}

/// `GET /search/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SearchPage {
    pub hits: Vec<SearchHit>,
    pub next_cursor: Option<String>,
}
