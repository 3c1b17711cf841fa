//! Cross-process fan-out over Redis pub/sub.
//!
//! Every delivery is handed to this process's own connections at once and
//! published on one channel for the other processes, which hand it to
//! theirs. Pub/sub is lossy, so nothing relies on it alone: each
//! connection's writer fills seq gaps from the database, and after any
//! Redis disconnect (ours or a peer's) every connection re-runs a silent
//! `sync` from its cursors, so whatever was missed is caught up, never
//! skipped.

use super::{Fanout, Registry};
use bytes::Bytes;
use futures_util::StreamExt;
use parley_store::Delivery;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How many deliveries may wait for Redis before new ones are dropped
/// (and recovered from the database by the receivers).
const PUBLISH_QUEUE: usize = 65_536;

#[derive(Serialize, Deserialize)]
#[serde(tag = "k")]
enum Wire {
    #[serde(rename = "e")]
    Event {
        c: String,
        s: u64,
        r: Vec<String>,
        f: String,
    },
    #[serde(rename = "a")]
    Added {
        u: String,
        c: String,
        s: u64,
        f: String,
    },
    #[serde(rename = "x")]
    Removed { u: String, c: String, f: String },
    #[serde(rename = "p")]
    Ephemeral { r: Vec<String>, f: String },
    /// "I may have lost messages: everyone catch up from the database."
    #[serde(rename = "r")]
    Refresh,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    /// The publishing process, which ignores its own messages.
    o: String,
    m: Wire,
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Wire {
    fn from_delivery(d: &Delivery) -> Wire {
        match d {
            Delivery::Event {
                conversation_id,
                seq,
                recipients,
                frame,
            } => Wire::Event {
                c: conversation_id.to_string(),
                s: *seq,
                r: recipients.to_vec(),
                f: text(frame),
            },
            Delivery::Added {
                user_id,
                conversation_id,
                last_seq,
                frame,
            } => Wire::Added {
                u: user_id.clone(),
                c: conversation_id.to_string(),
                s: *last_seq,
                f: text(frame),
            },
            Delivery::Removed {
                user_id,
                conversation_id,
                frame,
            } => Wire::Removed {
                u: user_id.clone(),
                c: conversation_id.to_string(),
                f: text(frame),
            },
            Delivery::Ephemeral { recipients, frame } => Wire::Ephemeral {
                r: recipients.to_vec(),
                f: text(frame),
            },
        }
    }

    fn into_delivery(self) -> Option<Delivery> {
        Some(match self {
            Wire::Event { c, s, r, f } => Delivery::Event {
                conversation_id: Arc::from(c),
                seq: s,
                recipients: Arc::from(r),
                frame: Bytes::from(f),
            },
            Wire::Added { u, c, s, f } => Delivery::Added {
                user_id: u,
                conversation_id: Arc::from(c),
                last_seq: s,
                frame: Bytes::from(f),
            },
            Wire::Removed { u, c, f } => Delivery::Removed {
                user_id: u,
                conversation_id: Arc::from(c),
                frame: Bytes::from(f),
            },
            Wire::Ephemeral { r, f } => Delivery::Ephemeral {
                recipients: Arc::from(r),
                frame: Bytes::from(f),
            },
            Wire::Refresh => return None,
        })
    }
}

pub struct RedisFanout {
    registry: Arc<Registry>,
    origin: String,
    outbox: mpsc::Sender<Vec<u8>>,
    subscribed: Arc<AtomicBool>,
}

impl RedisFanout {
    /// Starts the publisher and subscriber tasks; `channel` should carry the
    /// deployment's key prefix.
    pub fn start(
        client: redis::Client,
        channel: String,
        jobs: &crate::jobs::Supervisor,
    ) -> RedisFanout {
        let registry = Arc::new(Registry::default());
        let origin = crate::ids::new_id();
        let (outbox, rx) = mpsc::channel(PUBLISH_QUEUE);
        let subscribed = Arc::new(AtomicBool::new(false));
        let publishing = publisher(client.clone(), channel.clone(), origin.clone(), rx);
        jobs.spawn("fanout-publisher", |stop| async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = publishing => {}
            }
        });
        let subscribing = subscriber(
            client,
            channel,
            origin.clone(),
            registry.clone(),
            subscribed.clone(),
        );
        jobs.spawn("fanout-subscriber", |stop| async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = subscribing => {}
            }
        });
        RedisFanout {
            registry,
            origin,
            outbox,
            subscribed,
        }
    }
}

impl Fanout for RedisFanout {
    fn publish(&self, deliveries: Vec<Delivery>) {
        for d in deliveries {
            let env = Envelope {
                o: self.origin.clone(),
                m: Wire::from_delivery(&d),
            };
            self.registry.deliver(d);
            if let Ok(bytes) = serde_json::to_vec(&env) {
                // Full: Redis is slow or gone. The receivers recover from
                // the database when they see the gap or the reconnect.
                let _ = self.outbox.try_send(bytes);
            }
        }
    }

    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn healthy(&self) -> Option<bool> {
        Some(self.subscribed.load(Ordering::Relaxed))
    }
}

async fn publisher(
    client: redis::Client,
    channel: String,
    origin: String,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut conn: Option<redis::aio::MultiplexedConnection> = None;
    let mut lost = false;
    while let Some(msg) = rx.recv().await {
        if conn.is_none() {
            conn = client.get_multiplexed_async_connection().await.ok();
            if let (Some(c), true) = (conn.as_mut(), lost) {
                // We dropped messages while Redis was unreachable: ask every
                // process to catch its connections up from the database.
                let refresh = serde_json::to_vec(&Envelope {
                    o: origin.clone(),
                    m: Wire::Refresh,
                })
                .unwrap_or_default();
                if redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(refresh)
                    .query_async::<i64>(c)
                    .await
                    .is_ok()
                {
                    lost = false;
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            lost = true;
            continue;
        };
        if redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(msg)
            .query_async::<i64>(c)
            .await
            .is_err()
        {
            conn = None;
            lost = true;
        }
    }
}

async fn subscriber(
    client: redis::Client,
    channel: String,
    origin: String,
    registry: Arc<Registry>,
    subscribed: Arc<AtomicBool>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut first = true;
    loop {
        let pubsub = async {
            let mut ps = client.get_async_pubsub().await?;
            ps.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(ps)
        };
        match pubsub.await {
            Ok(ps) => {
                subscribed.store(true, Ordering::Relaxed);
                backoff = Duration::from_millis(100);
                if !first {
                    tracing::info!("redis subscription restored; catching connections up");
                    registry.refresh_all();
                }
                first = false;
                let mut stream = ps.into_on_message();
                while let Some(msg) = stream.next().await {
                    let Ok(payload) = msg.get_payload::<Vec<u8>>() else {
                        continue;
                    };
                    let Ok(env) = serde_json::from_slice::<Envelope>(&payload) else {
                        continue;
                    };
                    if env.o == origin {
                        continue;
                    }
                    match env.m.into_delivery() {
                        Some(d) => registry.deliver(d),
                        None => registry.refresh_all(),
                    }
                }
                tracing::warn!("redis subscription lost");
                subscribed.store(false, Ordering::Relaxed);
            }
            Err(e) => {
                if subscribed.swap(false, Ordering::Relaxed) || first {
                    tracing::warn!(error = %e, "redis unreachable; serving local connections only");
                }
                first = false;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
