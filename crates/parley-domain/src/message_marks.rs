//! A user's own marks on messages (docs/protocol.md, "Starred messages and
//! delete for me"): starred messages (a personal list) and messages deleted
//! for this user only (hidden on all their devices, still there for the
//! others). Only messages the user may read can be marked.

use crate::error::{DomainError, DomainResult};
use crate::messages::MessageRow;
use parley_protocol::message_marks::MessageMark;

/// One request: `PUT /messages/{id}/star` or `/hidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Star(bool),
    Hide(bool),
}

/// The stored marks of one message for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Marks {
    /// When it was starred (ms); `None`: not starred.
    pub starred_at: Option<i64>,
    /// When it was deleted for this user (ms); `None`: shown.
    pub hidden_at: Option<i64>,
}

/// What a change stores. Starring keeps the first star's time; a hidden
/// message cannot be starred, and hiding unstars (a message gone from the
/// chat should not linger in the starred list); a deleted message cannot
/// be starred (nothing is left to keep).
pub fn plan(message: &MessageRow, current: Marks, change: Change, now: i64) -> DomainResult<Marks> {
    Ok(match change {
        Change::Star(false) => Marks {
            starred_at: None,
            ..current
        },
        Change::Star(true) => {
            if message.deleted {
                return Err(DomainError::Conflict("a deleted message cannot be starred"));
            }
            if current.hidden_at.is_some() {
                return Err(DomainError::Conflict(
                    "a message deleted for you cannot be starred",
                ));
            }
            Marks {
                starred_at: Some(current.starred_at.unwrap_or(now)),
                ..current
            }
        }
        Change::Hide(true) => Marks {
            starred_at: None,
            hidden_at: Some(current.hidden_at.unwrap_or(now)),
        },
        Change::Hide(false) => Marks {
            hidden_at: None,
            ..current
        },
    })
}

/// The marks as the user's devices read them.
pub fn view(message: &MessageRow, marks: Marks) -> MessageMark {
    MessageMark {
        message_id: message.id.clone(),
        conversation_id: message.conversation_id.clone(),
        seq: message.seq,
        starred: marks.starred_at.is_some(),
        hidden: marks.hidden_at.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(deleted: bool) -> MessageRow {
        let mut m = crate::messages::tests::row(5);
        m.deleted = deleted;
        m
    }

    fn marks(starred_at: Option<i64>, hidden_at: Option<i64>) -> Marks {
        Marks {
            starred_at,
            hidden_at,
        }
    }

    #[test]
    fn starring_keeps_its_time_and_refuses_deleted_or_hidden_messages() {
        let m = message(false);
        assert_eq!(
            plan(&m, Marks::default(), Change::Star(true), 10),
            Ok(marks(Some(10), None))
        );
        assert_eq!(
            plan(&m, marks(Some(3), None), Change::Star(true), 10),
            Ok(marks(Some(3), None)),
            "a repeat keeps its place"
        );
        assert!(matches!(
            plan(&message(true), Marks::default(), Change::Star(true), 10),
            Err(DomainError::Conflict(_))
        ));
        assert!(matches!(
            plan(&m, marks(None, Some(4)), Change::Star(true), 10),
            Err(DomainError::Conflict(_))
        ));
        assert_eq!(
            plan(
                &message(true),
                marks(Some(3), None),
                Change::Star(false),
                10
            ),
            Ok(Marks::default()),
            "unstarring always works"
        );
    }

    #[test]
    fn hiding_unstars_and_undo_shows_again() {
        let m = message(false);
        let hidden = plan(&m, marks(Some(3), None), Change::Hide(true), 10).expect("hide");
        assert_eq!(hidden, marks(None, Some(10)));
        assert_eq!(
            plan(&m, hidden, Change::Hide(false), 11),
            Ok(Marks::default())
        );
        assert_eq!(
            plan(&message(true), Marks::default(), Change::Hide(true), 10),
            Ok(marks(None, Some(10))),
            "a tombstone can be deleted for me too"
        );
        let v = view(&m, hidden);
        assert!(v.hidden && !v.starred && v.seq == 5);
    }
}
