//! Pinned and archived chats (docs/protocol.md, "Pinned and archived
//! chats"): `PUT /conversations/{id}/pin`, `PUT /conversations/{id}/archive`,
//! `GET /users/me/chats`.

use super::extract::{Json, Path};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use parley_domain::chat_state::Change;
use parley_protocol::chat_state::{ArchiveRequest, ChatStateList, PinRequest};
use parley_protocol::{ChatState, ErrorBody};

#[utoipa::path(put, path = "/conversations/{id}/pin", tag = "conversations", params(("id" = String, Path)), request_body = PinRequest,
    responses((status = 200, body = ChatState), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "already 3 pinned chats")))]
pub async fn pin(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<PinRequest>,
) -> AppResult<axum::Json<ChatState>> {
    Ok(axum::Json(
        state
            .services
            .chat_state
            .change(&who.user_id, &id, Change::Pin(req.pinned))
            .await?,
    ))
}

#[utoipa::path(put, path = "/conversations/{id}/archive", tag = "conversations", params(("id" = String, Path)), request_body = ArchiveRequest,
    responses((status = 200, body = ChatState), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn archive(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<ArchiveRequest>,
) -> AppResult<axum::Json<ChatState>> {
    Ok(axum::Json(
        state
            .services
            .chat_state
            .change(&who.user_id, &id, Change::Archive(req.archived))
            .await?,
    ))
}

#[utoipa::path(get, path = "/users/me/chats", tag = "users",
    responses((status = 200, body = ChatStateList)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> AppResult<axum::Json<ChatStateList>> {
    Ok(axum::Json(
        state.services.chat_state.list(&who.user_id).await?,
    ))
}
