//! The live connections of this process, by user.

use bytes::Bytes;
use parley_protocol::SinceMap;
use parley_store::Delivery;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

use super::queue::{OutQueue, PushError};

/// What a connection's writer task is asked to send, in order. Kept to two
/// words (a connection's queue holds up to `outbound_queue` of these)
/// with every variant behind a pointer; events and ephemeral frames are
/// shared by all their recipients.
#[derive(Debug)]
pub enum Outbound {
    /// A reply or push written as is (ack, error, pong, typing, presence).
    Frame(Arc<Bytes>),
    /// A conversation event; the writer keeps per-conversation order.
    Event(Arc<EventOut>),
    /// `conversation.added`; the connection continues from `last_seq`.
    Added(Box<AddedOut>),
    /// `conversation.removed`.
    Removed(Box<RemovedOut>),
    /// A `sync` request, run by the writer so that its catch-up and live
    /// events leave in seq order.
    Sync(Box<SyncRequest>),
    /// Deliveries may have been lost (the cross-process link was down):
    /// catch up every conversation from the cursors, without `sync.done`.
    Refresh,
}

/// One event, as every live connection of every recipient gets it.
#[derive(Debug)]
pub struct EventOut {
    pub conversation_id: Arc<str>,
    pub seq: u64,
    pub frame: Bytes,
    /// When the fan-out took it (for the delivery latency metric).
    pub queued_at: std::time::Instant,
}

#[derive(Debug)]
pub struct AddedOut {
    pub conversation_id: Arc<str>,
    pub last_seq: u64,
    pub frame: Bytes,
}

#[derive(Debug)]
pub struct RemovedOut {
    pub conversation_id: Arc<str>,
    pub frame: Bytes,
}

#[derive(Debug)]
pub struct SyncRequest {
    pub reference: Option<String>,
    pub since: SinceMap,
}

/// One live connection as the registry sees it.
pub struct ConnHandle {
    pub id: u64,
    pub user_id: String,
    /// Popped by the connection's writer task only.
    queue: OutQueue<Outbound>,
    /// 0 while open; the close code once the connection must go.
    close_code: AtomicU16,
    /// Wakes the writer, even while it is blocked on a slow socket. Only
    /// the connection's writer task waits on it, so `notify_one` (which
    /// keeps a permit when nobody waits yet) cannot be missed. Lighter
    /// than a `watch` channel (W1 memory per connection).
    closed: Notify,
}

impl ConnHandle {
    /// Queues a frame without waiting. A full queue closes the connection
    /// (4008): the slow client is shed, the sender is never delayed.
    pub fn push(&self, item: Outbound) -> bool {
        match self.queue.push(item) {
            Ok(()) => true,
            Err(PushError::Full) => {
                if self.close_requested().is_none() {
                    crate::metrics::slow_client_closed();
                }
                self.close(parley_protocol::gateway::close_code::TOO_SLOW);
                false
            }
            Err(PushError::Closed) => false,
        }
    }

    /// The next queued item, waiting for one (the writer task only).
    pub async fn next_queued(&self) -> Outbound {
        self.queue.pop().await
    }

    /// The next queued item if one waits (the writer task only).
    pub fn try_next_queued(&self) -> Option<Outbound> {
        self.queue.try_pop()
    }

    pub fn nothing_queued(&self) -> bool {
        self.queue.is_empty()
    }

    /// The writer has gone: later pushes are refused, waiting ones dropped.
    pub fn stop_queue(&self) {
        self.queue.close();
    }

    /// Asks the connection to close with `code`; the first code wins.
    pub fn close(&self, code: u16) {
        if self
            .close_code
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.closed.notify_one();
        }
    }

    pub fn close_requested(&self) -> Option<u16> {
        match self.close_code.load(Ordering::Acquire) {
            0 => None,
            c => Some(c),
        }
    }

    /// Completes once the connection must close (for the writer task only;
    /// see `closed`).
    pub async fn closing(&self) {
        if self.close_requested().is_none() {
            self.closed.notified().await;
        }
    }
}

#[derive(Default)]
pub struct Registry {
    // A std RwLock: held only for map lookups and inserts, never across an
    // await; deliveries take the read side and run in parallel.
    by_user: RwLock<HashMap<String, Vec<Arc<ConnHandle>>>>,
    next_id: AtomicU64,
    count: AtomicU64,
}

impl Registry {
    /// Adds a connection; returns its handle, whose queue holds up to
    /// `queue` items.
    pub fn register(&self, user_id: &str, queue: usize) -> Arc<ConnHandle> {
        let handle = Arc::new(ConnHandle {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) + 1,
            user_id: user_id.to_string(),
            queue: OutQueue::new(queue),
            close_code: AtomicU16::new(0),
            closed: Notify::new(),
        });
        if let Ok(mut map) = self.by_user.write() {
            map.entry(user_id.to_string())
                .or_default()
                .push(handle.clone());
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        handle
    }

    pub fn unregister(&self, handle: &ConnHandle) {
        if let Ok(mut map) = self.by_user.write()
            && let Some(list) = map.get_mut(&handle.user_id)
        {
            let before = list.len();
            list.retain(|h| h.id != handle.id);
            if list.len() < before {
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
            if list.is_empty() {
                map.remove(&handle.user_id);
            }
        }
    }

    /// Frames waiting in every connection's queue.
    pub fn queued_frames(&self) -> u64 {
        self.all().iter().map(|c| c.queue.len() as u64).sum()
    }

    pub fn connection_count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_online(&self, user_id: &str) -> bool {
        self.by_user
            .read()
            .map(|m| m.contains_key(user_id))
            .unwrap_or(false)
    }

    /// Every connection of `user_id`.
    pub fn connections(&self, user_id: &str) -> Vec<Arc<ConnHandle>> {
        self.by_user
            .read()
            .ok()
            .and_then(|m| m.get(user_id).cloned())
            .unwrap_or_default()
    }

    /// Every connection (for shutdown).
    pub fn all(&self) -> Vec<Arc<ConnHandle>> {
        self.by_user
            .read()
            .map(|m| m.values().flatten().cloned().collect())
            .unwrap_or_default()
    }

    /// Asks every connection to catch up from storage.
    pub fn refresh_all(&self) {
        for c in self.all() {
            c.push(Outbound::Refresh);
        }
    }

    pub fn deliver(&self, d: Delivery) {
        let Ok(map) = self.by_user.read() else { return };
        match d {
            Delivery::Event {
                conversation_id,
                seq,
                recipients,
                frame,
            } => {
                let event = Arc::new(EventOut {
                    conversation_id,
                    seq,
                    frame,
                    queued_at: std::time::Instant::now(),
                });
                for user in recipients.iter() {
                    if let Some(conns) = map.get(user) {
                        for c in conns {
                            c.push(Outbound::Event(event.clone()));
                        }
                    }
                }
            }
            Delivery::Added {
                user_id,
                conversation_id,
                last_seq,
                frame,
            } => {
                for c in map.get(&user_id).into_iter().flatten() {
                    c.push(Outbound::Added(Box::new(AddedOut {
                        conversation_id: conversation_id.clone(),
                        last_seq,
                        frame: frame.clone(),
                    })));
                }
            }
            Delivery::Ephemeral { recipients, frame } => {
                let frame = Arc::new(frame);
                for user in recipients.iter() {
                    for c in map.get(user).into_iter().flatten() {
                        c.push(Outbound::Frame(frame.clone()));
                    }
                }
            }
            Delivery::Removed {
                user_id,
                conversation_id,
                frame,
            } => {
                for c in map.get(&user_id).into_iter().flatten() {
                    c.push(Outbound::Removed(Box::new(RemovedOut {
                        conversation_id: conversation_id.clone(),
                        frame: frame.clone(),
                    })));
                }
            }
        }
    }
}
