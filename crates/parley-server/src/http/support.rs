//! Support inboxes (protocol.md §9): `/inboxes`, `/agents/me`, and the
//! support actions on a conversation. Each handler calls the support
//! service.

use super::cursor;
use super::extract::{Json, OptionalJson, Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::support::{
    AgentStatusView, Inbox, InboxAgentList, InboxAgentMembership, InboxList, InboxRequest,
    OpenSupportRequest, PutAgentRequest, SetAgentStatusRequest, SupportNoteRequest, SupportState,
    TransferRequest,
};
use parley_protocol::{Conversation, ConversationList, ErrorBody, Message};
use serde::Deserialize;

#[utoipa::path(post, path = "/inboxes", tag = "support", request_body = InboxRequest,
    responses((status = 201, body = Inbox), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_inbox(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<InboxRequest>,
) -> AppResult<impl IntoResponse> {
    let inbox = state.services.support.create_inbox(who.role, req).await?;
    Ok((StatusCode::CREATED, axum::Json(inbox)))
}

#[utoipa::path(get, path = "/inboxes", tag = "support",
    responses((status = 200, body = InboxList), (status = 403, body = ErrorBody)))]
pub async fn list_inboxes(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> AppResult<axum::Json<InboxList>> {
    let inboxes = state
        .services
        .support
        .inboxes(&who.user_id, who.role)
        .await?;
    Ok(axum::Json(InboxList { inboxes }))
}

#[utoipa::path(get, path = "/inboxes/{id}", tag = "support", params(("id" = String, Path)),
    responses((status = 200, body = Inbox), (status = 404, body = ErrorBody)))]
pub async fn get_inbox(
    State(state): State<AppState>,
    Auth(_who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Inbox>> {
    Ok(axum::Json(state.services.support.inbox(&id).await?))
}

#[utoipa::path(patch, path = "/inboxes/{id}", tag = "support", params(("id" = String, Path)), request_body = InboxRequest,
    responses((status = 200, body = Inbox), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_inbox(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<InboxRequest>,
) -> AppResult<axum::Json<Inbox>> {
    Ok(axum::Json(
        state
            .services
            .support
            .update_inbox(who.role, &id, req)
            .await?,
    ))
}

#[utoipa::path(put, path = "/inboxes/{id}/agents/{user_id}", tag = "support",
    params(("id" = String, Path), ("user_id" = String, Path)), request_body = PutAgentRequest,
    responses((status = 200, body = InboxAgentMembership), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_agent(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, user_id)): Path<(String, String)>,
    OptionalJson(req): OptionalJson<PutAgentRequest>,
) -> AppResult<axum::Json<InboxAgentMembership>> {
    Ok(axum::Json(
        state
            .services
            .support
            .put_agent(who.role, &id, &user_id, req)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/inboxes/{id}/agents/{user_id}", tag = "support",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_agent(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, user_id)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    state
        .services
        .support
        .remove_agent(who.role, &id, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/inboxes/{id}/agents", tag = "support", params(("id" = String, Path)),
    responses((status = 200, body = InboxAgentList), (status = 404, body = ErrorBody)))]
pub async fn list_agents(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<InboxAgentList>> {
    let agents = state
        .services
        .support
        .agents(&who.user_id, who.role, &id)
        .await?;
    Ok(axum::Json(InboxAgentList { agents }))
}

#[derive(Deserialize)]
pub struct PageParams {
    cursor: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/inboxes/{id}/queue", tag = "support",
    params(("id" = String, Path), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ConversationList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn queue(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> AppResult<axum::Json<ConversationList>> {
    let limit = page_limit(p.limit.as_deref())?;
    let after = match cursor::decode_key(p.cursor.as_deref())? {
        Some(k) => k
            .parse::<u32>()
            .map_err(|_| AppError::invalid("cursor", "invalid cursor"))?,
        None => 0,
    };
    let (conversations, next) = state
        .services
        .support
        .queue(&who.user_id, who.role, &id, after, limit)
        .await?;
    Ok(axum::Json(ConversationList {
        conversations,
        next_cursor: next.map(|n| cursor::encode_key(&n.to_string())),
    }))
}

#[utoipa::path(post, path = "/inboxes/{id}/conversations", tag = "support", params(("id" = String, Path)),
    request_body = OpenSupportRequest,
    responses((status = 201, body = Conversation, description = "a new conversation"),
        (status = 200, body = Conversation, description = "the customer's open conversation"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn open(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    OptionalJson(req): OptionalJson<OpenSupportRequest>,
) -> AppResult<impl IntoResponse> {
    let (conversation, created) = state.services.support.open(&who.user_id, &id, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(conversation)))
}

#[utoipa::path(get, path = "/agents/me/status", tag = "support",
    responses((status = 200, body = AgentStatusView), (status = 403, body = ErrorBody)))]
pub async fn get_status(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> AppResult<axum::Json<AgentStatusView>> {
    Ok(axum::Json(
        state
            .services
            .support
            .status(&who.user_id, who.role)
            .await?,
    ))
}

#[utoipa::path(put, path = "/agents/me/status", tag = "support", request_body = SetAgentStatusRequest,
    responses((status = 200, body = AgentStatusView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_status(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<SetAgentStatusRequest>,
) -> AppResult<axum::Json<AgentStatusView>> {
    Ok(axum::Json(
        state
            .services
            .support
            .set_status(&who.user_id, who.role, req.status)
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct MineParams {
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/agents/me/conversations", tag = "support",
    params(("state" = Option<String>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ConversationList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn mine(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<MineParams>,
) -> AppResult<axum::Json<ConversationList>> {
    let limit = page_limit(p.limit.as_deref())?;
    let wanted = match p.state.as_deref() {
        None | Some("") => SupportState::Assigned,
        Some(s) => match SupportState::parse(s) {
            Some(SupportState::Queued) | None => {
                return Err(AppError::invalid(
                    "state",
                    "state must be assigned or resolved",
                ));
            }
            Some(s) => s,
        },
    };
    let before = cursor::decode_keyset(p.cursor.as_deref())?;
    let (conversations, next) = state
        .services
        .support
        .mine(&who.user_id, who.role, wanted, before, limit)
        .await?;
    Ok(axum::Json(ConversationList {
        conversations,
        next_cursor: next.map(|(at, id)| cursor::encode_keyset(at, &id)),
    }))
}

#[utoipa::path(post, path = "/conversations/{id}/support/claim", tag = "support", params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn claim(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Conversation>> {
    Ok(axum::Json(
        state
            .services
            .support
            .claim(&who.user_id, who.role, &id)
            .await?,
    ))
}

#[utoipa::path(post, path = "/conversations/{id}/support/transfer", tag = "support", params(("id" = String, Path)),
    request_body = TransferRequest,
    responses((status = 200, body = Conversation), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn transfer(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<TransferRequest>,
) -> AppResult<axum::Json<Conversation>> {
    Ok(axum::Json(
        state
            .services
            .support
            .transfer(&who.user_id, who.role, &id, req.agent_id, req.inbox_id)
            .await?,
    ))
}

#[utoipa::path(post, path = "/conversations/{id}/support/resolve", tag = "support", params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Conversation>> {
    Ok(axum::Json(
        state
            .services
            .support
            .resolve(&who.user_id, who.role, &id)
            .await?,
    ))
}

#[utoipa::path(post, path = "/conversations/{id}/support/notes", tag = "support", params(("id" = String, Path)),
    request_body = SupportNoteRequest,
    responses((status = 201, body = Message), (status = 200, body = Message, description = "a retry with the same client_id"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn note(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<SupportNoteRequest>,
) -> AppResult<impl IntoResponse> {
    let (message, created) = state
        .services
        .support
        .note(&who.user_id, who.role, &id, req)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(message)))
}

#[utoipa::path(post, path = "/conversations/{id}/support/reopen", tag = "support", params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reopen(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Conversation>> {
    Ok(axum::Json(
        state
            .services
            .support
            .reopen(&who.user_id, who.role, &id)
            .await?,
    ))
}
