//! Per-conversation ordering of events: in seq order, no gaps, no
//! duplicates (protocol.md §5 guarantee 3, §8).
//!
//! Pure bookkeeping with the clock passed in, so that every rule is
//! unit-tested without a server. Events arrive from live pushes, sync
//! catch-up and REST pages, in any interleaving and with duplicates; the
//! sequencer releases an event only when every earlier visible seq of its
//! conversation has been released, buffers events that arrive ahead of a
//! gap, and says which gaps are overdue so that the caller fetches them over
//! REST.

use parley_protocol::{Event, SinceMap};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// Ordering state of every conversation the client follows.
#[derive(Debug, Default)]
pub struct Sequencer {
    convs: HashMap<String, Track>,
}

#[derive(Debug)]
struct Track {
    /// Highest seq released; everything at or below it is a duplicate.
    applied: u64,
    /// Events ahead of a gap, by seq.
    pending: BTreeMap<u64, Event>,
    /// Highest seq known to exist (from pushes or a conversation snapshot).
    known_last: u64,
    /// Whether the baseline came from somewhere authoritative (a since map,
    /// a conversation snapshot, a REST page). A conversation first seen
    /// through an event with seq > 1 is not: its gap is due at once.
    confirmed: bool,
    /// When the current gap was first seen (or last unsuccessfully filled).
    gap_since: Option<Instant>,
}

impl Track {
    fn new(applied: u64, confirmed: bool) -> Track {
        Track {
            applied,
            pending: BTreeMap::new(),
            known_last: applied,
            confirmed,
            gap_since: None,
        }
    }

    fn has_gap(&self) -> bool {
        self.known_last > self.applied
    }

    /// Releases buffered events that have become contiguous.
    fn drain(&mut self, out: &mut Vec<Event>) {
        while let Some(entry) = self.pending.first_entry() {
            let seq = *entry.key();
            if seq <= self.applied {
                entry.remove();
            } else if seq == self.applied + 1 {
                out.push(entry.remove());
                self.applied = seq;
            } else {
                break;
            }
        }
        self.known_last = self.known_last.max(self.applied);
    }

    fn update_gap(&mut self, now: Instant) {
        if self.has_gap() {
            self.gap_since.get_or_insert(now);
        } else {
            self.gap_since = None;
        }
    }

    fn offer(&mut self, event: Event, out: &mut Vec<Event>) {
        if event.seq <= self.applied {
            return;
        }
        self.known_last = self.known_last.max(event.seq);
        self.pending.entry(event.seq).or_insert(event);
        self.drain(out);
    }
}

impl Sequencer {
    pub fn new() -> Sequencer {
        Sequencer::default()
    }

    /// Starts from a known since-map (conversation id -> applied seq).
    pub fn from_since(since: &SinceMap) -> Sequencer {
        let convs = since
            .iter()
            .map(|(id, &seq)| {
                let applied = u64::try_from(seq).unwrap_or(0);
                (id.clone(), Track::new(applied, true))
            })
            .collect();
        Sequencer { convs }
    }

    /// The highest released seq of a conversation, if it is followed.
    pub fn applied(&self, conversation_id: &str) -> Option<u64> {
        self.convs.get(conversation_id).map(|t| t.applied)
    }

    pub fn is_known(&self, conversation_id: &str) -> bool {
        self.convs.contains_key(conversation_id)
    }

    /// Conversation id -> highest released seq: what `sync` sends.
    pub fn since_map(&self) -> SinceMap {
        self.convs
            .iter()
            .map(|(id, t)| (id.clone(), i64::try_from(t.applied).unwrap_or(i64::MAX)))
            .collect()
    }

    /// Follows a conversation from an authoritative snapshot: nothing at or
    /// below `baseline` will be released, and seqs up to `last_seq` exist
    /// (so a missing one is a gap). For a followed conversation the baseline
    /// only ever rises. Returns events this released.
    pub fn track(
        &mut self,
        conversation_id: &str,
        baseline: u64,
        last_seq: u64,
        now: Instant,
    ) -> Vec<Event> {
        let track = self
            .convs
            .entry(conversation_id.to_owned())
            .or_insert_with(|| Track::new(baseline, true));
        track.confirmed = true;
        track.applied = track.applied.max(baseline);
        track.known_last = track.known_last.max(last_seq);
        let mut out = Vec::new();
        track.drain(&mut out);
        track.update_gap(now);
        out
    }

    /// Takes one event from any source. Returns the events it released, in
    /// order: none for a duplicate or an event ahead of a gap, possibly
    /// several when it closes a gap. An event of an unknown conversation
    /// starts following it from seq 0 (unconfirmed, see [`Sequencer::due`]).
    pub fn offer(&mut self, event: Event, now: Instant) -> Vec<Event> {
        let track = self
            .convs
            .entry(event.conversation_id.clone())
            .or_insert_with(|| Track::new(0, false));
        let mut out = Vec::new();
        track.offer(event, &mut out);
        track.update_gap(now);
        out
    }

    /// Takes one REST page of `GET /conversations/{id}/events?after=after`.
    /// The page is the server's word on what is visible after `after`: if
    /// it starts beyond `after + 1`, the seqs in between are invisible to
    /// us (history before we joined) and are skipped, not waited for.
    pub fn fill(
        &mut self,
        conversation_id: &str,
        after: u64,
        events: Vec<Event>,
        now: Instant,
    ) -> Vec<Event> {
        let Some(track) = self.convs.get_mut(conversation_id) else {
            return Vec::new();
        };
        track.confirmed = true;
        if let Some(first) = events.first() {
            let skip_to = first.seq.saturating_sub(1);
            if track.applied >= after && track.applied < skip_to {
                track.applied = skip_to;
            }
        } else if track.pending.is_empty() {
            // Nothing after `after`: whatever made us expect more is stale.
            track.known_last = track.applied;
        }
        let mut out = Vec::new();
        for event in events {
            if event.conversation_id == conversation_id {
                track.offer(event, &mut out);
            }
        }
        track.drain(&mut out);
        // A gap the page did not close is retried after the usual patience,
        // not in a tight loop.
        track.gap_since = None;
        track.update_gap(now);
        out
    }

    /// Puts off a gap that could not be fetched (the server refused or was
    /// unreachable), so that it is retried after `patience`, not at once.
    pub fn defer(&mut self, conversation_id: &str, now: Instant) {
        if let Some(track) = self.convs.get_mut(conversation_id) {
            track.confirmed = true;
            if track.has_gap() {
                track.gap_since = Some(now);
            }
        }
    }

    /// Stops following a conversation (we left or were removed).
    pub fn forget(&mut self, conversation_id: &str) {
        self.convs.remove(conversation_id);
    }

    /// Conversations with a gap, with their applied seq: what to fetch over
    /// REST when a sync finishes.
    pub fn gaps(&self) -> Vec<(String, u64)> {
        let mut gaps: Vec<_> = self
            .convs
            .iter()
            .filter(|(_, t)| t.has_gap())
            .map(|(id, t)| (id.clone(), t.applied))
            .collect();
        gaps.sort();
        gaps
    }

    /// Gaps to fetch over REST now: those open for at least `patience`
    /// (the missing events did not arrive by push), and at once those of
    /// conversations we only know from an event.
    pub fn due(&self, now: Instant, patience: Duration) -> Vec<(String, u64)> {
        let mut due: Vec<_> = self
            .convs
            .iter()
            .filter(|(_, t)| {
                t.has_gap()
                    && (!t.confirmed
                        || t.gap_since
                            .is_some_and(|since| now.saturating_duration_since(since) >= patience))
            })
            .map(|(id, t)| (id.clone(), t.applied))
            .collect();
        due.sort();
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::Timestamp;
    use parley_protocol::events::{EventData, MessageDeleted};

    fn ev(conv: &str, seq: u64) -> Event {
        Event {
            conversation_id: conv.to_owned(),
            seq,
            actor_id: None,
            at: Timestamp(0),
            data: EventData::MessageDeleted(MessageDeleted {
                message_id: format!("m{seq}"),
                seq,
            }),
        }
    }

    fn seqs(events: &[Event]) -> Vec<u64> {
        events.iter().map(|e| e.seq).collect()
    }

    fn known(conv: &str, applied: i64) -> Sequencer {
        Sequencer::from_since(&SinceMap::from([(conv.to_owned(), applied)]))
    }

    const PATIENCE: Duration = Duration::from_secs(1);

    #[test]
    fn in_order_events_pass_straight_through() {
        let now = Instant::now();
        let mut s = known("c", 0);
        for seq in 1..=3 {
            assert_eq!(seqs(&s.offer(ev("c", seq), now)), vec![seq]);
        }
        assert_eq!(s.applied("c"), Some(3));
        assert!(s.gaps().is_empty());
    }

    #[test]
    fn out_of_order_events_wait_for_the_gap() {
        let now = Instant::now();
        let mut s = known("c", 0);
        assert_eq!(seqs(&s.offer(ev("c", 1), now)), vec![1]);
        assert!(s.offer(ev("c", 3), now).is_empty());
        assert!(s.offer(ev("c", 4), now).is_empty());
        assert_eq!(s.gaps(), vec![("c".to_owned(), 1)]);
        assert_eq!(seqs(&s.offer(ev("c", 2), now)), vec![2, 3, 4]);
        assert_eq!(s.applied("c"), Some(4));
        assert!(s.gaps().is_empty());
    }

    #[test]
    fn duplicates_are_dropped_released_or_pending() {
        let now = Instant::now();
        let mut s = known("c", 5);
        assert!(s.offer(ev("c", 5), now).is_empty(), "at the since seq");
        assert!(s.offer(ev("c", 2), now).is_empty(), "below it");
        assert_eq!(seqs(&s.offer(ev("c", 6), now)), vec![6]);
        assert!(s.offer(ev("c", 6), now).is_empty(), "released twice");
        assert!(s.offer(ev("c", 8), now).is_empty());
        assert!(s.offer(ev("c", 8), now).is_empty(), "pending twice");
        assert_eq!(seqs(&s.offer(ev("c", 7), now)), vec![7, 8]);
    }

    #[test]
    fn conversations_are_independent() {
        let now = Instant::now();
        let mut s =
            Sequencer::from_since(&SinceMap::from([("a".to_owned(), 0), ("b".to_owned(), 10)]));
        assert!(s.offer(ev("a", 2), now).is_empty());
        assert_eq!(seqs(&s.offer(ev("b", 11), now)), vec![11]);
        assert_eq!(s.gaps(), vec![("a".to_owned(), 0)]);
        assert_eq!(
            s.since_map(),
            SinceMap::from([("a".to_owned(), 0), ("b".to_owned(), 11)])
        );
    }

    #[test]
    fn gaps_are_due_after_patience() {
        let t0 = Instant::now();
        let mut s = known("c", 1);
        assert!(s.offer(ev("c", 3), t0).is_empty());
        assert!(s.due(t0, PATIENCE).is_empty());
        assert!(s.due(t0 + Duration::from_millis(999), PATIENCE).is_empty());
        assert_eq!(s.due(t0 + PATIENCE, PATIENCE), vec![("c".to_owned(), 1)]);
        // A later event does not restart the clock.
        assert!(
            s.offer(ev("c", 4), t0 + Duration::from_millis(500))
                .is_empty()
        );
        assert_eq!(s.due(t0 + PATIENCE, PATIENCE).len(), 1);
    }

    #[test]
    fn unknown_conversations_start_at_zero() {
        let now = Instant::now();
        let mut s = Sequencer::new();
        assert_eq!(seqs(&s.offer(ev("new", 1), now)), vec![1]);
        assert!(s.due(now, PATIENCE).is_empty());
        // Seen first in the middle: the gap is due at once.
        assert!(s.offer(ev("mid", 5), now).is_empty());
        assert_eq!(s.due(now, PATIENCE), vec![("mid".to_owned(), 0)]);
    }

    #[test]
    fn rest_pages_skip_invisible_history() {
        let now = Instant::now();
        let mut s = Sequencer::new();
        assert!(s.offer(ev("g", 12), now).is_empty());
        // We joined at seq 10: the server's page after 0 starts there.
        let page = vec![ev("g", 10), ev("g", 11), ev("g", 12), ev("g", 13)];
        assert_eq!(seqs(&s.fill("g", 0, page, now)), vec![10, 11, 12, 13]);
        assert_eq!(s.applied("g"), Some(13));
        assert!(s.gaps().is_empty());
    }

    #[test]
    fn rest_pages_close_gaps_and_dedupe_against_pushes() {
        let now = Instant::now();
        let mut s = known("c", 2);
        assert!(s.offer(ev("c", 5), now).is_empty());
        let page = vec![ev("c", 3), ev("c", 4), ev("c", 5)];
        assert_eq!(seqs(&s.fill("c", 2, page, now)), vec![3, 4, 5]);
        // The push of 4 arrives late and is dropped.
        assert!(s.offer(ev("c", 4), now).is_empty());
        assert_eq!(s.applied("c"), Some(5));
    }

    #[test]
    fn stale_pages_do_not_skip_anything() {
        let now = Instant::now();
        let mut s = known("c", 0);
        // A page for `after=0` that arrives after pushes moved us to 3 must
        // not be read as "seqs 1..5 are invisible".
        for seq in 1..=3 {
            s.offer(ev("c", seq), now);
        }
        let out = s.fill("c", 0, vec![ev("c", 2), ev("c", 3), ev("c", 4)], now);
        assert_eq!(seqs(&out), vec![4]);
    }

    #[test]
    fn unfilled_gaps_wait_for_patience_again() {
        let t0 = Instant::now();
        let mut s = known("c", 0);
        s.offer(ev("c", 3), t0);
        let t1 = t0 + PATIENCE;
        assert_eq!(s.due(t1, PATIENCE).len(), 1);
        // The page only had seq 1 (the rest not visible yet, say).
        assert_eq!(seqs(&s.fill("c", 0, vec![ev("c", 1)], t1)), vec![1]);
        assert!(s.due(t1, PATIENCE).is_empty());
        assert_eq!(s.due(t1 + PATIENCE, PATIENCE).len(), 1);
    }

    #[test]
    fn snapshots_raise_the_baseline_and_announce_gaps() {
        let now = Instant::now();
        let mut s = Sequencer::new();
        // conversation.added for a group we joined at seq 7, now at seq 9.
        assert!(s.track("g", 6, 9, now).is_empty());
        assert_eq!(s.gaps(), vec![("g".to_owned(), 6)]);
        assert!(
            s.due(now, PATIENCE).is_empty(),
            "confirmed: wait for pushes"
        );
        assert!(s.offer(ev("g", 5), now).is_empty());
        assert_eq!(seqs(&s.offer(ev("g", 7), now)), vec![7]);
        // A later snapshot never lowers the baseline...
        assert!(s.track("g", 0, 9, now).is_empty());
        assert_eq!(s.applied("g"), Some(7));
        // ...and a higher one releases what became contiguous.
        s.offer(ev("g", 10), now);
        assert_eq!(seqs(&s.track("g", 9, 10, now)), vec![10]);
    }

    #[test]
    fn deferred_gaps_wait_even_when_unconfirmed() {
        let t0 = Instant::now();
        let mut s = Sequencer::new();
        s.offer(ev("x", 4), t0);
        assert_eq!(s.due(t0, PATIENCE).len(), 1);
        s.defer("x", t0);
        assert!(s.due(t0, PATIENCE).is_empty());
        assert_eq!(s.due(t0 + PATIENCE, PATIENCE).len(), 1);
    }

    #[test]
    fn empty_pages_clear_stale_expectations() {
        let now = Instant::now();
        let mut s = Sequencer::new();
        s.track("c", 3, 4, now);
        assert_eq!(s.gaps().len(), 1);
        assert!(s.fill("c", 3, Vec::new(), now).is_empty());
        assert!(s.gaps().is_empty());
    }

    #[test]
    fn forgotten_conversations_ignore_pages() {
        let now = Instant::now();
        let mut s = known("c", 0);
        s.forget("c");
        assert!(s.fill("c", 0, vec![ev("c", 1)], now).is_empty());
        assert!(!s.is_known("c"));
        assert!(s.since_map().is_empty());
    }

    #[test]
    fn negative_since_values_count_as_zero() {
        let s = known("c", -4);
        assert_eq!(s.applied("c"), Some(0));
    }
}
