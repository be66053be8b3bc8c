//! Routes, authentication, limits and answers.
//!
//! Every error is a JSON body in Elasticsearch's shape, which every client
//! here can print: `{"error": {"type": …, "reason": …}, "status": N}`.
//! 429 and 503 carry `Retry-After`. Health probes need no token; everything
//! else does when the server has tokens.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use crossbeam_channel::{Sender, TrySendError};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_schemas::Producer;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower_http::decompression::RequestDecompressionLayer;

use super::lines::ChunkBuilder;
use super::metrics::Gauges;
use super::otlp::Encoding;
use super::{Job, Outcome, Refusal, ServeConfig, ServeError, Shared, Tokens};
use super::{elastic, loki, otlp};
use crate::error::IngestError;

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    jobs: Sender<Job>,
    shared: Arc<Shared>,
    tokens: Option<Arc<Tokens>>,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    /// Request body bytes admitted and not yet answered, in KiB permits.
    in_flight_kib: Arc<Semaphore>,
    max_in_flight_kib: u32,
    max_body_bytes: usize,
    max_line_bytes: usize,
    max_wal_behind_bytes: u64,
    body_read_timeout: std::time::Duration,
}

/// Serves until SIGTERM or SIGINT, then lets requests in flight finish.
pub(crate) fn run(
    config: &ServeConfig,
    listener: std::net::TcpListener,
    jobs: Sender<Job>,
    shared: Arc<Shared>,
    on_listening: impl FnOnce(),
) -> Result<(), IngestError> {
    let max_in_flight_kib = in_flight_kib(config);
    let limits = config.connections;
    let state = AppState {
        jobs,
        shared,
        tokens: config.tokens.clone().map(Arc::new),
        in_flight: Arc::new(Semaphore::new(config.max_requests_in_flight)),
        max_in_flight: config.max_requests_in_flight,
        in_flight_kib: Arc::new(Semaphore::new(max_in_flight_kib as usize)),
        max_in_flight_kib,
        max_body_bytes: config.max_body_bytes,
        max_line_bytes: config.ingest.max_line_bytes,
        max_wal_behind_bytes: config.max_wal_behind_bytes,
        body_read_timeout: config.connections.body_read_timeout,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sluice-http")
        .enable_all()
        .build()
        .map_err(ServeError::Server)?;
    let failed = state.shared.clone();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Server)?;
        let app = router(state);
        // Handlers first: a SIGTERM right after "listening" is a clean stop.
        let signals = Signals::install();
        on_listening();
        let stats = failed.metrics.connections.clone();
        super::connections::serve(listener, app, limits, stats, shutdown_signal(signals, failed))
            .await
            .map_err(ServeError::Server)
    })?;
    Ok(())
}

fn router(state: AppState) -> Router {
    let elastic = Router::new()
        .route("/", get(es_root))
        .route("/_cluster/health", get(es_cluster_health))
        // The Elasticsearch clients send bulk requests with PUT.
        .route("/_bulk", post(es_bulk).put(es_bulk))
        .route("/{index}/_bulk", post(es_bulk_into).put(es_bulk_into))
        .layer(middleware::map_response(|mut response: Response| async {
            // Elasticsearch clients refuse a server without it.
            response.headers_mut().insert("x-elastic-product", HeaderValue::from_static("Elasticsearch"));
            response
        }));
    let protected = Router::new()
        .route("/api/v1/ingest", post(ingest_ndjson))
        .route("/metrics", get(metrics))
        .route("/v1/logs", post(otlp_logs))
        .route("/loki/api/v1/push", post(loki_push))
        .merge(elastic)
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/health/live", get(|| async { (StatusCode::OK, axum::Json(json!({"status": "live"}))) }))
        .route("/health/ready", get(ready))
        .merge(protected)
        .fallback(|request: Request| async move {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no endpoint {} {}", request.method(), request.uri().path()),
            )
        })
        .layer(RequestDecompressionLayer::new())
        .with_state(state)
}

/// The stop signals, listened for from the moment they are installed.
struct Signals {
    terminate: Option<tokio::signal::unix::Signal>,
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals { terminate: signal(SignalKind::terminate()).ok(), interrupt: signal(SignalKind::interrupt()).ok() }
    }
}

async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut signal) => {
            signal.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// SIGTERM, SIGINT, or a failure of the pipeline behind the server.
async fn shutdown_signal(signals: Signals, shared: Arc<Shared>) {
    tokio::select! {
        () = received(signals.interrupt) => {}
        () = received(signals.terminate) => {}
        () = shared.failed.notified() => {
            eprintln!("sluice-ingest: stopping: indexing failed (the error follows); acknowledged lines are kept in the \
                       write-ahead log and indexed on the next start");
            return;
        }
    }
    eprintln!("sluice-ingest: stopping: finishing requests in flight, then committing");
}

/// An answer other than success.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    reason: String,
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError { status, kind, reason: reason.into(), retry_after: None }
    }

    /// 429 with `Retry-After: 1`: a limit named in `reason` is reached.
    fn too_many(reason: String) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "es_rejected_execution_exception",
            format!("{reason}; retry shortly"),
        )
        .retry(1)
    }

    fn retry(mut self, seconds: u32) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The same failure as an OTLP client expects it: a `google.rpc.Status`
    /// in the request's encoding, with the same status and `Retry-After`.
    fn into_otlp_response(self, encoding: Encoding) -> Response {
        let body = otlp::error_response(encoding, self.status.as_u16(), &self.reason);
        let mut response = (self.status, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": {"type": self.kind, "reason": self.reason, "root_cause": [{"type": self.kind, "reason": self.reason}]},
            "status": self.status.as_u16(),
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"sluice\""));
        }
        response
    }
}

async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(tokens) = &state.tokens {
        let header = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
        if !tokens.allows(header) {
            let reason = if header.is_some() {
                "the token is not one of the server's (--token-file)"
            } else {
                "this server needs a token: send `Authorization: Bearer TOKEN`"
            };
            return ApiError::new(StatusCode::UNAUTHORIZED, "security_exception", reason).into_response();
        }
    }
    next.run(request).await
}

async fn ready(State(state): State<AppState>) -> Response {
    let behind = state.shared.wal_behind();
    if let Some(reason) = state.shared.out_of_space() {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "disk_full", out_of_space_message(&reason))
            .retry(DISK_FULL_RETRY_SECONDS)
            .into_response();
    }
    if !state.shared.ready.load(Ordering::Relaxed) {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", "replaying the write-ahead log")
            .retry(1)
            .into_response();
    }
    if behind > state.max_wal_behind_bytes {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("indexing is {behind} bytes behind the write-ahead log"),
        )
        .retry(1)
        .into_response();
    }
    (StatusCode::OK, axum::Json(json!({"status": "ready", "wal_behind_bytes": behind}))).into_response()
}

/// How long a client should wait before retrying a request refused for lack of space.
const DISK_FULL_RETRY_SECONDS: u32 = 10;

/// What a client (and `/health/ready`) is told while the disk is full.
fn out_of_space_message(reason: &str) -> String {
    format!(
        "the server's disk is full ({reason}); nothing of this request was kept. Acknowledged lines are safe in \
         the write-ahead log; the server takes requests again by itself once there is room"
    )
}

async fn metrics(State(state): State<AppState>) -> Response {
    let gauges = Gauges {
        queue_depth: state.jobs.len(),
        requests_in_flight: state.max_in_flight - state.in_flight.available_permits(),
        wal_disk_bytes: sluice_index::wal::disk_bytes(&state.shared.wal_dir),
        wal_behind_bytes: state.shared.wal_behind(),
    };
    let text = state.shared.metrics.render(&gauges);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

impl AppState {
    /// Runs a handler's work and records its status and latency per endpoint.
    async fn observed(&self, endpoint: &'static str, work: impl Future<Output = Response>) -> Response {
        let started = Instant::now();
        let response = work.await;
        self.shared.metrics.observe_request(endpoint, response.status().as_u16(), started.elapsed());
        response
    }

    /// A slot for one request and room for its body, or 429 when the server
    /// is full or indexing has fallen behind.
    fn admit(&self, headers: &HeaderMap) -> Result<Admission, ApiError> {
        if let Some(reason) = self.shared.out_of_space() {
            return Err(ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "disk_full", out_of_space_message(&reason))
                .retry(DISK_FULL_RETRY_SECONDS));
        }
        let behind = self.shared.wal_behind();
        if behind > self.max_wal_behind_bytes {
            return Err(ApiError::too_many(format!(
                "indexing is {behind} bytes behind the write-ahead log (--max-wal-behind-mib)"
            )));
        }
        let slot = self.in_flight.clone().try_acquire_owned().map_err(|_| {
            ApiError::too_many(format!(
                "the server is at its limit of {} request{} in flight (--max-requests-in-flight)",
                self.max_in_flight,
                if self.max_in_flight == 1 { "" } else { "s" }
            ))
        })?;
        // A body counts at its declared length. The decompression layer
        // drops the length of a compressed body, so it and a chunked one
        // count at the body limit until read. One body larger than the
        // whole budget is admitted when it has the server to itself.
        let declared = declared_length(headers).unwrap_or(self.max_body_bytes as u64).min(self.max_body_bytes as u64);
        let kib = u32::try_from(declared.div_ceil(1024)).unwrap_or(u32::MAX).clamp(1, self.max_in_flight_kib);
        let bytes = self.in_flight_kib.clone().try_acquire_many_owned(kib).map_err(|_| {
            ApiError::too_many(format!(
                "the server holds its limit of {} MiB of request bodies in flight (--max-in-flight-mib)",
                self.max_in_flight_kib.div_ceil(1024)
            ))
        })?;
        Ok(Admission { _slot: slot, _bytes: bytes })
    }

    /// Admits a request and reads its body, once `media_type` accepts its
    /// `Content-Type` (and says how the body is encoded).
    async fn receive<E>(
        &self,
        params: &HashMap<String, String>,
        request: Request,
        media_type: impl FnOnce(&HeaderMap) -> Result<E, ApiError>,
    ) -> Result<Received<E>, ApiError> {
        let encoding = media_type(request.headers())?;
        let (service, producer) = ingest_params(params)?;
        let admission = match self.admit(request.headers()) {
            Ok(admission) => admission,
            Err(refusal) => {
                drain_refused(request, self.max_body_bytes).await;
                return Err(refusal);
            }
        };
        let (parts, body) = request.into_parts();
        let body = self.read_body(&parts.headers, body).await?;
        Ok(Received { body, encoding, service: service.map(str::to_owned), producer, _admission: admission })
    }

    /// Reads the whole body, decompressed, within the limit.
    async fn read_body(&self, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
        let limit = self.max_body_bytes;
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "content_too_long_exception",
                format!("the request body is larger than {limit} bytes (--max-body-bytes); send smaller batches"),
            )
        };
        let declared = declared_length(headers);
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        let mut body = body;
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
        let read = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|error| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "parse_exception",
                        format!("cannot read the request body: {error}"),
                    )
                })?;
                if let Ok(data) = frame.into_data() {
                    if bytes.len() + data.len() > limit {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&data);
                }
            }
            Ok(())
        };
        match tokio::time::timeout(self.body_read_timeout, read).await {
            Ok(result) => result.map(|()| bytes),
            Err(_) => {
                self.shared.metrics.connections.body_timeouts.fetch_add(1, Ordering::Relaxed);
                let seconds = self.body_read_timeout.as_secs_f64();
                Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout_exception",
                    format!(
                        "the request body did not arrive within {seconds}s (--body-read-timeout); send it faster, or smaller"
                    ),
                ))
            }
        }
    }

    /// Hands the lines to a worker and waits until they are durable.
    async fn submit(&self, chunk: crate::pipeline::Chunk) -> Result<Outcome, ApiError> {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        match self.jobs.try_send(Job { chunk, reply }) {
            Ok(()) => {}
            // Admitted requests never outnumber the queue's slots; a full
            // queue means the server is stopping.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                return Err(
                    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server is stopping").retry(5)
                );
            }
        }
        match outcome.await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(Refusal::Unavailable(reason))) => {
                Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason).retry(5))
            }
            Ok(Err(Refusal::DiskFull(reason))) => {
                Err(ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "disk_full", reason).retry(DISK_FULL_RETRY_SECONDS))
            }
            Err(_) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is stopping after an error; nothing of this request was kept",
            )
            .retry(5)),
        }
    }
}

/// Reads and drops the body of a request refused at admission, so that the
/// client reads the 429 instead of a broken pipe.
///
/// Answering before the body is read makes the server close the connection
/// while a client without `Expect: 100-continue` is still writing; its
/// kernel then sees a reset and most clients report a connection error, not
/// the 429 and its `Retry-After`. Draining costs a read of the body, far
/// less than processing it, and is bounded in size and time: past either,
/// the connection is closed as before. A client that asked
/// `Expect: 100-continue` has sent no body and is answered at once.
async fn drain_refused(request: Request, limit: usize) {
    const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);
    if request.headers().contains_key(header::EXPECT) {
        return;
    }
    let mut body = request.into_body();
    let mut drained = 0usize;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            drained += frame.data_ref().map_or(0, |data| data.len());
            if drained > limit {
                break;
            }
        }
    })
    .await;
}

/// What an admitted request holds until it is answered: its slot among the
/// requests in flight, and its body's room among the bytes in flight.
struct Admission {
    _slot: OwnedSemaphorePermit,
    _bytes: OwnedSemaphorePermit,
}

/// `Content-Length`, when the client gave one.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
}

/// `--max-in-flight-mib` in KiB permits (at least one).
fn in_flight_kib(config: &ServeConfig) -> u32 {
    u32::try_from(config.max_in_flight_bytes.div_ceil(1024)).unwrap_or(u32::MAX).max(1)
}

/// An admitted request, read: it holds its in-flight slot until answered.
struct Received<E = ()> {
    body: Vec<u8>,
    /// What the body's media type says about its encoding.
    encoding: E,
    service: Option<String>,
    producer: Option<Producer>,
    _admission: Admission,
}

impl<E> Received<E> {
    /// The body, handed over once, so that it is freed as soon as it is
    /// decoded rather than held while the request waits to be durable.
    fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    fn lines(&self, source: &str, max_line_bytes: usize) -> ChunkBuilder {
        ChunkBuilder::new(source, self.service.as_deref(), self.producer, max_line_bytes)
    }
}

/// `?service=` and `?schema=`.
fn ingest_params(params: &HashMap<String, String>) -> Result<(Option<&str>, Option<Producer>), ApiError> {
    let service = params.get("service").map(String::as_str).filter(|s| !s.is_empty());
    let producer = match params.get("schema").map(String::as_str) {
        None | Some("") => None,
        Some(name) => Some(Producer::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Producer::ALL.iter().map(|p| p.as_str()).collect();
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "illegal_argument_exception",
                format!("unknown schema `{name}`: expected one of {}", known.join(", ")),
            )
        })?),
    };
    Ok((service, producer))
}

/// Refuses bodies that are not lines of JSON (a protobuf sent to the wrong URL).
fn expect_lines(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    // curl's --data-binary says form-urlencoded unless told otherwise.
    let accepted = [
        "application/x-ndjson",
        "application/json",
        "text/plain",
        "application/vnd.elasticsearch+x-ndjson",
        "application/x-www-form-urlencoded",
    ];
    if accepted.contains(&mime.as_str()) || mime.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "media_type_header_exception",
        format!(
            "Content-Type `{content_type}` is not supported here: send newline-delimited JSON (application/x-ndjson)"
        ),
    ))
}

/// The body's encoding for OTLP and Loki, which both take protobuf or JSON.
fn protobuf_or_json(headers: &HeaderMap, protocol: &str) -> Result<Encoding, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    Encoding::of(content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "media_type_header_exception",
            format!(
                "Content-Type `{}` is not {protocol}: send application/x-protobuf or application/json",
                content_type.unwrap_or("")
            ),
        )
    })
}

fn source_name(peer: SocketAddr, path: &str) -> String {
    format!("http {peer} {path}")
}

/// Decodes on this thread while letting the runtime move its other tasks.
fn decode<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

async fn ingest_ndjson(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let work = async {
        let mut received = state.receive(&params, request, expect_lines).await?;
        let body = received.take_body();
        let chunk = decode(|| {
            let mut lines = received.lines(&source_name(peer, "/api/v1/ingest"), state.max_line_bytes);
            lines.push_ndjson(&body);
            lines.finish()
        });
        drop(body);
        let lines_read = chunk.lines_read;
        let blank = chunk.blank;
        let outcome = state.submit(chunk).await?;
        let rejections: Vec<Value> = outcome
            .rejections
            .iter()
            .map(|r| json!({"line": r.number, "reason": r.reason.as_str(), "detail": r.detail}))
            .collect();
        Ok::<_, ApiError>(axum::Json(json!({
            "lines_read": lines_read,
            "accepted": outcome.accepted,
            "rejected": rejections.len(),
            "blank": blank,
            "rejections": rejections,
        })))
    };
    state.observed("ingest", async { work.await.into_response() }).await
}

async fn es_bulk(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    params: Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    bulk(state, peer, params, "logs".to_owned(), request).await
}

async fn es_bulk_into(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    Path(index): Path<String>,
    params: Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    bulk(state, peer, params, index, request).await
}

async fn bulk(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<HashMap<String, String>>,
    index: String,
    request: Request,
) -> Response {
    let started = Instant::now();
    let work = async {
        let mut received = state.receive(&params, request, expect_lines).await?;
        let body = received.take_body();
        let (request, chunk) = decode(|| {
            let mut lines = received.lines(&source_name(peer, &format!("/{index}/_bulk")), state.max_line_bytes);
            lines.reserve(body.len());
            let request = elastic::decode_bulk(&body, &index, &mut lines);
            (request, lines.finish())
        });
        drop(body);
        let request =
            request.map_err(|reason| ApiError::new(StatusCode::BAD_REQUEST, "illegal_argument_exception", reason))?;
        let id_prefix = format!("{:x}", chunk.observed.as_nanos());
        let outcome = state.submit(chunk).await?;
        let took = started.elapsed().as_millis() as u64;
        Ok::<_, ApiError>(axum::Json(elastic::bulk_response(&request, &outcome.rejections, took, &id_prefix)))
    };
    state.observed("bulk", async { work.await.into_response() }).await
}

async fn es_root() -> Response {
    axum::Json(elastic::root_info()).into_response()
}

async fn es_cluster_health() -> Response {
    axum::Json(json!({
        "cluster_name": "sluice", "status": "green", "timed_out": false,
        "number_of_nodes": 1, "number_of_data_nodes": 1,
        "active_primary_shards": 1, "active_shards": 1, "relocating_shards": 0, "initializing_shards": 0,
        "unassigned_shards": 0, "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0, "active_shards_percent_as_number": 100.0
    }))
    .into_response()
}

async fn otlp_logs(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    // Failures are answered in the request's encoding too (JSON when it
    // names neither), as the OTLP spec asks.
    let answer_encoding = Encoding::of(request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()))
        .unwrap_or(Encoding::Json);
    let work = async {
        let mut received = state.receive(&params, request, |headers| protobuf_or_json(headers, "OTLP/HTTP")).await?;
        let encoding = received.encoding;
        let body = received.take_body();
        let chunk = decode(|| {
            let mut lines = received.lines(&source_name(peer, "/v1/logs"), state.max_line_bytes);
            otlp::decode_logs(&body, encoding, &mut lines).map(|()| lines.finish())
        })
        .map_err(|reason| ApiError::new(StatusCode::BAD_REQUEST, "parse_exception", reason))?;
        drop(body);
        let outcome = state.submit(chunk).await?;
        let body = otlp::export_response(encoding, &outcome.rejections);
        Ok::<_, ApiError>(([(header::CONTENT_TYPE, encoding.content_type())], body).into_response())
    };
    state.observed("otlp", async { work.await.unwrap_or_else(|error| error.into_otlp_response(answer_encoding)) }).await
}

async fn loki_push(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    // Loki's tenant header, kept on each line.
    let tenant = request
        .headers()
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let work = async {
        let mut received = state.receive(&params, request, |headers| protobuf_or_json(headers, "a Loki push")).await?;
        let body = received.take_body();
        let chunk = decode(|| {
            let mut lines = received.lines(&source_name(peer, "/loki/api/v1/push"), state.max_line_bytes);
            let protobuf = received.encoding == Encoding::Protobuf;
            loki::decode_push(&body, protobuf, state.max_body_bytes, tenant.as_deref(), &mut lines)
                .map(|()| lines.finish())
        })
        .map_err(|reason| ApiError::new(StatusCode::BAD_REQUEST, "parse_exception", reason))?;
        drop(body);
        state.submit(chunk).await?;
        Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
    };
    state.observed("loki", async { work.await.into_response() }).await
}
