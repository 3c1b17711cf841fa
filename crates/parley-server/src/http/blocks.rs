//! `/blocks` (protocol.md §11).

use super::cursor;
use super::extract::{Json, Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::{BlockList, BlockRequest, BlockStatus, ErrorBody};
use serde::Deserialize;

#[utoipa::path(post, path = "/blocks", tag = "blocks", request_body = BlockRequest,
    responses((status = 201, body = BlockStatus, description = "blocked now"), (status = 200, body = BlockStatus, description = "already blocked"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn block(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<BlockRequest>,
) -> AppResult<impl IntoResponse> {
    let (created, blocked) = state
        .services
        .blocks
        .block(&who.user_id, &req.user_id)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(blocked)))
}

#[utoipa::path(delete, path = "/blocks/{user_id}", tag = "blocks", params(("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn unblock(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(user_id): Path<String>,
) -> AppResult<StatusCode> {
    state
        .services
        .blocks
        .unblock(&who.user_id, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/blocks/{user_id}", tag = "blocks", params(("user_id" = String, Path)),
    responses((status = 200, body = BlockStatus), (status = 404, body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(user_id): Path<String>,
) -> AppResult<axum::Json<BlockStatus>> {
    Ok(axum::Json(
        state.services.blocks.status(&who.user_id, &user_id).await?,
    ))
}

#[derive(Deserialize)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/blocks", tag = "blocks", params(("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = BlockList), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<ListParams>,
) -> AppResult<axum::Json<BlockList>> {
    let limit = page_limit(p.limit.as_deref())?;
    let before = cursor::decode_keyset(p.cursor.as_deref())?;
    let mut blocks = state
        .services
        .blocks
        .list(&who.user_id, before, limit + 1)
        .await?;
    let more = blocks.len() > limit as usize;
    blocks.truncate(limit as usize);
    let next_cursor = if more {
        blocks
            .last()
            .map(|b| cursor::encode_keyset(b.created_at.millis(), &b.user_id))
    } else {
        None
    };
    Ok(axum::Json(BlockList {
        blocks,
        next_cursor,
    }))
}
