//! Storage: the one seam between Parley's logic and its database.
//!
//! [`Store`] is implemented by [`sqlite::SqliteStore`] (the embedded
//! default) and [`postgres::PostgresStore`] (several processes on one
//! database). Every write that creates events allocates their seqs in the
//! same transaction that stores them and, once committed, hands the
//! resulting [`Delivery`](crate::delivery::Delivery) list to the sink given
//! at open, in commit order. [`conformance`] is the behaviour every
//! implementation must show; each backend's tests run it unchanged.

pub mod conformance;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use bytes::Bytes;
use parley_protocol::{
    Conversation, EventPage, Member, MemberRole, Message, MessageContext, MessageKind, MessagePage,
    ReactionSummary, ReadResponse, Receipt, Role, Timestamp, UnreadSummary,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: &'static str,
    },
    #[error("blocked")]
    Blocked,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Internal(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What user search matches against: username and display name, folded to
/// lower case (Unicode-aware, which SQL's `lower`/`LIKE` may not be), so a
/// query matches the start of any word of either.
pub fn search_name(username: &str, display_name: &str) -> String {
    format!("{} {}", username, display_name).to_lowercase()
}

/// A user as stored (not a wire type: it carries the password hash).
#[derive(Clone)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub about: Option<String>,
    pub role: Role,
    pub password_hash: Option<String>,
    pub created_at: Timestamp,
    /// When the user was last seen (last connection closed or went idle).
    pub last_seen_at: Option<Timestamp>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub external_sub: Option<String>,
    pub avatar_url: Option<String>,
    pub is_bot: bool,
    pub created_at: Timestamp,
}

/// Fields to change; `Some("")` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub about: Option<String>,
    pub role: Option<Role>,
}

#[derive(Debug, Clone)]
pub struct RefreshTokenRow {
    pub token_hash: String,
    pub family_id: String,
    pub user_id: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The old token was valid and is now used; the new one is stored.
    Rotated { user_id: String },
    /// The old token had been used before: its whole family is revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub conversation_id: String,
    pub sender_id: String,
    pub client_id: Option<String>,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub reply_to: Option<String>,
    pub mentions: Vec<String>,
    pub at: Timestamp,
}

/// Runs after the send's commit and before its event is fanned out, so
/// that a gateway `ack` reaches the sending connection before the event.
pub type AfterCommit = Box<dyn FnOnce(&Message, bool) + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    Latest,
    Before(u64),
    After(u64),
}

/// A conversation the user belongs to, as the gateway's sync needs it.
#[derive(Debug, Clone)]
pub struct Membership {
    pub conversation_id: String,
    pub joined_seq: u64,
    pub last_seq: u64,
}

/// Keyset cursor for the conversation list: (last activity, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCursor {
    pub last_activity_ms: i64,
    pub id: String,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    // ---- users and credentials
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRow>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>>;
    /// Finds the user for an external subject, creating or refreshing it.
    async fn upsert_external_user(&self, user: NewUser) -> StoreResult<UserRow>;
    async fn update_user(&self, id: &str, patch: UserPatch) -> StoreResult<UserRow>;
    /// Prefix search on username and display name, ordered by username,
    /// after `after_username` (keyset cursor).
    async fn search_users(
        &self,
        prefix: &str,
        after_username: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>>;
    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<UserRow>>;

    async fn insert_refresh_token(&self, token: RefreshTokenRow) -> StoreResult<()>;
    /// Marks `old_hash` used and stores `new` in its family, atomically.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: RefreshTokenRow,
    ) -> StoreResult<RotateOutcome>;
    /// Revokes the family of this token (logout).
    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<()>;

    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn api_key_user(&self, key_hash: &str) -> StoreResult<Option<String>>;

    // ---- conversations
    /// Returns the conversation id and whether it was created now.
    async fn get_or_create_direct(
        &self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
    ) -> StoreResult<(String, bool)>;
    async fn create_group(
        &self,
        id: &str,
        creator: &str,
        title: &str,
        member_ids: &[String],
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn conversation(&self, viewer: &str, id: &str) -> StoreResult<Conversation>;
    async fn list_conversations(
        &self,
        viewer: &str,
        cursor: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<(Vec<Conversation>, Option<ActivityCursor>)>;
    async fn unread_summary(&self, viewer: &str) -> StoreResult<UnreadSummary>;
    async fn update_conversation(
        &self,
        actor: &str,
        id: &str,
        title: Option<String>,
        avatar_url: Option<String>,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn members(
        &self,
        viewer: &str,
        id: &str,
        after_user: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Member>>;
    async fn add_members(
        &self,
        actor: &str,
        id: &str,
        user_ids: &[String],
        max_members: u32,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Removes `user_id` (or leaves, when actor == user_id).
    async fn remove_member(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn change_role(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        role: MemberRole,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Moves read (and delivered) forward; clamps to `last_seq`.
    async fn mark_read(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<ReadResponse>;
    /// Moves delivered forward; clamps to `last_seq`. Returns the watermark.
    async fn mark_delivered(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<u64>;
    async fn set_mute(
        &self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>>;

    // ---- messages and events
    /// Idempotent by (conversation, sender, client_id): a repeat returns the
    /// original with `false` and writes nothing.
    async fn send_message(
        &self,
        msg: NewMessage,
        after_commit: Option<AfterCommit>,
    ) -> StoreResult<(Message, bool)>;
    async fn messages(
        &self,
        viewer: &str,
        id: &str,
        page: HistoryPage,
        limit: u32,
    ) -> StoreResult<MessagePage>;
    async fn events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<EventPage>;
    /// Stored event JSON after `after`, visible to `viewer`, ascending.
    async fn raw_events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, Bytes)>>;
    async fn message(&self, viewer: &str, message_id: &str) -> StoreResult<Message>;
    async fn message_context(
        &self,
        viewer: &str,
        message_id: &str,
        limit: u32,
    ) -> StoreResult<MessageContext>;
    async fn edit_message(
        &self,
        actor: &str,
        message_id: &str,
        text: &str,
        window_ms: i64,
        at: Timestamp,
    ) -> StoreResult<Message>;
    async fn delete_message(
        &self,
        actor: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message>;
    /// Adds (`add`) or removes a reaction; a repeat records nothing.
    async fn react(
        &self,
        actor: &str,
        message_id: &str,
        emoji: &str,
        add: bool,
        at: Timestamp,
    ) -> StoreResult<Vec<ReactionSummary>>;

    /// Every conversation the user is a member of now.
    async fn memberships(&self, user: &str) -> StoreResult<Vec<Membership>>;
    /// Current members of a conversation the viewer belongs to.
    async fn member_ids(&self, viewer: &str, id: &str) -> StoreResult<Vec<String>>;
    /// Everyone who shares at least one conversation with `user`.
    async fn contacts(&self, user: &str) -> StoreResult<Vec<String>>;
    async fn set_last_seen(&self, user: &str, at: Timestamp) -> StoreResult<()>;

    // ---- receipts and blocks
    /// Per other member who was there when it was sent (and is not in a
    /// block with the viewer): when they received and read the message.
    async fn receipts(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<Receipt>>;
    /// Returns whether the block is new.
    async fn block(&self, blocker: &str, blocked: &str, at: Timestamp) -> StoreResult<bool>;
    async fn unblock(&self, blocker: &str, blocked: &str) -> StoreResult<()>;
    /// Users `user` blocks, newest first, after the keyset cursor.
    async fn blocks(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(UserRow, Timestamp)>>;
    /// (a blocks b, b blocks a).
    async fn block_status(&self, a: &str, b: &str) -> StoreResult<(bool, bool)>;
    /// Everyone `user` blocks or is blocked by.
    async fn block_partners(&self, user: &str) -> StoreResult<Vec<String>>;
}
