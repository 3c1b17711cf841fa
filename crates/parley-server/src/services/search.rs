//! Message search (protocol.md §13): parses the query once
//! (`parley_domain::search`), asks storage for the caller's visible hits
//! and adds each hit's snippet.

use super::check_id;
use crate::error::AppResult;
use crate::ratelimit::{Action, Limiter};
use parley_domain::search as rules;
use parley_protocol::search::SearchHit;
use parley_store::SearchStore;
use std::sync::Arc;

#[derive(Clone)]
pub struct SearchService {
    store: Arc<dyn SearchStore>,
    limiter: Limiter,
}

/// A page of hits and where the next one starts.
pub struct HitsPage {
    pub hits: Vec<SearchHit>,
    pub next: Option<String>,
}

impl SearchService {
    pub fn new(store: Arc<dyn SearchStore>, limiter: Limiter) -> Self {
        SearchService { store, limiter }
    }

    /// `GET /search/messages`.
    pub async fn messages(
        &self,
        viewer: &str,
        q: Option<&str>,
        conversation: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<HitsPage> {
        let query = rules::parse(q)?;
        if let Some(conv) = conversation {
            check_id(conv, "conversation")?;
        }
        self.limiter.spend(Action::Search, viewer).await?;
        let page = self
            .store
            .search_messages(viewer, &query, conversation, after, limit)
            .await?;
        let next = page.next;
        let hits = page
            .hits
            .into_iter()
            .map(|h| SearchHit {
                snippet: rules::snippet(h.message.text.as_deref().unwrap_or(""), &query),
                message: h.message,
                conversation: h.conversation,
            })
            .collect();
        Ok(HitsPage { hits, next })
    }
}
