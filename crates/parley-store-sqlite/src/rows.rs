//! Row mapping and the lookups every area shares, for the reader pool and
//! the writer alike. A stored value that does not parse (an unknown role,
//! corrupt JSON) is an internal error, never a silent default.

use parley_domain::conversations::{ConversationRow, MemberInfo, Ranked};
use parley_domain::messages::{MessageRow, parse_attachments, parse_mentions, parse_system};
use parley_domain::visibility;
use parley_protocol::{ConversationKind, MemberRole, MessageKind, Role, Timestamp};
use parley_store::{StoreError, StoreResult, UserRow};
use rusqlite::types::Type;
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

fn corrupt(idx: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, what.into())
}

/// A text column parsed by `parse`; a value it refuses is corrupt.
pub fn parsed<T>(
    r: &Row<'_>,
    idx: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let raw: String = r.get(idx)?;
    parse(&raw).ok_or_else(|| corrupt(idx, format!("corrupt {what}: {raw:?}")))
}

/// A seq or count column (never negative in a sound database).
pub fn u64_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = r.get(idx)?;
    u64::try_from(v).map_err(|_| corrupt(idx, format!("negative value {v}")))
}

pub fn opt_u64_col(r: &Row<'_>, idx: usize) -> rusqlite::Result<Option<u64>> {
    match r.get::<_, Option<i64>>(idx)? {
        None => Ok(None),
        Some(v) => u64::try_from(v)
            .map(Some)
            .map_err(|_| corrupt(idx, format!("negative value {v}"))),
    }
}

/// A seq for a statement parameter.
pub fn seq_param(seq: u64) -> i64 {
    seq.min(i64::MAX as u64) as i64
}

pub const USER_COLS: &str = "id, username, display_name, avatar_url, about, role, password_hash, created_at, last_seen_at, banned_at, sessions_valid_after";

/// [`USER_COLS`] qualified with a table alias, for joins.
pub fn user_cols(alias: &str) -> String {
    USER_COLS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    user_row_at(r, 0)
}

/// A user whose [`USER_COLS`] start at column `at`.
pub fn user_row_at(r: &Row<'_>, at: usize) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(at)?,
        username: r.get(at + 1)?,
        display_name: r.get(at + 2)?,
        avatar_url: r.get(at + 3)?,
        about: r.get(at + 4)?,
        role: parsed(r, at + 5, "role", Role::parse)?,
        password_hash: r.get(at + 6)?,
        created_at: Timestamp(r.get(at + 7)?),
        last_seen_at: r.get::<_, Option<i64>>(at + 8)?.map(Timestamp),
        banned_at: r.get::<_, Option<i64>>(at + 9)?.map(Timestamp),
        sessions_valid_after: r.get(at + 10)?,
    })
}

pub fn user_by_id(conn: &Connection, id: &str) -> StoreResult<Option<UserRow>> {
    conn.prepare_cached(&format!("SELECT {USER_COLS} FROM users WHERE id = ?1"))
        .map_err(db_err)?
        .query_row([id], user_row)
        .optional()
        .map_err(db_err)
}

pub fn user_exists(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT EXISTS(SELECT 1 FROM users WHERE id = ?1)")
        .map_err(db_err)?
        .query_row([id], |r| r.get(0))
        .map_err(db_err)
}

pub fn member_info(conn: &Connection, conv: &str, user: &str) -> StoreResult<Option<MemberInfo>> {
    conn.prepare_cached(
        "SELECT role, joined_seq, read_seq, delivered_seq, muted_until FROM members
         WHERE conversation_id = ?1 AND user_id = ?2 AND active = 1",
    )
    .map_err(db_err)?
    .query_row(params![conv, user], |r| {
        Ok(MemberInfo {
            role: parsed(r, 0, "member role", MemberRole::parse)?,
            joined_seq: u64_col(r, 1)?,
            read_seq: u64_col(r, 2)?,
            delivered_seq: u64_col(r, 3)?,
            muted_until: r.get(4)?,
        })
    })
    .optional()
    .map_err(db_err)
}

/// Who may read a conversation: its members, and for a support
/// conversation also its inbox's agents and admins (protocol.md §9), who
/// read it whole without being members. `not_found` for anyone else.
pub fn require_reader(conn: &Connection, conv: &str, user: &str) -> StoreResult<MemberInfo> {
    if let Some(m) = member_info(conn, conv, user)? {
        return Ok(m);
    }
    Ok(visibility::require_member(crate::support::support_reader(
        conn, conv, user,
    )?)?)
}

/// Membership or `not_found`: what the caller may not see does not exist.
pub fn require_member(conn: &Connection, conv: &str, user: &str) -> StoreResult<MemberInfo> {
    Ok(visibility::require_member(member_info(conn, conv, user)?)?)
}

/// Current members ranked for an ownership hand-over, except `except`.
pub fn ranked_members(conn: &Connection, conv: &str, except: &str) -> StoreResult<Vec<Ranked>> {
    conn.prepare_cached(
        "SELECT user_id, role, joined_seq, joined_at FROM members
         WHERE conversation_id = ?1 AND active = 1 AND user_id <> ?2",
    )
    .map_err(db_err)?
    .query_map(params![conv, except], |r| {
        Ok(Ranked {
            user_id: r.get(0)?,
            role: parsed(r, 1, "member role", MemberRole::parse)?,
            joined_seq: u64_col(r, 2)?,
            joined_at: r.get(3)?,
        })
    })
    .map_err(db_err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(db_err)
}

pub fn conversation_kind(conn: &Connection, conv: &str) -> StoreResult<Option<ConversationKind>> {
    conn.prepare_cached("SELECT kind FROM conversations WHERE id = ?1")
        .map_err(db_err)?
        .query_row([conv], |r| {
            parsed(r, 0, "conversation kind", ConversationKind::parse)
        })
        .optional()
        .map_err(db_err)
}

pub fn conversation_row(conn: &Connection, id: &str) -> StoreResult<ConversationRow> {
    conn.prepare_cached(
        "SELECT kind, title, avatar_url, created_at, last_seq, last_message_seq, member_count
         FROM conversations WHERE id = ?1",
    )
    .map_err(db_err)?
    .query_row([id], |r| {
        Ok(ConversationRow {
            kind: parsed(r, 0, "conversation kind", ConversationKind::parse)?,
            title: r.get(1)?,
            avatar_url: r.get(2)?,
            created_at: r.get(3)?,
            last_seq: u64_col(r, 4)?,
            last_message_seq: opt_u64_col(r, 5)?,
            member_count: r.get(6)?,
        })
    })
    .map_err(db_err)
}

pub const MESSAGE_COLS: &str = "id, conversation_id, seq, sender_id, client_id, kind, text, \
     attachments, reply_to, mentions, created_at, edited_at, deleted, system";

pub fn message_row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    let attachments: String = r.get(7)?;
    let mentions: String = r.get(9)?;
    Ok(MessageRow {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        seq: u64_col(r, 2)?,
        sender_id: r.get(3)?,
        client_id: r.get(4)?,
        kind: parsed(r, 5, "message kind", MessageKind::parse)?,
        text: r.get(6)?,
        attachments: parse_attachments(&attachments).map_err(|e| corrupt(7, e))?,
        reply_to: r.get(8)?,
        mentions: parse_mentions(&mentions).map_err(|e| corrupt(9, e))?,
        created_at: r.get(10)?,
        edited_at: r.get(11)?,
        deleted: r.get::<_, i64>(12)? != 0,
        system: parse_system(r.get(13)?).map_err(|e| corrupt(13, e))?,
    })
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

/// A message the viewer may see, and their membership; `not_found`
/// otherwise (`parley_domain::visibility`).
pub fn visible_message(
    conn: &Connection,
    viewer: &str,
    id: &str,
) -> StoreResult<(MessageRow, MemberInfo)> {
    let row = message_by_id(conn, id)?.ok_or(visibility::NO_MESSAGE)?;
    let member = member_info(conn, &row.conversation_id, viewer)?;
    let member = visibility::require_visible_message(&row, member)?;
    Ok((row, member))
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

/// A list of one text column.
pub fn strings(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<String>> {
    conn.prepare_cached(sql)
        .map_err(db_err)?
        .query_map(params, |r| r.get(0))
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)
}
