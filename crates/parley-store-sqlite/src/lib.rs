//! The embedded default: SQLite in WAL mode, `synchronous=FULL`.
//!
//! Writes go to one writer thread that commits in groups ([`writer`]);
//! reads use a small pool of read-only connections on blocking threads.
//! WAL lets readers run while the writer commits. One file per storage
//! area (`users`, `credentials`, `conversations`, `messages`, `receipts`,
//! `blocks`) implements that area's trait: each write reads its facts on
//! the writer thread (the only writer, so nothing changes under it), asks
//! `parley_domain` for the plan and applies it; `events` appends the
//! plan's events, `rows` and `views` are the shared reads.
#![forbid(unsafe_code)]

mod blocks;
mod chat_state;
mod checkpoint;
mod client_keys;
mod compliance;
mod conversations;
mod credentials;
mod digests;
mod events;
mod media;
mod message_marks;
mod messages;
mod migrate;
mod moderation;
mod notifications;
mod push;
mod reactors;
mod receipts;
mod retention;
mod rows;
mod search;
mod support;
mod users;
mod views;
mod webhooks;
mod writer;

pub use checkpoint::RESTART_FRAMES;
pub use migrate::MIGRATIONS;

use async_trait::async_trait;
use parley_store::{Delivery, DeliverySink, Store, StoreError, StoreResult};
use rows::db_err;
use rusqlite::{Connection, OpenFlags};
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
    /// The job's send reopened a resolved support conversation.
    reopened_by_send: bool,
}

impl WriterState {
    fn new(conn: Connection) -> Self {
        WriterState {
            conn,
            members_cache: HashMap::new(),
            kinds_cache: HashMap::new(),
            reopened_by_send: false,
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
    /// Told (after commit) of a support conversation a customer's message
    /// reopened, so that the support service routes it.
    support_hook: Arc<std::sync::OnceLock<support::ReopenHook>>,
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
            support_hook: Arc::new(std::sync::OnceLock::new()),
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

    /// Runs `f` on a reader connection, on a blocking thread.
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

    /// Runs `f` in the writer's next transaction.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterState, &mut Vec<Delivery>) -> StoreResult<T> + Send + 'static,
    {
        self.writer.write(f, None).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err))
            .await
    }
}
