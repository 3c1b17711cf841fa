//! Progress lines on stderr for the long parts of a run (stdout is kept
//! for the table and the JSON line).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub struct Progress {
    what: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
}

impl Progress {
    pub fn new(what: &'static str, total: u64) -> Progress {
        Progress {
            what,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// One more done; prints every 10% (and only for sizeable totals).
    pub fn tick(&self) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let step = (self.total / 10).max(1);
        if self.total >= 1000 && n.is_multiple_of(step) {
            note(&format!(
                "{} {n}/{} ({:.1} s)",
                self.what,
                self.total,
                self.started.elapsed().as_secs_f64()
            ));
        }
    }

    pub fn done(&self) {
        if self.total >= 1000 {
            note(&format!(
                "{} done: {}/{} in {:.1} s",
                self.what,
                self.done.load(Ordering::Relaxed),
                self.total,
                self.started.elapsed().as_secs_f64()
            ));
        }
    }
}

/// One progress line.
pub fn note(line: &str) {
    eprintln!(
        "[parley-bench {:>8.1}s] {line}",
        crate::clock::now_us() as f64 / 1e6
    );
}
