//! WAL checkpoints on their own thread and connection.
//!
//! SQLite's automatic checkpoint runs inside the committing connection, so
//! on the single writer it would stall every queued send while it copies
//! pages into the database file and syncs it (7.5% of the writer's time in
//! a W3 profile). Here the writer never checkpoints; this thread runs a
//! PASSIVE checkpoint a few times a second, which never blocks the writer
//! or readers.

use super::rows::db_err;
use crate::store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

const INTERVAL: Duration = Duration::from_millis(250);

/// Stops the thread (after a last checkpoint) when dropped.
pub struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub fn start(path: &Path) -> StoreResult<Checkpointer> {
        let conn = Connection::open(path).map_err(db_err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(db_err)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("parley-sqlite-checkpoint".into())
            .spawn(move || run(conn, stopped))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn run(conn: Connection, stopped: mpsc::Receiver<()>) {
    loop {
        let last = matches!(
            stopped.recv_timeout(INTERVAL),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        if last {
            return;
        }
    }
}
