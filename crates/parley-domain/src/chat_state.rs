//! A member's own organisation of their chats (docs/protocol.md, "Pinned
//! and archived chats"): pinned chats (at most [`MAX_PINNED`]) and archived
//! ones, which come back by themselves on a new message unless muted. Both
//! are per user, on every device, invisible to the other members, and
//! belong to one membership: leaving and rejoining starts clean.

use crate::conversations::MemberInfo;
use crate::error::{DomainError, DomainResult};
use parley_protocol::{ChatState, Timestamp};

/// How many chats one user may pin (as WhatsApp: a short list on top).
pub const MAX_PINNED: usize = 3;

/// One request: `PUT /conversations/{id}/pin` or `/archive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Pin(bool),
    Archive(bool),
}

/// The stored state of one chat for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Row {
    /// When it was pinned (ms); `None`: not pinned.
    pub pinned_at: Option<i64>,
    /// The last message seq it was archived at; `None`: not archived.
    pub archived_seq: Option<u64>,
}

/// Facts read under the lock.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The caller's membership; `None`: not a member (`not_found`).
    pub member: Option<MemberInfo>,
    /// The stored row if it belongs to this membership (same `joined_seq`).
    pub current: Row,
    /// How many other chats of this user are pinned now.
    pub pinned_elsewhere: usize,
    /// The conversation's last message.
    pub last_message_seq: Option<u64>,
}

/// What a change stores, for the membership it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub row: Row,
    pub member: MemberInfo,
}

/// What the change stores. Pinning keeps the first pin's time (a repeat
/// does not reorder) and un-archives; archiving remembers the last message
/// it hides (a later one brings the chat back) and unpins.
pub fn plan(facts: &Facts, change: Change, now: i64) -> DomainResult<Planned> {
    let member = facts
        .member
        .clone()
        .ok_or(DomainError::NotFound("conversation"))?;
    let cur = facts.current;
    let row = match change {
        Change::Pin(false) => Row {
            pinned_at: None,
            ..cur
        },
        Change::Pin(true) => {
            if cur.pinned_at.is_none() && facts.pinned_elsewhere >= MAX_PINNED {
                return Err(DomainError::Conflict(
                    "at most 3 chats can be pinned; unpin one first",
                ));
            }
            Row {
                pinned_at: Some(cur.pinned_at.unwrap_or(now)),
                archived_seq: None,
            }
        }
        Change::Archive(false) => Row {
            archived_seq: None,
            ..cur
        },
        Change::Archive(true) => Row {
            pinned_at: None,
            archived_seq: Some(facts.last_message_seq.unwrap_or(0)),
        },
    };
    Ok(Planned { row, member })
}

/// Whether a chat is in the Archived list now: archived, and no message
/// after the one it was archived at, unless it is muted (a muted chat stays
/// archived whatever arrives; when the mute ends, what arrived during it
/// brings the chat back).
pub fn is_archived(
    archived_seq: Option<u64>,
    last_message_seq: Option<u64>,
    muted_until: Option<i64>,
    now: i64,
) -> bool {
    let Some(at) = archived_seq else {
        return false;
    };
    let muted = muted_until.is_some_and(|until| until > now);
    muted || last_message_seq.unwrap_or(0) <= at
}

/// The state as the member's devices read it (the REST answer, the list
/// and the `chat.state` frame).
pub fn state(
    conversation_id: &str,
    row: Row,
    last_message_seq: Option<u64>,
    muted_until: Option<i64>,
    now: i64,
) -> ChatState {
    ChatState {
        conversation_id: conversation_id.to_string(),
        pinned_at: row.pinned_at.map(Timestamp),
        archived: is_archived(row.archived_seq, last_message_seq, muted_until, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::MemberRole;

    fn member() -> MemberInfo {
        MemberInfo {
            role: MemberRole::Member,
            joined_seq: 1,
            read_seq: 1,
            delivered_seq: 1,
            muted_until: None,
        }
    }

    fn facts(current: Row, pinned_elsewhere: usize) -> Facts {
        Facts {
            member: Some(member()),
            current,
            pinned_elsewhere,
            last_message_seq: Some(7),
        }
    }

    fn row(pinned_at: Option<i64>, archived_seq: Option<u64>) -> Row {
        Row {
            pinned_at,
            archived_seq,
        }
    }

    #[test]
    fn pins_up_to_the_limit_and_keeps_the_first_time() {
        let p = plan(&facts(row(None, Some(3)), 2), Change::Pin(true), 100)
            .expect("pin")
            .row;
        assert_eq!(p, row(Some(100), None), "pinning un-archives");
        assert_eq!(
            plan(&facts(row(None, None), 3), Change::Pin(true), 100).map(|p| p.row),
            Err(DomainError::Conflict(
                "at most 3 chats can be pinned; unpin one first"
            ))
        );
        let again = plan(&facts(row(Some(50), None), 3), Change::Pin(true), 100)
            .expect("repeat")
            .row;
        assert_eq!(again.pinned_at, Some(50), "a repeat keeps its place");
        let off = plan(&facts(row(Some(50), None), 3), Change::Pin(false), 100)
            .expect("unpin")
            .row;
        assert_eq!(off, row(None, None));
    }

    #[test]
    fn non_members_are_not_found() {
        let mut f = facts(Row::default(), 0);
        f.member = None;
        for change in [Change::Pin(true), Change::Archive(true), Change::Pin(false)] {
            assert_eq!(
                plan(&f, change, 1).map(|p| p.row),
                Err(DomainError::NotFound("conversation"))
            );
        }
    }

    #[test]
    fn archiving_unpins_and_a_new_message_brings_it_back_unless_muted() {
        let p = plan(&facts(row(Some(5), None), 0), Change::Archive(true), 1)
            .expect("archive")
            .row;
        assert_eq!(p, row(None, Some(7)));
        assert!(is_archived(Some(7), Some(7), None, 0));
        assert!(!is_archived(Some(7), Some(8), None, 0), "a new message");
        assert!(is_archived(Some(7), Some(8), Some(10), 5), "muted stays");
        assert!(!is_archived(Some(7), Some(8), Some(10), 11), "mute over");
        assert!(!is_archived(None, None, None, 0));
        assert!(is_archived(Some(0), None, None, 0), "an empty chat");
        let back = plan(&facts(row(None, Some(7)), 0), Change::Archive(false), 1)
            .expect("back")
            .row;
        assert_eq!(back, row(None, None));
        let s = state("c", row(None, Some(7)), Some(8), None, 0);
        assert!(!s.archived);
    }
}
