//! Media (protocol.md §10): the per-conversation media, files and links
//! lists. Storage decides what the caller may see.

use super::check_id;
use crate::error::AppResult;
use crate::ratelimit::{Action, Limiter};
use parley_domain::media as rules;
use parley_protocol::MediaKind;
use parley_protocol::media::{LinkItem, MediaItem};
use parley_store::{ListCursor, ListPage, MediaStore};
use std::sync::Arc;

#[derive(Clone)]
pub struct MediaService {
    store: Arc<dyn MediaStore>,
    limiter: Limiter,
}

impl MediaService {
    pub fn new(store: Arc<dyn MediaStore>, limiter: Limiter) -> Self {
        MediaService { store, limiter }
    }

    /// `GET /conversations/{id}/media?kind=` (no kind: images and videos).
    pub async fn media(
        &self,
        viewer: &str,
        conv: &str,
        kind: Option<&str>,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> AppResult<ListPage<MediaItem>> {
        self.limiter.spend(Action::History, viewer).await?;
        let kinds = rules::list_kinds(kind)?;
        check_id(conv, "conversation")?;
        Ok(self
            .store
            .conversation_media(viewer, conv, &kinds, cursor, limit)
            .await?)
    }

    /// `GET /conversations/{id}/files`.
    pub async fn files(
        &self,
        viewer: &str,
        conv: &str,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> AppResult<ListPage<MediaItem>> {
        self.limiter.spend(Action::History, viewer).await?;
        check_id(conv, "conversation")?;
        Ok(self
            .store
            .conversation_media(viewer, conv, &[MediaKind::File], cursor, limit)
            .await?)
    }

    /// `GET /conversations/{id}/links`.
    pub async fn links(
        &self,
        viewer: &str,
        conv: &str,
        cursor: Option<ListCursor>,
        limit: u32,
    ) -> AppResult<ListPage<LinkItem>> {
        self.limiter.spend(Action::History, viewer).await?;
        check_id(conv, "conversation")?;
        Ok(self
            .store
            .conversation_links(viewer, conv, cursor, limit)
            .await?)
    }
}
