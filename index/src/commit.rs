//! The writer's side of the commit protocol (see [`crate::data_dir`]):
//! [`BatchStager`] does step 1 for a sorted batch, [`BatchCommitter`] does
//! steps 2 to 4 as one call. The ingest pipeline runs them on two threads,
//! so batch n+1 is staged while batch n is indexed.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use arrow_array::RecordBatch;
use tantivy::TantivyDocument;

use crate::archive::{ArchiveError, ArchiveWriter, StagedFile, StagedKind};
use crate::data_dir::{Checkpoint, DataDir, DataDirError, Manifest, batch_file_stem};
use crate::failpoint;
use crate::lock::WriterLock;
use crate::splits::{IndexError, SplitWriters};
use crate::storage::staged_path;

/// Why a batch could not be staged or committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    DataDir(#[from] DataDirError),
}

impl CommitError {
    pub fn kind(&self) -> sluice_schemas::ErrorKind {
        match self {
            CommitError::Archive(error) => error.kind(),
            CommitError::Index(error) => error.kind(),
            CommitError::DataDir(error) => error.kind(),
        }
    }
}

/// A batch ready to commit: documents located, files staged (step 1 done).
pub struct StagedBatch {
    pub number: u64,
    /// `(timestamp ns, document)` pairs in the order they are to be added:
    /// by day (one split at a time), then as the caller grouped them.
    pub documents: Vec<(i64, TantivyDocument)>,
    pub staged: Vec<StagedFile>,
    pub checkpoints: BTreeMap<String, Checkpoint>,
}

/// Step 1: writes a batch's archive files and dead letters, staged.
pub struct BatchStager {
    dir: DataDir,
    archive: ArchiveWriter,
    _writer: Arc<WriterLock>,
}

impl BatchStager {
    pub fn new(dir: DataDir, zstd_level: i32, writer: Arc<WriterLock>) -> Result<BatchStager, CommitError> {
        let archive = ArchiveWriter::new(&dir.archive(), *dir.storage(), zstd_level)?;
        Ok(BatchStager { dir, archive, _writer: writer })
    }

    /// Stages batch `number`: `sorted` (its records sorted by time, one
    /// file per hour) and `dead_letters` (NDJSON entries, one file).
    pub fn stage(
        &self,
        number: u64,
        sorted: Option<&RecordBatch>,
        dead_letters: &[u8],
    ) -> Result<Vec<StagedFile>, CommitError> {
        let stem = batch_file_stem(number);
        let mut staged = Vec::new();
        if let Some(sorted) = sorted {
            staged.extend(self.archive.write(sorted, &stem)?);
        }
        if !dead_letters.is_empty() {
            let published = self.dir.deadletter().join(format!("{stem}.ndjson"));
            let path = staged_path(&published);
            let io = DataDirError::io(&path);
            let written = (|| {
                let mut file = self.dir.storage().create(&path)?;
                file.write_all(dead_letters)?;
                file.sync_all()?;
                failpoint::hit("commit.dead_letters_staged")
            })();
            written.map_err(io)?;
            let rows = newlines(dead_letters);
            staged.push(StagedFile { staged: path, published, kind: StagedKind::DeadLetters, rows });
        }
        Ok(staged)
    }
}

/// Steps 2 to 4: the index, the manifest, publishing.
pub struct BatchCommitter {
    dir: DataDir,
    manifest: Manifest,
    splits: SplitWriters,
    _writer: Arc<WriterLock>,
}

impl BatchCommitter {
    /// `manifest` is the one [`DataDir::recover`] returned.
    pub fn new(dir: DataDir, manifest: Manifest, splits: SplitWriters, writer: Arc<WriterLock>) -> BatchCommitter {
        BatchCommitter { dir, manifest, splits, _writer: writer }
    }

    /// The last stored manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Leaves an input's checkpoint out of the next manifest stored.
    pub fn forget(&mut self, key: &str) {
        self.manifest.checkpoints.remove(key);
    }

    /// Commits a staged batch: when this returns, its records are in the
    /// index and the archive, its dead letters published, and the manifest
    /// records it with its checkpoints. On an error, nothing of the batch is
    /// visible to readers, and [`DataDir::recover`] (on the next start)
    /// removes what was written of it.
    pub fn commit(&mut self, batch: StagedBatch) -> Result<&Manifest, CommitError> {
        for (timestamp, document) in batch.documents {
            self.splits.add_document(batch.number, timestamp, document)?;
        }
        self.splits.commit(batch.number)?;
        failpoint::hit("commit.splits").map_err(DataDirError::io(&self.dir.index()))?;
        let mut manifest = self.manifest.clone();
        manifest.last_batch = batch.number;
        for file in &batch.staged {
            let count = file.rows as u64;
            match file.kind {
                StagedKind::Archive => manifest.records += count,
                StagedKind::DeadLetters => manifest.dead_letters += count,
            }
        }
        manifest.checkpoints.extend(batch.checkpoints);
        manifest.store(&self.dir)?;
        self.manifest = manifest;
        failpoint::hit("commit.manifest").map_err(DataDirError::io(&self.dir.manifest_path()))?;
        for file in &batch.staged {
            file.publish(self.dir.storage())?;
            let point = match file.kind {
                StagedKind::Archive => "commit.archive_published",
                StagedKind::DeadLetters => "commit.dead_letters_published",
            };
            failpoint::hit(point).map_err(DataDirError::io(&file.published))?;
        }
        Ok(&self.manifest)
    }

    /// Closes the index writers (nothing is pending after the last commit).
    pub fn finish(self) -> Result<(), CommitError> {
        Ok(self.splits.close()?)
    }
}

/// Entries in a dead-letter file: one NDJSON line each.
fn newlines(entries: &[u8]) -> usize {
    entries.iter().filter(|&&b| b == b'\n').count()
}
