//! The embedded default: SQLite in WAL mode, `synchronous=FULL`.
//!
//! Writes go to one writer thread that commits in groups ([`writer`]);
//! reads use a small pool of read-only connections on blocking threads.
//! WAL lets readers run while the writer commits.

mod checkpoint;
mod migrate;
pub use checkpoint::RESTART_FRAMES;
pub use migrate::MIGRATIONS;
mod rows;
mod writer;
mod writes;

use crate::delivery::DeliverySink;
use crate::store::*;
use async_trait::async_trait;
use parley_protocol::{
    Conversation, EventPage, Member, MemberRole, Message, MessageContext, MessagePage,
    ReactionSummary, ReadResponse, Receipt, Role, Timestamp, UnreadSummary,
};
use rows::db_err;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use writer::Writer;

/// State owned by the writer thread; nothing else touches it.
pub struct WriterState {
    conn: Connection,
    /// Current members per conversation. Only the writer changes
    /// membership, so the cache cannot go stale while it is kept here.
    members_cache: HashMap<String, Arc<[String]>>,
    /// Conversation kinds (they never change).
    kinds_cache: HashMap<String, parley_protocol::ConversationKind>,
}

impl WriterState {
    fn new(conn: Connection) -> Self {
        WriterState {
            conn,
            members_cache: HashMap::new(),
            kinds_cache: HashMap::new(),
        }
    }

    fn invalidate_caches(&mut self) {
        self.members_cache.clear();
        self.kinds_cache.clear();
    }
}

pub struct SqliteStore {
    writer: Writer,
    readers: Arc<ReadPool>,
    path: PathBuf,
    _checkpointer: checkpoint::Checkpointer,
}

struct ReadPool {
    // A std Mutex: held only to push or pop a connection, never across an
    // await or a query.
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -16000;
         PRAGMA journal_size_limit = 67108864;",
    )
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applies
    /// migrations and starts the writer.
    pub fn open(path: &Path, sink: DeliverySink) -> StoreResult<SqliteStore> {
        let mut conn = Connection::open(path).map_err(db_err)?;
        configure(&conn).map_err(db_err)?;
        migrate::migrate(&mut conn).map_err(db_err)?;
        // The checkpointer thread does this off the writer's path; the
        // writer only copies the tail of a long log (see `checkpoint`).
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")
            .map_err(db_err)?;
        checkpoint::restart_long_logs(&conn);
        let checkpointer = checkpoint::Checkpointer::start(path)?;
        let readers = 4;
        let mut idle = Vec::with_capacity(readers);
        for _ in 0..readers {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(db_err)?;
            configure(&r).map_err(db_err)?;
            r.execute_batch("PRAGMA query_only = ON").map_err(db_err)?;
            idle.push(r);
        }
        let writer = Writer::start(conn, sink).map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(SqliteStore {
            writer,
            readers: Arc::new(ReadPool {
                idle: Mutex::new(idle),
                permits: Semaphore::new(readers),
            }),
            path: path.to_path_buf(),
            _checkpointer: checkpointer,
        })
    }

    /// Applies migrations without starting anything (`parley migrate`).
    pub fn migrate_only(path: &Path) -> StoreResult<usize> {
        let mut conn = Connection::open(path).map_err(db_err)?;
        configure(&conn).map_err(db_err)?;
        migrate::migrate(&mut conn).map_err(db_err)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self
            .readers
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("read pool closed".into()))?;
        let pool = self.readers.clone();
        let conn = pool
            .idle
            .lock()
            .map_err(|_| StoreError::Internal("read pool poisoned".into()))?
            .pop()
            .ok_or_else(|| StoreError::Internal("read pool empty".into()))?;
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let r = f(&conn);
            (conn, r)
        })
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        if let Ok(mut idle) = pool.idle.lock() {
            idle.push(conn);
        }
        result
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterState, &mut Vec<crate::delivery::Delivery>) -> StoreResult<T>
            + Send
            + 'static,
    {
        self.writer.write(f, None).await
    }
}

fn message_page(
    conn: &Connection,
    viewer: &str,
    conv: &str,
    page: HistoryPage,
    limit: u32,
) -> StoreResult<MessagePage> {
    let me = rows::require_member(conn, conv, viewer)?;
    let floor = me.joined_seq as i64;
    let fetch = i64::from(limit) + 1;
    let cols = rows::MESSAGE_COLS;
    let (sql, bound, descending) = match page {
        HistoryPage::Latest => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
            ),
            i64::MAX,
            true,
        ),
        HistoryPage::Before(s) => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq DESC LIMIT ?4"
            ),
            s.min(i64::MAX as u64) as i64,
            true,
        ),
        HistoryPage::After(s) => (
            format!(
                "SELECT {cols} FROM messages WHERE conversation_id = ?1 AND seq >= ?2 AND seq > ?3 ORDER BY seq ASC LIMIT ?4"
            ),
            s.min(i64::MAX as u64) as i64,
            false,
        ),
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut found = stmt
        .query_map(params![conv, floor, bound, fetch], rows::message_row)
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let has_more = found.len() as i64 > i64::from(limit);
    found.truncate(limit as usize);
    if descending {
        found.reverse();
    }
    let marks = rows::others_watermarks(conn, conv, viewer)?;
    let messages = found
        .iter()
        .map(|r| rows::message_view(conn, viewer, r, Some(marks)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(MessagePage { messages, has_more })
}

fn raw_event_rows(
    conn: &Connection,
    viewer: &str,
    conv: &str,
    after: u64,
    limit: u32,
) -> StoreResult<Vec<(u64, String)>> {
    let me = rows::require_member(conn, conv, viewer)?;
    let from = after
        .max(me.joined_seq.saturating_sub(1))
        .min(i64::MAX as u64) as i64;
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, body FROM events WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![conv, from, limit], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    Ok(rows)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<UserRow> {
        self.write(move |s, _| s.create_user(&user)).await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRow>> {
        let id = id.to_string();
        self.read(move |c| rows::user_by_id(c, &id)).await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<UserRow>> {
        let username = username.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {} FROM users WHERE username = ?1",
                rows::USER_COLS
            ))
            .map_err(db_err)?
            .query_row([username], rows::user_row)
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn upsert_external_user(&self, user: NewUser) -> StoreResult<UserRow> {
        self.write(move |s, _| s.upsert_external_user(&user)).await
    }

    async fn update_user(&self, id: &str, patch: UserPatch) -> StoreResult<UserRow> {
        let id = id.to_string();
        self.write(move |s, _| {
            let c = &s.conn;
            let blank = |v: &Option<String>| {
                v.as_ref()
                    .map(|x| if x.is_empty() { None } else { Some(x.clone()) })
            };
            if let Some(d) = &patch.display_name {
                c.execute(
                    "UPDATE users SET display_name = ?2, search_name = username || ' ' || ?3 WHERE id = ?1",
                    params![id, d, d.to_lowercase()],
                )
                .map_err(db_err)?;
            }
            if let Some(a) = blank(&patch.avatar_url) {
                c.execute(
                    "UPDATE users SET avatar_url = ?2 WHERE id = ?1",
                    params![id, a],
                )
                .map_err(db_err)?;
            }
            if let Some(a) = blank(&patch.about) {
                c.execute("UPDATE users SET about = ?2 WHERE id = ?1", params![id, a])
                    .map_err(db_err)?;
            }
            if let Some(r) = patch.role {
                c.execute(
                    "UPDATE users SET role = ?2 WHERE id = ?1",
                    params![id, r.as_str()],
                )
                .map_err(db_err)?;
            }
            rows::user_by_id(c, &id)?.ok_or(StoreError::NotFound("user"))
        })
        .await
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
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {} FROM users WHERE (search_name LIKE ?1 || '%' ESCAPE '\\' OR search_name LIKE '% ' || ?1 || '%' ESCAPE '\\')
                     AND username > ?2 AND is_bot = 0 ORDER BY username LIMIT ?3",
                    rows::USER_COLS
                ))
                .map_err(db_err)?;
            stmt.query_map(params![escaped, after_username.unwrap_or_default(), limit], rows::user_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)
        })
        .await
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<UserRow>> {
        let ids = ids.to_vec();
        self.read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                if let Some(u) = rows::user_by_id(c, id)? {
                    out.push(u);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn insert_refresh_token(&self, token: RefreshTokenRow) -> StoreResult<()> {
        self.write(move |s, _| s.insert_refresh_token(&token)).await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: RefreshTokenRow,
    ) -> StoreResult<RotateOutcome> {
        let old_hash = old_hash.to_string();
        self.write(move |s, _| s.rotate_refresh_token(&old_hash, &new))
            .await
    }

    async fn revoke_refresh_family(&self, token_hash: &str) -> StoreResult<()> {
        let token_hash = token_hash.to_string();
        self.write(move |s, _| {
            s.conn
                .execute(
                    "UPDATE refresh_tokens SET revoked = 1 WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?1)",
                    [token_hash],
                )
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (id, name, key_hash, user_id) = (
            id.to_string(),
            name.to_string(),
            key_hash.to_string(),
            user_id.to_string(),
        );
        self.write(move |s, _| {
            s.conn
                .execute(
                    "INSERT INTO api_keys (id, name, key_hash, user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, name, key_hash, user_id, at.millis()],
                )
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn api_key_user(&self, key_hash: &str) -> StoreResult<Option<String>> {
        let key_hash = key_hash.to_string();
        self.read(move |c| {
            c.prepare_cached("SELECT user_id FROM api_keys WHERE key_hash = ?1 AND revoked = 0")
                .map_err(db_err)?
                .query_row([key_hash], |r| r.get(0))
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn get_or_create_direct(
        &self,
        id: &str,
        me: &str,
        peer: &str,
        at: Timestamp,
    ) -> StoreResult<(String, bool)> {
        let (id, me, peer) = (id.to_string(), me.to_string(), peer.to_string());
        self.write(move |s, out| s.get_or_create_direct(&id, &me, &peer, at, out))
            .await
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
        self.write(move |s, out| s.create_group(&id, &creator, &title, &member_ids, at, out))
            .await
    }

    async fn conversation(&self, viewer: &str, id: &str) -> StoreResult<Conversation> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| rows::conversation_view(c, &viewer, &id))
            .await
    }

    async fn list_conversations(
        &self,
        viewer: &str,
        cursor: Option<ActivityCursor>,
        limit: u32,
    ) -> StoreResult<(Vec<Conversation>, Option<ActivityCursor>)> {
        let viewer = viewer.to_string();
        self.read(move |c| {
            let (at, id) = match &cursor {
                Some(k) => (k.last_activity_ms, k.id.clone()),
                None => (i64::MAX, String::new()),
            };
            let mut stmt = c
                .prepare_cached(
                    "SELECT c.id, c.last_activity_at FROM members m JOIN conversations c ON c.id = m.conversation_id
                     WHERE m.user_id = ?1 AND m.active = 1
                       AND (?4 = 0 OR c.last_activity_at < ?2 OR (c.last_activity_at = ?2 AND c.id < ?3))
                     ORDER BY c.last_activity_at DESC, c.id DESC LIMIT ?5",
                )
                .map_err(db_err)?;
            let ids = stmt
                .query_map(params![viewer, at, id, cursor.is_some() as i64, i64::from(limit) + 1], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            let more = ids.len() > limit as usize;
            let page: Vec<_> = ids.into_iter().take(limit as usize).collect();
            let next = if more {
                page.last().map(|(id, at)| ActivityCursor { last_activity_ms: *at, id: id.clone() })
            } else {
                None
            };
            let convs = page
                .iter()
                .map(|(id, _)| rows::conversation_view(c, &viewer, id))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((convs, next))
        })
        .await
    }

    async fn unread_summary(&self, viewer: &str) -> StoreResult<UnreadSummary> {
        let viewer = viewer.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT count(*), count(DISTINCT msg.conversation_id) FROM members m
                 JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.seq > m.read_seq
                   AND msg.sender_id <> m.user_id AND msg.deleted = 0
                 WHERE m.user_id = ?1 AND m.active = 1",
            )
            .map_err(db_err)?
            .query_row([viewer], |r| {
                Ok(UnreadSummary {
                    total_unread: r.get::<_, i64>(0)? as u64,
                    conversations_with_unread: r.get::<_, i64>(1)? as u64,
                })
            })
            .map_err(db_err)
        })
        .await
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
        self.write(move |s, out| s.update_conversation(&actor, &id, title, avatar_url, at, out))
            .await
    }

    async fn members(
        &self,
        viewer: &str,
        id: &str,
        after_user: Option<String>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| {
            rows::require_member(c, &id, &viewer)?;
            rows::members_page(c, &id, after_user.as_deref(), limit)
        })
        .await
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
        self.write(move |s, out| s.add_members(&actor, &id, &user_ids, max_members, at, out))
            .await
    }

    async fn remove_member(
        &self,
        actor: &str,
        id: &str,
        user_id: &str,
        at: Timestamp,
    ) -> StoreResult<()> {
        let (actor, id, user_id) = (actor.to_string(), id.to_string(), user_id.to_string());
        self.write(move |s, out| s.remove_member(&actor, &id, &user_id, at, out))
            .await
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
        self.write(move |s, out| s.change_role(&actor, &id, &user_id, role, at, out))
            .await
    }

    async fn mark_read(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<ReadResponse> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write(move |s, out| s.mark_read(&user, &id, seq, false, at, out))
            .await
    }

    async fn mark_delivered(
        &self,
        user: &str,
        id: &str,
        seq: u64,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write(move |s, out| s.mark_delivered(&user, &id, seq, at, out))
            .await
    }

    async fn set_mute(
        &self,
        user: &str,
        id: &str,
        until: Option<Timestamp>,
    ) -> StoreResult<Option<Timestamp>> {
        let (user, id) = (user.to_string(), id.to_string());
        self.write(move |s, _| s.set_mute(&user, &id, until)).await
    }

    async fn send_message(
        &self,
        msg: NewMessage,
        after_commit: Option<AfterCommit>,
    ) -> StoreResult<(Message, bool)> {
        let hook: Option<writer::Hook<(Message, bool)>> = after_commit.map(|h| {
            Box::new(move |r: &(Message, bool)| h(&r.0, r.1)) as writer::Hook<(Message, bool)>
        });
        self.writer
            .write(move |s, out| s.send_message(&msg, out), hook)
            .await
    }

    async fn messages(
        &self,
        viewer: &str,
        id: &str,
        page: HistoryPage,
        limit: u32,
    ) -> StoreResult<MessagePage> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| message_page(c, &viewer, &id, page, limit))
            .await
    }

    async fn events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<EventPage> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| {
            let mut rows = raw_event_rows(c, &viewer, &id, after, limit.saturating_add(1))?;
            let has_more = rows.len() > limit as usize;
            rows.truncate(limit as usize);
            let events = rows
                .iter()
                .map(|(_, body)| {
                    serde_json::from_str(body).map_err(|e| StoreError::Internal(e.to_string()))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(EventPage { events, has_more })
        })
        .await
    }

    async fn raw_events(
        &self,
        viewer: &str,
        id: &str,
        after: u64,
        limit: u32,
    ) -> StoreResult<Vec<(u64, bytes::Bytes)>> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| {
            Ok(raw_event_rows(c, &viewer, &id, after, limit)?
                .into_iter()
                .map(|(seq, body)| (seq, crate::delivery::event_frame(&body)))
                .collect())
        })
        .await
    }

    async fn message(&self, viewer: &str, message_id: &str) -> StoreResult<Message> {
        let (viewer, message_id) = (viewer.to_string(), message_id.to_string());
        self.read(move |c| {
            let (row, _) = rows::visible_message(c, &viewer, &message_id)?;
            rows::message_view(c, &viewer, &row, None)
        })
        .await
    }

    async fn message_context(
        &self,
        viewer: &str,
        message_id: &str,
        limit: u32,
    ) -> StoreResult<MessageContext> {
        let (viewer, message_id) = (viewer.to_string(), message_id.to_string());
        self.read(move |c| {
            let (row, _) = rows::visible_message(c, &viewer, &message_id)?;
            let before = message_page(
                c,
                &viewer,
                &row.conversation_id,
                HistoryPage::Before(row.seq),
                limit,
            )?;
            let after = message_page(
                c,
                &viewer,
                &row.conversation_id,
                HistoryPage::After(row.seq),
                limit,
            )?;
            let message = rows::message_view(c, &viewer, &row, None)?;
            let mut messages = before.messages;
            messages.push(message.clone());
            messages.extend(after.messages);
            Ok(MessageContext {
                message,
                messages,
                has_more_before: before.has_more,
                has_more_after: after.has_more,
            })
        })
        .await
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
        self.write(move |s, out| s.edit_message(&actor, &message_id, &text, window_ms, at, out))
            .await
    }

    async fn delete_message(
        &self,
        actor: &str,
        message_id: &str,
        at: Timestamp,
    ) -> StoreResult<Message> {
        let (actor, message_id) = (actor.to_string(), message_id.to_string());
        self.write(move |s, out| s.delete_message(&actor, &message_id, at, out))
            .await
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
        self.write(move |s, out| s.react(&actor, &message_id, &emoji, add, at, out))
            .await
    }

    async fn memberships(&self, user: &str) -> StoreResult<Vec<Membership>> {
        let user = user.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT m.conversation_id, m.joined_seq, c.last_seq FROM members m
                     JOIN conversations c ON c.id = m.conversation_id WHERE m.user_id = ?1 AND m.active = 1",
                )
                .map_err(db_err)?;
            stmt.query_map([user], |r| {
                Ok(Membership {
                    conversation_id: r.get(0)?,
                    joined_seq: r.get::<_, i64>(1)? as u64,
                    last_seq: r.get::<_, i64>(2)? as u64,
                })
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)
        })
        .await
    }

    async fn member_ids(&self, viewer: &str, id: &str) -> StoreResult<Vec<String>> {
        let (viewer, id) = (viewer.to_string(), id.to_string());
        self.read(move |c| {
            rows::require_member(c, &id, &viewer)?;
            let mut stmt = c
                .prepare_cached(
                    "SELECT user_id FROM members WHERE conversation_id = ?1 AND active = 1",
                )
                .map_err(db_err)?;
            stmt.query_map([id], |r| r.get(0))
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)
        })
        .await
    }

    async fn contacts(&self, user: &str) -> StoreResult<Vec<String>> {
        let user = user.to_string();
        self.read(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT DISTINCT o.user_id FROM members m
                     JOIN members o ON o.conversation_id = m.conversation_id AND o.active = 1
                     WHERE m.user_id = ?1 AND m.active = 1 AND o.user_id <> ?1",
                )
                .map_err(db_err)?;
            stmt.query_map([user], |r| r.get(0))
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)
        })
        .await
    }

    async fn set_last_seen(&self, user: &str, at: Timestamp) -> StoreResult<()> {
        let user = user.to_string();
        self.write(move |s, _| {
            s.conn
                .prepare_cached("UPDATE users SET last_seen_at = ?2 WHERE id = ?1")
                .map_err(db_err)?
                .execute(params![user, at.millis()])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn receipts(&self, viewer: &str, message_id: &str) -> StoreResult<Vec<Receipt>> {
        let (viewer, message_id) = (viewer.to_string(), message_id.to_string());
        self.read(move |c| {
            let (row, _) = rows::visible_message(c, &viewer, &message_id)?;
            let hidden = rows::block_partners(c, &viewer)?;
            let mut stmt = c
                .prepare_cached(
                    "SELECT m.user_id,
                       (SELECT min(w.at) FROM watermark_moves w WHERE w.conversation_id = m.conversation_id
                          AND w.user_id = m.user_id AND w.seq >= ?2),
                       (SELECT min(w.at) FROM watermark_moves w WHERE w.conversation_id = m.conversation_id
                          AND w.user_id = m.user_id AND w.kind = 'read' AND w.seq >= ?2)
                     FROM members m
                     WHERE m.conversation_id = ?1 AND m.active = 1 AND m.user_id <> ?3 AND m.joined_seq <= ?2
                     ORDER BY m.user_id",
                )
                .map_err(db_err)?;
            let all = stmt
                .query_map(params![row.conversation_id, row.seq as i64, row.sender_id], |r| {
                    Ok(Receipt {
                        user_id: r.get(0)?,
                        delivered_at: r.get::<_, Option<i64>>(1)?.map(Timestamp),
                        read_at: r.get::<_, Option<i64>>(2)?.map(Timestamp),
                    })
                })
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            Ok(all.into_iter().filter(|r| !hidden.contains(&r.user_id)).collect())
        })
        .await
    }

    async fn block(&self, blocker: &str, blocked: &str, at: Timestamp) -> StoreResult<bool> {
        let (blocker, blocked) = (blocker.to_string(), blocked.to_string());
        self.write(move |s, _| {
            if rows::user_by_id(&s.conn, &blocked)?.is_none() {
                return Err(StoreError::NotFound("user"));
            }
            let n = s
                .conn
                .prepare_cached("INSERT OR IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?1, ?2, ?3)")
                .map_err(db_err)?
                .execute(params![blocker, blocked, at.millis()])
                .map_err(db_err)?;
            Ok(n > 0)
        })
        .await
    }

    async fn unblock(&self, blocker: &str, blocked: &str) -> StoreResult<()> {
        let (blocker, blocked) = (blocker.to_string(), blocked.to_string());
        self.write(move |s, _| {
            s.conn
                .prepare_cached("DELETE FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2")
                .map_err(db_err)?
                .execute(params![blocker, blocked])
                .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn blocks(
        &self,
        user: &str,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(UserRow, Timestamp)>> {
        let user = user.to_string();
        self.read(move |c| {
            let (at, id) = before.clone().unwrap_or((i64::MAX, String::new()));
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT b.created_at, {} FROM blocks b JOIN users u ON u.id = b.blocked_id
                     WHERE b.blocker_id = ?1 AND (?4 = 0 OR b.created_at < ?2 OR (b.created_at = ?2 AND b.blocked_id < ?3))
                     ORDER BY b.created_at DESC, b.blocked_id DESC LIMIT ?5",
                    rows::USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
                ))
                .map_err(db_err)?;
            stmt.query_map(params![user, at, id, before.is_some() as i64, limit], |r| {
                let at = Timestamp(r.get(0)?);
                let role: String = r.get(6)?;
                Ok((
                    UserRow {
                        id: r.get(1)?,
                        username: r.get(2)?,
                        display_name: r.get(3)?,
                        avatar_url: r.get(4)?,
                        about: r.get(5)?,
                        role: Role::parse(&role).unwrap_or(Role::User),
                        password_hash: None,
                        created_at: Timestamp(r.get(8)?),
                        last_seen_at: r.get::<_, Option<i64>>(9)?.map(Timestamp),
                    },
                    at,
                ))
            })
            .map_err(db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)
        })
        .await
    }

    async fn block_status(&self, a: &str, b: &str) -> StoreResult<(bool, bool)> {
        let (a, b) = (a.to_string(), b.to_string());
        self.read(move |c| {
            let q = |x: &str, y: &str| -> StoreResult<bool> {
                c.prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM blocks WHERE blocker_id = ?1 AND blocked_id = ?2)",
                )
                .map_err(db_err)?
                .query_row(params![x, y], |r| r.get(0))
                .map_err(db_err)
            };
            Ok((q(&a, &b)?, q(&b, &a)?))
        })
        .await
    }

    async fn block_partners(&self, user: &str) -> StoreResult<Vec<String>> {
        let user = user.to_string();
        self.read(move |c| rows::block_partners(c, &user)).await
    }
}
