//! Notification preferences (protocol.md §12, "Preferences and mute").

use crate::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which messages may push to the user's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushPreference {
    #[default]
    All,
    /// Direct conversations, and group messages that mention the user.
    Mentions,
    Off,
}

impl PushPreference {
    pub fn as_str(self) -> &'static str {
        match self {
            PushPreference::All => "all",
            PushPreference::Mentions => "mentions",
            PushPreference::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<PushPreference> {
        match s {
            "all" => Some(PushPreference::All),
            "mentions" => Some(PushPreference::Mentions),
            "off" => Some(PushPreference::Off),
            _ => None,
        }
    }
}

/// Whether unread messages are sent as an email digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailPreference {
    #[default]
    Digest,
    Off,
}

impl EmailPreference {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailPreference::Digest => "digest",
            EmailPreference::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<EmailPreference> {
        match s {
            "digest" => Some(EmailPreference::Digest),
            "off" => Some(EmailPreference::Off),
            _ => None,
        }
    }
}

/// Do not disturb every day: pushes pause from `from` to `to` (local time
/// in `time_zone`; `from` after `to` spans midnight).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, 24-hour.
    pub from: String,
    /// `HH:MM`, 24-hour; not equal to `from`.
    pub to: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
}

/// `GET /users/me/notifications`; defaults `all`, `digest`, `true`, not
/// paused, no quiet hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotificationPrefs {
    pub push: PushPreference,
    pub email: EmailPreference,
    /// Whether a notification may carry the message's text.
    pub previews: bool,
    /// Do not disturb until then: no pushes (emails are not affected).
    /// Absent when not set, so the object is §12's exactly until used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnd_until: Option<Timestamp>,
    /// Do not disturb every day between these times; absent when not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        NotificationPrefs {
            push: PushPreference::All,
            email: EmailPreference::Digest,
            previews: true,
            dnd_until: None,
            quiet_hours: None,
        }
    }
}

/// `PATCH /users/me/notifications`: any of the fields; `null` clears
/// `dnd_until` and `quiet_hours`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPrefsPatch {
    #[serde(default)]
    pub push: Option<PushPreference>,
    #[serde(default)]
    pub email: Option<EmailPreference>,
    #[serde(default)]
    pub previews: Option<bool>,
    #[serde(
        default,
        deserialize_with = "crate::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<Timestamp>)]
    pub dnd_until: Option<Option<Timestamp>>,
    #[serde(
        default,
        deserialize_with = "crate::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<QuietHours>)]
    pub quiet_hours: Option<Option<QuietHours>>,
}
