//! Row mapping and the lookups every area shares, for plain reads (on a
//! pooled connection, autocommit) and writes (inside their transaction).
//!
//! Every function takes any [`GenericClient`] (a pooled connection or a
//! transaction) and prepares through deadpool's per-connection statement
//! cache. Columns are read with `try_get`, so a schema mismatch is an
//! error, never a panic, and a stored value that does not parse (an
//! unknown role, corrupt JSON) is an internal error, never a default.

use deadpool_postgres::GenericClient;
use parley_domain::conversations::{ConversationRow, MemberInfo, Ranked};
use parley_domain::messages::{MessageRow, parse_attachments, parse_mentions, parse_system};
use parley_domain::visibility;
use parley_protocol::{ConversationKind, MemberRole, MessageKind, Role, Timestamp};
use parley_store::{StoreError, StoreResult, UserRow};
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

/// A BIGINT column that holds a seq or a count (never negative in a sound
/// database).
pub fn col_u64(r: &Row, idx: usize) -> StoreResult<u64> {
    let v: i64 = col(r, idx)?;
    u64::try_from(v)
        .map_err(|_| StoreError::Internal(format!("negative value {v} in column {idx}")))
}

pub fn col_opt_u64(r: &Row, idx: usize) -> StoreResult<Option<u64>> {
    col::<Option<i64>>(r, idx)?
        .map(|v| {
            u64::try_from(v)
                .map_err(|_| StoreError::Internal(format!("negative value {v} in column {idx}")))
        })
        .transpose()
}

/// A text column parsed by `parse`; a value it refuses is corrupt.
pub fn col_parsed<T>(
    r: &Row,
    idx: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> StoreResult<T> {
    let raw: String = col(r, idx)?;
    parse(&raw).ok_or_else(|| StoreError::Internal(format!("corrupt {what}: {raw:?}")))
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

pub fn user_row(r: &Row) -> StoreResult<UserRow> {
    user_row_at(r, 0)
}

/// A user whose [`USER_COLS`] start at column `at`.
pub fn user_row_at(r: &Row, at: usize) -> StoreResult<UserRow> {
    Ok(UserRow {
        id: col(r, at)?,
        username: col(r, at + 1)?,
        display_name: col(r, at + 2)?,
        avatar_url: col(r, at + 3)?,
        about: col(r, at + 4)?,
        role: col_parsed(r, at + 5, "role", Role::parse)?,
        password_hash: col(r, at + 6)?,
        created_at: Timestamp(col(r, at + 7)?),
        last_seen_at: col::<Option<i64>>(r, at + 8)?.map(Timestamp),
        banned_at: col::<Option<i64>>(r, at + 9)?.map(Timestamp),
        sessions_valid_after: col(r, at + 10)?,
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

pub async fn user_exists<C: GenericClient>(c: &C, id: &str) -> StoreResult<bool> {
    let r = query_one(
        c,
        "SELECT EXISTS(SELECT 1 FROM users WHERE id = $1)",
        &[&id],
    )
    .await?;
    col(&r, 0)
}

const MEMBER_INFO: &str =
    "SELECT role, joined_seq, read_seq, delivered_seq, muted_until FROM members
     WHERE conversation_id = $1 AND user_id = $2 AND active = TRUE";

fn member_info_row(r: &Row) -> StoreResult<MemberInfo> {
    Ok(MemberInfo {
        role: col_parsed(r, 0, "member role", MemberRole::parse)?,
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

/// Who may read a conversation: its members, and for a support
/// conversation also its inbox's agents and admins (protocol.md §9), who
/// read it whole without being members. `not_found` for anyone else.
pub async fn require_reader<C: GenericClient>(
    c: &C,
    conv: &str,
    user: &str,
) -> StoreResult<MemberInfo> {
    if let Some(m) = member_info(c, conv, user).await? {
        return Ok(m);
    }
    Ok(visibility::require_member(
        crate::support::support_reader(c, conv, user).await?,
    )?)
}

/// Membership or `not_found`: what the caller may not see does not exist.
pub async fn require_member<C: GenericClient>(
    c: &C,
    conv: &str,
    user: &str,
) -> StoreResult<MemberInfo> {
    Ok(visibility::require_member(
        member_info(c, conv, user).await?,
    )?)
}

/// Current members ranked for an ownership hand-over, except `except`.
pub async fn ranked_members<C: GenericClient>(
    c: &C,
    conv: &str,
    except: &str,
) -> StoreResult<Vec<Ranked>> {
    query(
        c,
        "SELECT user_id, role, joined_seq, joined_at FROM members
         WHERE conversation_id = $1 AND active = TRUE AND user_id <> $2",
        &[&conv, &except],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Ranked {
            user_id: col(r, 0)?,
            role: col_parsed(r, 1, "member role", MemberRole::parse)?,
            joined_seq: col_u64(r, 2)?,
            joined_at: col(r, 3)?,
        })
    })
    .collect()
}

pub async fn conversation_kind<C: GenericClient>(
    c: &C,
    conv: &str,
) -> StoreResult<Option<ConversationKind>> {
    query_opt(c, "SELECT kind FROM conversations WHERE id = $1", &[&conv])
        .await?
        .map(|r| col_parsed(&r, 0, "conversation kind", ConversationKind::parse))
        .transpose()
}

pub async fn conversation_row<C: GenericClient>(c: &C, id: &str) -> StoreResult<ConversationRow> {
    let r = query_one(
        c,
        "SELECT kind, title, avatar_url, created_at, last_seq, last_message_seq, member_count
         FROM conversations WHERE id = $1",
        &[&id],
    )
    .await?;
    Ok(ConversationRow {
        kind: col_parsed(&r, 0, "conversation kind", ConversationKind::parse)?,
        title: col(&r, 1)?,
        avatar_url: col(&r, 2)?,
        created_at: col(&r, 3)?,
        last_seq: col_u64(&r, 4)?,
        last_message_seq: col_opt_u64(&r, 5)?,
        member_count: col(&r, 6)?,
    })
}

pub const MESSAGE_COLS: &str = "id, conversation_id, seq, sender_id, client_id, kind, text, \
     attachments, reply_to, mentions, created_at, edited_at, deleted, system";

pub fn message_row(r: &Row) -> StoreResult<MessageRow> {
    let attachments: String = col(r, 7)?;
    let mentions: String = col(r, 9)?;
    Ok(MessageRow {
        id: col(r, 0)?,
        conversation_id: col(r, 1)?,
        seq: col_u64(r, 2)?,
        sender_id: col(r, 3)?,
        client_id: col(r, 4)?,
        kind: col_parsed(r, 5, "message kind", MessageKind::parse)?,
        text: col(r, 6)?,
        attachments: parse_attachments(&attachments).map_err(StoreError::Internal)?,
        reply_to: col(r, 8)?,
        mentions: parse_mentions(&mentions).map_err(StoreError::Internal)?,
        created_at: col(r, 10)?,
        edited_at: col(r, 11)?,
        deleted: col(r, 12)?,
        system: parse_system(col(r, 13)?).map_err(StoreError::Internal)?,
    })
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

/// A message the viewer may see, and their membership; `not_found`
/// otherwise (`parley_domain::visibility`).
pub async fn visible_message<C: GenericClient>(
    c: &C,
    viewer: &str,
    id: &str,
) -> StoreResult<(MessageRow, MemberInfo)> {
    let row = message_by_id(c, id).await?.ok_or(visibility::NO_MESSAGE)?;
    let member = member_info(c, &row.conversation_id, viewer).await?;
    let member = visibility::require_visible_message(&row, member)?;
    Ok((row, member))
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
    strings(
        c,
        "SELECT blocked_id FROM blocks WHERE blocker_id = $1
         UNION SELECT blocker_id FROM blocks WHERE blocked_id = $1 ORDER BY 1",
        &[&user],
    )
    .await
}

/// A list of one text column.
pub async fn strings<C: GenericClient>(
    c: &C,
    sql: &str,
    params: Params<'_>,
) -> StoreResult<Vec<String>> {
    query(c, sql, params)
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect()
}
