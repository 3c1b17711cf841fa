//! Starred messages and delete for me (docs/protocol.md, "Starred messages
//! and delete for me"): `PUT /messages/{id}/star`, `PUT /messages/{id}/hidden`,
//! `GET /conversations/{id}/marks`, `GET /users/me/starred`.

use super::cursor;
use super::extract::{Json, Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use parley_domain::message_marks::Change;
use parley_protocol::ErrorBody;
use parley_protocol::message_marks::{
    HideRequest, MessageMark, MessageMarkList, StarRequest, StarredList,
};
use serde::Deserialize;

#[utoipa::path(put, path = "/messages/{id}/star", tag = "messages", params(("id" = String, Path)), request_body = StarRequest,
    responses((status = 200, body = MessageMark), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "deleted, or deleted for you")))]
pub async fn star(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<StarRequest>,
) -> AppResult<axum::Json<MessageMark>> {
    Ok(axum::Json(
        state
            .services
            .message_marks
            .change(&who.user_id, &id, Change::Star(req.starred))
            .await?,
    ))
}

#[utoipa::path(put, path = "/messages/{id}/hidden", tag = "messages", params(("id" = String, Path)), request_body = HideRequest,
    responses((status = 200, body = MessageMark), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn hide(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<HideRequest>,
) -> AppResult<axum::Json<MessageMark>> {
    Ok(axum::Json(
        state
            .services
            .message_marks
            .change(&who.user_id, &id, Change::Hide(req.hidden))
            .await?,
    ))
}

#[utoipa::path(get, path = "/conversations/{id}/marks", tag = "conversations", params(("id" = String, Path)),
    responses((status = 200, body = MessageMarkList), (status = 404, body = ErrorBody)))]
pub async fn marks(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<MessageMarkList>> {
    Ok(axum::Json(MessageMarkList {
        marks: state
            .services
            .message_marks
            .marks(&who.user_id, &id)
            .await?,
    }))
}

#[derive(Deserialize)]
pub struct StarredParams {
    cursor: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/users/me/starred", tag = "users", params(("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = StarredList), (status = 400, body = ErrorBody)))]
pub async fn starred(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<StarredParams>,
) -> AppResult<axum::Json<StarredList>> {
    let limit = page_limit(p.limit.as_deref())?;
    let before = cursor::decode_keyset(p.cursor.as_deref())?;
    let mut starred = state
        .services
        .message_marks
        .starred(&who.user_id, before, limit + 1)
        .await?;
    let more = starred.len() > limit as usize;
    starred.truncate(limit as usize);
    let next_cursor = if more {
        starred
            .last()
            .map(|s| cursor::encode_keyset(s.starred_at.millis(), &s.message.id))
    } else {
        None
    };
    Ok(axum::Json(StarredList {
        starred,
        next_cursor,
    }))
}
