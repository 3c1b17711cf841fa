//! Row mapping and the views a viewer gets (conversation, message), shared
//! by plain reads (on a pooled connection, autocommit) and by writes (inside
//! their transaction, which builds `conversation.added`). The PostgreSQL
//! twin of `sqlite/rows.rs`: same functions, same SQL where the dialects
//! agree, so the two can be read side by side.
//!
//! Every function takes any [`GenericClient`] (a pooled connection or a
//! transaction) and prepares through deadpool's per-connection statement
//! cache. Columns are read with `try_get`, so a schema mismatch is an
//! error, never a panic.

use crate::store::{StoreError, StoreResult, UserRow};
use deadpool_postgres::GenericClient;
use parley_protocol::{
    Conversation, ConversationKind, Member, MemberRole, Message, MessageKind, MessageStatus,
    ReactionSummary, Role, Timestamp,
};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};

/// Connection trouble and transient conflicts are `Unavailable` (worth a
/// retry, like SQLite's busy/locked); everything else is `Internal`.
pub fn db_err(e: tokio_postgres::Error) -> StoreError {
    let transient = e.is_closed()
        || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>())
        || e.code().is_some_and(|c| {
            let c = c.code();
            // 08: connection exception; 53: insufficient resources;
            // 57P0x: shutdown / cannot connect now; 40001 serialization
            // failure; 40P01 deadlock; 55P03 lock not available.
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P0")
                || c == "40001"
                || c == "40P01"
                || c == "55P03"
        });
    // A server error displays as just "db error"; keep what the log needs.
    let text = match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => with_causes(&e),
    };
    if transient {
        StoreError::Unavailable(text)
    } else {
        StoreError::Internal(text)
    }
}

/// "error connecting to server: Connection refused (os error 111)".
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

pub fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(with_causes(&e))
}

pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub async fn query<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query(&stmt, params).await.map_err(db_err)
}

pub async fn query_opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query_opt(&stmt, params).await.map_err(db_err)
}

pub async fn query_one<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> StoreResult<Row> {
    let stmt = c.prepare_cached(sql).await.map_err(db_err)?;
    c.query_one(&stmt, params).await.map_err(db_err)
}

/// Runs a statement; the raw error is kept so callers can recognise a
/// unique violation.
pub async fn execute_raw<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> Result<u64, tokio_postgres::Error> {
    let stmt = c.prepare_cached(sql).await?;
    c.execute(&stmt, params).await
}

pub async fn execute<C: GenericClient>(c: &C, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    execute_raw(c, sql, params).await.map_err(db_err)
}

/// One column, or `Internal` if its type does not match.
pub fn col<'a, T: FromSql<'a>>(r: &'a Row, idx: usize) -> StoreResult<T> {
    r.try_get(idx).map_err(db_err)
}

/// A BIGINT column that holds a seq or a count.
pub fn col_u64(r: &Row, idx: usize) -> StoreResult<u64> {
    Ok(col::<i64>(r, idx)?.max(0) as u64)
}

pub const USER_COLS: &str =
    "id, username, display_name, avatar_url, about, role, password_hash, created_at, last_seen_at";

/// [`USER_COLS`] qualified with a table alias, for joins.
pub fn user_cols(alias: &str) -> String {
    USER_COLS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn user_row(r: &Row) -> StoreResult<UserRow> {
    user_row_at(r, 0)
}

/// A user whose [`USER_COLS`] start at column `at`.
pub fn user_row_at(r: &Row, at: usize) -> StoreResult<UserRow> {
    let role: String = col(r, at + 5)?;
    Ok(UserRow {
        id: col(r, at)?,
        username: col(r, at + 1)?,
        display_name: col(r, at + 2)?,
        avatar_url: col(r, at + 3)?,
        about: col(r, at + 4)?,
        role: Role::parse(&role).unwrap_or(Role::User),
        password_hash: col(r, at + 6)?,
        created_at: Timestamp(col(r, at + 7)?),
        last_seen_at: col::<Option<i64>>(r, at + 8)?.map(Timestamp),
    })
}

pub async fn user_by_id<C: GenericClient>(c: &C, id: &str) -> StoreResult<Option<UserRow>> {
    query_opt(
        c,
        &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(user_row)
    .transpose()
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

const MEMBER_INFO: &str =
    "SELECT role, joined_seq, read_seq, delivered_seq, muted_until FROM members
     WHERE conversation_id = $1 AND user_id = $2 AND active = TRUE";

fn member_info_row(r: &Row) -> StoreResult<MemberInfo> {
    let role: String = col(r, 0)?;
    Ok(MemberInfo {
        role: MemberRole::parse(&role).unwrap_or(MemberRole::Member),
        joined_seq: col_u64(r, 1)?,
        read_seq: col_u64(r, 2)?,
        delivered_seq: col_u64(r, 3)?,
        muted_until: col(r, 4)?,
    })
}

pub async fn member_info<C: GenericClient>(
    c: &C,
    conv: &str,
    user: &str,
) -> StoreResult<Option<MemberInfo>> {
    query_opt(c, MEMBER_INFO, &[&conv, &user])
        .await?
        .as_ref()
        .map(member_info_row)
        .transpose()
}

/// [`member_info`], locking the row until the transaction ends (watermark
/// moves read, compare and write it).
pub async fn member_info_locked<C: GenericClient>(
    c: &C,
    conv: &str,
    user: &str,
) -> StoreResult<Option<MemberInfo>> {
    query_opt(c, &format!("{MEMBER_INFO} FOR UPDATE"), &[&conv, &user])
        .await?
        .as_ref()
        .map(member_info_row)
        .transpose()
}

/// Membership or `not_found`: what the caller may not see does not exist.
pub async fn require_member<C: GenericClient>(
    c: &C,
    conv: &str,
    user: &str,
) -> StoreResult<MemberInfo> {
    member_info(c, conv, user)
        .await?
        .ok_or(StoreError::NotFound("conversation"))
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

pub fn message_row(r: &Row) -> StoreResult<MessageRow> {
    let kind: String = col(r, 5)?;
    Ok(MessageRow {
        id: col(r, 0)?,
        conversation_id: col(r, 1)?,
        seq: col_u64(r, 2)?,
        sender_id: col(r, 3)?,
        client_id: col(r, 4)?,
        kind: MessageKind::parse(&kind).unwrap_or(MessageKind::Text),
        text: col(r, 6)?,
        attachments: col(r, 7)?,
        reply_to: col(r, 8)?,
        mentions: col(r, 9)?,
        created_at: col(r, 10)?,
        edited_at: col(r, 11)?,
        deleted: col(r, 12)?,
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

pub async fn message_by_id<C: GenericClient>(c: &C, id: &str) -> StoreResult<Option<MessageRow>> {
    query_opt(
        c,
        &format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(message_row)
    .transpose()
}

/// A message the viewer may see: they are a member and it is not older than
/// their `joined_seq`. Anything else is `not_found`.
pub async fn visible_message<C: GenericClient>(
    c: &C,
    viewer: &str,
    id: &str,
) -> StoreResult<(MessageRow, MemberInfo)> {
    let row = message_by_id(c, id)
        .await?
        .ok_or(StoreError::NotFound("message"))?;
    let member = member_info(c, &row.conversation_id, viewer)
        .await?
        .ok_or(StoreError::NotFound("message"))?;
    if row.seq < member.joined_seq {
        return Err(StoreError::NotFound("message"));
    }
    Ok((row, member))
}

pub async fn reactions<C: GenericClient>(
    c: &C,
    message_id: &str,
    viewer: &str,
) -> StoreResult<Vec<ReactionSummary>> {
    query(
        c,
        "SELECT emoji, count(*), bool_or(user_id = $2) FROM reactions WHERE message_id = $1
         GROUP BY emoji ORDER BY min(created_at), emoji",
        &[&message_id, &viewer],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(ReactionSummary {
            emoji: col(r, 0)?,
            count: col_u64(r, 1)?,
            me: col::<Option<bool>>(r, 2)?.unwrap_or(false),
        })
    })
    .collect()
}

/// The lowest delivered and read watermarks among the other current members:
/// a message at or below them is delivered / read for everyone.
#[derive(Debug, Clone, Copy)]
pub struct OthersWatermarks {
    pub delivered: Option<u64>,
    pub read: Option<u64>,
}

pub async fn others_watermarks<C: GenericClient>(
    c: &C,
    conv: &str,
    me: &str,
) -> StoreResult<OthersWatermarks> {
    let r = query_one(
        c,
        "SELECT min(delivered_seq), min(read_seq) FROM members
         WHERE conversation_id = $1 AND user_id <> $2 AND active = TRUE
           AND user_id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = $2
                               UNION SELECT blocker_id FROM blocks WHERE blocked_id = $2)",
        &[&conv, &me],
    )
    .await?;
    Ok(OthersWatermarks {
        delivered: col::<Option<i64>>(&r, 0)?.map(|v| v.max(0) as u64),
        read: col::<Option<i64>>(&r, 1)?.map(|v| v.max(0) as u64),
    })
}

pub fn status_for(seq: u64, marks: OthersWatermarks) -> MessageStatus {
    match (marks.read, marks.delivered) {
        (Some(r), _) if r >= seq => MessageStatus::Read,
        (_, Some(d)) if d >= seq => MessageStatus::Delivered,
        _ => MessageStatus::Sent,
    }
}

/// A message as `viewer` sees it: reactions with `me`, status on their own.
pub async fn message_view<C: GenericClient>(
    c: &C,
    viewer: &str,
    row: &MessageRow,
    marks: Option<OthersWatermarks>,
) -> StoreResult<Message> {
    let mut m = row.to_wire();
    if !row.deleted {
        m.reactions = reactions(c, &row.id, viewer).await?;
    }
    if row.sender_id == viewer {
        let marks = match marks {
            Some(m) => m,
            None => others_watermarks(c, &row.conversation_id, viewer).await?,
        };
        m.status = Some(status_for(row.seq, marks));
    }
    Ok(m)
}

pub async fn unread_count<C: GenericClient>(
    c: &C,
    conv: &str,
    user: &str,
    read_seq: u64,
) -> StoreResult<u64> {
    let r = query_one(
        c,
        "SELECT count(*) FROM messages WHERE conversation_id = $1 AND seq > $2
         AND sender_id <> $3 AND deleted = FALSE",
        &[&conv, &(read_seq.min(i64::MAX as u64) as i64), &user],
    )
    .await?;
    col_u64(&r, 0)
}

/// The conversation object as `viewer` sees it (protocol.md §4).
pub async fn conversation_view<C: GenericClient>(
    c: &C,
    viewer: &str,
    id: &str,
) -> StoreResult<Conversation> {
    let member = require_member(c, id, viewer).await?;
    let r = query_one(
        c,
        "SELECT kind, title, avatar_url, created_at, last_seq, last_message_seq, member_count
         FROM conversations WHERE id = $1",
        &[&id],
    )
    .await?;
    let kind: String = col(&r, 0)?;
    let title: Option<String> = col(&r, 1)?;
    let avatar_url: Option<String> = col(&r, 2)?;
    let created_at: i64 = col(&r, 3)?;
    let last_seq = col_u64(&r, 4)?;
    let last_message_seq: Option<i64> = col(&r, 5)?;
    let member_count: i64 = col(&r, 6)?;
    let kind = ConversationKind::parse(&kind).unwrap_or(ConversationKind::Group);
    let last_message = match last_message_seq {
        Some(seq) if seq >= 0 && seq as u64 >= member.joined_seq => {
            let row = query_opt(
                c,
                &format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = $1 AND seq = $2"
                ),
                &[&id, &seq],
            )
            .await?;
            match row {
                Some(row) => Some(message_view(c, viewer, &message_row(&row)?, None).await?),
                None => None,
            }
        }
        _ => None,
    };
    let peer = if kind == ConversationKind::Direct {
        let peer_id = query_opt(
            c,
            "SELECT user_id FROM members WHERE conversation_id = $1 AND user_id <> $2 LIMIT 1",
            &[&id, &viewer],
        )
        .await?;
        match peer_id {
            Some(r) => user_by_id(c, &col::<String>(&r, 0)?)
                .await?
                .map(|u| u.to_wire()),
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
        member_count: member_count.clamp(0, i64::from(u32::MAX)) as u32,
        my_role: member.role,
        last_seq,
        last_message,
        read_seq: member.read_seq,
        delivered_seq: member.delivered_seq,
        unread_count: unread_count(c, id, viewer, member.read_seq).await?,
        muted_until: member.muted_until.map(Timestamp),
        joined_seq: member.joined_seq,
        peer,
    })
}

pub async fn members_page<C: GenericClient>(
    c: &C,
    conv: &str,
    after_user: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<Member>> {
    query(
        c,
        &format!(
            "SELECT m.role, m.joined_seq, m.joined_at, {cols} FROM members m
             JOIN users u ON u.id = m.user_id
             WHERE m.conversation_id = $1 AND m.active = TRUE AND m.user_id > $2
             ORDER BY m.user_id LIMIT $3",
            cols = user_cols("u")
        ),
        &[&conv, &after_user.unwrap_or(""), &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| {
        let role: String = col(r, 0)?;
        let user = UserRow {
            password_hash: None,
            ..user_row_at(r, 3)?
        };
        Ok(Member {
            user_id: user.id.clone(),
            role: MemberRole::parse(&role).unwrap_or(MemberRole::Member),
            joined_seq: col_u64(r, 1)?,
            joined_at: Timestamp(col(r, 2)?),
            user: user.to_wire(),
        })
    })
    .collect()
}

/// Whether either user blocks the other.
pub async fn blocked_between<C: GenericClient>(c: &C, a: &str, b: &str) -> StoreResult<bool> {
    let r = query_one(
        c,
        "SELECT EXISTS(SELECT 1 FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2)
                                            OR (blocker_id = $2 AND blocked_id = $1))",
        &[&a, &b],
    )
    .await?;
    col(&r, 0)
}

/// Everyone `user` blocks or is blocked by (ordered, as SQLite's UNION
/// happens to return them).
pub async fn block_partners<C: GenericClient>(c: &C, user: &str) -> StoreResult<Vec<String>> {
    query(
        c,
        "SELECT blocked_id FROM blocks WHERE blocker_id = $1
         UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1 ORDER BY 1",
        &[&user],
    )
    .await?
    .iter()
    .map(|r| col(r, 0))
    .collect()
}
