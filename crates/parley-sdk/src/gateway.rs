//! One gateway (WebSocket) connection, protocol.md §6.
//!
//! [`Gateway`] is deliberately thin: it connects, waits for `ready`, sends
//! frames, pairs requests with their replies by `ref`, and hands every other
//! frame out in arrival order. It never reconnects and never reorders; that
//! is [`crate::Session`]'s job. Tests use it directly to poke at the server.

mod reader;

use crate::endpoint::BaseUrl;
use crate::error::{Error, Result};
use crate::rest::Client;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use parley_protocol::{ClientFrame, Event, Message as ChatMessage, ServerFrame, SinceMap};
use reader::{CloseInfo, Shared, WsStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header::AUTHORIZATION};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

/// Connecting, including the wait for `ready`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Waiting for the reply to one request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Waiting for the server to answer our close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest message we accept from the server. Far above the server's
/// 64 KiB limit for clients: a `conversation.added` with a big last message
/// must never kill a client.
const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// A live gateway connection.
pub struct Gateway {
    ready: ServerFrame,
    user_id: String,
    shared: Arc<Shared>,
    sink: Mutex<SplitSink<WsStream, Message>>,
    pushes: Mutex<mpsc::UnboundedReceiver<Result<ServerFrame>>>,
    stall: watch::Sender<bool>,
    reader: JoinHandle<()>,
    next_ref: AtomicU64,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("user_id", &self.user_id)
            .field("closed", &self.shared.closed())
            .finish()
    }
}

impl Gateway {
    /// POSTs for a ticket, connects to `ws://HOST/api/v1/gateway?ticket=...`
    /// and waits (10 s) for `ready`.
    pub async fn connect(client: &Client) -> Result<Gateway> {
        let ticket = client.ticket().await?;
        let url = BaseUrl::parse(client.base_url())?.gateway(Some(&ticket.ticket))?;
        Self::open(url, None).await
    }

    /// Connects with an `Authorization: Bearer <token>` header instead of a
    /// ticket (the non-browser way).
    pub async fn connect_with_bearer(base_url: &str, token: &str) -> Result<Gateway> {
        let url = BaseUrl::parse(base_url)?.gateway(None)?;
        Self::open(url, Some(token)).await
    }

    async fn open(url: url::Url, bearer: Option<&str>) -> Result<Gateway> {
        let mut request = url.as_str().into_client_request().map_err(ws_error)?;
        if let Some(token) = bearer {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| Error::Gateway(format!("token unusable in a header: {e}")))?;
            request.headers_mut().insert(AUTHORIZATION, value);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_MESSAGE_BYTES));
        let (ws, ready) = timeout(CONNECT_TIMEOUT, async {
            let (mut ws, _response) =
                tokio_tungstenite::connect_async_with_config(request, Some(config), true)
                    .await
                    .map_err(handshake_error)?;
            let ready = first_frame(&mut ws).await?;
            Ok::<_, Error>((ws, ready))
        })
        .await
        .map_err(|_| Error::Timeout)??;
        let user_id = match &ready {
            ServerFrame::Ready { user, .. } => user.id.clone(),
            _ => return Err(Error::Decode("first frame is not ready".into())),
        };
        // `ready` was read before the reader starts, so it is never a push.
        let (sink, source) = ws.split();
        let shared = Arc::new(Shared::default());
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let (stall_tx, stall_rx) = watch::channel(false);
        let reader = tokio::spawn(reader::run(source, Arc::clone(&shared), push_tx, stall_rx));
        Ok(Gateway {
            ready,
            user_id,
            shared,
            sink: Mutex::new(sink),
            pushes: Mutex::new(push_rx),
            stall: stall_tx,
            reader,
            next_ref: AtomicU64::new(1),
        })
    }

    /// The `ready` frame the server greeted us with.
    pub fn ready(&self) -> &ServerFrame {
        &self.ready
    }

    /// The authenticated user's id (from `ready`).
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// Sends any text frame as is (for malformed-input tests).
    pub async fn send_raw(&self, text: String) -> Result<()> {
        let mut sink = self.sink.lock().await;
        sink.send(Message::text(text))
            .await
            .map_err(|e| self.send_error(e))
    }

    /// Sends a frame without waiting for anything.
    pub async fn send_frame(&self, frame: &ClientFrame) -> Result<()> {
        let text = serde_json::to_string(frame)
            .map_err(|e| Error::Decode(format!("cannot encode frame: {e}")))?;
        self.send_raw(text).await
    }

    /// Sends `frame` with a fresh `ref` (replacing any it had) and waits
    /// (10 s) for the reply with that ref: `ack`, `sync.done` or `pong`. An
    /// `error` reply becomes [`Error::Api`] with the status its code maps to.
    pub async fn request(&self, frame: ClientFrame) -> Result<ServerFrame> {
        let reference = format!("sdk-{}", self.next_ref.fetch_add(1, Ordering::Relaxed));
        let frame = frame.with_reference(reference.clone());
        let reply = self.shared.register(&reference)?;
        if let Err(e) = self.send_frame(&frame).await {
            self.shared.unregister(&reference);
            return Err(e);
        }
        match timeout(REPLY_TIMEOUT, reply).await {
            Err(_) => {
                self.shared.unregister(&reference);
                Err(Error::Timeout)
            }
            Ok(Err(_)) => Err(self.shared.closed_error()),
            Ok(Ok(ServerFrame::Error { error, .. })) => Err(Error::from_gateway(error)),
            Ok(Ok(frame)) => Ok(frame),
        }
    }

    /// `message.send`; returns the message from the `ack`.
    pub async fn send_message(
        &self,
        conversation_id: &str,
        client_id: &str,
        text: &str,
    ) -> Result<ChatMessage> {
        let frame = ClientFrame::MessageSend {
            reference: None,
            conversation_id: conversation_id.to_owned(),
            client_id: client_id.to_owned(),
            text: Some(text.to_owned()),
            attachments: None,
            reply_to: None,
        };
        match self.request(frame).await? {
            ServerFrame::Ack {
                message: Some(message),
                ..
            } => Ok(message),
            other => Err(Error::Decode(format!(
                "message.send answered without a message: {other:?}"
            ))),
        }
    }

    /// `sync`; returns `sync.done.resync`. The events the server pushes
    /// before `sync.done` are already queued for [`Gateway::next_push`]
    /// when this returns.
    pub async fn sync(&self, since: SinceMap) -> Result<Vec<String>> {
        let frame = ClientFrame::Sync {
            reference: None,
            since,
        };
        match self.request(frame).await? {
            ServerFrame::SyncDone { resync, .. } => Ok(resync),
            other => Err(Error::Decode(format!(
                "sync answered with something other than sync.done: {other:?}"
            ))),
        }
    }

    /// The next frame that is not a reply to one of our requests (events,
    /// `conversation.added`, receipts, typing, presence, `error` without a
    /// ref, replies to frames sent with [`Gateway::send_raw`] ...).
    /// Queued frames are still handed out after the connection closed;
    /// then it is [`Error::Closed`]. A frame that does not decode is an
    /// [`Error::Decode`] and the next call goes on with the next frame.
    pub async fn next_push(&self, wait: Duration) -> Result<ServerFrame> {
        timeout(wait, self.recv_push())
            .await
            .map_err(|_| Error::Timeout)?
    }

    /// [`Gateway::next_push`] without a deadline (cancel-safe, for `select!`).
    pub(crate) async fn recv_push(&self) -> Result<ServerFrame> {
        let mut pushes = self.pushes.lock().await;
        match pushes.recv().await {
            Some(frame) => frame,
            None => Err(self.shared.closed_error()),
        }
    }

    /// The next `event` push, skipping other pushes.
    pub async fn next_event(&self, wait: Duration) -> Result<Event> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if let ServerFrame::Event { event } = self.next_push(left).await? {
                return Ok(event);
            }
        }
    }

    /// Stops reading from the socket (a stalled client: the TCP receive
    /// window fills up and the server's writes back up). Pushes already
    /// queued can still be taken; pings go unanswered.
    pub fn stall(&self) {
        self.stall.send_replace(true);
    }

    /// Undoes [`Gateway::stall`]: the reader drains what the kernel
    /// buffered, and sees the server's close frame if it sent one.
    pub fn resume(&self) {
        self.stall.send_replace(false);
    }

    /// Closes with 1000 and waits briefly for the server's answer.
    pub async fn close(mut self) {
        self.resume();
        {
            let mut sink = self.sink.lock().await;
            let frame = CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            };
            let _ = timeout(CLOSE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
        }
        let _ = timeout(CLOSE_TIMEOUT, &mut self.reader).await;
    }

    /// The close code once the connection is closed: the code of the
    /// server's close frame, 1005 for a close frame without a code, or 1006
    /// when the connection ended without one.
    pub fn close_code(&self) -> Option<u16> {
        self.shared.closed().map(|c| c.code)
    }

    fn send_error(&self, e: tungstenite::Error) -> Error {
        match e {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                self.shared.closed_error()
            }
            other => match self.shared.closed() {
                Some(info) => info.to_error(),
                None => Error::Gateway(other.to_string()),
            },
        }
    }
}

impl Drop for Gateway {
    /// Stops the reader; with both halves gone the socket is closed.
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads frames until the first text frame, which must be `ready`.
async fn first_frame(ws: &mut WsStream) -> Result<ServerFrame> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: ServerFrame = serde_json::from_str(text.as_str()).map_err(|e| {
                    Error::Decode(format!("first gateway frame does not decode ({e}): {text}"))
                })?;
                return match frame {
                    ServerFrame::Ready { .. } => Ok(frame),
                    ServerFrame::Error { error, .. } => Err(Error::from_gateway(error)),
                    other => Err(Error::Decode(format!(
                        "expected ready as the first frame, got {other:?}"
                    ))),
                };
            }
            Some(Ok(Message::Close(frame))) => {
                let info = match frame {
                    Some(f) => CloseInfo {
                        code: f.code.into(),
                        reason: f.reason.as_str().to_owned(),
                    },
                    None => CloseInfo {
                        code: 1005,
                        reason: String::new(),
                    },
                };
                return Err(info.to_error());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ws_error(e)),
            None => {
                return Err(Error::Closed {
                    code: reader::ABNORMAL_CLOSE,
                    reason: "closed before ready".into(),
                });
            }
        }
    }
}

fn ws_error(e: tungstenite::Error) -> Error {
    match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => Error::Closed {
            code: reader::ABNORMAL_CLOSE,
            reason: e.to_string(),
        },
        other => Error::Gateway(other.to_string()),
    }
}

/// A refused upgrade: the server answers with an HTTP status and, usually,
/// the protocol's error body (protocol.md §6.3).
fn handshake_error(e: tungstenite::Error) -> Error {
    let tungstenite::Error::Http(response) = e else {
        return ws_error(e);
    };
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok());
    let body = response.body().as_deref().unwrap_or_default();
    refused_upgrade(status, body, retry_after)
}

/// tungstenite only hands over the part of the body that came with the
/// response head, so a body that does not decode falls back to the code
/// the status stands for.
fn refused_upgrade(status: u16, body: &[u8], retry_after: Option<&str>) -> Error {
    use parley_protocol::{ApiError, ErrorCode};
    let decoded = crate::rest::decode_error(status, body, retry_after);
    if matches!(decoded, Error::Api { .. }) {
        return decoded;
    }
    let code = match status {
        400 => ErrorCode::InvalidRequest,
        401 => ErrorCode::Unauthenticated,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        429 => ErrorCode::RateLimited,
        500 => ErrorCode::Internal,
        503 => ErrorCode::Unavailable,
        _ => return Error::Gateway(format!("upgrade refused with HTTP {status}")),
    };
    Error::Api {
        status,
        error: ApiError::new(code, format!("gateway upgrade refused with HTTP {status}")),
        retry_after: retry_after.and_then(|v| v.trim().parse().ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::ErrorCode;

    #[test]
    fn request_refs_replace_any_given_ref() {
        let frame = ClientFrame::Ping {
            reference: Some("mine".into()),
        }
        .with_reference("sdk-7".into());
        assert_eq!(frame.reference(), Some("sdk-7"));
        let json = serde_json::to_string(
            &ClientFrame::Sync {
                reference: None,
                since: SinceMap::from([("c1".to_owned(), 4)]),
            }
            .with_reference("sdk-8".into()),
        )
        .expect("encodes");
        assert_eq!(json, r#"{"type":"sync","ref":"sdk-8","since":{"c1":4}}"#);
    }

    #[test]
    fn refused_upgrades_keep_the_error_body() {
        let body = br#"{"error":{"code":"unauthenticated","message":"ticket expired"}}"#;
        let e = refused_upgrade(401, body, None);
        assert_eq!(e.code(), Some(ErrorCode::Unauthenticated));
        assert!(e.to_string().contains("ticket expired"), "{e}");
    }

    #[test]
    fn refused_upgrades_without_a_body_map_the_status() {
        let e = refused_upgrade(429, b"", Some("7"));
        assert_eq!(e.code(), Some(ErrorCode::RateLimited));
        assert!(matches!(
            e,
            Error::Api {
                retry_after: Some(7),
                ..
            }
        ));
        assert!(matches!(refused_upgrade(418, b"", None), Error::Gateway(_)));
    }
}
