//! Conversations and members. Each write locks the conversation row, reads
//! its facts, asks `parley_domain::conversations` for the plan and applies
//! it in the same transaction.

use crate::events::{WriteTx, seq_matches};
use crate::rows::{self, col, col_u64, execute, query, query_one, query_opt};
use crate::views;
use crate::{PostgresStore, in_tx};
use async_trait::async_trait;
use parley_domain::conversations::{
    self as rules, AddFacts, Candidate, DirectFacts, DirectPlan, GroupFacts, Invitee, RemoveFacts,
    RoleFacts, direct_key,
};
use parley_protocol::{Conversation, Member, MemberRole, Timestamp, UnreadSummary};
use parley_store::{
    ActivityCursor, ConversationStore, Delivery, Membership, StoreError, StoreResult, delivery,
};

impl WriteTx<'_> {
    /// Locks the conversation (when it exists) and reads the actor's
    /// membership and its kind.
    async fn group_facts(&mut self, id: &str, actor: &str) -> StoreResult<GroupFacts> {
        self.lock_conversation(id).await?;
        Ok(GroupFacts {
            kind: rows::conversation_kind(&self.tx, id).await?,
            actor: rows::member_info(&self.tx, id, actor).await?,
        })
    }

    async fn direct_by_key(&self, key: &str) -> StoreResult<Option<String>> {
        query_opt(
            &self.tx,
            "SELECT id FROM conversations WHERE direct_key = $1",
            &[&key],
        )
        .await?
        .map(|r| col(&r, 0))
        .transpose()
    }

    async fn get_or_create_direct(
        &mut self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(String, bool)> {
        let key = direct_key(me, peer);
        let facts = DirectFacts {
            peer_exists: rows::user_exists(&self.tx, peer).await?,
            blocked: rows::blocked_between(&self.tx, me, peer).await?,
            existing: self.direct_by_key(&key).await?,
        };
        let plan = match rules::open_direct(me, peer, facts)? {
            DirectPlan::Existing(existing) => return Ok((existing, false)),
            DirectPlan::Create(plan) => plan,
        };
        // Two processes may create the same pair at once: the unique
        // direct_key decides. ON CONFLICT waits for the other insert to
        // commit and then inserts nothing; the next statement sees the
        // winner's row.
        let inserted = execute(
            &self.tx,
            "INSERT INTO conversations (id, kind, title, avatar_url, created_at, last_seq, last_activity_at, member_count, direct_key)
             VALUES ($1, $2, NULL, NULL, $3, 0, $3, 0, $4)
             ON CONFLICT (direct_key) DO NOTHING",
            &[&id, &plan.kind.as_str(), &at.millis(), &key],
        )
        .await?;
        if inserted == 0 {
            return match self.direct_by_key(&key).await? {
                Some(existing) => Ok((existing, false)),
                None => Err(StoreError::Unavailable(
                    "direct conversation vanished; retry".into(),
                )),
            };
        }
        self.populate_conversation(id, plan, at, out).await?;
        Ok((id.to_string(), true))
    }

    async fn create_group(
        &mut self,
        id: &str,
        creator: &str,
        title: &str,
        member_ids: &[String],
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let mut invitees = Vec::with_capacity(member_ids.len());
        for m in member_ids {
            invitees.push(Invitee {
                user_id: m.clone(),
                exists: rows::user_exists(&self.tx, m).await?,
                blocked: rows::blocked_between(&self.tx, creator, m).await?,
            });
        }
        let plan = rules::create_group(creator, title, &invitees)?;
        execute(
            &self.tx,
            "INSERT INTO conversations (id, kind, title, avatar_url, created_at, last_seq, last_activity_at, member_count, direct_key)
             VALUES ($1, $2, $3, NULL, $4, 0, $4, 0, NULL)",
            &[&id, &plan.kind.as_str(), &plan.title, &at.millis()],
        )
        .await?;
        self.populate_conversation(id, plan, at, out).await
    }

    async fn update_conversation(
        &mut self,
        actor: &str,
        id: &str,
        title: Option<String>,
        avatar_url: Option<String>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let facts = self.group_facts(id, actor).await?;
        let plan = rules::update_group(actor, &facts, title, avatar_url)?;
        if let Some(t) = &plan.title {
            execute(
                &self.tx,
                "UPDATE conversations SET title = $2 WHERE id = $1",
                &[&id, t],
            )
            .await?;
        }
        if let Some(a) = &plan.avatar_url {
            execute(
                &self.tx,
                "UPDATE conversations SET avatar_url = $2 WHERE id = $1",
                &[&id, a],
            )
            .await?;
        }
        if let Some(event) = plan.event {
            self.append_event(id, at, event, out).await?;
        }
        Ok(())
    }

    async fn add_members(
        &mut self,
        actor: &str,
        id: &str,
        user_ids: &[String],
        max_members: u32,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let group = self.group_facts(id, actor).await?;
        let mut candidates = Vec::with_capacity(user_ids.len());
        for u in user_ids {
            candidates.push(Candidate {
                user_id: u.clone(),
                exists: rows::user_exists(&self.tx, u).await?,
                blocked: rows::blocked_between(&self.tx, actor, u).await?,
                is_member: rows::member_info(&self.tx, id, u).await?.is_some(),
            });
        }
        let facts = AddFacts {
            group,
            candidates,
            member_count: self.members_of(id).await?.len(),
        };
        for joining in rules::add_members(actor, &facts, max_members)? {
            // The member row goes in first so the member receives its own
            // join event; its joined_seq is that event's seq.
            let seq = self.peek_next_seq(id).await?;
            self.insert_member(id, &joining.user_id, MemberRole::Member, seq, at)
                .await?;
            self.set_member_count(id).await?;
            let mut events = Vec::new();
            let got = self
                .append_event(id, at, joining.event, &mut events)
                .await?;
            seq_matches(got, seq)?;
            out.push(self.added(&joining.user_id, id).await?);
            out.extend(events);
        }
        Ok(())
    }

    async fn remove_member(
        &mut self,
        actor: &str,
        id: &str,
        target: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let group = self.group_facts(id, actor).await?;
        let facts = RemoveFacts {
            group,
            target: rows::member_info(&self.tx, id, target).await?,
            remaining: rows::ranked_members(&self.tx, id, target).await?,
        };
        let plan = rules::remove_member(actor, target, &facts)?;
        self.deactivate_member(id, target).await?;
        self.set_member_count(id).await?;
        out.push(delivery::removed(target, id)?);
        self.append_event(id, at, plan.left, out).await?;
        if let Some((heir, event)) = plan.heir {
            self.set_role(id, &heir, MemberRole::Owner).await?;
            self.append_event(id, at, event, out).await?;
        }
        Ok(())
    }

    async fn change_role(
        &mut self,
        actor: &str,
        id: &str,
        target: &str,
        role: MemberRole,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let group = self.group_facts(id, actor).await?;
        let facts = RoleFacts {
            group,
            target: rows::member_info(&self.tx, id, target).await?,
        };
        for (user, role, event) in rules::change_role(actor, target, role, &facts)? {
            self.set_role(id, &user, role).await?;
            self.append_event(id, at, event, out).await?;
        }
        Ok(())
    }

    async fn set_mute(
        &mut self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>> {
        rows::require_member(&self.tx, id, user).await?;
        execute(
            &self.tx,
            "UPDATE members SET muted_until = $3 WHERE conversation_id = $1 AND user_id = $2",
            &[&id, &user, &until.map(|t| t.millis())],
        )
        .await?;
        Ok(until)
    }
}

#[async_trait]
impl ConversationStore for PostgresStore {
    async fn get_or_create_direct(
        &self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
    ) -> StoreResult<(String, bool)> {
        let (id, me, peer) = (id.to_string(), me.to_string(), peer.to_string());
        in_tx!(self, move |w, out| w
            .get_or_create_direct(&id, &me, &peer, at, out))
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
        in_tx!(self, move |w, out| w.create_group(
            &id,
            &creator,
            &title,
            &member_ids,
            at,
            out
        ))
    }

    async fn conversation(&self, viewer: &str, id: &str) -> StoreResult<Conversation> {
        let c = self.client().await?;
        views::conversation_view(&c, viewer, id).await
    }

    async fn list_conversations(
        &self,
        viewer: &str,
        cursor: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<(Vec<Conversation>, Option<ActivityCursor>)> {
        let c = self.client().await?;
        let (at, id) = match &cursor {
            Some(k) => (k.last_activity_ms, k.id.clone()),
            None => (i64::MAX, String::new()),
        };
        let ids = query(
            &c,
            "SELECT c.id, c.last_activity_at FROM members m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $1 AND m.active = TRUE
               AND ($4::boolean = FALSE OR c.last_activity_at < $2 OR (c.last_activity_at = $2 AND c.id < $3))
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $5",
            &[&viewer, &at, &id, &cursor.is_some(), &(i64::from(limit) + 1)],
        )
        .await?
        .iter()
        .map(|r| Ok((col::<String>(r, 0)?, col::<i64>(r, 1)?)))
        .collect::<StoreResult<Vec<_>>>()?;
        let more = ids.len() > limit as usize;
        let page: Vec<_> = ids.into_iter().take(limit as usize).collect();
        let next = if more {
            page.last().map(|(id, at)| ActivityCursor {
                last_activity_ms: *at,
                id: id.clone(),
            })
        } else {
            None
        };
        let mut convs = Vec::with_capacity(page.len());
        for (id, _) in &page {
            convs.push(views::conversation_view(&c, viewer, id).await?);
        }
        Ok((convs, next))
    }

    async fn unread_summary(&self, viewer: &str) -> StoreResult<UnreadSummary> {
        let c = self.client().await?;
        let r = query_one(
            &c,
            "SELECT count(*), count(DISTINCT msg.conversation_id) FROM members m
             JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.seq > m.read_seq
               AND msg.sender_id <> m.user_id AND msg.deleted = FALSE
             WHERE m.user_id = $1 AND m.active = TRUE",
            &[&viewer],
        )
        .await?;
        Ok(UnreadSummary {
            total_unread: col_u64(&r, 0)?,
            conversations_with_unread: col_u64(&r, 1)?,
        })
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
        in_tx!(self, move |w, out| w
            .update_conversation(&actor, &id, title, avatar_url, at, out))
    }

    async fn members(
        &self,
        viewer: &str,
        id: &str,
        after_user: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        let c = self.client().await?;
        rows::require_member(&c, id, viewer).await?;
        views::members_page(&c, id, after_user.as_deref(), limit).await
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
        in_tx!(self, move |w, out| w.add_members(
            &actor,
            &id,
            &user_ids,
            max_members,
            at,
            out
        ))
    }

    async fn remove_member(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id, user_id) = (actor.to_string(), id.to_string(), user_id.to_string());
        in_tx!(self, move |w, out| w
            .remove_member(&actor, &id, &user_id, at, out))
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
        in_tx!(self, move |w, out| w
            .change_role(&actor, &id, &user_id, role, at, out))
    }

    async fn set_mute(
        &self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>> {
        let (user, id) = (user.to_string(), id.to_string());
        in_tx!(self, move |w, _out| w.set_mute(&user, &id, until))
    }

    async fn memberships(&self, user: &str) -> StoreResult<Vec<Membership>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT m.conversation_id, m.joined_seq, c.last_seq FROM members m
             JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = $1 AND m.active = TRUE",
            &[&user],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Membership {
                conversation_id: col(r, 0)?,
                joined_seq: col_u64(r, 1)?,
                last_seq: col_u64(r, 2)?,
            })
        })
        .collect()
    }

    async fn member_ids(&self, viewer: &str, id: &str) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::require_member(&c, id, viewer).await?;
        rows::strings(
            &c,
            "SELECT user_id FROM members WHERE conversation_id = $1 AND active = TRUE",
            &[&id],
        )
        .await
    }

    async fn contacts(&self, user: &str) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::strings(
            &c,
            "SELECT DISTINCT o.user_id FROM members m
             JOIN members o ON o.conversation_id = m.conversation_id AND o.active = TRUE
             WHERE m.user_id = $1 AND m.active = TRUE AND o.user_id <> $1",
            &[&user],
        )
        .await
    }
}
