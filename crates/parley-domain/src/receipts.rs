//! Watermarks, receipts and message status (protocol.md §4, §7).

use crate::conversations::MemberInfo;
use parley_protocol::MessageStatus;

/// The lowest delivered and read watermarks among the other current
/// members (those not in a block with the viewer): a message at or below
/// them is delivered / read for everyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OthersWatermarks {
    pub delivered: Option<u64>,
    pub read: Option<u64>,
}

/// `status` of the viewer's own message at `seq`.
pub fn status_for(seq: u64, marks: OthersWatermarks) -> MessageStatus {
    match (marks.read, marks.delivered) {
        (Some(r), _) if r >= seq => MessageStatus::Read,
        (_, Some(d)) if d >= seq => MessageStatus::Delivered,
        _ => MessageStatus::Sent,
    }
}

/// Which watermark moved (stored with its time, for "message info").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Delivered,
    Read,
}

impl Mark {
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Delivered => "delivered",
            Mark::Read => "read",
        }
    }
}

/// New watermarks and the moves to record, delivered first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkPlan {
    pub read: u64,
    pub delivered: u64,
    pub moves: Vec<(Mark, u64)>,
}

/// Watermarks only move forward and never past the last seq; reading
/// implies delivery. `None`: nothing moves (and no receipt is sent).
pub fn move_watermarks(
    me: &MemberInfo,
    last_seq: u64,
    seq: u64,
    delivered_only: bool,
) -> Option<WatermarkPlan> {
    let clamped = seq.min(last_seq);
    let (read, delivered) = if delivered_only {
        (me.read_seq, me.delivered_seq.max(clamped))
    } else {
        let r = me.read_seq.max(clamped);
        (r, me.delivered_seq.max(r))
    };
    let mut moves = Vec::new();
    if delivered != me.delivered_seq {
        moves.push((Mark::Delivered, delivered));
    }
    if read != me.read_seq {
        moves.push((Mark::Read, read));
    }
    (!moves.is_empty()).then_some(WatermarkPlan {
        read,
        delivered,
        moves,
    })
}

/// A sender has read what they send (protocol.md §7): both watermarks
/// move to the new message's `seq` and the move is announced like any
/// read. Its time is recorded by the message itself (its `created_at`), so
/// nothing goes to the moves table: a receipt's `read_at` is the earliest
/// of the member's recorded moves and their own messages at or after the
/// seq. (Two rows and a random index insert per send cost the SQLite
/// writer a third of its throughput in W3.)
pub fn on_own_send(seq: u64) -> WatermarkPlan {
    WatermarkPlan {
        read: seq,
        delivered: seq,
        moves: Vec::new(),
    }
}

/// Who hears that `user`'s watermarks moved: the other current members,
/// except those in a block with them.
pub fn receipt_recipients(members: &[String], user: &str, hidden: &[String]) -> Vec<String> {
    members
        .iter()
        .filter(|u| u.as_str() != user && !hidden.contains(u))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::MemberRole;

    fn me(read: u64, delivered: u64) -> MemberInfo {
        MemberInfo {
            role: MemberRole::Member,
            joined_seq: 1,
            read_seq: read,
            delivered_seq: delivered,
            muted_until: None,
        }
    }

    #[test]
    fn watermarks_move_forward_clamped_and_read_implies_delivered() {
        let p = move_watermarks(&me(2, 3), 10, 50, false).expect("moves");
        assert_eq!((p.read, p.delivered), (10, 10), "clamped to last_seq");
        assert_eq!(p.moves, [(Mark::Delivered, 10), (Mark::Read, 10)]);
        assert_eq!(move_watermarks(&me(5, 5), 10, 4, false), None, "never back");
        let d = move_watermarks(&me(2, 3), 10, 6, true).expect("delivered");
        assert_eq!((d.read, d.delivered), (2, 6));
        assert_eq!(d.moves, [(Mark::Delivered, 6)]);
        let r = move_watermarks(&me(2, 8), 10, 5, false).expect("read");
        assert_eq!((r.read, r.delivered), (5, 8));
        assert_eq!(r.moves, [(Mark::Read, 5)]);
    }

    #[test]
    fn status_is_the_furthest_everyone_reached() {
        let m = |d, r| OthersWatermarks {
            delivered: d,
            read: r,
        };
        assert_eq!(status_for(5, m(Some(5), Some(4))), MessageStatus::Delivered);
        assert_eq!(status_for(5, m(Some(9), Some(5))), MessageStatus::Read);
        assert_eq!(status_for(5, m(Some(4), Some(4))), MessageStatus::Sent);
        assert_eq!(status_for(5, m(None, None)), MessageStatus::Sent);
    }

    #[test]
    fn receipts_skip_the_reader_and_blocks() {
        let members: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(receipt_recipients(&members, "a", &["c".to_string()]), ["b"]);
    }
}
