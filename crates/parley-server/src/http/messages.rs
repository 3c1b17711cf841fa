//! Messages and the event log (protocol.md §5).

use super::extract::{Json, Path, Query, page_limit, seq_param};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::services::check_id;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::{
    EditMessageRequest, ErrorBody, EventPage, Message, MessageContext, MessagePage,
    ReactionResponse, ReceiptList, SendMessageRequest,
};
use parley_store::HistoryPage;
use serde::Deserialize;

#[utoipa::path(post, path = "/conversations/{id}/messages", tag = "messages", params(("id" = String, Path)), request_body = SendMessageRequest,
    responses((status = 201, body = Message), (status = 200, body = Message, description = "a retry of an earlier send with the same client_id"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn send(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<SendMessageRequest>,
) -> AppResult<impl IntoResponse> {
    let (message, created) = state
        .services
        .messages
        .send(&who.user_id, &id, req, None)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(message)))
}

#[derive(Deserialize)]
pub struct HistoryParams {
    before: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/conversations/{id}/messages", tag = "messages",
    params(("id" = String, Path), ("before" = Option<u64>, Query), ("after" = Option<u64>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = MessagePage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<HistoryParams>,
) -> AppResult<axum::Json<MessagePage>> {
    // The path first: a foreign id is not_found whatever the query says.
    check_id(&id, "conversation")?;
    let limit = page_limit(p.limit.as_deref())?;
    let page = match (
        seq_param("before", p.before.as_deref())?,
        seq_param("after", p.after.as_deref())?,
    ) {
        (Some(_), Some(_)) => {
            return Err(AppError::invalid(
                "before",
                "give before or after, not both",
            ));
        }
        (Some(b), None) => HistoryPage::Before(b),
        (None, Some(a)) => HistoryPage::After(a),
        (None, None) => HistoryPage::Latest,
    };
    Ok(axum::Json(
        state
            .services
            .messages
            .history(&who.user_id, &id, page, limit)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct EventParams {
    after: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/conversations/{id}/events", tag = "messages",
    params(("id" = String, Path), ("after" = Option<u64>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = EventPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<EventParams>,
) -> AppResult<axum::Json<EventPage>> {
    check_id(&id, "conversation")?;
    let limit = page_limit(p.limit.as_deref())?;
    let after = seq_param("after", p.after.as_deref())?.unwrap_or(0);
    Ok(axum::Json(
        state
            .services
            .messages
            .events(&who.user_id, &id, after, limit)
            .await?,
    ))
}

#[utoipa::path(get, path = "/messages/{id}", tag = "messages", params(("id" = String, Path)),
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Message>> {
    Ok(axum::Json(
        state.services.messages.get(&who.user_id, &id).await?,
    ))
}

#[derive(Deserialize)]
pub struct ContextParams {
    limit: Option<String>,
}

#[utoipa::path(get, path = "/messages/{id}/context", tag = "messages", params(("id" = String, Path), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = MessageContext), (status = 404, body = ErrorBody)))]
pub async fn context(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ContextParams>,
) -> AppResult<axum::Json<MessageContext>> {
    check_id(&id, "message")?;
    let limit = match p.limit.as_deref() {
        None | Some("") => 10,
        other => page_limit(other)?.min(100),
    };
    Ok(axum::Json(
        state
            .services
            .messages
            .context(&who.user_id, &id, limit)
            .await?,
    ))
}

#[utoipa::path(patch, path = "/messages/{id}", tag = "messages", params(("id" = String, Path)), request_body = EditMessageRequest,
    responses((status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn edit(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<EditMessageRequest>,
) -> AppResult<axum::Json<Message>> {
    Ok(axum::Json(
        state
            .services
            .messages
            .edit(&who.user_id, &id, &req.text)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/messages/{id}", tag = "messages", params(("id" = String, Path)),
    responses((status = 200, body = Message, description = "the tombstone"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Message>> {
    Ok(axum::Json(
        state.services.messages.delete(&who.user_id, &id).await?,
    ))
}

async fn react(
    state: AppState,
    user: &str,
    id: &str,
    emoji: &str,
    add: bool,
) -> AppResult<axum::Json<ReactionResponse>> {
    let reactions = state.services.messages.react(user, id, emoji, add).await?;
    Ok(axum::Json(ReactionResponse {
        message_id: id.to_string(),
        reactions,
    }))
}

#[utoipa::path(put, path = "/messages/{id}/reactions/{emoji}", tag = "messages", params(("id" = String, Path), ("emoji" = String, Path, description = "one emoji (a single grapheme cluster); the schema lists a subset", pattern = "^[\\u2600-\\u26FF]$")),
    responses((status = 200, body = ReactionResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_reaction(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, emoji)): Path<(String, String)>,
) -> AppResult<axum::Json<ReactionResponse>> {
    react(state, &who.user_id, &id, &emoji, true).await
}

#[utoipa::path(delete, path = "/messages/{id}/reactions/{emoji}", tag = "messages", params(("id" = String, Path), ("emoji" = String, Path, description = "one emoji (a single grapheme cluster); the schema lists a subset", pattern = "^[\\u2600-\\u26FF]$")),
    responses((status = 200, body = ReactionResponse), (status = 404, body = ErrorBody)))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, emoji)): Path<(String, String)>,
) -> AppResult<axum::Json<ReactionResponse>> {
    react(state, &who.user_id, &id, &emoji, false).await
}

#[utoipa::path(get, path = "/messages/{id}/receipts", tag = "messages", params(("id" = String, Path)),
    responses((status = 200, body = ReceiptList), (status = 404, body = ErrorBody)))]
pub async fn receipts(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<ReceiptList>> {
    let receipts = state.services.receipts.receipts(&who.user_id, &id).await?;
    Ok(axum::Json(ReceiptList {
        message_id: id,
        receipts,
    }))
}
