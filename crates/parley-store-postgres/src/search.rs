//! Message search on PostgreSQL (protocol.md §13): `message_search` holds
//! a `tsvector` per message (GIN-indexed) made of the tokens
//! `parley_domain::search` makes; written in the transaction of the
//! message's send, edit or tombstone.

use crate::events::WriteTx;
use crate::rows::{self, col, execute, query, query_opt};
use crate::{PostgresStore, views};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use parley_domain::search::{self as rules, Has, Query};
use parley_protocol::ConversationKind;
use parley_protocol::search::SearchConversation;
use parley_store::search::bad_position;
use parley_store::{SearchFound, SearchFoundPage, SearchStore, StoreError, StoreResult};
use tokio_postgres::types::ToSql;

impl WriteTx<'_> {
    /// Indexes the text of the message at `seq` (its send or edit).
    pub async fn index_message(&self, conv: &str, seq: i64, text: Option<&str>) -> StoreResult<()> {
        let Some(doc) = text.and_then(rules::tsvector) else {
            return Ok(());
        };
        execute(
            &self.tx,
            "INSERT INTO message_search (conversation_id, seq, doc) VALUES ($1, $2, $3::text::tsvector)",
            &[&conv, &seq, &doc],
        )
        .await?;
        Ok(())
    }

    /// Removes the message at `seq` from the index (an edit's old text, a
    /// tombstone).
    pub async fn unindex_message(&self, conv: &str, seq: i64) -> StoreResult<()> {
        execute(
            &self.tx,
            "DELETE FROM message_search WHERE conversation_id = $1 AND seq = $2",
            &[&conv, &seq],
        )
        .await?;
        Ok(())
    }
}

/// Indexes every live message of a database made before search existed
/// (the migration that creates the index calls it, in its transaction).
pub(crate) async fn backfill(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<(), tokio_postgres::Error> {
    let rows = tx
        .query(
            "SELECT conversation_id, seq, text FROM messages
             WHERE deleted = FALSE AND text IS NOT NULL AND kind <> 'system'",
            &[],
        )
        .await?;
    let insert = tx
        .prepare(
            "INSERT INTO message_search (conversation_id, seq, doc) VALUES ($1, $2, $3::text::tsvector)",
        )
        .await?;
    for r in rows {
        let (conv, seq, text): (String, i64, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        if let Some(doc) = rules::tsvector(&text) {
            tx.execute(&insert, &[&conv, &seq, &doc]).await?;
        }
    }
    Ok(())
}

/// Where a page starts: after the hit with this score, time and id.
/// `ts_rank_cd` depends on the message alone, so a hit's score is the
/// same on every page however many messages arrive.
#[derive(Debug, Clone, PartialEq)]
struct Position {
    score: f64,
    created_at: i64,
    id: String,
}

impl Position {
    fn parse(raw: &str) -> StoreResult<Position> {
        let mut parts = raw.splitn(3, '|');
        let (Some(score), Some(at), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad_position());
        };
        let score: f64 = score.parse().map_err(|_| bad_position())?;
        if !score.is_finite() {
            return Err(bad_position());
        }
        Ok(Position {
            score,
            created_at: at.parse().map_err(|_| bad_position())?,
            id: id.to_string(),
        })
    }

    fn render(&self) -> String {
        format!("{}|{}|{}", self.score, self.created_at, self.id)
    }
}

type Arg = Box<dyn ToSql + Sync + Send>;

fn push(args: &mut Vec<Arg>, v: impl ToSql + Sync + Send + 'static) -> usize {
    args.push(Box::new(v));
    args.len()
}

/// Visible messages of the viewer (`$1`), with the query's operators.
fn filters(q: &Query, conversation: Option<&str>, sql: &mut String, args: &mut Vec<Arg>) {
    sql.push_str(" AND m.deleted = FALSE AND m.kind <> 'system' AND m.seq >= mb.joined_seq");
    // Deleted for the viewer ("Delete for me"): not found by them.
    sql.push_str(
        " AND NOT EXISTS (SELECT 1 FROM message_marks hm WHERE hm.user_id = mb.user_id \
         AND hm.conversation_id = m.conversation_id AND hm.seq = m.seq AND hm.hidden_at IS NOT NULL)",
    );
    if let Some(conv) = conversation {
        let n = push(args, conv.to_string());
        sql.push_str(&format!(" AND m.conversation_id = ${n}"));
    }
    if !q.from.is_empty() {
        let n = push(args, q.from.clone());
        sql.push_str(&format!(
            " AND m.sender_id IN (SELECT id FROM users WHERE username = ANY(${n}::text[]))"
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
        let n = push(args, before);
        sql.push_str(&format!(" AND m.created_at < ${n}"));
    }
    if let Some(after) = q.after_ms {
        let n = push(args, after);
        sql.push_str(&format!(" AND m.created_at >= ${n}"));
    }
}

async fn ranked<C: GenericClient>(
    c: &C,
    viewer: &str,
    q: &Query,
    conversation: Option<&str>,
    after: Option<&Position>,
    limit: u32,
) -> StoreResult<Vec<(String, f64, i64, String)>> {
    let mut args: Vec<Arg> = Vec::new();
    push(&mut args, viewer.to_string());
    let mut sql = String::from("SELECT mid, score, at, conv FROM (");
    if let Some(expr) = q.tsquery() {
        let n = push(&mut args, expr);
        sql.push_str(&format!(
            "SELECT m.id AS mid, ts_rank_cd(s.doc, ${n}::text::tsquery)::float8 AS score,
                    m.created_at AS at, m.conversation_id AS conv
             FROM message_search s
             JOIN messages m ON m.conversation_id = s.conversation_id AND m.seq = s.seq
             JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = $1 AND mb.active
             WHERE s.doc @@ ${n}::text::tsquery"
        ));
    } else {
        sql.push_str(
            "SELECT m.id AS mid, 0::float8 AS score, m.created_at AS at, m.conversation_id AS conv
             FROM members mb
             JOIN messages m ON m.conversation_id = mb.conversation_id
             WHERE mb.user_id = $1 AND mb.active",
        );
        if let Some(ex) = q.tsquery_excluded() {
            let n = push(&mut args, ex);
            sql.push_str(&format!(
                " AND NOT EXISTS (SELECT 1 FROM message_search s
                   WHERE s.conversation_id = m.conversation_id AND s.seq = m.seq AND s.doc @@ ${n}::text::tsquery)"
            ));
        }
    }
    filters(q, conversation, &mut sql, &mut args);
    sql.push_str(") hits");
    if let Some(cur) = after {
        let s = push(&mut args, cur.score);
        let t = push(&mut args, cur.created_at);
        let i = push(&mut args, cur.id.clone());
        sql.push_str(&format!(
            " WHERE score < ${s} OR (score = ${s} AND (at < ${t} OR (at = ${t} AND mid < ${i})))"
        ));
    }
    let n = push(&mut args, i64::from(limit) + 1);
    sql.push_str(&format!(
        " ORDER BY score DESC, at DESC, mid DESC LIMIT ${n}"
    ));
    let params: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = query(c, &sql, &params).await?;
    rows.iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?, col(r, 3)?)))
        .collect()
}

async fn conversation_of<C: GenericClient>(
    c: &C,
    viewer: &str,
    conv: &str,
) -> StoreResult<SearchConversation> {
    let r = query_opt(
        c,
        "SELECT c.id, c.kind, CASE WHEN c.kind = 'direct' THEN
                (SELECT u.display_name FROM members o JOIN users u ON u.id = o.user_id
                 WHERE o.conversation_id = c.id AND o.user_id <> $2 LIMIT 1)
              ELSE c.title END
         FROM conversations c WHERE c.id = $1",
        &[&conv, &viewer],
    )
    .await?
    .ok_or_else(|| StoreError::Internal(format!("conversation {conv} of a hit is gone")))?;
    let kind: String = col(&r, 1)?;
    Ok(SearchConversation {
        id: col(&r, 0)?,
        kind: ConversationKind::parse(&kind)
            .ok_or_else(|| StoreError::Internal(format!("corrupt conversation kind {kind:?}")))?,
        title: col(&r, 2)?,
    })
}

#[async_trait]
impl SearchStore for PostgresStore {
    async fn search_messages(
        &self,
        viewer: &str,
        q: &Query,
        conversation: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<SearchFoundPage> {
        let after = after.map(Position::parse).transpose()?;
        let c = self.client().await?;
        if let Some(conv) = conversation {
            rows::require_member(&c, conv, viewer).await?;
        }
        if q.is_empty() {
            return Ok(SearchFoundPage {
                hits: Vec::new(),
                next: None,
            });
        }
        let mut found = ranked(&c, viewer, q, conversation, after.as_ref(), limit).await?;
        let more = found.len() > limit as usize;
        found.truncate(limit as usize);
        let next = if more {
            found.last().map(|(id, score, created_at, _)| {
                Position {
                    score: *score,
                    created_at: *created_at,
                    id: id.clone(),
                }
                .render()
            })
        } else {
            None
        };
        let mut hits = Vec::with_capacity(found.len());
        let mut conversations: Vec<SearchConversation> = Vec::new();
        for (id, _, _, conv) in found {
            let r = query_opt(
                &c,
                &format!("SELECT {} FROM messages WHERE id = $1", rows::MESSAGE_COLS),
                &[&id],
            )
            .await?
            .ok_or_else(|| StoreError::Internal(format!("message {id} of a hit is gone")))?;
            let row = rows::message_row(&r)?;
            let conversation = match conversations.iter().find(|k| k.id == conv) {
                Some(k) => k.clone(),
                None => {
                    let k = conversation_of(&c, viewer, &conv).await?;
                    conversations.push(k.clone());
                    k
                }
            };
            hits.push(SearchFound {
                message: views::message_view(&c, viewer, &row, None).await?,
                conversation,
            });
        }
        Ok(SearchFoundPage { hits, next })
    }
}
