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
    Rotated { user_id: String },
    /// The old token had been used before: its whole family is revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    async fn insert_refresh_token(&self, token: RefreshTokenRow) -> StoreResult<()>;
    /// Marks `old_hash` used and stores `new` in its family, atomically
    /// (`parley_domain::users::rotate` decides).
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
}
