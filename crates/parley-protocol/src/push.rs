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

/// `POST /push/subscriptions`: the browser's `PushSubscription.toJSON()`,
/// or a native app's push-gateway registration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeRequest {
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Accepted and ignored: push services answer 404/410 when it passes.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub expiration_time: Option<serde_json::Value>,
    #[serde(default)]
    pub keys: Option<SubscriptionKeys>,
    /// Instead of `endpoint` and `keys`: a device reached through the
    /// operator's push gateway.
    #[serde(default)]
    pub gateway: Option<GatewayDevice>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubscriptionKeys {
    pub p256dh: String,
    pub auth: String,
}

/// A native app's device, as the push gateway knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayDevice {
    pub platform: GatewayPlatform,
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GatewayPlatform {
    Fcm,
    Apns,
}

impl GatewayPlatform {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayPlatform::Fcm => "fcm",
            GatewayPlatform::Apns => "apns",
        }
    }

    pub fn parse(s: &str) -> Option<GatewayPlatform> {
        match s {
            "fcm" => Some(GatewayPlatform::Fcm),
            "apns" => Some(GatewayPlatform::Apns),
            _ => None,
        }
    }
}

/// A subscription as its owner sees it (Web Push keys are never shown
/// again): `endpoint` for a browser, `gateway` for a native app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PushSubscription {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<GatewayDevice>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushSubscriptions {
    pub subscriptions: Vec<PushSubscription>,
}

/// `DELETE /push/subscriptions`: `{endpoint}` or `{gateway}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeRequest {
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub gateway: Option<GatewayDevice>,
}

/// What the push gateway is sent (signed like a webhook delivery).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GatewayNotification {
    pub platform: GatewayPlatform,
    pub token: String,
    pub notification: PushNotification,
}

/// What a push carries: a message to show, or a silent update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PushNotification {
    Message(PushPayload),
    Read(PushRead),
}

/// A silent update (beyond protocol.md §12): the user read the
/// conversation up to `read_seq` on another device, so a notification
/// shown for it can be closed. Sent only to devices that were shown one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PushRead {
    /// `"read"`.
    #[serde(rename = "type")]
    pub kind: String,
    pub conversation_id: String,
    pub read_seq: u64,
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
