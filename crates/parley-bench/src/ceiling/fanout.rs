//! The delivery ceiling: a minimal WebSocket fan-out server on the same
//! runtime (tokio + tungstenite), in the bench process. No storage, no
//! auth, no ordering beyond one counter per conversation. It speaks just
//! enough of the gateway for the bench's own connections: `ready` on
//! connect (the user id is the Bearer credential), `sync` subscribes the
//! connection to the conversations listed, `message.send` is acked and the
//! event goes to every subscribed connection, serialized once.

use futures_util::{SinkExt as _, StreamExt as _};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type Outbox = mpsc::UnboundedSender<Message>;

#[derive(Default)]
struct Topic {
    seq: u64,
    members: Vec<Outbox>,
}

#[derive(Default)]
struct State {
    topics: Mutex<HashMap<String, Topic>>,
}

/// A running fan-out server; stops when dropped.
pub struct FanoutServer {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FanoutServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FanoutServer {
    pub async fn start() -> anyhow::Result<FanoutServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(State::default());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        Ok(FanoutServer { url, task })
    }
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "ref", default)]
    reference: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    since: HashMap<String, u64>,
}

async fn serve(stream: tokio::net::TcpStream, state: Arc<State>) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut user = String::new();
    // The callback's error type is tungstenite's (large) HTTP response.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| {
        user = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("anonymous")
            .to_owned();
        Ok(resp)
    };
    // Small buffers, as a dense server would keep them.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut ws =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await?;
    let ready = serde_json::json!({"type": "ready", "session_id": "s", "user": {"id": user},
        "heartbeat_ms": 25000, "server_time": "1970-01-01T00:00:00.000Z"});
    ws.send(Message::text(ready.to_string())).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(frame) = serde_json::from_str::<Incoming>(text.as_str()) {
                        handle(frame, &user, &tx, &state);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            Some(out) = rx.recv() => ws.send(out).await?,
        }
    }
    Ok(())
}

fn handle(frame: Incoming, user: &str, me: &Outbox, state: &State) {
    let reference = frame.reference.unwrap_or_default();
    match frame.kind.as_str() {
        "sync" => {
            let mut topics = state.topics.lock().unwrap_or_else(PoisonError::into_inner);
            for conv in frame.since.keys() {
                topics
                    .entry(conv.clone())
                    .or_default()
                    .members
                    .push(me.clone());
            }
            let done = serde_json::json!({"type": "sync.done", "ref": reference, "resync": []});
            let _ = me.send(Message::text(done.to_string()));
        }
        "message.send" => {
            let conv = frame.conversation_id.unwrap_or_default();
            let mut topics = state.topics.lock().unwrap_or_else(PoisonError::into_inner);
            let topic = topics.entry(conv.clone()).or_default();
            topic.seq += 1;
            let seq = topic.seq;
            let ack = serde_json::json!({"type": "ack", "ref": reference,
                "message": {"seq": seq, "sender_id": user}});
            let _ = me.send(Message::text(ack.to_string()));
            let event = serde_json::json!({"type": "event", "event": {"conversation_id": conv,
                "seq": seq, "type": "message.created", "data": {"message": {"seq": seq,
                "sender_id": user, "text": frame.text}}}});
            // Serialized once; every recipient shares the same bytes.
            let event = Message::text(event.to_string());
            topic.members.retain(|m| m.send(event.clone()).is_ok());
        }
        _ => {
            let err = serde_json::json!({"type": "error", "ref": reference,
                "error": {"code": "invalid_request", "message": "not supported here"}});
            let _ = me.send(Message::text(err.to_string()));
        }
    }
}
