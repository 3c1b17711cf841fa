//! Presence, computed from this process's live connections (protocol.md
//! §3): online while any connection is visible and active, away when every
//! connection is hidden (`presence.set away`) or idle, offline when none
//! is live. Changes are published to the users who share a conversation,
//! once per change per recipient, by one job so they stay in order.

use super::blocks::BlocksService;
use crate::cluster::Shared;
use crate::fanout::Fanout;
use parley_protocol::{Presence, PresenceState, ServerFrame, Timestamp, User};
use parley_store::{ConversationStore, Delivery, UserStore};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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
        // In place: this runs twice a second over every connected user, and
        // copying their ids first cost an allocation and a second hash
        // lookup per user (W1 idle CPU).
        for (id, p) in users.iter_mut() {
            self.recompute(id, p, now);
        }
        // Forget offline users whose last-seen time is already stored.
        let now_ms = Timestamp::now().millis();
        users.retain(|_, p| {
            !p.conns.is_empty()
                || p.last_seen_at
                    .is_some_and(|t| now_ms - t.millis() < 600_000)
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

    /// Users with a live connection here (for refreshing shared entries).
    fn local_states(&self) -> Vec<(String, PresenceState)> {
        let Ok(users) = self.users.lock() else {
            return Vec::new();
        };
        users
            .iter()
            .filter(|(_, p)| !p.conns.is_empty())
            .filter_map(|(u, p)| p.state.map(|s| (u.clone(), s)))
            .collect()
    }
}

fn state_name(s: PresenceState) -> &'static str {
    match s {
        PresenceState::Online => "online",
        PresenceState::Away => "away",
        PresenceState::Offline => "offline",
    }
}

fn parse_state(s: &str) -> Option<PresenceState> {
    match s {
        "online" => Some(PresenceState::Online),
        "away" => Some(PresenceState::Away),
        "offline" => Some(PresenceState::Offline),
        _ => None,
    }
}

/// Combines per-process entries `"state:expires_ms"`: online beats away
/// beats offline; expired entries (dead processes) do not count.
fn combine<'a>(entries: impl Iterator<Item = &'a str>, now_ms: i64) -> PresenceState {
    let mut best = PresenceState::Offline;
    for v in entries {
        let Some((state, exp)) = v.split_once(':') else {
            continue;
        };
        if exp.parse::<i64>().map(|e| e < now_ms).unwrap_or(true) {
            continue;
        }
        match parse_state(state) {
            Some(PresenceState::Online) => return PresenceState::Online,
            Some(PresenceState::Away) => best = PresenceState::Away,
            _ => {}
        }
    }
    best
}

/// Presence as users see it, and the job that announces its changes.
#[derive(Clone)]
pub struct PresenceService {
    tracker: Arc<PresenceTracker>,
    /// Changes to announce; taken by the job when it starts.
    changes: Arc<Mutex<Option<mpsc::UnboundedReceiver<Change>>>>,
    /// Redis, when this process is one of several.
    shared: Option<Shared>,
    users: Arc<dyn UserStore>,
    conversations: Arc<dyn ConversationStore>,
    blocks: BlocksService,
    fanout: Arc<dyn Fanout>,
    /// How long a process's Redis entries live without a refresh.
    shared_ttl_ms: i64,
    /// Told `(user, connected)` each time a user's combined presence goes
    /// between offline and not (support routing and its agent grace).
    watchers: Arc<Mutex<Vec<ConnectionWatcher>>>,
}

/// Told `(user, connected)`; see [`PresenceService::watch_connections`].
type ConnectionWatcher = mpsc::UnboundedSender<(String, bool)>;

impl std::ops::Deref for PresenceService {
    type Target = PresenceTracker;
    /// `connected`, `disconnected`, `active`, `set_hidden`: the gateway
    /// reports its connections straight to the tracker.
    fn deref(&self) -> &PresenceTracker {
        &self.tracker
    }
}

impl PresenceService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        idle_after: Duration,
        shared_ttl: Duration,
        shared: Option<Shared>,
        users: Arc<dyn UserStore>,
        conversations: Arc<dyn ConversationStore>,
        blocks: BlocksService,
        fanout: Arc<dyn Fanout>,
    ) -> Self {
        let (tracker, changes) = PresenceTracker::new(idle_after);
        PresenceService {
            tracker: Arc::new(tracker),
            changes: Arc::new(Mutex::new(Some(changes))),
            shared,
            users,
            conversations,
            blocks,
            fanout,
            shared_ttl_ms: shared_ttl.as_millis() as i64,
            watchers: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A stream of `(user, connected)`: each time a user's combined
    /// presence (every process's connections) goes from offline to
    /// connected or back, announced by exactly one process.
    pub fn watch_connections(&self) -> mpsc::UnboundedReceiver<(String, bool)> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut w) = self.watchers.lock() {
            w.push(tx);
        }
        rx
    }

    /// Which of `users` have at least one live gateway connection, on
    /// any process.
    pub async fn connected_among(&self, users: &[String]) -> Vec<String> {
        let mut probe: Vec<User> = users.iter().map(|id| probe_user(id)).collect();
        self.present_all(probe.iter_mut(), &[]).await;
        probe
            .into_iter()
            .filter(|u| u.presence.state != PresenceState::Offline)
            .map(|u| u.id)
            .collect()
    }

    /// Which of `users` have a live gateway connection in state `online`
    /// (not only `away` ones), on any process: whom a push waits for
    /// (protocol.md §12).
    pub async fn online_among(&self, users: &[String]) -> HashSet<String> {
        let mut probe: Vec<User> = users.iter().map(|id| probe_user(id)).collect();
        self.present_all(probe.iter_mut(), &[]).await;
        probe
            .into_iter()
            .filter(|u| u.presence.state == PresenceState::Online)
            .map(|u| u.id)
            .collect()
    }

    /// Fills in `user.presence` as `viewer` may see it: hidden (offline, no
    /// last-seen) across a block in either direction. With Redis the state
    /// combines every process's connections.
    pub async fn present(&self, user: &mut User, hidden: &[String]) {
        self.present_all(std::iter::once(user), hidden).await;
    }

    /// `present` for many users with one Redis round trip (a pipeline).
    pub async fn present_all<'a>(
        &self,
        users: impl IntoIterator<Item = &'a mut User>,
        hidden: &[String],
    ) {
        let mut visible = Vec::new();
        for user in users {
            if hidden.contains(&user.id) {
                user.presence = Presence::offline();
            } else {
                visible.push(user);
            }
        }
        if visible.is_empty() {
            return;
        }
        if let Some(shared) = &self.shared {
            let mut pipe = redis::pipe();
            for user in &visible {
                pipe.cmd("HGETALL").arg(shared.presence_key(&user.id));
            }
            let mut conn = shared.conn.clone();
            let entries: Result<Vec<std::collections::HashMap<String, String>>, _> =
                pipe.query_async(&mut conn).await;
            if let Ok(entries) = entries {
                let now = Timestamp::now().millis();
                for (user, e) in visible.into_iter().zip(entries) {
                    let state = combine(e.values().map(String::as_str), now);
                    user.presence.state = state;
                    if state == PresenceState::Online {
                        user.presence.last_seen_at = None;
                    }
                }
                return;
            }
        }
        for user in visible {
            if let Some(p) = self.tracker.get(&user.id) {
                user.presence = p;
            }
        }
    }

    /// `present` for `viewer`, by the rule presence pushes follow
    /// (protocol.md §3, §7): a user's presence is seen by themself and by
    /// those who share a conversation with them, unless a block stands
    /// between the two; anyone else sees `offline` with no last-seen.
    pub async fn present_for<'a>(
        &self,
        viewer: &str,
        users: impl IntoIterator<Item = &'a mut User>,
    ) {
        let users: Vec<&mut User> = users.into_iter().collect();
        if users.iter().all(|u| u.id == viewer) {
            return self.present_all(users, &[]).await;
        }
        let contacts: HashSet<String> = match self.conversations.contacts(viewer).await {
            Ok(c) => c.into_iter().collect(),
            Err(e) => {
                // Shown as offline rather than to the wrong people.
                tracing::warn!(error = %e, "contacts unavailable; presence hidden");
                HashSet::new()
            }
        };
        let mut hidden = self.blocks.hidden_from(viewer).await.unwrap_or_default();
        hidden.extend(
            users
                .iter()
                .filter(|u| u.id != viewer && !contacts.contains(&u.id))
                .map(|u| u.id.clone()),
        );
        self.present_all(users, &hidden).await;
    }

    /// `present_for` users known to be current members of a conversation
    /// with `viewer` (its peer, its members): only blocks hide them.
    pub async fn present_co_members<'a>(
        &self,
        viewer: &str,
        users: impl IntoIterator<Item = &'a mut User>,
    ) {
        let hidden = self.blocks.hidden_from(viewer).await.unwrap_or_default();
        self.present_all(users, &hidden).await;
    }
}

/// Records this process's state for a user in Redis and returns the
/// combined state if it changed (so exactly one process announces it).
async fn shared_update(
    shared: &crate::cluster::Shared,
    user: &str,
    local: PresenceState,
    ttl_ms: i64,
) -> Option<PresenceState> {
    // KEYS: entries hash, last announced state, set of users with entries.
    // ARGV: origin, local state, now_ms, ttl_ms, user id. Returns the new
    // combined state, or false if unchanged.
    let script = redis::Script::new(
        r"
        if ARGV[2] == 'offline' then
          redis.call('HDEL', KEYS[1], ARGV[1])
        else
          redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (tonumber(ARGV[3]) + tonumber(ARGV[4])))
        end
        local now = tonumber(ARGV[3])
        local all = redis.call('HGETALL', KEYS[1])
        local best = 'offline'
        for i = 1, #all, 2 do
          local v = all[i + 1]
          local sep = string.find(v, ':')
          local st = string.sub(v, 1, sep - 1)
          if tonumber(string.sub(v, sep + 1)) < now then
            redis.call('HDEL', KEYS[1], all[i])
          elseif st == 'online' then
            best = 'online'
          elseif st == 'away' and best == 'offline' then
            best = 'away'
          end
        end
        redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) * 2)
        if best == 'offline' then
          redis.call('SREM', KEYS[3], ARGV[5])
        else
          redis.call('SADD', KEYS[3], ARGV[5])
        end
        local prev = redis.call('GET', KEYS[2]) or 'offline'
        redis.call('SET', KEYS[2], best, 'PX', 86400000)
        if prev == best then return false end
        return best
        ",
    );
    let mut conn = shared.conn.clone();
    let changed: Result<Option<String>, _> = script
        .key(shared.presence_key(user))
        .key(shared.presence_state_key(user))
        .key(shared.presence_users_key())
        .arg(&shared.origin)
        .arg(state_name(local))
        .arg(Timestamp::now().millis())
        .arg(ttl_ms)
        .arg(user)
        .invoke_async(&mut conn)
        .await;
    match changed {
        Ok(s) => s.as_deref().and_then(parse_state),
        Err(e) => {
            tracing::warn!(error = %e, "presence update in redis failed");
            None
        }
    }
}

/// A sample of the users with entries in Redis (bounded per sweep).
async fn shared_users(shared: &crate::cluster::Shared) -> Vec<String> {
    let mut conn = shared.conn.clone();
    redis::cmd("SRANDMEMBER")
        .arg(shared.presence_users_key())
        .arg(500)
        .query_async(&mut conn)
        .await
        .unwrap_or_default()
}

impl PresenceService {
    /// Publishes presence changes in order, sweeps for idle connections and,
    /// in a cluster, keeps this process's shared entries alive, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let Some(mut changes) = self.changes.lock().ok().and_then(|mut c| c.take()) else {
            tracing::error!("the presence job was started twice");
            return;
        };
        let state = &self;
        // A process's Redis entries live `ttl` without a refresh: one that dies
        // silently stops counting after that, and the sweep announces it.
        let ttl_ms = self.shared_ttl_ms;
        let mut sweep = tokio::time::interval(Duration::from_millis(500));
        let mut refresh =
            tokio::time::interval(Duration::from_millis((ttl_ms / 3).max(200) as u64));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = sweep.tick() => state.tracker.sweep(),
                _ = refresh.tick() => {
                    if let Some(shared) = &state.shared {
                        let local = state.tracker.local_states();
                        for (user, s) in &local {
                            if let Some(global) = shared_update(shared, user, *s, ttl_ms).await {
                                let at = (global != PresenceState::Online).then(Timestamp::now);
                                state.publish(Change { user_id: user.clone(), state: global, last_seen_at: at }).await;
                            }
                        }
                        // Users online elsewhere: if their process died, their
                        // entries have expired; whichever process notices first
                        // announces it (the script makes that exactly one).
                        for user in shared_users(shared).await {
                            if local.iter().any(|(u, _)| *u == user) {
                                continue;
                            }
                            if let Some(global) = shared_update(shared, &user, PresenceState::Offline, ttl_ms).await {
                                let at = (global != PresenceState::Online).then(Timestamp::now);
                                state.publish(Change { user_id: user, state: global, last_seen_at: at }).await;
                            }
                        }
                    }
                }
                change = changes.recv() => {
                    let Some(change) = change else { return };
                    tracing::debug!(user = %change.user_id, state = ?change.state, "local presence change");
                    match &state.shared {
                        Some(shared) => {
                            // Announce only what changes the combined state.
                            if let Some(global) = shared_update(shared, &change.user_id, change.state, ttl_ms).await {
                                let at = (global != PresenceState::Online).then(Timestamp::now);
                                state.publish(Change { user_id: change.user_id, state: global, last_seen_at: at }).await;
                            }
                        }
                        None => state.publish(change).await,
                    }
                }
            }
        }
    }

    async fn publish(&self, change: Change) {
        let state = self;
        if let Ok(mut watchers) = self.watchers.lock() {
            let connected = change.state != PresenceState::Offline;
            watchers.retain(|w| w.send((change.user_id.clone(), connected)).is_ok());
        }
        tracing::debug!(user = %change.user_id, state = ?change.state, "presence change");
        if let Some(at) = change.last_seen_at
            && let Err(e) = state.users.set_last_seen(&change.user_id, at).await
        {
            tracing::warn!(error = %e, "storing last-seen failed");
        }
        let (contacts, hidden) = match (
            state.conversations.contacts(&change.user_id).await,
            state.blocks.hidden_from(&change.user_id).await,
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
}

/// A user with only an id, whose presence is to be filled in.
fn probe_user(id: &str) -> User {
    User {
        id: id.to_string(),
        username: String::new(),
        display_name: String::new(),
        avatar_url: None,
        about: None,
        role: parley_protocol::Role::User,
        presence: Presence::offline(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_prefers_online_and_ignores_expired_entries() {
        let now = 1_000;
        assert_eq!(
            combine(["away:2000", "online:2000"].into_iter(), now),
            PresenceState::Online
        );
        assert_eq!(
            combine(["away:2000", "online:500"].into_iter(), now),
            PresenceState::Away,
            "a dead process's online expired"
        );
        assert_eq!(
            combine(["online:999", "garbage"].into_iter(), now),
            PresenceState::Offline
        );
        assert_eq!(combine(std::iter::empty(), now), PresenceState::Offline);
    }
}
