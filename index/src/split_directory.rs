//! tantivy's files of a day split, through the storage seam: tantivy's own
//! `MmapDirectory` does the I/O, and each of its writes, fsyncs, atomic
//! writes (`meta.json`, the split's commit point), directory syncs and
//! deletes passes the seam's fail-points first, named `split.*` (see
//! [`crate::failpoint::ALL`]), so the crash and full-disk tests reach inside
//! a split's commit as well. Object storage for splits would plug in here.
//!
//! Guarantees are `MmapDirectory`'s: a file is durable once its writer is
//! terminated (flushed and fsync'd), `atomic_write` replaces a file whole
//! (temporary file, fsync, rename, directory fsync).

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use tantivy::directory::error::{DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, TerminatingWrite, WatchCallback,
    WatchHandle, WritePtr,
};

use crate::failpoint;

/// A day split's directory, for writing.
#[derive(Clone, Debug)]
pub struct SplitDirectory {
    inner: MmapDirectory,
}

impl SplitDirectory {
    pub fn open(path: &Path) -> Result<SplitDirectory, OpenDirectoryError> {
        Ok(SplitDirectory { inner: MmapDirectory::open(path)? })
    }
}

impl Directory for SplitDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        failpoint::hit("split.delete")
            .map_err(|error| DeleteError::IoError { io_error: Arc::new(error), filepath: path.to_owned() })?;
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let fail = |error: io::Error| OpenWriteError::IoError { io_error: Arc::new(error), filepath: path.to_owned() };
        failpoint::hit("split.create").map_err(fail)?;
        // tantivy's writer, unwrapped from its (still empty) buffer and
        // buffered again around the seam's.
        let inner = self.inner.open_write(path)?.into_inner().map_err(|error| fail(error.into_error()))?;
        Ok(BufWriter::new(Box::new(SeamWrite { inner })))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        failpoint::hit("split.atomic_write")?;
        self.inner.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        failpoint::hit("split.sync_dir")?;
        self.inner.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}

/// One of tantivy's files being written, through the seam.
struct SeamWrite {
    inner: Box<dyn TerminatingWrite + Send + Sync>,
}

impl Write for SeamWrite {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        failpoint::hit("split.write")?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl TerminatingWrite for SeamWrite {
    /// Flushes and fsyncs the file (`MmapDirectory`'s writer does both).
    fn terminate_ref(&mut self, token: AntiCallToken) -> io::Result<()> {
        failpoint::hit("split.fsync")?;
        self.inner.terminate_ref(token)
    }
}
