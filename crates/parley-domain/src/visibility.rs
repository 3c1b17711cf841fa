//! What a caller may see. Anything else does not exist for them: it is
//! `not_found`, never `forbidden`, so that ids cannot be probed.

use crate::conversations::MemberInfo;
use crate::error::{DomainError, DomainResult};
use crate::messages::MessageRow;

/// A conversation is visible to its current members only.
pub fn require_member(member: Option<MemberInfo>) -> DomainResult<MemberInfo> {
    member.ok_or(DomainError::NotFound("conversation"))
}

/// The refusal for a message id that names nothing the caller may see.
pub const NO_MESSAGE: DomainError = DomainError::NotFound("message");

/// A message is visible to current members of its conversation, from the
/// seq at which they joined: history before they joined stays hidden.
pub fn require_visible_message(
    row: &MessageRow,
    viewer: Option<MemberInfo>,
) -> DomainResult<MemberInfo> {
    match viewer {
        Some(m) if row.seq >= m.joined_seq => Ok(m),
        _ => Err(NO_MESSAGE),
    }
}

/// The first seq a member may read: the one they joined at.
pub fn history_floor(member: &MemberInfo) -> u64 {
    member.joined_seq
}

/// Where an event read "after `after`" really starts for this member.
pub fn events_after(member: &MemberInfo, after: u64) -> u64 {
    after.max(member.joined_seq.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::tests::row;
    use parley_protocol::MemberRole;

    fn member(joined_seq: u64) -> MemberInfo {
        MemberInfo {
            role: MemberRole::Member,
            joined_seq,
            read_seq: joined_seq,
            delivered_seq: joined_seq,
            muted_until: None,
        }
    }

    #[test]
    fn messages_before_joining_are_not_found() {
        let r = row(5);
        assert_eq!(require_visible_message(&r, None), Err(NO_MESSAGE));
        assert_eq!(
            require_visible_message(&r, Some(member(6))),
            Err(NO_MESSAGE)
        );
        assert!(require_visible_message(&r, Some(member(5))).is_ok());
        assert_eq!(
            require_member(None),
            Err(DomainError::NotFound("conversation"))
        );
    }

    #[test]
    fn events_start_just_before_the_join() {
        assert_eq!(events_after(&member(10), 0), 9);
        assert_eq!(events_after(&member(10), 12), 12);
        assert_eq!(events_after(&member(1), 0), 0);
    }
}
