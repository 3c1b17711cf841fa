//! Webhooks for integrations (protocol.md §12, "Webhooks (admin)"): the
//! admin API's bodies and the delivery log. A delivery's body,
//! `{type, timestamp, data}`, is built around the stored event by the
//! server; its signature headers are in `parley-outbound`.

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /webhooks`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `http` or `https`; a refused literal address is `invalid_request`.
    pub url: String,
    /// Section 5 and section 9 event types, at least one.
    pub events: Vec<String>,
    /// `whsec_` and the base64 of 24 to 64 bytes; generated when omitted.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// `PATCH /webhooks/{id}`: absent fields stay; `description: null` clears.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// A webhook as the admin API shows it (never its secret after creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    /// `false` once an admin pauses it, or after days of failed deliveries.
    pub active: bool,
    pub created_at: Timestamp,
}

/// The answer to `POST /webhooks`: the only time the secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookCreated {
    #[serde(flatten)]
    pub webhook: Webhook,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookPage {
    pub webhooks: Vec<Webhook>,
    pub next_cursor: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One entry of a webhook's delivery log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDelivery {
    /// The `webhook-id` header of every attempt.
    pub id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The last attempt's HTTP status; `null` for a network error, a
    /// timeout, a refused address, or no attempt yet.
    pub last_status: Option<u16>,
    pub created_at: Timestamp,
    /// When the next attempt is due; `null` once delivered or failed.
    pub next_attempt_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<WebhookDelivery>,
    pub next_cursor: Option<String>,
}
