//! The shared state every handler and connection sees: the configuration,
//! the services (the only way to storage), the fan-out's registry of live
//! connections and the supervisor of background jobs.

use crate::cluster::Shared;
use crate::config::Config;
use crate::fanout::Fanout;
use crate::jobs::Supervisor;
use crate::services::Services;
use std::ops::Deref;
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub services: Services,
    /// Live connections (the fan-out delivers into its registry).
    pub fanout: Arc<dyn Fanout>,
    /// Cancelled when the server starts shutting down.
    pub shutdown: CancellationToken,
    /// Caps live gateway connections; each holds one permit.
    pub connection_permits: Arc<Semaphore>,
    /// Caps one user's live gateway connections in this process.
    pub user_connections: Arc<crate::net::slots::Slots<String>>,
    /// Redis, when this process is one of several.
    pub shared: Option<Shared>,
    pub jobs: Arc<Supervisor>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        AppState(Arc::new(inner))
    }
}
