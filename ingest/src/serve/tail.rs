//! The server's pipeline tail: the indexer's feed, then batch and commit
//! (the file pipeline's stages 3 and 4), under a supervisor that survives a
//! full disk.
//!
//! The feed takes the log's entries in order from the log position the
//! index holds. It is handed most of them in memory, normalized, by the log
//! writer; the writer drops those that find the indexer too far behind
//! (see `serve`), and the feed reads them back from the log itself: when a
//! handed chunk starts past where the feed is, and when nothing is handed
//! for a while but the log is further on. Entries are fed once each, by
//! their log positions.
//!
//! When staging or committing a batch fails because the disk is full, the
//! server does not stop: every acknowledged line is in the write-ahead log.
//! The supervisor marks the server out of space (ingest requests get 507
//! with `Retry-After`, `/health/ready` says why, `/metrics` has
//! `sluice_disk_full 1`), probes for room every few seconds, then recovers
//! the data directory (the interrupted batch is rolled back like after a
//! crash), and the feed goes on from the committed checkpoint, reading
//! back from the log what was acknowledged meanwhile. Each acknowledged
//! line is committed once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, select};
use sluice_index::data_dir::DataDir;
use sluice_index::wal::{WalItem, WalRange};

use super::{Live, Shared, wal, wal_checkpoint};
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
/// How long the feed waits for a handed chunk before it looks in the log
/// for entries the writer did not hand over.
const LOOK_IN_LOG_AFTER: Duration = Duration::from_millis(100);

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

/// Runs the feed, batch and commit over the log's entries (handed over
/// `live` in log order when the indexer keeps up) until `live` closes and
/// the log is fed to its end; recovers from a full disk as the module says.
/// Any other failure ends it. The account returned is the last
/// generation's (lines fed after a full disk are counted there).
pub(crate) fn run(
    config: &IngestConfig,
    mut stores: Stores,
    live: Receiver<Live>,
    shared: &Arc<Shared>,
    progress: &Progress,
) -> Result<Summary, IngestError> {
    let mut summary = Summary::default();
    loop {
        let from = stores.manifest.checkpoints.get(wal::CHECKPOINT_KEY).map_or(0, |c| c.offset);
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
            let generation = feed(&dir, from, &mut replayer, &live, &feed_tx, &stopped_rx, shared);
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
            if !wait_for_room(&dir, &live, shared) {
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
        shared.set_out_of_space(None);
    }
}

/// Feeds one generation, from log position `from`: the handed chunks, and
/// from the log what was not handed over; until `live` closes and the log
/// is fed up to where it was written, or the stages stop.
fn feed(
    dir: &DataDir,
    from: u64,
    normalizer: &mut ChunkNormalizer,
    live: &Receiver<Live>,
    feed: &Sender<NormalizedChunk>,
    stopped: &Receiver<()>,
    shared: &Shared,
) -> Result<(), IngestError> {
    let mut fed = Fed { dir, next: from, normalizer, feed, shared };
    loop {
        select! {
            recv(live) -> handed => {
                let Ok(Live { start, chunk, budgeted }) = handed else {
                    // The writer has stopped; what it wrote last may not have been handed over.
                    fed.read_back(shared.wal_position.load(Ordering::Acquire))?;
                    return Ok(());
                };
                shared.handoff.give_back(budgeted);
                let end = checkpoint_of(&chunk);
                if end <= fed.next {
                    // Read back from the log already.
                    continue;
                }
                if start > fed.next && !fed.read_back(start)? {
                    return Ok(());
                }
                shared.metrics.count_indexer_feed(false, chunk.bytes);
                if feed.send(chunk).is_err() {
                    return Ok(());
                }
                fed.next = end;
            }
            recv(stopped) -> _ => return Ok(()),
            default(LOOK_IN_LOG_AFTER) => {
                // Nothing handed for a while: entries dropped last are in the log only.
                let written = shared.wal_position.load(Ordering::Acquire);
                if shared.ready.load(Ordering::Relaxed) && written > fed.next && !fed.read_back(written)? {
                    return Ok(());
                }
            }
        }
    }
}

/// Where the feed is, and what it feeds with.
struct Fed<'a> {
    dir: &'a DataDir,
    /// The log position up to which entries are fed.
    next: u64,
    normalizer: &'a mut ChunkNormalizer,
    feed: &'a Sender<NormalizedChunk>,
    shared: &'a Shared,
}

impl Fed<'_> {
    /// Reads the log's entries from `next` up to `upto` (an entry boundary
    /// that is durable) back from disk, normalizes and feeds them. `false`
    /// when the stages stopped meanwhile.
    fn read_back(&mut self, upto: u64) -> Result<bool, IngestError> {
        if upto <= self.next {
            return Ok(true);
        }
        let mut range = WalRange::new(&self.dir.wal(), *self.dir.storage(), self.next, upto)?;
        while let Some(item) = range.next_item()? {
            match item {
                WalItem::Entry { payload, end } => {
                    let chunk = wal::decode_entry(&payload, end)?;
                    let mut normalized = self.normalizer.normalize(chunk)?;
                    normalized.checkpoint = Some(wal_checkpoint(end));
                    self.shared.metrics.count_indexer_feed(true, normalized.bytes);
                    if self.feed.send(normalized).is_err() {
                        return Ok(false);
                    }
                    self.next = end;
                }
                WalItem::Damaged(damage) => {
                    // Whole when written and synced: the disk damaged it since.
                    eprintln!(
                        "sluice-ingest: error: write-ahead log segment {} is damaged at byte {} ({}; {} bytes): the \
                         lines acknowledged there cannot be recovered; the entries after them are indexed",
                        damage.segment.display(),
                        damage.offset,
                        damage.what,
                        damage.bytes
                    );
                }
                WalItem::TornTail { .. } => {}
            }
        }
        self.next = range.position();
        Ok(true)
    }
}

/// The log position after a chunk.
fn checkpoint_of(chunk: &NormalizedChunk) -> u64 {
    chunk.checkpoint.as_ref().map_or(u64::MAX, |(_, checkpoint)| checkpoint.offset)
}

/// Drops live chunks (the log has them) and probes for room, backing off
/// from one second to ten. `false` when the server stops meanwhile.
fn wait_for_room(dir: &DataDir, live: &Receiver<Live>, shared: &Shared) -> bool {
    let mut interval = PROBE_FIRST;
    loop {
        let until = Instant::now() + interval;
        loop {
            match live.recv_deadline(until) {
                Ok(dropped) => shared.handoff.give_back(dropped.budgeted),
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
