//! `/users/me/notifications` (protocol.md §12).

use super::extract::Json;
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use parley_protocol::ErrorBody;
use parley_protocol::notifications::{NotificationPrefs, NotificationPrefsPatch};

#[utoipa::path(get, path = "/users/me/notifications", tag = "notifications",
    responses((status = 200, body = NotificationPrefs)))]
pub async fn prefs(
    State(state): State<AppState>,
    Auth(who): Auth,
) -> AppResult<axum::Json<NotificationPrefs>> {
    Ok(axum::Json(
        state.services.notifications.prefs(&who.user_id).await?,
    ))
}

#[utoipa::path(patch, path = "/users/me/notifications", tag = "notifications",
    request_body = NotificationPrefsPatch,
    responses((status = 200, body = NotificationPrefs), (status = 400, body = ErrorBody)))]
pub async fn update_prefs(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(patch): Json<NotificationPrefsPatch>,
) -> AppResult<axum::Json<NotificationPrefs>> {
    Ok(axum::Json(
        state
            .services
            .notifications
            .update_prefs(&who.user_id, patch)
            .await?,
    ))
}
