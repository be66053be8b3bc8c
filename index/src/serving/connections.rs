//! Accepting connections with limits, so that clients that open
//! connections and stall (half-sent headers, a body that stops coming, a
//! response never read, a pool of forgotten keep-alives) cannot hold the
//! server's descriptors for long.
//!
//! * At most [`ConnectionLimits::max_connections`] are open; one more is
//!   closed at once (counted), since queueing it would hide the overload.
//! * [`ConnectionLimits::header_read_timeout`] (hyper's): from accepting a
//!   connection, or from the end of the previous response, until the
//!   request's headers are complete; so it is also how long a keep-alive
//!   connection may idle between requests.
//! * [`ConnectionLimits::idle_timeout`]: a connection on which no byte has
//!   come in or gone out for this long, whatever it is doing (a body that
//!   stops coming, a response the client does not read), is closed.
//! * The body-read timeout is the handlers' (`sluice-ingest serve` reads a
//!   whole body within it, else 408).
//!
//! Each is counted in `/metrics` ([`ConnectionStats`]).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The defaults of the servers' flags.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How many connections may be open, and for how long they may stall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// Connection counts for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    pub open: AtomicU64,
    pub accepted: AtomicU64,
    /// Closed at once: `max_connections` were open.
    pub refused: AtomicU64,
    pub header_timeouts: AtomicU64,
    pub body_timeouts: AtomicU64,
    pub idle_timeouts: AtomicU64,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (idle connections are closed at once).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    // `max_connections` connections, the log and the index's files.
    crate::storage::raise_open_file_limit();
    // Set once `shutdown` completes: each connection then finishes the
    // request in flight and closes. (hyper-util's `GracefulShutdown` does
    // not take the upgradeable connections that a WebSocket needs.)
    let (stopping, stop) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors, or a connection reset before it was
                // accepted: nothing to do for it, and the next may work.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        if stats.open.load(Ordering::Relaxed) >= limits.max_connections as u64 {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let open = OpenConnection::new(stats.clone());
        let service = {
            let app = app.clone();
            hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request.map(axum::body::Body::new))
            })
        };
        let (stream, idle) = IdleTimeout::new(stream, limits.idle_timeout);
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), service)
            // A WebSocket (Loki's live tail) takes the connection over.
            .with_upgrades();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = async { drop(stop.wait_for(|&stopping| stopping).await) } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if idle.fired() {
                open.stats.idle_timeouts.fetch_add(1, Ordering::Relaxed);
            } else if result.is_err_and(|error| error.is_timeout()) {
                open.stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // Until the last connection (WebSockets excepted: an upgraded
    // connection is its handler's) has answered and closed.
    while stats.open.load(Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Counts a connection open while it lives.
struct OpenConnection {
    stats: Arc<ConnectionStats>,
}

impl OpenConnection {
    fn new(stats: Arc<ConnectionStats>) -> OpenConnection {
        stats.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection { stats }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream that fails reads and writes with `TimedOut` once nothing has
/// moved in either direction for `timeout` while one of them waits.
struct IdleTimeout<S> {
    inner: S,
    timeout: Duration,
    deadline: Pin<Box<Sleep>>,
    fired: Arc<std::sync::atomic::AtomicBool>,
}

/// Whether an [`IdleTimeout`] closed its connection.
struct IdleFired(Arc<std::sync::atomic::AtomicBool>);

impl IdleFired {
    fn fired(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, timeout: Duration) -> (IdleTimeout<S>, IdleFired) {
        let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stream =
            IdleTimeout { inner, timeout, deadline: Box::pin(tokio::time::sleep(timeout)), fired: fired.clone() };
        (stream, IdleFired(fired))
    }

    /// Something moved: the idle clock starts again.
    fn moved(&mut self) {
        self.deadline.as_mut().reset(Instant::now() + self.timeout);
    }

    /// Waiting: fails once the idle clock has run out.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.fired.store(true, Ordering::Relaxed);
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle past --idle-timeout")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if result.as_ref().is_ok_and(|&n| n > 0) {
                    self.moved();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx).map_ok(|()| 0),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => self.check(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
