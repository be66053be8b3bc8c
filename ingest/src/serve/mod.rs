//! `sluice-ingest serve`: HTTP ingest that answers 2xx only once the lines
//! are durable.
//!
//! ```text
//! HTTP (tokio, axum) ──jobs──▶ workers (N threads: decode the protocol, normalize, encode)
//!                                  │ appends
//!                                  ▼
//!                    write-ahead log writer (1 thread: write, fdatasync a group, answer)
//!                                  ┆ normalized chunks, while the indexer keeps up
//!                                  ▼
//!                    indexer feed (reads back from the log what it was not handed)
//!                                  │ normalized chunks, in log order
//!                                  ▼
//!                    batch ──▶ commit (the file pipeline's stages 3 and 4)
//! ```
//!
//! A request is decoded and normalized on a worker, so the answer can say
//! which lines were rejected and why. Its lines (accepted and rejected, so
//! a replay writes the same dead letters) then go to the log writer, which
//! writes every append that is waiting, syncs them with one `fdatasync`
//! (group commit: concurrent requests share the cost) and answers each: a
//! request waits for the log alone, never for indexing. The writer then
//! hands the normalized chunks to the indexer if it is keeping up (within
//! `indexer_queue_bytes`); when it is not, it drops them, and the
//! indexer's feed reads those entries back from the log and normalizes
//! them again (`tail`). Each chunk carries the log position after it as a
//! manifest checkpoint, so a batch commit also records how far the log is
//! in the index and archive. After a crash, [`wal::replay`] hands back
//! what is after that checkpoint and it is ingested again: acknowledged
//! lines are never lost and never doubled.
//!
//! Memory is bounded: a request waits for a slot in the in-flight limit
//! before its body is read, workers and the log writer take from bounded
//! queues and byte budgets, and when the log is further ahead of the index
//! than `max_wal_behind_bytes`, requests get 429 with `Retry-After`: the
//! log on disk, not memory, absorbs a burst that indexing cannot keep up
//! with.

mod budget;
mod elastic;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod lines;
mod loki;
mod metrics;
mod otlp;
mod tail;
pub mod wal;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use sluice_index::data_dir::Checkpoint;
use sluice_schemas::ErrorKind;

use budget::ByteBudget;
use metrics::Metrics;
pub use sluice_index::serving::{Tokens, connections};

use crate::error::IngestError;
use crate::pipeline::{Chunk, ChunkNormalizer, IngestConfig, LineRejection, NormalizedChunk, Stores};
use crate::progress::Progress;
use crate::summary::Summary;

/// The default listen address: this machine only, the port Quickwit's clients
/// know. Anything else must be asked for, with a token.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7280";

/// Largest request body after decompression, unless told otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 << 20;
/// Requests read or processed at once, unless told otherwise.
pub const DEFAULT_MAX_REQUESTS_IN_FLIGHT: usize = 32;
/// Bytes of request bodies admitted at once, unless told otherwise.
pub const DEFAULT_MAX_IN_FLIGHT_BYTES: u64 = 128 << 20;
/// How far the log may run ahead of indexing, unless told otherwise: as
/// far as the indexer's memory queue holds. Further, acknowledged lines
/// are read back from the log and normalized a second time, which costs
/// throughput under sustained overload (http-e2e: 41.6 MB/s at 512 MiB
/// against 46.6 at 128); an operator who would rather absorb longer bursts
/// on disk raises it.
pub const DEFAULT_MAX_WAL_BEHIND_BYTES: u64 = DEFAULT_INDEXER_QUEUE_BYTES as u64;

/// Request lines that may be normalized or waiting for the log writer at
/// once (see [`budget`]).
const APPEND_BUDGET_BYTES: usize = 32 << 20;

/// Request lines that may wait, normalized, for the indexer, unless told
/// otherwise: beyond this the log writer drops them and the indexer reads
/// them back from the log.
pub const DEFAULT_INDEXER_QUEUE_BYTES: usize = 128 << 20;

/// Everything `sluice-ingest serve` needs.
pub struct ServeConfig {
    /// Data directory, schema, line limit, batching, threads.
    pub ingest: IngestConfig,
    pub listen: SocketAddr,
    /// Bearer tokens; `None` serves without authentication (loopback only).
    pub tokens: Option<Tokens>,
    /// Largest request body, after decompression.
    pub max_body_bytes: usize,
    /// Requests whose bodies are being read or processed at once; more get 429.
    pub max_requests_in_flight: usize,
    /// Bytes of request bodies admitted and not yet answered; more get 429.
    /// A body of unknown size (compressed, chunked) counts as
    /// `max_body_bytes`.
    pub max_in_flight_bytes: u64,
    /// How far the log may run ahead of the index and archive before
    /// requests get 429.
    pub max_wal_behind_bytes: u64,
    /// Acknowledged request lines that may wait in memory, normalized, for
    /// the indexer; beyond it the indexer reads them back from the log.
    pub indexer_queue_bytes: usize,
    /// Log segment size before a new segment starts.
    pub wal_segment_bytes: u64,
    /// What to do at startup with a damaged log entry that has whole
    /// entries after it.
    pub wal_damage: wal::DamagePolicy,
    /// Open connections and how long they may stall.
    pub connections: connections::ConnectionLimits,
}

impl ServeConfig {
    pub fn new(ingest: IngestConfig) -> ServeConfig {
        ServeConfig {
            ingest,
            listen: DEFAULT_LISTEN.parse().expect("a valid address"),
            tokens: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_requests_in_flight: DEFAULT_MAX_REQUESTS_IN_FLIGHT,
            max_in_flight_bytes: DEFAULT_MAX_IN_FLIGHT_BYTES,
            max_wal_behind_bytes: DEFAULT_MAX_WAL_BEHIND_BYTES,
            indexer_queue_bytes: DEFAULT_INDEXER_QUEUE_BYTES,
            wal_segment_bytes: 64 << 20,
            wal_damage: wal::DamagePolicy::default(),
            connections: connections::ConnectionLimits::default(),
        }
    }
}

/// Why the server would not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Bind(sluice_index::serving::BindError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    TokenFile(#[from] sluice_index::serving::TokenFileError),
    #[error("the HTTP server failed: {0}")]
    Server(std::io::Error),
}

impl ServeError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServeError::Server(_) => ErrorKind::Fatal,
            _ => ErrorKind::OperatorFixable,
        }
    }
}

/// A request's lines on their way to a worker.
pub(crate) struct Job {
    pub chunk: Chunk,
    /// Where the outcome goes once the lines are durable (or refused).
    pub reply: tokio::sync::oneshot::Sender<Result<Outcome, Refusal>>,
}

/// What happened to a request's lines, once they are durable.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub accepted: u64,
    pub rejections: Vec<LineRejection>,
}

/// Why a request's lines were not kept.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    /// The log could not be written; the client should retry later.
    Unavailable(String),
    /// The log could not be written for lack of space (507).
    DiskFull(String),
}

/// An append waiting for the log writer.
struct Append {
    /// Bytes taken from the [`ByteBudget`], given back once passed on.
    budgeted: usize,
    entry: Vec<u8>,
    chunk: NormalizedChunk,
    outcome: Outcome,
    reply: tokio::sync::oneshot::Sender<Result<Outcome, Refusal>>,
}

/// An acknowledged request's normalized lines, handed to the indexer.
pub(crate) struct Live {
    /// The log position where its entry starts (the previous entry's end).
    pub start: u64,
    /// Its checkpoint is the log position after the entry.
    pub chunk: NormalizedChunk,
    /// Bytes taken from [`Shared::handoff`], given back when it is taken.
    pub budgeted: usize,
}

/// State the HTTP side reads: where the log and the index are.
pub(crate) struct Shared {
    /// Log position after the last durable entry.
    pub wal_position: AtomicU64,
    /// Log position the index and archive hold.
    pub wal_committed: AtomicU64,
    /// Set once replay is done and the pipeline runs.
    pub ready: AtomicBool,
    /// Notified when the pipeline behind the server fails: the server then
    /// stops taking requests and exits with that failure.
    pub failed: tokio::sync::Notify,
    pub metrics: Metrics,
    /// What may wait for the indexer in memory (see [`Live`]).
    pub handoff: ByteBudget,
    pub wal_dir: PathBuf,
    /// Why ingest requests get 507: the disk filled while committing, and
    /// the server waits for room (see `tail`).
    out_of_space: std::sync::Mutex<Option<String>>,
}

impl Shared {
    /// The reason requests are refused for lack of space, if they are.
    pub fn out_of_space(&self) -> Option<String> {
        self.out_of_space.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Sets (or clears) the reason; the metrics follow, so that whoever sees
    /// a wait counted there also sees the requests refused.
    pub(crate) fn set_out_of_space(&self, reason: Option<String>) {
        let full = reason.is_some();
        *self.out_of_space.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = reason;
        self.metrics.set_disk_full(full);
    }

    pub fn wal_behind(&self) -> u64 {
        self.wal_position.load(Ordering::Relaxed).saturating_sub(self.wal_committed.load(Ordering::Relaxed))
    }
}

/// Runs the server until SIGTERM or SIGINT; returns the account of what it
/// ingested (replayed lines included). `on_listening` is called with the
/// bound address once requests are served.
pub fn serve(config: &ServeConfig, on_listening: impl FnOnce(SocketAddr)) -> Result<Summary, IngestError> {
    let started = Instant::now();
    // Bind before any work, so a taken port is reported at once.
    let listener =
        sluice_index::serving::bind(config.listen, config.tokens.is_some(), "write logs").map_err(ServeError::Bind)?;
    let bound = listener.local_addr().map_err(|source| ServeError::Listen { addr: config.listen, source })?;

    let ingest = &config.ingest;
    let stores = Stores::open(ingest)?;
    let compactor = ingest.compaction.clone().map(|schedule| {
        let schedule = schedule.with_service_retention(&stores.compiled.schema().service_retention);
        crate::background_compaction::Compactor::start(stores.dir.clone(), stores.lock.clone(), schedule)
    });
    let uploader = match &ingest.shared_archive {
        Some(url) => Some(crate::archive_upload::Uploader::start(
            stores.dir.clone(),
            crate::archive_upload::open(&stores.dir, url)?,
        )),
        None => None,
    };
    let workers = ingest.workers.max(1);
    let data_dir = stores.dir.clone();
    let wal_dir = data_dir.wal();
    let committed = stores.manifest.checkpoints.get(wal::CHECKPOINT_KEY).map_or(0, |c| c.offset);
    let shared = Arc::new(Shared {
        wal_position: AtomicU64::new(committed),
        wal_committed: AtomicU64::new(committed),
        ready: AtomicBool::new(false),
        failed: tokio::sync::Notify::new(),
        metrics: Metrics::new(),
        handoff: ByteBudget::new(config.indexer_queue_bytes),
        wal_dir: wal_dir.clone(),
        out_of_space: std::sync::Mutex::new(None),
    });
    let mut normalizers: Vec<ChunkNormalizer> = (0..workers + 1).map(|_| stores.chunk_normalizer(ingest)).collect();
    let mut replayer = normalizers.pop().expect("one normalizer per worker and one for replay");

    // Bounded in bytes by `shared.handoff`.
    let (chunks_tx, chunks_rx) = unbounded::<Live>();
    let (appends_tx, appends_rx) = bounded::<Append>(workers * 4);
    // What may wait between the workers and the batch stage, in bytes of
    // request lines: the count bound above alone would let ten times more
    // memory wait with 10 MiB bodies than with 1 MiB ones.
    let budget = ByteBudget::new(APPEND_BUDGET_BYTES);
    // Room for every admitted request, so an admitted request never waits to enqueue.
    let (jobs_tx, jobs_rx) = bounded::<Job>(config.max_requests_in_flight.max(1));
    let progress = Progress::new();

    let result: Result<Summary, IngestError> = std::thread::scope(|scope| {
        let progress = &progress;
        let tailing = {
            let shared = shared.clone();
            scope.spawn(move || {
                let result = tail::run(ingest, stores, chunks_rx, &shared, progress);
                shared.handoff.close();
                if result.is_err() {
                    // Stop taking requests now, not at the next request.
                    shared.failed.notify_one();
                }
                result
            })
        };

        let served = (|| -> Result<(), IngestError> {
            // What was acknowledged but not committed before the last stop.
            let mut replayed = 0u64;
            // Entries after damage that was skipped follow on from the
            // entry before it: the indexer must not look for them in the log.
            let mut start = committed;
            let (wal, report) =
                wal::replay(&data_dir, committed, config.wal_segment_bytes, config.wal_damage, |chunk, end| {
                    let mut normalized = replayer.normalize(chunk)?;
                    replayed += normalized.counts.lines_read;
                    normalized.checkpoint = Some(wal_checkpoint(end));
                    // Written up to here: should committing stop on a full disk
                    // meanwhile, the recovery replays the log this far.
                    shared.wal_position.fetch_max(end, Ordering::AcqRel);
                    let budgeted = normalized.bytes as usize;
                    if !shared.handoff.take(budgeted) {
                        return Err(stopped());
                    }
                    let live = Live { start, chunk: normalized, budgeted };
                    start = end;
                    chunks_tx.send(live).map_err(|_| stopped())
                })?;
            shared.metrics.count_wal_damage(report.damaged.iter().map(|(d, _)| d.bytes).sum(), report.torn_tail_bytes);
            if replayed > 0 {
                eprintln!("sluice-ingest: replayed {replayed} lines from the write-ahead log");
            }
            shared.wal_position.store(wal.position(), Ordering::Relaxed);
            let writer = {
                let shared = shared.clone();
                let chunks_tx = chunks_tx.clone();
                let budget = &budget;
                scope.spawn(move || {
                    let result = write_ahead(wal, appends_rx, chunks_tx, &shared, budget);
                    budget.close();
                    if result.is_err() {
                        shared.failed.notify_one();
                    }
                    result
                })
            };
            drop(chunks_tx);
            let mut handles = Vec::new();
            for mut normalizer in normalizers {
                let jobs_rx = jobs_rx.clone();
                let appends_tx = appends_tx.clone();
                let shared = shared.clone();
                let budget = &budget;
                handles.push(scope.spawn(move || {
                    let result = work(&mut normalizer, jobs_rx, appends_tx, budget);
                    if result.is_err() {
                        shared.failed.notify_one();
                    }
                    result
                }));
            }
            drop((jobs_rx, appends_tx));
            shared.ready.store(true, Ordering::Relaxed);
            let result = http::run(config, listener, jobs_tx, shared.clone(), || on_listening(bound));
            for handle in handles {
                handle.join().map_err(|_| IngestError::Internal("an HTTP worker panicked".into()))??;
            }
            writer.join().map_err(|_| IngestError::Internal("the write-ahead log writer panicked".into()))??;
            result
        })();
        let summary = tailing
            .join()
            .unwrap_or_else(|_| Err(IngestError::Internal("the batch and commit stages panicked".into())));
        // The commit side's failure is the cause of everything after it.
        let mut summary = summary?;
        served?;
        summary.elapsed = started.elapsed();
        Ok(summary)
    });
    if let Some(compactor) = compactor {
        compactor.stop();
    }
    let uploaded = uploader.map(crate::archive_upload::Uploader::finish).transpose();
    let mut summary = result?;
    summary.shared_archive = uploaded?;
    Ok(summary)
}

fn wal_checkpoint(end: u64) -> (String, Checkpoint) {
    (wal::CHECKPOINT_KEY.to_owned(), Checkpoint { offset: end, ..Checkpoint::default() })
}

fn stopped() -> IngestError {
    IngestError::Internal("the batch stage stopped".into())
}

/// A worker: normalizes each request's lines and hands them to the log writer.
fn work(
    normalizer: &mut ChunkNormalizer,
    jobs: Receiver<Job>,
    appends: Sender<Append>,
    budget: &ByteBudget,
) -> Result<(), IngestError> {
    for Job { chunk, reply } in jobs {
        if chunk.lines.is_empty() {
            let _ = reply.send(Ok(Outcome::default()));
            continue;
        }
        let budgeted = chunk.data.len();
        if !budget.take(budgeted) {
            // The log writer stopped, and reports why.
            break;
        }
        let mut entry = Vec::with_capacity(chunk.data.len() + chunk.lines.len() * 16 + 256);
        wal::encode_entry(&chunk, &mut entry);
        let mut normalized = normalizer.normalize(chunk)?;
        let outcome =
            Outcome { accepted: normalized.counts.accepted, rejections: std::mem::take(&mut normalized.rejections) };
        if appends.send(Append { budgeted, entry, chunk: normalized, outcome, reply }).is_err() {
            // The log writer stopped, and reports why.
            break;
        }
    }
    Ok(())
}

/// The log writer: takes every append that is waiting, writes and syncs them
/// together, answers, and passes the chunks on in log order to the indexer
/// if it keeps up; never waits for it.
fn write_ahead(
    mut wal: sluice_index::wal::Wal,
    appends: Receiver<Append>,
    chunks: Sender<Live>,
    shared: &Shared,
    budget: &ByteBudget,
) -> Result<(), IngestError> {
    const GROUP_BYTES: usize = 16 << 20;
    let mut buffer = Vec::new();
    while let Ok(first) = appends.recv() {
        let mut group = vec![first];
        let mut bytes = group[0].entry.len();
        while bytes < GROUP_BYTES
            && let Ok(next) = appends.try_recv()
        {
            bytes += next.entry.len();
            group.push(next);
        }
        buffer.clear();
        for append in &group {
            buffer.extend_from_slice(&append.entry);
        }
        let started = wal.position();
        let synced = Instant::now();
        match wal.append_durably(&buffer) {
            Ok(position) => {
                shared.metrics.observe_wal_sync(synced.elapsed(), group.len());
                shared.wal_position.store(position, Ordering::Relaxed);
                // Answer the whole group first: every one of its requests
                // is durable now.
                let mut end = started;
                let last = group.len() - 1;
                let mut passed_on = Vec::with_capacity(group.len());
                for (i, append) in group.into_iter().enumerate() {
                    let start = end;
                    end += append.entry.len() as u64;
                    // The group's last entry is committed through its group end.
                    if i == last {
                        end = position;
                    }
                    let mut chunk = append.chunk;
                    chunk.checkpoint = Some(wal_checkpoint(end));
                    shared.metrics.count_chunk(&chunk.counts, chunk.bytes);
                    let _ = append.reply.send(Ok(append.outcome));
                    budget.give_back(append.budgeted);
                    passed_on.push((start, chunk));
                }
                for (start, chunk) in passed_on {
                    // The indexer is behind: it reads this entry back from the log.
                    let budgeted = chunk.bytes as usize;
                    if !shared.handoff.try_take(budgeted) {
                        continue;
                    }
                    if chunks.send(Live { start, chunk, budgeted }).is_err() {
                        return Err(stopped());
                    }
                }
            }
            Err(error) => {
                let error = IngestError::from(error);
                let refusal = if error.is_disk_full() {
                    Refusal::DiskFull(format!("the server's disk is full ({error}); nothing of this request was kept"))
                } else {
                    Refusal::Unavailable(format!(
                        "the write-ahead log could not be written ({error}); nothing of this request was kept"
                    ))
                };
                let (Refusal::DiskFull(message) | Refusal::Unavailable(message)) = &refusal;
                eprintln!("sluice-ingest: error: {message}");
                shared.metrics.count_wal_refusal(matches!(refusal, Refusal::DiskFull(_)));
                for append in group {
                    let _ = append.reply.send(Err(refusal.clone()));
                    budget.give_back(append.budgeted);
                }
            }
        }
    }
    Ok(())
}
