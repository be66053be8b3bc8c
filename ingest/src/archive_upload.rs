//! `--archive URL`: the data directory's archive copied to a shared archive
//! (S3, or a directory) as it is committed, compacted and expired, by a
//! thread of its own (see `sluice_index::shared_archive` for the layout and
//! what a sync guarantees).
//!
//! Ingest never waits for the store: a commit is durable once it is in the
//! data directory, and the thread uploads it within [`SYNC_PERIOD`]. A
//! failed sync is reported on stderr once and retried; ingest goes on. At
//! the end of a run, [`Uploader::finish`] syncs a last time, so when
//! `sluice-ingest` exits 0 every committed record is in the shared archive.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sluice_index::data_dir::DataDir;
use sluice_index::shared_archive::{ArchiveUrl, SharedArchive, SharedArchiveError, SyncReport};

use crate::IngestError;

/// How often the thread looks for new, merged or expired files.
pub const SYNC_PERIOD: Duration = Duration::from_secs(1);

/// The longest wait between attempts while the store keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Opens `url` for the data directory `dir` (making its writer name on
/// first use).
pub fn open(dir: &DataDir, url: &ArchiveUrl) -> Result<SharedArchive, IngestError> {
    let writer = sluice_index::shared_archive::writer_name(dir)?;
    Ok(SharedArchive::open(url, writer)?)
}

/// The running upload thread.
pub struct Uploader {
    dir: DataDir,
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<(SharedArchive, SyncReport)>>,
}

impl Uploader {
    pub fn start(dir: DataDir, archive: SharedArchive) -> Uploader {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let (stop, dir) = (stop.clone(), dir.clone());
            std::thread::Builder::new().name("sluice-upload".to_owned()).spawn(move || run(&dir, archive, &stop))
        };
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(error) => {
                // The archive is lost with the failed spawn; `finish` says so.
                eprintln!("sluice-ingest: warning: cannot start the archive upload thread: {error}");
                None
            }
        };
        Uploader { dir, stop, thread }
    }

    /// Stops the thread and syncs a last time: `Ok` means every file the
    /// data directory holds now is in the shared archive. Returns what the
    /// run uploaded and deleted in all.
    pub fn finish(mut self) -> Result<SyncReport, IngestError> {
        signal(&self.stop);
        let Some(thread) = self.thread.take() else {
            return Err(IngestError::Internal("the archive upload thread did not start".into()));
        };
        let (mut archive, mut total) =
            thread.join().map_err(|_| IngestError::Internal("the archive upload thread panicked".into()))?;
        let last = archive.sync(&self.dir)?;
        add(&mut total, &last);
        Ok(total)
    }
}

impl Drop for Uploader {
    fn drop(&mut self) {
        signal(&self.stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn signal(stop: &(Mutex<bool>, Condvar)) {
    let (stopped, wake) = stop;
    *stopped.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
    wake.notify_all();
}

fn add(total: &mut SyncReport, round: &SyncReport) {
    total.uploaded += round.uploaded;
    total.uploaded_bytes += round.uploaded_bytes;
    total.deleted += round.deleted;
}

fn run(dir: &DataDir, mut archive: SharedArchive, stop: &(Mutex<bool>, Condvar)) -> (SharedArchive, SyncReport) {
    let (stopped, wake) = stop;
    let mut total = SyncReport::default();
    let mut wait = SYNC_PERIOD;
    let mut failing = false;
    loop {
        {
            let guard = stopped.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (guard, _) =
                wake.wait_timeout_while(guard, wait, |stopped| !*stopped).unwrap_or_else(|p| p.into_inner());
            if *guard {
                return (archive, total);
            }
        }
        match archive.sync(dir) {
            Ok(round) => {
                add(&mut total, &round);
                if failing {
                    eprintln!("sluice-ingest: shared archive {}: uploading again", archive.url());
                }
                failing = false;
                wait = SYNC_PERIOD;
            }
            Err(error) => {
                if !failing {
                    eprintln!("sluice-ingest: warning: {error} (ingest goes on; retrying)");
                }
                failing = true;
                wait = (wait * 2).min(MAX_BACKOFF);
            }
        }
    }
}

impl From<SharedArchiveError> for IngestError {
    fn from(error: SharedArchiveError) -> IngestError {
        IngestError::SharedArchive(error)
    }
}
