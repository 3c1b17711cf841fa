//! Notification preferences on SQLite: a patch is a read and an upsert on
//! the writer, so concurrent patches apply one after the other.

use crate::SqliteStore;
use crate::rows::{self, db_err};
use async_trait::async_trait;
use parley_domain::notifications as rules;
use parley_protocol::notifications::{
    EmailPreference, NotificationPrefs, NotificationPrefsPatch, PushPreference,
};
use parley_store::{NotificationStore, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn load(conn: &Connection, user: &str) -> StoreResult<NotificationPrefs> {
    Ok(conn
        .prepare_cached("SELECT push, email, previews FROM notification_prefs WHERE user_id = ?1")
        .map_err(db_err)?
        .query_row([user], |r| {
            Ok(NotificationPrefs {
                push: rows::parsed(r, 0, "push preference", PushPreference::parse)?,
                email: rows::parsed(r, 1, "email preference", EmailPreference::parse)?,
                previews: r.get(2)?,
            })
        })
        .optional()
        .map_err(db_err)?
        .unwrap_or_default())
}

#[async_trait]
impl NotificationStore for SqliteStore {
    async fn notification_prefs(&self, user: &str) -> StoreResult<NotificationPrefs> {
        let user = user.to_string();
        self.read(move |c| load(c, &user)).await
    }

    async fn update_notification_prefs(
        &self,
        user: &str,
        patch: NotificationPrefsPatch,
    ) -> StoreResult<NotificationPrefs> {
        let user = user.to_string();
        self.write(move |s, _| {
            let p = rules::apply(load(&s.conn, &user)?, patch);
            s.conn
                .prepare_cached(
                    "INSERT INTO notification_prefs (user_id, push, email, previews) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (user_id) DO UPDATE SET push = excluded.push, email = excluded.email,
                       previews = excluded.previews",
                )
                .map_err(db_err)?
                .execute(params![user, p.push.as_str(), p.email.as_str(), p.previews])
                .map_err(db_err)?;
            Ok(p)
        })
        .await
    }
}
