//! Row mapping and the views a viewer gets (conversation, message), shared
//! by the reader pool and the writer (which builds `conversation.added`).

use crate::store::{StoreError, StoreResult, UserRow};
use parley_protocol::{
    Conversation, ConversationKind, Member, MemberRole, Message, MessageKind, MessageStatus,
    Presence, ReactionSummary, Role, Timestamp, User,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

pub fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

pub const USER_COLS: &str =
    "id, username, display_name, avatar_url, about, role, password_hash, created_at, last_seen_at";

pub fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    let role: String = r.get(5)?;
    Ok(UserRow {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        avatar_url: r.get(3)?,
        about: r.get(4)?,
        role: Role::parse(&role).unwrap_or(Role::User),
        password_hash: r.get(6)?,
        created_at: Timestamp(r.get(7)?),
        last_seen_at: r.get::<_, Option<i64>>(8)?.map(Timestamp),
    })
}

impl UserRow {
    pub fn to_wire(&self) -> User {
        User {
            id: self.id.clone(),
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
            about: self.about.clone(),
            role: self.role,
            presence: Presence {
                state: parley_protocol::PresenceState::Offline,
                last_seen_at: self.last_seen_at,
            },
        }
    }
}

pub fn user_by_id(conn: &Connection, id: &str) -> StoreResult<Option<UserRow>> {
    conn.prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))
        .map_err(db_err)?
        .query_row([id], user_row)
        .optional()
        .map_err(db_err)
}

/// The caller's membership row, if they are a current member.
#[derive(Debug, Clone)]
pub struct MemberInfo {
    pub role: MemberRole,
    pub joined_seq: u64,
    pub read_seq: u64,
    pub delivered_seq: u64,
    pub muted_until: Option<i64>,
}

pub fn member_info(conn: &Connection, conv: &str, user: &str) -> StoreResult<Option<MemberInfo>> {
    conn.prepare_cached(
        "SELECT role, joined_seq, read_seq, delivered_seq, muted_until FROM members
         WHERE conversation_id = ?1 AND user_id = ?2 AND active = 1",
    )
    .map_err(db_err)?
    .query_row(params![conv, user], |r| {
        let role: String = r.get(0)?;
        Ok(MemberInfo {
            role: MemberRole::parse(&role).unwrap_or(MemberRole::Member),
            joined_seq: r.get::<_, i64>(1)? as u64,
            read_seq: r.get::<_, i64>(2)? as u64,
            delivered_seq: r.get::<_, i64>(3)? as u64,
            muted_until: r.get(4)?,
        })
    })
    .optional()
    .map_err(db_err)
}

/// Membership or `not_found`: what the caller may not see does not exist.
pub fn require_member(conn: &Connection, conv: &str, user: &str) -> StoreResult<MemberInfo> {
    member_info(conn, conv, user)?.ok_or(StoreError::NotFound("conversation"))
}

pub const MESSAGE_COLS: &str = "id, conversation_id, seq, sender_id, client_id, kind, text, \
     attachments, reply_to, mentions, created_at, edited_at, deleted";

/// A message row before it is dressed for a viewer.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: String,
    pub conversation_id: String,
    pub seq: u64,
    pub sender_id: String,
    pub client_id: Option<String>,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub attachments: String,
    pub reply_to: Option<String>,
    pub mentions: String,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub deleted: bool,
}

pub fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    let kind: String = r.get(5)?;
    Ok(MessageRow {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        seq: r.get::<_, i64>(2)? as u64,
        sender_id: r.get(3)?,
        client_id: r.get(4)?,
        kind: MessageKind::parse(&kind).unwrap_or(MessageKind::Text),
        text: r.get(6)?,
        attachments: r.get(7)?,
        reply_to: r.get(8)?,
        mentions: r.get(9)?,
        created_at: r.get(10)?,
        edited_at: r.get(11)?,
        deleted: r.get::<_, i64>(12)? != 0,
    })
}

impl MessageRow {
    /// The viewer-independent wire form (no status, no reactions): what an
    /// event carries.
    pub fn to_wire(&self) -> Message {
        Message {
            id: self.id.clone(),
            conversation_id: self.conversation_id.clone(),
            seq: self.seq,
            sender_id: self.sender_id.clone(),
            client_id: self.client_id.clone(),
            kind: self.kind,
            text: if self.deleted {
                None
            } else {
                self.text.clone()
            },
            attachments: if self.deleted {
                Vec::new()
            } else {
                serde_json::from_str(&self.attachments).unwrap_or_default()
            },
            reply_to: self.reply_to.clone(),
            mentions: serde_json::from_str(&self.mentions).unwrap_or_default(),
            created_at: Timestamp(self.created_at),
            edited_at: self.edited_at.map(Timestamp),
            deleted: self.deleted,
            reactions: Vec::new(),
            status: None,
        }
    }
}

pub fn message_by_id(conn: &Connection, id: &str) -> StoreResult<Option<MessageRow>> {
    conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLS} FROM messages WHERE id = ?1"
    ))
    .map_err(db_err)?
    .query_row([id], message_row)
    .optional()
    .map_err(db_err)
}

/// A message the viewer may see: they are a member and it is not older than
/// their `joined_seq`. Anything else is `not_found`.
pub fn visible_message(
    conn: &Connection,
    viewer: &str,
    id: &str,
) -> StoreResult<(MessageRow, MemberInfo)> {
    let row = message_by_id(conn, id)?.ok_or(StoreError::NotFound("message"))?;
    let member =
        member_info(conn, &row.conversation_id, viewer)?.ok_or(StoreError::NotFound("message"))?;
    if row.seq < member.joined_seq {
        return Err(StoreError::NotFound("message"));
    }
    Ok((row, member))
}

pub fn reactions(
    conn: &Connection,
    message_id: &str,
    viewer: &str,
) -> StoreResult<Vec<ReactionSummary>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT emoji, count(*), max(user_id = ?2) FROM reactions WHERE message_id = ?1
             GROUP BY emoji ORDER BY min(created_at), emoji",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![message_id, viewer], |r| {
            Ok(ReactionSummary {
                emoji: r.get(0)?,
                count: r.get::<_, i64>(1)? as u64,
                me: r.get::<_, i64>(2)? != 0,
            })
        })
        .map_err(db_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
}

/// The lowest delivered and read watermarks among the other current members:
/// a message at or below them is delivered / read for everyone.
#[derive(Debug, Clone, Copy)]
pub struct OthersWatermarks {
    pub delivered: Option<u64>,
    pub read: Option<u64>,
}

pub fn others_watermarks(conn: &Connection, conv: &str, me: &str) -> StoreResult<OthersWatermarks> {
    conn.prepare_cached(
        "SELECT min(delivered_seq), min(read_seq) FROM members
         WHERE conversation_id = ?1 AND user_id <> ?2 AND active = 1
           AND user_id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = ?2
                               UNION SELECT blocker_id FROM blocks WHERE blocked_id = ?2)",
    )
    .map_err(db_err)?
    .query_row(params![conv, me], |r| {
        Ok(OthersWatermarks {
            delivered: r.get::<_, Option<i64>>(0)?.map(|v| v as u64),
            read: r.get::<_, Option<i64>>(1)?.map(|v| v as u64),
        })
    })
    .map_err(db_err)
}

pub fn status_for(seq: u64, marks: OthersWatermarks) -> MessageStatus {
    match (marks.read, marks.delivered) {
        (Some(r), _) if r >= seq => MessageStatus::Read,
        (_, Some(d)) if d >= seq => MessageStatus::Delivered,
        _ => MessageStatus::Sent,
    }
}

/// A message as `viewer` sees it: reactions with `me`, status on their own.
pub fn message_view(
    conn: &Connection,
    viewer: &str,
    row: &MessageRow,
    marks: Option<OthersWatermarks>,
) -> StoreResult<Message> {
    let mut m = row.to_wire();
    if !row.deleted {
        m.reactions = reactions(conn, &row.id, viewer)?;
    }
    if row.sender_id == viewer {
        let marks = match marks {
            Some(m) => m,
            None => others_watermarks(conn, &row.conversation_id, viewer)?,
        };
        m.status = Some(status_for(row.seq, marks));
    }
    Ok(m)
}

pub fn unread_count(conn: &Connection, conv: &str, user: &str, read_seq: u64) -> StoreResult<u64> {
    conn.prepare_cached(
        "SELECT count(*) FROM messages WHERE conversation_id = ?1 AND seq > ?2
         AND sender_id <> ?3 AND deleted = 0",
    )
    .map_err(db_err)?
    .query_row(params![conv, read_seq as i64, user], |r| r.get::<_, i64>(0))
    .map(|n| n as u64)
    .map_err(db_err)
}

/// The conversation object as `viewer` sees it (protocol.md §4).
pub fn conversation_view(conn: &Connection, viewer: &str, id: &str) -> StoreResult<Conversation> {
    let member = require_member(conn, id, viewer)?;
    let (kind, title, avatar_url, created_at, last_seq, last_message_seq, member_count): (
        String,
        Option<String>,
        Option<String>,
        i64,
        i64,
        Option<i64>,
        i64,
    ) = conn
        .prepare_cached(
            "SELECT kind, title, avatar_url, created_at, last_seq, last_message_seq, member_count
             FROM conversations WHERE id = ?1",
        )
        .map_err(db_err)?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .map_err(db_err)?;
    let kind = ConversationKind::parse(&kind).unwrap_or(ConversationKind::Group);
    let last_message = match last_message_seq {
        Some(seq) if seq as u64 >= member.joined_seq => {
            let row = conn
                .prepare_cached(&format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = ?1 AND seq = ?2"
                ))
                .map_err(db_err)?
                .query_row(params![id, seq], message_row)
                .optional()
                .map_err(db_err)?;
            match row {
                Some(row) => Some(message_view(conn, viewer, &row, None)?),
                None => None,
            }
        }
        _ => None,
    };
    let peer = if kind == ConversationKind::Direct {
        let peer_id: Option<String> = conn
            .prepare_cached(
                "SELECT user_id FROM members WHERE conversation_id = ?1 AND user_id <> ?2 LIMIT 1",
            )
            .map_err(db_err)?
            .query_row(params![id, viewer], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        match peer_id {
            Some(pid) => user_by_id(conn, &pid)?.map(|u| u.to_wire()),
            None => None,
        }
    } else {
        None
    };
    Ok(Conversation {
        id: id.to_string(),
        kind,
        title,
        avatar_url,
        created_at: Timestamp(created_at),
        member_count: member_count.max(0) as u32,
        my_role: member.role,
        last_seq: last_seq as u64,
        last_message,
        read_seq: member.read_seq,
        delivered_seq: member.delivered_seq,
        unread_count: unread_count(conn, id, viewer, member.read_seq)?,
        muted_until: member.muted_until.map(Timestamp),
        joined_seq: member.joined_seq,
        peer,
    })
}

pub fn members_page(
    conn: &Connection,
    conv: &str,
    after_user: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Member>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT m.role, m.joined_seq, m.joined_at, {cols} FROM members m
             JOIN users u ON u.id = m.user_id
             WHERE m.conversation_id = ?1 AND m.active = 1 AND m.user_id > ?2
             ORDER BY m.user_id LIMIT ?3",
            cols = USER_COLS
                .split(", ")
                .map(|c| format!("u.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![conv, after_user.unwrap_or(""), limit], |r| {
            let role: String = r.get(0)?;
            let joined_seq: i64 = r.get(1)?;
            let joined_at: i64 = r.get(2)?;
            let user = UserRow {
                id: r.get(3)?,
                username: r.get(4)?,
                display_name: r.get(5)?,
                avatar_url: r.get(6)?,
                about: r.get(7)?,
                role: Role::parse(&r.get::<_, String>(8)?).unwrap_or(Role::User),
                password_hash: None,
                created_at: Timestamp(r.get(10)?),
                last_seen_at: r.get::<_, Option<i64>>(11)?.map(Timestamp),
            };
            Ok(Member {
                user_id: user.id.clone(),
                role: MemberRole::parse(&role).unwrap_or(MemberRole::Member),
                joined_seq: joined_seq as u64,
                joined_at: Timestamp(joined_at),
                user: user.to_wire(),
            })
        })
        .map_err(db_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
}

/// Whether either user blocks the other.
pub fn blocked_between(conn: &Connection, a: &str, b: &str) -> StoreResult<bool> {
    conn.prepare_cached(
        "SELECT EXISTS(SELECT 1 FROM blocks WHERE (blocker_id = ?1 AND blocked_id = ?2)
                                            OR (blocker_id = ?2 AND blocked_id = ?1))",
    )
    .map_err(db_err)?
    .query_row(params![a, b], |r| r.get(0))
    .map_err(db_err)
}

/// Everyone `user` blocks or is blocked by.
pub fn block_partners(conn: &Connection, user: &str) -> StoreResult<Vec<String>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT blocked_id FROM blocks WHERE blocker_id = ?1
             UNION SELECT blocker_id FROM blocks WHERE blocked_id = ?1",
        )
        .map_err(db_err)?;
    stmt.query_map([user], |r| r.get(0))
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)
}
