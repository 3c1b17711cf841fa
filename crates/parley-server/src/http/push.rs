//! `/push/...` (protocol.md §12, "Web Push"): the VAPID public key and the
//! caller's subscriptions.

use super::extract::Json;
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::ErrorBody;
use parley_protocol::push::{
    PushSubscription, PushSubscriptions, SubscribeRequest, UnsubscribeRequest, VapidPublicKey,
};

#[utoipa::path(get, path = "/push/vapid-public-key", tag = "push",
    responses((status = 200, body = VapidPublicKey), (status = 401, body = ErrorBody)))]
pub async fn vapid_public_key(
    State(state): State<AppState>,
    Auth(_who): Auth,
) -> axum::Json<VapidPublicKey> {
    axum::Json(state.services.push.vapid_public_key())
}

#[utoipa::path(post, path = "/push/subscriptions", tag = "push", request_body = SubscribeRequest,
    responses((status = 201, body = PushSubscription), (status = 200, body = PushSubscription),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn subscribe(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<SubscribeRequest>,
) -> AppResult<impl IntoResponse> {
    let (sub, created) = state.services.push.subscribe(&who.user_id, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(sub)))
}

#[utoipa::path(get, path = "/push/subscriptions", tag = "push",
    responses((status = 200, body = PushSubscriptions), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> AppResult<axum::Json<PushSubscriptions>> {
    Ok(axum::Json(PushSubscriptions {
        subscriptions: state.services.push.list(&who.user_id).await?,
    }))
}

#[utoipa::path(delete, path = "/push/subscriptions", tag = "push", request_body = UnsubscribeRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<UnsubscribeRequest>,
) -> AppResult<StatusCode> {
    state.services.push.unsubscribe(&who.user_id, req).await?;
    Ok(StatusCode::NO_CONTENT)
}
