//! Watermarks and receipts.

use crate::StoreResult;
use async_trait::async_trait;
use parley_protocol::{ReadResponse, Receipt, Timestamp};

#[async_trait]
pub trait ReceiptStore: Send + Sync + 'static {
    /// Moves read (and delivered) forward; clamps to `last_seq`.
    async fn mark_read(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<ReadResponse>;
    /// Moves delivered forward; clamps to `last_seq`. Returns the watermark.
    async fn mark_delivered(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Per other member who was there when it was sent (and is not in a
    /// block with the viewer): when they received and read the message.
    async fn receipts(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<Receipt>>;
}
