//! Retention (protocol.md §13): the admin API's bodies.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /admin/retention/run` (the body is optional).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRunRequest {
    /// Run as if the time were this (RFC 3339), not earlier than the
    /// server's clock; default: now.
    #[serde(default)]
    pub now: Option<Timestamp>,
}

/// The answer of a pass run on demand.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RetentionRun {
    /// Messages that became tombstones.
    pub tombstoned: u64,
}

/// `PUT /admin/conversations/{id}/retention`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetConversationRetention {
    /// Days this conversation keeps messages (1-36500), over the server's
    /// `retention.message_days`; `null`: the server's setting again.
    #[schema(minimum = 1, maximum = 36500)]
    pub message_days: Option<u32>,
}

/// A conversation's own retention.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversationRetention {
    pub conversation_id: String,
    /// `null`: the server's `retention.message_days` applies.
    pub message_days: Option<u32>,
    /// What applies to it now, own or the server's; `null`: kept forever.
    pub effective_message_days: Option<u32>,
}
