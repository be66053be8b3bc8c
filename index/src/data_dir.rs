//! The data directory and its manifest: the one file that says what is
//! committed, so that the index and the archive agree after any crash.
//!
//! ```text
//! DIR/manifest.json                       last committed batch, input checkpoints
//! DIR/index/YYYY-MM-DD/                   tantivy split per day
//! DIR/archive/date=…/hour=…/part-<batch>.parquet[.tmp]
//! DIR/deadletter/part-<batch>.ndjson[.tmp]  rejected lines, staged like the archive
//! ```
//!
//! The commit protocol for batch N (the ingest pipeline drives it):
//! 1. write the batch's Parquet files as `.parquet.tmp`, fsync'd;
//! 2. add the batch's documents and commit every split it touched;
//! 3. [`Manifest::store`] with `last_batch = N` and the input checkpoints
//!    (write to a temporary file, fsync, rename, fsync the directory);
//! 4. publish the Parquet files (rename).
//!
//! [`DataDir::recover`] runs before ingesting: staged files of batches up to
//! the manifest's are published (a crash between 3 and 4), later ones are
//! deleted, and index documents of later batches are deleted (a crash
//! between 2 and 3). Whatever the crash point, a record is then in both
//! stores or in neither, and the checkpoints say where to resume.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sluice_schemas::ErrorKind;

use crate::fields::IndexFields;
use crate::splits::{IndexError, rollback_batches_after};

/// Why the data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("data directory {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("manifest {} is not valid: {source}; restore it from a backup or move the data directory aside", path.display())]
    Manifest { path: PathBuf, source: serde_json::Error },
    #[error(
        "data directory {} is in format {found}, and this Sluice reads format {FORMAT_VERSION} only: ingest into a new --data-dir (the old archive's Parquet files stay readable by DuckDB, pyarrow and any Parquet reader)",
        root.display()
    )]
    FormatVersion { root: PathBuf, found: u32 },
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl DataDirError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DataDirError::Io { .. } | DataDirError::Manifest { .. } | DataDirError::FormatVersion { .. } => {
                ErrorKind::OperatorFixable
            }
            DataDirError::Index(error) => error.kind(),
        }
    }
}

/// Where one input file was read up to, and how to know it is the same file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Device and inode: a file rotated into the same path is a new file.
    pub device: u64,
    pub inode: u64,
    /// Bytes consumed, line endings included; resume from here.
    pub offset: u64,
    /// Lines consumed, for line numbers in dead letters after a resume.
    pub lines: u64,
}

/// The committed state of a data directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// The last batch whose index documents and archive files are committed.
    pub last_batch: u64,
    /// Per input path (as given on the command line, made absolute).
    pub checkpoints: BTreeMap<String, Checkpoint>,
}

/// The on-disk format this build reads and writes. 2: term dictionaries
/// are SSTables (tantivy's `quickwit` feature), which a build with FST
/// dictionaries (format 1) cannot read, nor the other way round.
pub const FORMAT_VERSION: u32 = 2;

impl Manifest {
    /// Writes the manifest atomically: a reader (or a crash) sees the old
    /// one or the new one, never a mix.
    pub fn store(&self, dir: &DataDir) -> Result<(), DataDirError> {
        let path = dir.manifest_path();
        let staged = dir.root.join("manifest.json.tmp");
        let io = |source| DataDirError::Io { path: staged.clone(), source };
        let mut manifest = self.clone();
        manifest.format_version = FORMAT_VERSION;
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|source| DataDirError::Manifest { path: path.clone(), source })?;
        let mut file = File::create(&staged).map_err(io)?;
        file.write_all(&json).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&staged, &path).map_err(io)?;
        sync_dir(&dir.root)
    }
}

/// What recovery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub published: usize,
    pub discarded: usize,
    pub splits_rolled_back: usize,
}

/// Paths of a data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Opens (creating if needed) the data directory at `root`.
    pub fn open(root: &Path) -> Result<DataDir, DataDirError> {
        for sub in ["index", "archive", "deadletter"] {
            let path = root.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| DataDirError::Io { path, source })?;
        }
        Ok(DataDir { root: root.to_owned() })
    }

    /// The data directory at `root`, for reading: creates nothing.
    pub fn at(root: &Path) -> DataDir {
        DataDir { root: root.to_owned() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn index(&self) -> PathBuf {
        self.root.join("index")
    }

    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }

    pub fn deadletter(&self) -> PathBuf {
        self.root.join("deadletter")
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    /// The committed manifest, or an empty one for a new directory. A
    /// directory in another format is refused here, before its index is
    /// opened, so the user reads what to do rather than a tantivy error.
    pub fn load_manifest(&self) -> Result<Manifest, DataDirError> {
        let path = self.manifest_path();
        let manifest: Manifest = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| DataDirError::Manifest { path, source })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(source) => return Err(DataDirError::Io { path, source }),
        };
        if manifest.format_version != FORMAT_VERSION {
            return Err(DataDirError::FormatVersion { root: self.root.clone(), found: manifest.format_version });
        }
        Ok(manifest)
    }

    /// Brings index and archive back to the manifest's last batch.
    pub fn recover(&self, fields: &IndexFields) -> Result<(Manifest, Recovery), DataDirError> {
        let manifest = self.load_manifest()?;
        let mut recovery = Recovery::default();
        let mut staged = Vec::new();
        collect_staged(&self.archive(), &mut staged)?;
        collect_staged(&self.deadletter(), &mut staged)?;
        for path in staged {
            let io = |source| DataDirError::Io { path: path.clone(), source };
            match batch_of(&path) {
                Some(batch) if batch <= manifest.last_batch => {
                    let published = path.with_extension("");
                    std::fs::rename(&path, &published).map_err(io)?;
                    recovery.published += 1;
                }
                _ => {
                    std::fs::remove_file(&path).map_err(io)?;
                    recovery.discarded += 1;
                }
            }
            if let Some(parent) = path.parent() {
                sync_dir(parent)?;
            }
        }
        recovery.splits_rolled_back = rollback_batches_after(&self.index(), fields, manifest.last_batch)?;
        Ok((manifest, recovery))
    }
}

/// The archive file stem for a batch: `part-<batch, 20 digits>`, so names
/// sort in commit order.
pub fn batch_file_stem(batch: u64) -> String {
    format!("part-{batch:020}")
}

/// The batch of `…/part-<batch>.parquet[.tmp]`.
fn batch_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_prefix("part-")?.split('.').next()?.parse().ok()
}

fn collect_staged(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DataDirError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(DataDirError::Io { path: dir.to_owned(), source }),
    };
    for entry in entries {
        let entry = entry.map_err(|source| DataDirError::Io { path: dir.to_owned(), source })?;
        let path = entry.path();
        if path.is_dir() {
            collect_staged(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "tmp") {
            out.push(path);
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), DataDirError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|source| DataDirError::Io { path: dir.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_schemas::{CompiledSchema, Normalizer, NormalizerConfig, Record, Schema, Timestamp};

    use super::*;
    use crate::archive::{ArchiveBatchBuilder, ArchiveLayout, ArchiveWriter};
    use crate::splits::SplitWriters;

    fn record(line: &str) -> Record<'static> {
        let mut n = Normalizer::new(Arc::new(CompiledSchema::new(Schema::builtin())), NormalizerConfig::default());
        n.normalize_owned(line.as_bytes(), Timestamp::from_nanos(0)).unwrap()
    }

    fn parquet_files(dir: &DataDir) -> Vec<String> {
        let mut all = Vec::new();
        collect_all(&dir.archive(), &mut all);
        let mut names: Vec<String> =
            all.iter().map(|p| p.strip_prefix(dir.archive()).unwrap().display().to_string()).collect();
        names.sort();
        names
    }

    fn collect_all(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { collect_all(&path, out) } else { out.push(path) }
        }
    }

    fn index_count(dir: &DataDir) -> u64 {
        crate::splits::list_splits(&dir.index())
            .unwrap()
            .into_iter()
            .map(|(_, p)| tantivy::Index::open_in_dir(p).unwrap().reader().unwrap().searcher().num_docs())
            .sum()
    }

    /// Runs the protocol for one batch, stopping after `steps` of its four steps.
    fn batch(dir: &DataDir, fields: &IndexFields, number: u64, line: &str, steps: usize) {
        let record = record(line);
        let layout = Arc::new(ArchiveLayout::new(&Schema::builtin()));
        let mut builder = ArchiveBatchBuilder::new(layout);
        builder.push(&record);
        let staged = ArchiveWriter::new(&dir.archive(), 3)
            .unwrap()
            .write(&builder.finish().unwrap(), &batch_file_stem(number))
            .unwrap();
        if steps == 1 {
            return;
        }
        let mut writers = SplitWriters::new(&dir.index(), fields.clone(), 20_000_000, 1);
        writers.add(&record, number, 0).unwrap();
        writers.commit(number).unwrap();
        writers.close().unwrap();
        if steps == 2 {
            return;
        }
        let mut manifest = dir.load_manifest().unwrap();
        manifest.last_batch = number;
        manifest
            .checkpoints
            .insert("/in.ndjson".into(), Checkpoint { offset: number * 100, lines: number, ..Checkpoint::default() });
        manifest.store(dir).unwrap();
        if steps == 3 {
            return;
        }
        for file in staged {
            file.publish().unwrap();
        }
    }

    #[test]
    fn recovery_makes_index_and_archive_agree_at_every_crash_point() {
        let line = r#"{"time":"2024-03-01T10:00:00Z","msg":"m","service":"s"}"#;
        for crash_after_step in 1..=4 {
            let temp = tempfile::tempdir().unwrap();
            let dir = DataDir::open(temp.path()).unwrap();
            let fields = IndexFields::new(&Schema::builtin());
            batch(&dir, &fields, 1, line, 4);
            batch(&dir, &fields, 2, line, crash_after_step);
            let (manifest, recovery) = dir.recover(&fields).unwrap();
            let committed = if crash_after_step >= 3 { 2 } else { 1 };
            assert_eq!(manifest.last_batch, committed, "crash after step {crash_after_step}");
            assert_eq!(manifest.checkpoints["/in.ndjson"].offset, committed * 100);
            assert_eq!(index_count(&dir), committed, "index after crash at step {crash_after_step}");
            let files = parquet_files(&dir);
            let expected: Vec<String> =
                (1..=committed).map(|b| format!("date=2024-03-01/hour=10/{}.parquet", batch_file_stem(b))).collect();
            assert_eq!(files, expected, "archive after crash at step {crash_after_step}");
            let expected_recovery = match crash_after_step {
                1 => Recovery { published: 0, discarded: 1, splits_rolled_back: 0 },
                2 => Recovery { published: 0, discarded: 1, splits_rolled_back: 1 },
                3 => Recovery { published: 1, discarded: 0, splits_rolled_back: 0 },
                _ => Recovery::default(),
            };
            assert_eq!(recovery, expected_recovery, "crash after step {crash_after_step}");
            // Recovery is idempotent.
            assert_eq!(dir.recover(&fields).unwrap().1, Recovery::default());
        }
    }

    #[test]
    fn a_corrupt_manifest_is_an_operator_error_naming_the_file() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(temp.path()).unwrap();
        std::fs::write(dir.manifest_path(), b"{not json").unwrap();
        let error = dir.load_manifest().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::OperatorFixable);
        assert!(error.to_string().starts_with(&format!("manifest {} is not valid: ", dir.manifest_path().display())));
        assert!(error.to_string().ends_with("restore it from a backup or move the data directory aside"));
    }
}
