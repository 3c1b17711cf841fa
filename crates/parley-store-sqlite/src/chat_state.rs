//! Pinned and archived chats on SQLite: the single writer reads the facts,
//! the domain plans, the row is replaced (or dropped when it holds nothing).

use crate::SqliteStore;
use crate::rows::{self, db_err};
use async_trait::async_trait;
use parley_domain::chat_state::{self as rules, Change, Facts, Row};
use parley_protocol::{ChatState, Timestamp};
use parley_store::{ChatStateStore, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

/// The chat-state rows of `user` that belong to a current membership.
const CURRENT: &str = "FROM chat_states cs
     JOIN members m ON m.conversation_id = cs.conversation_id AND m.user_id = cs.user_id
       AND m.active = 1 AND m.joined_seq = cs.joined_seq
     JOIN conversations c ON c.id = cs.conversation_id
     WHERE cs.user_id = ?1";

fn facts(c: &Connection, user: &str, conv: &str) -> StoreResult<Facts> {
    let member = rows::member_info(c, conv, user)?;
    let current = match &member {
        Some(m) => c
            .prepare_cached(
                "SELECT pinned_at, archived_seq FROM chat_states
                 WHERE user_id = ?1 AND conversation_id = ?2 AND joined_seq = ?3",
            )
            .map_err(db_err)?
            .query_row(params![user, conv, m.joined_seq as i64], |r| {
                Ok(Row {
                    pinned_at: r.get(0)?,
                    archived_seq: r.get::<_, Option<i64>>(1)?.map(|s| s.max(0) as u64),
                })
            })
            .optional()
            .map_err(db_err)?
            .unwrap_or_default(),
        None => Row::default(),
    };
    let pinned_elsewhere: i64 = c
        .prepare_cached(&format!(
            "SELECT count(*) {CURRENT} AND cs.conversation_id <> ?2 AND cs.pinned_at IS NOT NULL"
        ))
        .map_err(db_err)?
        .query_row(params![user, conv], |r| r.get(0))
        .map_err(db_err)?;
    let last_message_seq: Option<i64> = c
        .prepare_cached("SELECT last_message_seq FROM conversations WHERE id = ?1")
        .map_err(db_err)?
        .query_row(params![conv], |r| r.get(0))
        .optional()
        .map_err(db_err)?
        .flatten();
    Ok(Facts {
        member,
        current,
        pinned_elsewhere: pinned_elsewhere.max(0) as usize,
        last_message_seq: last_message_seq.map(|s| s.max(0) as u64),
    })
}

#[async_trait]
impl ChatStateStore for SqliteStore {
    async fn change_chat_state(
        &self,
        user: &str,
        conv: &str,
        change: Change,
        now: Timestamp,
    ) -> StoreResult<ChatState> {
        let (user, conv) = (user.to_string(), conv.to_string());
        self.write(move |s, _| {
            let f = facts(&s.conn, &user, &conv)?;
            let rules::Planned { row, member } = rules::plan(&f, change, now.millis())?;
            if row == Row::default() {
                s.conn
                    .prepare_cached(
                        "DELETE FROM chat_states WHERE user_id = ?1 AND conversation_id = ?2",
                    )
                    .map_err(db_err)?
                    .execute(params![user, conv])
                    .map_err(db_err)?;
            } else {
                s.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO chat_states
                           (user_id, conversation_id, joined_seq, pinned_at, archived_seq)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(db_err)?
                    .execute(params![
                        user,
                        conv,
                        member.joined_seq as i64,
                        row.pinned_at,
                        row.archived_seq.map(|s| s as i64)
                    ])
                    .map_err(db_err)?;
            }
            Ok(rules::state(
                &conv,
                row,
                f.last_message_seq,
                member.muted_until,
                now.millis(),
            ))
        })
        .await
    }

    async fn chat_states(&self, user: &str, now: Timestamp) -> StoreResult<Vec<ChatState>> {
        let user = user.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT cs.conversation_id, cs.pinned_at, cs.archived_seq, c.last_message_seq, m.muted_until
                     {CURRENT}
                     ORDER BY cs.pinned_at IS NULL, cs.pinned_at, cs.conversation_id"
                ))
                .map_err(db_err)?;
            let all = stmt
                .query_map(params![user], |r| {
                    let id: String = r.get(0)?;
                    let row = Row {
                        pinned_at: r.get(1)?,
                        archived_seq: r.get::<_, Option<i64>>(2)?.map(|s| s.max(0) as u64),
                    };
                    let last: Option<i64> = r.get(3)?;
                    let muted: Option<i64> = r.get(4)?;
                    Ok(rules::state(
                        &id,
                        row,
                        last.map(|s| s.max(0) as u64),
                        muted,
                        now.millis(),
                    ))
                })
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            Ok(all
                .into_iter()
                .filter(|s| s.pinned_at.is_some() || s.archived)
                .collect())
        })
        .await
    }
}
