//! Counted places: at most `max` held at once per key (a peer address, a
//! user). A [`Slot`] gives its place back when dropped, however its holder
//! ends.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

pub struct Slots<K: Hash + Eq + Clone> {
    max: usize,
    // A std Mutex: held for one map update, never across an await.
    held: Mutex<HashMap<K, usize>>,
}

impl<K: Hash + Eq + Clone> Slots<K> {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Slots {
            max,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A place for `key`, or `None` when `key` already holds `max`.
    pub fn try_take(self: &Arc<Self>, key: K) -> Option<Slot<K>> {
        let mut held = self.held.lock().ok()?;
        let n = held.entry(key.clone()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            key,
        })
    }

    /// How many places `key` holds.
    pub fn held(&self, key: &K) -> usize {
        self.held
            .lock()
            .map(|h| h.get(key).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

/// One held place; dropping it frees it.
pub struct Slot<K: Hash + Eq + Clone> {
    slots: Arc<Slots<K>>,
    key: K,
}

impl<K: Hash + Eq + Clone> Drop for Slot<K> {
    fn drop(&mut self) {
        if let Ok(mut held) = self.slots.held.lock()
            && let Some(n) = held.get_mut(&self.key)
        {
            *n -= 1;
            if *n == 0 {
                // Keys with nothing held are removed: the map is as big as
                // the number of keys connected now.
                held.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_counted_per_key_and_given_back() {
        let s = Slots::new(2);
        let a1 = s.try_take("a").expect("1st");
        let _a2 = s.try_take("a").expect("2nd");
        assert!(s.try_take("a").is_none(), "3rd over the cap");
        let _b = s.try_take("b").expect("another key");
        drop(a1);
        assert_eq!(s.held(&"a"), 1);
        assert!(s.try_take("a").is_some());
        drop(_b);
        assert_eq!(s.held(&"b"), 0);
        assert!(s.held.lock().expect("lock").get("b").is_none());
    }
}
