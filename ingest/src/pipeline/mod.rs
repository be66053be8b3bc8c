//! The ingest pipeline: inputs → framing → normalize → batches committed to
//! the tantivy index, the Parquet archive and the dead-letter files
//! together (see `sluice_index::data_dir` for the protocol).
//!
//! Four stages, joined by bounded queues so memory stays flat whatever the
//! input size and a slow stage holds back the ones before it:
//!
//! ```text
//! read (calling thread)   ──chunks──▶ normalize (N workers) ──┐
//!    └──── one reply slot per chunk, in input order ──────────┴─▶ batch ──▶ commit
//! ```
//!
//! 1. [`read`]: frames lines and cuts them into ~1 MiB chunks per input.
//! 2. [`normalize`]: parses and normalizes each chunk, builds its index
//!    documents and archive rows, writes its dead letters. Chunks finish in
//!    any order; each chunk's reply slot is queued in input order, so the
//!    next stage sees them in order without a reorder buffer.
//! 3. [`batch`]: gathers chunks until `batch_bytes`, sorts the batch by
//!    time, gives each document its archive row, stages the Parquet files.
//!    When the input has gone quiet (a pipe whose writer is silent), the
//!    open batch closes early, at most once per `commit_interval`, so
//!    `sluice tail -f` sees `app | sluice-ingest` within about a second.
//! 4. [`commit`]: indexes the documents (tantivy's own threads), commits,
//!    stores the manifest, publishes. Stages 3 and 4 overlap: batch n+1 is
//!    sorted and compressed while batch n is indexed.

pub(crate) mod batch;
mod commit;
mod normalize;
pub(crate) mod read;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use sluice_index::archive::ArchiveLayout;
use sluice_index::commit::{BatchCommitter, BatchStager};
use sluice_index::data_dir::{DataDir, Manifest};
use sluice_index::fields::IndexFields;
use sluice_index::lock::WriterLock;
use sluice_index::splits::SplitWriters;
use sluice_schemas::{CompiledSchema, Normalizer, NormalizerConfig};

use crate::archive_upload::Uploader;
use crate::background_compaction::{BackgroundCompaction, Compactor};
use crate::dry_run::load_schema;
use crate::error::IngestError;
use crate::progress::Progress;
use crate::source::Input;
use crate::summary::Summary;
pub(crate) use batch::Batcher;
pub(crate) use commit::Committer;
pub(crate) use normalize::{ChunkNormalizer, LineRejection, NormalizedChunk};
pub use read::STDIN_CHECKPOINT_KEY;
pub(crate) use read::{Chunk, ChunkLine, read_inputs};
pub(crate) use sluice_index::commit::StagedBatch;

/// Everything an ingest run needs, parsed from the command line.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub data_dir: PathBuf,
    pub inputs: Vec<Input>,
    pub schema: Option<PathBuf>,
    pub service: Option<String>,
    pub max_line_bytes: usize,
    pub max_rejected: Option<u64>,
    /// Input bytes per committed batch.
    pub batch_bytes: u64,
    /// While the input is quiet, how long a batch may stay open (and the
    /// least time between two commits it causes).
    pub commit_interval: Duration,
    /// Normalizing threads.
    pub workers: usize,
    /// tantivy's indexing threads per open day split.
    pub index_threads: usize,
    /// tantivy's indexing memory for an open day split (all its threads).
    pub index_memory_bytes: usize,
    pub zstd_level: i32,
    /// Compaction in the background of the run (`None`: none).
    pub compaction: Option<BackgroundCompaction>,
    /// `--archive`: the shared archive the archive is copied to.
    pub shared_archive: Option<sluice_index::shared_archive::ArchiveUrl>,
    /// Print a progress line on stderr (the binary sets it when stderr is a terminal).
    pub progress: bool,
    /// How the writer lock names this run to a refused second writer.
    pub command: String,
}

impl IngestConfig {
    pub fn new(data_dir: PathBuf, inputs: Vec<Input>) -> IngestConfig {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        IngestConfig {
            data_dir,
            inputs,
            schema: None,
            service: None,
            max_line_bytes: crate::framing::DEFAULT_MAX_LINE_BYTES,
            max_rejected: None,
            batch_bytes: 64 << 20,
            commit_interval: Duration::from_secs(1),
            workers: cores,
            index_threads: cores.clamp(1, 4),
            index_memory_bytes: 96 << 20,
            zstd_level: 3,
            compaction: None,
            shared_archive: None,
            progress: false,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }
}

/// A chunk on its way to a worker, with the slot its result goes to.
type Work = (Chunk, Sender<Result<NormalizedChunk, IngestError>>);

/// A chunk's result slot, in input order, and whether the input went quiet after it.
type Ordered = (Receiver<Result<NormalizedChunk, IngestError>>, bool);

/// What the batch stage is handed next.
pub(crate) enum Next {
    /// A normalized chunk, in input order; `idle` when its input went quiet after it.
    Chunk { chunk: Box<NormalizedChunk>, idle: bool },
    /// The deadline passed with nothing new.
    Timeout,
    /// The input is done.
    End,
}

/// The open stores of a data directory, recovered and ready for batches.
pub(crate) struct Stores {
    pub dir: DataDir,
    /// Held by the batcher and the committer as well; released when all are gone.
    pub lock: Arc<WriterLock>,
    pub manifest: Manifest,
    pub fields: IndexFields,
    pub layout: Arc<ArchiveLayout>,
    pub compiled: Arc<CompiledSchema>,
    pub batcher: Batcher,
    pub committer: Committer,
}

impl Stores {
    /// Opens the data directory for writing: takes its writer lock, then
    /// undoes or finishes an interrupted commit.
    pub fn open(config: &IngestConfig) -> Result<Stores, IngestError> {
        let schema = load_schema(config.schema.as_deref())?;
        let dir = DataDir::open(&config.data_dir).map_err(IngestError::DataDir)?;
        let lock = Arc::new(dir.lock(&config.command).map_err(IngestError::DataDir)?);
        if let Some(holder) = lock.taken_over() {
            eprintln!("sluice-ingest: took over the writer lock of {holder}, which is no longer running");
        }
        Stores::recover(config, schema, dir, lock)
    }

    /// Recovers the data directory under `lock` and opens its writers.
    pub fn recover(
        config: &IngestConfig,
        schema: sluice_schemas::Schema,
        dir: DataDir,
        lock: Arc<WriterLock>,
    ) -> Result<Stores, IngestError> {
        let fields = IndexFields::new(&schema);
        let (manifest, _recovery) = dir.recover(&fields, &lock).map_err(IngestError::DataDir)?;
        let layout = Arc::new(ArchiveLayout::new(&schema));
        let stager = BatchStager::new(dir.clone(), config.zstd_level, lock.clone())?;
        let index_memory =
            config.index_memory_bytes.max(config.index_threads * sluice_index::splits::MIN_MEMORY_BUDGET_PER_THREAD);
        let splits = SplitWriters::new(&dir.index(), fields.clone(), index_memory, config.index_threads);
        let compiled = Arc::new(CompiledSchema::new(schema));
        let batcher = Batcher::new(fields.clone(), layout.clone(), stager, manifest.last_batch + 1);
        let committer = Committer::new(BatchCommitter::new(dir.clone(), manifest.clone(), splits, lock.clone()));
        Ok(Stores { dir, lock, manifest, fields, layout, compiled, batcher, committer })
    }

    /// A worker's normalizer for this schema.
    pub fn chunk_normalizer(&self, config: &IngestConfig) -> ChunkNormalizer {
        let normalizer = Normalizer::new(self.compiled.clone(), NormalizerConfig::default());
        ChunkNormalizer::new(
            normalizer,
            self.fields.clone(),
            self.layout.clone(),
            config.max_line_bytes,
            config.service.clone(),
        )
    }
}

/// Stages the open batch and hands it to the commit stage. `false` when the
/// commit stage has stopped (it failed, and reports why).
fn close_batch(batcher: &mut Batcher, staged: &Sender<StagedBatch>) -> Result<bool, IngestError> {
    Ok(match batcher.close()? {
        Some(batch) => staged.send(batch).is_ok(),
        None => true,
    })
}

/// Stage 3's loop: adds chunks to the open batch, closes it at
/// `batch_bytes` or once a quiet input's lines have waited
/// `commit_interval`, and closes the last one at the end. `next` is given
/// the deadline to wait until, if any.
pub(crate) fn run_batch_stage(
    config: &IngestConfig,
    batcher: &mut Batcher,
    staged_tx: &Sender<StagedBatch>,
    progress: &Progress,
    mut next: impl FnMut(Option<Instant>) -> Result<Next, IngestError>,
) -> Result<Summary, IngestError> {
    let mut summary = Summary::default();
    let mut quiet = false;
    let mut last_close = Instant::now();
    loop {
        let deadline = (quiet && batcher.open_bytes() > 0).then(|| last_close + config.commit_interval);
        let (chunk, idle) = match next(deadline)? {
            Next::Chunk { chunk, idle } => (chunk, idle),
            Next::Timeout => {
                // The input stayed quiet: commit what it sent.
                last_close = Instant::now();
                if !close_batch(batcher, staged_tx)? {
                    return Ok(summary);
                }
                continue;
            }
            Next::End => break,
        };
        summary.merge_counts(&chunk.counts);
        summary.bytes_read += chunk.bytes;
        progress.set_rejected(summary.rejected());
        if let Some(max) = config.max_rejected
            && summary.rejected() > max
        {
            return Err(IngestError::TooManyRejected { rejected: summary.rejected(), max });
        }
        batcher.add(*chunk);
        quiet = idle;
        let due = quiet && last_close.elapsed() >= config.commit_interval;
        if (batcher.open_bytes() >= config.batch_bytes || due) && batcher.open_bytes() > 0 {
            last_close = Instant::now();
            if !close_batch(batcher, staged_tx)? {
                return Ok(summary);
            }
        }
    }
    // A stopped commit stage reports its own failure.
    close_batch(batcher, staged_tx)?;
    Ok(summary)
}

/// Ingests every input into the data directory; returns the run's account.
pub fn ingest(config: &IngestConfig) -> Result<Summary, IngestError> {
    let started = Instant::now();
    let stores = Stores::open(config)?;
    let inputs = if config.inputs.is_empty() { vec![Input::Stdin] } else { config.inputs.clone() };
    let workers = config.workers.max(1);
    let progress = Progress::new();
    let normalizers: Vec<ChunkNormalizer> = (0..workers).map(|_| stores.chunk_normalizer(config)).collect();
    let reads_stdin = inputs.contains(&Input::Stdin);
    let compactor = config.compaction.clone().map(|schedule| {
        let schedule = schedule.with_service_retention(&stores.compiled.schema().service_retention);
        Compactor::start(stores.dir.clone(), stores.lock.clone(), schedule)
    });
    let uploader = match &config.shared_archive {
        Some(url) => Some(Uploader::start(stores.dir.clone(), crate::archive_upload::open(&stores.dir, url)?)),
        None => None,
    };
    let Stores { manifest, mut batcher, mut committer, .. } = stores;
    // A previous run's stdin is not this one's.
    committer.forget(STDIN_CHECKPOINT_KEY);
    let (work_tx, work_rx) = bounded::<Work>(workers * 2);
    let (order_tx, order_rx) = bounded::<Ordered>(workers * 4);
    // A rendezvous: at most one staged batch waits while another is indexed.
    let (staged_tx, staged_rx) = bounded(0);

    let (read_result, batch_result, commit_result, stdin_committed) = std::thread::scope(|scope| {
        for mut worker in normalizers {
            let work_rx = work_rx.clone();
            scope.spawn(move || {
                for (chunk, reply) in work_rx {
                    // The batch stage may have stopped; then nobody waits.
                    let _ = reply.send(worker.normalize(chunk));
                }
            });
        }
        drop(work_rx);
        let progress = &progress;
        let batching = scope.spawn(move || {
            run_batch_stage(config, &mut batcher, &staged_tx, progress, |deadline| {
                let next = match deadline {
                    Some(deadline) => order_rx.recv_deadline(deadline),
                    None => order_rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                match next {
                    Ok((reply, idle)) => {
                        let chunk =
                            reply.recv().map_err(|_| IngestError::Internal("a normalizer thread stopped".into()))??;
                        Ok(Next::Chunk { chunk: Box::new(chunk), idle })
                    }
                    Err(RecvTimeoutError::Timeout) => Ok(Next::Timeout),
                    Err(RecvTimeoutError::Disconnected) => Ok(Next::End),
                }
            })
        });
        // Also hands back how much of stdin it committed: where a rerun picks up.
        let committing = scope.spawn(move || {
            let result = staged_rx.into_iter().try_for_each(|staged| committer.commit(staged));
            let stdin = committer.committed(STDIN_CHECKPOINT_KEY).cloned().unwrap_or_default();
            (result.and_then(|()| committer.finish()), stdin)
        });
        let display = config.progress.then(|| scope.spawn(|| progress.display_until_done()));
        let chunk_bytes = read::CHUNK_BYTES.min(usize::try_from(config.batch_bytes).unwrap_or(usize::MAX));
        let read_result = read_inputs(&inputs, &manifest, config.max_line_bytes, chunk_bytes, |chunk| {
            progress.add_read(chunk.bytes, chunk.lines_read);
            let (reply_tx, reply_rx) = bounded(1);
            order_tx.send((reply_rx, chunk.idle)).is_ok() && work_tx.send((chunk, reply_tx)).is_ok()
        });
        drop(work_tx);
        drop(order_tx);
        let batch_result =
            batching.join().unwrap_or_else(|_| Err(IngestError::Internal("batch stage panicked".into())));
        let (commit_result, stdin_committed) = committing
            .join()
            .unwrap_or_else(|_| (Err(IngestError::Internal("commit stage panicked".into())), Default::default()));
        progress.done();
        if let Some(display) = display {
            let _ = display.join();
        }
        (read_result, batch_result, commit_result, stdin_committed)
    });
    if let Some(compactor) = compactor {
        compactor.stop();
    }
    // What was committed goes up even when a later stage failed.
    let uploaded = uploader.map(Uploader::finish).transpose();
    // The first failure in pipeline order is the cause; later stages only saw it stop.
    let stopped = |error: IngestError| {
        if !reads_stdin {
            return error;
        }
        IngestError::StdinStopped {
            lines: stdin_committed.lines,
            bytes: stdin_committed.offset,
            source: Box::new(error),
        }
    };
    commit_result.map_err(stopped)?;
    let mut summary = batch_result.map_err(stopped)?;
    read_result.map_err(stopped)?;
    summary.shared_archive = uploaded?;
    summary.elapsed = started.elapsed();
    debug_assert!(summary.balances(), "{summary:?}");
    Ok(summary)
}
