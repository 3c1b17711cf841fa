//! Credentials: refresh tokens (rotated, reuse revokes the family) and API
//! keys.

use crate::rows::db_err;
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::users::{Rotation, StoredRefresh, rotate};
use parley_protocol::Timestamp;
use parley_store::{CredentialStore, RefreshTokenRow, RotateOutcome, StoreResult};
use rusqlite::{OptionalExtension, params};

impl WriterState {
    fn insert_refresh_token(&mut self, t: &RefreshTokenRow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db_err)?
            .execute(params![t.token_hash, t.family_id, t.user_id, t.created_at.millis(), t.expires_at.millis()])
            .map_err(db_err)?;
        Ok(())
    }

    fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        new: &RefreshTokenRow,
        grace_ms: i64,
    ) -> StoreResult<RotateOutcome> {
        let stored = self
            .conn
            .prepare_cached(
                "SELECT family_id, user_id, expires_at, used_at, revoked FROM refresh_tokens WHERE token_hash = ?1",
            )
            .map_err(db_err)?
            .query_row([old_hash], |r| {
                Ok(StoredRefresh {
                    family_id: r.get(0)?,
                    user_id: r.get(1)?,
                    expires_at: r.get(2)?,
                    used_at: r.get(3)?,
                    revoked: r.get::<_, i64>(4)? != 0,
                })
            })
            .optional()
            .map_err(db_err)?;
        match rotate(stored, new.created_at.millis(), grace_ms) {
            Rotation::Invalid => Ok(RotateOutcome::Invalid),
            Rotation::Reused { family_id, user_id } => {
                self.conn
                    .prepare_cached("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?1")
                    .map_err(db_err)?
                    .execute([&family_id])
                    .map_err(db_err)?;
                Ok(RotateOutcome::Reused { user_id, family_id })
            }
            Rotation::Repeat { family_id, user_id } => {
                Ok(RotateOutcome::Repeated { user_id, family_id })
            }
            Rotation::Rotate { family_id, user_id } => {
                self.conn
                    .prepare_cached("UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1")
                    .map_err(db_err)?
                    .execute(params![old_hash, new.created_at.millis()])
                    .map_err(db_err)?;
                self.insert_refresh_token(&RefreshTokenRow {
                    family_id: family_id.clone(),
                    user_id: user_id.clone(),
                    ..new.clone()
                })?;
                Ok(RotateOutcome::Rotated { user_id, family_id })
            }
        }
    }
}

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn insert_refresh_token(&self, token: RefreshTokenRow) -> StoreResult<()> {
        self.write(move |s, _| s.insert_refresh_token(&token)).await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: RefreshTokenRow,
        grace_ms: i64,
    ) -> StoreResult<RotateOutcome> {
        let old_hash = old_hash.to_string();
        self.write(move |s, _| s.rotate_refresh_token(&old_hash, &new, grace_ms))
            .await
    }

    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<Option<String>> {
        let token_hash = token_hash.to_string();
        self.write(move |s, _| {
            let family: Option<String> = s
                .conn
                .prepare_cached("SELECT family_id FROM refresh_tokens WHERE token_hash = ?1")
                .map_err(db_err)?
                .query_row([token_hash], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            if let Some(f) = &family {
                s.conn
                    .prepare_cached("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?1")
                    .map_err(db_err)?
                    .execute([f])
                    .map_err(db_err)?;
            }
            Ok(family)
        })
        .await
    }

    async fn family_revoked(&self, family_id: &str) -> StoreResult<bool> {
        let family_id = family_id.to_string();
        self.read(move |c| {
            let live: bool = c
                .prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM refresh_tokens WHERE family_id = ?1 AND revoked = 0)",
                )
                .map_err(db_err)?
                .query_row([family_id], |r| r.get(0))
                .map_err(db_err)?;
            Ok(!live)
        })
        .await
    }

    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (id, name, key_hash, user_id) = (
            id.to_string(),
            name.to_string(),
            key_hash.to_string(),
            user_id.to_string(),
        );
        self.write(move |s, _| {
            s.conn
                .execute(
                    "INSERT INTO api_keys (id, name, key_hash, user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, name, key_hash, user_id, at.millis()],
                )
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn api_key_user(&self, key_hash: &str) -> StoreResult<Option<String>> {
        let key_hash = key_hash.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT user_id FROM api_keys WHERE key_hash = ?1 AND revoked = 0")
                .map_err(db_err)?
                .query_row([key_hash], |r| r.get(0))
                .optional()
                .map_err(db_err)
        })
        .await
    }
}
