//! Watermarks and receipts: moves are decided by
//! `parley_domain::receipts`, stored with their time, and announced to the
//! other members.

use crate::events::WriteTx;
use crate::rows::{self, col, col_u64, execute, query, query_one, seq_param};
use crate::views;
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use parley_domain::receipts::{move_watermarks, receipt_recipients};
use parley_domain::visibility;
use parley_protocol::{ReadResponse, Receipt, Timestamp};
use parley_store::{Delivery, ReceiptStore, StoreResult, delivery};

impl WriteTx<'_> {
    /// Moves the watermarks; returns (read, delivered) as they now are.
    async fn mark(
        &mut self,
        user: &str,
        id: &str,
        seq: u64,
        delivered_only: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(u64, u64)> {
        // The member row is locked: two moves of one user's watermarks run
        // one after the other, so neither can move them backwards.
        let me = visibility::require_member(rows::member_info_locked(&self.tx, id, user).await?)?;
        self.touch(id);
        let r = query_one(
            &self.tx,
            "SELECT last_seq FROM conversations WHERE id = $1",
            &[&id],
        )
        .await?;
        let Some(plan) = move_watermarks(&me, col_u64(&r, 0)?, seq, delivered_only) else {
            return Ok((me.read_seq, me.delivered_seq));
        };
        execute(
            &self.tx,
            "UPDATE members SET read_seq = $3, delivered_seq = $4 WHERE conversation_id = $1 AND user_id = $2",
            &[&id, &user, &seq_param(plan.read), &seq_param(plan.delivered)],
        )
        .await?;
        for (mark, value) in &plan.moves {
            execute(
                &self.tx,
                "INSERT INTO watermark_moves (conversation_id, user_id, kind, seq, at) VALUES ($1, $2, $3, $4, $5)",
                &[&id, &user, &mark.as_str(), &seq_param(*value), &at.millis()],
            )
            .await?;
        }
        if plan.read > me.read_seq {
            // Devices shown a notification for what is now read close it.
            execute(
                &self.tx,
                crate::push::ENQUEUE_READ_UPDATES,
                &[&user, &id, &seq_param(plan.read), &at.millis()],
            )
            .await?;
        }
        let hidden = rows::block_partners(&self.tx, user).await?;
        let recipients = receipt_recipients(&self.members_of(id).await?, user, &hidden);
        out.extend(delivery::receipt(
            id,
            user,
            plan.delivered,
            plan.read,
            recipients,
        )?);
        Ok((plan.read, plan.delivered))
    }

    async fn mark_read(
        &mut self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<ReadResponse> {
        let (read_seq, _) = self.mark(user, id, seq, false, at, out).await?;
        Ok(ReadResponse {
            read_seq,
            unread_count: views::unread_count(&self.tx, id, user, read_seq).await?,
        })
    }
}

#[async_trait]
impl ReceiptStore for PostgresStore {
    async fn mark_read(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<ReadResponse> {
        let (user, id) = (user.to_string(), id.to_string());
        in_tx!(self, move |w, out| w.mark_read(&user, &id, seq, at, out))
    }

    async fn mark_delivered(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let (user, id) = (user.to_string(), id.to_string());
        let (_, delivered) = in_tx!(self, move |w, out| w.mark(&user, &id, seq, true, at, out))?;
        Ok(delivered)
    }

    async fn receipts(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<Receipt>> {
        let c = self.client().await?;
        let (row, _) = rows::visible_message(&c, viewer, message_id).await?;
        let hidden = rows::block_partners(&c, viewer).await?;
        let all = query(
            &c,
            // A member's own message at or after the seq is a read of it
            // at the message's time (see `parley_domain::receipts::on_own_send`).
            "SELECT m.user_id,
               LEAST((SELECT min(w.at) FROM watermark_moves w WHERE w.conversation_id = m.conversation_id
                  AND w.user_id = m.user_id AND w.seq >= $2), o.at),
               LEAST((SELECT min(w.at) FROM watermark_moves w WHERE w.conversation_id = m.conversation_id
                  AND w.user_id = m.user_id AND w.kind = 'read' AND w.seq >= $2), o.at)
             FROM members m
             LEFT JOIN LATERAL (SELECT min(x.created_at) AS at FROM messages x
                 WHERE x.conversation_id = m.conversation_id AND x.sender_id = m.user_id AND x.seq >= $2) o ON TRUE
             WHERE m.conversation_id = $1 AND m.active = TRUE AND m.user_id <> $3 AND m.joined_seq <= $2
             ORDER BY m.user_id",
            &[&row.conversation_id, &seq_param(row.seq), &row.sender_id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Receipt {
                user_id: col(r, 0)?,
                delivered_at: col::<Option<i64>>(r, 1)?.map(Timestamp),
                read_at: col::<Option<i64>>(r, 2)?.map(Timestamp),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(all
            .into_iter()
            .filter(|r| !hidden.contains(&r.user_id))
            .collect())
    }
}
