//! Watermarks and receipts: moves are decided by
//! `parley_domain::receipts`, stored with their time, and announced to the
//! other members.

use crate::rows::{self, db_err, seq_param};
use crate::views;
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::receipts::{WatermarkPlan, move_watermarks, receipt_recipients};
use parley_protocol::{ReadResponse, Receipt, Timestamp};
use parley_store::{Delivery, ReceiptStore, StoreResult, delivery};
use rusqlite::params;

impl WriterState {
    /// Moves the watermarks; returns (read, delivered) as they now are.
    fn mark(
        &mut self,
        user: &str,
        id: &str,
        seq: u64,
        delivered_only: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(u64, u64)> {
        let me = rows::require_member(&self.conn, id, user)?;
        let last_seq = rows::conversation_row(&self.conn, id)?.last_seq;
        let Some(plan) = move_watermarks(&me, last_seq, seq, delivered_only) else {
            return Ok((me.read_seq, me.delivered_seq));
        };
        self.apply_watermarks(user, id, &plan, at, out)?;
        if plan.read > me.read_seq {
            // Devices shown a notification for what is now read close it.
            let p = params![user, id, seq_param(plan.read), at.millis()];
            self.conn
                .prepare_cached(crate::push::ENQUEUE_READ_UPDATES)
                .map_err(db_err)?
                .execute(p)
                .map_err(db_err)?;
            self.conn
                .prepare_cached(crate::push::NOTIFIED_READ)
                .map_err(db_err)?
                .execute(params![user, id, seq_param(plan.read)])
                .map_err(db_err)?;
        }
        Ok((plan.read, plan.delivered))
    }

    /// Stores `plan` (the watermarks and each move with its time) and
    /// announces it to the other members as a `receipt`.
    pub(crate) fn apply_watermarks(
        &mut self,
        user: &str,
        id: &str,
        plan: &WatermarkPlan,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached("UPDATE members SET read_seq = ?3, delivered_seq = ?4 WHERE conversation_id = ?1 AND user_id = ?2")
            .map_err(db_err)?
            .execute(params![id, user, seq_param(plan.read), seq_param(plan.delivered)])
            .map_err(db_err)?;
        for (mark, value) in &plan.moves {
            self.conn
                .prepare_cached("INSERT INTO watermark_moves (conversation_id, user_id, kind, seq, at) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(db_err)?
                .execute(params![id, user, mark.as_str(), seq_param(*value), at.millis()])
                .map_err(db_err)?;
        }
        let hidden = rows::block_partners(&self.conn, user)?;
        let recipients = receipt_recipients(&self.members_of(id)?, user, &hidden);
        out.extend(delivery::receipt(
            id,
            user,
            plan.delivered,
            plan.read,
            recipients,
        )?);
        Ok(())
    }
}

#[async_trait]
impl ReceiptStore for SqliteStore {
    async fn mark_read(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<ReadResponse> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write(move |s, out| {
            let (read_seq, _) = s.mark(&user, &id, seq, false, at, out)?;
            Ok(ReadResponse {
                read_seq,
                unread_count: views::unread_count(&s.conn, &id, &user, read_seq)?,
            })
        })
        .await
    }

    async fn mark_delivered(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write(move |s, out| Ok(s.mark(&user, &id, seq, true, at, out)?.1))
            .await
    }

    async fn receipts(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<Receipt>> {
        let (viewer, message_id) = (viewer.to_string(), message_id.to_string());
        self.read(move |c| {
            let (row, _) = rows::visible_message(c, &viewer, &message_id)?;
            let hidden = rows::block_partners(c, &viewer)?;
            let mut stmt = c
                .prepare_cached(
                    // A member's own message at or after the seq is a read
                    // of it at the message's time (see
                    // `parley_domain::receipts::on_own_send`). SQLite's
                    // scalar min() is NULL if either side is: coalesce.
                    "SELECT user_id, min(coalesce(d, o), coalesce(o, d)), min(coalesce(r, o), coalesce(o, r)) FROM (
                     SELECT m.user_id AS user_id,
                       (SELECT min(w.at) FROM watermark_moves w WHERE w.conversation_id = m.conversation_id
                          AND w.user_id = m.user_id AND w.seq >= ?2) AS d,
                       (SELECT min(w.at) FROM watermark_moves w WHERE w.conversation_id = m.conversation_id
                          AND w.user_id = m.user_id AND w.kind = 'read' AND w.seq >= ?2) AS r,
                       (SELECT min(x.created_at) FROM messages x WHERE x.conversation_id = m.conversation_id
                          AND x.sender_id = m.user_id AND x.seq >= ?2) AS o
                     FROM members m
                     WHERE m.conversation_id = ?1 AND m.active = 1 AND m.user_id <> ?3 AND m.joined_seq <= ?2)
                     ORDER BY user_id",
                )
                .map_err(db_err)?;
            let all = stmt
                .query_map(params![row.conversation_id, seq_param(row.seq), row.sender_id], |r| {
                    Ok(Receipt {
                        user_id: r.get(0)?,
                        delivered_at: r.get::<_, Option<i64>>(1)?.map(Timestamp),
                        read_at: r.get::<_, Option<i64>>(2)?.map(Timestamp),
                    })
                })
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            Ok(all.into_iter().filter(|r| !hidden.contains(&r.user_id)).collect())
        })
        .await
    }
}
