//! Web Push subscriptions and the push payload (protocol.md §12, "Web
//! Push").

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /push/vapid-public-key`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VapidPublicKey {
    /// Uncompressed P-256 point, base64url without padding.
    pub public_key: String,
}

/// The browser's `PushSubscription.toJSON()`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeRequest {
    pub endpoint: String,
    /// Accepted and ignored: push services answer 404/410 when it passes.
    #[serde(default)]
    pub expiration_time: Option<serde_json::Value>,
    pub keys: SubscriptionKeys,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    pub p256dh: String,
    pub auth: String,
}

/// A subscription as its owner sees it (the keys are never shown again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PushSubscription {
    pub id: String,
    pub endpoint: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushSubscriptions {
    pub subscriptions: Vec<PushSubscription>,
}

/// `DELETE /push/subscriptions`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeRequest {
    pub endpoint: String,
}

/// The plaintext of a push (at most 3 KiB of UTF-8 JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PushPayload {
    /// `"message"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub conversation_id: String,
    pub message_id: String,
    pub seq: u64,
    /// The group's title, or the sender's name in a direct conversation.
    pub title: String,
    pub sender_id: String,
    pub sender_name: String,
    /// The first 200 characters of the text; null without text or with
    /// previews off.
    pub preview: Option<String>,
    pub unread_count: u64,
}
