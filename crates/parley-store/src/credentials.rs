//! Credentials: refresh tokens (rotated, with reuse detection) and API keys.

use crate::StoreResult;
use async_trait::async_trait;
use parley_protocol::Timestamp;

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
    Rotated { user_id: String, family_id: String },
    /// The old token was rotated moments ago: its successor stands
    /// (nothing written).
    Repeated { user_id: String, family_id: String },
    /// The old token had been used before: its whole family is revoked.
    Reused { user_id: String, family_id: String },
    /// Unknown, expired or revoked.
    Invalid,
}

#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    async fn insert_refresh_token(&self, token: RefreshTokenRow) -> StoreResult<()>;
    /// Marks `old_hash` used and stores `new` in its family, atomically
    /// (`parley_domain::users::rotate` decides).
    /// `grace_ms`: how long after its rotation `old_hash` still yields
    /// [`RotateOutcome::Repeated`] rather than counting as reused.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: RefreshTokenRow,
        grace_ms: i64,
    ) -> StoreResult<RotateOutcome>;
    /// Revokes the family of this token (logout); returns the family.
    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<Option<String>>;
    /// Whether a session (refresh-token family) is over: revoked, or
    /// unknown.
    async fn family_revoked(&self, family_id: &str) -> StoreResult<bool>;
    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn api_key_user(&self, key_hash: &str) -> StoreResult<Option<String>>;
}
