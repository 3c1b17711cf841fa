//! The admin (compliance) export (protocol.md §13): a whole conversation,
//! every message from the first seq, whoever the members are now. Only the
//! admin service calls this area; it never answers to a member's view.

use crate::StoreResult;
use async_trait::async_trait;
use parley_protocol::Message;
use parley_protocol::compliance::ComplianceConversation;

#[async_trait]
pub trait ComplianceStore: Send + Sync + 'static {
    /// The conversation; `not_found` if there is none.
    async fn compliance_conversation(&self, id: &str) -> StoreResult<ComplianceConversation>;
    /// At most `limit` of its messages after seq `after`, ascending,
    /// tombstones included, as a non-member sees a message (no `status`,
    /// no reaction marked as one's own).
    async fn compliance_messages(
        &self,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;
}
