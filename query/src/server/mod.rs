//! `sluice serve`: Loki's HTTP query API over a data directory, read-only,
//! so that Grafana's Loki data source reads Sluice with no plugin.
//!
//! ```text
//! HTTP (tokio, axum) ──▶ handler: parameters → a request of `logql` / `api`
//!                          │ blocking pool, one query at a time per slot
//!                          ▼
//!                 LiveStore (reopened when a commit, merge or retention
//!                 changed the data) ──▶ answer → Loki's JSON shape
//! ```
//!
//! It shares `sluice-ingest serve`'s rules ([`sluice_index::serving`]):
//! loopback only unless given tokens, a connection cap, header, idle and
//! body timeouts. Each query also has a deadline and a slot among
//! `max_concurrent_queries`; `/metrics` has latency by endpoint.

mod loki;
mod metrics;
mod params;
mod tail;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sluice_index::serving::connections::{ConnectionLimits, ConnectionStats};
use sluice_index::serving::{BindError, Tokens};
use sluice_schemas::ErrorKind;

use crate::error::QueryError;
use crate::live::LiveStore;
use crate::logql::eval::Limits;

/// The default listen address: this machine only, on Loki's port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3100";
/// How long one query may run, unless told otherwise.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// How `sluice serve` runs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dirs: Vec<PathBuf>,
    /// Bearer tokens; `None` serves without authentication (loopback only).
    pub tokens: Option<Tokens>,
    pub connections: ConnectionLimits,
    pub query_timeout: Duration,
    /// Queries run at once; more wait for a slot (within their deadline).
    pub max_concurrent_queries: usize,
    pub limits: Limits,
    /// What `/status/buildinfo` reports as the revision.
    pub revision: String,
}

impl ServeConfig {
    pub fn new(data_dirs: Vec<PathBuf>) -> ServeConfig {
        ServeConfig {
            listen: DEFAULT_LISTEN.parse().expect("a valid address"),
            data_dirs,
            tokens: None,
            connections: ConnectionLimits::default(),
            query_timeout: DEFAULT_QUERY_TIMEOUT,
            max_concurrent_queries: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            limits: Limits::default(),
            revision: String::new(),
        }
    }
}

/// Why the server would not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Token(#[from] sluice_index::serving::TokenFileError),
    #[error(transparent)]
    Open(#[from] QueryError),
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
}

impl ServeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServeError::Bind(_) | ServeError::Token(_) => ErrorKind::OperatorFixable,
            ServeError::Open(error) => error.kind(),
            ServeError::Server(_) => ErrorKind::Fatal,
        }
    }
}

/// What every handler shares.
pub(crate) struct State {
    pub store: LiveStore,
    pub tokens: Option<Tokens>,
    pub limits: Limits,
    pub query_timeout: Duration,
    pub slots: tokio::sync::Semaphore,
    /// Live tails open at once.
    pub tails: Arc<tokio::sync::Semaphore>,
    pub metrics: metrics::Metrics,
    pub connections: Arc<ConnectionStats>,
    pub body_read_timeout: Duration,
    pub revision: String,
}

/// Serves until SIGTERM or SIGINT. `on_listening` is called with the bound
/// address once requests are served.
pub fn serve(config: &ServeConfig, on_listening: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let listener = sluice_index::serving::bind(config.listen, config.tokens.is_some(), "read every log")?;
    let bound = listener.local_addr().map_err(|source| BindError::Listen { addr: config.listen, source })?;
    let store = LiveStore::open(&config.data_dirs)?;
    let state = Arc::new(State {
        store,
        tokens: config.tokens.clone(),
        limits: config.limits,
        query_timeout: config.query_timeout,
        slots: tokio::sync::Semaphore::new(config.max_concurrent_queries.max(1)),
        tails: Arc::new(tokio::sync::Semaphore::new(tail::MAX_CONCURRENT_TAILS)),
        metrics: metrics::Metrics::default(),
        connections: Arc::new(ConnectionStats::default()),
        body_read_timeout: config.connections.body_read_timeout,
        revision: config.revision.clone(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sluice-serve")
        .max_blocking_threads(config.max_concurrent_queries.max(1) + 2)
        .build()
        .map_err(ServeError::Server)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Server)?;
        let app = loki::router(state.clone());
        on_listening(bound);
        sluice_index::serving::connections::serve(
            listener,
            app,
            config.connections,
            state.connections.clone(),
            shutdown_signal(),
        )
        .await
        .map_err(ServeError::Server)
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("sluice: stopping: finishing queries in flight");
}
