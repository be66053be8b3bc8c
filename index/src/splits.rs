//! Time splits: one tantivy index per UTC day, in `DIR/index/YYYY-MM-DD/`.
//!
//! A time-range query opens only the days it covers, and retention drops
//! whole days. Every document carries the ingest `batch` that wrote it:
//!
//! * [`SplitWriters::commit`] commits every split the batch touched, each
//!   with the batch number as its commit payload;
//! * [`rollback_batches_after`] deletes the documents of batches after the
//!   last one the data directory's manifest records as committed, which is
//!   how a crash between two splits' commits (or before the manifest was
//!   written) is undone on the next start.
//!
//! Writers of days a batch did not touch are closed, and at most
//! [`MAX_OPEN_SPLITS`] writers are open at once (a batch that spans more
//! days commits and closes the earliest as it goes), so memory stays bounded
//! whatever the days one batch spans.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use sluice_schemas::{ErrorKind, Record};
use tantivy::query::RangeQuery;
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexSettings, IndexWriter, TantivyDocument, TantivyError, Term};

use crate::fields::IndexFields;
use crate::split_directory::SplitDirectory;

/// Why the index could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index split {}: {source}", path.display())]
    Tantivy { path: PathBuf, source: TantivyError },
    #[error("index directory {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl IndexError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            IndexError::Io { .. } | IndexError::Tantivy { source: TantivyError::IoError(_), .. } => {
                ErrorKind::OperatorFixable
            }
            IndexError::Tantivy { source: TantivyError::OpenWriteError(_) | TantivyError::LockFailure(..), .. } => {
                ErrorKind::OperatorFixable
            }
            IndexError::Tantivy { .. } => ErrorKind::Fatal,
        }
    }
}

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// tantivy's smallest memory budget for one indexing thread (15 MB; not exported).
pub const MIN_MEMORY_BUDGET_PER_THREAD: usize = 15_000_000;

/// The split directory name of a day since the epoch: `YYYY-MM-DD`.
pub fn day_name(day: i64) -> String {
    sluice_schemas::Timestamp::from_nanos(day.saturating_mul(NANOS_PER_DAY)).to_string()[..10].to_owned()
}

/// The day since the epoch a split directory name (`YYYY-MM-DD`) stands for.
pub fn parse_day(name: &str) -> Option<i64> {
    if name.len() != 10 {
        return None;
    }
    let zone = sluice_schemas::timestamp::DefaultZone::Utc;
    let midnight = sluice_schemas::timestamp::parse_text(
        &format!("{name}T00:00:00Z"),
        sluice_schemas::timestamp::EpochUnit::Auto,
        &zone,
    )
    .ok()?;
    (day_name(day_of(midnight.as_nanos())) == name).then(|| day_of(midnight.as_nanos()))
}

/// The day a timestamp (ns) falls in.
pub fn day_of(nanos: i64) -> i64 {
    nanos.div_euclid(NANOS_PER_DAY)
}

/// A day split opened for writing: its files go through the storage seam.
fn open_for_writing(path: &Path) -> Result<Index, IndexError> {
    let tantivy = |source| IndexError::Tantivy { path: path.to_owned(), source };
    let directory = SplitDirectory::open(path).map_err(|error| tantivy(error.into()))?;
    Index::open(directory).map_err(tantivy)
}

fn open_or_create(path: &Path, fields: &IndexFields) -> Result<Index, IndexError> {
    let tantivy = |source| IndexError::Tantivy { path: path.to_owned(), source };
    if path.join("meta.json").exists() {
        open_for_writing(path)
    } else {
        std::fs::create_dir_all(path).map_err(|source| IndexError::Io { path: path.to_owned(), source })?;
        let directory = SplitDirectory::open(path).map_err(|error| tantivy(error.into()))?;
        // The doc store holds an empty document per record (nothing is
        // stored), yet its per-block offsets cost 5 bytes a record
        // uncompressed and 4 with lz4; zstd halves that. (lz4 stays enabled
        // so splits written with it still open.)
        let settings = IndexSettings {
            docstore_compression: Compressor::Zstd(ZstdCompressor::default()),
            ..IndexSettings::default()
        };
        Index::builder().schema(fields.schema.clone()).settings(settings).open_or_create(directory).map_err(tantivy)
    }
}

/// Most day splits with an open writer. Each writer holds its threads and
/// an indexing table and arena of about 10 MiB a thread before its first
/// document, so a batch spanning many days (a backfill of daily files, the
/// bundled fixtures' 20 days) grew memory with its days: 550 MiB of RSS for
/// the 38 fixture lines. Live input spans one or two days.
pub const MAX_OPEN_SPLITS: usize = 4;

/// The open writers of one ingest run.
pub struct SplitWriters {
    root: PathBuf,
    fields: IndexFields,
    memory_budget_bytes: usize,
    threads: usize,
    open: BTreeMap<i64, (IndexWriter<TantivyDocument>, bool)>,
}

impl SplitWriters {
    /// `root` is `DIR/index`. Each open split gets `memory_budget_bytes`
    /// for `threads` indexing threads (tantivy needs at least 15 MB a thread).
    pub fn new(root: &Path, fields: IndexFields, memory_budget_bytes: usize, threads: usize) -> SplitWriters {
        SplitWriters {
            root: root.to_owned(),
            fields,
            memory_budget_bytes,
            threads: threads.max(1),
            open: BTreeMap::new(),
        }
    }

    pub fn fields(&self) -> &IndexFields {
        &self.fields
    }

    /// Adds the record at `row` of `batch` to its day's split.
    pub fn add(&mut self, record: &Record<'_>, batch: u64, row: u64) -> Result<(), IndexError> {
        let document = self.fields.document(record, batch, row);
        self.add_document(batch, record.timestamp.as_nanos(), document)
    }

    /// Adds a document of `batch` (built by [`IndexFields::document`]) to
    /// the split of the day `timestamp_nanos` falls in. Opening a writer
    /// beyond [`MAX_OPEN_SPLITS`] first closes one: an idle writer if there
    /// is one, else the earliest day's, committed with `batch` as payload (a
    /// crash before the manifest records `batch` rolls that commit back like
    /// any other). Documents in day order make that a day at a time.
    pub fn add_document(
        &mut self,
        batch: u64,
        timestamp_nanos: i64,
        document: TantivyDocument,
    ) -> Result<(), IndexError> {
        let day = day_of(timestamp_nanos);
        if !self.open.contains_key(&day) {
            while self.open.len() >= MAX_OPEN_SPLITS {
                self.close_one(batch)?;
            }
            let path = self.root.join(day_name(day));
            let index = open_or_create(&path, &self.fields)?;
            let writer = open_writer(&index, self.threads, self.memory_budget_bytes)
                .map_err(|source| IndexError::Tantivy { path: path.clone(), source })?;
            self.open.insert(day, (writer, false));
        }
        let Some((writer, touched)) = self.open.get_mut(&day) else { return Ok(()) };
        *touched = true;
        writer
            .add_document(document)
            .map_err(|source| IndexError::Tantivy { path: self.root.join(day_name(day)), source })?;
        Ok(())
    }

    /// Commits every split `batch` touched with the batch number as payload,
    /// then closes the writers of days it did not touch.
    pub fn commit(&mut self, batch: u64) -> Result<(), IndexError> {
        let mut idle = Vec::new();
        for (day, (writer, touched)) in &mut self.open {
            if !*touched {
                idle.push(*day);
                continue;
            }
            commit_split(&self.root, *day, writer, batch)?;
            *touched = false;
        }
        for day in idle {
            if let Some((writer, _)) = self.open.remove(&day) {
                close_split(&self.root, day, writer)?;
            }
        }
        Ok(())
    }

    /// Closes one open writer: an idle one if any, else the earliest day's,
    /// after committing it with `batch` as payload.
    fn close_one(&mut self, batch: u64) -> Result<(), IndexError> {
        let idle = self.open.iter().find(|(_, (_, touched))| !*touched).map(|(day, _)| *day);
        let Some(day) = idle.or_else(|| self.open.keys().next().copied()) else { return Ok(()) };
        let Some((mut writer, touched)) = self.open.remove(&day) else { return Ok(()) };
        if touched {
            commit_split(&self.root, day, &mut writer, batch)?;
            crate::failpoint::hit("commit.split_early")
                .map_err(|source| IndexError::Io { path: self.root.join(day_name(day)), source })?;
        }
        close_split(&self.root, day, writer)
    }

    /// How many writers are open.
    pub fn open_splits(&self) -> usize {
        self.open.len()
    }

    /// Discards what was added since the last commit and closes every writer.
    pub fn close(self) -> Result<(), IndexError> {
        for (day, (writer, _)) in self.open {
            close_split(&self.root, day, writer)?;
        }
        Ok(())
    }
}

/// A writer for a day split. The split's writer lock may be held for a
/// while by compaction merging its segments (a day that had gone quiet
/// receiving a late record): wait for it, up to [`WRITER_LOCK_WAIT`].
fn open_writer(
    index: &Index,
    threads: usize,
    memory_budget_bytes: usize,
) -> Result<IndexWriter<TantivyDocument>, TantivyError> {
    let started = std::time::Instant::now();
    loop {
        match index.writer_with_num_threads(threads, memory_budget_bytes) {
            Err(TantivyError::LockFailure(..)) if started.elapsed() < WRITER_LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Longest wait for a day split's writer lock: more than a merge of a busy
/// day's segments takes.
pub const WRITER_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Commits a day's writer with `batch` as the commit payload.
fn commit_split(
    root: &Path,
    day: i64,
    writer: &mut IndexWriter<TantivyDocument>,
    batch: u64,
) -> Result<(), IndexError> {
    let tantivy = |source| IndexError::Tantivy { path: root.join(day_name(day)), source };
    let mut prepared = writer.prepare_commit().map_err(tantivy)?;
    prepared.set_payload(&batch.to_string());
    prepared.commit().map_err(tantivy)?;
    Ok(())
}

/// Waits for a day's merges and drops its writer (what it has not
/// committed is discarded).
fn close_split(root: &Path, day: i64, writer: IndexWriter<TantivyDocument>) -> Result<(), IndexError> {
    writer.wait_merging_threads().map_err(|source| IndexError::Tantivy { path: root.join(day_name(day)), source })
}

/// The day splits under `root` (`DIR/index`), oldest first.
pub fn list_splits(root: &Path) -> Result<Vec<(String, PathBuf)>, IndexError> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(IndexError::Io { path: root.to_owned(), source }),
    };
    let mut splits = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| IndexError::Io { path: root.to_owned(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() == 10 && entry.path().join("meta.json").exists() {
            splits.push((name, entry.path()));
        }
    }
    splits.sort();
    Ok(splits)
}

/// Deletes from every split the documents of batches after `last_committed`
/// and commits; returns how many splits changed. Run before ingesting, with
/// the batch number from the data directory's manifest.
pub fn rollback_batches_after(root: &Path, fields: &IndexFields, last_committed: u64) -> Result<usize, IndexError> {
    let mut changed = 0;
    for (_, path) in list_splits(root)? {
        let tantivy = |source| IndexError::Tantivy { path: path.clone(), source };
        let index = open_for_writing(&path)?;
        let committed_payload = index.load_metas().map_err(tantivy)?.payload;
        let split_batch = committed_payload.as_deref().and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
        if split_batch <= last_committed {
            continue;
        }
        let mut writer: IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, MIN_MEMORY_BUDGET_PER_THREAD).map_err(tantivy)?;
        let after = Term::from_field_u64(fields.batch, last_committed);
        writer.delete_query(Box::new(RangeQuery::new(Bound::Excluded(after), Bound::Unbounded))).map_err(tantivy)?;
        let mut prepared = writer.prepare_commit().map_err(tantivy)?;
        prepared.set_payload(&last_committed.to_string());
        prepared.commit().map_err(tantivy)?;
        writer.wait_merging_threads().map_err(tantivy)?;
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sluice_schemas::{CompiledSchema, Normalizer, NormalizerConfig, Schema, Timestamp};
    use tantivy::collector::Count;
    use tantivy::query::QueryParser;

    use super::*;

    fn records(lines: &[&str]) -> Vec<Record<'static>> {
        let mut n = Normalizer::new(Arc::new(CompiledSchema::new(Schema::builtin())), NormalizerConfig::default());
        lines.iter().map(|l| n.normalize_owned(l.as_bytes(), Timestamp::from_nanos(0)).unwrap()).collect()
    }

    /// Count of `query` over every split, as the query crate will do it.
    fn count(root: &Path, fields: &IndexFields, query: &str) -> usize {
        list_splits(root)
            .unwrap()
            .into_iter()
            .map(|(_, path)| {
                let index = Index::open_in_dir(path).unwrap();
                let parser = QueryParser::for_index(&index, vec![fields.message, fields.attributes]);
                let query = parser.parse_query(query).unwrap();
                index.reader().unwrap().searcher().search(&query, &Count).unwrap()
            })
            .sum()
    }

    const LINES: [&str; 4] = [
        r#"{"time":"2024-03-01T23:59:59Z","level":"error","msg":"connection refused","service":"sshd","http":{"status":500},"user":"Steve"}"#,
        r#"{"time":"2024-03-02T00:00:01Z","level":"info","msg":"connection accepted","service":"sshd"}"#,
        r#"{"time":"2024-03-02T10:00:00Z","level":"warn","msg":"disk almost full","service":"kernel","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
        r#"{"time":"2024-03-02T11:00:00Z","level":"info","msg":"ok","service":"api"}"#,
    ];

    #[test]
    fn day_splits_term_and_json_path_queries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        let fields = IndexFields::new(&Schema::builtin());
        let mut writers = SplitWriters::new(&root, fields.clone(), 20_000_000, 1);
        for (row, record) in records(&LINES).iter().enumerate() {
            writers.add(record, 1, row as u64).unwrap();
        }
        writers.commit(1).unwrap();
        writers.close().unwrap();
        let names: Vec<String> = list_splits(&root).unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["2024-03-01", "2024-03-02"]);
        assert_eq!(count(&root, &fields, "*"), 4);
        assert_eq!(count(&root, &fields, "level:error"), 1);
        assert_eq!(count(&root, &fields, "service:sshd AND connection"), 2);
        assert_eq!(count(&root, &fields, "\"connection refused\""), 1);
        assert_eq!(count(&root, &fields, "trace_id:4bf92f3577b34da6a3ce929d0e0e4736"), 1);
        // Attributes nobody declared, by dotted path, case-insensitively.
        assert_eq!(count(&root, &fields, "http.status:500"), 1);
        assert_eq!(count(&root, &fields, "user:steve"), 1);
        assert_eq!(count(&root, &fields, "notes:timestamp_missing"), 0);
    }

    #[test]
    fn uncommitted_batches_are_rolled_back_in_every_split() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        let fields = IndexFields::new(&Schema::builtin());
        let all = records(&LINES);
        let mut writers = SplitWriters::new(&root, fields.clone(), 20_000_000, 1);
        writers.add(&all[0], 1, 0).unwrap();
        writers.add(&all[1], 1, 0).unwrap();
        writers.commit(1).unwrap();
        // Batch 2 reaches both days' splits but the manifest never records it
        // (as after a crash between the index commit and the manifest write).
        writers.add(&all[2], 2, 0).unwrap();
        writers.add(&all[3], 2, 1).unwrap();
        writers.commit(2).unwrap();
        writers.close().unwrap();
        assert_eq!(count(&root, &fields, "*"), 4);
        assert_eq!(rollback_batches_after(&root, &fields, 1).unwrap(), 1);
        assert_eq!(count(&root, &fields, "*"), 2);
        assert_eq!(count(&root, &fields, "service:kernel OR service:api"), 0);
        // Idempotent: nothing left to roll back.
        assert_eq!(rollback_batches_after(&root, &fields, 1).unwrap(), 0);
    }

    #[test]
    fn uncommitted_documents_vanish_when_the_writer_goes_away() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        let fields = IndexFields::new(&Schema::builtin());
        let all = records(&LINES);
        let mut writers = SplitWriters::new(&root, fields.clone(), 20_000_000, 1);
        writers.add(&all[0], 1, 0).unwrap();
        writers.commit(1).unwrap();
        writers.add(&all[1], 2, 0).unwrap();
        drop(writers); // a crash before commit
        assert_eq!(count(&root, &fields, "*"), 1);
        assert_eq!(day_name(day_of(all[1].timestamp.as_nanos())), "2024-03-02");
    }

    /// A batch spanning more days than `MAX_OPEN_SPLITS` (in day order, as
    /// the pipeline adds them) never holds more writers than that: earlier
    /// days are committed and closed on the way. Every record is indexed
    /// once, and if the manifest never records the batch, rollback removes
    /// it from the splits committed on the way as well.
    #[test]
    fn a_batch_spanning_many_days_keeps_few_writers_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        let fields = IndexFields::new(&Schema::builtin());
        let lines: Vec<String> = (1..=10)
            .map(|day| format!(r#"{{"time":"2024-03-{day:02}T12:00:00Z","msg":"day {day}","service":"backfill"}}"#))
            .collect();
        let all = records(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        let mut writers = SplitWriters::new(&root, fields.clone(), 20_000_000, 1);
        writers.add(&all[0], 1, 0).unwrap();
        writers.commit(1).unwrap();
        let mut most_open = 0;
        for (row, record) in all[1..].iter().enumerate() {
            writers.add(record, 2, row as u64).unwrap();
            most_open = most_open.max(writers.open_splits());
        }
        assert_eq!(most_open, MAX_OPEN_SPLITS);
        writers.commit(2).unwrap();
        writers.close().unwrap();
        assert_eq!(list_splits(&root).unwrap().len(), 10);
        assert_eq!(count(&root, &fields, "*"), 10);
        assert_eq!(count(&root, &fields, "day"), 10);
        // The manifest stopped at batch 1: every split batch 2 reached, the
        // ones committed before the batch ended too, goes back.
        assert_eq!(rollback_batches_after(&root, &fields, 1).unwrap(), 9);
        assert_eq!(count(&root, &fields, "*"), 1);
    }
}
