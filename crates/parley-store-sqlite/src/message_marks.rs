//! Starred and deleted-for-me messages on SQLite: the single writer checks
//! the message is visible, the domain plans, the row is replaced (or
//! dropped when it holds no mark).

use crate::SqliteStore;
use crate::rows::{self, db_err};
use crate::views;
use async_trait::async_trait;
use parley_domain::message_marks::{self as rules, Change, Marks};
use parley_protocol::Timestamp;
use parley_protocol::message_marks::{MessageMark, StarredMessage};
use parley_store::{MessageMarkStore, StoreResult};
use rusqlite::{OptionalExtension, params};

#[async_trait]
impl MessageMarkStore for SqliteStore {
    async fn change_message_mark(
        &self,
        user: &str,
        message_id: &str,
        change: Change,
        now: Timestamp,
    ) -> StoreResult<MessageMark> {
        let (user, message_id) = (user.to_string(), message_id.to_string());
        self.write(move |s, _| {
            let c = &s.conn;
            let (row, _) = rows::visible_message(c, &user, &message_id)?;
            let current = c
                .prepare_cached(
                    "SELECT starred_at, hidden_at FROM message_marks WHERE user_id = ?1 AND message_id = ?2",
                )
                .map_err(db_err)?
                .query_row(params![user, message_id], |r| {
                    Ok(Marks {
                        starred_at: r.get(0)?,
                        hidden_at: r.get(1)?,
                    })
                })
                .optional()
                .map_err(db_err)?
                .unwrap_or_default();
            let marks = rules::plan(&row, current, change, now.millis())?;
            if marks == Marks::default() {
                c.prepare_cached("DELETE FROM message_marks WHERE user_id = ?1 AND message_id = ?2")
                    .map_err(db_err)?
                    .execute(params![user, message_id])
                    .map_err(db_err)?;
            } else {
                c.prepare_cached(
                    "INSERT OR REPLACE INTO message_marks
                       (user_id, message_id, conversation_id, seq, starred_at, hidden_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(db_err)?
                .execute(params![
                    user,
                    message_id,
                    row.conversation_id,
                    row.seq as i64,
                    marks.starred_at,
                    marks.hidden_at
                ])
                .map_err(db_err)?;
            }
            Ok(rules::view(&row, marks))
        })
        .await
    }

    async fn message_marks(&self, user: &str, conv: &str) -> StoreResult<Vec<MessageMark>> {
        let (user, conv) = (user.to_string(), conv.to_string());
        self.read(move |c| {
            let member = rows::require_reader(c, &conv, &user)?;
            let mut stmt = c
                .prepare_cached(
                    "SELECT message_id, seq, starred_at IS NOT NULL, hidden_at IS NOT NULL FROM message_marks
                     WHERE user_id = ?1 AND conversation_id = ?2 AND seq >= ?3 ORDER BY seq",
                )
                .map_err(db_err)?;
            stmt.query_map(params![user, conv, member.joined_seq as i64], |r| {
                Ok(MessageMark {
                    message_id: r.get(0)?,
                    conversation_id: conv.clone(),
                    seq: r.get::<_, i64>(1)?.max(0) as u64,
                    starred: r.get(2)?,
                    hidden: r.get(3)?,
                })
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)
        })
        .await
    }

    async fn starred(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<StarredMessage>> {
        let user = user.to_string();
        self.read(move |c| {
            let (at, id) = before.clone().unwrap_or((i64::MAX, String::new()));
            // Only messages the user may still read (a current member, from
            // the seq they joined at) and that are not deleted.
            let mut stmt = c
                .prepare_cached(
                    "SELECT mm.message_id, mm.starred_at FROM message_marks mm
                     JOIN members m ON m.conversation_id = mm.conversation_id AND m.user_id = mm.user_id
                       AND m.active = 1 AND mm.seq >= m.joined_seq
                     JOIN messages msg ON msg.id = mm.message_id AND msg.deleted = 0
                     WHERE mm.user_id = ?1 AND mm.starred_at IS NOT NULL
                       AND (?4 = 0 OR mm.starred_at < ?2 OR (mm.starred_at = ?2 AND mm.message_id < ?3))
                     ORDER BY mm.starred_at DESC, mm.message_id DESC LIMIT ?5",
                )
                .map_err(db_err)?;
            let ids = stmt
                .query_map(
                    params![user, at, id, before.is_some() as i64, i64::from(limit)],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                )
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            let mut out = Vec::with_capacity(ids.len());
            for (message_id, starred_at) in ids {
                let (row, _) = rows::visible_message(c, &user, &message_id)?;
                out.push(StarredMessage {
                    message: views::message_view(c, &user, &row, None)?,
                    starred_at: Timestamp(starred_at),
                });
            }
            Ok(out)
        })
        .await
    }
}
