//! Conversations and members (protocol.md §4), with the peer's and the
//! members' presence as the viewer may see it.

use super::check_id;
use super::presence::PresenceService;
use crate::error::{AppError, AppResult};
use crate::ratelimit::{Action, Limiter};
use parley_domain::input;
use parley_protocol::{Conversation, Member, MemberRole, Timestamp, UnreadSummary};
use parley_store::ids::new_id;
use parley_store::{ActivityCursor, ConversationStore, Membership};
use std::sync::Arc;

#[derive(Clone)]
pub struct ConversationsService {
    store: Arc<dyn ConversationStore>,
    presence: PresenceService,
    limiter: Limiter,
    /// Most members a group may have (`limits.group_max_members`).
    max_members: u32,
    /// Where a group's avatar may come from.
    avatars: input::AvatarPolicy,
}

impl ConversationsService {
    pub fn new(
        store: Arc<dyn ConversationStore>,
        presence: PresenceService,
        limiter: Limiter,
        max_members: u32,
        avatars: input::AvatarPolicy,
    ) -> Self {
        ConversationsService {
            store,
            presence,
            limiter,
            max_members,
            avatars,
        }
    }

    /// The pair's direct conversation, and whether it was created now.
    pub async fn open_direct(&self, me: &str, peer: &str) -> AppResult<(Conversation, bool)> {
        self.limiter.spend(Action::CreateConversation, me).await?;
        check_id(peer, "user")?;
        let (id, created) = self
            .store
            .get_or_create_direct(&new_id(), me, peer, Timestamp::now())
            .await?;
        Ok((self.get(me, &id).await?, created))
    }

    /// A group owned by `me` with `member_ids` (the creator and repeats
    /// dropped): 3 members at least, `max_members` at most.
    pub async fn create_group(
        &self,
        me: &str,
        title: &str,
        member_ids: Vec<String>,
    ) -> AppResult<Conversation> {
        self.limiter.spend(Action::CreateConversation, me).await?;
        let title = input::label("title", title, 100)?;
        let max = self.max_members as usize;
        let too_many =
            || AppError::invalid("member_ids", format!("a group has at most {max} members"));
        if member_ids.len() > max {
            return Err(too_many());
        }
        let mut seen = std::collections::HashSet::new();
        let mut members: Vec<String> = Vec::new();
        for m in member_ids {
            if m == me || !seen.insert(m.clone()) {
                continue;
            }
            check_id(&m, "user")?;
            members.push(m);
        }
        if members.len() + 1 < 3 {
            return Err(AppError::invalid(
                "member_ids",
                "a group needs at least 2 other members",
            ));
        }
        if members.len() + 1 > max {
            return Err(too_many());
        }
        let id = new_id();
        self.store
            .create_group(&id, me, &title, &members, Timestamp::now())
            .await?;
        self.get(me, &id).await
    }

    /// The conversation as `viewer` sees it, presence included.
    pub async fn get(&self, viewer: &str, id: &str) -> AppResult<Conversation> {
        check_id(id, "conversation")?;
        let mut c = self.store.conversation(viewer, id).await?;
        self.presence
            .present_co_members(viewer, c.peer.as_mut())
            .await;
        Ok(c)
    }

    pub async fn list(
        &self,
        viewer: &str,
        cursor: Option<ActivityCursor>,
        limit: u32,
    ) -> AppResult<(Vec<Conversation>, Option<ActivityCursor>)> {
        self.limiter
            .spend(Action::ListConversations, viewer)
            .await?;
        let (mut conversations, next) =
            self.store.list_conversations(viewer, cursor, limit).await?;
        self.presence
            .present_co_members(
                viewer,
                conversations.iter_mut().filter_map(|c| c.peer.as_mut()),
            )
            .await;
        Ok((conversations, next))
    }

    pub async fn unread(&self, viewer: &str) -> AppResult<UnreadSummary> {
        Ok(self.store.unread_summary(viewer).await?)
    }

    pub async fn update(
        &self,
        actor: &str,
        id: &str,
        title: Option<&str>,
        avatar_url: Option<&str>,
    ) -> AppResult<Conversation> {
        check_id(id, "conversation")?;
        let title = title.map(|t| input::label("title", t, 100)).transpose()?;
        let avatar = avatar_url
            .map(|u| input::avatar_url("avatar_url", u, &self.avatars))
            .transpose()?;
        self.store
            .update_conversation(actor, id, title, avatar, Timestamp::now())
            .await?;
        self.get(actor, id).await
    }

    /// Members as `viewer` sees them, presence included.
    pub async fn members(
        &self,
        viewer: &str,
        id: &str,
        after: Option<String>,
        limit: u32,
    ) -> AppResult<Vec<Member>> {
        check_id(id, "conversation")?;
        let mut members = self.store.members(viewer, id, after, limit).await?;
        self.presence
            .present_co_members(viewer, members.iter_mut().map(|m| &mut m.user))
            .await;
        Ok(members)
    }

    /// Adds users to a group; returns the first page of members.
    pub async fn add_members(
        &self,
        actor: &str,
        id: &str,
        user_ids: &[String],
    ) -> AppResult<Vec<Member>> {
        self.limiter.spend(Action::AddMembers, actor).await?;
        check_id(id, "conversation")?;
        if user_ids.is_empty() || user_ids.len() > self.max_members as usize {
            return Err(AppError::invalid(
                "user_ids",
                "user_ids must name 1 or more users",
            ));
        }
        for u in user_ids {
            check_id(u, "user")?;
        }
        self.store
            .add_members(actor, id, user_ids, self.max_members, Timestamp::now())
            .await?;
        self.members(actor, id, None, parley_protocol::limits::MAX_PAGE)
            .await
    }

    /// Removes `user_id` (or leaves, when it is the actor).
    pub async fn remove_member(&self, actor: &str, id: &str, user_id: &str) -> AppResult<()> {
        check_id(id, "conversation")?;
        check_id(user_id, "member")?;
        Ok(self
            .store
            .remove_member(actor, id, user_id, Timestamp::now())
            .await?)
    }

    /// Changes a member's role; returns the member as they are now.
    pub async fn change_role(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        role: MemberRole,
    ) -> AppResult<Member> {
        check_id(id, "conversation")?;
        check_id(user_id, "member")?;
        self.store
            .change_role(actor, id, user_id, role, Timestamp::now())
            .await?;
        self.members(actor, id, None, u32::MAX)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id)
            .ok_or(AppError::NotFound("member"))
    }

    /// Mutes until `until`; a time already past means "not muted".
    pub async fn mute(
        &self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> AppResult<Option<Timestamp>> {
        check_id(id, "conversation")?;
        let until = until.filter(|t| *t > Timestamp::now());
        Ok(self.store.set_mute(user, id, until).await?)
    }

    /// Every conversation the user belongs to (the gateway's `sync`).
    pub async fn memberships(&self, user: &str) -> AppResult<Vec<Membership>> {
        Ok(self.store.memberships(user).await?)
    }
}
