//! How a PostgreSQL write begins and ends: the counterpart of
//! the SQLite writer thread (`parley-store-sqlite/src/writer.rs`).
//!
//! SQLite funnels every write through one thread and group-commits; here
//! each write is its own READ COMMITTED transaction on a pooled connection
//! (PostgreSQL does the group commit), and writers of one conversation are
//! serialised by its row lock (see `events.rs`). What remains to be done
//! here is what the writer thread does after its `COMMIT`: answer the
//! caller (the `after_commit` hook runs first, so a gateway `ack` precedes
//! the event on the sending connection), then hand the deliveries to the
//! sink in commit order.
//!
//! Commit order is the subtle part. Two writers of one conversation commit
//! one after the other (the second could not take the row lock before the
//! first committed), but their tasks return from `COMMIT` in no particular
//! order, so the sink could see seq 6 before seq 5. A writer therefore
//! takes an in-process stripe lock keyed by the conversation *before* it
//! sends `COMMIT` and keeps it until its deliveries are in the sink. Its
//! successor on that conversation can only reach its own `COMMIT` after
//! ours committed, i.e. after we took the stripe, so it waits for our
//! deliveries. The lock is never held while waiting for a database lock
//! (only across `COMMIT`, the hook and the sink), so it cannot deadlock.
//! Across processes, ordering is the fan-out's business: each process only
//! sees its own deliveries, and connections fill gaps from storage.

use crate::events::WriteTx;
use crate::rows::{db_err, pool_err};
use deadpool_postgres::Pool;
use parley_store::{Delivery, DeliverySink};
use parley_store::{StoreError, StoreResult};
use std::hash::{DefaultHasher, Hash, Hasher};
use tokio::sync::Mutex;
use tokio_postgres::IsolationLevel;

/// Runs after a write's commit, before its deliveries go to the sink.
pub type Hook<T> = Box<dyn FnOnce(&T) + Send>;

/// Stripes of the delivery-order lock: conversations sharing one only
/// commit one at a time in this process, which is rare and brief.
pub(crate) const STRIPES: usize = 256;

pub struct Committer {
    pool: Pool,
    sink: DeliverySink,
    stripes: Box<[Mutex<()>]>,
}

impl Committer {
    pub fn new(pool: Pool, sink: DeliverySink) -> Self {
        Committer {
            pool,
            sink,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
        }
    }

    pub async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_err)
    }

    pub(crate) fn stripe_of(key: &str) -> usize {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        (h.finish() % STRIPES as u64) as usize
    }

    /// The stripes of `keys` (none: the stripe of the empty key), taken
    /// in index order so that two writers of several conversations cannot
    /// wait on each other.
    pub(crate) async fn turn(&self, keys: &[String]) -> Vec<tokio::sync::MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = if keys.is_empty() {
            vec![Self::stripe_of("")]
        } else {
            keys.iter().map(|k| Self::stripe_of(k)).collect()
        };
        stripes.sort_unstable();
        stripes.dedup();
        let mut held = Vec::with_capacity(stripes.len());
        for i in stripes {
            held.push(self.stripes[i].lock().await);
        }
        held
    }

    /// Hands committed deliveries to the sink; the caller holds their turn.
    pub(crate) fn deliver(&self, out: Vec<Delivery>) {
        if !out.is_empty() {
            (self.sink)(out);
        }
    }

    /// Commits `w` if `result` is a success (rolling back otherwise), runs
    /// the hook, then hands `out` to the sink; see the module docs for why
    /// the stripe lock spans all three.
    pub async fn finish<T>(
        &self,
        w: WriteTx<'_>,
        result: StoreResult<T>,
        out: Vec<Delivery>,
        hook: Option<Hook<T>>,
    ) -> StoreResult<T> {
        let value = match result {
            Ok(value) => value,
            Err(e) => {
                // A failed rollback leaves a broken connection, which the
                // pool discards; the caller's error is what matters.
                let _ = w.tx.rollback().await;
                return Err(e);
            }
        };
        let _turn = if out.is_empty() {
            None
        } else {
            Some(self.turn(&w.keys).await)
        };
        w.tx.commit()
            .await
            .map_err(|e| StoreError::Unavailable(format!("commit failed: {e}")))?;
        if let Some(hook) = hook {
            hook(&value);
        }
        if !out.is_empty() {
            (self.sink)(out);
        }
        Ok(value)
    }
}

/// Starts a write's transaction. READ COMMITTED explicitly, whatever the
/// server's default: the locking in `events.rs` relies on each statement
/// seeing what committed before it (and would turn into serialization
/// failures under REPEATABLE READ).
pub async fn begin(client: &mut deadpool_postgres::Client) -> StoreResult<WriteTx<'_>> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(db_err)?;
    Ok(WriteTx {
        tx,
        keys: Vec::new(),
        reopened_support: false,
    })
}
