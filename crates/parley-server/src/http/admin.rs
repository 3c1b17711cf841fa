//! `/admin/...` (protocol.md §11): moderation for users with the admin
//! role. Anyone else gets `forbidden` before any id is looked at.

use super::cursor;
use super::extract::{OptionalJson, Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use axum::http::StatusCode;
use parley_protocol::{AuditPage, BanRequest, ErrorBody, Message};
use serde::Deserialize;

#[utoipa::path(delete, path = "/admin/messages/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Message, description = "the tombstone"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete_message(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Message>> {
    Ok(axum::Json(
        state.services.moderation.delete_message(&who, &id).await?,
    ))
}

#[utoipa::path(post, path = "/admin/users/{id}/ban", tag = "admin", params(("id" = String, Path)),
    request_body(content = Option<BanRequest>, description = "optional"),
    responses((status = 204, description = "banned (idempotent)"), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn ban(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    OptionalJson(req): OptionalJson<BanRequest>,
) -> AppResult<StatusCode> {
    state
        .services
        .moderation
        .ban(&who, &id, req.reason.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/admin/users/{id}/ban", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "not banned (idempotent)"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn unban(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    state.services.moderation.unban(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct AuditParams {
    cursor: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin",
    params(("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn audit(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<AuditParams>,
) -> AppResult<axum::Json<AuditPage>> {
    // The role first: a non-admin's bad cursor is still `forbidden`.
    parley_domain::moderation::require_admin(who.role)?;
    let limit = page_limit(p.limit.as_deref())?;
    let before = cursor::decode_key(p.cursor.as_deref())?;
    let mut entries = state
        .services
        .moderation
        .audit(&who, before, limit + 1)
        .await?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next_cursor = if more {
        entries.last().map(|e| cursor::encode_key(&e.id))
    } else {
        None
    };
    Ok(axum::Json(AuditPage {
        entries,
        next_cursor,
    }))
}
