//! Latencies recorded from many connection tasks at once: sharded so that
//! thousands of tasks do not queue on one lock.

use std::sync::{Mutex, PoisonError};

pub struct Recorder {
    shards: Vec<Mutex<Vec<u64>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            shards: (0..64).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }
}

impl Recorder {
    pub fn push(&self, key: usize, us: u64) {
        self.shards[key % self.shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(us);
    }

    /// Everything recorded so far, unsorted; the recorder is emptied.
    pub fn take(&self) -> Vec<u64> {
        let mut all = Vec::new();
        for s in &self.shards {
            all.append(&mut s.lock().unwrap_or_else(PoisonError::into_inner));
        }
        all
    }
}
