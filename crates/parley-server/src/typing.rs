//! Typing indicators (protocol.md §7): a start lasts 6 s unless renewed;
//! starts closer than 2 s apart are ignored (not errors); a send stops it.

use crate::app::AppState;
use crate::delivery::Delivery;
use parley_protocol::ServerFrame;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

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

impl AppState {
    /// Tells the other members (except those in a block with the typist).
    pub async fn push_typing(&self, conv: &str, user: &str, typing: bool) {
        let (members, hidden) = match (
            self.store.member_ids(user, conv).await,
            self.store.block_partners(user).await,
        ) {
            (Ok(m), Ok(h)) => (m, h),
            // Left the conversation meanwhile: tell whoever is still there.
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

    /// A send ends the sender's typing state.
    pub async fn stop_typing_on_send(&self, conv: &str, user: &str) {
        if self.typing.stop(conv, user) {
            self.push_typing(conv, user, false).await;
        }
    }
}

/// Expires typing states that were not renewed.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        for (conv, user) in state.typing.expired(Instant::now()) {
            state.push_typing(&conv, &user, false).await;
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
