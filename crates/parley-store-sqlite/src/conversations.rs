//! Conversations and members. Each write reads its facts on the writer
//! thread, asks `parley_domain::conversations` for the plan and applies it.

use crate::rows::{self, db_err, u64_col};
use crate::views;
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::conversations::{
    self as rules, AddFacts, Candidate, DirectFacts, DirectPlan, GroupFacts, Invitee, RemoveFacts,
    RoleFacts, direct_key,
};
use parley_protocol::{Conversation, Member, MemberRole, Timestamp, UnreadSummary};
use parley_store::{
    ActivityCursor, ConversationStore, Delivery, Membership, StoreResult, delivery,
};
use rusqlite::{OptionalExtension, params};

impl WriterState {
    fn group_facts(&mut self, id: &str, actor: &str) -> StoreResult<GroupFacts> {
        Ok(GroupFacts {
            kind: self.conversation_kind(id)?,
            actor: rows::member_info(&self.conn, id, actor)?,
        })
    }

    fn get_or_create_direct(
        &mut self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(String, bool)> {
        let facts = DirectFacts {
            peer_exists: rows::user_exists(&self.conn, peer)?,
            blocked: rows::blocked_between(&self.conn, me, peer)?,
            existing: self
                .conn
                .prepare_cached("SELECT id FROM conversations WHERE direct_key = ?1")
                .map_err(db_err)?
                .query_row([direct_key(me, peer)], |r| r.get(0))
                .optional()
                .map_err(db_err)?,
        };
        match rules::open_direct(me, peer, facts)? {
            DirectPlan::Existing(existing) => Ok((existing, false)),
            DirectPlan::Create(plan) => {
                self.create_conversation(id, plan, at, out)?;
                Ok((id.to_string(), true))
            }
        }
    }

    fn create_group(
        &mut self,
        id: &str,
        creator: &str,
        title: &str,
        member_ids: &[String],
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let invitees = member_ids
            .iter()
            .map(|m| {
                Ok(Invitee {
                    user_id: m.clone(),
                    exists: rows::user_exists(&self.conn, m)?,
                    blocked: rows::blocked_between(&self.conn, creator, m)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let plan = rules::create_group(creator, title, &invitees)?;
        self.create_conversation(id, plan, at, out)
    }

    fn update_conversation(
        &mut self,
        actor: &str,
        id: &str,
        title: Option<String>,
        avatar_url: Option<String>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let facts = self.group_facts(id, actor)?;
        let plan = rules::update_group(actor, &facts, title, avatar_url)?;
        if let Some(t) = &plan.title {
            self.conn
                .execute(
                    "UPDATE conversations SET title = ?2 WHERE id = ?1",
                    params![id, t],
                )
                .map_err(db_err)?;
        }
        if let Some(a) = &plan.avatar_url {
            self.conn
                .execute(
                    "UPDATE conversations SET avatar_url = ?2 WHERE id = ?1",
                    params![id, a],
                )
                .map_err(db_err)?;
        }
        if let Some(event) = plan.event {
            self.append_event(id, at, event, out)?;
        }
        Ok(())
    }

    fn add_members(
        &mut self,
        actor: &str,
        id: &str,
        user_ids: &[String],
        max_members: u32,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let candidates = user_ids
            .iter()
            .map(|u| {
                Ok(Candidate {
                    user_id: u.clone(),
                    exists: rows::user_exists(&self.conn, u)?,
                    blocked: rows::blocked_between(&self.conn, actor, u)?,
                    is_member: rows::member_info(&self.conn, id, u)?.is_some(),
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let facts = AddFacts {
            group: self.group_facts(id, actor)?,
            candidates,
            member_count: self.members_of(id)?.len(),
        };
        for joining in rules::add_members(actor, &facts, max_members)? {
            // The member row goes in first so the member receives its own
            // join event; its joined_seq is that event's seq.
            let seq = self.peek_next_seq(id)?;
            self.insert_member(id, &joining.user_id, MemberRole::Member, seq, at)?;
            self.set_member_count(id)?;
            let mut events = Vec::new();
            self.append_event(id, at, joining.event, &mut events)?;
            out.push(self.added(&joining.user_id, id)?);
            out.extend(events);
        }
        Ok(())
    }

    fn remove_member(
        &mut self,
        actor: &str,
        id: &str,
        target: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let facts = RemoveFacts {
            group: self.group_facts(id, actor)?,
            target: rows::member_info(&self.conn, id, target)?,
            remaining: rows::ranked_members(&self.conn, id, target)?,
        };
        let plan = rules::remove_member(actor, target, &facts)?;
        self.deactivate_member(id, target)?;
        self.set_member_count(id)?;
        out.push(delivery::removed(target, id)?);
        self.append_event(id, at, plan.left, out)?;
        if let Some((heir, event)) = plan.heir {
            self.set_role(id, &heir, MemberRole::Owner)?;
            self.append_event(id, at, event, out)?;
        }
        Ok(())
    }

    fn change_role(
        &mut self,
        actor: &str,
        id: &str,
        target: &str,
        role: MemberRole,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let facts = RoleFacts {
            group: self.group_facts(id, actor)?,
            target: rows::member_info(&self.conn, id, target)?,
        };
        for (user, role, event) in rules::change_role(actor, target, role, &facts)? {
            self.set_role(id, &user, role)?;
            self.append_event(id, at, event, out)?;
        }
        Ok(())
    }

    fn set_mute(
        &mut self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>> {
        rows::require_member(&self.conn, id, user)?;
        self.conn
            .prepare_cached(
                "UPDATE members SET muted_until = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .map_err(db_err)?
            .execute(params![id, user, until.map(|t| t.millis())])
            .map_err(db_err)?;
        Ok(until)
    }
}

#[async_trait]
impl ConversationStore for SqliteStore {
    async fn get_or_create_direct(
        &self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
    ) -> StoreResult<(String, bool)> {
        let (id, me, peer) = (id.to_string(), me.to_string(), peer.to_string());
        self.write(move |s, out| s.get_or_create_direct(&id, &me, &peer, at, out))
            .await
    }

    async fn create_group(
        &self,
        id: &str,
        creator: &str,
        title: &str,
        member_ids: &[String],
        at: Timestamp,
    ) -> StoreResult<()> {
        let (id, creator, title, member_ids) = (
            id.to_string(),
            creator.to_string(),
            title.to_string(),
            member_ids.to_vec(),
        );
        self.write(move |s, out| s.create_group(&id, &creator, &title, &member_ids, at, out))
            .await
    }

    async fn conversation(&self, viewer: &str, id: &str) -> StoreResult<Conversation> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| views::conversation_view(c, &viewer, &id))
            .await
    }

    async fn list_conversations(
        &self,
        viewer: &str,
        cursor: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<(Vec<Conversation>, Option<ActivityCursor>)> {
        let viewer = viewer.to_string();
        self.read(move |c| {
            let (at, id) = match &cursor {
                Some(k) => (k.last_activity_ms, k.id.clone()),
                None => (i64::MAX, String::new()),
            };
            let mut stmt = c
                .prepare_cached(
                    "SELECT c.id, c.last_activity_at FROM members m JOIN conversations c ON c.id = m.conversation_id
                     WHERE m.user_id = ?1 AND m.active = 1
                       AND (?4 = 0 OR c.last_activity_at < ?2 OR (c.last_activity_at = ?2 AND c.id < ?3))
                     ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?5",
                )
                .map_err(db_err)?;
            let ids = stmt
                .query_map(params![viewer, at, id, cursor.is_some() as i64, i64::from(limit) + 1], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            let more = ids.len() > limit as usize;
            let page: Vec<_> = ids.into_iter().take(limit as usize).collect();
            let next = if more {
                page.last().map(|(id, at)| ActivityCursor { last_activity_ms: *at, id: id.clone() })
            } else {
                None
            };
            let convs = page
                .iter()
                .map(|(id, _)| views::conversation_view(c, &viewer, id))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((convs, next))
        })
        .await
    }

    async fn unread_summary(&self, viewer: &str) -> StoreResult<UnreadSummary> {
        let viewer = viewer.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT count(*), count(DISTINCT msg.conversation_id) FROM members m
                 JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.seq > m.read_seq
                   AND msg.sender_id <> m.user_id AND msg.deleted = 0
                 WHERE m.user_id = ?1 AND m.active = 1",
            )
            .map_err(db_err)?
            .query_row([viewer], |r| {
                Ok(UnreadSummary {
                    total_unread: u64_col(r, 0)?,
                    conversations_with_unread: u64_col(r, 1)?,
                })
            })
            .map_err(db_err)
        })
        .await
    }

    async fn update_conversation(
        &self,
        actor: &str,
        id: &str,
        title: Option<String>,
        avatar_url: Option<String>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id) = (actor.to_string(), id.to_string());
        self.write(move |s, out| s.update_conversation(&actor, &id, title, avatar_url, at, out))
            .await
    }

    async fn members(
        &self,
        viewer: &str,
        id: &str,
        after_user: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| {
            rows::require_member(c, &id, &viewer)?;
            views::members_page(c, &id, after_user.as_deref(), limit)
        })
        .await
    }

    async fn add_members(
        &self,
        actor: &str,
        id: &str,
        user_ids: &[String],
        max_members: u32,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id, user_ids) = (actor.to_string(), id.to_string(), user_ids.to_vec());
        self.write(move |s, out| s.add_members(&actor, &id, &user_ids, max_members, at, out))
            .await
    }

    async fn remove_member(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id, user_id) = (actor.to_string(), id.to_string(), user_id.to_string());
        self.write(move |s, out| s.remove_member(&actor, &id, &user_id, at, out))
            .await
    }

    async fn change_role(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        role: MemberRole,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id, user_id) = (actor.to_string(), id.to_string(), user_id.to_string());
        self.write(move |s, out| s.change_role(&actor, &id, &user_id, role, at, out))
            .await
    }

    async fn set_mute(
        &self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write(move |s, _| s.set_mute(&user, &id, until)).await
    }

    async fn memberships(&self, user: &str) -> StoreResult<Vec<Membership>> {
        let user = user.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT m.conversation_id, m.joined_seq, c.last_seq FROM members m
                     JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = ?1 AND m.active = 1",
                )
                .map_err(db_err)?;
            stmt.query_map([user], |r| {
                Ok(Membership {
                    conversation_id: r.get(0)?,
                    joined_seq: u64_col(r, 1)?,
                    last_seq: u64_col(r, 2)?,
                })
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)
        })
        .await
    }

    async fn member_ids(&self, viewer: &str, id: &str) -> StoreResult<Vec<String>> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| {
            rows::require_member(c, &id, &viewer)?;
            rows::strings(
                c,
                "SELECT user_id FROM members WHERE conversation_id = ?1 AND active = 1",
                [id],
            )
        })
        .await
    }

    async fn contacts(&self, user: &str) -> StoreResult<Vec<String>> {
        let user = user.to_string();
        self.read(move |c| {
            rows::strings(
                c,
                "SELECT DISTINCT o.user_id FROM members m
                 JOIN members o ON o.conversation_id = m.conversation_id AND o.active = 1
                 WHERE m.user_id = ?1 AND m.active = 1 AND o.user_id <> ?1",
                [user],
            )
        })
        .await
    }
}
