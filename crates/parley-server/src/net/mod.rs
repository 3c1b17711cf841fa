//! The accept loop, bounded (protocol.md §14, docs/operations.md
//! "Hardening"):
//!
//! - at most `max_tcp_connections` connections in all (the default leaves a
//!   reserve of descriptors below the open-file limit, so `accept` itself
//!   keeps working) and `max_connections_per_ip` from one peer address; a
//!   connection over either is answered at once (503 `unavailable` or 429
//!   `rate_limited`, in the error shape) and closed;
//! - a connection that sends nothing within `idle_timeout` is closed
//!   (hyper's own header read timeout only starts once the first bytes
//!   arrived: until then hyper-util's auto builder waits for them without
//!   a timer); the same timeout then bounds each request's headers and the
//!   silence between requests;
//! - `accept` errors (out of descriptors) back off exponentially, up to a
//!   second, instead of spinning;
//! - hyper's own answers to heads it cannot parse get a body in the error
//!   shape ([`error_bodies`]).
//!
//! A connection's [`ConnSlot`] is also put into each request's extensions,
//! so that an upgraded gateway connection keeps its place until it closes.

pub mod error_bodies;
pub mod slots;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use parley_protocol::ErrorCode;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

/// The first and the longest pause after a failed `accept`.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(5), Duration::from_secs(1));

/// The bounds every listener of the process shares.
pub struct Limits {
    /// Every TCP connection, on every listener.
    total: Arc<Semaphore>,
    per_ip: Arc<slots::Slots<IpAddr>>,
    idle_timeout: Duration,
}

impl Limits {
    pub fn new(config: &crate::config::Config) -> Arc<Limits> {
        Arc::new(Limits {
            total: Arc::new(Semaphore::new(config.max_tcp_connections)),
            per_ip: slots::Slots::new(config.max_connections_per_ip),
            idle_timeout: config.idle_timeout,
        })
    }
}

/// A connection's places under [`Limits`], held until the connection (and
/// any upgrade of it) has ended.
pub struct ConnSlot {
    _total: OwnedSemaphorePermit,
    _ip: slots::Slot<IpAddr>,
}

/// One listener and the connections it accepted.
pub struct Server {
    listener: Option<TcpListener>,
    app: Router,
    limits: Arc<Limits>,
    builder: Builder<TokioExecutor>,
    graceful: GracefulShutdown,
    /// Every connection task, including those still waiting for a first
    /// byte (which hyper's graceful shutdown does not know of).
    tasks: TaskTracker,
    /// Cancelled when the server stops accepting: connections that have
    /// not sent a byte yet are closed.
    closing: CancellationToken,
}

impl Server {
    pub fn new(listener: TcpListener, app: Router, limits: Arc<Limits>) -> Server {
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.idle_timeout);
        Server {
            listener: Some(listener),
            app,
            limits,
            builder,
            graceful: GracefulShutdown::new(),
            tasks: TaskTracker::new(),
            closing: CancellationToken::new(),
        }
    }

    /// Accepts and serves connections until `stop` resolves.
    pub async fn accept_until(&mut self, stop: impl Future<Output = ()>) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        tokio::pin!(stop);
        let mut backoff = ACCEPT_BACKOFF.0;
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = &mut stop => break,
            };
            match accepted {
                Ok((stream, remote)) => {
                    backoff = ACCEPT_BACKOFF.0;
                    self.admit(stream, remote);
                }
                Err(e) => {
                    // Out of descriptors and the like: wait, longer each
                    // time, and keep serving those we have.
                    tracing::warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept failed");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = &mut stop => break,
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                }
            }
        }
        // The listener is dropped here: nothing new is accepted.
        self.closing.cancel();
    }

    /// Serves `stream` if it is within the limits; refuses it otherwise.
    fn admit(&self, stream: TcpStream, remote: SocketAddr) {
        let ip = remote.ip().to_canonical();
        let Ok(total) = self.limits.total.clone().try_acquire_owned() else {
            refuse(
                &stream,
                "503 Service Unavailable",
                ErrorCode::Unavailable,
                "the server is at its connection limit; try again shortly",
            );
            return;
        };
        let Some(per_ip) = self.limits.per_ip.try_take(ip) else {
            refuse(
                &stream,
                "429 Too Many Requests",
                ErrorCode::RateLimited,
                "too many connections from your address",
            );
            return;
        };
        let slot = Arc::new(ConnSlot {
            _total: total,
            _ip: per_ip,
        });
        let _ = stream.set_nodelay(true);
        let in_request = slot.clone();
        let service = self.app.clone().map_request(
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(remote));
                req.extensions_mut().insert(in_request.clone());
                req
            },
        );
        let builder = self.builder.clone();
        let watcher = self.graceful.watcher();
        let closing = self.closing.clone();
        let idle = self.limits.idle_timeout;
        self.tasks.spawn(async move {
            let _slot = slot;
            // hyper's timers start with the first byte; until then, ours.
            let mut probe = [0u8; 1];
            let first = tokio::select! {
                r = tokio::time::timeout(idle, stream.peek(&mut probe)) => r,
                _ = closing.cancelled() => return,
            };
            if !matches!(first, Ok(Ok(n)) if n > 0) {
                return; // silent, closed or broken
            }
            let conn = builder.serve_connection_with_upgrades(
                TokioIo::new(error_bodies::ErrorBodies::new(stream)),
                TowerToHyperService::new(service),
            );
            let _ = watcher.watch(conn.into_owned()).await;
        });
    }

    /// Stops accepting (if [`Server::accept_until`] has not already).
    pub fn stop_accepting(&mut self) {
        self.listener = None;
        self.closing.cancel();
    }

    /// Lets in-flight requests finish, within `grace`, and waits for every
    /// connection task; false if some did not end in time.
    pub async fn drain(self, grace: Duration) -> bool {
        self.closing.cancel();
        self.tasks.close();
        let graceful = self.graceful;
        let tasks = self.tasks;
        tokio::time::timeout(grace, async move {
            graceful.shutdown().await;
            tasks.wait().await;
        })
        .await
        .is_ok()
    }
}

/// Answers a connection refused at accept without reading from it: one
/// non-blocking write of the whole (small) response, then close.
fn refuse(stream: &TcpStream, status: &str, code: ErrorCode, message: &str) {
    let extra: &[(&str, String)] = if code == ErrorCode::RateLimited {
        &[("retry-after", "1".to_string())]
    } else {
        &[]
    };
    let _ = stream.try_write(&error_bodies::error_response(status, code, message, extra));
}
