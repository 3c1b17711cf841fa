//! `/conversations/*` (protocol.md §4).

use super::cursor;
use super::extract::{Json, Path, Query, from_value, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::services::check_id;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::{
    AddMembersRequest, ChangeRoleRequest, Conversation, ConversationList,
    CreateConversationRequest, ErrorBody, Member, MemberList, MuteRequest, MuteResponse,
    ReadRequest, ReadResponse, UnreadSummary, UpdateConversationRequest,
};
use parley_store::ActivityCursor;
use serde::Deserialize;

#[utoipa::path(post, path = "/conversations", tag = "conversations", request_body = CreateConversationRequest,
    responses((status = 201, body = Conversation), (status = 200, body = Conversation, description = "the direct conversation already existed"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(body): Json<serde_json::Value>,
) -> AppResult<impl IntoResponse> {
    // The kind is read first so that errors in the rest name their field
    // (a tagged enum would lose the path).
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Direct {
        #[serde(rename = "kind")]
        _kind: String,
        user_id: String,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Group {
        #[serde(rename = "kind")]
        _kind: String,
        title: String,
        member_ids: Vec<String>,
    }
    let conversations = &state.services.conversations;
    match body.get("kind").and_then(|k| k.as_str()) {
        Some("direct") => {
            let Direct { user_id, .. } = from_value(body)?;
            let (view, created) = conversations.open_direct(&who.user_id, &user_id).await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((status, axum::Json(view)))
        }
        Some("group") => {
            let Group {
                title, member_ids, ..
            } = from_value(body)?;
            let view = conversations
                .create_group(&who.user_id, &title, member_ids)
                .await?;
            Ok((StatusCode::CREATED, axum::Json(view)))
        }
        _ => Err(AppError::invalid(
            "kind",
            "kind must be \"direct\" or \"group\"",
        )),
    }
}

#[derive(Deserialize)]
pub struct ListParams {
    cursor: Option<String>,
    limit: Option<String>,
}

fn decode_cursor(raw: Option<&str>) -> AppResult<Option<ActivityCursor>> {
    Ok(
        cursor::decode_keyset(raw)?.map(|(last_activity_ms, id)| ActivityCursor {
            last_activity_ms,
            id,
        }),
    )
}

#[utoipa::path(get, path = "/conversations", tag = "conversations",
    params(("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = ConversationList), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<ListParams>,
) -> AppResult<axum::Json<ConversationList>> {
    let limit = page_limit(p.limit.as_deref())?;
    let cursor = decode_cursor(p.cursor.as_deref())?;
    let (conversations, next) = state
        .services
        .conversations
        .list(&who.user_id, cursor, limit)
        .await?;
    let next_cursor = next.map(|c| cursor::encode_keyset(c.last_activity_ms, &c.id));
    Ok(axum::Json(ConversationList {
        conversations,
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/conversations/unread", tag = "conversations", responses((status = 200, body = UnreadSummary)))]
pub async fn unread(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> AppResult<axum::Json<UnreadSummary>> {
    Ok(axum::Json(
        state.services.conversations.unread(&who.user_id).await?,
    ))
}

#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations", params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Conversation>> {
    Ok(axum::Json(
        state.services.conversations.get(&who.user_id, &id).await?,
    ))
}

#[utoipa::path(patch, path = "/conversations/{id}", tag = "conversations", params(("id" = String, Path)), request_body = UpdateConversationRequest,
    responses((status = 200, body = Conversation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateConversationRequest>,
) -> AppResult<axum::Json<Conversation>> {
    let view = state
        .services
        .conversations
        .update(
            &who.user_id,
            &id,
            req.title.as_deref(),
            req.avatar_url.as_deref(),
        )
        .await?;
    Ok(axum::Json(view))
}

#[derive(Deserialize)]
pub struct MemberParams {
    cursor: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(get, path = "/conversations/{id}/members", tag = "conversations",
    params(("id" = String, Path), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = MemberList), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<MemberParams>,
) -> AppResult<axum::Json<MemberList>> {
    // The path first: a foreign id is not_found whatever the query says.
    check_id(&id, "conversation")?;
    let limit = page_limit(p.limit.as_deref())?;
    let after = cursor::decode_key(p.cursor.as_deref())?;
    let mut members = state
        .services
        .conversations
        .members(&who.user_id, &id, after, limit + 1)
        .await?;
    let more = members.len() > limit as usize;
    members.truncate(limit as usize);
    let next_cursor = if more {
        members.last().map(|m| cursor::encode_key(&m.user_id))
    } else {
        None
    };
    Ok(axum::Json(MemberList {
        members,
        next_cursor,
    }))
}

#[utoipa::path(post, path = "/conversations/{id}/members", tag = "conversations", params(("id" = String, Path)), request_body = AddMembersRequest,
    responses((status = 200, body = MemberList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_members(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<AddMembersRequest>,
) -> AppResult<axum::Json<MemberList>> {
    let members = state
        .services
        .conversations
        .add_members(&who.user_id, &id, &req.user_ids)
        .await?;
    Ok(axum::Json(MemberList {
        next_cursor: None,
        members,
    }))
}

#[utoipa::path(delete, path = "/conversations/{id}/members/{user_id}", tag = "conversations",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, user_id)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    state
        .services
        .conversations
        .remove_member(&who.user_id, &id, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(patch, path = "/conversations/{id}/members/{user_id}", tag = "conversations",
    params(("id" = String, Path), ("user_id" = String, Path)), request_body = ChangeRoleRequest,
    responses((status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn change_role(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path((id, user_id)): Path<(String, String)>,
    Json(req): Json<ChangeRoleRequest>,
) -> AppResult<axum::Json<Member>> {
    let member = state
        .services
        .conversations
        .change_role(&who.user_id, &id, &user_id, req.role)
        .await?;
    Ok(axum::Json(member))
}

#[utoipa::path(post, path = "/conversations/{id}/read", tag = "conversations", params(("id" = String, Path)), request_body = ReadRequest,
    responses((status = 200, body = ReadResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<ReadRequest>,
) -> AppResult<axum::Json<ReadResponse>> {
    Ok(axum::Json(
        state
            .services
            .receipts
            .mark_read(&who.user_id, &id, req.seq)
            .await?,
    ))
}

#[utoipa::path(put, path = "/conversations/{id}/mute", tag = "conversations", params(("id" = String, Path)), request_body = MuteRequest,
    responses((status = 200, body = MuteResponse), (status = 404, body = ErrorBody)))]
pub async fn mute(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<MuteRequest>,
) -> AppResult<axum::Json<MuteResponse>> {
    let muted_until = state
        .services
        .conversations
        .mute(&who.user_id, &id, req.until)
        .await?;
    Ok(axum::Json(MuteResponse { muted_until }))
}
