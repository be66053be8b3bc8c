//! What both of Sluice's HTTP servers (`sluice-ingest serve`, which
//! writes, and `sluice serve`, which reads) share, so that they keep one
//! rule for who may connect and one set of limits on how long a
//! connection may stall:
//!
//! * [`bind`]: loopback only, unless the server has tokens;
//! * [`auth::Tokens`]: bearer tokens from a file, compared in constant
//!   time and never printed;
//! * [`connections::serve`]: a connection cap, header, idle and (in the
//!   handlers) body timeouts, graceful shutdown, each counted.
//!
//! It lives in `sluice-index` because both server crates depend on it and
//! never on each other.

pub mod auth;
pub mod connections;
mod histogram;

use std::net::{SocketAddr, TcpListener};

pub use auth::{TokenFileError, Tokens};
pub use histogram::Histogram;

/// The listen queue's length. std listens with 128: a burst of clients
/// reconnecting at once would overflow it and wait a second for their
/// SYN's resend (the kernel caps it at somaxconn).
const LISTEN_BACKLOG: i32 = 4096;

/// Why a server could not listen.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "refusing to listen on {addr} without authentication: anyone who can reach it could {could}. Give \
         --token-file FILE (one token per line), or listen on 127.0.0.1"
    )]
    OpenWithoutToken { addr: SocketAddr, could: &'static str },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// Binds `listen` (non-blocking, for tokio) before the server does any
/// other work, so a taken port is reported at once. Without tokens only a
/// loopback address is allowed: `could` says what a stranger could do
/// otherwise ("write logs", "read every log").
pub fn bind(listen: SocketAddr, has_tokens: bool, could: &'static str) -> Result<TcpListener, BindError> {
    if !has_tokens && !listen.ip().is_loopback() {
        return Err(BindError::OpenWithoutToken { addr: listen, could });
    }
    let error = |source| BindError::Listen { addr: listen, source };
    let listener = TcpListener::bind(listen).map_err(error)?;
    listener.set_nonblocking(true).map_err(error)?;
    rustix::net::listen(&listener, LISTEN_BACKLOG).map_err(|source| error(source.into()))?;
    Ok(listener)
}
