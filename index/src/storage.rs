//! The storage seam: every write, fsync, rename and delete that Sluice makes
//! in a data directory goes through [`Storage`], so that fault injection
//! (see [`crate::failpoint`]) reaches all of them, and so that object
//! storage and compaction plug in at one place.
//!
//! tantivy's own files of a day split take the same seam's other door,
//! [`crate::split_directory::SplitDirectory`].
//!
//! Guarantees, in the manner of tantivy's `Directory` trait:
//!
//! * [`StorageFile::sync_all`] / [`StorageFile::sync_data`] return once the
//!   bytes written so far survive a power loss;
//! * [`Storage::rename`] is atomic: a reader (or a crash) sees the file at
//!   its old name or at its new one, whole, never both and never neither;
//!   the rename itself survives a crash only after [`Storage::sync_dir`] of
//!   the target's directory;
//! * [`Storage::write_atomically`] combines the two: afterwards the path
//!   holds the new bytes, durably, and a crash at any moment leaves either
//!   the old bytes or the new ones;
//! * a file created or deleted is durable in its directory only after
//!   [`Storage::sync_dir`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::failpoint;

/// The data directory's storage: the local file system for now.
#[derive(Clone, Copy, Debug, Default)]
pub struct Storage {
    _local: (),
}

impl Storage {
    /// The local file system.
    pub fn local() -> Storage {
        Storage { _local: () }
    }

    pub fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }

    /// Creates (or truncates) a file for writing.
    pub fn create(&self, path: &Path) -> io::Result<StorageFile> {
        failpoint::hit("storage.create")?;
        Ok(StorageFile { file: File::create(path)?, path: path.to_owned() })
    }

    /// Creates a file that must not exist yet, for appending.
    pub fn create_new(&self, path: &Path) -> io::Result<StorageFile> {
        failpoint::hit("storage.create")?;
        let file = OpenOptions::new().create_new(true).append(true).open(path)?;
        Ok(StorageFile { file, path: path.to_owned() })
    }

    /// Opens an existing file for appending at its end.
    pub fn open_append(&self, path: &Path) -> io::Result<StorageFile> {
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(StorageFile { file, path: path.to_owned() })
    }

    /// Renames `from` to `to`, atomically (see the module's guarantees).
    pub fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        failpoint::hit("storage.rename")?;
        std::fs::rename(from, to)
    }

    /// Makes the directory's entries (creates, renames, deletes) durable.
    pub fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        failpoint::hit("storage.sync_dir")?;
        File::open(dir)?.sync_all()
    }

    pub fn remove_file(&self, path: &Path) -> io::Result<()> {
        failpoint::hit("storage.delete")?;
        std::fs::remove_file(path)
    }

    /// Replaces `path` with `bytes` atomically and durably: written to
    /// `path.tmp`, fsync'd, renamed, the directory fsync'd. `staged` is the
    /// fail-point passed between the fsync and the rename.
    pub fn write_atomically(&self, path: &Path, bytes: &[u8], staged: &str) -> Result<(), (PathBuf, io::Error)> {
        let temporary = staged_path(path);
        let at = |path: &Path| {
            let path = path.to_owned();
            move |error| (path, error)
        };
        let staged_write = (|| {
            let mut file = self.create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            failpoint::hit(staged)
        })();
        // A failed write leaves `path.tmp` for the next one to replace.
        staged_write.map_err(|error| (temporary.clone(), error))?;
        self.rename(&temporary, path).map_err(at(path))?;
        let parent = path.parent().unwrap_or(Path::new("."));
        self.sync_dir(parent).map_err(at(parent))
    }

    /// The whole file, or `None` when there is none.
    pub fn read_if_exists(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Opens a file for reading.
    pub fn open_read(&self, path: &Path) -> io::Result<File> {
        File::open(path)
    }

    /// The entries of a directory (none when it does not exist), sorted.
    pub fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut paths = entries.map(|entry| entry.map(|e| e.path())).collect::<io::Result<Vec<_>>>()?;
        paths.sort();
        Ok(paths)
    }
}

/// The name a file has until it is published: `<published>.tmp` (what
/// recovery looks for, and what readers see only as the commit's step 4
/// has not yet renamed it).
pub fn staged_path(published: &Path) -> PathBuf {
    let mut staged = published.as_os_str().to_owned();
    staged.push(".tmp");
    PathBuf::from(staged)
}

/// A file open for writing through the seam.
#[derive(Debug)]
pub struct StorageFile {
    file: File,
    path: PathBuf,
}

impl StorageFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Data and metadata durable.
    pub fn sync_all(&self) -> io::Result<()> {
        failpoint::hit("storage.fsync")?;
        self.file.sync_all()
    }

    /// Data durable (and the metadata needed to read it back).
    pub fn sync_data(&self) -> io::Result<()> {
        failpoint::hit("storage.fsync")?;
        self.file.sync_data()
    }

    /// Cuts the file to `len` bytes.
    pub fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }
}

impl Write for StorageFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        failpoint::hit("storage.write")?;
        self.file.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Raises the process's soft limit on open files to its hard limit: a SQL
/// statement over a month of uncompacted hours pins thousands of archive
/// files, and a server holds a descriptor per connection. Best effort:
/// without it, the default limit stands.
pub fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}
