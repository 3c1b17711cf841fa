//! The reconnecting, gap-free event stream (protocol.md §5 guarantees 3-4,
//! §8).
//!
//! A [`Session`] owns a background driver task that keeps one
//! [`Gateway`] alive: it syncs after every (re)connect with the highest seq
//! it has applied per conversation, feeds every event it sees (pushes, sync
//! catch-up, REST pages) through a [`Sequencer`], and hands out only what
//! the sequencer releases. Gaps that pushes do not fill within about a
//! second, and conversations the server lists in `sync.done.resync`, are
//! caught up through `GET /conversations/{id}/events?after=`.

use crate::backoff;
use crate::error::{Error, Result};
use crate::gateway::Gateway;
use crate::rest::Client;
use crate::sequencer::Sequencer;
use parley_protocol::{ClientFrame, ErrorCode, Event, ServerFrame, SinceMap};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// Waiting for `sync.done` (the server may push up to
/// `limits.sync_max_events` per conversation before it).
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a gap may wait for the missing events to arrive by push before
/// they are fetched over REST.
const GAP_PATIENCE: Duration = Duration::from_secs(1);
/// How often overdue gaps are looked for.
const GAP_CHECK: Duration = Duration::from_millis(200);
/// REST page size for catching up (the protocol's maximum).
const CATCH_UP_PAGE: u32 = parley_protocol::limits::MAX_PAGE;
/// How long `drop_connection` and `close` wait for the driver.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// A gateway connection that survives disconnects and yields every event of
/// every conversation exactly once, in seq order per conversation.
pub struct Session {
    state: Arc<State>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Event>>,
    commands: mpsc::UnboundedSender<Command>,
    driver: Option<JoinHandle<()>>,
}

/// What the driver and the handle share.
struct State {
    sequencer: Mutex<Sequencer>,
    reconnects: AtomicU64,
}

impl State {
    fn sequencer(&self) -> MutexGuard<'_, Sequencer> {
        self.sequencer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

enum Command {
    DropConnection(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
}

/// Where to start a conversation first heard of through
/// `conversation.added`.
#[derive(Debug, Clone, Copy)]
enum Added {
    /// At its current `last_seq`: a fresh session follows what happens from
    /// now on and leaves history to the messages endpoints.
    Latest,
    /// From the seq at which we joined: the conversation is news that
    /// happened while we were away (or live), so all of it is missed events.
    Joined,
}

impl Session {
    /// Connects, syncs with an empty since-map and keeps the connection up.
    /// Conversations that exist at this point are followed from their
    /// current `last_seq`; conversations joined later are followed from the
    /// seq at which we joined. Returns once the first `sync.done` is in, so
    /// that everything after it is live.
    pub async fn start(client: Client) -> Result<Session> {
        Self::launch(client, Sequencer::new(), Added::Latest).await
    }

    /// Starts from a known since-map (for instance a previous session's
    /// [`Session::applied`]): events after those seqs are delivered first.
    /// Conversations not in the map are followed from the seq at which we
    /// joined them.
    pub async fn start_from(client: Client, since: SinceMap) -> Result<Session> {
        Self::launch(client, Sequencer::from_since(&since), Added::Joined).await
    }

    async fn launch(client: Client, sequencer: Sequencer, added: Added) -> Result<Session> {
        let state = Arc::new(State {
            sequencer: Mutex::new(sequencer),
            reconnects: AtomicU64::new(0),
        });
        let (out, events) = mpsc::unbounded_channel();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let mut driver = Driver {
            client,
            state: Arc::clone(&state),
            out,
            syncs: 0,
        };
        let gateway = driver.connect_and_sync(added).await?;
        let driver = tokio::spawn(driver.run(gateway, command_rx));
        Ok(Session {
            state,
            events: tokio::sync::Mutex::new(events),
            commands,
            driver: Some(driver),
        })
    }

    /// The next applied event: per conversation in seq order, with no gaps
    /// and no duplicates, across reconnects.
    pub async fn next_event(&self, wait: Duration) -> Result<Event> {
        let next = timeout(wait, async { self.events.lock().await.recv().await })
            .await
            .map_err(|_| Error::Timeout)?;
        next.ok_or_else(|| Error::Closed {
            code: 1006,
            reason: "session driver stopped".into(),
        })
    }

    /// Conversation id -> highest applied seq. An event is applied when it
    /// is queued for [`Session::next_event`], so this may run ahead of what
    /// the caller has taken.
    pub fn applied(&self) -> SinceMap {
        self.state.sequencer().since_map()
    }

    /// How many times the session reconnected (and re-synced) successfully.
    pub fn reconnects(&self) -> u64 {
        self.state.reconnects.load(Ordering::Relaxed)
    }

    /// Drops the current socket without a close frame (a network cut). When
    /// this returns the old connection is gone; the session reconnects on
    /// its own.
    pub async fn drop_connection(&self) {
        let (ack, done) = oneshot::channel();
        if self.commands.send(Command::DropConnection(ack)).is_ok() {
            let _ = timeout(COMMAND_TIMEOUT, done).await;
        }
    }

    /// Closes the connection and stops the driver.
    pub async fn close(mut self) {
        let (ack, done) = oneshot::channel();
        if self.commands.send(Command::Close(ack)).is_ok() {
            let _ = timeout(COMMAND_TIMEOUT, done).await;
        }
        if let Some(mut driver) = self.driver.take()
            && timeout(COMMAND_TIMEOUT, &mut driver).await.is_err()
        {
            driver.abort();
        }
    }
}

impl Drop for Session {
    /// A dropped session stops reconnecting.
    fn drop(&mut self) {
        if let Some(driver) = &self.driver {
            driver.abort();
        }
    }
}

/// The background task behind a [`Session`].
struct Driver {
    client: Client,
    state: Arc<State>,
    out: mpsc::UnboundedSender<Event>,
    syncs: u64,
}

/// Why the live phase ended.
enum Exit {
    Close(Option<oneshot::Sender<()>>),
    Dropped(oneshot::Sender<()>),
    Lost(Error),
}

/// What woke the live loop.
enum Wake {
    Command(Option<Command>),
    /// Boxed: a frame is large, and this enum lives on every loop turn.
    Push(Box<Result<ServerFrame>>),
    Tick,
}

impl Driver {
    async fn run(mut self, gateway: Gateway, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut gateway = Some(gateway);
        loop {
            let gw = match gateway.take() {
                Some(gw) => gw,
                None => match self.reconnect(&mut commands).await {
                    Some(gw) => gw,
                    None => return,
                },
            };
            match self.live(&gw, &mut commands).await {
                Exit::Close(ack) => {
                    gw.close().await;
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    return;
                }
                Exit::Dropped(ack) => {
                    drop(gw);
                    let _ = ack.send(());
                }
                Exit::Lost(e) => tracing::info!(error = %e, "gateway connection lost"),
            }
        }
    }

    /// Handles pushes until the connection ends or a command arrives.
    async fn live(&self, gw: &Gateway, commands: &mut mpsc::UnboundedReceiver<Command>) -> Exit {
        let mut tick = tokio::time::interval(GAP_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake = tokio::select! {
                command = commands.recv() => Wake::Command(command),
                push = gw.recv_push() => Wake::Push(Box::new(push)),
                _ = tick.tick() => Wake::Tick,
            };
            match wake {
                Wake::Push(push) => match *push {
                    Ok(frame) => self.handle(frame, Added::Joined),
                    Err(Error::Decode(e)) => tracing::warn!(error = %e, "skipping a frame"),
                    Err(e) => return Exit::Lost(e),
                },
                Wake::Command(None) => return Exit::Close(None),
                Wake::Command(Some(Command::Close(ack))) => return Exit::Close(Some(ack)),
                Wake::Command(Some(Command::DropConnection(ack))) => return Exit::Dropped(ack),
                Wake::Tick => {
                    let due = self.state.sequencer().due(Instant::now(), GAP_PATIENCE);
                    for (id, _) in due {
                        self.catch_up(&id).await;
                    }
                }
            }
        }
    }

    /// Reconnects with jittered exponential backoff until it succeeds or
    /// the session is closed (`None`).
    async fn reconnect(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
    ) -> Option<Gateway> {
        let mut attempt = 0u32;
        loop {
            let pause = backoff::delay(attempt, backoff::random_unit());
            attempt = attempt.saturating_add(1);
            let result = tokio::select! {
                command = commands.recv() => match command {
                    // Nothing to drop while disconnected; start over.
                    Some(Command::DropConnection(ack)) => {
                        let _ = ack.send(());
                        continue;
                    }
                    Some(Command::Close(ack)) => {
                        let _ = ack.send(());
                        return None;
                    }
                    None => return None,
                },
                result = async {
                    tokio::time::sleep(pause).await;
                    self.connect_and_sync(Added::Joined).await
                } => result,
            };
            match result {
                Ok(gw) => {
                    self.state.reconnects.fetch_add(1, Ordering::Relaxed);
                    return Some(gw);
                }
                Err(e) => tracing::info!(error = %e, attempt, "reconnect failed"),
            }
        }
    }

    /// Connects, syncs with the applied seqs, applies what the sync pushes,
    /// and catches up over REST whatever the sync left out.
    async fn connect_and_sync(&mut self, added: Added) -> Result<Gateway> {
        let gateway = Gateway::connect(&self.client).await?;
        self.syncs += 1;
        // Our own ref, sent without registering a waiter, so that
        // `sync.done` arrives through the push queue in order with the
        // events pushed before it.
        let reference = format!("session-sync-{}", self.syncs);
        let since = self.state.sequencer().since_map();
        gateway
            .send_frame(&ClientFrame::Sync {
                reference: Some(reference.clone()),
                since,
            })
            .await?;
        let deadline = tokio::time::Instant::now() + SYNC_TIMEOUT;
        let resync = loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match gateway.next_push(left).await {
                Ok(ServerFrame::SyncDone {
                    reference: Some(r),
                    resync,
                }) if r == reference => break resync,
                Ok(ServerFrame::Error {
                    reference: Some(r),
                    error,
                }) if r == reference => return Err(Error::from_gateway(error)),
                Ok(frame) => self.handle(frame, added),
                Err(Error::Decode(e)) => tracing::warn!(error = %e, "skipping a frame"),
                Err(e) => return Err(e),
            }
        };
        let mut todo: BTreeSet<String> = resync.into_iter().collect();
        {
            let mut sequencer = self.state.sequencer();
            for id in &todo {
                if !sequencer.is_known(id) {
                    sequencer.track(id, 0, 0, Instant::now());
                }
            }
            todo.extend(sequencer.gaps().into_iter().map(|(id, _)| id));
        }
        for id in todo {
            self.catch_up(&id).await;
        }
        Ok(gateway)
    }

    /// Applies one push.
    fn handle(&self, frame: ServerFrame, added: Added) {
        let now = Instant::now();
        let released = {
            let mut sequencer = self.state.sequencer();
            match frame {
                ServerFrame::Event { event } => sequencer.offer(event, now),
                ServerFrame::ConversationAdded { conversation: c } => {
                    let baseline = match added {
                        Added::Latest => c.last_seq,
                        Added::Joined => c.joined_seq.saturating_sub(1),
                    };
                    sequencer.track(&c.id, baseline, c.last_seq, now)
                }
                ServerFrame::ConversationRemoved { conversation_id } => {
                    sequencer.forget(&conversation_id);
                    Vec::new()
                }
                _ => Vec::new(),
            }
        };
        self.emit(released);
    }

    /// Pages through `events?after=` from the applied seq until the server
    /// has nothing more. Failures leave the gap for a later attempt.
    async fn catch_up(&self, id: &str) {
        loop {
            let Some(after) = self.state.sequencer().applied(id) else {
                return;
            };
            let page = match self
                .client
                .events(id, Some(after), Some(CATCH_UP_PAGE))
                .await
            {
                Ok(page) => page,
                Err(e) if e.code() == Some(ErrorCode::NotFound) => {
                    // Not (or no longer) a member: nothing to follow.
                    self.state.sequencer().forget(id);
                    return;
                }
                Err(e) => {
                    tracing::warn!(conversation = id, error = %e, "catch-up failed");
                    self.state.sequencer().defer(id, Instant::now());
                    return;
                }
            };
            let released = self
                .state
                .sequencer()
                .fill(id, after, page.events, Instant::now());
            self.emit(released);
            let advanced = self
                .state
                .sequencer()
                .applied(id)
                .is_some_and(|now| now > after);
            if !page.has_more || !advanced {
                return;
            }
        }
    }

    fn emit(&self, events: Vec<Event>) {
        for event in events {
            // The receiver only goes away with the session, which aborts us.
            let _ = self.out.send(event);
        }
    }
}
