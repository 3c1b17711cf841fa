//! Message search on SQLite FTS5 (protocol.md §13). `message_search` is a
//! contentless FTS5 table keyed by the message's rowid, holding the tokens
//! `parley_domain::search` makes; the writer keeps it in the transaction
//! that writes the message, its edit or its tombstone.

use crate::rows::{self, db_err, parsed, seq_param};
use crate::{SqliteStore, WriterState};
use async_trait::async_trait;
use parley_domain::search::{self as rules, Has, Query};
use parley_protocol::ConversationKind;
use parley_protocol::search::SearchConversation;
use parley_store::search::bad_position;
use parley_store::{SearchFound, SearchFoundPage, SearchStore, StoreResult};
use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

impl WriterState {
    /// Indexes the text of the message at `seq` (its send or edit).
    pub(crate) fn index_message(
        &self,
        conv: &str,
        seq: u64,
        text: Option<&str>,
    ) -> StoreResult<()> {
        let Some(doc) = text.and_then(rules::fts5_document) else {
            return Ok(());
        };
        index(&self.conn, conv, seq, &doc)
    }

    /// Removes the message at `seq` from the index (an edit's old text, a
    /// tombstone).
    pub(crate) fn unindex_message(&self, conv: &str, seq: u64) -> StoreResult<()> {
        unindex(&self.conn, conv, seq)
    }
}

fn index(c: &Connection, conv: &str, seq: u64, doc: &str) -> StoreResult<()> {
    c.prepare_cached(
        "INSERT INTO message_search (rowid, doc)
         SELECT rowid, ?3 FROM messages WHERE conversation_id = ?1 AND seq = ?2",
    )
    .map_err(db_err)?
    .execute(params![conv, seq_param(seq), doc])
    .map_err(db_err)?;
    Ok(())
}

fn unindex(c: &Connection, conv: &str, seq: u64) -> StoreResult<()> {
    c.prepare_cached(
        "DELETE FROM message_search
         WHERE rowid = (SELECT rowid FROM messages WHERE conversation_id = ?1 AND seq = ?2)",
    )
    .map_err(db_err)?
    .execute(params![conv, seq_param(seq)])
    .map_err(db_err)?;
    Ok(())
}

/// Indexes every live message of a database made before search existed
/// (the migration that creates the index calls it, in its transaction).
pub(crate) fn backfill(c: &Connection) -> rusqlite::Result<()> {
    let mut read = c.prepare(
        "SELECT rowid, text FROM messages WHERE deleted = 0 AND text IS NOT NULL AND kind <> 'system'",
    )?;
    let mut write = c.prepare("INSERT INTO message_search (rowid, doc) VALUES (?1, ?2)")?;
    let mut rows = read.query([])?;
    while let Some(r) = rows.next()? {
        let (rowid, text): (i64, String) = (r.get(0)?, r.get(1)?);
        if let Some(doc) = rules::fts5_document(&text) {
            write.execute(params![rowid, doc])?;
        }
    }
    Ok(())
}

/// The part of the statement every search shares: visible messages of
/// `viewer`, with the query's operators. `m` is the message, `mb` the
/// viewer's membership.
fn filters(q: &Query, conversation: Option<&str>, sql: &mut String, args: &mut Vec<Value>) {
    sql.push_str(" AND m.deleted = 0 AND m.kind <> 'system' AND m.seq >= mb.joined_seq");
    // Deleted for the viewer ("Delete for me"): not found by them.
    sql.push_str(
        " AND NOT EXISTS (SELECT 1 FROM message_marks hm WHERE hm.user_id = mb.user_id \
         AND hm.conversation_id = m.conversation_id AND hm.seq = m.seq AND hm.hidden_at IS NOT NULL)",
    );
    if let Some(conv) = conversation {
        args.push(Value::Text(conv.to_string()));
        sql.push_str(&format!(" AND m.conversation_id = ?{}", args.len()));
    }
    if !q.from.is_empty() {
        let mut marks = Vec::new();
        for name in &q.from {
            args.push(Value::Text(name.clone()));
            marks.push(format!("?{}", args.len()));
        }
        sql.push_str(&format!(
            " AND m.sender_id IN (SELECT id FROM users WHERE username IN ({}))",
            marks.join(", ")
        ));
    }
    for has in &q.has {
        sql.push_str(match has {
            Has::Link => " AND EXISTS (SELECT 1 FROM message_links l WHERE l.conversation_id = m.conversation_id AND l.seq = m.seq)",
            Has::File => " AND EXISTS (SELECT 1 FROM message_media x WHERE x.conversation_id = m.conversation_id AND x.seq = m.seq AND x.kind = 'file')",
            Has::Image => " AND EXISTS (SELECT 1 FROM message_media x WHERE x.conversation_id = m.conversation_id AND x.seq = m.seq AND x.kind = 'image')",
        });
    }
    if let Some(before) = q.before_ms {
        args.push(Value::Integer(before));
        sql.push_str(&format!(" AND m.created_at < ?{}", args.len()));
    }
    if let Some(after) = q.after_ms {
        args.push(Value::Integer(after));
        sql.push_str(&format!(" AND m.created_at >= ?{}", args.len()));
    }
}

/// Where a page starts: the newest message when the search began (later
/// ones are not listed, so `bm25`'s shifting statistics cannot move a hit
/// across pages by much) and how many hits came before.
#[derive(Debug, Clone, Copy)]
struct Position {
    snapshot: i64,
    offset: u32,
}

impl Position {
    fn parse(raw: &str) -> StoreResult<Position> {
        let (snapshot, offset) = raw.split_once('.').ok_or_else(bad_position)?;
        Ok(Position {
            snapshot: snapshot.parse().map_err(|_| bad_position())?,
            offset: offset.parse().map_err(|_| bad_position())?,
        })
    }
}

/// One page of hits (rowids), best first. With a MATCH, `CROSS JOIN`
/// keeps the index as the outer loop: left to itself, SQLite's planner
/// starts from the conversation's messages when `conversation_id` is given
/// and re-runs the MATCH once per message, which made a common word within
/// one conversation 50 times slower than across all of them (2.4 s at 100k
/// messages, bench/results/2026-12-06-search.md).
fn ranked(
    c: &Connection,
    viewer: &str,
    q: &Query,
    conversation: Option<&str>,
    at: Position,
    limit: u32,
) -> StoreResult<Vec<i64>> {
    let mut args = vec![Value::Text(viewer.to_string())];
    let mut sql = String::new();
    if let Some(expr) = q.fts5_match() {
        args.push(Value::Text(expr));
        sql.push_str(
            "SELECT m.rowid, -bm25(message_search) AS score, m.created_at AS at, m.id AS mid
             FROM message_search
             CROSS JOIN messages m ON m.rowid = message_search.rowid
             CROSS JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?1 AND mb.active = 1
             WHERE message_search MATCH ?2",
        );
    } else {
        sql.push_str(
            "SELECT m.rowid, 0.0 AS score, m.created_at AS at, m.id AS mid
             FROM members mb
             JOIN messages m ON m.conversation_id = mb.conversation_id
             WHERE mb.user_id = ?1 AND mb.active = 1",
        );
        if let Some(ex) = q.fts5_excluded() {
            args.push(Value::Text(ex));
            sql.push_str(&format!(
                " AND m.rowid NOT IN (SELECT rowid FROM message_search WHERE message_search MATCH ?{})",
                args.len()
            ));
        }
    }
    filters(q, conversation, &mut sql, &mut args);
    args.push(Value::Integer(at.snapshot));
    sql.push_str(&format!(" AND m.rowid <= ?{}", args.len()));
    args.push(Value::Integer(i64::from(limit) + 1));
    let n = args.len();
    args.push(Value::Integer(i64::from(at.offset)));
    sql.push_str(&format!(
        " ORDER BY score DESC, at DESC, mid DESC LIMIT ?{n} OFFSET ?{}",
        args.len()
    ));
    let mut stmt = c.prepare(&sql).map_err(db_err)?;
    let rows = stmt
        .query_map(params_from_iter(args), |r| r.get(0))
        .map_err(db_err)?
        .collect::<Result<Vec<i64>, _>>()
        .map_err(db_err)?;
    Ok(rows)
}

fn conversation_of(c: &Connection, viewer: &str, conv: &str) -> StoreResult<SearchConversation> {
    c.prepare_cached(
        "SELECT c.id, c.kind, CASE WHEN c.kind = 'direct' THEN
                (SELECT u.display_name FROM members o JOIN users u ON u.id = o.user_id
                 WHERE o.conversation_id = c.id AND o.user_id <> ?2 LIMIT 1)
              ELSE c.title END
         FROM conversations c WHERE c.id = ?1",
    )
    .map_err(db_err)?
    .query_row(params![conv, viewer], |r| {
        Ok(SearchConversation {
            id: r.get(0)?,
            kind: parsed(r, 1, "conversation kind", ConversationKind::parse)?,
            title: r.get(2)?,
        })
    })
    .map_err(db_err)
}

fn search(
    c: &Connection,
    viewer: &str,
    q: &Query,
    conversation: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> StoreResult<SearchFoundPage> {
    let at = after.map(Position::parse).transpose()?;
    if let Some(conv) = conversation {
        rows::require_member(c, conv, viewer)?;
    }
    if q.is_empty() {
        return Ok(SearchFoundPage {
            hits: Vec::new(),
            next: None,
        });
    }
    let at = match at {
        Some(at) => at,
        None => Position {
            snapshot: c
                .query_row("SELECT coalesce(max(rowid), 0) FROM messages", [], |r| {
                    r.get(0)
                })
                .map_err(db_err)?,
            offset: 0,
        },
    };
    let mut found = ranked(c, viewer, q, conversation, at, limit)?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let mut hits = Vec::with_capacity(found.len());
    let mut conversations: Vec<SearchConversation> = Vec::new();
    for rowid in found {
        let row = c
            .prepare_cached(&format!(
                "SELECT {} FROM messages WHERE rowid = ?1",
                rows::MESSAGE_COLS
            ))
            .map_err(db_err)?
            .query_row([rowid], rows::message_row)
            .map_err(db_err)?;
        let conversation = match conversations.iter().find(|k| k.id == row.conversation_id) {
            Some(k) => k.clone(),
            None => {
                let k = conversation_of(c, viewer, &row.conversation_id)?;
                conversations.push(k.clone());
                k
            }
        };
        hits.push(SearchFound {
            message: crate::views::message_view(c, viewer, &row, None)?,
            conversation,
        });
    }
    let next = more.then(|| format!("{}.{}", at.snapshot, at.offset.saturating_add(limit)));
    Ok(SearchFoundPage { hits, next })
}

#[async_trait]
impl SearchStore for SqliteStore {
    async fn search_messages(
        &self,
        viewer: &str,
        query: &Query,
        conversation: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<SearchFoundPage> {
        let (viewer, query) = (viewer.to_string(), query.clone());
        let conversation = conversation.map(str::to_string);
        let after = after.map(str::to_string);
        self.read(move |c| {
            search(
                c,
                &viewer,
                &query,
                conversation.as_deref(),
                after.as_deref(),
                limit,
            )
        })
        .await
    }
}
