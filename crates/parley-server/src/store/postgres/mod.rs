//! PostgreSQL: the backend for running several Parley processes on one
//! database.
//!
//! Laid out like `sqlite/` so the two read side by side: `rows` (row
//! mapping and views), `writes` (one function per write, same checks and
//! same events), `migrate`, and `commit` in place of SQLite's writer
//! thread. Reads run on a pooled connection (deadpool, 16 connections) in
//! autocommit, one statement at a time, as SQLite's reader pool does;
//! everything goes to the primary, so a caller reads its own writes.
//!
//! The differences from SQLite come from many writers instead of one: each
//! write is its own transaction, writers of one conversation are serialised
//! by its row lock taken before any check (so seq allocation is gap-free and
//! the idempotency check is exact across processes), nothing caches
//! membership between transactions, and the order in which deliveries reach
//! this process's sink is kept by `commit` (each process only sees its own
//! writes' deliveries; the fan-out and the connections' gap filling join
//! them up).

mod commit;
mod migrate;
mod rows;
mod writes;

use crate::delivery::DeliverySink;
use crate::store::*;
use async_trait::async_trait;
use commit::Committer;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use parley_protocol::{
    Conversation, EventPage, Member, MemberRole, Message, MessageContext, MessagePage,
    ReactionSummary, ReadResponse, Receipt, Timestamp, UnreadSummary,
};
use rows::{col, col_u64, db_err, execute, query, query_one, query_opt};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Connections in the pool.
const POOL_SIZE: usize = 16;

pub struct PostgresStore {
    committer: Arc<Committer>,
}

/// Runs `$body` (an expression on the [`writes::WriteTx`] `$w` and the
/// delivery list `$out`) in its own transaction and commits it, the way
/// `SqliteStore::write` queues a job on the writer: compare
/// `self.write(move |s, out| s.op(.., out))` with
/// `in_tx!(self, move |w, out| w.op(.., out))`.
///
/// The write runs on a task of its own, as SQLite's runs on the writer
/// thread: a caller that gives up (a dropped HTTP request) cannot stop it
/// between `COMMIT` and the sink, where a committed event would otherwise
/// never reach live connections. Hence the owned (`to_string`) arguments.
macro_rules! in_tx {
    ($store:expr, $hook:expr, move |$w:ident, $out:ident| $body:expr) => {{
        let committer = $store.committer.clone();
        let hook = $hook;
        tokio::spawn(async move {
            let mut client = committer.client().await?;
            #[allow(unused_mut)]
            let mut $w = commit::begin(&mut client).await?;
            let mut deliveries = Vec::new();
            let result = {
                let $out = &mut deliveries;
                $body.await
            };
            committer.finish($w, result, deliveries, hook).await
        })
        .await
        .map_err(|e| StoreError::Internal(format!("write task failed: {e}")))?
    }};
    ($store:expr, move |$w:ident, $out:ident| $body:expr) => {
        in_tx!($store, None, move |$w, $out| $body)
    };
}

fn pg_config(url: &str) -> StoreResult<tokio_postgres::Config> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Internal(format!("invalid PostgreSQL URL: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    Ok(config)
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host/db`),
    /// applies migrations and returns the store.
    pub async fn connect(url: &str, sink: DeliverySink) -> StoreResult<PostgresStore> {
        let manager = Manager::from_config(
            pg_config(url)?,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        {
            let mut client = pool.get().await.map_err(rows::pool_err)?;
            migrate::migrate(&mut client).await.map_err(db_err)?;
        }
        Ok(PostgresStore {
            committer: Arc::new(Committer::new(pool, sink)),
        })
    }

    /// Applies migrations without starting anything (`parley migrate`).
    pub async fn migrate_only(url: &str) -> StoreResult<usize> {
        let (mut client, connection) = pg_config(url)?.connect(NoTls).await.map_err(db_err)?;
        let driver = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgres connection ended");
            }
        });
        let applied = migrate::migrate(&mut client).await.map_err(db_err);
        drop(client);
        let _ = driver.await;
        applied
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.committer.client().await
    }
}

async fn message_page(
    c: &deadpool_postgres::Client,
    viewer: &str,
    conv: &str,
    page: HistoryPage,
    limit: u32,
) -> StoreResult<MessagePage> {
    let me = rows::require_member(c, conv, viewer).await?;
    let floor = me.joined_seq.min(i64::MAX as u64) as i64;
    let fetch = i64::from(limit) + 1;
    let cols = rows::MESSAGE_COLS;
    let (sql, bound, descending) = match page {
        HistoryPage::Latest => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
            ),
            i64::MAX,
            true,
        ),
        HistoryPage::Before(s) => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = $1 AND seq >= $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
            ),
            s.min(i64::MAX as u64) as i64,
            true,
        ),
        HistoryPage::After(s) => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = $1 AND seq >= $2 AND seq > $3 ORDER BY seq ASC LIMIT $4"
            ),
            s.min(i64::MAX as u64) as i64,
            false,
        ),
    };
    let mut found = query(c, &sql, &[&conv, &floor, &bound, &fetch])
        .await?
        .iter()
        .map(rows::message_row)
        .collect::<StoreResult<Vec<_>>>()?;
    let has_more = found.len() as i64 > i64::from(limit);
    found.truncate(limit as usize);
    if descending {
        found.reverse();
    }
    let marks = rows::others_watermarks(c, conv, viewer).await?;
    let mut messages = Vec::with_capacity(found.len());
    for r in &found {
        messages.push(rows::message_view(c, viewer, r, Some(marks)).await?);
    }
    Ok(MessagePage { messages, has_more })
}

async fn raw_event_rows(
    c: &deadpool_postgres::Client,
    viewer: &str,
    conv: &str,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<(u64, String)>> {
    let me = rows::require_member(c, conv, viewer).await?;
    let from = after
        .max(me.joined_seq.saturating_sub(1))
        .min(i64::MAX as u64) as i64;
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

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        let c = self.client().await?;
        query_one(&c, "SELECT 1", &[]).await?;
        Ok(())
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<UserRow> {
        in_tx!(self, move |w, _out| w.create_user(&user))
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let c = self.client().await?;
        rows::user_by_id(&c, id).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("SELECT {} FROM users WHERE username = $1", rows::USER_COLS),
            &[&username],
        )
        .await?
        .as_ref()
        .map(rows::user_row)
        .transpose()
    }

    async fn upsert_external_user(&self, user: NewUser) -> StoreResult<UserRow> {
        in_tx!(self, move |w, _out| w.upsert_external_user(&user))
    }

    async fn update_user(&self, id: &str, patch: UserPatch) -> StoreResult<UserRow> {
        let id = id.to_string();
        in_tx!(self, move |w, _out| async {
            let c = &w.tx;
            let blank = |v: &Option<String>| {
                v.as_ref()
                    .map(|x| if x.is_empty() { None } else { Some(x.clone()) })
            };
            if let Some(d) = &patch.display_name {
                execute(
                    c,
                    "UPDATE users SET display_name = $2, search_name = username || ' ' || $3 WHERE id = $1",
                    &[&id, d, &d.to_lowercase()],
                )
                .await?;
            }
            if let Some(a) = blank(&patch.avatar_url) {
                execute(
                    c,
                    "UPDATE users SET avatar_url = $2 WHERE id = $1",
                    &[&id, &a],
                )
                .await?;
            }
            if let Some(a) = blank(&patch.about) {
                execute(c, "UPDATE users SET about = $2 WHERE id = $1", &[&id, &a]).await?;
            }
            if let Some(r) = patch.role {
                execute(
                    c,
                    "UPDATE users SET role = $2 WHERE id = $1",
                    &[&id, &r.as_str()],
                )
                .await?;
            }
            rows::user_by_id(c, &id)
                .await?
                .ok_or(StoreError::NotFound("user"))
        })
    }

    async fn search_users(
        &self,
        prefix: &str,
        after_username: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<UserRow>> {
        let escaped: String = prefix
            .to_lowercase()
            .chars()
            .flat_map(|ch| match ch {
                '%' | '_' | '\\' => vec!['\\', ch],
                _ => vec![ch],
            })
            .collect();
        // search_name is folded by the server; ILIKE on its COLLATE "C"
        // column folds ASCII only, exactly like SQLite's LIKE.
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "SELECT {} FROM users WHERE (search_name ILIKE $1::text || '%' ESCAPE '\\' OR search_name ILIKE '% ' || $1::text || '%' ESCAPE '\\')
                 AND username > $2 AND is_bot = FALSE ORDER BY username LIMIT $3",
                rows::USER_COLS
            ),
            &[&escaped, &after_username.unwrap_or_default(), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(rows::user_row)
        .collect()
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<UserRow>> {
        let c = self.client().await?;
        let found = query(
            &c,
            &format!("SELECT {} FROM users WHERE id = ANY($1)", rows::USER_COLS),
            &[&ids],
        )
        .await?
        .iter()
        .map(rows::user_row)
        .collect::<StoreResult<Vec<_>>>()?;
        // In the order asked, missing ones skipped, as SQLite's loop does.
        let by_id: std::collections::HashMap<&str, &UserRow> =
            found.iter().map(|u| (u.id.as_str(), u)).collect();
        Ok(ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()).map(|u| (*u).clone()))
            .collect())
    }

    async fn insert_refresh_token(&self, token: RefreshTokenRow) -> StoreResult<()> {
        in_tx!(self, move |w, _out| w.insert_refresh_token(&token))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: RefreshTokenRow,
    ) -> StoreResult<RotateOutcome> {
        let old_hash = old_hash.to_string();
        in_tx!(self, move |w, _out| w.rotate_refresh_token(&old_hash, &new))
    }

    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE refresh_tokens SET revoked = TRUE WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)",
            &[&token_hash],
        )
        .await?;
        Ok(())
    }

    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO api_keys (id, name, key_hash, user_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &name, &key_hash, &user_id, &at.millis()],
        )
        .await?;
        Ok(())
    }

    async fn api_key_user(&self, key_hash: &str) -> StoreResult<Option<String>> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT user_id FROM api_keys WHERE key_hash = $1 AND revoked = FALSE",
            &[&key_hash],
        )
        .await?
        .map(|r| col(&r, 0))
        .transpose()
    }

    async fn get_or_create_direct(
        &self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
    ) -> StoreResult<(String, bool)> {
        let (id, me, peer) = (id.to_string(), me.to_string(), peer.to_string());
        in_tx!(self, move |w, out| w
            .get_or_create_direct(&id, &me, &peer, at, out))
    }

    async fn create_group(
        &self,
        id: &str,
        creator: &str,
        title: &str,
        member_ids: &[String],
        at: Timestamp,
    ) -> StoreResult<()> {
        let (id, creator, title, member_ids) = (
            id.to_string(),
            creator.to_string(),
            title.to_string(),
            member_ids.to_vec(),
        );
        in_tx!(self, move |w, out| w.create_group(
            &id,
            &creator,
            &title,
            &member_ids,
            at,
            out
        ))
    }

    async fn conversation(&self, viewer: &str, id: &str) -> StoreResult<Conversation> {
        let c = self.client().await?;
        rows::conversation_view(&c, viewer, id).await
    }

    async fn list_conversations(
        &self,
        viewer: &str,
        cursor: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<(Vec<Conversation>, Option<ActivityCursor>)> {
        let c = self.client().await?;
        let (at, id) = match &cursor {
            Some(k) => (k.last_activity_ms, k.id.clone()),
            None => (i64::MAX, String::new()),
        };
        let ids = query(
            &c,
            "SELECT c.id, c.last_activity_at FROM members m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.user_id = $1 AND m.active = TRUE
               AND ($4::boolean = FALSE OR c.last_activity_at < $2 OR (c.last_activity_at = $2 AND c.id < $3))
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $5",
            &[&viewer, &at, &id, &cursor.is_some(), &(i64::from(limit) + 1)],
        )
        .await?
        .iter()
        .map(|r| Ok((col::<String>(r, 0)?, col::<i64>(r, 1)?)))
        .collect::<StoreResult<Vec<_>>>()?;
        let more = ids.len() > limit as usize;
        let page: Vec<_> = ids.into_iter().take(limit as usize).collect();
        let next = if more {
            page.last().map(|(id, at)| ActivityCursor {
                last_activity_ms: *at,
                id: id.clone(),
            })
        } else {
            None
        };
        let mut convs = Vec::with_capacity(page.len());
        for (id, _) in &page {
            convs.push(rows::conversation_view(&c, viewer, id).await?);
        }
        Ok((convs, next))
    }

    async fn unread_summary(&self, viewer: &str) -> StoreResult<UnreadSummary> {
        let c = self.client().await?;
        let r = query_one(
            &c,
            "SELECT count(*), count(DISTINCT msg.conversation_id) FROM members m
             JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.seq > m.read_seq
               AND msg.sender_id <> m.user_id AND msg.deleted = FALSE
             WHERE m.user_id = $1 AND m.active = TRUE",
            &[&viewer],
        )
        .await?;
        Ok(UnreadSummary {
            total_unread: col_u64(&r, 0)?,
            conversations_with_unread: col_u64(&r, 1)?,
        })
    }

    async fn update_conversation(
        &self,
        actor: &str,
        id: &str,
        title: Option<String>,
        avatar_url: Option<String>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id) = (actor.to_string(), id.to_string());
        in_tx!(self, move |w, out| w
            .update_conversation(&actor, &id, title, avatar_url, at, out))
    }

    async fn members(
        &self,
        viewer: &str,
        id: &str,
        after_user: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        let c = self.client().await?;
        rows::require_member(&c, id, viewer).await?;
        rows::members_page(&c, id, after_user.as_deref(), limit).await
    }

    async fn add_members(
        &self,
        actor: &str,
        id: &str,
        user_ids: &[String],
        max_members: u32,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id, user_ids) = (actor.to_string(), id.to_string(), user_ids.to_vec());
        in_tx!(self, move |w, out| w.add_members(
            &actor,
            &id,
            &user_ids,
            max_members,
            at,
            out
        ))
    }

    async fn remove_member(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id, user_id) = (actor.to_string(), id.to_string(), user_id.to_string());
        in_tx!(self, move |w, out| w
            .remove_member(&actor, &id, &user_id, at, out))
    }

    async fn change_role(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        role: MemberRole,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id, user_id) = (actor.to_string(), id.to_string(), user_id.to_string());
        in_tx!(self, move |w, out| w
            .change_role(&actor, &id, &user_id, role, at, out))
    }

    async fn mark_read(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<ReadResponse> {
        let (user, id) = (user.to_string(), id.to_string());
        in_tx!(self, move |w, out| w
            .mark_read(&user, &id, seq, false, at, out))
    }

    async fn mark_delivered(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let (user, id) = (user.to_string(), id.to_string());
        in_tx!(self, move |w, out| w
            .mark_delivered(&user, &id, seq, at, out))
    }

    async fn set_mute(
        &self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>> {
        let (user, id) = (user.to_string(), id.to_string());
        in_tx!(self, move |w, _out| w.set_mute(&user, &id, until))
    }

    async fn send_message(
        &self,
        msg: NewMessage,
        after_commit: Option<AfterCommit>,
    ) -> StoreResult<(Message, bool)> {
        let hook: Option<commit::Hook<(Message, bool)>> = after_commit.map(|h| {
            Box::new(move |r: &(Message, bool)| h(&r.0, r.1)) as commit::Hook<(Message, bool)>
        });
        in_tx!(self, hook, move |w, out| w.send_message(&msg, out))
    }

    async fn messages(
        &self,
        viewer: &str,
        id: &str,
        page: HistoryPage,
        limit: u32,
    ) -> StoreResult<MessagePage> {
        let c = self.client().await?;
        message_page(&c, viewer, id, page, limit).await
    }

    async fn events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<EventPage> {
        let c = self.client().await?;
        let mut rows = raw_event_rows(&c, viewer, id, after, limit.saturating_add(1)).await?;
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let events = rows
            .iter()
            .map(|(_, body)| {
                serde_json::from_str(body).map_err(|e| StoreError::Internal(e.to_string()))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(EventPage { events, has_more })
    }

    async fn raw_events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, bytes::Bytes)>> {
        let c = self.client().await?;
        Ok(raw_event_rows(&c, viewer, id, after, limit)
            .await?
            .into_iter()
            .map(|(seq, body)| (seq, crate::delivery::event_frame(&body)))
            .collect())
    }

    async fn message(&self, viewer: &str, message_id: &str) -> StoreResult<Message> {
        let c = self.client().await?;
        let (row, _) = rows::visible_message(&c, viewer, message_id).await?;
        rows::message_view(&c, viewer, &row, None).await
    }

    async fn message_context(
        &self,
        viewer: &str,
        message_id: &str,
        limit: u32,
    ) -> StoreResult<MessageContext> {
        let c = self.client().await?;
        let (row, _) = rows::visible_message(&c, viewer, message_id).await?;
        let before = message_page(
            &c,
            viewer,
            &row.conversation_id,
            HistoryPage::Before(row.seq),
            limit,
        )
        .await?;
        let after = message_page(
            &c,
            viewer,
            &row.conversation_id,
            HistoryPage::After(row.seq),
            limit,
        )
        .await?;
        let message = rows::message_view(&c, viewer, &row, None).await?;
        let mut messages = before.messages;
        messages.push(message.clone());
        messages.extend(after.messages);
        Ok(MessageContext {
            message,
            messages,
            has_more_before: before.has_more,
            has_more_after: after.has_more,
        })
    }

    async fn edit_message(
        &self,
        actor: &str,
        message_id: &str,
        text: &str,
        window_ms: i64,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (actor, message_id, text) =
            (actor.to_string(), message_id.to_string(), text.to_string());
        in_tx!(self, move |w, out| w.edit_message(
            &actor,
            &message_id,
            &text,
            window_ms,
            at,
            out
        ))
    }

    async fn delete_message(
        &self,
        actor: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (actor, message_id) = (actor.to_string(), message_id.to_string());
        in_tx!(self, move |w, out| w.delete_message(
            &actor,
            &message_id,
            at,
            out
        ))
    }

    async fn react(
        &self,
        actor: &str,
        message_id: &str,
        emoji: &str,
        add: bool,
        at: Timestamp,
    ) -> StoreResult<Vec<ReactionSummary>> {
        let (actor, message_id, emoji) =
            (actor.to_string(), message_id.to_string(), emoji.to_string());
        in_tx!(self, move |w, out| w.react(
            &actor,
            &message_id,
            &emoji,
            add,
            at,
            out
        ))
    }

    async fn memberships(&self, user: &str) -> StoreResult<Vec<Membership>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT m.conversation_id, m.joined_seq, c.last_seq FROM members m
             JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = $1 AND m.active = TRUE",
            &[&user],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Membership {
                conversation_id: col(r, 0)?,
                joined_seq: col_u64(r, 1)?,
                last_seq: col_u64(r, 2)?,
            })
        })
        .collect()
    }

    async fn member_ids(&self, viewer: &str, id: &str) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::require_member(&c, id, viewer).await?;
        query(
            &c,
            "SELECT user_id FROM members WHERE conversation_id = $1 AND active = TRUE",
            &[&id],
        )
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect()
    }

    async fn contacts(&self, user: &str) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT DISTINCT o.user_id FROM members m
             JOIN members o ON o.conversation_id = m.conversation_id AND o.active = TRUE
             WHERE m.user_id = $1 AND m.active = TRUE AND o.user_id <> $1",
            &[&user],
        )
        .await?
        .iter()
        .map(|r| col(r, 0))
        .collect()
    }

    async fn set_last_seen(&self, user: &str, at: Timestamp) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "UPDATE users SET last_seen_at = $2 WHERE id = $1",
            &[&user, &at.millis()],
        )
        .await?;
        Ok(())
    }

    async fn receipts(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<Receipt>> {
        let c = self.client().await?;
        let (row, _) = rows::visible_message(&c, viewer, message_id).await?;
        let hidden = rows::block_partners(&c, viewer).await?;
        let all = query(
            &c,
            "SELECT m.user_id,
               (SELECT min(w.at) FROM watermark_moves w WHERE w.conversation_id = m.conversation_id
                  AND w.user_id = m.user_id AND w.seq >= $2),
               (SELECT min(w.at) FROM watermark_moves w WHERE w.conversation_id = m.conversation_id
                  AND w.user_id = m.user_id AND w.kind = 'read' AND w.seq >= $2)
             FROM members m
             WHERE m.conversation_id = $1 AND m.active = TRUE AND m.user_id <> $3 AND m.joined_seq <= $2
             ORDER BY m.user_id",
            &[&row.conversation_id, &(row.seq.min(i64::MAX as u64) as i64), &row.sender_id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(Receipt {
                user_id: col(r, 0)?,
                delivered_at: col::<Option<i64>>(r, 1)?.map(Timestamp),
                read_at: col::<Option<i64>>(r, 2)?.map(Timestamp),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
        Ok(all
            .into_iter()
            .filter(|r| !hidden.contains(&r.user_id))
            .collect())
    }

    async fn block(&self, blocker: &str, blocked: &str, at: Timestamp) -> StoreResult<bool> {
        let c = self.client().await?;
        if rows::user_by_id(&c, blocked).await?.is_none() {
            return Err(StoreError::NotFound("user"));
        }
        let n = execute(
            &c,
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (blocker_id, blocked_id) DO NOTHING",
            &[&blocker, &blocked, &at.millis()],
        )
        .await?;
        Ok(n > 0)
    }

    async fn unblock(&self, blocker: &str, blocked: &str) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
            &[&blocker, &blocked],
        )
        .await?;
        Ok(())
    }

    async fn blocks(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(UserRow, Timestamp)>> {
        let c = self.client().await?;
        let (at, id) = before.clone().unwrap_or((i64::MAX, String::new()));
        query(
            &c,
            &format!(
                "SELECT b.created_at, {} FROM blocks b JOIN users u ON u.id = b.blocked_id
                 WHERE b.blocker_id = $1 AND ($4::boolean = FALSE OR b.created_at < $2 OR (b.created_at = $2 AND b.blocked_id < $3))
                 ORDER BY b.created_at DESC, b.blocked_id DESC LIMIT $5",
                rows::user_cols("u")
            ),
            &[&user, &at, &id, &before.is_some(), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(|r| {
            let user = UserRow {
                password_hash: None,
                ..rows::user_row_at(r, 1)?
            };
            Ok((user, Timestamp(col(r, 0)?)))
        })
        .collect()
    }

    async fn block_status(&self, a: &str, b: &str) -> StoreResult<(bool, bool)> {
        let c = self.client().await?;
        let r = query_one(
            &c,
            "SELECT EXISTS(SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2),
                    EXISTS(SELECT 1 FROM blocks WHERE blocker_id = $2 AND blocked_id = $1)",
            &[&a, &b],
        )
        .await?;
        Ok((col(&r, 0)?, col(&r, 1)?))
    }

    async fn block_partners(&self, user: &str) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        rows::block_partners(&c, user).await
    }
}
