//! `/healthz`, `/readyz` and `/metrics` (protocol.md §14).

use crate::app::AppState;
use crate::error::AppError;
use axum::extract::State;
use axum::http::StatusCode;
use parley_protocol::HealthResponse;
use serde_json::json;

pub async fn healthz() -> axum::Json<HealthResponse> {
    axum::Json(HealthResponse {
        status: "ok".into(),
        checks: json!({}),
    })
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, axum::Json<HealthResponse>) {
    let started = std::time::Instant::now();
    let db = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        state.services.storage_ready(),
    )
    .await;
    let db_ok = matches!(db, Ok(Ok(())));
    let shutting_down = state.shutdown.is_cancelled();
    let redis_ok = match &state.shared {
        Some(shared) => Some(shared.ping().await && state.fanout.healthy().unwrap_or(true)),
        None => None,
    };
    let ready = db_ok && !shutting_down && redis_ok.unwrap_or(true);
    let body = HealthResponse {
        status: if ready { "ok" } else { "unavailable" }.into(),
        checks: json!({
            "database": { "ok": db_ok, "latency_ms": started.elapsed().as_millis() as u64 },
            "redis": redis_ok.map(|ok| json!({ "ok": ok })),
            "shutting_down": shutting_down,
            "connections": state.fanout.registry().connection_count(),
        }),
    };
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        axum::Json(body),
    )
}

/// Prometheus text exposition; with `metrics_token`, only for
/// `Authorization: Bearer TOKEN`.
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), AppError> {
    if let Some(token) = &state.config.metrics_token {
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(given.as_bytes(), token.0.as_bytes()) {
            return Err(AppError::Unauthenticated(
                "a valid metrics token is required",
            ));
        }
    }
    let registry = state.fanout.registry();
    let body = crate::metrics::render(registry.connection_count(), registry.queued_frames());
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    ))
}

/// Compares digests, so the time taken says nothing about the token.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
