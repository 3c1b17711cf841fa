//! Write operations, the PostgreSQL twin of `sqlite/writes.rs`. Each runs
//! inside its own READ COMMITTED transaction ([`WriteTx`]): checks, seq
//! allocation, the event row and its delivery happen atomically, so no
//! reader ever sees a seq without its event.
//!
//! SQLite has one writer, so its checks can never race. Here many
//! connections (and processes) write at once, so every operation that
//! appends events first locks the conversation row
//! ([`WriteTx::lock_conversation`], `FOR NO KEY UPDATE`: the same lock the
//! seq's `UPDATE ... RETURNING last_seq` takes, weak enough not to block
//! foreign-key checks) and only then reads membership, roles, the
//! idempotency key or reactions. Under READ COMMITTED each statement sees
//! everything committed before it started, and the lock is granted only
//! once the previous writer of that conversation committed or rolled back,
//! so the checks see exactly what a serial (SQLite-like) execution would.
//! Watermark moves lock the member row instead; refresh-token rotation
//! locks the token row. Nothing caches membership across transactions: the
//! recipients of an event are read in the transaction that stores it.

use super::rows::{
    self, MessageRow, Params, col, col_u64, execute, execute_raw, is_unique_violation, query,
    query_one, query_opt, require_member,
};
use crate::delivery::{Delivery, event_frame};
use crate::store::{
    NewMessage, NewUser, RefreshTokenRow, RotateOutcome, StoreError, StoreResult, UserRow,
};
use deadpool_postgres::{GenericClient, Transaction};
use parley_protocol::events::{
    ConversationCreated, ConversationUpdated, EventData, MemberJoined, MemberLeft,
    MemberRoleChanged, MessageCreated, MessageDeleted, MessageEdited, ReactionChange,
};
use parley_protocol::{
    ConversationKind, Event, MemberRole, Message, MessageStatus, ReactionSummary, ReadResponse,
    ServerFrame, Timestamp,
};
use std::sync::Arc;

/// Most distinct emoji one message may carry.
pub const MAX_DISTINCT_REACTIONS: i64 = 20;

const INSERT_EVENT: &str =
    "INSERT INTO events (conversation_id, seq, type, body) VALUES ($1, $2, $3, $4)";

/// The event as stored and sent: serialized once.
fn event_body(event: &Event) -> StoreResult<String> {
    serde_json::to_string(event).map_err(|e| StoreError::Internal(e.to_string()))
}

/// The delivery of a stored event to `recipients`.
fn event_delivery(event: &Event, recipients: Arc<[String]>, body: &str) -> Delivery {
    Delivery::Event {
        conversation_id: Arc::from(event.conversation_id.as_str()),
        seq: event.seq,
        recipients,
        frame: event_frame(body),
    }
}

/// One write's transaction, plus the conversation it locked (the key that
/// orders its deliveries, see `commit.rs`).
pub struct WriteTx<'a> {
    pub tx: Transaction<'a>,
    pub key: Option<String>,
}

fn seq_param(seq: u64) -> i64 {
    seq.min(i64::MAX as u64) as i64
}

impl WriteTx<'_> {
    /// Locks the conversation row until commit: writers of one
    /// conversation run one at a time, in every process. Returns
    /// `not_found` (as `require_member` would) when it does not exist.
    async fn lock_conversation(&mut self, conv: &str) -> StoreResult<()> {
        query_opt(
            &self.tx,
            "SELECT last_seq FROM conversations WHERE id = $1 FOR NO KEY UPDATE",
            &[&conv],
        )
        .await?
        .ok_or(StoreError::NotFound("conversation"))?;
        self.key = Some(conv.to_string());
        Ok(())
    }

    /// Locks the conversation of a message; `not_found` if there is no
    /// such message. The caller then re-reads the message under the lock.
    async fn lock_message_conversation(&mut self, message_id: &str) -> StoreResult<()> {
        let conv: String = match query_opt(
            &self.tx,
            "SELECT conversation_id FROM messages WHERE id = $1",
            &[&message_id],
        )
        .await?
        {
            Some(r) => col(&r, 0)?,
            None => return Err(StoreError::NotFound("message")),
        };
        self.lock_conversation(&conv).await.map_err(|e| match e {
            StoreError::NotFound(_) => StoreError::NotFound("message"),
            other => other,
        })
    }

    /// Allocates the next seq, stores the event and queues its delivery to
    /// the conversation's current members.
    async fn append_event(
        &mut self,
        conv: &str,
        actor: Option<&str>,
        at: Timestamp,
        data: EventData,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u64> {
        let r = query_one(
            &self.tx,
            "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
            &[&conv],
        )
        .await?;
        let seq: i64 = col(&r, 0)?;
        self.key = Some(conv.to_string());
        let recipients = self.members_of(conv).await?;
        let event = Event {
            conversation_id: conv.to_string(),
            seq: seq as u64,
            actor_id: actor.map(str::to_string),
            at,
            data,
        };
        self.store_event(event, recipients, out).await
    }

    /// Stores an event whose seq is allocated and queues its delivery to
    /// `recipients` (the current members, read under the conversation lock).
    async fn store_event(
        &mut self,
        event: Event,
        recipients: Arc<[String]>,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u64> {
        let body = event_body(&event)?;
        let seq = seq_param(event.seq);
        execute(
            &self.tx,
            INSERT_EVENT,
            &[&event.conversation_id, &seq, &event.kind(), &body],
        )
        .await?;
        out.push(event_delivery(&event, recipients, &body));
        Ok(event.seq)
    }

    /// Current members, read in this transaction (no cache: other
    /// processes change membership too).
    pub async fn members_of(&self, conv: &str) -> StoreResult<Arc<[String]>> {
        let ids = query(
            &self.tx,
            "SELECT user_id FROM members WHERE conversation_id = $1 AND active = TRUE",
            &[&conv],
        )
        .await?
        .iter()
        .map(|r| col::<String>(r, 0))
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(Arc::from(ids))
    }

    async fn added(&self, user: &str, conv: &str) -> StoreResult<Delivery> {
        let view = rows::conversation_view(&self.tx, user, conv).await?;
        let last_seq = view.last_seq;
        let frame = serde_json::to_vec(&ServerFrame::ConversationAdded { conversation: view })
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(Delivery::Added {
            user_id: user.to_string(),
            conversation_id: Arc::from(conv),
            last_seq,
            frame: frame.into(),
        })
    }

    fn removed(&self, user: &str, conv: &str) -> StoreResult<Delivery> {
        let frame = serde_json::to_vec(&ServerFrame::ConversationRemoved {
            conversation_id: conv.to_string(),
        })
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(Delivery::Removed {
            user_id: user.to_string(),
            conversation_id: Arc::from(conv),
            frame: frame.into(),
        })
    }

    async fn insert_member(
        &self,
        conv: &str,
        user: &str,
        role: MemberRole,
        joined_seq: u64,
        at: Timestamp,
    ) -> StoreResult<()> {
        execute(
            &self.tx,
            "INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_at, read_seq, delivered_seq, muted_until, active)
             VALUES ($1, $2, $3, $4, $5, $4, $4, NULL, TRUE)
             ON CONFLICT (conversation_id, user_id) DO UPDATE SET
               role = excluded.role, joined_seq = excluded.joined_seq, joined_at = excluded.joined_at,
               read_seq = excluded.read_seq, delivered_seq = excluded.delivered_seq,
               muted_until = NULL, active = TRUE",
            &[&conv, &user, &role.as_str(), &seq_param(joined_seq), &at.millis()],
        )
        .await?;
        Ok(())
    }

    async fn set_member_count(&self, conv: &str) -> StoreResult<()> {
        execute(
            &self.tx,
            "UPDATE conversations SET member_count =
               (SELECT count(*) FROM members WHERE conversation_id = $1 AND active = TRUE) WHERE id = $1",
            &[&conv],
        )
        .await?;
        Ok(())
    }

    async fn require_user(&self, id: &str) -> StoreResult<UserRow> {
        rows::user_by_id(&self.tx, id)
            .await?
            .ok_or(StoreError::NotFound("user"))
    }

    async fn conversation_kind(&self, conv: &str) -> StoreResult<ConversationKind> {
        let kind: String = match query_opt(
            &self.tx,
            "SELECT kind FROM conversations WHERE id = $1",
            &[&conv],
        )
        .await?
        {
            Some(r) => col(&r, 0)?,
            None => return Err(StoreError::NotFound("conversation")),
        };
        Ok(ConversationKind::parse(&kind).unwrap_or(ConversationKind::Group))
    }

    // ------------------------------------------------------------- users

    pub async fn create_user(&mut self, u: &NewUser) -> StoreResult<UserRow> {
        let r = execute_raw(
            &self.tx,
            "INSERT INTO users (id, username, display_name, avatar_url, about, role, password_hash, external_sub, is_bot, created_at, search_name)
             VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10)",
            &[
                &u.id, &u.username, &u.display_name, &u.avatar_url, &u.role.as_str(), &u.password_hash,
                &u.external_sub, &u.is_bot, &u.created_at.millis(),
                &crate::store::search_name(&u.username, &u.display_name),
            ],
        )
        .await;
        match r {
            Ok(_) => self.require_user(&u.id).await,
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("username taken")),
            Err(e) => Err(rows::db_err(e)),
        }
    }

    async fn user_by_external_sub(&self, sub: &str) -> StoreResult<Option<String>> {
        query_opt(
            &self.tx,
            "SELECT id FROM users WHERE external_sub = $1",
            &[&sub],
        )
        .await?
        .map(|r| col(&r, 0))
        .transpose()
    }

    pub async fn upsert_external_user(&mut self, u: &NewUser) -> StoreResult<UserRow> {
        let sub = u.external_sub.clone().unwrap_or_default();
        if let Some(id) = self.user_by_external_sub(&sub).await? {
            return self.refresh_external_user(&id, u).await;
        }
        // The platform's name may collide with a local username: try the
        // name, then the name with a piece of the new id. Each attempt is a
        // savepoint, because a unique violation aborts the transaction.
        let mut candidate = u.clone();
        for attempt in 0..4 {
            self.tx
                .batch_execute("SAVEPOINT attempt")
                .await
                .map_err(rows::db_err)?;
            let created = self.create_user(&candidate).await;
            let sql = if created.is_ok() {
                "RELEASE SAVEPOINT attempt"
            } else {
                "ROLLBACK TO SAVEPOINT attempt; RELEASE SAVEPOINT attempt"
            };
            self.tx.batch_execute(sql).await.map_err(rows::db_err)?;
            match created {
                Err(StoreError::Conflict(_)) => {
                    // Another process may have created this very subject
                    // meanwhile (SQLite's single writer cannot see that):
                    // then it is an update after all.
                    if let Some(id) = self.user_by_external_sub(&sub).await? {
                        return self.refresh_external_user(&id, u).await;
                    }
                    if attempt < 3 {
                        let suffix: String = u.id.chars().rev().take(4 + attempt * 2).collect();
                        let base: String = u.username.chars().take(32 - suffix.len() - 1).collect();
                        candidate.username = format!("{base}_{suffix}");
                    }
                }
                other => return other,
            }
        }
        Err(StoreError::Conflict("username taken"))
    }

    async fn refresh_external_user(&self, id: &str, u: &NewUser) -> StoreResult<UserRow> {
        execute(
            &self.tx,
            "UPDATE users SET display_name = $2, avatar_url = coalesce($3, avatar_url), role = $4,
               search_name = lower(username) || ' ' || $5 WHERE id = $1",
            &[
                &id,
                &u.display_name,
                &u.avatar_url,
                &u.role.as_str(),
                &u.display_name.to_lowercase(),
            ],
        )
        .await?;
        self.require_user(id).await
    }

    pub async fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        new: &RefreshTokenRow,
    ) -> StoreResult<RotateOutcome> {
        // FOR UPDATE: of two concurrent rotations of one token, the second
        // waits and then sees it used (theft detection, as when serial).
        let row = query_opt(
            &self.tx,
            "SELECT family_id, user_id, expires_at, used_at, revoked FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE",
            &[&old_hash],
        )
        .await?;
        let Some(row) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        let family: String = col(&row, 0)?;
        let user_id: String = col(&row, 1)?;
        let expires_at: i64 = col(&row, 2)?;
        let used_at: Option<i64> = col(&row, 3)?;
        let revoked: bool = col(&row, 4)?;
        if used_at.is_some() {
            // Theft detection: a used token came back. Revoke the family.
            execute(
                &self.tx,
                "UPDATE refresh_tokens SET revoked = TRUE WHERE family_id = $1",
                &[&family],
            )
            .await?;
            return Ok(RotateOutcome::Reused);
        }
        if revoked || expires_at <= new.created_at.millis() {
            return Ok(RotateOutcome::Invalid);
        }
        execute(
            &self.tx,
            "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1",
            &[&old_hash, &new.created_at.millis()],
        )
        .await?;
        self.insert_refresh_token(&RefreshTokenRow {
            family_id: family,
            user_id: user_id.clone(),
            ..new.clone()
        })
        .await?;
        Ok(RotateOutcome::Rotated { user_id })
    }

    pub async fn insert_refresh_token(&mut self, t: &RefreshTokenRow) -> StoreResult<()> {
        execute(
            &self.tx,
            "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&t.token_hash, &t.family_id, &t.user_id, &t.created_at.millis(), &t.expires_at.millis()],
        )
        .await?;
        Ok(())
    }

    // ----------------------------------------------------- conversations

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

    pub async fn get_or_create_direct(
        &mut self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(String, bool)> {
        if me == peer {
            return Err(StoreError::Invalid {
                field: "user_id",
                message: "cannot start a direct conversation with yourself",
            });
        }
        self.require_user(peer).await?;
        if rows::blocked_between(&self.tx, me, peer).await? {
            return Err(StoreError::Blocked);
        }
        let key = if me < peer {
            format!("{me}:{peer}")
        } else {
            format!("{peer}:{me}")
        };
        if let Some(existing) = self.direct_by_key(&key).await? {
            return Ok((existing, false));
        }
        // Two processes may create the same pair at once: the unique
        // direct_key decides. ON CONFLICT waits for the other insert to
        // commit and then inserts nothing; the next statement sees the
        // winner's row.
        let inserted = execute(
            &self.tx,
            "INSERT INTO conversations (id, kind, title, avatar_url, created_at, last_seq, last_activity_at, member_count, direct_key)
             VALUES ($1, 'direct', NULL, NULL, $2, 0, $2, 2, $3)
             ON CONFLICT (direct_key) DO NOTHING",
            &[&id, &at.millis(), &key],
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
        self.insert_member(id, me, MemberRole::Member, 1, at)
            .await?;
        self.insert_member(id, peer, MemberRole::Member, 1, at)
            .await?;
        let mut events = Vec::new();
        self.append_event(
            id,
            Some(me),
            at,
            EventData::ConversationCreated(ConversationCreated {
                kind: ConversationKind::Direct,
                member_ids: vec![me.to_string(), peer.to_string()],
                title: None,
            }),
            &mut events,
        )
        .await?;
        out.push(self.added(me, id).await?);
        out.push(self.added(peer, id).await?);
        out.extend(events);
        Ok((id.to_string(), true))
    }

    pub async fn create_group(
        &mut self,
        id: &str,
        creator: &str,
        title: &str,
        member_ids: &[String],
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        for m in member_ids {
            self.require_user(m).await?;
            if rows::blocked_between(&self.tx, creator, m).await? {
                return Err(StoreError::Blocked);
            }
        }
        execute(
            &self.tx,
            "INSERT INTO conversations (id, kind, title, avatar_url, created_at, last_seq, last_activity_at, member_count, direct_key)
             VALUES ($1, 'group', $2, NULL, $3, 0, $3, 0, NULL)",
            &[&id, &title, &at.millis()],
        )
        .await?;
        self.insert_member(id, creator, MemberRole::Owner, 1, at)
            .await?;
        for m in member_ids {
            self.insert_member(id, m, MemberRole::Member, 1, at).await?;
        }
        self.set_member_count(id).await?;
        let mut all = vec![creator.to_string()];
        all.extend(member_ids.iter().cloned());
        let mut events = Vec::new();
        self.append_event(
            id,
            Some(creator),
            at,
            EventData::ConversationCreated(ConversationCreated {
                kind: ConversationKind::Group,
                member_ids: all.clone(),
                title: Some(title.to_string()),
            }),
            &mut events,
        )
        .await?;
        for u in &all {
            out.push(self.added(u, id).await?);
        }
        out.extend(events);
        Ok(())
    }

    pub async fn update_conversation(
        &mut self,
        actor: &str,
        id: &str,
        title: Option<String>,
        avatar_url: Option<String>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        self.lock_conversation(id).await?;
        let me = require_member(&self.tx, id, actor).await?;
        if self.conversation_kind(id).await? != ConversationKind::Group {
            return Err(StoreError::Forbidden("only groups can be renamed"));
        }
        if !me.role.can_manage() {
            return Err(StoreError::Forbidden(
                "only the owner or an admin can change the group",
            ));
        }
        let mut data = ConversationUpdated::default();
        if let Some(t) = &title {
            execute(
                &self.tx,
                "UPDATE conversations SET title = $2 WHERE id = $1",
                &[&id, t],
            )
            .await?;
            data.title = Some(t.clone());
        }
        if let Some(a) = &avatar_url {
            let v = if a.is_empty() { None } else { Some(a.as_str()) };
            execute(
                &self.tx,
                "UPDATE conversations SET avatar_url = $2 WHERE id = $1",
                &[&id, &v],
            )
            .await?;
            data.avatar_url = Some(v.map(str::to_string));
        }
        if data.is_empty() {
            return Ok(());
        }
        self.append_event(
            id,
            Some(actor),
            at,
            EventData::ConversationUpdated(data),
            out,
        )
        .await?;
        Ok(())
    }

    pub async fn add_members(
        &mut self,
        actor: &str,
        id: &str,
        user_ids: &[String],
        max_members: u32,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        self.lock_conversation(id).await?;
        let me = require_member(&self.tx, id, actor).await?;
        if self.conversation_kind(id).await? != ConversationKind::Group {
            return Err(StoreError::Forbidden("members can only be added to groups"));
        }
        if !me.role.can_manage() {
            return Err(StoreError::Forbidden(
                "only the owner or an admin can add members",
            ));
        }
        let mut new = Vec::new();
        for u in user_ids {
            self.require_user(u).await?;
            if rows::blocked_between(&self.tx, actor, u).await? {
                return Err(StoreError::Blocked);
            }
            if rows::member_info(&self.tx, id, u).await?.is_none() && !new.contains(u) {
                new.push(u.clone());
            }
        }
        let count = self.members_of(id).await?.len();
        if count + new.len() > max_members as usize {
            return Err(StoreError::Invalid {
                field: "user_ids",
                message: "the group would exceed its member limit",
            });
        }
        for u in &new {
            // The member row goes in first so the member receives its own
            // join event; its joined_seq is that event's seq.
            let seq = self.peek_next_seq(id).await?;
            self.insert_member(id, u, MemberRole::Member, seq, at)
                .await?;
            self.set_member_count(id).await?;
            let mut events = Vec::new();
            let got = self
                .append_event(
                    id,
                    Some(actor),
                    at,
                    EventData::MemberJoined(MemberJoined {
                        added_by: actor.to_string(),
                        role: MemberRole::Member,
                        user_id: u.clone(),
                    }),
                    &mut events,
                )
                .await?;
            seq_matches(got, seq)?;
            out.push(self.added(u, id).await?);
            out.extend(events);
        }
        Ok(())
    }

    /// The seq the next event will get; exact only while the conversation
    /// row is locked (every caller has locked it).
    async fn peek_next_seq(&self, id: &str) -> StoreResult<u64> {
        let r = query_one(
            &self.tx,
            "SELECT last_seq + 1 FROM conversations WHERE id = $1",
            &[&id],
        )
        .await?;
        col_u64(&r, 0)
    }

    pub async fn remove_member(
        &mut self,
        actor: &str,
        id: &str,
        target: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        self.lock_conversation(id).await?;
        let me = require_member(&self.tx, id, actor).await?;
        let kind = self.conversation_kind(id).await?;
        let them = rows::member_info(&self.tx, id, target)
            .await?
            .ok_or(StoreError::NotFound("member"))?;
        if kind != ConversationKind::Group {
            return Err(StoreError::Forbidden(
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
                return Err(StoreError::Forbidden("not allowed to remove this member"));
            }
        }
        execute(
            &self.tx,
            "UPDATE members SET active = FALSE WHERE conversation_id = $1 AND user_id = $2",
            &[&id, &target],
        )
        .await?;
        self.set_member_count(id).await?;
        let data = EventData::MemberLeft(MemberLeft {
            removed_by: (!leaving).then(|| actor.to_string()),
            user_id: target.to_string(),
        });
        out.push(self.removed(target, id)?);
        self.append_event(id, Some(actor), at, data, out).await?;
        if them.role == MemberRole::Owner {
            // Ownership passes to the oldest admin, else the oldest member.
            let heir: Option<String> = query_opt(
                &self.tx,
                "SELECT user_id FROM members WHERE conversation_id = $1 AND active = TRUE
                 ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, joined_seq, joined_at, user_id LIMIT 1",
                &[&id],
            )
            .await?
            .map(|r| col(&r, 0))
            .transpose()?;
            if let Some(heir) = heir {
                self.set_role(id, &heir, MemberRole::Owner).await?;
                self.append_event(
                    id,
                    None,
                    at,
                    EventData::MemberRoleChanged(MemberRoleChanged {
                        role: MemberRole::Owner,
                        user_id: heir.clone(),
                    }),
                    out,
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn set_role(&self, id: &str, user: &str, role: MemberRole) -> StoreResult<()> {
        execute(
            &self.tx,
            "UPDATE members SET role = $3 WHERE conversation_id = $1 AND user_id = $2",
            &[&id, &user, &role.as_str()],
        )
        .await?;
        Ok(())
    }

    pub async fn change_role(
        &mut self,
        actor: &str,
        id: &str,
        target: &str,
        role: MemberRole,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        self.lock_conversation(id).await?;
        let me = require_member(&self.tx, id, actor).await?;
        if self.conversation_kind(id).await? != ConversationKind::Group {
            return Err(StoreError::Forbidden("roles exist only in groups"));
        }
        let them = rows::member_info(&self.tx, id, target)
            .await?
            .ok_or(StoreError::NotFound("member"))?;
        if me.role != MemberRole::Owner {
            return Err(StoreError::Forbidden("only the owner can change roles"));
        }
        if actor == target {
            return Err(StoreError::Invalid {
                field: "user_id",
                message: "the owner cannot change their own role; hand ownership to another member",
            });
        }
        if them.role == role {
            return Ok(());
        }
        self.set_role(id, target, role).await?;
        self.append_event(
            id,
            Some(actor),
            at,
            EventData::MemberRoleChanged(MemberRoleChanged {
                role,
                user_id: target.to_string(),
            }),
            out,
        )
        .await?;
        if role == MemberRole::Owner {
            // Hand-over: the previous owner stays on as an admin.
            self.set_role(id, actor, MemberRole::Admin).await?;
            self.append_event(
                id,
                Some(actor),
                at,
                EventData::MemberRoleChanged(MemberRoleChanged {
                    role: MemberRole::Admin,
                    user_id: actor.to_string(),
                }),
                out,
            )
            .await?;
        }
        Ok(())
    }

    pub async fn mark_read(
        &mut self,
        user: &str,
        id: &str,
        seq: u64,
        delivered_only: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<ReadResponse> {
        // The member row is locked: two moves of one user's watermarks run
        // one after the other, so neither can move them backwards.
        let me = rows::member_info_locked(&self.tx, id, user)
            .await?
            .ok_or(StoreError::NotFound("conversation"))?;
        self.key = Some(id.to_string());
        let r = query_one(
            &self.tx,
            "SELECT last_seq FROM conversations WHERE id = $1",
            &[&id],
        )
        .await?;
        let last_seq = col_u64(&r, 0)?;
        let clamped = seq.min(last_seq);
        let (read, delivered) = if delivered_only {
            (me.read_seq, me.delivered_seq.max(clamped))
        } else {
            let r = me.read_seq.max(clamped);
            (r, me.delivered_seq.max(r))
        };
        if read != me.read_seq || delivered != me.delivered_seq {
            execute(
                &self.tx,
                "UPDATE members SET read_seq = $3, delivered_seq = $4 WHERE conversation_id = $1 AND user_id = $2",
                &[&id, &user, &seq_param(read), &seq_param(delivered)],
            )
            .await?;
            for (kind, value, moved) in [
                ("delivered", delivered, delivered != me.delivered_seq),
                ("read", read, read != me.read_seq),
            ] {
                if moved {
                    execute(
                        &self.tx,
                        "INSERT INTO watermark_moves (conversation_id, user_id, kind, seq, at) VALUES ($1, $2, $3, $4, $5)",
                        &[&id, &user, &kind, &seq_param(value), &at.millis()],
                    )
                    .await?;
                }
            }
            self.push_receipt(id, user, delivered, read, out).await?;
        }
        Ok(ReadResponse {
            read_seq: read,
            unread_count: rows::unread_count(&self.tx, id, user, read).await?,
        })
    }

    /// `receipt` to the other members, except those in a block with `user`.
    async fn push_receipt(
        &mut self,
        id: &str,
        user: &str,
        delivered: u64,
        read: u64,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let hidden = rows::block_partners(&self.tx, user).await?;
        let recipients: Vec<String> = self
            .members_of(id)
            .await?
            .iter()
            .filter(|u| u.as_str() != user && !hidden.contains(u))
            .cloned()
            .collect();
        if recipients.is_empty() {
            return Ok(());
        }
        let frame = serde_json::to_vec(&ServerFrame::Receipt {
            conversation_id: id.to_string(),
            user_id: user.to_string(),
            delivered_seq: delivered,
            read_seq: read,
        })
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        out.push(Delivery::Ephemeral {
            recipients: Arc::from(recipients),
            frame: frame.into(),
        });
        Ok(())
    }

    pub async fn mark_delivered(
        &mut self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u64> {
        // Same clamping and forward-only rule as read; read_seq untouched.
        let me = require_member(&self.tx, id, user).await?;
        self.mark_read(user, id, seq, true, at, out).await?;
        Ok(require_member(&self.tx, id, user)
            .await
            .map(|m| m.delivered_seq)
            .unwrap_or(me.delivered_seq))
    }

    pub async fn set_mute(
        &mut self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>> {
        require_member(&self.tx, id, user).await?;
        execute(
            &self.tx,
            "UPDATE members SET muted_until = $3 WHERE conversation_id = $1 AND user_id = $2",
            &[&id, &user, &until.map(|t| t.millis())],
        )
        .await?;
        Ok(until)
    }

    // ---------------------------------------------------------- messages

    async fn message_by_client_id(
        &self,
        m: &NewMessage,
        client_id: &str,
    ) -> StoreResult<Option<MessageRow>> {
        query_opt(
            &self.tx,
            &format!(
                "SELECT {} FROM messages WHERE conversation_id = $1 AND sender_id = $2 AND client_id = $3",
                rows::MESSAGE_COLS
            ),
            &[&m.conversation_id, &m.sender_id, &client_id],
        )
        .await?
        .map(|r| rows::message_row(&r))
        .transpose()
    }

    /// The hot path of every send: one round trip to PostgreSQL costs every
    /// message, so after the lock (which also reads the kind and the seq)
    /// the reads go out together in one round trip and the writes in
    /// another (tokio-postgres pipelines queries issued together on one
    /// connection): BEGIN, lock, reads, writes, COMMIT. Nothing is read
    /// back that was just written.
    pub async fn send_message(
        &mut self,
        m: &NewMessage,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(Message, bool)> {
        // Lock first: writers of this conversation in any process queue
        // here, so the seq read below is the one this transaction allocates,
        // and an earlier send of this client_id has either committed (and
        // the read below sees it) or waits behind us.
        let locked = query_opt(
            &self.tx,
            "SELECT kind, last_seq FROM conversations WHERE id = $1 FOR NO KEY UPDATE",
            &[&m.conversation_id],
        )
        .await?
        .ok_or(StoreError::NotFound("conversation"))?;
        self.key = Some(m.conversation_id.clone());
        let kind =
            ConversationKind::parse(&col::<String>(&locked, 0)?).unwrap_or(ConversationKind::Group);
        let seq = col_u64(&locked, 1)? + 1;
        // Membership cannot change while the lock is held (member changes
        // take it too).
        let blocked = async {
            if kind != ConversationKind::Direct {
                return Ok(false);
            }
            let r = query_one(
                &self.tx,
                "SELECT EXISTS(SELECT 1 FROM members p JOIN blocks b
                   ON (b.blocker_id = $2 AND b.blocked_id = p.user_id)
                   OR (b.blocker_id = p.user_id AND b.blocked_id = $2)
                 WHERE p.conversation_id = $1 AND p.active = TRUE AND p.user_id <> $2)",
                &[&m.conversation_id, &m.sender_id],
            )
            .await?;
            col::<bool>(&r, 0)
        };
        let earlier = async {
            match &m.client_id {
                Some(client_id) => self.message_by_client_id(m, client_id).await,
                None => Ok(None),
            }
        };
        let (members, blocked, earlier) =
            tokio::try_join!(self.members_of(&m.conversation_id), blocked, earlier)?;
        if !members.contains(&m.sender_id) {
            return Err(StoreError::NotFound("conversation"));
        }
        if blocked {
            return Err(StoreError::Blocked);
        }
        if let Some(reply_to) = &m.reply_to {
            let member = require_member(&self.tx, &m.conversation_id, &m.sender_id).await?;
            let target = rows::message_by_id(&self.tx, reply_to).await?;
            let ok = matches!(&target, Some(t) if t.conversation_id == m.conversation_id && t.seq >= member.joined_seq);
            if !ok {
                return Err(StoreError::Invalid {
                    field: "reply_to",
                    message: "no such message in this conversation",
                });
            }
        }
        // A retry of a stored send: the original, and nothing written.
        if let Some(earlier) = earlier {
            return Ok((
                rows::message_view(&self.tx, &m.sender_id, &earlier, None).await?,
                false,
            ));
        }
        let row = MessageRow {
            id: m.id.clone(),
            conversation_id: m.conversation_id.clone(),
            seq,
            sender_id: m.sender_id.clone(),
            client_id: m.client_id.clone(),
            kind: m.kind,
            text: m.text.clone(),
            attachments: "[]".into(),
            reply_to: m.reply_to.clone(),
            mentions: serde_json::to_string(&m.mentions).unwrap_or_else(|_| "[]".into()),
            created_at: m.at.millis(),
            edited_at: None,
            deleted: false,
        };
        let event = Event {
            conversation_id: m.conversation_id.clone(),
            seq,
            actor_id: Some(m.sender_id.clone()),
            at: m.at,
            data: EventData::MessageCreated(MessageCreated {
                message: row.to_wire(),
            }),
        };
        let body = event_body(&event)?;
        let (seq_p, kind_s, at) = (seq_param(seq), row.kind.as_str(), m.at.millis());
        let message_params: Params<'_> = &[
            &row.id,
            &row.conversation_id,
            &seq_p,
            &row.sender_id,
            &row.client_id,
            &kind_s,
            &row.text,
            &row.attachments,
            &row.reply_to,
            &row.mentions,
            &row.created_at,
        ];
        let conversation_params: Params<'_> = &[&m.conversation_id, &at];
        let event_params: Params<'_> = &[&m.conversation_id, &seq_p, &event.kind(), &body];
        let member_params: Params<'_> = &[&m.conversation_id, &m.sender_id, &seq_p];
        // The message, the seq and the conversation's last message, the
        // event, and the sender's own watermarks (they have read what they
        // sent), in one round trip. Should the message insert still meet
        // the idempotency index (it cannot under the lock), the statement
        // fails and with it the whole transaction.
        let (_, allocated, _, _) = tokio::try_join!(
            execute(
                &self.tx,
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, attachments, reply_to, mentions, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                message_params,
            ),
            query_one(
                &self.tx,
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_seq = last_seq + 1, last_activity_at = $2
                 WHERE id = $1 RETURNING last_seq",
                conversation_params,
            ),
            execute(&self.tx, INSERT_EVENT, event_params),
            execute(
                &self.tx,
                "UPDATE members SET read_seq = $3, delivered_seq = $3 WHERE conversation_id = $1 AND user_id = $2",
                member_params,
            ),
        )?;
        seq_matches(col_u64(&allocated, 0)?, seq)?;
        out.push(event_delivery(&event, members, &body));
        // Nobody else can have reached a seq that did not exist until now,
        // and nobody has reacted yet.
        let mut message = row.to_wire();
        message.status = Some(MessageStatus::Sent);
        Ok((message, true))
    }

    pub async fn edit_message(
        &mut self,
        actor: &str,
        id: &str,
        text: &str,
        window_ms: i64,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        self.lock_message_conversation(id).await?;
        let (mut row, _) = rows::visible_message(&self.tx, actor, id).await?;
        if row.sender_id != actor {
            return Err(StoreError::Forbidden("only the sender can edit a message"));
        }
        if row.deleted {
            return Err(StoreError::Conflict("the message was deleted"));
        }
        if row.kind == parley_protocol::MessageKind::System {
            return Err(StoreError::Forbidden("system messages cannot be edited"));
        }
        if at.millis() - row.created_at > window_ms {
            return Err(StoreError::Forbidden("the edit window has passed"));
        }
        execute(
            &self.tx,
            "UPDATE messages SET text = $2, edited_at = $3 WHERE id = $1",
            &[&id, &text, &at.millis()],
        )
        .await?;
        row.text = Some(text.to_string());
        row.edited_at = Some(at.millis());
        let conv = row.conversation_id.clone();
        self.append_event(
            &conv,
            Some(actor),
            at,
            EventData::MessageEdited(MessageEdited {
                edited_at: at,
                message_id: id.to_string(),
                seq: row.seq,
                text: text.to_string(),
            }),
            out,
        )
        .await?;
        rows::message_view(&self.tx, actor, &row, None).await
    }

    pub async fn delete_message(
        &mut self,
        actor: &str,
        id: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        self.lock_message_conversation(id).await?;
        let (mut row, me) = rows::visible_message(&self.tx, actor, id).await?;
        if row.deleted {
            return rows::message_view(&self.tx, actor, &row, None).await;
        }
        let is_group =
            self.conversation_kind(&row.conversation_id).await? == ConversationKind::Group;
        if row.sender_id != actor && !(is_group && me.role.can_manage()) {
            return Err(StoreError::Forbidden(
                "only the sender or a group admin can delete a message",
            ));
        }
        execute(
            &self.tx,
            "UPDATE messages SET deleted = TRUE, text = NULL, attachments = '[]' WHERE id = $1",
            &[&id],
        )
        .await?;
        execute(
            &self.tx,
            "DELETE FROM reactions WHERE message_id = $1",
            &[&id],
        )
        .await?;
        row.deleted = true;
        row.text = None;
        let conv = row.conversation_id.clone();
        self.append_event(
            &conv,
            Some(actor),
            at,
            EventData::MessageDeleted(MessageDeleted {
                message_id: id.to_string(),
                seq: row.seq,
            }),
            out,
        )
        .await?;
        rows::message_view(&self.tx, actor, &row, None).await
    }

    pub async fn react(
        &mut self,
        actor: &str,
        id: &str,
        emoji: &str,
        add: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Vec<ReactionSummary>> {
        self.lock_message_conversation(id).await?;
        let (row, _) = rows::visible_message(&self.tx, actor, id).await?;
        let r = query_one(
            &self.tx,
            "SELECT EXISTS(SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3)",
            &[&id, &emoji, &actor],
        )
        .await?;
        let exists: bool = col(&r, 0)?;
        if add && !exists {
            if row.deleted {
                return Err(StoreError::Conflict("the message was deleted"));
            }
            let r = query_one(
                &self.tx,
                "SELECT count(DISTINCT emoji), coalesce(bool_or(emoji = $2), FALSE) FROM reactions WHERE message_id = $1",
                &[&id, &emoji],
            )
            .await?;
            let distinct: i64 = col(&r, 0)?;
            let has_emoji: bool = col(&r, 1)?;
            if !has_emoji && distinct >= MAX_DISTINCT_REACTIONS {
                return Err(StoreError::Invalid {
                    field: "emoji",
                    message: "a message carries at most 20 distinct emoji",
                });
            }
            execute(
                &self.tx,
                "INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES ($1, $2, $3, $4)",
                &[&id, &actor, &emoji, &at.millis()],
            )
            .await?;
            let conv = row.conversation_id.clone();
            self.append_event(
                &conv,
                Some(actor),
                at,
                EventData::ReactionAdded(ReactionChange {
                    emoji: emoji.to_string(),
                    message_id: id.to_string(),
                    seq: row.seq,
                    user_id: actor.to_string(),
                }),
                out,
            )
            .await?;
        } else if !add && exists {
            execute(
                &self.tx,
                "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
                &[&id, &emoji, &actor],
            )
            .await?;
            let conv = row.conversation_id.clone();
            self.append_event(
                &conv,
                Some(actor),
                at,
                EventData::ReactionRemoved(ReactionChange {
                    emoji: emoji.to_string(),
                    message_id: id.to_string(),
                    seq: row.seq,
                    user_id: actor.to_string(),
                }),
                out,
            )
            .await?;
        }
        rows::reactions(&self.tx, id, actor).await
    }
}

/// SQLite `debug_assert`s this; here a mismatch would mean the lock did not
/// hold, so the transaction is refused rather than storing a wrong seq.
fn seq_matches(got: u64, expected: u64) -> StoreResult<()> {
    if got == expected {
        Ok(())
    } else {
        Err(StoreError::Internal(format!(
            "seq allocated {got}, expected {expected}"
        )))
    }
}
