//! Parley: a self-hosted real-time chat server.
//!
//! How a message travels (see ARCHITECTURE.md for the whole map):
//!
//! 1. [`http`] (REST) or [`gateway`] (WebSocket) receives a request and
//!    authenticates it ([`auth`]).
//! 2. A [`services`] module validates it (`parley_domain::input`) and calls
//!    storage (`parley_store`), which reads the facts under its lock, asks
//!    `parley_domain` for the plan and applies it.
//! 3. Storage allocates the conversation's next seq in the transaction
//!    that stores the event, commits, and hands the serialized event to
//!    the [`fanout`] as a `Delivery`, in commit order.
//! 4. The fan-out queues the same bytes on every live connection of every
//!    member; each connection's writer task sends them in seq order.
//!
//! [`run`] starts everything on a listener the caller bound, so tests can
//! pass a port-0 listener and a shutdown future; [`cli`] is the `parley`
//! command line; background work runs under [`jobs::Supervisor`].
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod digest;
pub mod error;
pub mod fanout;
pub mod gateway;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod metrics;
pub mod net;
pub mod outbox;
pub mod push;
pub mod ratelimit;
pub mod services;
pub mod telemetry;

use crate::app::{AppState, Inner};
use crate::config::Config;
use crate::fanout::{Fanout, LocalFanout};
use crate::jobs::Supervisor;
use crate::ratelimit::Limiter;
use crate::ratelimit::memory::InMemoryLimiter;
use crate::ratelimit::redis::RedisLimiter;
use crate::services::Services;
use anyhow::Context as _;
use parley_store::Store;
use parley_store_postgres::PostgresStore;
use parley_store_sqlite::SqliteStore;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

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

/// Opens the configured storage; committed deliveries go to `fanout`.
/// The store, and its support area (the same backend).
type Stores = (Arc<dyn Store>, Arc<dyn parley_store::SupportStore>);

async fn open_store(config: &Config, fanout: Arc<dyn Fanout>) -> anyhow::Result<Stores> {
    let sink: parley_store::DeliverySink = Arc::new(move |d| fanout.publish(d));
    Ok(match &config.database {
        crate::config::Database::Sqlite(path) => {
            if let Some(parent) = path.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent)?;
            }
            let store = Arc::new(
                SqliteStore::open(path, sink)
                    .with_context(|| format!("opening {}", path.display()))?,
            );
            (store.clone(), store)
        }
        crate::config::Database::Postgres(url) => {
            let store = Arc::new(
                PostgresStore::connect(url, sink)
                    .await
                    .context("connecting to PostgreSQL")?,
            );
            (store.clone(), store)
        }
    })
}

/// Applies migrations without starting anything (`parley migrate`).
pub async fn migrate(config: &Config) -> anyhow::Result<usize> {
    std::fs::create_dir_all(&config.data_dir)?;
    Ok(match &config.database {
        crate::config::Database::Sqlite(path) => SqliteStore::migrate_only(path)?,
        crate::config::Database::Postgres(url) => PostgresStore::migrate_only(url).await?,
    })
}

/// The rate limiter the configuration asks for; the in-memory one's
/// cleanup runs under `jobs`.
fn limiter(config: &Config, shared: Option<&crate::cluster::Shared>, jobs: &Supervisor) -> Limiter {
    if !config.rate_limits {
        return Limiter::unlimited();
    }
    if let Some(s) = shared {
        return Limiter::new(Arc::new(RedisLimiter::new(s.clone(), config.rates.clone())));
    }
    let l = Arc::new(InMemoryLimiter::new(&config.rates));
    let cleaned = l.clone();
    jobs.spawn("ratelimit-cleanup", move |stop| async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => cleaned.shrink(),
            }
        }
    });
    Limiter::new(l)
}

/// Opens storage (and Redis, in a cluster), builds the services and
/// starts the background jobs under a new supervisor.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let jobs = Arc::new(Supervisor::default());
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
            &jobs,
        )),
        None => Arc::new(LocalFanout::new()),
    };
    let (store, support_store) = open_store(&config, fanout.clone()).await?;
    let secret = signing_secret(&config)?;
    let external = match &config.external_jwt {
        Some(cfg) => Some(crate::auth::external::ExternalVerifier::new(cfg)?),
        None => None,
    };
    let hash_concurrency = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let limiter = limiter(&config, shared.as_ref(), &jobs);
    let accounts = services::accounts::AccountsConfig {
        tokens: crate::auth::tokens::Tokens::new(
            &secret,
            config.access_token_ttl_secs,
            config.ticket_ttl_secs,
        ),
        passwords: crate::auth::password::Passwords::new(hash_concurrency)?,
        external,
        limiter: limiter.clone(),
        shared: shared.clone(),
        registration_open: config.registration_open,
        refresh_ttl_secs: config.refresh_token_ttl_secs,
        refresh_reuse_window_ms: config.refresh_reuse_window_ms,
        avatar_policy: config.avatar_policy(),
    };
    let blobs: Arc<dyn parley_media::BlobStore> = match &config.media_store {
        crate::config::MediaStore::Local => Arc::new(
            parley_media::LocalBlobStore::new(config.data_dir.join("media"))
                .map_err(|e| anyhow::anyhow!("opening the media directory: {e}"))?,
        ),
        crate::config::MediaStore::S3(s3) => {
            let store = parley_media::S3BlobStore::new(s3.clone())
                .map_err(|e| anyhow::anyhow!("media store s3://{}: {e}", s3.bucket))?;
            // A wrong endpoint, bucket or key fails the start, not the
            // first upload.
            store
                .check()
                .await
                .map_err(|e| anyhow::anyhow!("media store s3://{}: {e}", s3.bucket))?;
            tracing::info!(bucket = %s3.bucket, prefix = %s3.prefix, "media in an S3 bucket");
            Arc::new(store)
        }
    };
    let media = services::media::MediaService::new(
        store.clone(),
        blobs,
        limiter.clone(),
        config.limits.media,
        &secret,
    );
    let webhook_store: Arc<dyn parley_store::WebhookStore> = store.clone();
    let push_store: Arc<dyn parley_store::PushStore> = store.clone();
    let vapid = services::push::vapid_key(push_store.as_ref()).await?;
    let unsubscribe = services::email::unsubscribe_key(push_store.as_ref()).await?;
    let digest_store: Arc<dyn parley_store::DigestStore> = store.clone();
    let services = Services::new(
        store,
        fanout.clone(),
        shared.clone(),
        &config,
        limiter,
        accounts,
        media,
        &vapid,
        unsubscribe,
        support_store,
    );
    let presence = services.presence.clone();
    jobs.spawn("presence", move |stop| presence.run(stop));
    let typing = services.typing.clone();
    jobs.spawn("typing-expiry", move |stop| typing.run(stop));
    let moderation = services.moderation.clone();
    jobs.spawn("ban-watch", move |stop| moderation.run(stop));
    let media = services.media.clone();
    jobs.spawn("media-sweeper", move |stop| media.run_sweeper(stop));
    let support = services.support.clone();
    jobs.spawn("support-routing", move |stop| support.run(stop));
    if config.retention_job {
        let retention = services.retention.clone();
        jobs.spawn("retention", move |stop| retention.run(stop));
    }
    let outbound = parley_outbound::Outbound::new(config.outbound.clone());
    let worker = outbox::OutboxWorker::new(
        webhook_store,
        outbound.clone(),
        config.webhook_retry.clone(),
    );
    jobs.spawn("outbox", move |stop| worker.run(stop));
    let pusher = push::PushWorker::new(
        push_store,
        outbound,
        services.presence.clone(),
        vapid,
        config.push.clone(),
    );
    jobs.spawn("push", move |stop| pusher.run(stop));
    if let Some((url, from)) = &config.email.smtp {
        let mailer = parley_outbound::Mailer::new(&url.0, from, digest::SMTP_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let base_url = config
            .email
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen));
        let digests = digest::DigestWorker::new(
            digest_store,
            mailer,
            services.presence.clone(),
            services.email.clone(),
            config.email.after,
            base_url,
        );
        jobs.spawn("email-digests", move |stop| digests.run(stop));
    }
    Ok(AppState::new(Inner {
        connection_permits: Arc::new(Semaphore::new(config.limits.max_connections)),
        user_connections: crate::net::slots::Slots::new(config.max_connections_per_user),
        shutdown: jobs.token(),
        config,
        services,
        fanout,
        shared,
        jobs,
    }))
}

/// How long in-flight requests get to finish after shutdown begins.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves until `shutdown` resolves, then closes gateway connections with
/// 1001 and lets in-flight requests finish.
///
/// The accept loop is our own ([`net::Server`], over hyper's connection
/// builder, not `axum::serve`) so that every connection is bounded: a cap
/// in all and per peer address, an idle timeout before the first byte and
/// hyper's header read timeout after it. With `metrics_listen`, `/metrics`
/// is served by a second [`net::Server`] under the supervisor.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the metrics listener on {addr}"))?,
        ),
        None => None,
    };
    let mut config = config;
    if config.email.base_url.is_none() {
        // Links in emails name the address this server is reached at.
        let mut local = listener.local_addr()?;
        if local.ip().is_unspecified() {
            local.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        config.email.base_url = Some(format!("http://{local}"));
    }
    let state = build_state(config).await?;
    let limits = net::Limits::new(&state.config);
    if let Some(l) = metrics_listener {
        let mut metrics = net::Server::new(l, http::metrics_router(state.clone()), limits.clone());
        state
            .jobs
            .spawn("metrics-listener", move |stop| async move {
                metrics.accept_until(stop.cancelled()).await;
                if !metrics.drain(DRAIN_TIMEOUT).await {
                    tracing::warn!("some metrics requests did not finish in time");
                }
            });
    }
    let mut server = net::Server::new(listener, http::router(state.clone()), limits);
    server.accept_until(shutdown).await;
    shutdown_state(&state, server).await;
    Ok(())
}

/// Stops in order: no new connections; gateway connections closed with
/// 1001 and in-flight requests finished (both bounded by
/// [`DRAIN_TIMEOUT`]); then every background job stopped and awaited.
/// When this returns, nothing the server started is still running.
async fn shutdown_state(state: &AppState, mut server: net::Server) {
    tracing::info!("shutting down: closing gateway connections");
    server.stop_accepting();
    state.shutdown.cancel();
    for conn in state.fanout.registry().all() {
        conn.close(parley_protocol::gateway::close_code::GOING_AWAY);
    }
    if !server.drain(DRAIN_TIMEOUT).await {
        tracing::warn!("some requests did not finish in time");
    }
    // Upgraded gateway connections run outside hyper's watch: each holds
    // a permit until its tasks have ended.
    let all = u32::try_from(state.config.limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, state.connection_permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("some gateway connections did not close in time");
    }
    state.jobs.shutdown(DRAIN_TIMEOUT).await;
}
