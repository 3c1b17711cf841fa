//! Notification preferences on SQLite: a patch is a read and an upsert on
//! the writer, so concurrent patches apply one after the other.

use crate::SqliteStore;
use crate::rows::{self, db_err};
use async_trait::async_trait;
use parley_domain::notifications as rules;
use parley_protocol::Timestamp;
use parley_protocol::notifications::{
    EmailPreference, NotificationPrefs, NotificationPrefsPatch, PushPreference, QuietHours,
};
use parley_store::{NotificationStore, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

pub(crate) fn load(conn: &Connection, user: &str) -> StoreResult<NotificationPrefs> {
    Ok(conn
        .prepare_cached(
            "SELECT push, email, previews, dnd_until, quiet_from, quiet_to, quiet_time_zone
             FROM notification_prefs WHERE user_id = ?1",
        )
        .map_err(db_err)?
        .query_row([user], |r| {
            let quiet: (Option<String>, Option<String>, Option<String>) =
                (r.get(4)?, r.get(5)?, r.get(6)?);
            Ok(NotificationPrefs {
                push: rows::parsed(r, 0, "push preference", PushPreference::parse)?,
                email: rows::parsed(r, 1, "email preference", EmailPreference::parse)?,
                previews: r.get(2)?,
                dnd_until: r.get::<_, Option<i64>>(3)?.map(Timestamp),
                quiet_hours: match quiet {
                    (Some(from), Some(to), Some(time_zone)) => Some(QuietHours {
                        from,
                        to,
                        time_zone,
                    }),
                    _ => None,
                },
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
            let q = p.quiet_hours.as_ref();
            s.conn
                .prepare_cached(
                    "INSERT INTO notification_prefs
                       (user_id, push, email, previews, dnd_until, quiet_from, quiet_to, quiet_time_zone)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (user_id) DO UPDATE SET push = excluded.push, email = excluded.email,
                       previews = excluded.previews, dnd_until = excluded.dnd_until,
                       quiet_from = excluded.quiet_from, quiet_to = excluded.quiet_to,
                       quiet_time_zone = excluded.quiet_time_zone",
                )
                .map_err(db_err)?
                .execute(params![
                    user,
                    p.push.as_str(),
                    p.email.as_str(),
                    p.previews,
                    p.dnd_until.map(|t| t.millis()),
                    q.map(|q| q.from.as_str()),
                    q.map(|q| q.to.as_str()),
                    q.map(|q| q.time_zone.as_str())
                ])
                .map_err(db_err)?;
            Ok(p)
        })
        .await
    }
}
