//! Write operations. Each runs inside the writer's transaction (see
//! `writer.rs`): checks, seq allocation, the event row and its delivery
//! happen atomically, so no reader ever sees a seq without its event.

use super::WriterState;
use super::rows::{self, MessageRow, db_err, is_unique_violation, require_member};
use crate::delivery::{Delivery, event_frame};
use crate::store::{
    NewMessage, NewUser, RefreshTokenRow, RotateOutcome, StoreError, StoreResult, UserRow,
};
use parley_protocol::events::{
    ConversationCreated, ConversationUpdated, EventData, MemberJoined, MemberLeft,
    MemberRoleChanged, MessageCreated, MessageDeleted, MessageEdited, ReactionChange,
};
use parley_protocol::{
    ConversationKind, Event, MemberRole, Message, MessageStatus, ReactionSummary, ReadResponse,
    ServerFrame, Timestamp,
};
use rusqlite::{OptionalExtension, params};
use std::sync::Arc;

/// Most distinct emoji one message may carry.
pub const MAX_DISTINCT_REACTIONS: i64 = 20;

impl WriterState {
    /// Allocates the next seq, stores the event and queues its delivery to
    /// the conversation's current members.
    fn append_event(
        &mut self,
        conv: &str,
        actor: Option<&str>,
        at: Timestamp,
        data: EventData,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u64> {
        let seq: i64 = self
            .conn
            .prepare_cached(
                "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = ?1 RETURNING last_seq",
            )
            .map_err(db_err)?
            .query_row([conv], |r| r.get(0))
            .map_err(db_err)?;
        self.store_event(
            Event {
                conversation_id: conv.to_string(),
                seq: seq as u64,
                actor_id: actor.map(str::to_string),
                at,
                data,
            },
            out,
        )
    }

    /// Stores an event whose seq is already allocated and queues its
    /// delivery to the conversation's current members.
    fn store_event(&mut self, event: Event, out: &mut Vec<Delivery>) -> StoreResult<u64> {
        let conv = event.conversation_id.as_str();
        let seq = event.seq as i64;
        let body =
            serde_json::to_string(&event).map_err(|e| StoreError::Internal(e.to_string()))?;
        self.conn
            .prepare_cached(
                "INSERT INTO events (conversation_id, seq, type, body) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db_err)?
            .execute(params![conv, seq, event.kind(), body])
            .map_err(db_err)?;
        let recipients = self.members_of(conv)?;
        out.push(Delivery::Event {
            conversation_id: Arc::from(conv),
            seq: seq as u64,
            recipients,
            frame: event_frame(&body),
        });
        Ok(seq as u64)
    }

    /// Current members, cached: the writer is the only one changing them.
    pub fn members_of(&mut self, conv: &str) -> StoreResult<Arc<[String]>> {
        if let Some(m) = self.members_cache.get(conv) {
            return Ok(m.clone());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT user_id FROM members WHERE conversation_id = ?1 AND active = 1")
            .map_err(db_err)?;
        let ids = stmt
            .query_map([conv], |r| r.get::<_, String>(0))
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        let ids: Arc<[String]> = Arc::from(ids);
        if self.members_cache.len() > 50_000 {
            self.members_cache.clear();
        }
        self.members_cache.insert(conv.to_string(), ids.clone());
        Ok(ids)
    }

    fn added(&self, user: &str, conv: &str) -> StoreResult<Delivery> {
        let view = rows::conversation_view(&self.conn, user, conv)?;
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

    fn insert_member(
        &mut self,
        conv: &str,
        user: &str,
        role: MemberRole,
        joined_seq: u64,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO members (conversation_id, user_id, role, joined_seq, joined_at, read_seq, delivered_seq, muted_until, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?4, NULL, 1)
                 ON CONFLICT (conversation_id, user_id) DO UPDATE SET
                   role = excluded.role, joined_seq = excluded.joined_seq, joined_at = excluded.joined_at,
                   read_seq = excluded.read_seq, delivered_seq = excluded.delivered_seq,
                   muted_until = NULL, active = 1",
            )
            .map_err(db_err)?
            .execute(params![conv, user, role.as_str(), joined_seq as i64, at.millis()])
            .map_err(db_err)?;
        self.members_cache.remove(conv);
        Ok(())
    }

    fn set_member_count(&mut self, conv: &str) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE conversations SET member_count =
                   (SELECT count(*) FROM members WHERE conversation_id = ?1 AND active = 1) WHERE id = ?1",
            )
            .map_err(db_err)?
            .execute([conv])
            .map_err(db_err)?;
        Ok(())
    }

    fn require_user(&self, id: &str) -> StoreResult<UserRow> {
        rows::user_by_id(&self.conn, id)?.ok_or(StoreError::NotFound("user"))
    }

    /// A conversation's kind, cached: it never changes.
    fn conversation_kind(&mut self, conv: &str) -> StoreResult<ConversationKind> {
        if let Some(k) = self.kinds_cache.get(conv) {
            return Ok(*k);
        }
        let kind: String = self
            .conn
            .prepare_cached("SELECT kind FROM conversations WHERE id = ?1")
            .map_err(db_err)?
            .query_row([conv], |r| r.get(0))
            .optional()
            .map_err(db_err)?
            .ok_or(StoreError::NotFound("conversation"))?;
        let kind = ConversationKind::parse(&kind).unwrap_or(ConversationKind::Group);
        if self.kinds_cache.len() > 50_000 {
            self.kinds_cache.clear();
        }
        self.kinds_cache.insert(conv.to_string(), kind);
        Ok(kind)
    }

    // ------------------------------------------------------------- users

    pub fn create_user(&mut self, u: &NewUser) -> StoreResult<UserRow> {
        let r = self.conn
            .prepare_cached(
                "INSERT INTO users (id, username, display_name, avatar_url, about, role, password_hash, external_sub, is_bot, created_at, search_name)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(db_err)?
            .execute(params![
                u.id, u.username, u.display_name, u.avatar_url, u.role.as_str(), u.password_hash,
                u.external_sub, u.is_bot as i64, u.created_at.millis(), crate::store::search_name(&u.username, &u.display_name)
            ]);
        match r {
            Ok(_) => self.require_user(&u.id),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict("username taken")),
            Err(e) => Err(db_err(e)),
        }
    }

    pub fn upsert_external_user(&mut self, u: &NewUser) -> StoreResult<UserRow> {
        let sub = u.external_sub.clone().unwrap_or_default();
        let existing: Option<String> = self
            .conn
            .prepare_cached("SELECT id FROM users WHERE external_sub = ?1")
            .map_err(db_err)?
            .query_row([&sub], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if let Some(id) = existing {
            self.conn
                .prepare_cached(
                    "UPDATE users SET display_name = ?2, avatar_url = coalesce(?3, avatar_url), role = ?4,
                       search_name = lower(username) || ' ' || ?5 WHERE id = ?1",
                )
                .map_err(db_err)?
                .execute(params![id, u.display_name, u.avatar_url, u.role.as_str(), u.display_name.to_lowercase()])
                .map_err(db_err)?;
            return self.require_user(&id);
        }
        // The platform's name may collide with a local username: try the
        // name, then the name with a piece of the new id.
        let mut candidate = u.clone();
        for attempt in 0..4 {
            match self.create_user(&candidate) {
                Err(StoreError::Conflict(_)) if attempt < 3 => {
                    let suffix: String = u.id.chars().rev().take(4 + attempt * 2).collect();
                    let base: String = u.username.chars().take(32 - suffix.len() - 1).collect();
                    candidate.username = format!("{base}_{suffix}");
                }
                other => return other,
            }
        }
        Err(StoreError::Conflict("username taken"))
    }

    pub fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        new: &RefreshTokenRow,
    ) -> StoreResult<RotateOutcome> {
        let row: Option<(String, String, i64, Option<i64>, i64)> = self
            .conn
            .prepare_cached(
                "SELECT family_id, user_id, expires_at, used_at, revoked FROM refresh_tokens WHERE token_hash = ?1",
            )
            .map_err(db_err)?
            .query_row([old_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .optional()
            .map_err(db_err)?;
        let Some((family, user_id, expires_at, used_at, revoked)) = row else {
            return Ok(RotateOutcome::Invalid);
        };
        if used_at.is_some() {
            // Theft detection: a used token came back. Revoke the family.
            self.conn
                .prepare_cached("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?1")
                .map_err(db_err)?
                .execute([&family])
                .map_err(db_err)?;
            return Ok(RotateOutcome::Reused);
        }
        if revoked != 0 || expires_at <= new.created_at.millis() {
            return Ok(RotateOutcome::Invalid);
        }
        self.conn
            .prepare_cached("UPDATE refresh_tokens SET used_at = ?2 WHERE token_hash = ?1")
            .map_err(db_err)?
            .execute(params![old_hash, new.created_at.millis()])
            .map_err(db_err)?;
        self.insert_refresh_token(&RefreshTokenRow {
            family_id: family,
            user_id: user_id.clone(),
            ..new.clone()
        })?;
        Ok(RotateOutcome::Rotated { user_id })
    }

    pub fn insert_refresh_token(&mut self, t: &RefreshTokenRow) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO refresh_tokens (token_hash, family_id, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(db_err)?
            .execute(params![t.token_hash, t.family_id, t.user_id, t.created_at.millis(), t.expires_at.millis()])
            .map_err(db_err)?;
        Ok(())
    }

    // ----------------------------------------------------- conversations

    pub fn get_or_create_direct(
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
        self.require_user(peer)?;
        if rows::blocked_between(&self.conn, me, peer)? {
            return Err(StoreError::Blocked);
        }
        let key = if me < peer {
            format!("{me}:{peer}")
        } else {
            format!("{peer}:{me}")
        };
        let existing: Option<String> = self
            .conn
            .prepare_cached("SELECT id FROM conversations WHERE direct_key = ?1")
            .map_err(db_err)?
            .query_row([&key], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if let Some(existing) = existing {
            return Ok((existing, false));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO conversations (id, kind, title, avatar_url, created_at, last_seq, last_activity_at, member_count, direct_key)
                 VALUES (?1, 'direct', NULL, NULL, ?2, 0, ?2, 2, ?3)",
            )
            .map_err(db_err)?
            .execute(params![id, at.millis(), key])
            .map_err(db_err)?;
        self.insert_member(id, me, MemberRole::Member, 1, at)?;
        self.insert_member(id, peer, MemberRole::Member, 1, at)?;
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
        )?;
        out.push(self.added(me, id)?);
        out.push(self.added(peer, id)?);
        out.extend(events);
        Ok((id.to_string(), true))
    }

    pub fn create_group(
        &mut self,
        id: &str,
        creator: &str,
        title: &str,
        member_ids: &[String],
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        for m in member_ids {
            self.require_user(m)?;
            if rows::blocked_between(&self.conn, creator, m)? {
                return Err(StoreError::Blocked);
            }
        }
        self.conn
            .prepare_cached(
                "INSERT INTO conversations (id, kind, title, avatar_url, created_at, last_seq, last_activity_at, member_count, direct_key)
                 VALUES (?1, 'group', ?2, NULL, ?3, 0, ?3, 0, NULL)",
            )
            .map_err(db_err)?
            .execute(params![id, title, at.millis()])
            .map_err(db_err)?;
        self.insert_member(id, creator, MemberRole::Owner, 1, at)?;
        for m in member_ids {
            self.insert_member(id, m, MemberRole::Member, 1, at)?;
        }
        self.set_member_count(id)?;
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
        )?;
        for u in &all {
            out.push(self.added(u, id)?);
        }
        out.extend(events);
        Ok(())
    }

    pub fn update_conversation(
        &mut self,
        actor: &str,
        id: &str,
        title: Option<String>,
        avatar_url: Option<String>,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let me = require_member(&self.conn, id, actor)?;
        if self.conversation_kind(id)? != ConversationKind::Group {
            return Err(StoreError::Forbidden("only groups can be renamed"));
        }
        if !me.role.can_manage() {
            return Err(StoreError::Forbidden(
                "only the owner or an admin can change the group",
            ));
        }
        let mut data = ConversationUpdated::default();
        if let Some(t) = &title {
            self.conn
                .execute(
                    "UPDATE conversations SET title = ?2 WHERE id = ?1",
                    params![id, t],
                )
                .map_err(db_err)?;
            data.title = Some(t.clone());
        }
        if let Some(a) = &avatar_url {
            let v = if a.is_empty() { None } else { Some(a.as_str()) };
            self.conn
                .execute(
                    "UPDATE conversations SET avatar_url = ?2 WHERE id = ?1",
                    params![id, v],
                )
                .map_err(db_err)?;
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
        )?;
        Ok(())
    }

    pub fn add_members(
        &mut self,
        actor: &str,
        id: &str,
        user_ids: &[String],
        max_members: u32,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let me = require_member(&self.conn, id, actor)?;
        if self.conversation_kind(id)? != ConversationKind::Group {
            return Err(StoreError::Forbidden("members can only be added to groups"));
        }
        if !me.role.can_manage() {
            return Err(StoreError::Forbidden(
                "only the owner or an admin can add members",
            ));
        }
        let mut new = Vec::new();
        for u in user_ids {
            self.require_user(u)?;
            if rows::blocked_between(&self.conn, actor, u)? {
                return Err(StoreError::Blocked);
            }
            if rows::member_info(&self.conn, id, u)?.is_none() && !new.contains(u) {
                new.push(u.clone());
            }
        }
        let count = self.members_of(id)?.len();
        if count + new.len() > max_members as usize {
            return Err(StoreError::Invalid {
                field: "user_ids",
                message: "the group would exceed its member limit",
            });
        }
        for u in &new {
            // The member row goes in first so the member receives its own
            // join event; its joined_seq is that event's seq.
            let seq = self.peek_next_seq(id)?;
            self.insert_member(id, u, MemberRole::Member, seq, at)?;
            self.set_member_count(id)?;
            let mut events = Vec::new();
            let got = self.append_event(
                id,
                Some(actor),
                at,
                EventData::MemberJoined(MemberJoined {
                    added_by: actor.to_string(),
                    role: MemberRole::Member,
                    user_id: u.clone(),
                }),
                &mut events,
            )?;
            debug_assert_eq!(got, seq);
            out.push(self.added(u, id)?);
            out.extend(events);
        }
        Ok(())
    }

    fn peek_next_seq(&self, id: &str) -> StoreResult<u64> {
        self.conn
            .prepare_cached("SELECT last_seq + 1 FROM conversations WHERE id = ?1")
            .map_err(db_err)?
            .query_row([id], |r| r.get::<_, i64>(0))
            .map(|v| v as u64)
            .map_err(db_err)
    }

    pub fn remove_member(
        &mut self,
        actor: &str,
        id: &str,
        target: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let me = require_member(&self.conn, id, actor)?;
        let kind = self.conversation_kind(id)?;
        let them =
            rows::member_info(&self.conn, id, target)?.ok_or(StoreError::NotFound("member"))?;
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
        self.conn
            .prepare_cached(
                "UPDATE members SET active = 0 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .map_err(db_err)?
            .execute(params![id, target])
            .map_err(db_err)?;
        self.members_cache.remove(id);
        self.set_member_count(id)?;
        let data = EventData::MemberLeft(MemberLeft {
            removed_by: (!leaving).then(|| actor.to_string()),
            user_id: target.to_string(),
        });
        out.push(self.removed(target, id)?);
        self.append_event(id, Some(actor), at, data, out)?;
        if them.role == MemberRole::Owner {
            // Ownership passes to the oldest admin, else the oldest member.
            let heir: Option<String> = self
                .conn
                .prepare_cached(
                    "SELECT user_id FROM members WHERE conversation_id = ?1 AND active = 1
                     ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, joined_seq, joined_at, user_id LIMIT 1",
                )
                .map_err(db_err)?
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(db_err)?;
            if let Some(heir) = heir {
                self.set_role(id, &heir, MemberRole::Owner)?;
                self.append_event(
                    id,
                    None,
                    at,
                    EventData::MemberRoleChanged(MemberRoleChanged {
                        role: MemberRole::Owner,
                        user_id: heir.clone(),
                    }),
                    out,
                )?;
            }
        }
        Ok(())
    }

    fn set_role(&mut self, id: &str, user: &str, role: MemberRole) -> StoreResult<()> {
        self.conn
            .prepare_cached(
                "UPDATE members SET role = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .map_err(db_err)?
            .execute(params![id, user, role.as_str()])
            .map_err(db_err)?;
        Ok(())
    }

    pub fn change_role(
        &mut self,
        actor: &str,
        id: &str,
        target: &str,
        role: MemberRole,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let me = require_member(&self.conn, id, actor)?;
        if self.conversation_kind(id)? != ConversationKind::Group {
            return Err(StoreError::Forbidden("roles exist only in groups"));
        }
        let them =
            rows::member_info(&self.conn, id, target)?.ok_or(StoreError::NotFound("member"))?;
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
        self.set_role(id, target, role)?;
        self.append_event(
            id,
            Some(actor),
            at,
            EventData::MemberRoleChanged(MemberRoleChanged {
                role,
                user_id: target.to_string(),
            }),
            out,
        )?;
        if role == MemberRole::Owner {
            // Hand-over: the previous owner stays on as an admin.
            self.set_role(id, actor, MemberRole::Admin)?;
            self.append_event(
                id,
                Some(actor),
                at,
                EventData::MemberRoleChanged(MemberRoleChanged {
                    role: MemberRole::Admin,
                    user_id: actor.to_string(),
                }),
                out,
            )?;
        }
        Ok(())
    }

    pub fn mark_read(
        &mut self,
        user: &str,
        id: &str,
        seq: u64,
        delivered_only: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<ReadResponse> {
        let me = require_member(&self.conn, id, user)?;
        let last_seq: i64 = self
            .conn
            .prepare_cached("SELECT last_seq FROM conversations WHERE id = ?1")
            .map_err(db_err)?
            .query_row([id], |r| r.get(0))
            .map_err(db_err)?;
        let clamped = seq.min(last_seq as u64);
        let (read, delivered) = if delivered_only {
            (me.read_seq, me.delivered_seq.max(clamped))
        } else {
            let r = me.read_seq.max(clamped);
            (r, me.delivered_seq.max(r))
        };
        if read != me.read_seq || delivered != me.delivered_seq {
            self.conn
                .prepare_cached("UPDATE members SET read_seq = ?3, delivered_seq = ?4 WHERE conversation_id = ?1 AND user_id = ?2")
                .map_err(db_err)?
                .execute(params![id, user, read as i64, delivered as i64])
                .map_err(db_err)?;
            for (kind, value, moved) in [
                ("delivered", delivered, delivered != me.delivered_seq),
                ("read", read, read != me.read_seq),
            ] {
                if moved {
                    self.conn
                        .prepare_cached("INSERT INTO watermark_moves (conversation_id, user_id, kind, seq, at) VALUES (?1, ?2, ?3, ?4, ?5)")
                        .map_err(db_err)?
                        .execute(params![id, user, kind, value as i64, at.millis()])
                        .map_err(db_err)?;
                }
            }
            self.push_receipt(id, user, delivered, read, out)?;
        }
        Ok(ReadResponse {
            read_seq: read,
            unread_count: rows::unread_count(&self.conn, id, user, read)?,
        })
    }

    /// `receipt` to the other members, except those in a block with `user`.
    fn push_receipt(
        &mut self,
        id: &str,
        user: &str,
        delivered: u64,
        read: u64,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<()> {
        let hidden = rows::block_partners(&self.conn, user)?;
        let recipients: Vec<String> = self
            .members_of(id)?
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

    pub fn mark_delivered(
        &mut self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<u64> {
        // Same clamping and forward-only rule as read; read_seq untouched.
        let me = require_member(&self.conn, id, user)?;
        self.mark_read(user, id, seq, true, at, out)?;
        Ok(rows::require_member(&self.conn, id, user)
            .map(|m| m.delivered_seq)
            .unwrap_or(me.delivered_seq))
    }

    pub fn set_mute(
        &mut self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>> {
        require_member(&self.conn, id, user)?;
        self.conn
            .prepare_cached(
                "UPDATE members SET muted_until = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .map_err(db_err)?
            .execute(params![id, user, until.map(|t| t.millis())])
            .map_err(db_err)?;
        Ok(until)
    }

    // ---------------------------------------------------------- messages

    /// The hot path of every send; each statement here costs every
    /// message (see the W3 profile in bench/results), so membership and
    /// kind come from the writer's caches, a retry is found by the unique
    /// index refusing the insert rather than by a lookup first, and the
    /// answer is built without reading back what was just written.
    pub fn send_message(
        &mut self,
        m: &NewMessage,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<(Message, bool)> {
        let members = self.members_of(&m.conversation_id)?;
        if !members.contains(&m.sender_id) {
            return Err(StoreError::NotFound("conversation"));
        }
        if self.conversation_kind(&m.conversation_id)? == ConversationKind::Direct
            && let Some(peer) = members.iter().find(|u| **u != m.sender_id)
            && rows::blocked_between(&self.conn, &m.sender_id, peer)?
        {
            return Err(StoreError::Blocked);
        }
        if let Some(reply_to) = &m.reply_to {
            let member = require_member(&self.conn, &m.conversation_id, &m.sender_id)?;
            let target = rows::message_by_id(&self.conn, reply_to)?;
            let ok = matches!(&target, Some(t) if t.conversation_id == m.conversation_id && t.seq >= member.joined_seq);
            if !ok {
                return Err(StoreError::Invalid {
                    field: "reply_to",
                    message: "no such message in this conversation",
                });
            }
        }
        let seq = self.peek_next_seq(&m.conversation_id)?;
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
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO messages (id, conversation_id, seq, sender_id, client_id, kind, text, attachments, reply_to, mentions, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(db_err)?
            .execute(params![
                row.id, row.conversation_id, seq as i64, row.sender_id, row.client_id, row.kind.as_str(),
                row.text, row.attachments, row.reply_to, row.mentions, row.created_at
            ]);
        match inserted {
            Ok(_) => {}
            // The statement failed as a whole, so nothing was written: a
            // retry of a stored send answers with the original.
            Err(e) if is_unique_violation(&e) => match &m.client_id {
                Some(client_id) => {
                    let existing = self
                        .conn
                        .prepare_cached(&format!(
                            "SELECT {} FROM messages WHERE conversation_id = ?1 AND sender_id = ?2 AND client_id = ?3",
                            rows::MESSAGE_COLS
                        ))
                        .map_err(db_err)?
                        .query_row(params![m.conversation_id, m.sender_id, client_id], rows::message_row)
                        .optional()
                        .map_err(db_err)?;
                    return match existing {
                        Some(row) => Ok((
                            rows::message_view(&self.conn, &m.sender_id, &row, None)?,
                            false,
                        )),
                        None => Err(db_err(e)),
                    };
                }
                None => return Err(db_err(e)),
            },
            Err(e) => return Err(db_err(e)),
        }
        // The seq, the conversation's last message and its activity time in
        // one statement.
        let allocated: i64 = self
            .conn
            .prepare_cached(
                "UPDATE conversations SET last_seq = last_seq + 1, last_message_seq = last_seq + 1, last_activity_at = ?2
                 WHERE id = ?1 RETURNING last_seq",
            )
            .map_err(db_err)?
            .query_row(params![m.conversation_id, m.at.millis()], |r| r.get(0))
            .map_err(db_err)?;
        debug_assert_eq!(allocated as u64, seq);
        self.store_event(
            Event {
                conversation_id: m.conversation_id.clone(),
                seq: allocated as u64,
                actor_id: Some(m.sender_id.clone()),
                at: m.at,
                data: EventData::MessageCreated(MessageCreated {
                    message: row.to_wire(),
                }),
            },
            out,
        )?;
        // The sender has read what they sent.
        self.conn
            .prepare_cached(
                "UPDATE members SET read_seq = ?3, delivered_seq = ?3 WHERE conversation_id = ?1 AND user_id = ?2",
            )
            .map_err(db_err)?
            .execute(params![m.conversation_id, m.sender_id, seq as i64])
            .map_err(db_err)?;
        // Nobody else can have reached a seq that did not exist until now,
        // and nobody has reacted yet.
        let mut message = row.to_wire();
        message.status = Some(MessageStatus::Sent);
        Ok((message, true))
    }

    pub fn edit_message(
        &mut self,
        actor: &str,
        id: &str,
        text: &str,
        window_ms: i64,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        let (mut row, _) = rows::visible_message(&self.conn, actor, id)?;
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
        self.conn
            .prepare_cached("UPDATE messages SET text = ?2, edited_at = ?3 WHERE id = ?1")
            .map_err(db_err)?
            .execute(params![id, text, at.millis()])
            .map_err(db_err)?;
        row.text = Some(text.to_string());
        row.edited_at = Some(at.millis());
        self.append_event(
            &row.conversation_id,
            Some(actor),
            at,
            EventData::MessageEdited(MessageEdited {
                edited_at: at,
                message_id: id.to_string(),
                seq: row.seq,
                text: text.to_string(),
            }),
            out,
        )?;
        rows::message_view(&self.conn, actor, &row, None)
    }

    pub fn delete_message(
        &mut self,
        actor: &str,
        id: &str,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Message> {
        let (mut row, me) = rows::visible_message(&self.conn, actor, id)?;
        if row.deleted {
            return rows::message_view(&self.conn, actor, &row, None);
        }
        let is_group = self.conversation_kind(&row.conversation_id)? == ConversationKind::Group;
        if row.sender_id != actor && !(is_group && me.role.can_manage()) {
            return Err(StoreError::Forbidden(
                "only the sender or a group admin can delete a message",
            ));
        }
        self.conn
            .prepare_cached(
                "UPDATE messages SET deleted = 1, text = NULL, attachments = '[]' WHERE id = ?1",
            )
            .map_err(db_err)?
            .execute([id])
            .map_err(db_err)?;
        self.conn
            .prepare_cached("DELETE FROM reactions WHERE message_id = ?1")
            .map_err(db_err)?
            .execute([id])
            .map_err(db_err)?;
        row.deleted = true;
        row.text = None;
        self.append_event(
            &row.conversation_id,
            Some(actor),
            at,
            EventData::MessageDeleted(MessageDeleted {
                message_id: id.to_string(),
                seq: row.seq,
            }),
            out,
        )?;
        rows::message_view(&self.conn, actor, &row, None)
    }

    pub fn react(
        &mut self,
        actor: &str,
        id: &str,
        emoji: &str,
        add: bool,
        at: Timestamp,
        out: &mut Vec<Delivery>,
    ) -> StoreResult<Vec<ReactionSummary>> {
        let (row, _) = rows::visible_message(&self.conn, actor, id)?;
        let exists: bool = self
            .conn
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3)")
            .map_err(db_err)?
            .query_row(params![id, emoji, actor], |r| r.get(0))
            .map_err(db_err)?;
        if add && !exists {
            if row.deleted {
                return Err(StoreError::Conflict("the message was deleted"));
            }
            let (distinct, has_emoji): (i64, bool) = self
                .conn
                .prepare_cached("SELECT count(DISTINCT emoji), coalesce(max(emoji = ?2), 0) FROM reactions WHERE message_id = ?1")
                .map_err(db_err)?
                .query_row(params![id, emoji], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(db_err)?;
            if !has_emoji && distinct >= MAX_DISTINCT_REACTIONS {
                return Err(StoreError::Invalid {
                    field: "emoji",
                    message: "a message carries at most 20 distinct emoji",
                });
            }
            self.conn
                .prepare_cached("INSERT INTO reactions (message_id, user_id, emoji, created_at) VALUES (?1, ?2, ?3, ?4)")
                .map_err(db_err)?
                .execute(params![id, actor, emoji, at.millis()])
                .map_err(db_err)?;
            self.append_event(
                &row.conversation_id,
                Some(actor),
                at,
                EventData::ReactionAdded(ReactionChange {
                    emoji: emoji.to_string(),
                    message_id: id.to_string(),
                    seq: row.seq,
                    user_id: actor.to_string(),
                }),
                out,
            )?;
        } else if !add && exists {
            self.conn
                .prepare_cached(
                    "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND user_id = ?3",
                )
                .map_err(db_err)?
                .execute(params![id, emoji, actor])
                .map_err(db_err)?;
            self.append_event(
                &row.conversation_id,
                Some(actor),
                at,
                EventData::ReactionRemoved(ReactionChange {
                    emoji: emoji.to_string(),
                    message_id: id.to_string(),
                    seq: row.seq,
                    user_id: actor.to_string(),
                }),
                out,
            )?;
        }
        rows::reactions(&self.conn, id, actor)
    }
}
