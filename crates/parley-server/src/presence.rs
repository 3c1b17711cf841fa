//! Presence, computed from this process's live connections (protocol.md
//! §3): online while any connection is visible and active, away when every
//! connection is hidden (`presence.set away`) or idle, offline when none
//! is live. Changes are published to the users who share a conversation,
//! once per change per recipient, by one task so they stay in order.

use crate::app::AppState;
use crate::delivery::Delivery;
use parley_protocol::{Presence, PresenceState, ServerFrame, Timestamp, User};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub user_id: String,
    pub state: PresenceState,
    pub last_seen_at: Option<Timestamp>,
}

struct Conn {
    hidden: bool,
    last_active: Instant,
}

#[derive(Default)]
struct UserPresence {
    conns: HashMap<u64, Conn>,
    state: Option<PresenceState>,
    last_seen_at: Option<Timestamp>,
}

pub struct PresenceTracker {
    // A std Mutex: held only to update a small map, never across an await.
    users: Mutex<HashMap<String, UserPresence>>,
    idle_after: Duration,
    changes: mpsc::UnboundedSender<Change>,
}

impl PresenceTracker {
    /// Returns the tracker and the stream of changes to publish.
    pub fn new(idle_after: Duration) -> (PresenceTracker, mpsc::UnboundedReceiver<Change>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            PresenceTracker {
                users: Mutex::new(HashMap::new()),
                idle_after,
                changes: tx,
            },
            rx,
        )
    }

    fn update(&self, user: &str, now: Instant, f: impl FnOnce(&mut UserPresence)) {
        let Ok(mut users) = self.users.lock() else {
            return;
        };
        let entry = users.entry(user.to_string()).or_default();
        f(entry);
        self.recompute(user, entry, now);
    }

    fn recompute(&self, user: &str, p: &mut UserPresence, now: Instant) {
        let state = if p.conns.is_empty() {
            PresenceState::Offline
        } else if p
            .conns
            .values()
            .any(|c| !c.hidden && now.duration_since(c.last_active) < self.idle_after)
        {
            PresenceState::Online
        } else {
            PresenceState::Away
        };
        if p.state == Some(state) {
            return;
        }
        let was = p.state.replace(state);
        if state != PresenceState::Online && was.is_some() {
            p.last_seen_at = Some(Timestamp::now());
        }
        let _ = self.changes.send(Change {
            user_id: user.to_string(),
            state,
            last_seen_at: self.visible_last_seen(p),
        });
    }

    fn visible_last_seen(&self, p: &UserPresence) -> Option<Timestamp> {
        match p.state {
            Some(PresenceState::Online) => None,
            _ => p.last_seen_at,
        }
    }

    pub fn connected(&self, user: &str, conn: u64) {
        let now = Instant::now();
        self.update(user, now, |p| {
            p.conns.insert(
                conn,
                Conn {
                    hidden: false,
                    last_active: now,
                },
            );
        });
    }

    pub fn disconnected(&self, user: &str, conn: u64) {
        self.update(user, Instant::now(), |p| {
            p.conns.remove(&conn);
        });
    }

    /// A client request other than a heartbeat: the user is active.
    pub fn active(&self, user: &str, conn: u64) {
        let now = Instant::now();
        self.update(user, now, |p| {
            if let Some(c) = p.conns.get_mut(&conn) {
                c.last_active = now;
            }
        });
    }

    /// `presence.set`: a hidden tab is away, a visible one online.
    pub fn set_hidden(&self, user: &str, conn: u64, hidden: bool) {
        let now = Instant::now();
        self.update(user, now, |p| {
            if let Some(c) = p.conns.get_mut(&conn) {
                c.hidden = hidden;
                if !hidden {
                    c.last_active = now;
                }
            }
        });
    }

    /// Re-evaluates idleness (called periodically).
    pub fn sweep(&self) {
        let now = Instant::now();
        let Ok(mut users) = self.users.lock() else {
            return;
        };
        let ids: Vec<String> = users.keys().cloned().collect();
        for id in ids {
            if let Some(p) = users.get_mut(&id) {
                self.recompute(&id, p, now);
            }
        }
        // Forget offline users whose last-seen time is already stored.
        users.retain(|_, p| {
            !p.conns.is_empty()
                || p.last_seen_at
                    .is_some_and(|t| Timestamp::now().millis() - t.millis() < 600_000)
        });
    }

    /// The live view of a user, if this process knows better than storage.
    pub fn get(&self, user: &str) -> Option<Presence> {
        let users = self.users.lock().ok()?;
        let p = users.get(user)?;
        let state = p.state?;
        Some(Presence {
            state,
            last_seen_at: self.visible_last_seen(p),
        })
    }
}

impl AppState {
    /// Fills in `user.presence` as `viewer` may see it: hidden (offline, no
    /// last-seen) across a block in either direction.
    pub fn present(&self, user: &mut User, hidden: &[String]) {
        if hidden.contains(&user.id) {
            user.presence = Presence::offline();
            return;
        }
        if let Some(p) = self.presence.get(&user.id) {
            user.presence = p;
        }
    }
}

/// Publishes presence changes in order, and sweeps for idle connections.
pub async fn run(state: AppState, mut changes: mpsc::UnboundedReceiver<Change>) {
    let mut sweep = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = sweep.tick() => state.presence.sweep(),
            change = changes.recv() => {
                let Some(change) = change else { return };
                publish(&state, change).await;
            }
        }
    }
}

async fn publish(state: &AppState, change: Change) {
    if let Some(at) = change.last_seen_at
        && let Err(e) = state.store.set_last_seen(&change.user_id, at).await
    {
        tracing::warn!(error = %e, "storing last-seen failed");
    }
    let (contacts, hidden) = match (
        state.store.contacts(&change.user_id).await,
        state.store.block_partners(&change.user_id).await,
    ) {
        (Ok(c), Ok(h)) => (c, h),
        _ => return,
    };
    let recipients: Vec<String> = contacts
        .into_iter()
        .filter(|c| !hidden.contains(c))
        .collect();
    if recipients.is_empty() {
        return;
    }
    let frame = ServerFrame::Presence {
        user_id: change.user_id,
        state: change.state,
        last_seen_at: change.last_seen_at,
    };
    if let Ok(bytes) = serde_json::to_vec(&frame) {
        state.fanout.publish(vec![Delivery::Ephemeral {
            recipients: Arc::from(recipients),
            frame: bytes.into(),
        }]);
    }
}
