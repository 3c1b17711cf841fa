//! Media routes (protocol.md §10): the per-conversation media, files and
//! links lists.

use super::cursor;
use super::extract::{Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use parley_protocol::ErrorBody;
use parley_protocol::media::{FilesPage, LinksPage, MediaPage};
use parley_store::{ListCursor, ListPage};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ListParams {
    kind: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

impl ListParams {
    fn page(&self) -> AppResult<(Option<ListCursor>, u32)> {
        let limit = page_limit(self.limit.as_deref())?;
        let cursor = cursor::decode_position(self.cursor.as_deref())?
            .map(|(seq, position)| ListCursor { seq, position });
        Ok((cursor, limit))
    }
}

fn next_cursor<T>(page: &ListPage<T>) -> Option<String> {
    page.next
        .map(|c| cursor::encode_position(c.seq, c.position))
}

#[utoipa::path(get, path = "/conversations/{id}/media", tag = "media",
    params(("id" = String, Path),
        ("kind" = Option<String>, Query, description = "image, video, audio or file; default images and videos"),
        ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = MediaPage, description = "newest message first"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn media(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ListParams>,
) -> AppResult<axum::Json<MediaPage>> {
    let (cursor, limit) = p.page()?;
    let page = state
        .services
        .media
        .media(&who.user_id, &id, p.kind.as_deref(), cursor, limit)
        .await?;
    Ok(axum::Json(MediaPage {
        next_cursor: next_cursor(&page),
        media: page.items,
    }))
}

#[utoipa::path(get, path = "/conversations/{id}/files", tag = "media",
    params(("id" = String, Path), ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = FilesPage, description = "newest message first"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn files(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ListParams>,
) -> AppResult<axum::Json<FilesPage>> {
    let (cursor, limit) = p.page()?;
    let page = state
        .services
        .media
        .files(&who.user_id, &id, cursor, limit)
        .await?;
    Ok(axum::Json(FilesPage {
        next_cursor: next_cursor(&page),
        files: page.items,
    }))
}

#[utoipa::path(get, path = "/conversations/{id}/links", tag = "media",
    params(("id" = String, Path), ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = LinksPage, description = "newest message first"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn links(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ListParams>,
) -> AppResult<axum::Json<LinksPage>> {
    let (cursor, limit) = p.page()?;
    let page = state
        .services
        .media
        .links(&who.user_id, &id, cursor, limit)
        .await?;
    Ok(axum::Json(LinksPage {
        next_cursor: next_cursor(&page),
        links: page.items,
    }))
}
