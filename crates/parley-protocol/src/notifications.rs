//! Notification preferences (protocol.md §12, "Preferences and mute").

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

/// `GET /users/me/notifications`; defaults `all`, `digest`, `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NotificationPrefs {
    pub push: PushPreference,
    pub email: EmailPreference,
    /// Whether a notification may carry the message's text.
    pub previews: bool,
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        NotificationPrefs {
            push: PushPreference::All,
            email: EmailPreference::Digest,
            previews: true,
        }
    }
}

/// `PATCH /users/me/notifications`: any of the fields.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPrefsPatch {
    #[serde(default)]
    pub push: Option<PushPreference>,
    #[serde(default)]
    pub email: Option<EmailPreference>,
    #[serde(default)]
    pub previews: Option<bool>,
}
