//! One gateway connection: register, greet, read and answer frames.

use super::writer::{self, WriterCtx};
use crate::app::AppState;
use crate::auth::Principal;
use crate::error::AppError;
use crate::fanout::{ConnHandle, Outbound};
use crate::http::extract::parse_json;
use crate::net::ConnSlot;
use crate::net::slots::Slot;
use crate::ratelimit::Action;
use axum::extract::ws::{Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::{SplitSink, SplitStream};
use parley_protocol::gateway::close_code;
use parley_protocol::{ClientFrame, ServerFrame, Timestamp};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::OwnedSemaphorePermit;

/// Malformed frames tolerated on one connection before it is closed (4400),
/// whether or not rate limits are on: a protocol error is not a rate limit.
const MAX_STRIKES: u32 = 20;

/// A gateway connection's places under the connection caps, held while it
/// lives.
pub struct Places {
    pub _permit: OwnedSemaphorePermit,
    /// The TCP connection's place (net::ConnSlot) stays taken too.
    pub _tcp: Option<Arc<ConnSlot>>,
    pub _user: Slot<String>,
}

pub async fn run(
    state: AppState,
    who: Principal,
    sink: SplitSink<WebSocket, WsMessage>,
    mut stream: SplitStream<WebSocket>,
    _places: Places,
) {
    // Boxed, like the frame handling below: this function's future lives
    // as long as the connection, and everything the greeting borrows would
    // stay in it (W1 memory per connection).
    let Some((handle, ready)) = Box::pin(greet(&state, &who.user_id)).await else {
        return;
    };
    let last_heard = Arc::new(AtomicI64::new(Timestamp::now().millis()));
    let mut writer_task = tokio::spawn(writer::run(WriterCtx {
        state: state.clone(),
        user_id: who.user_id.clone(),
        handle: handle.clone(),
        sink,
        ready,
        last_heard: last_heard.clone(),
    }));
    let shutdown = state.shutdown.clone();
    let mut strikes = 0u32;
    // Frames over the connection's budget are refused before they are
    // parsed; a connection that keeps sending them is closed with 4029.
    let budget = state
        .config
        .rate_limits
        .then(|| crate::ratelimit::memory::frame_budget(&state.config.rates));
    let max_refused = state
        .config
        .rates
        .get(Action::Frames)
        .burst
        .saturating_mul(2);
    let mut refused = 0u32;
    loop {
        tokio::select! {
            next = stream.next() => {
                let Some(msg) = next else { break };
                last_heard.store(Timestamp::now().millis(), Ordering::Relaxed);
                match msg {
                    Ok(WsMessage::Text(text)) => {
                        if let Some(b) = &budget
                            && let Err(not_until) = b.check()
                        {
                            let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
                            refused += 1;
                            refuse_frame(&handle, text.as_str(), wait);
                            if refused >= max_refused {
                                handle.close(close_code::RATE_LIMITED);
                                break;
                            }
                            continue;
                        }
                        // Boxed: the request handling future is large and
                        // only lives while a frame is handled, while this
                        // loop's future lives as long as the connection.
                        if !Box::pin(handle_frame(&state, &who, &handle, text.as_str())).await {
                            strikes += 1;
                            if strikes >= MAX_STRIKES {
                                handle.close(close_code::PROTOCOL_ERROR);
                                break;
                            }
                        }
                    }
                    Ok(WsMessage::Binary(_)) => {
                        reply_error(&handle, None, &AppError::Invalid { field: None, message: "binary frames are not part of the protocol".into() });
                        strikes += 1;
                        if strikes >= MAX_STRIKES {
                            handle.close(close_code::PROTOCOL_ERROR);
                            break;
                        }
                    }
                    Ok(WsMessage::Close(_)) => break,
                    Ok(_) => {} // ping/pong: liveness already noted
                    Err(e) => {
                        let text = e.to_string();
                        if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
                            handle.close(close_code::FRAME_TOO_LARGE);
                        }
                        break;
                    }
                }
            }
            _ = &mut writer_task => {
                state.fanout.registry().unregister(&handle);
                state.services.presence.disconnected(&who.user_id, handle.id);
                return;
            }
            _ = shutdown.cancelled() => {
                handle.close(close_code::GOING_AWAY);
                break;
            }
        }
    }
    state.fanout.registry().unregister(&handle);
    state
        .services
        .presence
        .disconnected(&who.user_id, handle.id);
    handle.close(1000);
    // Let the writer send its close frame, but never wait on a dead peer.
    if tokio::time::timeout(std::time::Duration::from_secs(2), &mut writer_task)
        .await
        .is_err()
    {
        writer_task.abort();
    }
}

/// Registers the connection and builds its `ready` frame.
async fn greet(state: &AppState, user_id: &str) -> Option<(Arc<ConnHandle>, Bytes)> {
    let mut user = match state.services.users.profile(user_id).await {
        Ok(Some(u)) => u,
        _ => return None,
    };
    // Register before `ready`: every event committed from here on reaches
    // this connection's queue; older ones come through `sync`.
    let handle = state
        .fanout
        .registry()
        .register(user_id, state.config.limits.outbound_queue);
    state.services.presence.connected(user_id, handle.id);
    state.services.presence.present(&mut user, &[]).await;
    let ready = ServerFrame::Ready {
        session_id: crate::ids::new_id(),
        user,
        heartbeat_ms: state.config.heartbeat_ms,
        server_time: Timestamp::now(),
    };
    match serde_json::to_vec(&ready) {
        Ok(bytes) => Some((handle, bytes.into())),
        Err(e) => {
            tracing::error!(error = %e, "serializing ready");
            state.fanout.registry().unregister(&handle);
            state.services.presence.disconnected(user_id, handle.id);
            None
        }
    }
}

pub(super) fn reply(handle: &ConnHandle, frame: &ServerFrame) {
    match serde_json::to_vec(frame) {
        Ok(bytes) => {
            handle.push(Outbound::Frame(Arc::new(bytes.into())));
        }
        Err(e) => tracing::error!(error = %e, "serializing a reply"),
    }
}

/// A frame over the connection's budget: `rate_limited` to its `ref`, if
/// it has a readable one; silence otherwise (protocol.md §11).
fn refuse_frame(handle: &ConnHandle, text: &str, wait: std::time::Duration) {
    crate::metrics::rate_limited(Action::Frames);
    #[derive(serde::Deserialize)]
    struct Ref {
        #[serde(rename = "ref")]
        reference: Option<String>,
    }
    let Ok(Ref {
        reference: Some(reference),
    }) = serde_json::from_str::<Ref>(text)
    else {
        return;
    };
    if reference.chars().count() > parley_protocol::limits::MAX_REF_CHARS {
        return;
    }
    reply_error(handle, Some(reference), &AppError::rate_limited(wait));
}

fn reply_error(handle: &ConnHandle, reference: Option<String>, e: &AppError) {
    reply(
        handle,
        &ServerFrame::Error {
            reference,
            error: e.to_api(),
        },
    );
}

pub(super) fn ack(handle: &ConnHandle, reference: Option<String>) {
    if let Some(r) = reference {
        reply(handle, &ServerFrame::ack(r));
    }
}

/// Handles one text frame. Returns false for a malformed frame.
async fn handle_frame(
    state: &AppState,
    who: &Principal,
    handle: &Arc<ConnHandle>,
    text: &str,
) -> bool {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => {
            reply_error(
                handle,
                None,
                &AppError::Invalid {
                    field: None,
                    message: "a frame must be one JSON object".into(),
                },
            );
            return false;
        }
    };
    let reference = match value.get("ref") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(r))
            if r.chars().count() <= parley_protocol::limits::MAX_REF_CHARS =>
        {
            Some(r.clone())
        }
        Some(_) => {
            reply_error(
                handle,
                None,
                &AppError::invalid("ref", "ref must be a string of at most 64 characters"),
            );
            return false;
        }
    };
    let frame: ClientFrame = match parse_json(text.as_bytes()) {
        Ok(f) => f,
        Err(e) => {
            let e = match (value.get("type").and_then(|t| t.as_str()), e) {
                (None, _) => AppError::invalid("type", "type is required"),
                (
                    Some(_),
                    AppError::Invalid {
                        field: None,
                        message,
                    },
                ) => AppError::Invalid {
                    field: mistyped_field(&value),
                    message,
                },
                (Some(_), e) => e,
            };
            reply_error(handle, reference, &e);
            return false;
        }
    };
    match super::frames::dispatch(state, who, handle, frame, reference.clone()).await {
        Ok(()) => {}
        // A limited request without a `ref` is dropped silently (§11).
        Err(AppError::RateLimited { .. }) if reference.is_none() => {}
        Err(e) => reply_error(handle, reference, &e),
    }
    true
}

/// Frames are a tagged enum, so serde's error loses the field's name; find
/// the first field whose JSON type is not what any frame carries under that
/// name.
fn mistyped_field(frame: &serde_json::Value) -> Option<String> {
    use serde_json::Value as V;
    let obj = frame.as_object()?;
    obj.iter().find_map(|(k, v)| {
        let ok = match k.as_str() {
            "type" | "ref" | "conversation_id" | "client_id" | "state" => v.is_string(),
            "text" | "reply_to" => v.is_string() || v.is_null(),
            "attachments" => matches!(v, V::Array(a) if a.iter().all(V::is_string)) || v.is_null(),
            "seq" => v.is_i64() || v.is_u64(),
            "since" => matches!(v, V::Object(m) if m.values().all(|s| s.is_i64() || s.is_u64())),
            _ => false,
        };
        (!ok).then(|| k.clone())
    })
}
