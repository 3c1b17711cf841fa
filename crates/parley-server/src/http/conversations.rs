//! `/conversations/*` (protocol.md §4).

use super::cursor;
use super::extract::{Json, Path, Query, from_value, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};
use crate::store::ActivityCursor;
use crate::{ids, validate};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::{
    AddMembersRequest, ChangeRoleRequest, Conversation, ConversationList,
    CreateConversationRequest, ErrorBody, Member, MemberList, MuteRequest, MuteResponse,
    ReadRequest, ReadResponse, Timestamp, UnreadSummary, UpdateConversationRequest,
};
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
    let now = Timestamp::now();
    match body.get("kind").and_then(|k| k.as_str()) {
        Some("direct") => {
            let Direct { user_id, .. } = from_value(body)?;
            AppState::check_id(&user_id, "user")?;
            let (id, created) = state
                .store
                .get_or_create_direct(&ids::new_id(), &who.user_id, &user_id, now)
                .await?;
            let view = state.conversation_for(&who.user_id, &id).await?;
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
            let title = validate::label("title", &title, 100)?;
            let max = state.config.limits.group_max_members as usize;
            if member_ids.len() > max {
                return Err(AppError::invalid(
                    "member_ids",
                    format!("a group has at most {max} members"),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            let mut members: Vec<String> = Vec::new();
            for m in member_ids {
                if m == who.user_id || !seen.insert(m.clone()) {
                    continue;
                }
                AppState::check_id(&m, "user")?;
                members.push(m);
            }
            if members.len() + 1 < 3 {
                return Err(AppError::invalid(
                    "member_ids",
                    "a group needs at least 2 other members",
                ));
            }
            if members.len() + 1 > max {
                return Err(AppError::invalid(
                    "member_ids",
                    format!("a group has at most {max} members"),
                ));
            }
            let id = ids::new_id();
            state
                .store
                .create_group(&id, &who.user_id, &title, &members, now)
                .await?;
            Ok((
                StatusCode::CREATED,
                axum::Json(state.conversation_for(&who.user_id, &id).await?),
            ))
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
    let (mut conversations, next) = state
        .store
        .list_conversations(&who.user_id, cursor, limit)
        .await?;
    let hidden = state.hidden_from(&who.user_id).await?;
    state
        .present_all(
            conversations.iter_mut().filter_map(|c| c.peer.as_mut()),
            &hidden,
        )
        .await;
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
    Ok(axum::Json(state.store.unread_summary(&who.user_id).await?))
}

#[utoipa::path(get, path = "/conversations/{id}", tag = "conversations", params(("id" = String, Path)),
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Conversation>> {
    AppState::check_id(&id, "conversation")?;
    Ok(axum::Json(state.conversation_for(&who.user_id, &id).await?))
}

#[utoipa::path(patch, path = "/conversations/{id}", tag = "conversations", params(("id" = String, Path)), request_body = UpdateConversationRequest,
    responses((status = 200, body = Conversation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateConversationRequest>,
) -> AppResult<axum::Json<Conversation>> {
    AppState::check_id(&id, "conversation")?;
    let title = req
        .title
        .as_deref()
        .map(|t| validate::label("title", t, 100))
        .transpose()?;
    let avatar = req
        .avatar_url
        .as_deref()
        .map(|u| validate::url("avatar_url", u))
        .transpose()?;
    state
        .store
        .update_conversation(&who.user_id, &id, title, avatar, Timestamp::now())
        .await?;
    Ok(axum::Json(state.conversation_for(&who.user_id, &id).await?))
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
    AppState::check_id(&id, "conversation")?;
    let limit = page_limit(p.limit.as_deref())?;
    let after = cursor::decode_key(p.cursor.as_deref())?;
    let mut members = state
        .members_for(&who.user_id, &id, after, limit + 1)
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
    AppState::check_id(&id, "conversation")?;
    if req.user_ids.is_empty()
        || req.user_ids.len() > state.config.limits.group_max_members as usize
    {
        return Err(AppError::invalid(
            "user_ids",
            "user_ids must name 1 or more users",
        ));
    }
    for u in &req.user_ids {
        AppState::check_id(u, "user")?;
    }
    state
        .store
        .add_members(
            &who.user_id,
            &id,
            &req.user_ids,
            state.config.limits.group_max_members,
            Timestamp::now(),
        )
        .await?;
    let members = state
        .members_for(&who.user_id, &id, None, parley_protocol::limits::MAX_PAGE)
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
    AppState::check_id(&id, "conversation")?;
    AppState::check_id(&user_id, "member")?;
    state
        .store
        .remove_member(&who.user_id, &id, &user_id, Timestamp::now())
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
    AppState::check_id(&id, "conversation")?;
    AppState::check_id(&user_id, "member")?;
    state
        .store
        .change_role(&who.user_id, &id, &user_id, req.role, Timestamp::now())
        .await?;
    let members = state.members_for(&who.user_id, &id, None, u32::MAX).await?;
    members
        .into_iter()
        .find(|m| m.user_id == user_id)
        .map(axum::Json)
        .ok_or(AppError::NotFound("member"))
}

#[utoipa::path(post, path = "/conversations/{id}/read", tag = "conversations", params(("id" = String, Path)), request_body = ReadRequest,
    responses((status = 200, body = ReadResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<ReadRequest>,
) -> AppResult<axum::Json<ReadResponse>> {
    AppState::check_id(&id, "conversation")?;
    if req.seq < 0 {
        return Err(AppError::invalid("seq", "seq must not be negative"));
    }
    Ok(axum::Json(
        state
            .store
            .mark_read(&who.user_id, &id, req.seq as u64, Timestamp::now())
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
    AppState::check_id(&id, "conversation")?;
    // A time already past means "not muted".
    let until = req.until.filter(|t| *t > Timestamp::now());
    let muted_until = state.store.set_mute(&who.user_id, &id, until).await?;
    Ok(axum::Json(MuteResponse { muted_until }))
}
