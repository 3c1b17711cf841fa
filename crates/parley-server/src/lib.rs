//! Parley: a self-hosted real-time chat server.
//!
//! How a message travels (see ARCHITECTURE.md for the whole map):
//!
//! 1. [`http`] (REST) or [`gateway`] (WebSocket) receives a request and
//!    authenticates it ([`auth`]).
//! 2. [`app`] validates it ([`validate`]) and calls the [`store`].
//! 3. The store allocates the conversation's next seq in the transaction
//!    that stores the event, commits, and hands the serialized event to
//!    the [`fanout`] as a [`delivery::Delivery`], in commit order.
//! 4. The fan-out queues the same bytes on every live connection of every
//!    member; each connection's writer task sends them in seq order.
//!
//! [`run`] starts everything on a listener the caller bound, so tests can
//! pass a port-0 listener and a shutdown future.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod delivery;
pub mod error;
pub mod fanout;
pub mod gateway;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod presence;
pub mod ratelimit;
pub mod store;
pub mod telemetry;
pub mod typing;
pub mod validate;

use crate::app::{AppState, Inner};
use crate::config::Config;
use crate::fanout::{Fanout, LocalFanout};
use crate::ratelimit::{InMemoryLimiter, RateLimiter, Unlimited};
use crate::store::Store;
use crate::store::sqlite::SqliteStore;
use anyhow::Context as _;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// Reads the signing secret from config or `DATA_DIR/secret.key`, creating
/// the file (mode 0600) on first start.
fn signing_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &config.jwt_secret {
        anyhow::ensure!(s.0.len() >= 32, "jwt_secret must be at least 32 characters");
        return Ok(s.0.as_bytes().to_vec());
    }
    let path = config.data_dir.join("secret.key");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let t = existing.trim();
        anyhow::ensure!(t.len() >= 32, "{} is too short", path.display());
        return Ok(t.as_bytes().to_vec());
    }
    let secret = crate::auth::tokens::random_token(48);
    std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(secret.into_bytes())
}

/// Opens storage (and Redis, in a cluster) and builds the shared state.
pub async fn build_state(
    config: Config,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let shared = match &config.redis_url {
        Some(url) => Some(
            crate::cluster::Shared::connect(&url.0, &config.redis_prefix)
                .await
                .context("connecting to Redis")?,
        ),
        None => None,
    };
    let fanout: Arc<dyn Fanout> = match &shared {
        Some(s) => Arc::new(crate::fanout::RedisFanout::start(
            s.client.clone(),
            s.fanout_channel(),
        )),
        None => Arc::new(LocalFanout::new()),
    };
    let sink_fanout = fanout.clone();
    let sink: crate::delivery::DeliverySink = Arc::new(move |d| sink_fanout.publish(d));
    let store: Arc<dyn Store> = match &config.database {
        crate::config::Database::Sqlite(path) => {
            if let Some(parent) = path.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            Arc::new(
                SqliteStore::open(path, sink)
                    .with_context(|| format!("opening {}", path.display()))?,
            )
        }
        crate::config::Database::Postgres(url) => Arc::new(
            crate::store::postgres::PostgresStore::connect(url, sink)
                .await
                .context("connecting to PostgreSQL")?,
        ),
    };
    let secret = signing_secret(&config)?;
    let external = match &config.external_jwt {
        Some(cfg) => Some(crate::auth::external::ExternalVerifier::new(cfg)?),
        None => None,
    };
    let limiter: Arc<dyn RateLimiter> = if let (true, Some(s)) = (config.rate_limits, &shared) {
        Arc::new(crate::ratelimit::RedisLimiter::new(s.clone()))
    } else if config.rate_limits {
        let l = Arc::new(InMemoryLimiter::default());
        let weak = Arc::downgrade(&l);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(l) => l.shrink(),
                    None => return,
                }
            }
        });
        l
    } else {
        Arc::new(Unlimited)
    };
    let hash_concurrency = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let (presence, presence_changes) = crate::presence::PresenceTracker::new(
        std::time::Duration::from_secs(config.presence_idle_secs),
    );
    let state = AppState::new(Inner {
        tokens: crate::auth::tokens::Tokens::new(
            &secret,
            config.access_token_ttl_secs,
            config.ticket_ttl_secs,
        ),
        passwords: crate::auth::password::Passwords::new(hash_concurrency)?,
        connection_permits: Arc::new(Semaphore::new(config.limits.max_connections)),
        config,
        store,
        fanout,
        external,
        external_users: Default::default(),
        limiter,
        shutdown,
        presence,
        shared,
        typing: crate::typing::TypingTracker::default(),
    });
    tokio::spawn(crate::presence::run(state.clone(), presence_changes));
    tokio::spawn(crate::typing::run(state.clone()));
    Ok(state)
}

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long in-flight requests get to finish after shutdown begins.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves until `shutdown` resolves, then closes gateway connections with
/// 1001 and lets in-flight requests finish.
///
/// The accept loop is hyper's own (not `axum::serve`) so that slow clients
/// get a header read timeout: a connection that never finishes its headers
/// is closed instead of held forever.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceExt as _;

    let (stop_tx, stop_rx) = watch::channel(false);
    let state = build_state(config, stop_rx).await?;
    let app = http::router(state.clone());
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = app.clone().map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(axum::extract::ConnectInfo(remote));
                    req
                });
                let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: closing gateway connections");
    drop(listener);
    let _ = stop_tx.send(true);
    for conn in state.fanout.registry().all() {
        conn.close(parley_protocol::gateway::close_code::GOING_AWAY);
    }
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some requests did not finish in time");
    }
    Ok(())
}
