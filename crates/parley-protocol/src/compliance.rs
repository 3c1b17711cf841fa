//! The admin (compliance) export of a whole conversation (protocol.md §13,
//! beyond the caller's-view export): what its JSON names the conversation.

use crate::rest::ConversationKind;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The conversation as no member sees it: the facts an auditor needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComplianceConversation {
    pub id: String,
    pub kind: ConversationKind,
    pub title: Option<String>,
    pub created_at: Timestamp,
    pub last_seq: u64,
    /// Its current members.
    pub member_ids: Vec<String>,
}
