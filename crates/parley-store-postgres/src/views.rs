//! What a viewer gets: a message with its reactions and status, a
//! conversation, a page of history or members. The rules of what is
//! visible and how a view is put together are `parley_domain`'s; this
//! reads the rows they need.

use crate::rows::{
    self, col, col_opt_u64, col_parsed, col_u64, message_row, query, query_one, query_opt,
    seq_param,
};
use deadpool_postgres::GenericClient;
use parley_domain::conversations::{self, ViewParts};
use parley_domain::messages::{self, MessageRow};
use parley_domain::receipts::OthersWatermarks;
use parley_domain::visibility;
use parley_protocol::{
    Conversation, ConversationKind, Member, MemberRole, Message, MessagePage, ReactionSummary,
    Timestamp,
};
use parley_store::{HistoryPage, StoreResult};

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
        delivered: col_opt_u64(&r, 0)?,
        read: col_opt_u64(&r, 1)?,
    })
}

/// A message as `viewer` sees it; `marks` when the caller has them.
pub async fn message_view<C: GenericClient>(
    c: &C,
    viewer: &str,
    row: &MessageRow,
    marks: Option<OthersWatermarks>,
) -> StoreResult<Message> {
    let needs = messages::view_needs(row, viewer);
    let reactions = match needs.reactions {
        true => Some(reactions(c, &row.id, viewer).await?),
        false => None,
    };
    let marks = match (needs.status, marks) {
        (false, _) => None,
        (true, Some(m)) => Some(m),
        (true, None) => Some(others_watermarks(c, &row.conversation_id, viewer).await?),
    };
    Ok(messages::view(row, reactions, marks))
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
        &[&conv, &seq_param(read_seq), &user],
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
    let member = rows::require_reader(c, id, viewer).await?;
    let row = rows::conversation_row(c, id).await?;
    let last_message = match row.visible_last_message(&member) {
        Some(seq) => {
            let found = query_opt(
                c,
                &format!(
                    "SELECT {} FROM messages WHERE conversation_id = $1 AND seq = $2",
                    rows::MESSAGE_COLS
                ),
                &[&id, &seq_param(seq)],
            )
            .await?;
            match found {
                Some(r) => Some(message_view(c, viewer, &message_row(&r)?, None).await?),
                None => None,
            }
        }
        None => None,
    };
    let peer = if row.kind == ConversationKind::Direct {
        let peer_id = query_opt(
            c,
            "SELECT user_id FROM members WHERE conversation_id = $1 AND user_id <> $2 LIMIT 1",
            &[&id, &viewer],
        )
        .await?;
        match peer_id {
            Some(r) => rows::user_by_id(c, &col::<String>(&r, 0)?)
                .await?
                .map(|u| u.to_wire()),
            None => None,
        }
    } else {
        None
    };
    let unread_count = unread_count(c, id, viewer, member.read_seq).await?;
    let support = if row.kind == ConversationKind::Support {
        crate::support::support_info(c, id).await?
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
            cols = rows::user_cols("u")
        ),
        &[&conv, &after_user.unwrap_or(""), &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| {
        let mut user = rows::user_row_at(r, 3)?;
        user.password_hash = None;
        Ok(Member {
            user_id: user.id.clone(),
            role: col_parsed(r, 0, "member role", MemberRole::parse)?,
            joined_seq: col_u64(r, 1)?,
            joined_at: Timestamp(col(r, 2)?),
            user: user.to_wire(),
        })
    })
    .collect()
}

/// A page of history, from the seq the viewer joined at.
pub async fn message_page<C: GenericClient>(
    c: &C,
    viewer: &str,
    conv: &str,
    page: HistoryPage,
    limit: u32,
) -> StoreResult<MessagePage> {
    let me = rows::require_reader(c, conv, viewer).await?;
    let floor = seq_param(visibility::history_floor(&me));
    let fetch = i64::from(limit) + 1;
    let cols = rows::MESSAGE_COLS;
    let (sql, bound, descending) = match page {
        HistoryPage::Latest | HistoryPage::Before(_) => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
            ),
            match page {
                HistoryPage::Before(s) => seq_param(s),
                _ => i64::MAX,
            },
            true,
        ),
        HistoryPage::After(s) => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = $1 AND seq >= $2 AND seq > $3 ORDER BY seq ASC LIMIT $4"
            ),
            seq_param(s),
            false,
        ),
    };
    let mut found = query(c, &sql, &[&conv, &floor, &bound, &fetch])
        .await?
        .iter()
        .map(message_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let has_more = found.len() as i64 > i64::from(limit);
    found.truncate(limit as usize);
    if descending {
        found.reverse();
    }
    let marks = others_watermarks(c, conv, viewer).await?;
    let mut messages = Vec::with_capacity(found.len());
    for r in &found {
        messages.push(message_view(c, viewer, r, Some(marks)).await?);
    }
    Ok(MessagePage { messages, has_more })
}

/// Stored events after `after` that the viewer may see, ascending.
pub async fn raw_event_rows<C: GenericClient>(
    c: &C,
    viewer: &str,
    conv: &str,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<(u64, String)>> {
    let me = rows::require_reader(c, conv, viewer).await?;
    let from = seq_param(visibility::events_after(&me, after));
    query(
        c,
        "SELECT seq, body FROM events WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        &[&conv, &from, &i64::from(limit)],
    )
    .await?
    .iter()
    .map(|r| Ok((col_u64(r, 0)?, col(r, 1)?)))
    .collect()
}
