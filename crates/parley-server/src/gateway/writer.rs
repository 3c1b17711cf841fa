//! The connection's writer task: the only place that writes to the socket.
//!
//! It keeps, per conversation, the highest seq it has sent (`cursors`), so
//! that events leave in seq order with no gaps: an older or repeated event
//! is dropped, and an event that arrives ahead of a gap has the gap filled
//! from storage first. `sync` runs here too, so catch-up events and live
//! events cannot overtake each other.

use crate::app::AppState;
use crate::fanout::{AddedOut, ConnHandle, EventOut, Outbound};
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use parley_protocol::gateway::close_code;
use parley_protocol::{ServerFrame, SinceMap, Timestamp};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How long live events wait for the client's first `sync` after `ready`,
/// so that a reconnecting client gets its catch-up before newer events.
const SYNC_HOLD: Duration = Duration::from_millis(300);
const SYNC_PAGE: u32 = 500;

pub struct WriterCtx {
    pub state: AppState,
    pub user_id: String,
    pub handle: Arc<ConnHandle>,
    pub sink: SplitSink<WebSocket, WsMessage>,
    /// The serialized `ready` frame (kept as bytes: the frame itself is
    /// large and this future lives as long as the connection).
    pub ready: Bytes,
    pub last_heard: Arc<AtomicI64>,
}

struct Writer {
    state: AppState,
    user_id: String,
    sink: SplitSink<WebSocket, WsMessage>,
    cursors: HashMap<Arc<str>, u64>,
    /// Says when the connection must close, even mid-write to a stalled
    /// socket.
    handle: Arc<ConnHandle>,
    /// Whether the client has sent a `sync` (and so knows its conversations).
    synced: bool,
    /// Frames handed to the socket since the last flush.
    unflushed: u32,
}

/// Frames written before a flush even while more are queued, so that a
/// steady stream still leaves in bounded bursts.
const MAX_UNFLUSHED: u32 = 32;

#[derive(Debug)]
struct Gone;

impl Writer {
    async fn write(&mut self, frame: Bytes) -> Result<(), Gone> {
        // Frames are UTF-8 JSON we serialized ourselves.
        let text = axum::extract::ws::Utf8Bytes::try_from(frame).map_err(|_| Gone)?;
        if self.handle.close_requested().is_some() {
            return Err(Gone);
        }
        // Fed, not sent: the frames queued together (an ack and the echo of
        // the same send, a burst of events) leave in one write to the
        // socket when the queue runs dry (see `flush`). Biased, so that the
        // close signal is only waited on when the socket is full.
        tokio::select! {
            biased;
            r = self.sink.feed(WsMessage::Text(text)) => r.map_err(|_| Gone)?,
            _ = self.handle.closing() => return Err(Gone),
        }
        self.unflushed += 1;
        if self.unflushed >= MAX_UNFLUSHED {
            self.flush().await?;
        }
        Ok(())
    }

    /// Puts every fed frame on the wire.
    async fn flush(&mut self) -> Result<(), Gone> {
        if self.unflushed == 0 {
            return Ok(());
        }
        tokio::select! {
            biased;
            r = self.sink.flush() => r.map_err(|_| Gone)?,
            _ = self.handle.closing() => return Err(Gone),
        }
        self.unflushed = 0;
        Ok(())
    }

    async fn event(&mut self, ev: &EventOut) -> Result<(), Gone> {
        let seq = ev.seq;
        match self.cursors.get(&ev.conversation_id).copied() {
            Some(c) if seq <= c => return Ok(()),
            Some(c) if seq > c + 1 => Box::pin(self.fill_gap(&ev.conversation_id, c, seq)).await?,
            _ => {}
        }
        self.write(ev.frame.clone()).await?;
        match self.cursors.get_mut(&ev.conversation_id) {
            Some(c) => *c = seq,
            None => {
                self.cursors.insert(ev.conversation_id.clone(), seq);
            }
        }
        Ok(())
    }

    /// Sends the events in (after, before) from storage.
    async fn fill_gap(&mut self, conv: &Arc<str>, after: u64, before: u64) -> Result<(), Gone> {
        let mut from = after;
        while from + 1 < before {
            let want = ((before - from - 1) as u32).min(SYNC_PAGE);
            let page = match self
                .state
                .services
                .messages
                .event_frames(&self.user_id, conv, from, want)
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "gap fill failed; closing so the client resyncs");
                    return Err(Gone);
                }
            };
            if page.is_empty() {
                break;
            }
            for (seq, frame) in page {
                if seq >= before {
                    break;
                }
                self.write(frame).await?;
                from = seq;
            }
        }
        self.cursors.insert(conv.clone(), before - 1);
        Ok(())
    }

    /// After a cross-process link outage: everything this connection may
    /// have missed, from storage, as if the client had synced from its
    /// cursors (conversations joined meanwhile are announced, left ones
    /// removed, only once the client has synced at least once).
    async fn refresh(&mut self) -> Result<(), Gone> {
        let memberships = self
            .state
            .services
            .conversations
            .memberships(&self.user_id)
            .await
            .map_err(|_| Gone)?;
        let current: std::collections::HashSet<&str> = memberships
            .iter()
            .map(|m| m.conversation_id.as_str())
            .collect();
        let gone: Vec<Arc<str>> = self
            .cursors
            .keys()
            .filter(|c| !current.contains(&***c))
            .cloned()
            .collect();
        for conv in gone {
            self.cursors.remove(&conv);
            if self.synced {
                self.frame(&ServerFrame::ConversationRemoved {
                    conversation_id: conv.to_string(),
                })
                .await?;
            }
        }
        for m in &memberships {
            let conv: Arc<str> = Arc::from(m.conversation_id.as_str());
            match self.cursors.get(&conv).copied() {
                Some(c) if m.last_seq > c => self.catch_up(&conv, c).await?,
                Some(_) => {}
                None if self.synced => {
                    self.announce(&conv).await?;
                }
                None => {}
            }
        }
        Ok(())
    }

    async fn sync(&mut self, reference: Option<String>, since: SinceMap) -> Result<(), Gone> {
        self.synced = true;
        let max_events = self.state.config.limits.sync_max_events;
        let memberships = match self
            .state
            .services
            .conversations
            .memberships(&self.user_id)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                let err = e.to_api();
                return self
                    .frame(&ServerFrame::Error {
                        reference,
                        error: err,
                    })
                    .await;
            }
        };
        let mut resync = Vec::new();
        for m in memberships {
            let conv: Arc<str> = Arc::from(m.conversation_id.as_str());
            match since.get(&m.conversation_id) {
                Some(&s) => {
                    let from = (s.max(0) as u64).max(m.joined_seq.saturating_sub(1));
                    if m.last_seq > from && m.last_seq - from > max_events {
                        resync.push(m.conversation_id.clone());
                    } else if m.last_seq > from {
                        self.catch_up(&conv, from).await?;
                    }
                    let c = self.cursors.entry(conv).or_insert(0);
                    *c = (*c).max(m.last_seq);
                }
                None => {
                    self.announce(&conv).await?;
                }
            }
        }
        self.frame(&ServerFrame::SyncDone { reference, resync })
            .await
    }

    /// Every stored event after `from`, in order, however many pages.
    async fn catch_up(&mut self, conv: &Arc<str>, mut from: u64) -> Result<(), Gone> {
        loop {
            let page = match self
                .state
                .services
                .messages
                .event_frames(&self.user_id, conv, from, SYNC_PAGE)
                .await
            {
                Ok(p) => p,
                Err(_) => return Err(Gone),
            };
            let n = page.len();
            for (seq, frame) in page {
                self.write(frame).await?;
                from = seq;
            }
            let c = self.cursors.entry(conv.clone()).or_insert(0);
            *c = (*c).max(from);
            if n < SYNC_PAGE as usize {
                return Ok(());
            }
        }
    }

    /// `conversation.added` with the conversation as the user sees it now,
    /// peer presence included; the cursor continues from its `last_seq`.
    /// False when the conversation could not be read (left meanwhile, or
    /// storage unavailable).
    async fn announce(&mut self, conv: &Arc<str>) -> Result<bool, Gone> {
        let Ok(view) = self
            .state
            .services
            .conversations
            .get(&self.user_id, conv)
            .await
        else {
            return Ok(false);
        };
        let last_seq = view.last_seq;
        self.frame(&ServerFrame::ConversationAdded { conversation: view })
            .await?;
        let c = self.cursors.entry(conv.clone()).or_insert(0);
        *c = (*c).max(last_seq);
        Ok(true)
    }

    async fn frame(&mut self, frame: &ServerFrame) -> Result<(), Gone> {
        let bytes = serde_json::to_vec(frame).map_err(|_| Gone)?;
        self.write(bytes.into()).await
    }

    /// Rare, large steps (sync, refresh, gap fill, announcing) are boxed:
    /// an async fn's state is as big as its biggest await, and every idle
    /// connection keeps this future resident (W1 memory per connection).
    async fn handle(&mut self, item: Outbound) -> Result<(), Gone> {
        match item {
            Outbound::Frame(b) => self.write(Arc::unwrap_or_clone(b)).await,
            Outbound::Event(ev) => {
                self.event(&ev).await?;
                crate::metrics::frame_delivered(ev.queued_at.elapsed());
                Ok(())
            }
            Outbound::Added(added) => {
                let AddedOut {
                    conversation_id,
                    last_seq,
                    frame,
                } = *added;
                // Already announced (by a `sync` that ran while this was
                // held): once is enough.
                if self
                    .cursors
                    .get(&conversation_id)
                    .is_some_and(|c| *c >= last_seq)
                {
                    return Ok(());
                }
                // Sent fresh rather than as stored: the stored view could
                // not know the peer's presence, which lives outside storage.
                if !Box::pin(self.announce(&conversation_id)).await? {
                    self.write(frame).await?;
                    self.cursors.insert(conversation_id, last_seq);
                }
                Ok(())
            }
            Outbound::Removed(removed) => {
                self.cursors.remove(&removed.conversation_id);
                self.write(removed.frame).await
            }
            Outbound::Sync(req) => Box::pin(self.sync(req.reference, req.since)).await,
            Outbound::Refresh => Box::pin(self.refresh()).await,
        }
    }
}

/// What the heartbeat timer does when it fires, `silent` ms after the
/// connection was last heard from, and when it fires next.
#[derive(Debug, PartialEq, Eq)]
enum Heartbeat {
    /// Heard from within the interval: no ping; look again when it ends.
    Wait(Duration),
    /// Quiet for an interval: ping, and close if still quiet at two.
    Ping(Duration),
    /// Quiet for two intervals.
    Close,
}

fn heartbeat_due(silent_ms: i64, interval: Duration) -> Heartbeat {
    let every = interval.as_millis() as i64;
    let silent = silent_ms.max(0);
    if silent >= 2 * every {
        Heartbeat::Close
    } else if silent >= every {
        Heartbeat::Ping(Duration::from_millis((2 * every - silent) as u64))
    } else {
        Heartbeat::Wait(Duration::from_millis((every - silent) as u64))
    }
}

struct StopQueue(Arc<ConnHandle>);

impl Drop for StopQueue {
    fn drop(&mut self) {
        self.0.stop_queue();
    }
}

pub async fn run(ctx: WriterCtx) {
    let WriterCtx {
        state,
        user_id,
        handle,
        sink,
        ready,
        last_heard,
    } = ctx;
    // However the writer ends (returned, or aborted by the reader), pushes
    // after it are refused rather than left to wait for nobody.
    let _stop = StopQueue(handle.clone());
    let heartbeat = Duration::from_millis(state.config.heartbeat_ms);
    let mut w = Writer {
        state,
        user_id,
        sink,
        cursors: HashMap::new(),
        handle: handle.clone(),
        synced: false,
        unflushed: 0,
    };
    if w.write(ready).await.is_err() {
        return;
    }
    // One timer per connection: first it ends the hold on live events
    // (SYNC_HOLD), then it serves the heartbeat. protocol.md §6: a ping only
    // to a connection heard from (any frame, a pong) no later than one
    // interval ago; a busy connection is never pinged, and one silent for
    // two intervals is closed. The timer is moved to when the next decision
    // is due. (A second timer for the hold cost every idle connection its
    // room in this future, and a timer built and dropped per queued item.)
    let started = Instant::now();
    let wake = tokio::time::sleep_until(started + SYNC_HOLD);
    tokio::pin!(wake);
    let mut holding = true;
    let mut held: Vec<Outbound> = Vec::new();
    let mut close_code = 1000u16;
    loop {
        // Nothing fed waits on the queue: once it is empty, flush.
        if handle.nothing_queued() && w.flush().await.is_err() {
            break;
        }
        tokio::select! {
            biased;
            _ = handle.closing() => {
                close_code = handle.close_requested().unwrap_or(1000);
                break;
            }
            _ = &mut wake => {
                if holding {
                    // No `sync` within the hold: live events flow from here.
                    holding = false;
                    wake.as_mut().reset(started + heartbeat);
                    let mut failed = false;
                    for item in held.drain(..) {
                        if w.handle(item).await.is_err() { failed = true; break; }
                    }
                    if failed { break; }
                    continue;
                }
                let silent = Timestamp::now().millis() - last_heard.load(Ordering::Relaxed);
                match heartbeat_due(silent, heartbeat) {
                    Heartbeat::Close => {
                        close_code = close_code::GOING_AWAY;
                        break;
                    }
                    Heartbeat::Ping(next) => {
                        if w.sink.send(WsMessage::Ping(Bytes::new())).await.is_err() { break; }
                        wake.as_mut().reset(Instant::now() + next);
                    }
                    Heartbeat::Wait(next) => wake.as_mut().reset(Instant::now() + next),
                }
            }
            item = handle.next_queued() => {
                let result = match item {
                    Outbound::Sync(req) => {
                        let r = Box::pin(w.sync(req.reference, req.since)).await;
                        if holding {
                            holding = false;
                            let mut r2 = r;
                            for item in held.drain(..) {
                                if r2.is_err() { break; }
                                r2 = w.handle(item).await;
                            }
                            r2
                        } else {
                            r
                        }
                    }
                    ev @ (Outbound::Event(_) | Outbound::Added(_)) if holding => {
                        if held.len() >= w.state.config.limits.outbound_queue {
                            close_code = close_code::TOO_SLOW;
                            break;
                        }
                        held.push(ev);
                        Ok(())
                    }
                    other => w.handle(other).await,
                };
                if result.is_err() { break; }
            }
        }
    }
    if let Some(code) = handle.close_requested() {
        close_code = code;
    }
    let reason = match close_code {
        close_code::TOO_SLOW => "too slow: outbound queue overflowed; reconnect and sync",
        close_code::FRAME_TOO_LARGE => "frame too large",
        close_code::PROTOCOL_ERROR => "protocol error",
        close_code::GOING_AWAY => "going away",
        close_code::UNAUTHENTICATED => "unauthenticated",
        _ => "",
    };
    if close_code != close_code::TOO_SLOW {
        // Replies already queued (errors for the frames that led to a 4400,
        // acks before a shutdown) still go out before the close frame.
        let drain = async {
            while let Some(item) = handle.try_next_queued() {
                if let Outbound::Frame(frame) = item
                    && let Ok(text) =
                        axum::extract::ws::Utf8Bytes::try_from(Arc::unwrap_or_clone(frame))
                    && w.sink.send(WsMessage::Text(text)).await.is_err()
                {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    }
    let close = WsMessage::Close(Some(CloseFrame {
        code: close_code,
        reason: reason.into(),
    }));
    // A stalled peer gets a little while to read up to the close frame,
    // then the socket is dropped.
    let _ = tokio::time::timeout(Duration::from_secs(15), w.sink.send(close)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), w.sink.close()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_only_after_an_interval_of_silence_and_closes_after_two() {
        let hb = Duration::from_millis(25_000);
        assert_eq!(
            heartbeat_due(1_000, hb),
            Heartbeat::Wait(Duration::from_millis(24_000)),
            "busy: no ping"
        );
        assert_eq!(
            heartbeat_due(25_000, hb),
            Heartbeat::Ping(Duration::from_millis(25_000))
        );
        assert_eq!(
            heartbeat_due(30_000, hb),
            Heartbeat::Ping(Duration::from_millis(20_000)),
            "close due at 50 s of silence"
        );
        assert_eq!(heartbeat_due(50_000, hb), Heartbeat::Close);
        assert_eq!(
            heartbeat_due(-5, hb),
            Heartbeat::Wait(hb),
            "a clock step back is not silence"
        );
    }
}
