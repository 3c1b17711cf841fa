//! WAL checkpoints, mostly on their own thread and connection.
//!
//! SQLite's automatic checkpoint runs inside the committing connection, so
//! on the single writer it would stall every queued send while it copies
//! pages into the database file and syncs it (7.5% of the writer's time in
//! a W3 profile). Here a thread runs PASSIVE checkpoints, which never block
//! the writer or readers, back to back while there are new frames.
//!
//! A checkpoint alone never shortens the log: the writer starts over at the
//! beginning of the WAL only when, as it begins a transaction, every frame
//! has been copied. Under sustained writes the thread never catches up to
//! the very last commit, and the WAL grew without end (2.2 GB in 12 s of
//! W3). So the writer, once the log is `RESTART_FRAMES` long, checkpoints
//! the short tail the thread has not copied yet right after its commit; its
//! next transaction then restarts the log.

use crate::rows::db_err;
use parley_store::{StoreError, StoreResult};
use rusqlite::Connection;
use rusqlite::hooks::{CheckpointMode, Wal};
use std::ffi::c_int;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Between checkpoints while nothing is written.
const IDLE_INTERVAL: Duration = Duration::from_millis(250);
/// Between checkpoints while the last one found frames to copy.
const BUSY_INTERVAL: Duration = Duration::from_millis(10);
/// WAL length (frames of one page) at which the writer checkpoints the tail
/// itself: 16 MiB of log with 4 KiB pages.
pub const RESTART_FRAMES: c_int = 4096;

/// Makes the writer's connection restart the log once it is long.
pub fn restart_long_logs(writer: &Connection) {
    writer.wal_hook(Some(checkpoint_tail));
}

/// Runs after every commit of the writer with the WAL's length in frames.
fn checkpoint_tail(wal: &Wal, frames: c_int) -> rusqlite::Result<()> {
    if frames >= RESTART_FRAMES {
        // Busy (the thread is mid-checkpoint) is fine: the next commit
        // tries again. The commit itself has happened either way.
        if let Err(e) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
            tracing::debug!(error = %e, frames, "writer-side WAL checkpoint skipped");
        }
    }
    Ok(())
}

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
    let mut wait = IDLE_INTERVAL;
    let mut copied_before = -1;
    loop {
        let last = matches!(
            stopped.recv_timeout(wait),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
        // (busy, frames in the log, frames copied into the database)
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            Ok((_, copied)) => {
                wait = if copied != copied_before {
                    BUSY_INTERVAL
                } else {
                    IDLE_INTERVAL
                };
                copied_before = copied;
            }
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                wait = IDLE_INTERVAL;
            }
        }
        if last {
            return;
        }
    }
}
