//! Conversations and their members.

use crate::StoreResult;
use async_trait::async_trait;
use parley_protocol::{Conversation, Member, MemberRole, Timestamp, UnreadSummary};

/// A conversation the user belongs to, as the gateway's sync needs it.
#[derive(Debug, Clone)]
pub struct Membership {
    pub conversation_id: String,
    pub joined_seq: u64,
    pub last_seq: u64,
}

/// Keyset cursor for the conversation list: (last activity, id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCursor {
    pub last_activity_ms: i64,
    pub id: String,
}

#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// Returns the conversation id and whether it was created now.
    async fn get_or_create_direct(
        &self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
    ) -> StoreResult<(String, bool)>;
    async fn create_group(
        &self,
        id: &str,
        creator: &str,
        title: &str,
        member_ids: &[String],
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn conversation(&self, viewer: &str, id: &str) -> StoreResult<Conversation>;
    async fn list_conversations(
        &self,
        viewer: &str,
        cursor: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<(Vec<Conversation>, Option<ActivityCursor>)>;
    async fn unread_summary(&self, viewer: &str) -> StoreResult<UnreadSummary>;
    async fn update_conversation(
        &self,
        actor: &str,
        id: &str,
        title: Option<String>,
        avatar_url: Option<String>,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn members(
        &self,
        viewer: &str,
        id: &str,
        after_user: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Member>>;
    async fn add_members(
        &self,
        actor: &str,
        id: &str,
        user_ids: &[String],
        max_members: u32,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Removes `user_id` (or leaves, when actor == user_id).
    async fn remove_member(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn change_role(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        role: MemberRole,
        at: Timestamp,
    ) -> StoreResult<()>;
    async fn set_mute(
        &self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>>;
    /// Every conversation the user is a member of now.
    async fn memberships(&self, user: &str) -> StoreResult<Vec<Membership>>;
    /// Current members of a conversation the viewer belongs to.
    async fn member_ids(&self, viewer: &str, id: &str) -> StoreResult<Vec<String>>;
    /// Everyone who shares at least one conversation with `user`.
    async fn contacts(&self, user: &str) -> StoreResult<Vec<String>>;
}
