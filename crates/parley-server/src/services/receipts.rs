//! Receipts (protocol.md §7): read and delivered watermarks, and who
//! received and read a message.

use super::check_id;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{Action, Limiter};
use parley_protocol::{ReadResponse, Receipt, Timestamp};
use parley_store::ReceiptStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct ReceiptsService {
    receipts: Arc<dyn ReceiptStore>,
    limiter: Limiter,
}

fn seq_of(seq: i64) -> AppResult<u64> {
    u64::try_from(seq).map_err(|_| AppError::invalid("seq", "seq must not be negative"))
}

impl ReceiptsService {
    pub fn new(receipts: Arc<dyn ReceiptStore>, limiter: Limiter) -> Self {
        ReceiptsService { receipts, limiter }
    }

    pub async fn mark_read(&self, user: &str, conv: &str, seq: i64) -> AppResult<ReadResponse> {
        self.limiter.spend(Action::Read, user).await?;
        check_id(conv, "conversation")?;
        let seq = seq_of(seq)?;
        Ok(self
            .receipts
            .mark_read(user, conv, seq, Timestamp::now())
            .await?)
    }

    /// Returns the delivered watermark.
    pub async fn mark_delivered(&self, user: &str, conv: &str, seq: i64) -> AppResult<u64> {
        let seq = seq_of(seq)?;
        check_id(conv, "conversation")?;
        Ok(self
            .receipts
            .mark_delivered(user, conv, seq, Timestamp::now())
            .await?)
    }

    pub async fn receipts(&self, viewer: &str, message_id: &str) -> AppResult<Vec<Receipt>> {
        check_id(message_id, "message")?;
        Ok(self.receipts.receipts(viewer, message_id).await?)
    }
}
