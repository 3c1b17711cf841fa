//! Direct and group conversations, their members and roles (protocol.md
//! §4). Each write is a function from the facts its backend read under
//! its lock to the plan it applies.

use crate::NewEvent;
use crate::error::{DomainError, DomainResult};
use crate::visibility::require_member;
use parley_protocol::events::{
    ConversationCreated, ConversationUpdated, EventData, MemberJoined, MemberLeft,
    MemberRoleChanged,
};
use parley_protocol::{Conversation, ConversationKind, MemberRole, Message, Timestamp, User};

/// A current member's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInfo {
    pub role: MemberRole,
    pub joined_seq: u64,
    pub read_seq: u64,
    pub delivered_seq: u64,
    pub muted_until: Option<i64>,
}

impl MemberInfo {
    /// Owners and admins manage a group (title, avatar, members).
    pub fn can_manage(&self) -> bool {
        matches!(self.role, MemberRole::Owner | MemberRole::Admin)
    }
}

/// The unique key of the direct conversation between two users: one per
/// pair, whichever of them opens it.
pub fn direct_key(a: &str, b: &str) -> String {
    if a < b {
        format!("{a}:{b}")
    } else {
        format!("{b}:{a}")
    }
}

/// A conversation to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConversation {
    pub kind: ConversationKind,
    pub title: Option<String>,
    pub direct_key: Option<String>,
    /// Members to insert, in order, each joining at seq 1 (an id listed
    /// twice is inserted twice: the second insert wins).
    pub members: Vec<(String, MemberRole)>,
    /// `conversation.created`, seq 1.
    pub created: NewEvent,
    /// Who gets `conversation.added`, in order, before the event.
    pub added: Vec<String>,
}

/// What opening a direct conversation needs to know.
#[derive(Debug, Clone, Default)]
pub struct DirectFacts {
    pub peer_exists: bool,
    pub blocked: bool,
    /// The conversation of this pair, if there is one.
    pub existing: Option<String>,
}

// A plan lives for one write, on the stack: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum DirectPlan {
    Existing(String),
    Create(NewConversation),
}

/// `POST /conversations` with `kind: direct`: the pair's one conversation.
pub fn open_direct(me: &str, peer: &str, facts: DirectFacts) -> DomainResult<DirectPlan> {
    if me == peer {
        return Err(DomainError::invalid(
            "user_id",
            "cannot start a direct conversation with yourself",
        ));
    }
    if !facts.peer_exists {
        return Err(DomainError::NotFound("user"));
    }
    if facts.blocked {
        return Err(DomainError::Blocked);
    }
    if let Some(existing) = facts.existing {
        return Ok(DirectPlan::Existing(existing));
    }
    let both = vec![me.to_string(), peer.to_string()];
    Ok(DirectPlan::Create(NewConversation {
        kind: ConversationKind::Direct,
        title: None,
        direct_key: Some(direct_key(me, peer)),
        members: both
            .iter()
            .map(|u| (u.clone(), MemberRole::Member))
            .collect(),
        created: NewEvent::by(
            me,
            EventData::ConversationCreated(ConversationCreated {
                kind: ConversationKind::Direct,
                member_ids: both.clone(),
                title: None,
            }),
        ),
        added: both,
    }))
}

/// Someone a write would bring into a group.
#[derive(Debug, Clone)]
pub struct Invitee {
    pub user_id: String,
    pub exists: bool,
    /// A block between them and the one inviting them.
    pub blocked: bool,
}

/// `POST /conversations` with `kind: group`: the creator owns it.
pub fn create_group(
    creator: &str,
    title: &str,
    invitees: &[Invitee],
) -> DomainResult<NewConversation> {
    for i in invitees {
        if !i.exists {
            return Err(DomainError::NotFound("user"));
        }
        if i.blocked {
            return Err(DomainError::Blocked);
        }
    }
    let mut all = vec![creator.to_string()];
    all.extend(invitees.iter().map(|i| i.user_id.clone()));
    let mut members = vec![(creator.to_string(), MemberRole::Owner)];
    members.extend(
        invitees
            .iter()
            .map(|i| (i.user_id.clone(), MemberRole::Member)),
    );
    Ok(NewConversation {
        kind: ConversationKind::Group,
        title: Some(title.to_string()),
        direct_key: None,
        members,
        created: NewEvent::by(
            creator,
            EventData::ConversationCreated(ConversationCreated {
                kind: ConversationKind::Group,
                member_ids: all.clone(),
                title: Some(title.to_string()),
            }),
        ),
        added: all,
    })
}

/// The conversation and the acting member, as read under the lock.
#[derive(Debug, Clone)]
pub struct GroupFacts {
    /// `None`: there is no such conversation.
    pub kind: Option<ConversationKind>,
    pub actor: Option<MemberInfo>,
}

impl GroupFacts {
    /// The actor's membership and the kind, or `not_found`.
    fn visible(&self) -> DomainResult<(MemberInfo, ConversationKind)> {
        let me = require_member(self.actor.clone())?;
        let kind = self.kind.ok_or(DomainError::NotFound("conversation"))?;
        Ok((me, kind))
    }
}

/// What `PATCH /conversations/{id}` changes.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    pub title: Option<String>,
    /// `Some(None)` clears the avatar.
    pub avatar_url: Option<Option<String>>,
    /// `conversation.updated`, unless nothing changes.
    pub event: Option<NewEvent>,
}

pub fn update_group(
    actor: &str,
    facts: &GroupFacts,
    title: Option<String>,
    avatar_url: Option<String>,
) -> DomainResult<UpdatePlan> {
    let (me, kind) = facts.visible()?;
    if kind != ConversationKind::Group {
        return Err(DomainError::Forbidden("only groups can be renamed"));
    }
    if !me.can_manage() {
        return Err(DomainError::Forbidden(
            "only the owner or an admin can change the group",
        ));
    }
    let avatar_url = avatar_url.map(|a| if a.is_empty() { None } else { Some(a) });
    let data = ConversationUpdated {
        avatar_url: avatar_url.clone(),
        title: title.clone(),
    };
    let event =
        (!data.is_empty()).then(|| NewEvent::by(actor, EventData::ConversationUpdated(data)));
    Ok(UpdatePlan {
        title,
        avatar_url,
        event,
    })
}

/// A user `add_members` was asked to add.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub user_id: String,
    pub exists: bool,
    /// A block between them and the actor.
    pub blocked: bool,
    /// Already a current member (then nothing happens for them).
    pub is_member: bool,
}

#[derive(Debug, Clone)]
pub struct AddFacts {
    pub group: GroupFacts,
    pub candidates: Vec<Candidate>,
    /// Current members.
    pub member_count: usize,
}

/// One member to add: insert them with the seq of their join event as
/// `joined_seq` (so they receive it), send them `conversation.added`, then
/// append the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Joining {
    pub user_id: String,
    pub event: NewEvent,
}

pub fn add_members(actor: &str, facts: &AddFacts, max_members: u32) -> DomainResult<Vec<Joining>> {
    let (me, kind) = facts.group.visible()?;
    if kind != ConversationKind::Group {
        return Err(DomainError::Forbidden(
            "members can only be added to groups",
        ));
    }
    if !me.can_manage() {
        return Err(DomainError::Forbidden(
            "only the owner or an admin can add members",
        ));
    }
    let mut new: Vec<&str> = Vec::new();
    for c in &facts.candidates {
        if !c.exists {
            return Err(DomainError::NotFound("user"));
        }
        if c.blocked {
            return Err(DomainError::Blocked);
        }
        if !c.is_member && !new.contains(&c.user_id.as_str()) {
            new.push(&c.user_id);
        }
    }
    if facts.member_count + new.len() > max_members as usize {
        return Err(DomainError::invalid(
            "user_ids",
            "the group would exceed its member limit",
        ));
    }
    Ok(new
        .into_iter()
        .map(|u| Joining {
            user_id: u.to_string(),
            event: NewEvent::by(
                actor,
                EventData::MemberJoined(MemberJoined {
                    added_by: actor.to_string(),
                    role: MemberRole::Member,
                    user_id: u.to_string(),
                }),
            ),
        })
        .collect())
}

/// A member as the hand-over of ownership ranks them.
#[derive(Debug, Clone)]
pub struct Ranked {
    pub user_id: String,
    pub role: MemberRole,
    pub joined_seq: u64,
    pub joined_at: i64,
}

#[derive(Debug, Clone)]
pub struct RemoveFacts {
    pub group: GroupFacts,
    pub target: Option<MemberInfo>,
    /// The current members other than the target.
    pub remaining: Vec<Ranked>,
}

/// Deactivate the target, send them `conversation.removed`, append
/// `member.left`; then, if the owner left, make the heir owner.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovePlan {
    pub left: NewEvent,
    pub heir: Option<(String, NewEvent)>,
}

/// Removes `target` (or leaves, when `actor == target`).
pub fn remove_member(actor: &str, target: &str, facts: &RemoveFacts) -> DomainResult<RemovePlan> {
    let (me, kind) = facts.group.visible()?;
    let them = facts
        .target
        .as_ref()
        .ok_or(DomainError::NotFound("member"))?;
    if kind != ConversationKind::Group {
        return Err(DomainError::Forbidden(
            "members can only leave or be removed from groups",
        ));
    }
    let leaving = actor == target;
    if !leaving {
        let allowed = matches!(
            (me.role, them.role),
            (MemberRole::Owner, _) | (MemberRole::Admin, MemberRole::Member)
        );
        if !allowed {
            return Err(DomainError::Forbidden("not allowed to remove this member"));
        }
    }
    let left = NewEvent::by(
        actor,
        EventData::MemberLeft(MemberLeft {
            removed_by: (!leaving).then(|| actor.to_string()),
            user_id: target.to_string(),
        }),
    );
    let heir = if them.role == MemberRole::Owner {
        heir(&facts.remaining).map(|h| {
            let event = NewEvent {
                actor_id: None,
                data: EventData::MemberRoleChanged(MemberRoleChanged {
                    role: MemberRole::Owner,
                    user_id: h.user_id.clone(),
                }),
            };
            (h.user_id.clone(), event)
        })
    } else {
        None
    };
    Ok(RemovePlan { left, heir })
}

/// Who owns a group after its owner leaves: the longest-standing admin,
/// else the longest-standing member (ties: earlier join time, then id).
pub fn heir(remaining: &[Ranked]) -> Option<&Ranked> {
    remaining.iter().min_by(|a, b| rank(a).cmp(&rank(b)))
}

fn rank(m: &Ranked) -> (bool, u64, i64, &str) {
    (
        m.role != MemberRole::Admin,
        m.joined_seq,
        m.joined_at,
        &m.user_id,
    )
}

#[derive(Debug, Clone)]
pub struct RoleFacts {
    pub group: GroupFacts,
    pub target: Option<MemberInfo>,
}

/// Role changes to apply in order, each with its event; empty when the
/// member already has the role.
pub fn change_role(
    actor: &str,
    target: &str,
    role: MemberRole,
    facts: &RoleFacts,
) -> DomainResult<Vec<(String, MemberRole, NewEvent)>> {
    let (me, kind) = facts.group.visible()?;
    if kind != ConversationKind::Group {
        return Err(DomainError::Forbidden("roles exist only in groups"));
    }
    let them = facts
        .target
        .as_ref()
        .ok_or(DomainError::NotFound("member"))?;
    if me.role != MemberRole::Owner {
        return Err(DomainError::Forbidden("only the owner can change roles"));
    }
    if actor == target {
        return Err(DomainError::invalid(
            "user_id",
            "the owner cannot change their own role; hand ownership to another member",
        ));
    }
    if them.role == role {
        return Ok(Vec::new());
    }
    let changed = |user: &str, role: MemberRole| {
        (
            user.to_string(),
            role,
            NewEvent::by(
                actor,
                EventData::MemberRoleChanged(MemberRoleChanged {
                    role,
                    user_id: user.to_string(),
                }),
            ),
        )
    };
    let mut changes = vec![changed(target, role)];
    if role == MemberRole::Owner {
        // Hand-over: the previous owner stays on as an admin.
        changes.push(changed(actor, MemberRole::Admin));
    }
    Ok(changes)
}

/// A conversation row, as the view needs it.
#[derive(Debug, Clone)]
pub struct ConversationRow {
    pub kind: ConversationKind,
    pub title: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: i64,
    pub last_seq: u64,
    pub last_message_seq: Option<u64>,
    pub member_count: i64,
}

impl ConversationRow {
    /// The seq of the last message, if `member` may see it.
    pub fn visible_last_message(&self, member: &MemberInfo) -> Option<u64> {
        self.last_message_seq.filter(|s| *s >= member.joined_seq)
    }
}

/// What the view needs besides the row and the viewer's membership.
#[derive(Debug, Clone, Default)]
pub struct ViewParts {
    pub last_message: Option<Message>,
    /// The other member of a direct conversation.
    pub peer: Option<User>,
    pub unread_count: u64,
    /// Kind `support` only.
    pub support: Option<parley_protocol::support::SupportInfo>,
}

/// The conversation as one member sees it (protocol.md §4).
pub fn view(id: &str, row: ConversationRow, me: &MemberInfo, parts: ViewParts) -> Conversation {
    Conversation {
        id: id.to_string(),
        kind: row.kind,
        title: row.title,
        avatar_url: row.avatar_url,
        created_at: Timestamp(row.created_at),
        member_count: row.member_count.clamp(0, i64::from(u32::MAX)) as u32,
        my_role: me.role,
        last_seq: row.last_seq,
        last_message: parts.last_message,
        read_seq: me.read_seq,
        delivered_seq: me.delivered_seq,
        unread_count: parts.unread_count,
        muted_until: me.muted_until.map(Timestamp),
        joined_seq: me.joined_seq,
        peer: parts.peer,
        support: parts.support,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: MemberRole) -> MemberInfo {
        MemberInfo {
            role,
            joined_seq: 1,
            read_seq: 1,
            delivered_seq: 1,
            muted_until: None,
        }
    }

    fn group(role: Option<MemberRole>) -> GroupFacts {
        GroupFacts {
            kind: Some(ConversationKind::Group),
            actor: role.map(member),
        }
    }

    fn ranked(id: &str, role: MemberRole, joined_seq: u64, joined_at: i64) -> Ranked {
        Ranked {
            user_id: id.into(),
            role,
            joined_seq,
            joined_at,
        }
    }

    #[test]
    fn direct_refuses_self_unknown_and_blocked_and_reuses_the_pair() {
        let ok = DirectFacts {
            peer_exists: true,
            ..Default::default()
        };
        assert!(matches!(
            open_direct("a", "a", ok.clone()),
            Err(DomainError::Invalid { .. })
        ));
        assert_eq!(
            open_direct("a", "b", DirectFacts::default()),
            Err(DomainError::NotFound("user"))
        );
        let blocked = DirectFacts {
            blocked: true,
            ..ok.clone()
        };
        assert_eq!(open_direct("a", "b", blocked), Err(DomainError::Blocked));
        let existing = DirectFacts {
            existing: Some("c".into()),
            ..ok.clone()
        };
        assert_eq!(
            open_direct("a", "b", existing),
            Ok(DirectPlan::Existing("c".into()))
        );
        let Ok(DirectPlan::Create(new)) = open_direct("b", "a", ok) else {
            panic!("creates");
        };
        assert_eq!(new.direct_key.as_deref(), Some("a:b"));
        assert_eq!(new.added, ["b", "a"]);
        assert_eq!(new.created.actor_id.as_deref(), Some("b"));
    }

    #[test]
    fn only_managers_of_groups_update_them() {
        let direct = GroupFacts {
            kind: Some(ConversationKind::Direct),
            actor: Some(member(MemberRole::Member)),
        };
        assert!(matches!(
            update_group("a", &direct, Some("t".into()), None),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            update_group(
                "a",
                &group(Some(MemberRole::Member)),
                Some("t".into()),
                None
            ),
            Err(DomainError::Forbidden(_))
        ));
        assert_eq!(
            update_group("a", &group(None), None, None),
            Err(DomainError::NotFound("conversation"))
        );
        let plan = update_group(
            "a",
            &group(Some(MemberRole::Admin)),
            None,
            Some(String::new()),
        )
        .expect("admin may");
        assert_eq!(plan.avatar_url, Some(None), "empty clears");
        assert!(plan.event.is_some());
        let nothing =
            update_group("a", &group(Some(MemberRole::Owner)), None, None).expect("owner may");
        assert!(nothing.event.is_none(), "no change, no event");
    }

    #[test]
    fn adding_skips_members_and_repeats_and_respects_the_limit() {
        let c = |id: &str, is_member: bool| Candidate {
            user_id: id.into(),
            exists: true,
            blocked: false,
            is_member,
        };
        let facts = AddFacts {
            group: group(Some(MemberRole::Admin)),
            candidates: vec![c("x", false), c("y", true), c("x", false), c("z", false)],
            member_count: 3,
        };
        let joining = add_members("a", &facts, 5).expect("fits");
        let ids: Vec<&str> = joining.iter().map(|j| j.user_id.as_str()).collect();
        assert_eq!(ids, ["x", "z"]);
        assert!(matches!(
            add_members("a", &facts, 4),
            Err(DomainError::Invalid { .. })
        ));
        let member = AddFacts {
            group: group(Some(MemberRole::Member)),
            ..facts.clone()
        };
        assert!(matches!(
            add_members("a", &member, 5),
            Err(DomainError::Forbidden(_))
        ));
        let mut unknown = facts.clone();
        unknown.candidates[3].exists = false;
        assert_eq!(
            add_members("a", &unknown, 5),
            Err(DomainError::NotFound("user"))
        );
    }

    #[test]
    fn who_may_remove_whom() {
        let facts = |actor: MemberRole, target: MemberRole| RemoveFacts {
            group: group(Some(actor)),
            target: Some(member(target)),
            remaining: vec![],
        };
        use MemberRole::*;
        for (actor, target, ok) in [
            (Owner, Admin, true),
            (Owner, Member, true),
            (Admin, Member, true),
            (Admin, Admin, false),
            (Admin, Owner, false),
            (Member, Member, false),
        ] {
            assert_eq!(
                remove_member("a", "b", &facts(actor, target)).is_ok(),
                ok,
                "{actor:?} removing {target:?}"
            );
        }
        // Anyone may leave.
        let plan = remove_member("a", "a", &facts(Member, Member)).expect("leave");
        assert_eq!(
            plan.left.data,
            EventData::MemberLeft(MemberLeft {
                removed_by: None,
                user_id: "a".into()
            })
        );
        let no_target = RemoveFacts {
            target: None,
            ..facts(Owner, Member)
        };
        assert_eq!(
            remove_member("a", "b", &no_target),
            Err(DomainError::NotFound("member"))
        );
    }

    #[test]
    fn the_heir_is_the_oldest_admin_else_the_oldest_member() {
        use MemberRole::*;
        let remaining = vec![
            ranked("m1", Member, 1, 10),
            ranked("a2", Admin, 5, 50),
            ranked("a1", Admin, 5, 40),
        ];
        assert_eq!(heir(&remaining).map(|h| h.user_id.as_str()), Some("a1"));
        let members = vec![ranked("m2", Member, 3, 10), ranked("m1", Member, 3, 10)];
        assert_eq!(heir(&members).map(|h| h.user_id.as_str()), Some("m1"));
        assert!(heir(&[]).is_none());
        let facts = RemoveFacts {
            group: group(Some(Owner)),
            target: Some(member(Owner)),
            remaining,
        };
        let plan = remove_member("o", "o", &facts).expect("owner leaves");
        let (heir_id, event) = plan.heir.expect("an heir");
        assert_eq!(heir_id, "a1");
        assert_eq!(event.actor_id, None, "the server hands over, not a user");
    }

    #[test]
    fn only_the_owner_changes_roles_and_hand_over_keeps_them_admin() {
        use MemberRole::*;
        let facts = |actor: MemberRole, target: MemberRole| RoleFacts {
            group: group(Some(actor)),
            target: Some(member(target)),
        };
        assert!(matches!(
            change_role("a", "b", Admin, &facts(Admin, Member)),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            change_role("a", "a", Admin, &facts(Owner, Owner)),
            Err(DomainError::Invalid { .. })
        ));
        assert!(
            change_role("a", "b", Admin, &facts(Owner, Admin))
                .expect("no-op")
                .is_empty()
        );
        let changes = change_role("a", "b", Owner, &facts(Owner, Member)).expect("hand over");
        let roles: Vec<(&str, MemberRole)> =
            changes.iter().map(|(u, r, _)| (u.as_str(), *r)).collect();
        assert_eq!(roles, [("b", Owner), ("a", Admin)]);
    }
}
