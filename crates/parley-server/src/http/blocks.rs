//! `/blocks` (protocol.md §11).

use super::cursor;
use super::extract::{Json, Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::{Block, BlockList, BlockRequest, BlockStatus, ErrorBody, Timestamp};
use serde::Deserialize;

#[utoipa::path(post, path = "/blocks", tag = "blocks", request_body = BlockRequest,
    responses((status = 201, body = BlockStatus, description = "blocked now"), (status = 200, body = BlockStatus, description = "already blocked"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn block(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<BlockRequest>,
) -> AppResult<impl IntoResponse> {
    AppState::check_id(&req.user_id, "user")?;
    if req.user_id == who.user_id {
        return Err(AppError::invalid("user_id", "you cannot block yourself"));
    }
    let created = state
        .store
        .block(&who.user_id, &req.user_id, Timestamp::now())
        .await?;
    let (blocked_by_me, blocked_me) = state.store.block_status(&who.user_id, &req.user_id).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(BlockStatus {
            blocked_by_me,
            blocked_me,
        }),
    ))
}

#[utoipa::path(delete, path = "/blocks/{user_id}", tag = "blocks", params(("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn unblock(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(user_id): Path<String>,
) -> AppResult<StatusCode> {
    AppState::check_id(&user_id, "user")?;
    state
        .store
        .user_by_id(&user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    state.store.unblock(&who.user_id, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/blocks/{user_id}", tag = "blocks", params(("user_id" = String, Path)),
    responses((status = 200, body = BlockStatus), (status = 404, body = ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(user_id): Path<String>,
) -> AppResult<axum::Json<BlockStatus>> {
    AppState::check_id(&user_id, "user")?;
    state
        .store
        .user_by_id(&user_id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let (blocked_by_me, blocked_me) = state.store.block_status(&who.user_id, &user_id).await?;
    Ok(axum::Json(BlockStatus {
        blocked_by_me,
        blocked_me,
    }))
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
    let mut rows = state.store.blocks(&who.user_id, before, limit + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last()
            .map(|(u, at)| cursor::encode_keyset(at.millis(), &u.id))
    } else {
        None
    };
    let blocks = rows
        .into_iter()
        .map(|(u, at)| {
            let mut user = u.to_wire();
            // Blocked users' presence is hidden from the blocker.
            user.presence = parley_protocol::Presence::offline();
            Block {
                user_id: u.id,
                user,
                created_at: at,
            }
        })
        .collect();
    Ok(axum::Json(BlockList {
        blocks,
        next_cursor,
    }))
}
