//! The server's pipeline tail: batch and commit (the file pipeline's stages
//! 3 and 4) under a supervisor that survives a full disk.
//!
//! When staging or committing a batch fails because the disk is full, the
//! server does not stop: every acknowledged line is in the write-ahead log.
//! The supervisor marks the server out of space (ingest requests get 507
//! with `Retry-After`, `/health/ready` says why, `/metrics` has
//! `sluice_disk_full 1`), probes for room every few seconds, then recovers
//! the data directory (the interrupted batch is rolled back like after a
//! crash), replays the log from the committed checkpoint up to where it
//! was written, and goes on with the live chunks after that position. Each
//! acknowledged line is committed once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, select};
use sluice_index::data_dir::DataDir;
use sluice_index::wal::{WalItem, WalReader};

use super::{Shared, wal, wal_checkpoint};
use crate::dry_run::load_schema;
use crate::error::IngestError;
use crate::pipeline::{
    ChunkNormalizer, Committer, IngestConfig, Next, NormalizedChunk, StagedBatch, Stores, run_batch_stage,
};
use crate::progress::Progress;
use crate::summary::Summary;

/// The least and most time between two probes for free space.
const PROBE_FIRST: Duration = Duration::from_secs(1);
const PROBE_MOST: Duration = Duration::from_secs(10);
/// Bytes a probe writes (and removes): room for at least that much.
const PROBE_BYTES: usize = 1 << 20;

/// Registers what the server does after each commit: record how far the
/// log is committed and delete the segments that are.
pub(crate) fn hook(committer: &mut Committer, shared: &Arc<Shared>, dir: &DataDir) {
    let shared = shared.clone();
    let wal_dir = dir.wal();
    let storage = *dir.storage();
    committer.on_commit(move |manifest| {
        if let Some(checkpoint) = manifest.checkpoints.get(wal::CHECKPOINT_KEY) {
            shared.wal_committed.store(checkpoint.offset, Ordering::Relaxed);
            // Failing to delete a segment only keeps it for the next commit.
            let _ = sluice_index::wal::remove_committed(&wal_dir, &storage, checkpoint.offset);
        }
    });
}

/// Runs batch and commit over the `live` chunks (in log order, each with
/// its log checkpoint) until `live` closes; recovers from a full disk as
/// the module says. Any other failure ends it. The account returned is the
/// last generation's (lines replayed after a full disk are counted there).
pub(crate) fn run(
    config: &IngestConfig,
    mut stores: Stores,
    live: Receiver<NormalizedChunk>,
    shared: &Arc<Shared>,
    progress: &Progress,
) -> Result<Summary, IngestError> {
    let mut summary = Summary::default();
    // After a recovery: the log range to replay before the live chunks, and
    // the position up to which live chunks are then already replayed.
    let mut replay: Option<(u64, u64)> = None;
    loop {
        let dir = stores.dir.clone();
        let lock = stores.lock.clone();
        let mut replayer = stores.chunk_normalizer(config);
        let Stores { mut batcher, mut committer, .. } = stores;
        hook(&mut committer, shared, &dir);
        let (feed_tx, feed_rx) = bounded::<NormalizedChunk>(2);
        let (staged_tx, staged_rx) = bounded::<StagedBatch>(0);
        // Disconnected once the commit stage has stopped (it stops after the
        // batch stage, or first when it fails): wakes the feeder, which may
        // otherwise wait for live chunks that do not come.
        let (stopped_tx, stopped_rx) = bounded::<()>(0);
        let skip_upto = replay.map_or(0, |(_, upto)| upto);
        let (generation, batch_result, commit_result) = std::thread::scope(|scope| {
            let commit_stopped = stopped_tx;
            let committing = scope.spawn(move || -> Result<(), IngestError> {
                let _stopped = commit_stopped;
                for staged in staged_rx {
                    committer.commit(staged)?;
                }
                committer.finish()
            });
            let batching = scope.spawn(move || {
                run_batch_stage(config, &mut batcher, &staged_tx, progress, |deadline| {
                    let next = match deadline {
                        Some(deadline) => feed_rx.recv_deadline(deadline),
                        None => feed_rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    };
                    Ok(match next {
                        // Every request is its own quiet moment: commit within the interval.
                        Ok(chunk) => Next::Chunk { chunk: Box::new(chunk), idle: true },
                        Err(RecvTimeoutError::Timeout) => Next::Timeout,
                        Err(RecvTimeoutError::Disconnected) => Next::End,
                    })
                })
            });
            let generation = feed(&dir, replay, skip_upto, &mut replayer, &live, &feed_tx, &stopped_rx);
            drop(feed_tx);
            let batch = batching.join().unwrap_or_else(|_| Err(IngestError::Internal("batch stage panicked".into())));
            let commit =
                committing.join().unwrap_or_else(|_| Err(IngestError::Internal("commit stage panicked".into())));
            (generation, batch, commit)
        });
        // The commit stage's failure is the cause of everything after it.
        let failure = match (commit_result, batch_result, generation) {
            (Err(error), _, _) | (Ok(()), Err(error), _) | (Ok(()), Ok(_), Err(error)) => error,
            (Ok(()), Ok(counts), Ok(())) => {
                summary.merge_counts(&counts);
                summary.bytes_read += counts.bytes_read;
                return Ok(summary);
            }
        };
        if !failure.is_disk_full() {
            return Err(failure);
        }
        eprintln!(
            "sluice-ingest: error: disk full: {failure}\nsluice-ingest: ingest requests get 507 until there is \
             room again; every acknowledged line is kept in the write-ahead log and will be committed then"
        );
        shared.set_out_of_space(Some(failure.to_string()));
        stores = loop {
            if !wait_for_room(&dir, &live) {
                // The server is stopping while the disk is still full: the log
                // keeps what was acknowledged for the next start.
                return Err(failure);
            }
            // Recovery writes too (a rollback, publishing): the probe's room
            // may not be enough, and then the wait goes on.
            let schema = load_schema(config.schema.as_deref())?;
            match Stores::recover(config, schema, dir.clone(), lock.clone()) {
                Ok(stores) => break stores,
                Err(error) if error.is_disk_full() => {
                    eprintln!("sluice-ingest: error: disk full while recovering: {error}; waiting for more room");
                }
                Err(error) => return Err(error),
            }
        };
        let committed = stores.manifest.checkpoints.get(wal::CHECKPOINT_KEY).map_or(0, |c| c.offset);
        let written = shared.wal_position.load(Ordering::Acquire);
        eprintln!(
            "sluice-ingest: there is room on the disk again: committing the {} bytes of the write-ahead log \
             acknowledged meanwhile, and taking requests again",
            written.saturating_sub(committed)
        );
        replay = Some((committed, written));
        shared.set_out_of_space(None);
    }
}

/// Feeds one generation: the log's entries in `replay` first, then the
/// live chunks after `skip_upto`, until `live` closes or the stages stop.
fn feed(
    dir: &DataDir,
    replay: Option<(u64, u64)>,
    skip_upto: u64,
    normalizer: &mut ChunkNormalizer,
    live: &Receiver<NormalizedChunk>,
    feed: &Sender<NormalizedChunk>,
    stopped: &Receiver<()>,
) -> Result<(), IngestError> {
    if let Some((from, upto)) = replay {
        for item in WalReader::open(&dir.wal(), *dir.storage(), from)? {
            // Past `upto` the log is still being written: the live chunks bring it.
            let (payload, end) = match item? {
                WalItem::Entry { payload, end } => (payload, end),
                WalItem::Damaged(damage) => {
                    // Read back intact at start or when written: the disk damaged it since.
                    eprintln!(
                        "sluice-ingest: error: write-ahead log segment {} is damaged at byte {} ({}; {} bytes): the \
                         lines acknowledged there cannot be recovered; the entries after them are replayed",
                        damage.segment.display(),
                        damage.offset,
                        damage.what,
                        damage.bytes
                    );
                    continue;
                }
                WalItem::TornTail { .. } => continue,
            };
            if end > upto {
                break;
            }
            let chunk = wal::decode_entry(&payload, end)?;
            let mut normalized = normalizer.normalize(chunk)?;
            normalized.checkpoint = Some(wal_checkpoint(end));
            if feed.send(normalized).is_err() {
                return Ok(());
            }
        }
    }
    loop {
        select! {
            recv(live) -> chunk => {
                let Ok(chunk) = chunk else { return Ok(()) };
                if checkpoint_of(&chunk) <= skip_upto {
                    continue;
                }
                if feed.send(chunk).is_err() {
                    return Ok(());
                }
            }
            recv(stopped) -> _ => return Ok(()),
        }
    }
}

/// The log position after a live chunk.
fn checkpoint_of(chunk: &NormalizedChunk) -> u64 {
    chunk.checkpoint.as_ref().map_or(u64::MAX, |(_, checkpoint)| checkpoint.offset)
}

/// Drops live chunks (the log has them) and probes for room, backing off
/// from one second to ten. `false` when the server stops meanwhile.
fn wait_for_room(dir: &DataDir, live: &Receiver<NormalizedChunk>) -> bool {
    let mut interval = PROBE_FIRST;
    loop {
        let until = Instant::now() + interval;
        loop {
            match live.recv_deadline(until) {
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
        if dir.has_room(PROBE_BYTES).is_ok() {
            return true;
        }
        interval = (interval * 2).min(PROBE_MOST);
    }
}
