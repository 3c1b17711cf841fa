//! A scripted stand-in for the Parley server, just enough to exercise the
//! SDK's gateway and session code over real sockets: `POST
//! /api/v1/gateway/ticket`, `GET /api/v1/conversations/{id}/events`, and the
//! WebSocket upgrade, whose connections the test drives frame by frame.

#![allow(dead_code, clippy::unwrap_used)]
// tungstenite's handshake callback type has a large `Err`; not ours to shrink.
#![allow(clippy::result_large_err)]

use futures_util::{SinkExt, StreamExt};
use parley_protocol::events::{EventData, MessageDeleted};
use parley_protocol::{Event, Presence, Role, ServerFrame, Timestamp, User, gateway::ClientFrame};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const WAIT: Duration = Duration::from_secs(5);

pub fn event(conv: &str, seq: u64) -> Event {
    Event {
        conversation_id: conv.to_owned(),
        seq,
        actor_id: Some("u2".to_owned()),
        at: Timestamp(1_795_000_000_000),
        data: EventData::MessageDeleted(MessageDeleted {
            message_id: format!("m{seq}"),
            seq,
        }),
    }
}

fn user() -> User {
    User {
        id: "u1".into(),
        username: "alice".into(),
        display_name: "Alice".into(),
        avatar_url: None,
        about: None,
        role: Role::User,
        presence: Presence::offline(),
    }
}

/// Conversation id -> its event log, as served by the events endpoint.
pub type Logs = Arc<Mutex<HashMap<String, Vec<Event>>>>;

pub struct Fake {
    pub base: String,
    pub logs: Logs,
    /// Query strings of the events requests served, in order.
    pub event_queries: Arc<Mutex<Vec<String>>>,
    conns: mpsc::UnboundedReceiver<Conn>,
}

/// One accepted gateway connection (`ready` already sent).
pub struct Conn {
    pub ws: WebSocketStream<TcpStream>,
    pub uri: String,
    pub authorization: Option<String>,
}

impl Fake {
    pub async fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let logs: Logs = Arc::default();
        let event_queries = Arc::new(Mutex::new(Vec::new()));
        let (tx, conns) = mpsc::unbounded_channel();
        let state = (Arc::clone(&logs), Arc::clone(&event_queries));
        tokio::spawn(async move {
            let mut tickets = 0u64;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tickets += 1;
                let tx = tx.clone();
                let state = state.clone();
                tokio::spawn(serve(stream, tx, state, tickets));
            }
        });
        Fake {
            base,
            logs,
            event_queries,
            conns,
        }
    }

    pub fn append(&self, conv: &str, seqs: impl IntoIterator<Item = u64>) {
        let mut logs = self.logs.lock().unwrap();
        let log = logs.entry(conv.to_owned()).or_default();
        for seq in seqs {
            log.push(event(conv, seq));
        }
    }

    pub async fn next_conn(&mut self) -> Conn {
        tokio::time::timeout(WAIT, self.conns.recv())
            .await
            .expect("a gateway connection")
            .expect("fake server alive")
    }
}

async fn serve(
    stream: TcpStream,
    conns: mpsc::UnboundedSender<Conn>,
    (logs, queries): (Logs, Arc<Mutex<Vec<String>>>),
    ticket_no: u64,
) {
    // Peek at the request head to decide between HTTP and a WebSocket.
    let mut buf = vec![0u8; 8192];
    let head = loop {
        let n = stream.peek(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        if let Some(end) = find(&buf[..n], b"\r\n\r\n") {
            break String::from_utf8_lossy(&buf[..end]).into_owned();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut first = head.lines().next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("").to_owned();
    if target.starts_with("/api/v1/gateway?") || target == "/api/v1/gateway" {
        upgrade(stream, conns).await;
    } else {
        http(stream, &method, &target, &logs, &queries, ticket_no).await;
    }
}

async fn upgrade(stream: TcpStream, conns: mpsc::UnboundedSender<Conn>) {
    let mut uri = String::new();
    let mut authorization = None;
    let callback = |req: &Request, resp: Response| {
        uri = req.uri().to_string();
        authorization = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if authorization.as_deref() == Some("Bearer bad") {
            let body = r#"{"error":{"code":"unauthenticated","message":"bad token","details":{}}}"#;
            let mut refused = ErrorResponse::new(Some(body.to_owned()));
            *refused.status_mut() = StatusCode::UNAUTHORIZED;
            return Err(refused);
        }
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let ready = ServerFrame::Ready {
        session_id: "s1".into(),
        user: user(),
        heartbeat_ms: 25_000,
        server_time: Timestamp::now(),
    };
    let text = serde_json::to_string(&ready).unwrap();
    ws.send(Message::text(text)).await.unwrap();
    let _ = conns.send(Conn {
        ws,
        uri,
        authorization,
    });
}

async fn http(
    mut stream: TcpStream,
    method: &str,
    target: &str,
    logs: &Logs,
    queries: &Arc<Mutex<Vec<String>>>,
    ticket_no: u64,
) {
    // Consume the head and any body.
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let body_len = loop {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(end) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break end + 4 + len;
        }
    };
    while data.len() < body_len {
        let n = stream.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (status, body) = match (method, segments.as_slice()) {
        ("POST", ["api", "v1", "gateway", "ticket"]) => (
            200,
            json!({"ticket": format!("t-{ticket_no}"), "expires_in": 30}),
        ),
        ("GET", ["api", "v1", "conversations", id, "events"]) => {
            queries.lock().unwrap().push(query.to_owned());
            let params: HashMap<&str, u64> = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
                .collect();
            let after = params.get("after").copied().unwrap_or(0);
            let limit = params.get("limit").copied().unwrap_or(50) as usize;
            let logs = logs.lock().unwrap();
            match logs.get(*id) {
                Some(log) => {
                    let newer: Vec<&Event> = log.iter().filter(|e| e.seq > after).collect();
                    let page: Vec<&Event> = newer.iter().take(limit).copied().collect();
                    (
                        200,
                        json!({"events": page, "has_more": newer.len() > limit}),
                    )
                }
                None => (
                    404,
                    json!({"error": {"code": "not_found", "message": "conversation not found"}}),
                ),
            }
        }
        _ => (
            404,
            json!({"error": {"code": "not_found", "message": "no route"}}),
        ),
    };
    let body = body.to_string();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: req-1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl Conn {
    pub async fn send(&mut self, frame: &ServerFrame) {
        self.send_json(serde_json::to_value(frame).unwrap()).await;
    }

    pub async fn send_json(&mut self, value: Value) {
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }

    pub async fn push(&mut self, conv: &str, seq: u64) {
        self.send(&ServerFrame::Event {
            event: event(conv, seq),
        })
        .await;
    }

    /// The next text frame from the client, decoded as a client frame.
    pub async fn recv(&mut self) -> ClientFrame {
        let value = self.recv_json().await;
        serde_json::from_value(value).unwrap()
    }

    pub async fn recv_json(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a client frame")
                .expect("connection open")
                .expect("valid frame");
            if let Message::Text(text) = msg {
                return serde_json::from_str(text.as_str()).unwrap();
            }
        }
    }

    /// Reads the client's `sync`, returning its ref and since-map.
    pub async fn recv_sync(&mut self) -> (String, parley_protocol::SinceMap) {
        match self.recv().await {
            ClientFrame::Sync { reference, since } => (reference.unwrap(), since),
            other => panic!("expected sync, got {other:?}"),
        }
    }

    pub async fn sync_done(&mut self, reference: &str, resync: &[&str]) {
        self.send(&ServerFrame::SyncDone {
            reference: Some(reference.to_owned()),
            resync: resync.iter().map(|s| s.to_string()).collect(),
        })
        .await;
    }

    pub async fn close(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = self.ws.close(Some(frame)).await;
        // Let the client's answer arrive before the socket goes.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while self.ws.next().await.is_some() {}
        })
        .await;
    }
}
