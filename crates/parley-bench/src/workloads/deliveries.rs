//! The delivery measurement shared by W2, W4, the fan-out ceiling and the
//! Synapse shape: every `message.created` a connection receives from
//! someone else counts as one delivery, its latency read from the stamp in
//! the body; the sender's own copy is not a delivery.

use crate::clock::stamp_of;
use crate::conn::{ConnInfo, Sink};
use crate::frames::Event;
use crate::stats::Recorder;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

#[derive(Default)]
pub struct Deliveries {
    pub count: AtomicU64,
    pub gaps: AtomicU64,
    pub latencies: Recorder,
    /// Per message (by its stamp): recipients so far and the latest arrival.
    per_message: Option<Mutex<HashMap<u64, (u64, u64)>>>,
}

impl Deliveries {
    /// Also keeps, per message, how many got it and when the last did.
    pub fn tracking_last() -> Deliveries {
        Deliveries {
            per_message: Some(Mutex::default()),
            ..Deliveries::default()
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn gaps(&self) -> u64 {
        self.gaps.load(Ordering::Relaxed)
    }

    /// (recipients, last arrival in µs) of the message stamped `stamp`.
    pub fn message(&self, stamp: u64) -> (u64, u64) {
        self.per_message
            .as_ref()
            .and_then(|m| {
                m.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&stamp)
                    .copied()
            })
            .unwrap_or((0, 0))
    }
}

impl Sink for Deliveries {
    fn event(&self, conn: &ConnInfo, event: &Event<'_>, at_us: u64) {
        let Some(m) = event.message() else { return };
        if m.sender_id == conn.user_id.as_str() {
            return;
        }
        let Some(stamp) = m.text.as_deref().and_then(stamp_of) else {
            return;
        };
        self.count.fetch_add(1, Ordering::Relaxed);
        self.latencies.push(conn.idx, at_us.saturating_sub(stamp));
        if let Some(per) = &self.per_message {
            let mut per = per.lock().unwrap_or_else(PoisonError::into_inner);
            let e = per.entry(stamp).or_insert((0, 0));
            e.0 += 1;
            e.1 = e.1.max(at_us);
        }
    }

    fn gap(&self, _conn: &ConnInfo, missing: u64) {
        self.gaps.fetch_add(missing, Ordering::Relaxed);
    }
}

/// Waits until `count()` reaches `expected`, or nothing new arrived for
/// `quiet` (then whatever is missing is lost).
pub async fn drain(d: &Deliveries, expected: u64, quiet: std::time::Duration) {
    let mut last = d.count();
    let mut since = tokio::time::Instant::now();
    while d.count() < expected {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let now = d.count();
        if now != last {
            last = now;
            since = tokio::time::Instant::now();
        } else if since.elapsed() > quiet {
            break;
        }
    }
}
