//! Users: accounts, external users, profiles, search, last seen.

use crate::events::WriteTx;
use crate::rows::{self, col, execute, execute_raw, is_unique_violation, query, query_opt};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use parley_domain::users::{
    EXTERNAL_USERNAME_ATTEMPTS, USERNAME_TAKEN, external_username, search_name,
};
use parley_protocol::Timestamp;
use parley_store::users::like_prefix;
use parley_store::{NewUser, StoreError, StoreResult, UserPatch, UserRow, UserStore};

impl WriteTx<'_> {
    async fn require_user(&self, id: &str) -> StoreResult<UserRow> {
        rows::user_by_id(&self.tx, id)
            .await?
            .ok_or(StoreError::not_found("user"))
    }

    pub async fn create_user(&mut self, u: &NewUser) -> StoreResult<UserRow> {
        let r = execute_raw(
            &self.tx,
            "INSERT INTO users (id, username, display_name, avatar_url, about, role, password_hash, external_sub, is_bot, created_at, search_name)
             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10)",
            &[
                &u.id, &u.username, &u.display_name, &u.avatar_url, &u.role.as_str(), &u.password_hash,
                &u.external_sub, &u.is_bot, &u.created_at.millis(),
                &search_name(&u.username, &u.display_name),
            ],
        )
        .await;
        match r {
            Ok(_) => self.require_user(&u.id).await,
            Err(e) if is_unique_violation(&e) => Err(USERNAME_TAKEN.into()),
            Err(e) => Err(rows::db_err(e)),
        }
    }

    async fn user_by_external_sub(&self, sub: &str) -> StoreResult<Option<String>> {
        query_opt(
            &self.tx,
            "SELECT id FROM users WHERE external_sub = $1",
            &[&sub],
        )
        .await?
        .map(|r| col(&r, 0))
        .transpose()
    }

    async fn upsert_external_user(&mut self, u: &NewUser) -> StoreResult<UserRow> {
        let sub = u.external_sub.clone().unwrap_or_default();
        if let Some(id) = self.user_by_external_sub(&sub).await? {
            return self.refresh_external_user(&id, u).await;
        }
        // Each attempt is a savepoint, because a unique violation aborts
        // the transaction.
        for attempt in 0..EXTERNAL_USERNAME_ATTEMPTS {
            let candidate = NewUser {
                username: external_username(&u.username, &u.id, attempt),
                ..u.clone()
            };
            self.tx
                .batch_execute("SAVEPOINT attempt")
                .await
                .map_err(rows::db_err)?;
            let created = self.create_user(&candidate).await;
            let sql = if created.is_ok() {
                "RELEASE SAVEPOINT attempt"
            } else {
                "ROLLBACK TO SAVEPOINT attempt; RELEASE SAVEPOINT attempt"
            };
            self.tx.batch_execute(sql).await.map_err(rows::db_err)?;
            match created {
                Err(StoreError::Domain(e)) if e == USERNAME_TAKEN => {
                    // Another process may have created this very subject
                    // meanwhile (SQLite's single writer cannot see that):
                    // then it is an update after all.
                    if let Some(id) = self.user_by_external_sub(&sub).await? {
                        return self.refresh_external_user(&id, u).await;
                    }
                }
                other => return other,
            }
        }
        Err(USERNAME_TAKEN.into())
    }

    async fn refresh_external_user(&self, id: &str, u: &NewUser) -> StoreResult<UserRow> {
        execute(
            &self.tx,
            "UPDATE users SET display_name = $2, avatar_url = coalesce($3, avatar_url), role = $4,
               search_name = lower(username) || ' ' || $5 WHERE id = $1",
            &[
                &id,
                &u.display_name,
                &u.avatar_url,
                &u.role.as_str(),
                &u.display_name.to_lowercase(),
            ],
        )
        .await?;
        self.require_user(id).await
    }

    async fn update_user(&self, id: &str, patch: &UserPatch) -> StoreResult<UserRow> {
        let c = &self.tx;
        let blank = |v: &Option<String>| {
            v.as_ref()
                .map(|x| if x.is_empty() { None } else { Some(x.clone()) })
        };
        if let Some(d) = &patch.display_name {
            execute(
                c,
                "UPDATE users SET display_name = $2, search_name = username || ' ' || $3 WHERE id = $1",
                &[&id, d, &d.to_lowercase()],
            )
            .await?;
        }
        if let Some(a) = blank(&patch.avatar_url) {
            execute(
                c,
                "UPDATE users SET avatar_url = $2 WHERE id = $1",
                &[&id, &a],
            )
            .await?;
        }
        if let Some(a) = blank(&patch.about) {
            execute(c, "UPDATE users SET about = $2 WHERE id = $1", &[&id, &a]).await?;
        }
        if let Some(r) = patch.role {
            execute(
                c,
                "UPDATE users SET role = $2 WHERE id = $1",
                &[&id, &r.as_str()],
            )
            .await?;
        }
        self.require_user(id).await
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: NewUser) -> StoreResult<UserRow> {
        in_tx!(self, move |w, _out| w.create_user(&user))
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let c = self.client().await?;
        rows::user_by_id(&c, id).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {} FROM users WHERE username = $1", rows::USER_COLS),
            &[&username],
        )
        .await?
        .as_ref()
        .map(rows::user_row)
        .transpose()
    }

    async fn upsert_external_user(&self, user: NewUser) -> StoreResult<UserRow> {
        in_tx!(self, move |w, _out| w.upsert_external_user(&user))
    }

    async fn update_user(&self, id: &str, patch: UserPatch) -> StoreResult<UserRow> {
        let id = id.to_string();
        in_tx!(self, move |w, _out| w.update_user(&id, &patch))
    }

    async fn search_users(
        &self,
        prefix: &str,
        after_username: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        let escaped = like_prefix(prefix);
        // search_name is folded by the server; ILIKE on its COLLATE "C"
        // column folds ASCII only, exactly like SQLite's LIKE.
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {} FROM users WHERE (search_name ILIKE $1::text || '%' ESCAPE '\\' OR search_name ILIKE '% ' || $1::text || '%' ESCAPE '\\')
                 AND username > $2 AND is_bot = FALSE AND banned_at IS NULL ORDER BY username LIMIT $3",
                rows::USER_COLS
            ),
            &[&escaped, &after_username.unwrap_or_default(), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(rows::user_row)
        .collect()
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<UserRow>> {
        let c = self.client().await?;
        let found = query(
            &c,
            &format!("SELECT {} FROM users WHERE id = ANY($1)", rows::USER_COLS),
            &[&ids],
        )
        .await?
        .iter()
        .map(rows::user_row)
        .collect::<StoreResult<Vec<_>>>()?;
        // In the order asked, missing ones skipped, as SQLite's loop does.
        let by_id: std::collections::HashMap<&str, &UserRow> =
            found.iter().map(|u| (u.id.as_str(), u)).collect();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).map(|u| (*u).clone()))
            .collect())
    }

    async fn set_last_seen(&self, user: &str, at: Timestamp) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE users SET last_seen_at = $2 WHERE id = $1",
            &[&user, &at.millis()],
        )
        .await?;
        Ok(())
    }
}
