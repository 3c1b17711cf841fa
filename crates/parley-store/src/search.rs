//! Message search (protocol.md §13): the caller's visible messages that
//! match a parsed query, best first. Visibility is part of the query
//! itself (joined to the caller's memberships), so a page is never
//! filtered afterwards and a caller with no conversations gets nothing.

use crate::StoreResult;
use async_trait::async_trait;
use parley_domain::search::Query;
use parley_protocol::Message;
use parley_protocol::search::SearchConversation;

/// One hit: the message as the caller sees it and its conversation.
#[derive(Debug, Clone)]
pub struct SearchFound {
    pub message: Message,
    pub conversation: SearchConversation,
}

/// A page of hits and, when more follow, where the list continues: a
/// position each backend defines and reads back (the HTTP layer wraps it
/// in an opaque cursor). It stays right while messages arrive: SQLite's
/// `bm25` depends on the whole index, so its position is a snapshot (the
/// newest message at the first page) and an offset; PostgreSQL's
/// `ts_rank_cd` depends on the message alone, so its position is the last
/// hit's (score, time, id).
#[derive(Debug, Clone)]
pub struct SearchFoundPage {
    pub hits: Vec<SearchFound>,
    pub next: Option<String>,
}

/// The refusal for a position a backend did not make.
pub fn bad_position() -> crate::StoreError {
    crate::StoreError::Domain(parley_domain::DomainError::invalid(
        "cursor",
        "invalid cursor",
    ))
}

#[async_trait]
pub trait SearchStore: Send + Sync + 'static {
    /// At most `limit` of `viewer`'s visible messages matching `query`
    /// (current memberships, from `joined_seq`, not deleted, not system
    /// notices), after `after`, in `conversation` when given (one the
    /// viewer may not see is `not_found`; a position it did not make is
    /// `invalid_request` naming `cursor`). An empty query finds nothing.
    /// Relevance: `-bm25` on SQLite, `ts_rank_cd` on PostgreSQL; 0 for a
    /// query without required text.
    async fn search_messages(
        &self,
        viewer: &str,
        query: &Query,
        conversation: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<SearchFoundPage>;
}
