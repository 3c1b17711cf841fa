//! PostgreSQL: the backend for running several Parley processes on one
//! database.
//!
//! Laid out like `parley-store-sqlite` so the two read side by side: one
//! file per area (`users`, `credentials`, `conversations`, `messages`,
//! `receipts`, `blocks`, `support`, ...), `rows` and `views` for the shared reads,
//! `events` for how a write locks and appends, `migrate`, and `commit` in
//! place of SQLite's writer thread. Reads run on a pooled connection
//! (deadpool, 16 connections) in autocommit, one statement at a time, as
//! SQLite's reader pool does; everything goes to the primary, so a caller
//! reads its own writes.
//!
//! The differences from SQLite come from many writers instead of one: each
//! write is its own transaction, writers of one conversation are serialised
//! by its row lock taken before any fact is read (so the facts handed to
//! `parley_domain` are what a serial execution would see, seq allocation is
//! gap-free and the idempotency check exact across processes), nothing
//! caches membership between transactions, and the order in which
//! deliveries reach this process's sink is kept by `commit` (each process
//! only sees its own writes' deliveries; the fan-out and the connections'
//! gap filling join them up).
#![forbid(unsafe_code)]

mod blocks;
mod chat_state;
mod commit;
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
mod send_batch;
mod support;
mod users;
mod views;
mod webhooks;

use async_trait::async_trait;
use commit::Committer;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use parley_store::{DeliverySink, Store, StoreError, StoreResult};
use rows::{db_err, query_one};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Connections in the pool.
const POOL_SIZE: usize = 16;

pub struct PostgresStore {
    committer: Arc<Committer>,
    /// Sends, group-committed (`send_batch`).
    sends: send_batch::SendQueue,
    /// Told (after commit) of a support conversation a customer's message
    /// reopened, so that the support service routes it.
    support_hook: Arc<std::sync::OnceLock<support::ReopenHook>>,
}

/// Runs `$body` (an expression on the [`events::WriteTx`] `$w` and the
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
            let mut $w = crate::commit::begin(&mut client).await?;
            let mut deliveries = Vec::new();
            let result = {
                let $out = &mut deliveries;
                $body.await
            };
            committer.finish($w, result, deliveries, hook).await
        })
        .await
        .map_err(|e| parley_store::StoreError::Internal(format!("write task failed: {e}")))?
    }};
    ($store:expr, move |$w:ident, $out:ident| $body:expr) => {
        in_tx!($store, None, move |$w, $out| $body)
    };
}
pub(crate) use in_tx;

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
        let committer = Arc::new(Committer::new(pool, sink));
        let support_hook = Arc::new(std::sync::OnceLock::new());
        Ok(PostgresStore {
            sends: send_batch::SendQueue::start(send_batch::Batching {
                committer: committer.clone(),
                support_hook: support_hook.clone(),
            }),
            committer,
            support_hook,
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

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        let c = self.client().await?;
        query_one(&c, "SELECT 1", &[]).await?;
        Ok(())
    }
}
