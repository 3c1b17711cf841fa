//! `/webhooks` (protocol.md §12, "Webhooks (admin)"): admin only.

use super::cursor;
use super::extract::{Json, Path, Query, page_limit};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parley_protocol::ErrorBody;
use parley_protocol::webhooks::{
    CreateWebhook, DeliveryPage, UpdateWebhook, Webhook, WebhookCreated, WebhookPage,
};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct PageParams {
    cursor: Option<String>,
    limit: Option<String>,
}

#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = CreateWebhook,
    responses((status = 201, body = WebhookCreated), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Auth(who): Auth,
    Json(req): Json<CreateWebhook>,
) -> AppResult<impl IntoResponse> {
    let created = state.services.webhooks.create(&who, req).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[utoipa::path(get, path = "/webhooks", tag = "webhooks",
    params(("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = WebhookPage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(who): Auth,
    Query(p): Query<PageParams>,
) -> AppResult<axum::Json<WebhookPage>> {
    parley_domain::moderation::require_admin(who.role)?;
    let limit = page_limit(p.limit.as_deref())?;
    let after = cursor::decode_key(p.cursor.as_deref())?;
    let mut webhooks = state.services.webhooks.list(&who, after, limit + 1).await?;
    let more = webhooks.len() > limit as usize;
    webhooks.truncate(limit as usize);
    let next_cursor = more
        .then(|| webhooks.last().map(|w| cursor::encode_key(&w.id)))
        .flatten();
    Ok(axum::Json(WebhookPage {
        webhooks,
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 200, body = Webhook), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<axum::Json<Webhook>> {
    Ok(axum::Json(state.services.webhooks.get(&who, &id).await?))
}

#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    request_body = UpdateWebhook,
    responses((status = 200, body = Webhook), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateWebhook>,
) -> AppResult<axum::Json<Webhook>> {
    Ok(axum::Json(
        state.services.webhooks.update(&who, &id, req).await?,
    ))
}

#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204, description = "deleted, pending deliveries included"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> AppResult<StatusCode> {
    state.services.webhooks.delete(&who, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 200)),
    responses((status = 200, body = DeliveryPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<PageParams>,
) -> AppResult<axum::Json<DeliveryPage>> {
    parley_domain::moderation::require_admin(who.role)?;
    let limit = page_limit(p.limit.as_deref())?;
    let before = cursor::decode_keyset(p.cursor.as_deref())?;
    let mut deliveries = state
        .services
        .webhooks
        .deliveries(&who, &id, before, limit + 1)
        .await?;
    let more = deliveries.len() > limit as usize;
    deliveries.truncate(limit as usize);
    let next_cursor = more
        .then(|| {
            deliveries
                .last()
                .map(|d| cursor::encode_keyset(d.created_at.millis(), &d.id))
        })
        .flatten();
    Ok(axum::Json(DeliveryPage {
        deliveries,
        next_cursor,
    }))
}
