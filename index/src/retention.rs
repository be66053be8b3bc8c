//! Retention: whole days dropped once they are past the horizon.
//!
//! A day goes when all of it is older than the retention (`--retention
//! 30d`: the day 2024-03-01 goes at 2024-04-01T00:00:00Z, when its last
//! instant is 30 days old). A day is the unit because it is the index's:
//! one split a day, and an archive hour whose index split still pointed
//! into it could not be dropped alone.
//!
//! The writer records the policy in `DIR/retention.json` (atomically), so
//! readers (`sluice stats`) can say what goes next and when.
//!
//! The protocol for one day, each step through [`Storage`]:
//! 1. rename `index/<day>` to `index/.expired-<day>`, fsync `index/`
//!    (fail-point `retention.split_removed`): search, count and the other
//!    index readers no longer see the day;
//! 2. rename `archive/date=<day>` to `expired/date=<day>`, fsync both
//!    directories (`retention.archive_removed`): `sql` and engines globbing
//!    the archive no longer see it;
//! 3. delete both, file by file (`retention.deleted`).
//!
//! The index goes first so that no search ever finds a record whose archive
//! row is gone. A crash between 1 and 2 leaves the archive's day readable by
//! `sql` until the next run finishes the job; [`finish_interrupted`] (run
//! by recovery and by [`apply`]) deletes what steps 1 and 2 moved aside.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::data_dir::DataDir;
use crate::failpoint;
use crate::lock::WriterLock;
use crate::splits::{list_splits, parse_day};
use crate::storage::Storage;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// Why retention stopped. What it finished before stays finished.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("retention: {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("retention: {} is not valid: {source}; write it again with `--retention`", path.display())]
    Policy { path: PathBuf, source: serde_json::Error },
}

impl RetentionError {
    pub fn kind(&self) -> sluice_schemas::ErrorKind {
        sluice_schemas::ErrorKind::OperatorFixable
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RetentionError + '_ {
        move |source| RetentionError::Io { path: path.to_owned(), source }
    }
}

/// How long records are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Seconds a day is kept after its end.
    pub keep_seconds: u64,
}

impl Retention {
    pub fn new(keep: Duration) -> Retention {
        Retention { keep_seconds: keep.as_secs() }
    }

    pub fn keep(&self) -> Duration {
        Duration::from_secs(self.keep_seconds)
    }

    /// When `day` (days since the epoch) goes: its end plus the retention.
    pub fn expires_at(&self, day: i64) -> SystemTime {
        let end_nanos = (day + 1).saturating_mul(NANOS_PER_DAY);
        let end = SystemTime::UNIX_EPOCH + Duration::from_nanos(end_nanos.max(0) as u64);
        end + self.keep()
    }

    /// Stores the policy in the data directory for readers.
    pub fn store(&self, dir: &DataDir) -> Result<(), RetentionError> {
        let path = policy_path(dir);
        let mut json =
            serde_json::to_vec(self).map_err(|source| RetentionError::Policy { path: path.clone(), source })?;
        json.push(b'\n');
        dir.storage()
            .write_atomically(&path, &json, "retention.policy_staged")
            .map_err(|(path, source)| RetentionError::Io { path, source })
    }

    /// The policy a writer stored, if any.
    pub fn load(dir: &DataDir) -> Result<Option<Retention>, RetentionError> {
        let path = policy_path(dir);
        let Some(bytes) = dir.storage().read_if_exists(&path).map_err(RetentionError::io(&path))? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|source| RetentionError::Policy { path, source })
    }
}

fn policy_path(dir: &DataDir) -> PathBuf {
    dir.root().join("retention.json")
}

/// The day that goes next and when, if the directory holds any day.
pub fn next_expiry(dir: &DataDir, retention: &Retention) -> Result<Option<(String, SystemTime)>, RetentionError> {
    let days = days(dir)?;
    Ok(days.first().map(|(name, day)| (name.clone(), retention.expires_at(*day))))
}

/// The days a data directory holds, in its index or its archive, oldest first.
fn days(dir: &DataDir) -> Result<Vec<(String, i64)>, RetentionError> {
    let index = dir.index();
    let mut names: Vec<String> = list_splits(&index)
        .map_err(|error| RetentionError::Io { path: index.clone(), source: std::io::Error::other(error.to_string()) })?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let archive = dir.archive();
    for path in dir.storage().list(&archive).map_err(RetentionError::io(&archive))? {
        if let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("date="))
            && path.is_dir()
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    names.dedup();
    Ok(names.into_iter().filter_map(|name| parse_day(&name).map(|day| (name, day))).collect())
}

/// What retention did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// The days dropped, oldest first.
    pub days: Vec<String>,
}

/// Drops every day past the horizon at `now`, under the writer lock.
pub fn apply(
    dir: &DataDir,
    retention: &Retention,
    now: SystemTime,
    _writer: &WriterLock,
) -> Result<RetentionReport, RetentionError> {
    finish_interrupted(dir)?;
    let mut report = RetentionReport::default();
    for (name, day) in days(dir)? {
        if retention.expires_at(day) > now {
            break; // days are oldest first
        }
        drop_day(dir, &name)?;
        report.days.push(name);
    }
    Ok(report)
}

fn drop_day(dir: &DataDir, name: &str) -> Result<(), RetentionError> {
    let storage = dir.storage();
    let index = dir.index();
    let split = index.join(name);
    let split_aside = index.join(format!(".expired-{name}"));
    if split.exists() {
        storage.rename(&split, &split_aside).map_err(RetentionError::io(&split))?;
        storage.sync_dir(&index).map_err(RetentionError::io(&index))?;
    }
    failpoint::hit("retention.split_removed").map_err(RetentionError::io(&split))?;

    let archive = dir.archive();
    let partition = archive.join(format!("date={name}"));
    let expired = expired_dir(dir);
    let partition_aside = expired.join(format!("date={name}"));
    if partition.exists() {
        storage.create_dir_all(&expired).map_err(RetentionError::io(&expired))?;
        storage.rename(&partition, &partition_aside).map_err(RetentionError::io(&partition))?;
        storage.sync_dir(&archive).map_err(RetentionError::io(&archive))?;
        storage.sync_dir(&expired).map_err(RetentionError::io(&expired))?;
    }
    failpoint::hit("retention.archive_removed").map_err(RetentionError::io(&partition))?;

    remove_tree(storage, &split_aside)?;
    remove_tree(storage, &partition_aside)?;
    // The day's row maps (see `archive_files::row_map_path`): no split points into them now.
    remove_tree(storage, &index.join("rowmaps").join(format!("date={name}")))?;
    failpoint::hit("retention.deleted").map_err(RetentionError::io(&expired))?;
    Ok(())
}

/// `DIR/expired`: where an expired day's archive waits for deletion,
/// outside `archive/`, so engines globbing the archive do not see it.
fn expired_dir(dir: &DataDir) -> PathBuf {
    dir.root().join("expired")
}

/// Deletes what an interrupted retention moved aside: `index/.expired-*`
/// and `expired/*`.
pub fn finish_interrupted(dir: &DataDir) -> Result<usize, RetentionError> {
    let storage = dir.storage();
    let mut removed = 0;
    let index = dir.index();
    for path in storage.list(&index).map_err(RetentionError::io(&index))? {
        if path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(".expired-")) {
            remove_tree(storage, &path)?;
            removed += 1;
        }
    }
    let expired = expired_dir(dir);
    for path in storage.list(&expired).map_err(RetentionError::io(&expired))? {
        remove_tree(storage, &path)?;
        removed += 1;
    }
    Ok(removed)
}

/// Deletes a directory tree through the seam, file by file, then its
/// directories; nothing when it does not exist.
fn remove_tree(storage: &Storage, path: &Path) -> Result<(), RetentionError> {
    if !path.exists() {
        return Ok(());
    }
    if path.is_dir() {
        for entry in storage.list(path).map_err(RetentionError::io(path))? {
            remove_tree(storage, &entry)?;
        }
        std::fs::remove_dir(path).map_err(RetentionError::io(path))?;
        if let Some(parent) = path.parent() {
            storage.sync_dir(parent).map_err(RetentionError::io(parent))?;
        }
    } else {
        storage.remove_file(path).map_err(RetentionError::io(path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_expires_when_its_end_is_past_the_horizon() {
        let retention = Retention::new(Duration::from_secs(30 * 86_400));
        let day = parse_day("2024-03-01").unwrap();
        let at = retention.expires_at(day);
        let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(1_711_929_600); // 2024-04-01T00:00:00Z
        assert_eq!(at, expected);
    }
}
