//! The single SQLite writer: one thread, one connection, group commit.
//!
//! Every write is a job queued here. The thread takes whatever jobs are
//! waiting (up to [`MAX_BATCH`]), runs each inside its own savepoint of one
//! `BEGIN IMMEDIATE` transaction, commits once (`synchronous=FULL`, so the
//! commit is durable), then answers each job and hands the batch's
//! deliveries to the sink in commit order. One fsync is shared by the whole
//! batch, which is what makes durable acks fast; one writer means seq
//! allocation needs no locking beyond the transaction itself.

use crate::WriterState;
use parley_store::{Delivery, DeliverySink};
use parley_store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::sync::mpsc;
use tokio::sync::oneshot;

const MAX_BATCH: usize = 512;

/// Learns a job's fate (commit or rollback) and runs its hook; returns the
/// [`Reply`] that wakes the caller.
type Completion = Box<dyn FnOnce(StoreResult<()>) -> Reply + Send>;
/// Wakes a job's caller with its result. Sent only once the batch's
/// deliveries are in the sink, so a caller whose write has returned can
/// count on its events being with the fan-out (as with PostgreSQL).
type Reply = Box<dyn FnOnce() + Send>;
/// Runs after a job's commit, before the batch's deliveries go out.
pub type Hook<T> = Box<dyn FnOnce(&T) + Send>;
type Job = Box<dyn FnOnce(&mut WriterState, &mut Vec<Delivery>) -> (bool, Completion) + Send>;

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::SyncSender<Job>,
}

impl Writer {
    pub fn start(conn: Connection, sink: DeliverySink) -> std::io::Result<Writer> {
        // Bounded so that a flood of writers waits instead of growing memory.
        let (tx, rx) = mpsc::sync_channel::<Job>(8192);
        std::thread::Builder::new()
            .name("parley-sqlite-writer".into())
            .spawn(move || run(conn, rx, sink))?;
        Ok(Writer { tx })
    }

    /// Runs `f` in the next transaction and returns its result after the
    /// commit. `after_commit` (if any) runs once committed, before the
    /// batch's deliveries go to the sink.
    pub async fn write<T, F>(&self, f: F, after_commit: Option<Hook<T>>) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterState, &mut Vec<Delivery>) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |state, deliveries| {
            let result = f(state, deliveries);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |committed| {
                let result = committed.and(result);
                if let (Ok(value), Some(hook)) = (&result, after_commit) {
                    hook(value);
                }
                Box::new(move || {
                    let _ = reply.send(result);
                })
            });
            (ok, completion)
        });
        let tx = self.tx.clone();
        // `send` blocks only when 8192 jobs are queued; do that off the
        // async threads.
        match tx.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(job)) => {
                tokio::task::spawn_blocking(move || tx.send(job))
                    .await
                    .map_err(|e| StoreError::Internal(e.to_string()))?
                    .map_err(|_| StoreError::Unavailable("writer stopped".into()))?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                return Err(StoreError::Unavailable("writer stopped".into()));
            }
        }
        answer
            .await
            .map_err(|_| StoreError::Unavailable("writer stopped".into()))?
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Job>, sink: DeliverySink) {
    let mut state = WriterState::new(conn);
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::with_capacity(16);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut state, batch, &sink);
    }
}

/// Runs one transaction-control statement through the statement cache:
/// they run several times per job, and `execute_batch` would parse them
/// every time.
fn control(state: &WriterState, sql: &str) -> rusqlite::Result<()> {
    state.conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Undoes a job's writes and closes its savepoint.
fn roll_back_job(state: &WriterState) -> rusqlite::Result<()> {
    control(state, "ROLLBACK TO job")?;
    control(state, "RELEASE job")
}

fn run_batch(state: &mut WriterState, batch: Vec<Job>, sink: &DeliverySink) {
    if let Err(e) = control(state, "BEGIN IMMEDIATE") {
        let err = StoreError::Unavailable(e.to_string());
        for job in batch {
            // The job never ran; answer it without running it.
            let mut scratch = Vec::new();
            let _ = control(state, "SAVEPOINT job");
            let (_, done) = job(state, &mut scratch);
            let _ = roll_back_job(state);
            done(Err(StoreError::Unavailable(err.to_string())))();
        }
        state.invalidate_caches();
        return;
    }
    let mut completions = Vec::with_capacity(batch.len());
    let mut deliveries = Vec::new();
    let mut failed = false;
    for job in batch {
        if let Err(e) = control(state, "SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint failed");
            failed = true;
        }
        let mut mine = Vec::new();
        let (ok, done) = job(state, &mut mine);
        let closed = if ok {
            control(state, "RELEASE job")
        } else {
            roll_back_job(state)
        };
        if let Err(e) = closed {
            tracing::error!(error = %e, "savepoint release failed");
            failed = true;
        }
        if ok {
            deliveries.extend(mine);
        } else {
            // Caches may hold what the rolled-back job wrote.
            state.invalidate_caches();
        }
        completions.push(done);
    }
    let commit = if failed {
        Err("savepoint failure".to_string())
    } else {
        control(state, "COMMIT").map_err(|e| e.to_string())
    };
    match commit {
        Ok(()) => {
            // Hooks (a gateway `ack`) first, so the ack precedes the event
            // on the sending connection; then the deliveries; then callers.
            let replies: Vec<Reply> = completions.into_iter().map(|done| done(Ok(()))).collect();
            if !deliveries.is_empty() {
                sink(deliveries);
            }
            for reply in replies {
                reply();
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "commit failed; batch rolled back");
            let _ = control(state, "ROLLBACK");
            state.invalidate_caches();
            for done in completions {
                done(Err(StoreError::Unavailable(format!("commit failed: {e}"))))();
            }
        }
    }
}
