//! Users: accounts, external users, profiles, search, last seen.

use crate::rows::{self, db_err, is_unique_violation};
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::users::{
    EXTERNAL_USERNAME_ATTEMPTS, USERNAME_TAKEN, external_username, search_name,
};
use parley_protocol::Timestamp;
use parley_store::users::like_prefix;
use parley_store::{NewUser, StoreError, StoreResult, UserPatch, UserRow, UserStore};
use rusqlite::{OptionalExtension, params};

impl WriterState {
    fn require_user(&self, id: &str) -> StoreResult<UserRow> {
        rows::user_by_id(&self.conn, id)?.ok_or(StoreError::not_found("user"))
    }

    pub(crate) fn create_user(&mut self, u: &NewUser) -> StoreResult<UserRow> {
        let r = self.conn
            .prepare_cached(
                "INSERT INTO users (id, username, display_name, avatar_url, about, role, password_hash, external_sub, is_bot, created_at, search_name)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(db_err)?
            .execute(params![
                u.id, u.username, u.display_name, u.avatar_url, u.role.as_str(), u.password_hash,
                u.external_sub, u.is_bot as i64, u.created_at.millis(), search_name(&u.username, &u.display_name)
            ]);
        match r {
            Ok(_) => self.require_user(&u.id),
            Err(e) if is_unique_violation(&e) => Err(USERNAME_TAKEN.into()),
            Err(e) => Err(db_err(e)),
        }
    }

    fn upsert_external_user(&mut self, u: &NewUser) -> StoreResult<UserRow> {
        let sub = u.external_sub.clone().unwrap_or_default();
        let existing: Option<String> = self
            .conn
            .prepare_cached("SELECT id FROM users WHERE external_sub = ?1")
            .map_err(db_err)?
            .query_row([&sub], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if let Some(id) = existing {
            self.conn
                .prepare_cached(
                    "UPDATE users SET display_name = ?2, avatar_url = coalesce(?3, avatar_url), role = ?4,
                       search_name = lower(username) || ' ' || ?5 WHERE id = ?1",
                )
                .map_err(db_err)?
                .execute(params![id, u.display_name, u.avatar_url, u.role.as_str(), u.display_name.to_lowercase()])
                .map_err(db_err)?;
            return self.require_user(&id);
        }
        for attempt in 0..EXTERNAL_USERNAME_ATTEMPTS {
            let candidate = NewUser {
                username: external_username(&u.username, &u.id, attempt),
                ..u.clone()
            };
            match self.create_user(&candidate) {
                Err(StoreError::Domain(e)) if e == USERNAME_TAKEN => continue,
                other => return other,
            }
        }
        Err(USERNAME_TAKEN.into())
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRow> {
        self.write(move |s, _| s.create_user(&user)).await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let id = id.to_string();
        self.read(move |c| rows::user_by_id(c, &id)).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let username = username.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {} FROM users WHERE username = ?1",
                rows::USER_COLS
            ))
            .map_err(db_err)?
            .query_row([username], rows::user_row)
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn upsert_external_user(&self, user: NewUser) -> StoreResult<UserRow> {
        self.write(move |s, _| s.upsert_external_user(&user)).await
    }

    async fn update_user(&self, id: &str, patch: UserPatch) -> StoreResult<UserRow> {
        let id = id.to_string();
        self.write(move |s, _| {
            let c = &s.conn;
            let blank = |v: &Option<String>| {
                v.as_ref()
                    .map(|x| if x.is_empty() { None } else { Some(x.clone()) })
            };
            if let Some(d) = &patch.display_name {
                c.execute(
                    "UPDATE users SET display_name = ?2, search_name = username || ' ' || ?3 WHERE id = ?1",
                    params![id, d, d.to_lowercase()],
                )
                .map_err(db_err)?;
            }
            if let Some(a) = blank(&patch.avatar_url) {
                c.execute(
                    "UPDATE users SET avatar_url = ?2 WHERE id = ?1",
                    params![id, a],
                )
                .map_err(db_err)?;
            }
            if let Some(a) = blank(&patch.about) {
                c.execute("UPDATE users SET about = ?2 WHERE id = ?1", params![id, a])
                    .map_err(db_err)?;
            }
            if let Some(r) = patch.role {
                c.execute(
                    "UPDATE users SET role = ?2 WHERE id = ?1",
                    params![id, r.as_str()],
                )
                .map_err(db_err)?;
            }
            s.require_user(&id)
        })
        .await
    }

    async fn search_users(
        &self,
        prefix: &str,
        after_username: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        let escaped = like_prefix(prefix);
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {} FROM users WHERE (search_name LIKE ?1 || '%' ESCAPE '\\' OR search_name LIKE '% ' || ?1 || '%' ESCAPE '\\')
                     AND username > ?2 AND is_bot = 0 AND banned_at IS NULL ORDER BY username LIMIT ?3",
                    rows::USER_COLS
                ))
                .map_err(db_err)?;
            stmt.query_map(params![escaped, after_username.unwrap_or_default(), limit], rows::user_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)
        })
        .await
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<UserRow>> {
        let ids = ids.to_vec();
        self.read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(u) = rows::user_by_id(c, id)? {
                    out.push(u);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn set_last_seen(&self, user: &str, at: Timestamp) -> StoreResult<()> {
        let user = user.to_string();
        self.write(move |s, _| {
            s.conn
                .prepare_cached("UPDATE users SET last_seen_at = ?2 WHERE id = ?1")
                .map_err(db_err)?
                .execute(params![user, at.millis()])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }
}
