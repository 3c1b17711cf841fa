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
use crate::net::ConnSlot;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use parley_protocol::{ErrorBody, TicketResponse};
use serde::Deserialize;
use std::sync::Arc;

/// What a client refused for having too many connections is told to wait
/// (`retry_after_ms`): one of its connections must close first, so this is
/// a polite pace for retries rather than a promise.
const USER_CAP_RETRY_MS: u64 = 5_000;

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
/// send none and are judged by their credentials alone. Origins are
/// compared whole: scheme, host and port (`https://host` is not
/// `http://host`, nor `https://host:8443`).
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    // An opaque origin (`null`, a sandboxed frame) is nobody's.
    let Some(origin) = url::Url::parse(origin)
        .ok()
        .map(|u| u.origin())
        .filter(|o| o.is_tuple())
    else {
        return false;
    };
    let same = |other: &str| url::Url::parse(other).is_ok_and(|u| u.origin() == origin);
    if state
        .config
        .allowed_origins
        .iter()
        .any(|a| a == "*" || same(a))
    {
        return true;
    }
    if let Some(public) = &state.config.public_url {
        return same(public);
    }
    // No public URL: our own origin is the Host we were reached at, over
    // plain http (this server does not terminate TLS; behind a proxy that
    // does, set `public_url`).
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| same(&format!("http://{host}")))
}

pub async fn upgrade(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    // The TCP connection's place (net::ConnSlot) stays taken while the
    // upgraded connection lives.
    let tcp_slot = parts.extensions.get::<Arc<ConnSlot>>().cloned();
    match authorize(&state, &mut parts).await {
        Ok((who, ws)) => {
            let Some(user_slot) = state.user_connections.try_take(who.user_id.clone()) else {
                return AppError::RateLimited {
                    retry_after_ms: USER_CAP_RETRY_MS,
                }
                .into_response();
            };
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
                // Split here, in a plain closure, so that the connection's
                // future holds the two halves, not the whole socket moved
                // out of its own state (W1 memory per connection).
                .on_upgrade(move |socket| {
                    let (sink, stream) = socket.split();
                    let places = connection::Places {
                        _permit: permit,
                        _tcp: tcp_slot,
                        _user: user_slot,
                    };
                    connection::run(state, who, sink, stream, places)
                })
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
