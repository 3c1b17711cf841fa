//! Notification preferences on PostgreSQL: a patch locks the user's row
//! (created with the defaults first if missing), applies and writes it, so
//! concurrent patches from any process apply one after the other.

use crate::rows::{col, col_parsed, execute, query_opt};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use parley_domain::notifications as rules;
use parley_protocol::Timestamp;
use parley_protocol::notifications::{
    EmailPreference, NotificationPrefs, NotificationPrefsPatch, PushPreference, QuietHours,
};
use parley_store::{NotificationStore, StoreResult};

pub(crate) async fn load<C: GenericClient>(
    c: &C,
    user: &str,
    lock: bool,
) -> StoreResult<NotificationPrefs> {
    let sql = if lock {
        "SELECT push, email, previews, dnd_until, quiet_from, quiet_to, quiet_time_zone
         FROM notification_prefs WHERE user_id = $1 FOR UPDATE"
    } else {
        "SELECT push, email, previews, dnd_until, quiet_from, quiet_to, quiet_time_zone
         FROM notification_prefs WHERE user_id = $1"
    };
    match query_opt(c, sql, &[&user]).await? {
        Some(r) => {
            let quiet: (Option<String>, Option<String>, Option<String>) =
                (col(&r, 4)?, col(&r, 5)?, col(&r, 6)?);
            Ok(NotificationPrefs {
                push: col_parsed(&r, 0, "push preference", PushPreference::parse)?,
                email: col_parsed(&r, 1, "email preference", EmailPreference::parse)?,
                previews: col(&r, 2)?,
                dnd_until: col::<Option<i64>>(&r, 3)?.map(Timestamp),
                quiet_hours: match quiet {
                    (Some(from), Some(to), Some(time_zone)) => Some(QuietHours {
                        from,
                        to,
                        time_zone,
                    }),
                    _ => None,
                },
            })
        }
        None => Ok(NotificationPrefs::default()),
    }
}

#[async_trait]
impl NotificationStore for PostgresStore {
    async fn notification_prefs(&self, user: &str) -> StoreResult<NotificationPrefs> {
        let c = self.client().await?;
        load(&c, user, false).await
    }

    async fn update_notification_prefs(
        &self,
        user: &str,
        patch: NotificationPrefsPatch,
    ) -> StoreResult<NotificationPrefs> {
        let user = user.to_string();
        in_tx!(self, move |w, _out| async {
            let d = NotificationPrefs::default();
            execute(
                &w.tx,
                "INSERT INTO notification_prefs (user_id, push, email, previews) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO NOTHING",
                &[&user, &d.push.as_str(), &d.email.as_str(), &d.previews],
            )
            .await?;
            let p = rules::apply(load(&w.tx, &user, true).await?, patch);
            let q = p.quiet_hours.as_ref();
            execute(
                &w.tx,
                "UPDATE notification_prefs SET push = $2, email = $3, previews = $4, dnd_until = $5,
                   quiet_from = $6, quiet_to = $7, quiet_time_zone = $8
                 WHERE user_id = $1",
                &[
                    &user,
                    &p.push.as_str(),
                    &p.email.as_str(),
                    &p.previews,
                    &p.dnd_until.map(|t| t.millis()),
                    &q.map(|q| q.from.as_str()),
                    &q.map(|q| q.to.as_str()),
                    &q.map(|q| q.time_zone.as_str()),
                ],
            )
            .await?;
            Ok(p)
        })
    }
}
