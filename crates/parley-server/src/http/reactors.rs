//! `GET /messages/{id}/reactions`: who reacted (docs/protocol.md deviation 44).

use super::extract::Path;
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use parley_protocol::ErrorBody;
use parley_protocol::reactors::ReactionUsersList;

#[utoipa::path(get, path = "/messages/{id}/reactions", tag = "messages", params(("id" = String, Path)),
    responses((status = 200, body = ReactionUsersList), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<ReactionUsersList>> {
    Ok(axum::Json(
        state.services.reactors.who(&who.user_id, &id).await?,
    ))
}
