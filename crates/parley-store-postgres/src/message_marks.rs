//! Starred and deleted-for-me messages on PostgreSQL: a change locks the
//! user's mark row (created empty first), checks the message is visible,
//! asks the domain and writes the row (or drops it when it holds no mark).

use crate::rows::{self, col, execute, query, query_opt};
use crate::{PostgresStore, in_tx, views};
use async_trait::async_trait;
use parley_domain::message_marks::{self as rules, Change, Marks};
use parley_protocol::Timestamp;
use parley_protocol::message_marks::{MessageMark, StarredMessage};
use parley_store::{MessageMarkStore, StoreResult};

#[async_trait]
impl MessageMarkStore for PostgresStore {
    async fn change_message_mark(
        &self,
        user: &str,
        message_id: &str,
        change: Change,
        now: Timestamp,
    ) -> StoreResult<MessageMark> {
        let (user, message_id) = (user.to_string(), message_id.to_string());
        in_tx!(self, move |w, _out| async {
            let (row, _) = rows::visible_message(&w.tx, &user, &message_id).await?;
            // FOR UPDATE: two devices changing an existing mark apply one
            // after the other; of two first marks at once, the upsert keeps
            // the later one's.
            let current = query_opt(
                &w.tx,
                "SELECT starred_at, hidden_at FROM message_marks
                 WHERE user_id = $1 AND message_id = $2 FOR UPDATE",
                &[&user, &message_id],
            )
            .await?
            .map(|r| -> StoreResult<Marks> {
                Ok(Marks {
                    starred_at: col(&r, 0)?,
                    hidden_at: col(&r, 1)?,
                })
            })
            .transpose()?
            .unwrap_or_default();
            let marks = rules::plan(&row, current, change, now.millis())?;
            if marks == Marks::default() {
                execute(
                    &w.tx,
                    "DELETE FROM message_marks WHERE user_id = $1 AND message_id = $2",
                    &[&user, &message_id],
                )
                .await?;
            } else {
                execute(
                    &w.tx,
                    "INSERT INTO message_marks (user_id, message_id, conversation_id, seq, starred_at, hidden_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (user_id, message_id) DO UPDATE
                       SET starred_at = EXCLUDED.starred_at, hidden_at = EXCLUDED.hidden_at",
                    &[
                        &user,
                        &message_id,
                        &row.conversation_id,
                        &(row.seq as i64),
                        &marks.starred_at,
                        &marks.hidden_at,
                    ],
                )
                .await?;
            }
            Ok(rules::view(&row, marks))
        })
    }

    async fn message_marks(&self, user: &str, conv: &str) -> StoreResult<Vec<MessageMark>> {
        let c = self.client().await?;
        let member = rows::require_reader(&c, conv, user).await?;
        query(
            &c,
            "SELECT message_id, seq, starred_at IS NOT NULL, hidden_at IS NOT NULL FROM message_marks
             WHERE user_id = $1 AND conversation_id = $2 AND seq >= $3 ORDER BY seq",
            &[&user, &conv, &(member.joined_seq as i64)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(MessageMark {
                message_id: col(r, 0)?,
                conversation_id: conv.to_string(),
                seq: col::<i64>(r, 1)?.max(0) as u64,
                starred: col(r, 2)?,
                hidden: col(r, 3)?,
            })
        })
        .collect()
    }

    async fn starred(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<StarredMessage>> {
        let c = self.client().await?;
        let (at, id) = before.clone().unwrap_or((i64::MAX, String::new()));
        // Only messages the user may still read (a current member, from the
        // seq they joined at) and that are not deleted.
        let ids = query(
            &c,
            "SELECT mm.message_id, mm.starred_at FROM message_marks mm
             JOIN members m ON m.conversation_id = mm.conversation_id AND m.user_id = mm.user_id
               AND m.active = TRUE AND mm.seq >= m.joined_seq
             JOIN messages msg ON msg.id = mm.message_id AND msg.deleted = FALSE
             WHERE mm.user_id = $1 AND mm.starred_at IS NOT NULL
               AND ($4::boolean = FALSE OR mm.starred_at < $2 OR (mm.starred_at = $2 AND mm.message_id < $3))
             ORDER BY mm.starred_at DESC, mm.message_id DESC LIMIT $5",
            &[&user, &at, &id, &before.is_some(), &i64::from(limit)],
        )
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for r in &ids {
            let message_id: String = col(r, 0)?;
            let (row, _) = rows::visible_message(&c, user, &message_id).await?;
            out.push(StarredMessage {
                message: views::message_view(&c, user, &row, None).await?,
                starred_at: Timestamp(col(r, 1)?),
            });
        }
        Ok(out)
    }
}
