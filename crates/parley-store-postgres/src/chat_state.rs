//! Pinned and archived chats on PostgreSQL: a change takes a transaction
//! lock on the user (so two processes pinning two chats at once cannot both
//! pass the pin limit), reads the facts, asks the domain and upserts the row
//! (or drops it when it holds nothing).

use crate::rows::{self, col, col_u64, execute, query, query_one, query_opt};
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use parley_domain::chat_state::{self as rules, Change, Facts, Row};
use parley_protocol::{ChatState, Timestamp};
use parley_store::{ChatStateStore, StoreResult};

/// The chat-state rows of `user` that belong to a current membership.
const CURRENT: &str = "FROM chat_states cs
     JOIN members m ON m.conversation_id = cs.conversation_id AND m.user_id = cs.user_id
       AND m.active = TRUE AND m.joined_seq = cs.joined_seq
     JOIN conversations c ON c.id = cs.conversation_id
     WHERE cs.user_id = $1";

fn seq(v: Option<i64>) -> Option<u64> {
    v.map(|s| s.max(0) as u64)
}

async fn facts<C: GenericClient>(c: &C, user: &str, conv: &str) -> StoreResult<Facts> {
    let member = rows::member_info(c, conv, user).await?;
    let current = match &member {
        Some(m) => query_opt(
            c,
            "SELECT pinned_at, archived_seq FROM chat_states
             WHERE user_id = $1 AND conversation_id = $2 AND joined_seq = $3",
            &[&user, &conv, &(m.joined_seq as i64)],
        )
        .await?
        .map(|r| -> StoreResult<Row> {
            Ok(Row {
                pinned_at: col(&r, 0)?,
                archived_seq: seq(col(&r, 1)?),
            })
        })
        .transpose()?
        .unwrap_or_default(),
        None => Row::default(),
    };
    let r = query_one(
        c,
        &format!(
            "SELECT count(*) {CURRENT} AND cs.conversation_id <> $2 AND cs.pinned_at IS NOT NULL"
        ),
        &[&user, &conv],
    )
    .await?;
    let pinned_elsewhere = col_u64(&r, 0)? as usize;
    let last = query_opt(
        c,
        "SELECT last_message_seq FROM conversations WHERE id = $1",
        &[&conv],
    )
    .await?
    .map(|r| col::<Option<i64>>(&r, 0))
    .transpose()?
    .flatten();
    Ok(Facts {
        member,
        current,
        pinned_elsewhere,
        last_message_seq: seq(last),
    })
}

#[async_trait]
impl ChatStateStore for PostgresStore {
    async fn change_chat_state(
        &self,
        user: &str,
        conv: &str,
        change: Change,
        now: Timestamp,
    ) -> StoreResult<ChatState> {
        let (user, conv) = (user.to_string(), conv.to_string());
        in_tx!(self, move |w, _out| async {
            // hashtext: a 32-bit key per user; a collision only serialises
            // two users' pin changes, which are rare and short.
            execute(
                &w.tx,
                "SELECT pg_advisory_xact_lock(7, hashtext($1))",
                &[&user],
            )
            .await?;
            let f = facts(&w.tx, &user, &conv).await?;
            let rules::Planned { row, member } = rules::plan(&f, change, now.millis())?;
            if row == Row::default() {
                execute(
                    &w.tx,
                    "DELETE FROM chat_states WHERE user_id = $1 AND conversation_id = $2",
                    &[&user, &conv],
                )
                .await?;
            } else {
                execute(
                    &w.tx,
                    "INSERT INTO chat_states (user_id, conversation_id, joined_seq, pinned_at, archived_seq)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (user_id, conversation_id) DO UPDATE SET joined_seq = EXCLUDED.joined_seq,
                       pinned_at = EXCLUDED.pinned_at, archived_seq = EXCLUDED.archived_seq",
                    &[
                        &user,
                        &conv,
                        &(member.joined_seq as i64),
                        &row.pinned_at,
                        &row.archived_seq.map(|s| s as i64),
                    ],
                )
                .await?;
            }
            Ok(rules::state(
                &conv,
                row,
                f.last_message_seq,
                member.muted_until,
                now.millis(),
            ))
        })
    }

    async fn chat_states(&self, user: &str, now: Timestamp) -> StoreResult<Vec<ChatState>> {
        let c = self.client().await?;
        let all = query(
            &c,
            &format!(
                "SELECT cs.conversation_id, cs.pinned_at, cs.archived_seq, c.last_message_seq, m.muted_until
                 {CURRENT}
                 ORDER BY cs.pinned_at NULLS LAST, cs.conversation_id"
            ),
            &[&user],
        )
        .await?
        .iter()
        .map(|r| -> StoreResult<ChatState> {
            let id: String = col(r, 0)?;
            let row = Row {
                pinned_at: col(r, 1)?,
                archived_seq: seq(col(r, 2)?),
            };
            Ok(rules::state(
                &id,
                row,
                seq(col(r, 3)?),
                col(r, 4)?,
                now.millis(),
            ))
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(all
            .into_iter()
            .filter(|s| s.pinned_at.is_some() || s.archived)
            .collect())
    }
}
