//! `/admin/retention/run` and `/admin/conversations/{id}/retention`
//! (protocol.md §13): admin only.

use super::extract::{Json, OptionalJson, Path};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use parley_protocol::ErrorBody;
use parley_protocol::retention::{
    ConversationRetention, RetentionRun, RetentionRunRequest, SetConversationRetention,
};

#[utoipa::path(post, path = "/admin/retention/run", tag = "admin",
    request_body(content = Option<RetentionRunRequest>, description = "optional"),
    responses((status = 200, body = RetentionRun), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    Auth(who): Auth,
    OptionalJson(req): OptionalJson<RetentionRunRequest>,
) -> AppResult<axum::Json<RetentionRun>> {
    let tombstoned = state.services.retention.run_now(&who, req.now).await?;
    Ok(axum::Json(RetentionRun { tombstoned }))
}

#[utoipa::path(get, path = "/admin/conversations/{id}/retention", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, body = ConversationRetention), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<ConversationRetention>> {
    Ok(axum::Json(
        state.services.retention.conversation(&who, &id).await?,
    ))
}

#[utoipa::path(put, path = "/admin/conversations/{id}/retention", tag = "admin",
    params(("id" = String, Path)), request_body = SetConversationRetention,
    responses((status = 200, body = ConversationRetention), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<SetConversationRetention>,
) -> AppResult<axum::Json<ConversationRetention>> {
    Ok(axum::Json(
        state
            .services
            .retention
            .set_conversation(&who, &id, req.message_days)
            .await?,
    ))
}
