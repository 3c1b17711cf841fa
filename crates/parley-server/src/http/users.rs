//! `/users/*` (protocol.md §3).

use super::extract::{Json, Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::store::UserPatch;
use crate::validate;
use axum::extract::State;
use parley_protocol::{ErrorBody, UpdateMeRequest, User, UserList};
use serde::Deserialize;

#[utoipa::path(get, path = "/users/me", tag = "users", responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, Auth(who): Auth) -> AppResult<axum::Json<User>> {
    let u = state
        .store
        .user_by_id(&who.user_id)
        .await?
        .ok_or(AppError::Unauthenticated("account no longer exists"))?;
    let mut user = u.to_wire();
    state.present(&mut user, &[]).await;
    Ok(axum::Json(user))
}

#[utoipa::path(patch, path = "/users/me", tag = "users", request_body = UpdateMeRequest,
    responses((status = 200, body = User), (status = 400, body = ErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<UpdateMeRequest>,
) -> AppResult<axum::Json<User>> {
    let patch = UserPatch {
        display_name: req
            .display_name
            .as_deref()
            .map(|d| validate::label("display_name", d, 64))
            .transpose()?,
        avatar_url: req
            .avatar_url
            .as_deref()
            .map(|u| validate::url("avatar_url", u))
            .transpose()?,
        about: req
            .about
            .as_deref()
            .map(|a| validate::free_text("about", a, 500))
            .transpose()?,
        role: None,
    };
    let mut user = state
        .store
        .update_user(&who.user_id, patch)
        .await?
        .to_wire();
    state.present(&mut user, &[]).await;
    Ok(axum::Json(user))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn user(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<User>> {
    AppState::check_id(&id, "user")?;
    let u = state
        .store
        .user_by_id(&id)
        .await?
        .ok_or(AppError::NotFound("user"))?;
    let mut user = u.to_wire();
    state
        .present(&mut user, &state.hidden_from(&who.user_id).await?)
        .await;
    Ok(axum::Json(user))
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
    if query.chars().count() > 64 || query.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "query",
            "query must be at most 64 characters",
        ));
    }
    let after = super::cursor::decode_key(p.cursor.as_deref())?;
    let rows = state
        .store
        .search_users(&query.to_lowercase(), after, limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    let hidden = state.hidden_from(&who.user_id).await?;
    let mut users: Vec<User> = rows
        .iter()
        .take(limit as usize)
        .map(|u| u.to_wire())
        .collect();
    state.present_all(users.iter_mut(), &hidden).await;
    let next_cursor = if more {
        users.last().map(|u| super::cursor::encode_key(&u.username))
    } else {
        None
    };
    Ok(axum::Json(UserList { users, next_cursor }))
}
