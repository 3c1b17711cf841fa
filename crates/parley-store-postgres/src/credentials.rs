//! Credentials: refresh tokens (rotated, reuse revokes the family) and API
//! keys.

use crate::events::WriteTx;
use crate::rows::{col, execute, query_opt};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use parley_domain::users::{Rotation, StoredRefresh, rotate};
use parley_protocol::Timestamp;
use parley_store::{CredentialStore, RefreshTokenRow, RotateOutcome, StoreResult};

impl WriteTx<'_> {
    async fn insert_refresh_token(&mut self, t: &RefreshTokenRow) -> StoreResult<()> {
        execute(
            &self.tx,
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&t.token_hash, &t.family_id, &t.user_id, &t.created_at.millis(), &t.expires_at.millis()],
        )
        .await?;
        Ok(())
    }

    async fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        new: &RefreshTokenRow,
        grace_ms: i64,
    ) -> StoreResult<RotateOutcome> {
        // FOR UPDATE: of two concurrent rotations of one token, the second
        // waits and then sees it used (theft detection, as when serial).
        let stored = match query_opt(
            &self.tx,
            "SELECT family_id, user_id, expires_at, used_at, revoked FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            &[&old_hash],
        )
        .await?
        {
            Some(r) => Some(StoredRefresh {
                family_id: col(&r, 0)?,
                user_id: col(&r, 1)?,
                expires_at: col(&r, 2)?,
                used_at: col(&r, 3)?,
                revoked: col(&r, 4)?,
            }),
            None => None,
        };
        match rotate(stored, new.created_at.millis(), grace_ms) {
            Rotation::Invalid => Ok(RotateOutcome::Invalid),
            Rotation::Reused { family_id, user_id } => {
                execute(
                    &self.tx,
                    "UPDATE refresh_tokens SET revoked = TRUE WHERE family_id = $1",
                    &[&family_id],
                )
                .await?;
                Ok(RotateOutcome::Reused { user_id, family_id })
            }
            Rotation::Repeat { family_id, user_id } => {
                Ok(RotateOutcome::Repeated { user_id, family_id })
            }
            Rotation::Rotate { family_id, user_id } => {
                execute(
                    &self.tx,
                    "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1",
                    &[&old_hash, &new.created_at.millis()],
                )
                .await?;
                self.insert_refresh_token(&RefreshTokenRow {
                    family_id: family_id.clone(),
                    user_id: user_id.clone(),
                    ..new.clone()
                })
                .await?;
                Ok(RotateOutcome::Rotated { user_id, family_id })
            }
        }
    }
}

#[async_trait]
impl CredentialStore for PostgresStore {
    async fn insert_refresh_token(&self, token: RefreshTokenRow) -> StoreResult<()> {
        in_tx!(self, move |w, _out| w.insert_refresh_token(&token))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: RefreshTokenRow,
        grace_ms: i64,
    ) -> StoreResult<RotateOutcome> {
        let old_hash = old_hash.to_string();
        in_tx!(self, move |w, _out| w
            .rotate_refresh_token(&old_hash, &new, grace_ms))
    }

    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        // The whole family comes back; any row names it.
        let families = crate::rows::strings(
            &c,
            "UPDATE refresh_tokens SET revoked = TRUE
             WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)
             RETURNING family_id",
            &[&token_hash],
        )
        .await?;
        Ok(families.into_iter().next())
    }

    async fn family_revoked(&self, family_id: &str) -> StoreResult<bool> {
        let c = self.client().await?;
        let r = crate::rows::query_one(
            &c,
            "SELECT EXISTS(SELECT 1 FROM refresh_tokens WHERE family_id = $1 AND revoked = FALSE)",
            &[&family_id],
        )
        .await?;
        Ok(!col::<bool>(&r, 0)?)
    }

    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO api_keys (id, name, key_hash, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &name, &key_hash, &user_id, &at.millis()],
        )
        .await?;
        Ok(())
    }

    async fn api_key_user(&self, key_hash: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT user_id FROM api_keys WHERE key_hash = $1 AND revoked = FALSE",
            &[&key_hash],
        )
        .await?
        .map(|r| col(&r, 0))
        .transpose()
    }
}
