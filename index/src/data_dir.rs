//! The data directory: its layout, its one writer, its manifest (the one
//! file that says what is committed, so that the index and the archive
//! agree after any crash) and crash recovery.
//!
//! ```text
//! DIR/manifest.json                         last committed batch, input checkpoints
//! DIR/writer.lock                           who writes (see `crate::lock`)
//! DIR/index/YYYY-MM-DD/                     tantivy split per day
//! DIR/archive/date=…/hour=…/part-<batch>.parquet[.tmp]
//! DIR/deadletter/part-<batch>.ndjson[.tmp]  rejected lines, staged like the archive
//! DIR/wal/<position>.wal                    the server's write-ahead log (see `crate::wal`)
//! ```
//!
//! Who owns what: this crate builds every path above and makes every write
//! to them, through [`Storage`]. `sluice-ingest` hands it batches
//! ([`crate::commit`]) and log payloads ([`crate::wal`]); `sluice` reads
//! through [`DataDir`], [`crate::archive_files::RowLocator`] and the splits.
//!
//! The commit protocol for batch N ([`crate::commit::BatchCommitter`] runs
//! steps 2 to 4 as one call):
//! 1. write the batch's Parquet files and dead letters under `.tmp` names,
//!    fsync'd (fail-points `commit.archive_staged`, `commit.dead_letters_staged`);
//! 2. add the batch's documents and commit every day split it touched,
//!    with N as the commit payload (`commit.split_early` when a fifth day
//!    opens mid-batch, `commit.splits` after the last);
//! 3. [`Manifest::store`] with `last_batch = N` and the input checkpoints:
//!    written to `manifest.json.tmp`, fsync'd (`commit.manifest_staged`),
//!    renamed, the directory fsync'd (`commit.manifest`). This is the commit
//!    point;
//! 4. publish the staged files: rename, fsync the directory
//!    (`commit.archive_published`, `commit.dead_letters_published`).
//!
//! [`DataDir::recover`] runs under the writer lock before anything is
//! written: staged files of batches up to the manifest's are published (a
//! crash between 3 and 4), later ones are deleted, and index documents of
//! later batches are deleted (a crash between 2 and 3). Whatever the crash
//! point, a record is then in both stores or in neither, and the
//! checkpoints say where to resume. Readers need no recovery: they count
//! only documents of batches up to the manifest's (see `sluice`'s `Store`),
//! and read a committed batch's archive file under its staged name while
//! step 4 has not renamed it yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sluice_schemas::ErrorKind;

use crate::fields::IndexFields;
use crate::lock::{LockError, WriterLock};
use crate::splits::{IndexError, rollback_batches_after};
use crate::storage::Storage;

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
    #[error(
        "archive {} is in layout version {found} (its {ARCHIVE_LAYOUT_FILE}), and this Sluice knows layout versions {OLDEST_ARCHIVE_LAYOUT_VERSION} to {ARCHIVE_LAYOUT_VERSION} only: upgrade Sluice, or give this one another --data-dir",
        archive.display()
    )]
    ArchiveLayout { archive: PathBuf, found: u32 },
    #[error("{} is not valid: {source}; it names the archive's layout (`{{\"layout_version\": {ARCHIVE_LAYOUT_VERSION}}}` for this Sluice)", path.display())]
    ArchiveLayoutFile { path: PathBuf, source: serde_json::Error },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl DataDirError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DataDirError::Io { .. }
            | DataDirError::Manifest { .. }
            | DataDirError::FormatVersion { .. }
            | DataDirError::ArchiveLayout { .. }
            | DataDirError::ArchiveLayoutFile { .. }
            | DataDirError::Lock(_) => ErrorKind::OperatorFixable,
            DataDirError::Index(error) => error.kind(),
        }
    }

    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
        move |source| DataDirError::Io { path: path.to_owned(), source }
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
    /// Records committed in all (each is one index document and one archive
    /// row), and dead letters (rejected lines) published, over every batch.
    #[serde(default)]
    pub records: u64,
    #[serde(default)]
    pub dead_letters: u64,
    /// Per input path (as given on the command line, made absolute).
    pub checkpoints: BTreeMap<String, Checkpoint>,
}

/// The archive's layout version: what readers of `DIR/archive` alone (DuckDB,
/// Spark, another Sluice, the archive on object storage) may rely on.
///
/// Version 1: Hive partitions `date=YYYY-MM-DD/hour=HH` in UTC; `*.parquet`
/// files that appear whole (staged as `*.parquet.tmp`, never read) with the
/// columns of [`crate::archive::ArchiveLayout`] and UTC nanosecond
/// timestamps, one per ingest batch and hour, rows in time order.
///
/// Version 2 adds compaction (see [`crate::archive_files`]): a file
/// `part-<first>-<last>.parquet` holds the rows of the batch files (and
/// earlier compacted files) of its partition in that batch range, ordered by
/// `service` (its `sorting_columns` say so), then message template, host
/// and `timestamp`, and replaces
/// them: it is published before they are deleted, so for that moment (or,
/// after a crash, until the next start) a glob sees both; Sluice's readers
/// never do. A version-1 archive is a version-2 archive without compacted
/// files.
///
/// Version 3 adds per-service retention: `part-<first>-<last>-<generation>.parquet`
/// is a compacted file rewritten without the rows whose retention passed,
/// and replaces the lower generation of the same range the same way. Each
/// version is the next without its newest kind of file, so this build reads
/// all three and names the archive version 3 when it opens it for writing.
///
/// The version is written in [`ARCHIVE_LAYOUT_FILE`] at the archive's root
/// and under [`ARCHIVE_LAYOUT_KEY`] in each file's key-value metadata.
pub const ARCHIVE_LAYOUT_VERSION: u32 = 3;

/// The oldest layout version this build reads (and upgrades).
pub const OLDEST_ARCHIVE_LAYOUT_VERSION: u32 = 1;

/// The file at the archive's root naming its layout. Its leading `_` keeps
/// it out of pyarrow's and Spark's datasets, and it is not `*.parquet`.
pub const ARCHIVE_LAYOUT_FILE: &str = "_sluice_layout.json";

/// The Parquet key-value metadata key naming a file's layout version.
pub const ARCHIVE_LAYOUT_KEY: &str = "sluice.archive_layout";

/// [`ARCHIVE_LAYOUT_FILE`]'s content.
#[derive(Debug, Serialize, Deserialize)]
struct ArchiveLayoutFile {
    layout_version: u32,
}

/// The layout version an [`ARCHIVE_LAYOUT_FILE`] of the archive at
/// `archive` (a path or URL) names; an error when the file is not one, or
/// names a version this build does not read.
pub fn check_archive_layout(bytes: &[u8], archive: &str) -> Result<u32, DataDirError> {
    let path = Path::new(archive).join(ARCHIVE_LAYOUT_FILE);
    let file: ArchiveLayoutFile =
        serde_json::from_slice(bytes).map_err(|source| DataDirError::ArchiveLayoutFile { path, source })?;
    if !(OLDEST_ARCHIVE_LAYOUT_VERSION..=ARCHIVE_LAYOUT_VERSION).contains(&file.layout_version) {
        return Err(DataDirError::ArchiveLayout { archive: PathBuf::from(archive), found: file.layout_version });
    }
    Ok(file.layout_version)
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
        let mut manifest = self.clone();
        manifest.format_version = FORMAT_VERSION;
        let mut json = serde_json::to_vec_pretty(&manifest)
            .map_err(|source| DataDirError::Manifest { path: path.clone(), source })?;
        json.push(b'\n');
        dir.storage
            .write_atomically(&path, &json, "commit.manifest_staged")
            .map_err(|(path, source)| DataDirError::Io { path, source })
    }
}

/// What recovery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub published: usize,
    pub discarded: usize,
    pub splits_rolled_back: usize,
    /// Archive files an interrupted compaction had superseded, deleted.
    pub superseded_removed: usize,
}

/// A data directory: its paths, its storage.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
    storage: Storage,
}

impl DataDir {
    /// Opens (creating if needed) the data directory at `root`, for
    /// writing. A new archive gets its [`ARCHIVE_LAYOUT_FILE`]; an archive
    /// in another layout is refused.
    pub fn open(root: &Path) -> Result<DataDir, DataDirError> {
        let dir = DataDir::at(root);
        for path in [dir.index(), dir.archive(), dir.deadletter()] {
            dir.storage.create_dir_all(&path).map_err(DataDirError::io(&path))?;
        }
        if dir.archive_layout()?.is_none_or(|version| version < ARCHIVE_LAYOUT_VERSION) {
            let path = dir.archive().join(ARCHIVE_LAYOUT_FILE);
            let mut json = serde_json::to_vec(&ArchiveLayoutFile { layout_version: ARCHIVE_LAYOUT_VERSION })
                .map_err(|source| DataDirError::ArchiveLayoutFile { path: path.clone(), source })?;
            json.push(b'\n');
            // Two writers racing here write the same bytes; the rename is atomic.
            dir.storage
                .write_atomically(&path, &json, "data_dir.layout_staged")
                .map_err(|(path, source)| DataDirError::Io { path, source })?;
        }
        Ok(dir)
    }

    /// The archive's layout version as its [`ARCHIVE_LAYOUT_FILE`] names
    /// it: `None` without the file (an archive written before the file
    /// existed is in version 1, or there is no archive yet), an error when
    /// it names a version this build does not know.
    pub fn archive_layout(&self) -> Result<Option<u32>, DataDirError> {
        let path = self.archive().join(ARCHIVE_LAYOUT_FILE);
        let Some(bytes) = self.storage.read_if_exists(&path).map_err(DataDirError::io(&path))? else {
            return Ok(None);
        };
        check_archive_layout(&bytes, &self.archive().to_string_lossy()).map(Some)
    }

    /// The data directory at `root`, for reading: creates nothing.
    pub fn at(root: &Path) -> DataDir {
        DataDir { root: root.to_owned(), storage: Storage::local() }
    }

    /// Takes the directory's writer lock for `command` (as the holder will
    /// be named to a refused writer): an operator-fixable error naming the
    /// holder when another live process has it.
    pub fn lock(&self, command: &str) -> Result<WriterLock, DataDirError> {
        Ok(WriterLock::acquire(&self.root, command)?)
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
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

    /// The server's write-ahead log (see [`crate::wal`]).
    pub fn wal(&self) -> PathBuf {
        self.root.join("wal")
    }

    /// Where damaged write-ahead log bytes skipped at replay are kept.
    pub fn wal_damaged(&self) -> PathBuf {
        self.wal().join("damaged")
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    /// The committed manifest, or an empty one for a new directory. A
    /// directory in another format is refused here, before its index is
    /// opened, so the user reads what to do rather than a tantivy error.
    pub fn load_manifest(&self) -> Result<Manifest, DataDirError> {
        let path = self.manifest_path();
        let Some(bytes) = self.storage.read_if_exists(&path).map_err(DataDirError::io(&path))? else {
            return Ok(Manifest::default());
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|source| DataDirError::Manifest { path, source })?;
        if manifest.format_version != FORMAT_VERSION {
            return Err(DataDirError::FormatVersion { root: self.root.clone(), found: manifest.format_version });
        }
        Ok(manifest)
    }

    /// Brings index and archive back to the manifest's last batch. Only the
    /// writer recovers, so it takes the writer's lock as proof.
    pub fn recover(&self, fields: &IndexFields, _writer: &WriterLock) -> Result<(Manifest, Recovery), DataDirError> {
        let manifest = self.load_manifest()?;
        let mut recovery = Recovery::default();
        let mut staged = Vec::new();
        self.collect(&self.archive(), "tmp", &mut staged)?;
        self.collect(&self.deadletter(), "tmp", &mut staged)?;
        for path in staged {
            // A compaction's staged output (`part-<first>-<last>`) may be
            // torn: it goes, and its inputs are still there.
            match batch_of(&path) {
                Some(batch) if batch <= manifest.last_batch => {
                    let published = path.with_extension("");
                    self.storage.rename(&path, &published).map_err(DataDirError::io(&path))?;
                    recovery.published += 1;
                }
                _ => {
                    self.storage.remove_file(&path).map_err(DataDirError::io(&path))?;
                    recovery.discarded += 1;
                }
            }
            if let Some(parent) = path.parent() {
                self.storage.sync_dir(parent).map_err(DataDirError::io(parent))?;
            }
        }
        // A compaction stopped after publishing its output, before deleting
        // its inputs: they go now (readers already ignore them).
        for partition in self.archive_partitions()? {
            let files = self.storage.list(&partition).map_err(DataDirError::io(&partition))?;
            recovery.superseded_removed += crate::compact::remove_superseded(self, &partition, &files)
                .map_err(|(path, source)| DataDirError::Io { path, source })?;
        }
        // A retention stopped after moving a day aside: it goes now.
        crate::retention::finish_interrupted(self).map_err(|error| match error {
            crate::retention::RetentionError::Io { path, source } => DataDirError::Io { path, source },
            other => DataDirError::Io { path: self.root.clone(), source: std::io::Error::other(other.to_string()) },
        })?;
        recovery.splits_rolled_back = rollback_batches_after(&self.index(), fields, manifest.last_batch)?;
        Ok((manifest, recovery))
    }

    /// Every file under `dir` (recursively) whose name ends in `.extension`
    /// (every file when it is empty).
    fn collect(&self, dir: &Path, extension: &str, out: &mut Vec<PathBuf>) -> Result<(), DataDirError> {
        for path in self.storage.list(dir).map_err(DataDirError::io(dir))? {
            if path.is_dir() {
                self.collect(&path, extension, out)?;
            } else if extension.is_empty() || path.extension().is_some_and(|e| e == extension) {
                out.push(path);
            }
        }
        Ok(())
    }

    /// The live archive files, in path order (date, hour, batch): those
    /// published and not superseded by a compaction's output (see
    /// [`crate::archive_files`]), so each row is in exactly one.
    pub fn archive_files(&self) -> Result<Vec<PathBuf>, DataDirError> {
        let mut files = Vec::new();
        self.collect(&self.archive(), "parquet", &mut files)?;
        files.sort();
        Ok(crate::archive_files::live_files(&files))
    }

    /// The archive's partition directories (`date=…/hour=…`), in order.
    pub fn archive_partitions(&self) -> Result<Vec<PathBuf>, DataDirError> {
        let mut out = Vec::new();
        let archive = self.archive();
        for date in self.storage.list(&archive).map_err(DataDirError::io(&archive))? {
            if date.is_dir() && date.file_name().is_some_and(|n| n.to_string_lossy().starts_with("date=")) {
                for hour in self.storage.list(&date).map_err(DataDirError::io(&date))? {
                    if hour.is_dir() && hour.file_name().is_some_and(|n| n.to_string_lossy().starts_with("hour=")) {
                        out.push(hour);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The published dead-letter files not yet replayed, in batch order.
    pub fn dead_letter_files(&self) -> Result<Vec<PathBuf>, DataDirError> {
        let mut files = Vec::new();
        self.collect(&self.deadletter(), "ndjson", &mut files)?;
        let replayed = self.replayed_dead_letters();
        files.retain(|path| !path.starts_with(&replayed));
        files.sort();
        Ok(files)
    }

    /// Where `sluice-ingest replay` moves the dead-letter files it has
    /// replayed: `DIR/deadletter/replayed/`.
    pub fn replayed_dead_letters(&self) -> PathBuf {
        self.deadletter().join("replayed")
    }

    /// Where `sluice-ingest replay` keeps the lines it replays, one file per
    /// dead-letter file: `DIR/replay/`. Kept, so a replay run again (or
    /// after a crash) resumes from its checkpoint instead of repeating.
    pub fn replay_inputs(&self) -> PathBuf {
        self.root.join("replay")
    }

    /// Dead letters published: one line each in the dead-letter files.
    pub fn dead_letter_count(&self) -> Result<u64, DataDirError> {
        let mut count = 0;
        for path in self.dead_letter_files()? {
            let file = self.storage.open_read(&path).map_err(DataDirError::io(&path))?;
            let mut reader = std::io::BufReader::new(file);
            count += std::io::BufRead::split(&mut reader, b'\n').count() as u64;
        }
        Ok(count)
    }

    /// Whether the data directory's file system has room for `bytes` more
    /// (written, fsync'd and removed again): how a writer stopped by a full
    /// disk knows it may go on.
    pub fn has_room(&self, bytes: usize) -> Result<(), DataDirError> {
        let path = self.root.join("space-probe");
        let written = self.storage.write_atomically(&path, &vec![0u8; bytes], "storage.probe");
        if written.is_err() {
            // What a full disk let it write of the probe goes too.
            let _ = self.storage.remove_file(&self.root.join("space-probe.tmp"));
        }
        let removed = self.storage.remove_file(&path);
        written.map_err(|(path, source)| DataDirError::Io { path, source })?;
        removed.map_err(DataDirError::io(&path))
    }

    /// Bytes on disk: the index, and the published archive files (bytes, files).
    pub fn usage(&self) -> Result<Usage, DataDirError> {
        let size = |files: &[PathBuf]| files.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum();
        let mut index_files = Vec::new();
        self.collect(&self.index(), "", &mut index_files)?;
        let archive = self.archive_files()?;
        Ok(Usage {
            index_bytes: size(&index_files),
            archive_bytes: size(&archive),
            archive_files: archive.len() as u64,
        })
    }
}

/// Bytes a data directory takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub index_bytes: u64,
    pub archive_bytes: u64,
    pub archive_files: u64,
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
        collect_every(&dir.archive(), &mut all);
        let mut names: Vec<String> = all
            .iter()
            .map(|p| p.strip_prefix(dir.archive()).unwrap().display().to_string())
            .filter(|name| name != ARCHIVE_LAYOUT_FILE)
            .collect();
        names.sort();
        names
    }

    fn collect_every(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { collect_every(&path, out) } else { out.push(path) }
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
        let staged = ArchiveWriter::new(&dir.archive(), Storage::local(), 3)
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
            file.publish(dir.storage()).unwrap();
        }
    }

    #[test]
    fn recovery_makes_index_and_archive_agree_at_every_crash_point() {
        let line = r#"{"time":"2024-03-01T10:00:00Z","msg":"m","service":"s"}"#;
        for crash_after_step in 1..=4 {
            let temp = tempfile::tempdir().unwrap();
            let dir = DataDir::open(temp.path()).unwrap();
            let fields = IndexFields::new(&Schema::builtin());
            let lock = dir.lock("test").unwrap();
            batch(&dir, &fields, 1, line, 4);
            batch(&dir, &fields, 2, line, crash_after_step);
            let (manifest, recovery) = dir.recover(&fields, &lock).unwrap();
            let committed = if crash_after_step >= 3 { 2 } else { 1 };
            assert_eq!(manifest.last_batch, committed, "crash after step {crash_after_step}");
            assert_eq!(manifest.checkpoints["/in.ndjson"].offset, committed * 100);
            assert_eq!(index_count(&dir), committed, "index after crash at step {crash_after_step}");
            let files = parquet_files(&dir);
            let expected: Vec<String> =
                (1..=committed).map(|b| format!("date=2024-03-01/hour=10/{}.parquet", batch_file_stem(b))).collect();
            assert_eq!(files, expected, "archive after crash at step {crash_after_step}");
            let expected_recovery = match crash_after_step {
                1 => Recovery { published: 0, discarded: 1, splits_rolled_back: 0, superseded_removed: 0 },
                2 => Recovery { published: 0, discarded: 1, splits_rolled_back: 1, superseded_removed: 0 },
                3 => Recovery { published: 1, discarded: 0, splits_rolled_back: 0, superseded_removed: 0 },
                _ => Recovery::default(),
            };
            assert_eq!(recovery, expected_recovery, "crash after step {crash_after_step}");
            // Recovery is idempotent.
            assert_eq!(dir.recover(&fields, &lock).unwrap().1, Recovery::default());
        }
    }

    #[test]
    fn a_new_archive_names_its_layout_and_one_in_an_unknown_layout_is_refused() {
        let temp = tempfile::tempdir().unwrap();
        assert_eq!(DataDir::at(temp.path()).archive_layout().unwrap(), None);
        let dir = DataDir::open(temp.path()).unwrap();
        let path = dir.archive().join(ARCHIVE_LAYOUT_FILE);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"layout_version\":3}\n");
        assert_eq!(dir.archive_layout().unwrap(), Some(3));
        // Opening again keeps it; each archive file names it too.
        DataDir::open(temp.path()).unwrap();
        let fields = IndexFields::new(&Schema::builtin());
        batch(&dir, &fields, 1, r#"{"time":"2024-03-01T10:00:00Z","msg":"m"}"#, 4);
        let file = dir.archive_files().unwrap().remove(0);
        let reader = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
        let metadata = parquet::file::reader::FileReader::metadata(&reader).file_metadata().key_value_metadata();
        let layout = metadata.unwrap().iter().find(|kv| kv.key == ARCHIVE_LAYOUT_KEY).unwrap();
        assert_eq!(layout.value.as_deref(), Some("3"));

        // Layout 1 (before compaction) is read, and named 3 by the next writer.
        std::fs::write(&path, "{\"layout_version\":1}\n").unwrap();
        assert_eq!(DataDir::at(temp.path()).archive_layout().unwrap(), Some(1));
        DataDir::open(temp.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"layout_version\":3}\n");

        std::fs::write(&path, "{\"layout_version\":4}\n").unwrap();
        let error = DataDir::open(temp.path()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::OperatorFixable);
        assert_eq!(
            error.to_string(),
            format!(
                "archive {} is in layout version 4 (its _sluice_layout.json), and this Sluice knows layout versions 1 \
                 to 3 only: upgrade Sluice, or give this one another --data-dir",
                dir.archive().display()
            )
        );
        std::fs::write(&path, "layout 1").unwrap();
        let error = DataDir::at(temp.path()).archive_layout().unwrap_err().to_string();
        assert!(error.starts_with(&format!("{} is not valid: ", path.display())), "{error}");
        assert!(
            error.ends_with("it names the archive's layout (`{\"layout_version\": 3}` for this Sluice)"),
            "{error}"
        );
    }

    #[test]
    fn a_second_writer_is_refused_naming_the_holder_and_a_dead_ones_lock_is_taken_over() {
        let temp = tempfile::tempdir().unwrap();
        let dir = DataDir::open(temp.path()).unwrap();
        let first = dir.lock("sluice-ingest serve").unwrap();
        assert!(first.taken_over().is_none());
        let error = dir.lock("sluice-ingest app.log").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::OperatorFixable);
        let text = error.to_string();
        let expected_start = format!(
            "data directory {} already has a writer: pid {} (`sluice-ingest serve`) since ",
            temp.path().display(),
            std::process::id()
        );
        assert!(text.starts_with(&expected_start), "{text}");
        assert!(text.ends_with("Stop that process first, or give this one another --data-dir (only one sluice-ingest or sluice-ingest serve may write a data directory; sluice may read it at any time)"), "{text}");
        // A clean release leaves nothing to take over.
        drop(first);
        let second = dir.lock("second").unwrap();
        assert!(second.taken_over().is_none());
        std::mem::forget(second); // as a process killed while holding it: the file keeps its holder
        // (the kernel releases a dead process's lock; here the descriptor is leaked
        // instead, so the lock stays held and the next writer is still refused).
        assert!(dir.lock("third").is_err());
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
