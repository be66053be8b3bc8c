//! Compaction (and retention) in the background of a long ingest run or a
//! server: a thread that, every little while, drops the days past
//! [`BackgroundCompaction::retention`] and compacts the hours and day splits
//! nothing has been written to for [`BackgroundCompaction::quiet_for`].
//!
//! It holds the run's writer lock (the same `Arc`), so no other process
//! writes meanwhile; within the process, the commit stage only ever adds
//! files of new batches, whose numbers are past every file compaction
//! merges, and a day split the commit stage has open is skipped (its
//! writer lock is taken) until the next round. A failed round is reported
//! on stderr and tried again the next round: ingest goes on regardless.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use sluice_index::compact::{CompactConfig, CompactReport, compact};
use sluice_index::data_dir::DataDir;
use sluice_index::lock::WriterLock;
use sluice_index::retention::Retention;

/// How a run compacts in the background.
#[derive(Clone, Debug)]
pub struct BackgroundCompaction {
    /// Hours and day splits written to within this long are left alone.
    pub quiet_for: Duration,
    pub zstd_level: i32,
    pub target_file_bytes: u64,
    /// Records past this horizon are dropped each round, before compacting.
    pub retention: Option<Retention>,
}

impl BackgroundCompaction {
    /// The schedule with a schema's per-service retention
    /// (`[retention.services]`) beside `--retention`.
    pub fn with_service_retention(mut self, services: &BTreeMap<String, Duration>) -> BackgroundCompaction {
        let keep = self.retention.as_ref().and_then(|retention| retention.keep_seconds).map(Duration::from_secs);
        self.retention = Retention::with_services(keep, services);
        self
    }

    /// How often to look: often enough to follow `quiet_for` closely, at
    /// most once a minute.
    fn period(&self) -> Duration {
        (self.quiet_for / 2).clamp(Duration::from_millis(100), Duration::from_secs(60))
    }
}

/// The running compaction thread; [`Compactor::stop`] ends it.
pub struct Compactor {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<CompactReport>>,
}

impl Compactor {
    /// Starts the thread.
    pub fn start(dir: DataDir, lock: Arc<WriterLock>, schedule: BackgroundCompaction) -> Compactor {
        if let Some(retention) = &schedule.retention
            && let Err(error) = retention.store(&dir)
        {
            eprintln!("sluice-ingest: warning: {error}");
        }
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("sluice-compact".to_owned())
                .spawn(move || run(&dir, &lock, &schedule, &stop))
                .ok()
        };
        if thread.is_none() {
            eprintln!("sluice-ingest: warning: cannot start background compaction; run `sluice-ingest compact` later");
        }
        Compactor { stop, thread }
    }

    /// Stops the thread (a round under way finishes its current file) and
    /// returns what it did in all.
    pub fn stop(mut self) -> CompactReport {
        self.signal_stop();
        self.thread.take().and_then(|thread| thread.join().ok()).unwrap_or_default()
    }

    fn signal_stop(&self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        wake.notify_all();
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.signal_stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    dir: &DataDir,
    lock: &WriterLock,
    schedule: &BackgroundCompaction,
    stop: &(Mutex<bool>, Condvar),
) -> CompactReport {
    let (stopped, wake) = stop;
    let mut total = CompactReport::default();
    let mut failing = false;
    loop {
        {
            let guard = stopped.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let (guard, _) = wake
                .wait_timeout_while(guard, schedule.period(), |stopped| !*stopped)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if *guard {
                return total;
            }
        }
        let config = CompactConfig {
            target_file_bytes: schedule.target_file_bytes,
            zstd_level: schedule.zstd_level,
            quiet_for: schedule.quiet_for,
            now: SystemTime::now(),
        };
        let round = || -> Result<CompactReport, String> {
            if let Some(retention) = &schedule.retention {
                let expired = sluice_index::retention::apply(dir, retention, config.now, schedule.zstd_level, lock)
                    .map_err(|e| e.to_string())?;
                for line in expired.lines() {
                    eprintln!("sluice-ingest: retention: {line}");
                }
            }
            compact(dir, &config, lock, &mut |_| {}).map_err(|e| e.to_string())
        };
        match round() {
            Ok(report) => {
                failing = false;
                total += &report;
            }
            Err(error) => {
                // Once per run of failures, not every round.
                if !failing {
                    eprintln!("sluice-ingest: warning: background compaction: {error} (ingest goes on; retrying)");
                }
                failing = true;
            }
        }
    }
}
