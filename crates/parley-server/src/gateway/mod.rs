//! The WebSocket gateway (protocol.md §6, §8).
//!
//! - [`upgrade`]: Origin check, ticket or Bearer authentication, the
//!   connection cap, socket limits.
//! - `connection`: the reader loop: parses frames, runs requests, replies.
//! - `writer`: the one task that writes to the socket: replies and pushes
//!   from the connection's bounded queue, per-conversation seq order,
//!   `sync` catch-up, heartbeats and close codes.

mod connection;
mod frames;
mod writer;

use crate::app::AppState;
use crate::auth::{Principal, bearer};
use crate::error::{AppError, AppResult};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use parley_protocol::{ErrorBody, TicketResponse};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct GatewayParams {
    ticket: Option<String>,
}

#[utoipa::path(post, path = "/gateway/ticket", tag = "gateway",
    responses((status = 200, body = TicketResponse), (status = 401, body = ErrorBody)))]
pub async fn ticket(
    State(state): State<AppState>,
    crate::auth::Auth(who): crate::auth::Auth,
) -> AppResult<axum::Json<TicketResponse>> {
    Ok(axum::Json(state.services.accounts.ticket(&who)?))
}

/// Browsers send `Origin`; a cross-origin upgrade is refused unless the
/// origin is our own or listed in `allowed_origins`. Non-browser clients
/// send none and are judged by their credentials alone.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if state
        .config
        .allowed_origins
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/') == origin)
    {
        return true;
    }
    if let Some(public) = &state.config.public_url
        && let Ok(u) = url::Url::parse(public)
        && u.origin().ascii_serialization() == origin
    {
        return true;
    }
    // Same origin: the Origin's host:port is the Host we were reached at.
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match (url::Url::parse(origin), host) {
        (Ok(o), Some(host)) => {
            let o_host = match (o.host_str(), o.port_or_known_default()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                _ => return false,
            };
            let default_port = if o.scheme() == "https" { 443 } else { 80 };
            let host_with_port = if host.contains(':') && !host.ends_with(']') {
                host.to_string()
            } else {
                format!("{host}:{default_port}")
            };
            o_host.eq_ignore_ascii_case(&host_with_port)
        }
        _ => false,
    }
}

pub async fn upgrade(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    match authorize(&state, &mut parts).await {
        Ok((who, ws)) => {
            let Ok(permit) = state.connection_permits.clone().try_acquire_owned() else {
                return AppError::Unavailable("connection limit reached".into()).into_response();
            };
            let frame = parley_protocol::limits::MAX_FRAME_BYTES;
            ws.max_message_size(frame)
                .max_frame_size(frame)
                // Small buffers: tungstenite's 128 KiB defaults would cost
                // 256 KiB per idle connection. Frames are queued by us.
                // Client frames are mostly a few hundred bytes; bigger
                // ones grow the buffer to their size (W1: 13.7 -> 10.6 KiB
                // per connection going from 4 KiB to 1 KiB here, 8.4 ->
                // 7.9 KiB going to 512 bytes).
                .read_buffer_size(512)
                // Frames are fed and flushed when the queue runs dry; up to
                // 4 KiB of them are gathered into one write.
                .write_buffer_size(4096)
                .max_write_buffer_size(256 * 1024)
                .on_upgrade(move |socket| connection::run(state, who, socket, permit))
        }
        Err(e) => e.into_response(),
    }
}

async fn authorize(
    state: &AppState,
    parts: &mut Parts,
) -> AppResult<(Principal, WebSocketUpgrade)> {
    if !origin_allowed(state, &parts.headers) {
        return Err(AppError::Forbidden(
            "cross-origin gateway connections are not allowed from this origin".into(),
        ));
    }
    // The upgrade is checked before the ticket is redeemed, so that a plain
    // GET cannot use a ticket up.
    let ws = WebSocketUpgrade::from_request_parts(parts, state).await;
    let params = axum::extract::Query::<GatewayParams>::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::invalid("ticket", "invalid query"))?;
    let who = match (&params.ticket, bearer(parts)) {
        (Some(t), _) => state
            .services
            .accounts
            .redeem_ticket(t, ws.is_ok())
            .await
            .ok_or(AppError::Unauthenticated("invalid, expired or used ticket"))?,
        (None, Some(token)) => state.services.accounts.authenticate(token).await?,
        (None, None) => {
            return Err(AppError::Unauthenticated(
                "a ticket or Bearer token is required",
            ));
        }
    };
    let ws =
        ws.map_err(|_| AppError::invalid("upgrade", "expected a WebSocket upgrade request"))?;
    Ok((who, ws))
}
