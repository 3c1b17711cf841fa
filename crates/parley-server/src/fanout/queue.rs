//! A connection's bounded outbound queue: any thread pushes (the fan-out,
//! the connection's own replies), one task pops (the connection's writer).
//!
//! Not a `tokio::sync::mpsc` channel: a bounded channel preallocates its
//! shared state (cache-padded, ~480 bytes) and a first block of 32 slots
//! (~510 bytes) per connection, idle or not, about 1 KiB of every idle
//! connection (W1, heaptrack). Here an idle connection holds an empty
//! `VecDeque` and a `Notify`; the deque grows only while frames wait. The
//! lock is held for a push or a pop, never across an await, and is
//! uncontended but for the writer and the fan-out meeting on one
//! connection.

use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

pub struct OutQueue<T> {
    state: Mutex<State<T>>,
    /// Wakes the writer. Only the writer waits on it, so `notify_one`
    /// (which keeps a permit when nobody waits yet) cannot be missed.
    ready: Notify,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// Set once the writer has gone: later pushes are refused.
    closed: bool,
}

/// Why a push was refused; the item is dropped either way.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// `capacity` items already wait.
    Full,
    /// The writer has gone.
    Closed,
}

impl<T> OutQueue<T> {
    pub fn new(capacity: usize) -> Self {
        OutQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
            }),
            ready: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while the lock is held (there is no code that can panic
        // under it) must not take the connection's queue down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item` without waiting.
    pub fn push(&self, item: T) -> Result<(), PushError> {
        {
            let mut s = self.lock();
            if s.closed {
                return Err(PushError::Closed);
            }
            if s.items.len() >= self.capacity {
                return Err(PushError::Full);
            }
            s.items.push_back(item);
        }
        self.ready.notify_one();
        Ok(())
    }

    /// The oldest waiting item, if any.
    pub fn try_pop(&self) -> Option<T> {
        self.lock().items.pop_front()
    }

    /// Waits for the oldest item. Cancel-safe: an item is only taken by
    /// the poll that returns it.
    pub async fn pop(&self) -> T {
        loop {
            if let Some(item) = self.try_pop() {
                return item;
            }
            self.ready.notified().await;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Refuses every later push and drops what waits (the writer has
    /// gone; nobody will send it).
    pub fn close(&self) {
        // Taken under the lock, dropped after it: dropping the last
        // reference to a shared event frees it, which need not hold up a
        // fan-out pushing to this connection meanwhile.
        let dropped = {
            let mut s = self.lock();
            s.closed = true;
            std::mem::take(&mut s.items)
        };
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn keeps_order_and_refuses_past_capacity_or_after_close() {
        let q = OutQueue::new(2);
        assert_eq!(q.push(1), Ok(()));
        assert_eq!(q.push(2), Ok(()));
        assert_eq!(q.push(3), Err(PushError::Full));
        assert_eq!(q.len(), 2);
        assert_eq!(q.try_pop(), Some(1));
        assert_eq!(q.push(4), Ok(()));
        assert_eq!(q.try_pop(), Some(2));
        assert_eq!(q.try_pop(), Some(4));
        assert!(q.is_empty());
        assert_eq!(q.push(5), Ok(()));
        q.close();
        assert!(q.is_empty(), "close drops what waits");
        assert_eq!(q.push(6), Err(PushError::Closed));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiting_pop_wakes_for_pushes_from_other_threads() {
        let q = Arc::new(OutQueue::new(10_000));
        let pusher = {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..5_000u32 {
                    while q.push(i).is_err() {
                        std::thread::yield_now();
                    }
                }
            })
        };
        for want in 0..5_000u32 {
            let got = tokio::time::timeout(Duration::from_secs(5), q.pop())
                .await
                .expect("a push was missed");
            assert_eq!(got, want);
        }
        pusher.join().expect("the pushing thread panicked");
    }
}
