//! Users: accounts, profiles, search, last seen.

use crate::StoreResult;
use async_trait::async_trait;
use parley_protocol::{Presence, PresenceState, Role, Timestamp, User};

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
    /// Set while the user is banned (protocol.md §11).
    pub banned_at: Option<Timestamp>,
    /// Credentials issued at or before this (milliseconds) are refused:
    /// moved by every ban, kept when the ban is lifted.
    pub sessions_valid_after: Option<i64>,
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

impl UserRow {
    /// The public profile; presence is filled in by the server.
    pub fn to_wire(&self) -> User {
        User {
            id: self.id.clone(),
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
            about: self.about.clone(),
            role: self.role,
            presence: Presence {
                state: PresenceState::Offline,
                last_seen_at: self.last_seen_at,
            },
        }
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

/// The escaped `LIKE` pattern body for a user-search prefix (both SQL
/// dialects escape `%`, `_` and `\` the same way, with `ESCAPE '\'`).
pub fn like_prefix(prefix: &str) -> String {
    prefix
        .to_lowercase()
        .chars()
        .flat_map(|ch| match ch {
            '%' | '_' | '\\' => vec!['\\', ch],
            _ => vec![ch],
        })
        .collect()
}

#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// `conflict` if the username is taken.
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
    /// In the order asked; unknown ids are skipped.
    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<UserRow>>;
    async fn set_last_seen(&self, user: &str, at: Timestamp) -> StoreResult<()>;
}
