//! REST request and response bodies (protocol.md §2-§5).

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

// ---------------------------------------------------------------- accounts

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Agent,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "user" => Some(Role::User),
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3-32 of `a-z 0-9 _ .` (folded to lower case), with a letter or digit.
    #[schema(pattern = "^(?=.*[A-Za-z0-9])[A-Za-z0-9_.]{3,32}$")]
    pub username: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    #[serde(default)]
    #[schema(max_length = 64)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuthResponse {
    pub user: User,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

// ------------------------------------------------------------------ users

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    Online,
    Away,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Presence {
    pub state: PresenceState,
    pub last_seen_at: Option<Timestamp>,
}

impl Presence {
    pub fn offline() -> Self {
        Presence {
            state: PresenceState::Offline,
            last_seen_at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub about: Option<String>,
    pub role: Role,
    pub presence: Presence,
}

/// `PATCH /users/me`. An empty string clears `avatar_url` or `about`.
/// `avatar_media_id` (one of the caller's own image uploads) sets
/// `avatar_url` to a square avatar cut from it; not with `avatar_url`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_media_id: Option<String>,
    #[serde(default)]
    pub about: Option<String>,
    /// Where email digests go (protocol.md §12); `""` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `GET`/`PATCH /users/me`: the caller's profile and what only they see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    /// The address email digests go to (protocol.md §12); absent until
    /// the user gives one, so the object is §3's user exactly until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
    pub next_cursor: Option<String>,
}

// ---------------------------------------------------------- conversations

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    Direct,
    Group,
    Support,
}

impl ConversationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationKind::Direct => "direct",
            ConversationKind::Group => "group",
            ConversationKind::Support => "support",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "direct" => Some(ConversationKind::Direct),
            "group" => Some(ConversationKind::Group),
            "support" => Some(ConversationKind::Support),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    Owner,
    Admin,
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(MemberRole::Owner),
            "admin" => Some(MemberRole::Admin),
            "member" => Some(MemberRole::Member),
            _ => None,
        }
    }

    /// Owners and admins manage members and the conversation's details.
    pub fn can_manage(self) -> bool {
        matches!(self, MemberRole::Owner | MemberRole::Admin)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    pub kind: ConversationKind,
    pub title: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: Timestamp,
    pub member_count: u32,
    pub my_role: MemberRole,
    pub last_seq: u64,
    pub last_message: Option<Message>,
    pub read_seq: u64,
    pub delivered_seq: u64,
    pub unread_count: u64,
    pub muted_until: Option<Timestamp>,
    /// The seq from which this member sees history.
    pub joined_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<User>,
    /// Kind `support` only (protocol.md §9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<crate::support::SupportInfo>,
}

/// `POST /conversations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CreateConversationRequest {
    Direct {
        user_id: String,
    },
    Group {
        title: String,
        member_ids: Vec<String>,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnreadSummary {
    pub total_unread: u64,
    pub conversations_with_unread: u64,
}

/// `PATCH /conversations/{id}`. An empty `avatar_url` clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversationRequest {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    pub user_id: String,
    pub role: MemberRole,
    pub joined_seq: u64,
    pub joined_at: Timestamp,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<Member>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddMembersRequest {
    pub user_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangeRoleRequest {
    pub role: MemberRole,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReadRequest {
    #[serde(deserialize_with = "saturating_i64")]
    pub seq: i64,
}

/// Any JSON integer; values past `i64::MAX` saturate. Seqs above a
/// conversation's `last_seq` are clamped anyway, so a client's huge value is
/// not an error.
pub fn saturating_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    struct Saturating;
    impl serde::de::Visitor<'_> for Saturating {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            Ok(i64::try_from(v).unwrap_or(i64::MAX))
        }
    }
    d.deserialize_i64(Saturating)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReadResponse {
    pub read_seq: u64,
    pub unread_count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MuteRequest {
    pub until: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MuteResponse {
    pub muted_until: Option<Timestamp>,
}

// --------------------------------------------------------------- messages

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Media,
    System,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Media => "media",
            MessageKind::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "text" => Some(MessageKind::Text),
            "media" => Some(MessageKind::Media),
            "system" => Some(MessageKind::System),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReactionSummary {
    pub emoji: String,
    pub count: u64,
    pub me: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    pub seq: u64,
    pub sender_id: String,
    pub client_id: Option<String>,
    pub kind: MessageKind,
    pub text: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub attachments: Vec<serde_json::Value>,
    pub reply_to: Option<String>,
    pub mentions: Vec<String>,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub deleted: bool,
    pub reactions: Vec<ReactionSummary>,
    /// Only on the caller's own messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MessageStatus>,
    /// What a `system` message reports, for clients to render
    /// (`{type: "support.assigned", agent_id}`, ...); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub system: Option<serde_json::Value>,
}

/// `POST /conversations/{id}/messages` (and the gateway's `message.send`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// 1-128 printable ASCII characters, chosen by the client.
    #[schema(pattern = "^[!-~]{1,128}$")]
    pub client_id: String,
    /// At least one visible character, at most `limits.message_chars`
    /// (default 10,000) after trimming. Optional (a caption) when the
    /// message has attachments.
    #[serde(default)]
    #[schema(min_length = 1)]
    pub text: Option<String>,
    /// 1-10 distinct media ids, each uploaded by the sender (§10).
    #[serde(default)]
    #[schema(max_items = 10)]
    pub attachments: Option<Vec<String>>,
    #[serde(default)]
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EditMessageRequest {
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageContext {
    pub message: Message,
    /// Up to `limit` messages before it, the message, and up to `limit` after,
    /// ascending by seq.
    pub messages: Vec<Message>,
    pub has_more_before: bool,
    pub has_more_after: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReactionResponse {
    pub message_id: String,
    pub reactions: Vec<ReactionSummary>,
}

/// One member's receipt for a message (`GET /messages/{id}/receipts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub user_id: String,
    pub delivered_at: Option<Timestamp>,
    pub read_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptList {
    pub message_id: String,
    pub receipts: Vec<Receipt>,
}

// ----------------------------------------------------------------- blocks

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockRequest {
    pub user_id: String,
}

/// `GET /blocks/{user_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlockStatus {
    pub blocked_by_me: bool,
    pub blocked_me: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Block {
    pub user_id: String,
    pub user: User,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockList {
    pub blocks: Vec<Block>,
    pub next_cursor: Option<String>,
}

// ----------------------------------------------------------------- events

pub use crate::events::{Event, EventData, event_type};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub has_more: bool,
}

// ------------------------------------------------------------- gateway REST

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketResponse {
    pub ticket: String,
    pub expires_in: u64,
}

/// `since` of a `sync` request: conversation id -> last applied seq.
pub type SinceMap = BTreeMap<String, i64>;

// ------------------------------------------------------------------ admin

/// `POST /admin/users/{id}/ban` (the body may be empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// At most 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// One entry of the audit log (protocol.md §11).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    /// The admin; `null` for the operator's command line or the server.
    pub actor_id: Option<String>,
    /// `message.delete`, `user.ban`, `user.unban`,
    /// `auth.refresh_token_reused`, `api_key.create`, `webhook.disable`,
    /// `retention.run`, `conversation.retention`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub at: Timestamp,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    pub status: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub checks: serde_json::Value,
}
