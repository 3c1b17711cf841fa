//! `/users/*` (protocol.md §3).

use super::extract::{Json, Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use parley_protocol::{ErrorBody, Me, UpdateMeRequest, User, UserList};
use serde::Deserialize;

#[utoipa::path(get, path = "/users/me", tag = "users", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(who): Auth) -> AppResult<axum::Json<Me>> {
    Ok(axum::Json(state.services.users.me(&who.user_id).await?))
}

#[utoipa::path(patch, path = "/users/me", tag = "users", request_body = UpdateMeRequest,
    responses((status = 200, body = Me), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody, description = "avatar_media_id is not the caller's upload"),
        (status = 413, body = ErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<UpdateMeRequest>,
) -> AppResult<axum::Json<Me>> {
    Ok(axum::Json(
        state.services.users.update_me(&who.user_id, req).await?,
    ))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn user(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<User>> {
    Ok(axum::Json(
        state.services.users.get(&who.user_id, &id).await?,
    ))
}

#[derive(Deserialize)]
pub struct SearchParams {
    query: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/users", tag = "users",
    params(("query" = Option<String>, Query), ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = UserList), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<SearchParams>,
) -> AppResult<axum::Json<UserList>> {
    let limit = page_limit(p.limit.as_deref())?;
    let query = p.query.unwrap_or_default();
    let after = super::cursor::decode_key(p.cursor.as_deref())?;
    let (users, more) = state
        .services
        .users
        .search(&who.user_id, &query, after, limit)
        .await?;
    let next_cursor = if more {
        users.last().map(|u| super::cursor::encode_key(&u.username))
    } else {
        None
    };
    Ok(axum::Json(UserList { users, next_cursor }))
}
