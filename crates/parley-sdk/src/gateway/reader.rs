//! The gateway's reader task and the state it shares with [`super::Gateway`].
//!
//! One task owns the socket's read half. Replies (`ack`, `error`,
//! `sync.done`, `pong` carrying a `ref` that someone is waiting for) go to
//! that waiter; everything else - pushes, and replies nobody asked for
//! through [`super::Gateway::request`] - goes to the push queue in arrival
//! order. Keeping a single reader is what preserves the server's ordering:
//! a `sync.done` is routed only after every event pushed before it has been
//! queued.

use crate::error::{Error, Result};
use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use parley_protocol::ServerFrame;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(super) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;
pub(super) type PushSender = mpsc::UnboundedSender<Result<ServerFrame>>;

/// The code we report when the connection ended without a close frame
/// (RFC 6455's "abnormal closure", never sent on the wire).
pub(super) const ABNORMAL_CLOSE: u16 = 1006;

/// How long the reader keeps reading after a close frame, so that
/// tungstenite can answer the closing handshake.
const LINGER: Duration = Duration::from_secs(2);

/// Why the connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CloseInfo {
    pub(super) code: u16,
    pub(super) reason: String,
}

impl CloseInfo {
    fn abnormal(reason: impl Into<String>) -> CloseInfo {
        CloseInfo {
            code: ABNORMAL_CLOSE,
            reason: reason.into(),
        }
    }

    pub(super) fn to_error(&self) -> Error {
        Error::Closed {
            code: self.code,
            reason: self.reason.clone(),
        }
    }
}

/// State shared by the reader task and the [`super::Gateway`] handle. One
/// lock for both fields, so that a request can never register a waiter
/// after the reader has given up on the connection (it would wait forever).
#[derive(Default)]
pub(super) struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiters: HashMap<String, oneshot::Sender<ServerFrame>>,
    closed: Option<CloseInfo>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a waiter for the reply carrying `reference`.
    pub(super) fn register(&self, reference: &str) -> Result<oneshot::Receiver<ServerFrame>> {
        let mut state = self.lock();
        if let Some(info) = &state.closed {
            return Err(info.to_error());
        }
        let (tx, rx) = oneshot::channel();
        state.waiters.insert(reference.to_owned(), tx);
        Ok(rx)
    }

    /// Forgets a waiter that gave up (timeout, failed send).
    pub(super) fn unregister(&self, reference: &str) {
        self.lock().waiters.remove(reference);
    }

    fn take_waiter(&self, reference: &str) -> Option<oneshot::Sender<ServerFrame>> {
        self.lock().waiters.remove(reference)
    }

    /// Marks the connection closed (first reason wins) and fails every
    /// pending request by dropping its sender.
    pub(super) fn finish(&self, info: CloseInfo) {
        let mut state = self.lock();
        state.closed.get_or_insert(info);
        state.waiters.clear();
    }

    pub(super) fn closed(&self) -> Option<CloseInfo> {
        self.lock().closed.clone()
    }

    /// The error to report for a connection that is (or just went) away.
    pub(super) fn closed_error(&self) -> Error {
        self.closed()
            .unwrap_or_else(|| CloseInfo::abnormal("connection lost"))
            .to_error()
    }
}

/// The `ref` of a frame that answers a request, if it is one.
fn reply_ref(frame: &ServerFrame) -> Option<&str> {
    match frame {
        ServerFrame::Ack { reference, .. } => Some(reference),
        ServerFrame::Error {
            reference: Some(r), ..
        }
        | ServerFrame::SyncDone {
            reference: Some(r), ..
        }
        | ServerFrame::Pong { reference: Some(r) } => Some(r),
        _ => None,
    }
}

/// Routes one text frame: to its waiter, or to the push queue. A frame that
/// does not decode is queued as an [`Error::Decode`], so that protocol
/// violations surface in `next_push` instead of vanishing.
pub(super) fn dispatch(shared: &Shared, pushes: &PushSender, text: &str) {
    let frame = match serde_json::from_str::<ServerFrame>(text) {
        Ok(frame) => frame,
        Err(e) => {
            let mut shown: String = text.chars().take(300).collect();
            if shown.len() < text.len() {
                shown.push_str("...");
            }
            let _ = pushes.send(Err(Error::Decode(format!(
                "undecodable gateway frame ({e}): {shown}"
            ))));
            return;
        }
    };
    let waiter = reply_ref(&frame).and_then(|r| shared.take_waiter(r));
    match waiter {
        // A waiter that timed out meanwhile dropped its receiver; the reply
        // is then as good as lost, like any late reply.
        Some(waiter) => {
            let _ = waiter.send(frame);
        }
        None => {
            let _ = pushes.send(Ok(frame));
        }
    }
}

/// The reader task: pumps frames until the connection ends, then records
/// why, fails pending requests and closes the push queue.
pub(super) async fn run(
    mut source: SplitStream<WsStream>,
    shared: std::sync::Arc<Shared>,
    pushes: PushSender,
    mut stall: watch::Receiver<bool>,
) {
    let info = pump(&mut source, &shared, &pushes, &mut stall).await;
    tracing::debug!(code = info.code, reason = %info.reason, "gateway connection ended");
    shared.finish(info);
    drop(pushes);
    let _ = tokio::time::timeout(LINGER, async { while source.next().await.is_some() {} }).await;
}

async fn pump(
    source: &mut SplitStream<WsStream>,
    shared: &Shared,
    pushes: &PushSender,
    stall: &mut watch::Receiver<bool>,
) -> CloseInfo {
    loop {
        // While stalled, do not touch the socket at all: the kernel buffers
        // fill up and the server sees a client that stopped reading.
        if stall.wait_for(|stalled| !*stalled).await.is_err() {
            return CloseInfo::abnormal("gateway handle dropped");
        }
        let next = tokio::select! {
            biased;
            changed = stall.changed() => {
                if changed.is_err() {
                    return CloseInfo::abnormal("gateway handle dropped");
                }
                continue;
            }
            next = source.next() => next,
        };
        match next {
            Some(Ok(Message::Text(text))) => dispatch(shared, pushes, text.as_str()),
            Some(Ok(Message::Close(frame))) => {
                return match frame {
                    Some(frame) => CloseInfo {
                        code: frame.code.into(),
                        reason: frame.reason.as_str().to_owned(),
                    },
                    None => CloseInfo {
                        code: 1005,
                        reason: "close frame without a code".into(),
                    },
                };
            }
            Some(Ok(Message::Binary(_))) => {
                let _ = pushes.send(Err(Error::Decode(
                    "binary gateway frame (the protocol uses text frames)".into(),
                )));
            }
            // Pings are answered by tungstenite itself on the next read.
            Some(Ok(_)) => {}
            Some(Err(e)) => return CloseInfo::abnormal(e.to_string()),
            None => return CloseInfo::abnormal("connection closed without a close frame"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (
        Shared,
        PushSender,
        mpsc::UnboundedReceiver<Result<ServerFrame>>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Shared::default(), tx, rx)
    }

    #[test]
    fn replies_go_to_their_waiter() {
        let (shared, tx, mut rx) = setup();
        let mut waiter = shared.register("r1").expect("open");
        dispatch(&shared, &tx, r#"{"type":"pong","ref":"r1"}"#);
        assert!(matches!(
            waiter.try_recv(),
            Ok(ServerFrame::Pong { reference: Some(r) }) if r == "r1"
        ));
        assert!(rx.try_recv().is_err(), "nothing pushed");
    }

    #[test]
    fn unclaimed_replies_and_pushes_are_queued_in_order() {
        let (shared, tx, mut rx) = setup();
        dispatch(&shared, &tx, r#"{"type":"ack","ref":"nobody"}"#);
        dispatch(
            &shared,
            &tx,
            r#"{"type":"typing","conversation_id":"c","user_id":"u","typing":true}"#,
        );
        dispatch(
            &shared,
            &tx,
            r#"{"type":"error","error":{"code":"invalid_request","message":"bad"}}"#,
        );
        assert!(matches!(rx.try_recv(), Ok(Ok(ServerFrame::Ack { .. }))));
        assert!(matches!(rx.try_recv(), Ok(Ok(ServerFrame::Typing { .. }))));
        assert!(matches!(
            rx.try_recv(),
            Ok(Ok(ServerFrame::Error {
                reference: None,
                ..
            }))
        ));
    }

    #[test]
    fn undecodable_frames_surface_as_decode_errors() {
        let (shared, tx, mut rx) = setup();
        dispatch(&shared, &tx, r#"{"type":"mystery"}"#);
        assert!(matches!(rx.try_recv(), Ok(Err(Error::Decode(_)))));
    }

    #[test]
    fn finishing_fails_waiters_and_refuses_new_ones() {
        let shared = Shared::default();
        let mut waiter = shared.register("r1").expect("open");
        shared.finish(CloseInfo {
            code: 4008,
            reason: "too slow".into(),
        });
        assert!(matches!(
            waiter.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        assert!(matches!(
            shared.register("r2"),
            Err(Error::Closed { code: 4008, .. })
        ));
        // The first reason wins.
        shared.finish(CloseInfo::abnormal("later"));
        assert_eq!(shared.closed().map(|c| c.code), Some(4008));
    }
}
