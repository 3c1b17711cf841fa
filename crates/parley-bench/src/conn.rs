//! A light gateway connection for load: its socket bound to one of
//! 127.0.0.1..127.0.0.N before connecting (one source address gives about
//! 28k ephemeral ports towards one server), small WebSocket buffers (the
//! defaults are 128 KiB a connection, which would make the load generator
//! the first thing to run out of memory), and one task that reads, answers
//! pings, pairs replies with requests and checks every conversation's seq
//! order. What it sees goes to a [`Sink`] shared by all connections.

use crate::frames::{Event, Frame};
use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use parley_protocol::{ClientFrame, SinceMap};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Receives what every connection sees, from the connections' own tasks:
/// keep it cheap and lock-light.
pub trait Sink: Send + Sync + 'static {
    /// A new event (not a duplicate), in seq order for its conversation.
    fn event(&self, _conn: &ConnInfo, _event: &Event<'_>, _at_us: u64) {}
    /// `missing` events were skipped in a conversation: a gap.
    fn gap(&self, _conn: &ConnInfo, _missing: u64) {}
}

/// A sink that only counts gaps.
#[derive(Default)]
pub struct Gaps(pub AtomicU64);

impl Sink for Gaps {
    fn gap(&self, _conn: &ConnInfo, missing: u64) {
        self.0.fetch_add(missing, Ordering::Relaxed);
    }
}

/// Who a connection is, as handed to the sink.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub idx: usize,
    pub user_id: String,
}

/// The highest seq seen per conversation; kept by the caller so that it
/// survives a reconnect (it is what `sync` sends).
pub type Seqs = Arc<Mutex<HashMap<String, u64>>>;

/// Source addresses 127.0.0.1 .. 127.0.0.N, handed out in turn.
#[derive(Debug)]
pub struct SourceAddrs {
    n: u32,
    next: AtomicU32,
}

impl SourceAddrs {
    /// Enough addresses for `connections`: 8k each. A socket bound before
    /// connecting takes its port through bind(), where Linux prefers half
    /// of the ephemeral range and searches ever longer once that half
    /// fills up (connects slowed ~20x past ~10k on one address).
    pub fn for_connections(connections: usize) -> SourceAddrs {
        SourceAddrs::new((connections / 8_000 + 1) as u32)
    }

    pub fn new(n: u32) -> SourceAddrs {
        SourceAddrs {
            n: n.clamp(1, 250),
            next: AtomicU32::new(0),
        }
    }

    pub fn count(&self) -> u32 {
        self.n
    }

    pub fn next(&self) -> Ipv4Addr {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.n;
        Ipv4Addr::new(127, 0, 0, 1 + i as u8)
    }
}

/// What a request was answered with.
#[derive(Debug)]
pub enum Reply {
    Ack { seq: Option<u64> },
    SyncDone { resync: Vec<String> },
    Pong,
    Error(String),
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Reply>>>>;

/// Where to connect: the server's address and the gateway URL.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub ws_url: String,
}

impl Endpoint {
    /// For a Parley server such as `http://127.0.0.1:8080`.
    pub fn parley(base_url: &str) -> anyhow::Result<Endpoint> {
        Endpoint::new(base_url, "/api/v1/gateway")
    }

    pub fn new(base_url: &str, path: &str) -> anyhow::Result<Endpoint> {
        let url = url_parts(base_url)?;
        Ok(Endpoint {
            addr: url,
            ws_url: format!("ws://{url}{path}"),
        })
    }
}

fn url_parts(base_url: &str) -> anyhow::Result<SocketAddr> {
    let rest = base_url
        .strip_prefix("http://")
        .or_else(|| base_url.strip_prefix("ws://"))
        .ok_or_else(|| anyhow!("expected http://HOST:PORT, got {base_url}"))?;
    let hostport = rest.split('/').next().unwrap_or_default();
    let hostport = hostport.replace("localhost", "127.0.0.1");
    hostport
        .parse()
        .with_context(|| format!("{base_url}: the load generator needs an IP:PORT"))
}

/// One live gateway connection.
pub struct Conn {
    pub info: ConnInfo,
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_ref: AtomicU64,
    closed: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
    pub seqs: Seqs,
}

impl Drop for Conn {
    /// Dropping a connection closes its socket (no close handshake: for a
    /// reconnect storm, that is what a phone losing its network does).
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Conn {
    /// Connects from `source`, authenticates with `bearer`, waits for
    /// `ready`. Events go to `sink`; `seqs` is updated as they arrive.
    pub async fn connect(
        endpoint: &Endpoint,
        source: Ipv4Addr,
        bearer: &str,
        idx: usize,
        seqs: Seqs,
        sink: Arc<dyn Sink>,
    ) -> anyhow::Result<Conn> {
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            Self::open(endpoint, source, bearer, idx, seqs, sink),
        )
        .await
        .map_err(|_| anyhow!("connect timed out"))?
    }

    async fn open(
        endpoint: &Endpoint,
        source: Ipv4Addr,
        bearer: &str,
        idx: usize,
        seqs: Seqs,
        sink: Arc<dyn Sink>,
    ) -> anyhow::Result<Conn> {
        let socket = TcpSocket::new_v4()?;
        socket
            .bind(SocketAddr::new(source.into(), 0))
            .with_context(|| format!("binding {source}"))?;
        let stream = socket.connect(endpoint.addr).await?;
        stream.set_nodelay(true)?;
        let mut request = endpoint.ws_url.as_str().into_client_request()?;
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {bearer}"))?,
        );
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_message_size(Some(16 << 20));
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
        let user_id = loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let frame: Frame<'_> = serde_json::from_str(text.as_str())?;
                    match (frame.kind.as_ref(), frame.user) {
                        ("ready", Some(user)) => break user.id,
                        (kind, _) => bail!("expected ready, got {kind}"),
                    }
                }
                Some(Ok(Message::Close(c))) => bail!("closed before ready: {c:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
                None => bail!("closed before ready"),
            }
        };
        let info = ConnInfo { idx, user_id };
        let (out, mut rx) = mpsc::unbounded_channel::<Message>();
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let task = {
            let (info, pending, closed, seqs) =
                (info.clone(), pending.clone(), closed.clone(), seqs.clone());
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        incoming = ws.next() => match incoming {
                            Some(Ok(Message::Text(text))) => {
                                let at = crate::clock::now_us();
                                handle(text.as_str(), at, &info, &pending, &seqs, sink.as_ref());
                            }
                            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                            Some(Ok(_)) => {}
                        },
                        outgoing = rx.recv() => match outgoing {
                            Some(m) => if ws.send(m).await.is_err() { break },
                            None => { let _ = ws.close(None).await; break }
                        },
                    }
                }
                closed.store(true, Ordering::Relaxed);
                // Waiting requests learn the connection is gone.
                pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
            })
        };
        Ok(Conn {
            info,
            out,
            pending,
            next_ref: AtomicU64::new(1),
            closed,
            task,
            seqs,
        })
    }

    pub fn user_id(&self) -> &str {
        &self.info.user_id
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Sends a frame (its `ref` replaced by a fresh one) and waits for the reply.
    pub async fn request(&self, frame: ClientFrame) -> anyhow::Result<Reply> {
        let reference = format!("r{}", self.next_ref.fetch_add(1, Ordering::Relaxed));
        let frame = frame.with_reference(reference.clone());
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(reference.clone(), tx);
        let text = serde_json::to_string(&frame)?;
        if self.out.send(Message::text(text)).is_err() {
            bail!("connection closed");
        }
        match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => bail!("connection closed before the reply"),
            Err(_) => {
                self.pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&reference);
                bail!("no reply within {REPLY_TIMEOUT:?}")
            }
        }
    }

    /// `message.send`; Ok(seq) once acknowledged (stored durably).
    pub async fn send_message(
        &self,
        conversation_id: &str,
        client_id: String,
        text: String,
    ) -> anyhow::Result<u64> {
        let frame = ClientFrame::MessageSend {
            reference: None,
            conversation_id: conversation_id.to_owned(),
            client_id,
            text: Some(text),
            attachments: None,
            reply_to: None,
        };
        match self.request(frame).await? {
            Reply::Ack { seq: Some(seq) } => Ok(seq),
            other => bail!("message.send answered {other:?}"),
        }
    }

    /// `sync` with the connection's seqs; Ok(resync list) at `sync.done`.
    pub async fn sync(&self) -> anyhow::Result<Vec<String>> {
        let since: SinceMap = self
            .seqs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), *v as i64))
            .collect();
        match self
            .request(ClientFrame::Sync {
                reference: None,
                since,
            })
            .await?
        {
            Reply::SyncDone { resync } => Ok(resync),
            other => bail!("sync answered {other:?}"),
        }
    }

    /// Closes with a close frame (a tidy disconnect).
    pub fn close(&self) {
        let _ = self.out.send(Message::Close(None));
    }
}

/// One text frame from the server.
fn handle(text: &str, at: u64, info: &ConnInfo, pending: &Pending, seqs: &Seqs, sink: &dyn Sink) {
    let Ok(frame) = serde_json::from_str::<Frame<'_>>(text) else {
        // Frames this decoder does not know the shape of are not ours to judge.
        return;
    };
    if let Some(reference) = &frame.reference {
        let reply = match frame.kind.as_ref() {
            "ack" => Reply::Ack {
                seq: frame.message.as_ref().map(|m| m.seq),
            },
            "sync.done" => Reply::SyncDone {
                resync: frame.resync.unwrap_or_default(),
            },
            "pong" => Reply::Pong,
            _ => Reply::Error(frame.error.map(|e| e.to_string()).unwrap_or_default()),
        };
        let waiter = pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(reference);
        if let Some(w) = waiter {
            let _ = w.send(reply);
        }
        return;
    }
    match (frame.kind.as_ref(), &frame.event, &frame.conversation) {
        ("event", Some(event), _) => {
            let fresh = {
                let mut seqs = seqs.lock().unwrap_or_else(PoisonError::into_inner);
                let last = seqs.entry(event.conversation_id.to_string()).or_insert(0);
                if event.seq <= *last {
                    false
                } else {
                    if *last > 0 && event.seq > *last + 1 {
                        sink.gap(info, event.seq - *last - 1);
                    }
                    *last = event.seq;
                    true
                }
            };
            if fresh {
                sink.event(info, event, at);
            }
        }
        ("conversation.added", _, Some(c)) => {
            let mut seqs = seqs.lock().unwrap_or_else(PoisonError::into_inner);
            let last = seqs.entry(c.id.clone()).or_insert(0);
            *last = (*last).max(c.last_seq);
        }
        _ => {}
    }
}
