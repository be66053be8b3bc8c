//! A store kept open across requests, for a long-lived reader (a server):
//! the CLI opens a [`Store`] per command and exits; a server answers many
//! requests while `sluice-ingest` commits, compacts and expires beside it.
//!
//! [`LiveStore::current`] answers with the store as of the newest commit.
//! It compares the data directories' *version* (each one's manifest batch,
//! and each day split with the time its `meta.json` last changed) with the
//! one the open store was opened at, and opens a new store only when they
//! differ: a commit, a compaction's merge or a retention's drop. Requests
//! in flight keep the store they started with (an `Arc`), whose segment
//! files stay readable after a merge deletes them (they are mapped); it
//! goes when the last of them ends.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use sluice_index::data_dir::DataDir;
use sluice_index::splits::list_splits;

use crate::error::QueryError;
use crate::store::Store;
use crate::time::TimeRange;

/// A [`Store`] over every day of some data directories, opened again when
/// they change.
pub struct LiveStore {
    roots: Vec<PathBuf>,
    open: Mutex<(Version, Arc<Store>)>,
}

/// What a store shows, as far as it can change under a reader: per data
/// directory, the manifest's last batch and each day split with its
/// `meta.json`'s modification time. Equal versions show the same records.
#[derive(Debug, PartialEq, Eq)]
struct Version(Vec<DirVersion>);

/// One data directory's part of a [`Version`].
#[derive(Debug, PartialEq, Eq)]
struct DirVersion {
    last_batch: u64,
    /// Each day split, with when its `meta.json` last changed.
    splits: Vec<(String, Option<SystemTime>)>,
}

impl Version {
    /// Read before a store is opened: whatever changes meanwhile makes the
    /// next read differ, and the store be opened again.
    fn read(roots: &[PathBuf]) -> Result<Version, QueryError> {
        let mut dirs = Vec::with_capacity(roots.len());
        for root in roots {
            let dir = DataDir::at(root);
            let last_batch = dir.load_manifest()?.last_batch;
            let splits = list_splits(&dir.index())?
                .into_iter()
                .map(|(day, path)| {
                    let changed = std::fs::metadata(path.join("meta.json")).and_then(|m| m.modified()).ok();
                    (day, changed)
                })
                .collect();
            dirs.push(DirVersion { last_batch, splits });
        }
        Ok(Version(dirs))
    }
}

impl LiveStore {
    /// Opens every day split of `roots` (one data directory, or several
    /// queried as one corpus, as [`Store::open_many`]).
    pub fn open(roots: &[PathBuf]) -> Result<LiveStore, QueryError> {
        let version = Version::read(roots)?;
        let store = Arc::new(Store::open_many(roots, TimeRange::ALL)?);
        Ok(LiveStore { roots: roots.to_vec(), open: Mutex::new((version, store)) })
    }

    /// The store as of the newest commit: the one already open while
    /// nothing changed (a few file reads to tell), else a new one.
    /// Concurrent callers during a change wait for one reopening.
    pub fn current(&self) -> Result<Arc<Store>, QueryError> {
        let version = Version::read(&self.roots)?;
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if open.0 != version {
            let store = Arc::new(Store::open_many(&self.roots, TimeRange::ALL)?);
            *open = (version, store);
        }
        Ok(Arc::clone(&open.1))
    }
}

/// A server shares one [`LiveStore`] among its request threads.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<LiveStore>();
};
