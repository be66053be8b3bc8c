//! One writer per data directory: `DIR/writer.lock`, held with an advisory
//! lock (`flock`) for as long as a `sluice-ingest` run or server lives.
//!
//! The kernel releases the lock when its holder exits, however it exits, so
//! a lock file left by a process that died (kill -9, a power cut) is no lock
//! at all: the next writer takes it over and rewrites who holds it. The file
//! says who holds it (pid, command, since when) so that a refused writer can
//! name the holder. Readers never take it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Who holds (or last held) a writer lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub command: String,
    /// RFC 3339, UTC.
    pub since: String,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} (`{}`) since {}", self.pid, self.command, self.since)
    }
}

/// Why the writer lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "data directory {} already has a writer: {holder}. Stop that process first, or give this one another \
         --data-dir (only one sluice-ingest or sluice-ingest serve may write a data directory; sluice may read it \
         at any time)",
        root.display()
    )]
    Held { root: PathBuf, holder: String },
    #[error("writer lock {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// The held lock; dropping it (or exiting) releases it.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    path: PathBuf,
    taken_over: Option<LockHolder>,
}

impl WriterLock {
    /// Takes the lock of the data directory `root` for `command`.
    pub(crate) fn acquire(root: &Path, command: &str) -> Result<WriterLock, LockError> {
        let path = root.join("writer.lock");
        let io = |source| LockError::Io { path: path.clone(), source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        let mut previous = String::new();
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let _ = file.read_to_string(&mut previous);
                let holder = match serde_json::from_str::<LockHolder>(&previous) {
                    Ok(holder) => holder.to_string(),
                    Err(_) => "another process (it has not yet said which)".to_owned(),
                };
                return Err(LockError::Held { root: root.to_owned(), holder });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
        }
        let _ = file.read_to_string(&mut previous);
        let taken_over = serde_json::from_str::<LockHolder>(&previous).ok();
        let holder = LockHolder {
            pid: std::process::id(),
            command: command.to_owned(),
            since: sluice_schemas::Timestamp::now().to_string(),
        };
        let json = serde_json::to_string(&holder).unwrap_or_default();
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        file.write_all(json.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        Ok(WriterLock { _file: file, path, taken_over })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The holder recorded by a writer that died holding the lock (the
    /// kernel released it; a writer that stops cleanly clears the file).
    pub fn taken_over(&self) -> Option<&LockHolder> {
        self.taken_over.as_ref()
    }
}

impl Drop for WriterLock {
    /// A clean release clears the holder, so that what the next writer finds
    /// in the file is always a writer that died.
    fn drop(&mut self) {
        let _ = self._file.set_len(0);
    }
}
