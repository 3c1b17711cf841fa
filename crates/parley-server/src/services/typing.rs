//! Typing indicators (protocol.md §7): a start lasts 6 s unless renewed;
//! starts closer than 2 s apart are ignored (not errors); a send stops it.

use super::blocks::BlocksService;
use super::check_id;
use crate::error::AppResult;
use crate::fanout::Fanout;
use crate::ratelimit::{Action, Limiter};
use parley_protocol::ServerFrame;
use parley_store::{ConversationStore, Delivery};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub const TYPING_TTL: Duration = Duration::from_secs(6);
pub const MIN_START_INTERVAL: Duration = Duration::from_secs(2);

struct Entry {
    expires: Instant,
    last_start: Instant,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Start {
    /// Too soon after the previous start: nothing happens.
    Ignored,
    /// Already typing: the expiry moves, nobody is told.
    Renewed,
    /// Was not typing: the others are told.
    Started,
}

#[derive(Default)]
pub struct TypingTracker {
    // Keyed by (conversation, user). A std Mutex: never held across an await.
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl TypingTracker {
    pub fn start(&self, conv: &str, user: &str, now: Instant) -> Start {
        let Ok(mut map) = self.entries.lock() else {
            return Start::Ignored;
        };
        let key = (conv.to_string(), user.to_string());
        match map.get_mut(&key) {
            Some(e) if now.duration_since(e.last_start) < MIN_START_INTERVAL => Start::Ignored,
            Some(e) => {
                e.last_start = now;
                e.expires = now + TYPING_TTL;
                Start::Renewed
            }
            None => {
                map.insert(
                    key,
                    Entry {
                        expires: now + TYPING_TTL,
                        last_start: now,
                    },
                );
                Start::Started
            }
        }
    }

    /// Whether a start now would be ignored.
    pub fn too_soon(&self, conv: &str, user: &str, now: Instant) -> bool {
        self.entries.lock().is_ok_and(|map| {
            map.get(&(conv.to_string(), user.to_string()))
                .is_some_and(|e| now.duration_since(e.last_start) < MIN_START_INTERVAL)
        })
    }

    /// Returns whether the user was typing.
    pub fn stop(&self, conv: &str, user: &str) -> bool {
        self.entries
            .lock()
            .map(|mut m| m.remove(&(conv.to_string(), user.to_string())).is_some())
            .unwrap_or(false)
    }

    /// Removes and returns the states that expired.
    pub fn expired(&self, now: Instant) -> Vec<(String, String)> {
        let Ok(mut map) = self.entries.lock() else {
            return Vec::new();
        };
        let gone: Vec<(String, String)> = map
            .iter()
            .filter(|(_, e)| e.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            map.remove(k);
        }
        gone
    }
}

/// Typing indicators: who is typing where, pushed to the others, expired
/// by a job.
#[derive(Clone)]
pub struct TypingService {
    tracker: Arc<TypingTracker>,
    conversations: Arc<dyn ConversationStore>,
    blocks: BlocksService,
    fanout: Arc<dyn Fanout>,
    limiter: Limiter,
}

impl TypingService {
    pub fn new(
        conversations: Arc<dyn ConversationStore>,
        blocks: BlocksService,
        fanout: Arc<dyn Fanout>,
        limiter: Limiter,
    ) -> Self {
        TypingService {
            tracker: Arc::default(),
            conversations,
            blocks,
            fanout,
            limiter,
        }
    }

    /// `typing.start`: members only (a foreign id is `not_found`, and a
    /// typist who is not a member tells nobody anything); repeats within
    /// [`MIN_START_INTERVAL`] only renew.
    pub async fn start(&self, conv: &str, user: &str) -> AppResult<()> {
        check_id(conv, "conversation")?;
        self.conversations.member_ids(user, conv).await?;
        let now = Instant::now();
        // Starts the protocol ignores cost nothing; the others spend from
        // the user's typing budget (protocol.md §11).
        if self.tracker.too_soon(conv, user, now) {
            return Ok(());
        }
        self.limiter.spend(Action::Typing, user).await?;
        if self.tracker.start(conv, user, now) == Start::Started {
            self.push(conv, user, true).await;
        }
        Ok(())
    }

    /// `typing.stop`.
    pub async fn stop(&self, conv: &str, user: &str) -> AppResult<()> {
        check_id(conv, "conversation")?;
        self.conversations.member_ids(user, conv).await?;
        if self.tracker.stop(conv, user) {
            self.push(conv, user, false).await;
        }
        Ok(())
    }

    /// A message ends its sender's typing.
    pub async fn stop_on_send(&self, conv: &str, user: &str) {
        if self.tracker.stop(conv, user) {
            self.push(conv, user, false).await;
        }
    }

    async fn push(&self, conv: &str, user: &str, typing: bool) {
        let (members, hidden) = match (
            self.conversations.member_ids(user, conv).await,
            self.blocks.hidden_from(user).await,
        ) {
            (Ok(m), Ok(h)) => (m, h),
            _ => return,
        };
        let recipients: Vec<String> = members
            .into_iter()
            .filter(|m| m != user && !hidden.contains(m))
            .collect();
        if recipients.is_empty() {
            return;
        }
        let frame = ServerFrame::Typing {
            conversation_id: conv.to_string(),
            user_id: user.to_string(),
            typing,
        };
        if let Ok(bytes) = serde_json::to_vec(&frame) {
            self.fanout.publish(vec![Delivery::Ephemeral {
                recipients: Arc::from(recipients),
                frame: bytes.into(),
            }]);
        }
    }

    /// Announces expired indicators until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {
                    for (conv, user) in self.tracker.expired(Instant::now()) {
                        self.push(&conv, &user, false).await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_rate_limited_and_expire() {
        let t = TypingTracker::default();
        let now = Instant::now();
        assert_eq!(t.start("c", "u", now), Start::Started);
        assert_eq!(
            t.start("c", "u", now + Duration::from_millis(500)),
            Start::Ignored
        );
        assert_eq!(
            t.start("c", "u", now + Duration::from_secs(3)),
            Start::Renewed
        );
        assert!(
            t.expired(now + Duration::from_secs(8)).is_empty(),
            "renewed at 3 s: lasts until 9 s"
        );
        assert_eq!(
            t.expired(now + Duration::from_secs(9)),
            vec![("c".to_string(), "u".to_string())]
        );
        assert!(!t.stop("c", "u"));
    }
}
