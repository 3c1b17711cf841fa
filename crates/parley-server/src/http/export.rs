//! Export route (protocol.md §13).

use super::extract::{Path, Query};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::AppResult;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use parley_protocol::ErrorBody;
use serde::Deserialize;

#[derive(Deserialize)]
pub struct ExportParams {
    format: Option<String>,
}

#[utoipa::path(get, path = "/conversations/{id}/export", tag = "conversations",
    params(("id" = String, Path), ("format" = Option<String>, Query, description = "json (default) or text")),
    responses((status = 200, description = "the caller's view in seq order, tombstones included, as a download: JSON {conversation, exported_at, messages} or text lines",
            content(("application/json"), ("text/plain"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ExportParams>,
) -> AppResult<Response> {
    let export = state
        .services
        .export
        .export(&who.user_id, &id, p.format.as_deref())
        .await?;
    Ok(download(export))
}

#[utoipa::path(get, path = "/admin/conversations/{id}/export", tag = "admin",
    params(("id" = String, Path), ("format" = Option<String>, Query, description = "json (default) or text")),
    responses((status = 200, description = "the whole conversation for an admin, every message from seq 1 in seq order, tombstones included, as a download: JSON {conversation, exported_at, messages} or text lines",
            content(("application/json"), ("text/plain"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn compliance(
    State(state): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
    Query(p): Query<ExportParams>,
) -> AppResult<Response> {
    let export = state
        .services
        .export
        .compliance_export(&who, &id, p.format.as_deref())
        .await?;
    Ok(download(export))
}

/// The streamed body as a download.
fn download(export: crate::services::export::Export) -> Response {
    let disposition = format!(
        "attachment; filename=\"{}\"",
        export.format.file_name(&export.conversation_id)
    );
    let mut resp = Body::from_stream(export.body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(export.format.content_type()),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
