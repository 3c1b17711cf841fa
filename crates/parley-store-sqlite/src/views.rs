//! What a viewer gets: a message with its reactions and status, a
//! conversation, a page of history or members. The rules of what is
//! visible and how a view is put together are `parley_domain`'s; this
//! reads the rows they need.

use crate::rows::{self, db_err, message_row, opt_u64_col, parsed, seq_param, u64_col};
use parley_domain::conversations::{self, MemberInfo, ViewParts};
use parley_domain::messages::{self, MessageRow};
use parley_domain::receipts::OthersWatermarks;
use parley_domain::visibility;
use parley_protocol::{
    Conversation, ConversationKind, Member, MemberRole, Message, MessagePage, ReactionSummary,
    Timestamp,
};
use parley_store::{HistoryPage, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

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
                count: u64_col(r, 1)?,
                me: r.get::<_, i64>(2)? != 0,
            })
        })
        .map_err(db_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
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
            delivered: opt_u64_col(r, 0)?,
            read: opt_u64_col(r, 1)?,
        })
    })
    .map_err(db_err)
}

/// A message as `viewer` sees it; `marks` when the caller has them.
pub fn message_view(
    conn: &Connection,
    viewer: &str,
    row: &MessageRow,
    marks: Option<OthersWatermarks>,
) -> StoreResult<Message> {
    let needs = messages::view_needs(row, viewer);
    let reactions = match needs.reactions {
        true => Some(reactions(conn, &row.id, viewer)?),
        false => None,
    };
    let marks = match (needs.status, marks) {
        (false, _) => None,
        (true, Some(m)) => Some(m),
        (true, None) => Some(others_watermarks(conn, &row.conversation_id, viewer)?),
    };
    Ok(messages::view(row, reactions, marks))
}

pub fn unread_count(conn: &Connection, conv: &str, user: &str, read_seq: u64) -> StoreResult<u64> {
    conn.prepare_cached(
        "SELECT count(*) FROM messages WHERE conversation_id = ?1 AND seq > ?2
         AND sender_id <> ?3 AND deleted = 0",
    )
    .map_err(db_err)?
    .query_row(params![conv, seq_param(read_seq), user], |r| u64_col(r, 0))
    .map_err(db_err)
}

/// The conversation object as `viewer` sees it (protocol.md §4).
pub fn conversation_view(conn: &Connection, viewer: &str, id: &str) -> StoreResult<Conversation> {
    let member = rows::require_reader(conn, id, viewer)?;
    let row = rows::conversation_row(conn, id)?;
    let last_message = match row.visible_last_message(&member) {
        Some(seq) => {
            let found = conn
                .prepare_cached(&format!(
                    "SELECT {} FROM messages WHERE conversation_id = ?1 AND seq = ?2",
                    rows::MESSAGE_COLS
                ))
                .map_err(db_err)?
                .query_row(params![id, seq_param(seq)], message_row)
                .optional()
                .map_err(db_err)?;
            match found {
                Some(m) => Some(message_view(conn, viewer, &m, None)?),
                None => None,
            }
        }
        None => None,
    };
    let peer = if row.kind == ConversationKind::Direct {
        let peer_id: Option<String> = conn
            .prepare_cached(
                "SELECT user_id FROM members WHERE conversation_id = ?1 AND user_id <> ?2 LIMIT 1",
            )
            .map_err(db_err)?
            .query_row(params![id, viewer], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        match peer_id {
            Some(pid) => rows::user_by_id(conn, &pid)?.map(|u| u.to_wire()),
            None => None,
        }
    } else {
        None
    };
    let unread_count = unread_count(conn, id, viewer, member.read_seq)?;
    let support = if row.kind == ConversationKind::Support {
        crate::support::support_info(conn, id)?
    } else {
        None
    };
    Ok(conversations::view(
        id,
        row,
        &member,
        ViewParts {
            last_message,
            peer,
            unread_count,
            support,
        },
    ))
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
            cols = rows::user_cols("u")
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![conv, after_user.unwrap_or(""), limit], |r| {
            let mut user = rows::user_row_at(r, 3)?;
            user.password_hash = None;
            Ok(Member {
                user_id: user.id.clone(),
                role: parsed(r, 0, "member role", MemberRole::parse)?,
                joined_seq: u64_col(r, 1)?,
                joined_at: Timestamp(r.get(2)?),
                user: user.to_wire(),
            })
        })
        .map_err(db_err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
}

/// A page of history, from the seq the viewer joined at.
pub fn message_page(
    conn: &Connection,
    viewer: &str,
    conv: &str,
    page: HistoryPage,
    limit: u32,
) -> StoreResult<MessagePage> {
    let me = rows::require_reader(conn, conv, viewer)?;
    page_for(conn, viewer, conv, &me, page, limit)
}

fn page_for(
    conn: &Connection,
    viewer: &str,
    conv: &str,
    me: &MemberInfo,
    page: HistoryPage,
    limit: u32,
) -> StoreResult<MessagePage> {
    let floor = seq_param(visibility::history_floor(me));
    let fetch = i64::from(limit) + 1;
    let cols = rows::MESSAGE_COLS;
    let (sql, bound, descending) = match page {
        HistoryPage::Latest | HistoryPage::Before(_) => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
            ),
            match page {
                HistoryPage::Before(s) => seq_param(s),
                _ => i64::MAX,
            },
            true,
        ),
        HistoryPage::After(s) => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = ?1 AND seq >= ?2 AND seq > ?3 ORDER BY seq ASC LIMIT ?4"
            ),
            seq_param(s),
            false,
        ),
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut found = stmt
        .query_map(params![conv, floor, bound, fetch], message_row)
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let has_more = found.len() as i64 > i64::from(limit);
    found.truncate(limit as usize);
    if descending {
        found.reverse();
    }
    let marks = others_watermarks(conn, conv, viewer)?;
    let messages = found
        .iter()
        .map(|r| message_view(conn, viewer, r, Some(marks)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(MessagePage { messages, has_more })
}

/// Stored events after `after` that the viewer may see, ascending.
pub fn raw_event_rows(
    conn: &Connection,
    viewer: &str,
    conv: &str,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<(u64, String)>> {
    let me = rows::require_reader(conn, conv, viewer)?;
    let from = seq_param(visibility::events_after(&me, after));
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, body FROM events WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![conv, from, limit], |r| {
            Ok((u64_col(r, 0)?, r.get::<_, String>(1)?))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    Ok(rows)
}
