//! Retention: records dropped once their day is past the horizon, whole
//! days at a time, or one service's records of a day at a time.
//!
//! A day goes when all of it is older than the retention (`--retention
//! 30d`: the day 2024-03-01 goes at 2024-04-01T00:00:00Z, when its last
//! instant is 30 days old). A day is the unit because it is the index's:
//! one split a day, and an archive hour whose index split still pointed
//! into it could not be dropped alone.
//!
//! A schema file may give services their own retention
//! (`[retention.services]`, `nginx-debug = "3d"`, `audit = "400d"`): the
//! records of such a service go when their day is that far past, the
//! others at the default's horizon (never, without `--retention`). While
//! some of a day's records stay, the others are removed from inside it
//! ([`Doomed`]):
//! 1. the index documents, by a delete query on `service`, committed with
//!    the split's batch payload kept, then the split merged so the bytes go
//!    too (fail-point `retention.records_deleted` after the commit);
//! 2. each archive file holding such rows (the `service` column read to
//!    tell) rewritten without them through compaction's protocol, as the
//!    next generation of itself (`part-<first>-<last>-<generation>`,
//!    fail-points `retention.archive_staged`, `retention.row_map_staged`,
//!    `retention.archive_published`, `retention.inputs_removed`). Its row
//!    map keeps a hole where each removed row was, so a reference to one
//!    says it is past the retention.
//!
//! Each step finds its own work again from the data, so a crash anywhere
//! is finished by the next run: the index first, so no search finds a
//! record whose row is gone.
//!
//! The writer records the policy in `DIR/retention.json` (atomically), so
//! readers (`sluice stats`) can say what goes next and when.
//!
//! The protocol for a whole day, each step through [`Storage`]:
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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use arrow_array::{Array, BooleanArray, RecordBatch};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use tantivy::collector::Count;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Index, IndexWriter, TantivyDocument, TantivyError, Term};

use crate::archive_files::live_files;
use crate::compact::{CompactError, Input, Output, Step, rewrite};
use crate::data_dir::DataDir;
use crate::failpoint;
use crate::lock::WriterLock;
use crate::split_directory::SplitDirectory;
use crate::splits::{MIN_MEMORY_BUDGET_PER_THREAD, list_splits, parse_day};
use crate::storage::Storage;

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// Why retention stopped. What it finished before stays finished.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("retention: {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("retention: {} is not valid: {source}; write it again with `--retention`", path.display())]
    Policy { path: PathBuf, source: serde_json::Error },
    #[error("retention: cannot remove expired records from index split {}: {source}", path.display())]
    Index { path: PathBuf, source: TantivyError },
    #[error("retention: {0}")]
    Archive(#[from] CompactError),
}

impl RetentionError {
    pub fn kind(&self) -> sluice_schemas::ErrorKind {
        match self {
            RetentionError::Archive(error) => error.kind(),
            RetentionError::Index { source: TantivyError::IoError(_) | TantivyError::LockFailure(..), .. } => {
                sluice_schemas::ErrorKind::OperatorFixable
            }
            RetentionError::Index { .. } => sluice_schemas::ErrorKind::Fatal,
            RetentionError::Io { .. } | RetentionError::Policy { .. } => sluice_schemas::ErrorKind::OperatorFixable,
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RetentionError + '_ {
        move |source| RetentionError::Io { path: path.to_owned(), source }
    }
}

/// How long records are kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Seconds a day is kept after its end (`--retention`); `None`: forever,
    /// but for the services named in `services`.
    pub keep_seconds: Option<u64>,
    /// Seconds the records of these services are kept after their day's
    /// end, whatever `keep_seconds` says (a schema file's
    /// `[retention.services]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, u64>,
}

impl Retention {
    /// The default retention alone.
    pub fn new(keep: Duration) -> Retention {
        Retention { keep_seconds: Some(keep.as_secs()), services: BTreeMap::new() }
    }

    /// `--retention` (if given) with a schema's per-service retention;
    /// `None` when neither says anything, and records are kept forever.
    pub fn with_services(keep: Option<Duration>, services: &BTreeMap<String, Duration>) -> Option<Retention> {
        let services: BTreeMap<String, u64> =
            services.iter().map(|(service, keep)| (service.clone(), keep.as_secs())).collect();
        (keep.is_some() || !services.is_empty())
            .then(|| Retention { keep_seconds: keep.map(|keep| keep.as_secs()), services })
    }

    /// When `day` (days since the epoch) goes as a whole: its end plus the
    /// default retention; `None` when the default keeps it forever.
    pub fn expires_at(&self, day: i64) -> Option<SystemTime> {
        self.keep_seconds.and_then(|keep| horizon(day, keep))
    }

    /// Which records of `day` are past their horizon at `now`; `None` when
    /// none is.
    pub fn doomed(&self, day: i64, now: SystemTime) -> Option<Doomed> {
        let past = |keep: u64| horizon(day, keep).is_some_and(|at| at <= now);
        let services = |expired: bool| -> BTreeSet<String> {
            self.services.iter().filter(|(_, keep)| past(**keep) == expired).map(|(name, _)| name.clone()).collect()
        };
        let (expired, kept) = (services(true), services(false));
        if self.keep_seconds.is_some_and(past) {
            Some(if kept.is_empty() { Doomed::Day } else { Doomed::AllBut(kept) })
        } else {
            (!expired.is_empty()).then_some(Doomed::Services(expired))
        }
    }

    /// The times the records of `day` go, soonest first, each with what
    /// goes then.
    fn schedule(&self, day: i64) -> Vec<(SystemTime, Doomed)> {
        let mut times: Vec<SystemTime> =
            self.services.values().copied().chain(self.keep_seconds).filter_map(|keep| horizon(day, keep)).collect();
        times.sort();
        times.dedup();
        let mut schedule = Vec::new();
        let mut gone = BTreeSet::new();
        for at in times {
            let Some(doomed) = self.doomed(day, at) else { continue };
            // What goes at `at` and did not go before.
            let now_gone = match doomed {
                Doomed::Services(services) => {
                    Doomed::Services(services.into_iter().filter(|service| !gone.contains(service)).collect())
                }
                other => other,
            };
            if let Doomed::Services(services) = &now_gone {
                gone.extend(services.iter().cloned());
            }
            schedule.push((at, now_gone));
        }
        schedule
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

/// When records of `day` kept `keep` seconds go; `None` past the end of
/// time (`"200000000000000d"`): never.
fn horizon(day: i64, keep: u64) -> Option<SystemTime> {
    day_end(day).checked_add(Duration::from_secs(keep))
}

fn day_end(day: i64) -> SystemTime {
    let end_nanos = (day + 1).saturating_mul(NANOS_PER_DAY);
    SystemTime::UNIX_EPOCH + Duration::from_nanos(end_nanos.max(0) as u64)
}

/// Which records of a day retention removes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Doomed {
    /// The whole day.
    Day,
    /// The records of these services (theirs is shorter than the default).
    Services(BTreeSet<String>),
    /// Every record but those of these services (the default's horizon is
    /// past, theirs is not).
    AllBut(BTreeSet<String>),
}

impl Doomed {
    /// Whether a record of `service` goes (a record without a service
    /// follows the default).
    pub fn matches(&self, service: Option<&str>) -> bool {
        match self {
            Doomed::Day => true,
            Doomed::Services(services) => service.is_some_and(|service| services.contains(service)),
            Doomed::AllBut(kept) => service.is_none_or(|service| !kept.contains(service)),
        }
    }

    /// The index query for the documents that go.
    fn query(&self, service: tantivy::schema::Field) -> Box<dyn Query> {
        let term = |name: &String| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(service, name), IndexRecordOption::Basic))
        };
        match self {
            Doomed::Day => Box::new(AllQuery),
            Doomed::Services(services) => {
                Box::new(BooleanQuery::new(services.iter().map(|name| (Occur::Should, term(name))).collect()))
            }
            Doomed::AllBut(kept) => Box::new(BooleanQuery::new(
                std::iter::once((Occur::Must, Box::new(AllQuery) as Box<dyn Query>))
                    .chain(kept.iter().map(|name| (Occur::MustNot, term(name))))
                    .collect(),
            )),
        }
    }
}

impl std::fmt::Display for Doomed {
    /// `the day`, `service nginx-debug`, `every service but audit`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |services: &BTreeSet<String>| services.iter().cloned().collect::<Vec<_>>().join(", ");
        match self {
            Doomed::Day => f.write_str("the whole day"),
            Doomed::Services(services) if services.len() == 1 => write!(f, "service {}", list(services)),
            Doomed::Services(services) => write!(f, "services {}", list(services)),
            Doomed::AllBut(kept) => write!(f, "every service but {}", list(kept)),
        }
    }
}

/// What goes next: a day, when, and which of its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextExpiry {
    pub day: String,
    pub at: SystemTime,
    pub doomed: Doomed,
}

/// What goes next and when: the soonest step of the oldest days' schedules
/// that still has records to remove (a service's records already removed
/// from a day are not announced again).
pub fn next_expiry(dir: &DataDir, retention: &Retention) -> Result<Option<NextExpiry>, RetentionError> {
    let mut soonest: Option<NextExpiry> = None;
    for (name, day) in days(dir)? {
        if soonest.as_ref().is_some_and(|next| next.at <= day_end(day)) {
            break; // later days' steps all come after it
        }
        for (at, doomed) in retention.schedule(day) {
            if soonest.as_ref().is_some_and(|next| next.at <= at) {
                break;
            }
            if matches!(doomed, Doomed::Day) || count_in_split(dir, &name, &doomed)? > 0 {
                soonest = Some(NextExpiry { day: name.clone(), at, doomed });
                break;
            }
        }
    }
    Ok(soonest)
}

/// How many documents of a day split `doomed` matches (0 without a split).
fn count_in_split(dir: &DataDir, name: &str, doomed: &Doomed) -> Result<u64, RetentionError> {
    let path = dir.index().join(name);
    if !path.join("meta.json").exists() {
        return Ok(0);
    }
    let index = open_split(&path)?;
    let tantivy = |source| RetentionError::Index { path: path.clone(), source };
    let searcher = index.reader().map_err(tantivy)?.searcher();
    let service = index.schema().get_field("service").map_err(tantivy)?;
    Ok(searcher.search(&*doomed.query(service), &Count).map_err(tantivy)? as u64)
}

fn open_split(path: &Path) -> Result<Index, RetentionError> {
    let tantivy = |source| RetentionError::Index { path: path.to_owned(), source };
    let directory = SplitDirectory::open(path).map_err(|error| tantivy(error.into()))?;
    Index::open(directory).map_err(tantivy)
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
    /// The records removed from inside days, oldest day first.
    pub records: Vec<RecordsRemoved>,
}

impl RetentionReport {
    /// What it did, a line each: `dropped 2024-03-01: past the retention`,
    /// `removed 120 records of service debug from 2024-03-02: past their retention`.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.days.iter().map(|day| format!("dropped {day}: past the retention")).collect();
        for removed in &self.records {
            let count = removed.documents.max(removed.rows);
            lines.push(format!(
                "removed {count} {} of {} from {}: past their retention",
                if count == 1 { "record" } else { "records" },
                removed.doomed,
                removed.day
            ));
        }
        lines
    }
}

/// The records of some services removed from one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordsRemoved {
    pub day: String,
    pub doomed: Doomed,
    /// Index documents deleted.
    pub documents: u64,
    /// Archive rows removed.
    pub rows: u64,
}

/// Removes every record past its horizon at `now`, under the writer lock:
/// whole days, and services' records from inside days. Archive files are
/// rewritten at `zstd_level`.
pub fn apply(
    dir: &DataDir,
    retention: &Retention,
    now: SystemTime,
    zstd_level: i32,
    _writer: &WriterLock,
) -> Result<RetentionReport, RetentionError> {
    finish_interrupted(dir)?;
    let mut report = RetentionReport::default();
    for (name, day) in days(dir)? {
        // Days are oldest first, and what is past for a day is past for
        // every older one.
        let Some(doomed) = retention.doomed(day, now) else { break };
        if doomed == Doomed::Day {
            drop_day(dir, &name)?;
            report.days.push(name);
            continue;
        }
        match remove_records(dir, &name, &doomed, zstd_level)? {
            Removal::DayEmptied => {
                drop_day(dir, &name)?;
                report.days.push(name);
            }
            Removal::Busy => {} // ingest in this process has the day open: the next round
            Removal::Removed { documents, rows } => {
                if documents > 0 || rows > 0 {
                    report.records.push(RecordsRemoved { day: name, doomed, documents, rows });
                }
            }
        }
    }
    Ok(report)
}

enum Removal {
    /// Nothing of the day would be left: it goes whole instead.
    DayEmptied,
    /// Its split is open for writing elsewhere in this process.
    Busy,
    Removed {
        documents: u64,
        rows: u64,
    },
}

/// The module's two steps for the records `doomed` matches in one day.
fn remove_records(dir: &DataDir, name: &str, doomed: &Doomed, zstd_level: i32) -> Result<Removal, RetentionError> {
    let path = dir.index().join(name);
    let mut documents = 0;
    if path.join("meta.json").exists() {
        let index = open_split(&path)?;
        let tantivy = |source| RetentionError::Index { path: path.clone(), source };
        let service = index.schema().get_field("service").map_err(tantivy)?;
        let query = doomed.query(service);
        let searcher = index.reader().map_err(tantivy)?.searcher();
        documents = searcher.search(&*query, &Count).map_err(tantivy)? as u64;
        if documents > 0 && documents == searcher.num_docs() {
            return Ok(Removal::DayEmptied);
        }
        if documents > 0 {
            let mut writer: IndexWriter<TantivyDocument> =
                match index.writer_with_num_threads(1, MIN_MEMORY_BUDGET_PER_THREAD) {
                    Ok(writer) => writer,
                    Err(TantivyError::LockFailure(..)) => return Ok(Removal::Busy),
                    Err(error) => return Err(tantivy(error)),
                };
            writer.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
            // The split's payload is the last batch it holds: recovery
            // reads it, so it is kept as it is.
            let payload = index.load_metas().map_err(tantivy)?.payload;
            writer.delete_query(query).map_err(tantivy)?;
            let mut prepared = writer.prepare_commit().map_err(tantivy)?;
            if let Some(payload) = &payload {
                prepared.set_payload(payload);
            }
            prepared.commit().map_err(tantivy)?;
            failpoint::hit("retention.records_deleted").map_err(RetentionError::io(&path))?;
            // Deleted documents keep their bytes until their segment is
            // merged: merge them away now.
            let segments = index.searchable_segment_ids().map_err(tantivy)?;
            writer.merge(&segments).wait().map_err(tantivy)?;
            writer.wait_merging_threads().map_err(tantivy)?;
        }
    }
    let rows = remove_archive_rows(dir, name, doomed, zstd_level)?;
    Ok(Removal::Removed { documents, rows })
}

/// Step 2: each live archive file of the day holding rows `doomed` matches
/// rewritten without them; returns the rows removed.
fn remove_archive_rows(dir: &DataDir, name: &str, doomed: &Doomed, zstd_level: i32) -> Result<u64, RetentionError> {
    let storage = dir.storage();
    let day = dir.archive().join(format!("date={name}"));
    let mut removed = 0;
    for partition in storage.list(&day).map_err(RetentionError::io(&day))? {
        if !partition.is_dir() {
            continue;
        }
        let files = storage.list(&partition).map_err(RetentionError::io(&partition))?;
        crate::compact::remove_superseded(dir, &partition, &files)
            .map_err(|(path, source)| RetentionError::Io { path, source })?;
        for path in live_files(&files) {
            if !holds_doomed_rows(&path, doomed)? {
                continue;
            }
            let Some(input) = Input::open(path)? else { continue };
            let output = Output { name: input.name.rewritten(), zstd_level, step: Step::Retention };
            let keep = |batch: &RecordBatch| keep_mask(batch, doomed);
            removed += rewrite(dir, &partition, &[input], &output, Some(&keep))?.rows_removed;
        }
    }
    Ok(removed)
}

/// Whether an archive file has a row `doomed` matches: its `service`
/// column read alone (dictionary-encoded, and sorted once compacted, so a
/// few pages).
fn holds_doomed_rows(path: &Path, doomed: &Doomed) -> Result<bool, RetentionError> {
    let parquet = |source: parquet::errors::ParquetError| CompactError::Parquet { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(RetentionError::io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), ["service"]);
    for batch in builder.with_projection(mask).build().map_err(parquet)? {
        let batch = batch.map_err(|error| parquet(error.into()))?;
        let kept = keep_mask(&batch, doomed).map_err(|error| parquet(error.into()))?;
        if kept.false_count() > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// For each row, whether it stays.
fn keep_mask(batch: &RecordBatch, doomed: &Doomed) -> Result<BooleanArray, arrow_schema::ArrowError> {
    let Some(service) = batch.column_by_name("service") else {
        // No service column: every record follows the default.
        return Ok(BooleanArray::from(vec![!doomed.matches(None); batch.num_rows()]));
    };
    let service = service.as_any().downcast_ref::<arrow_array::StringArray>().ok_or_else(|| {
        arrow_schema::ArrowError::SchemaError(format!("service is {}, not text", service.data_type()))
    })?;
    Ok(service.iter().map(|service| Some(!doomed.matches(service))).collect())
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
        assert_eq!(at, Some(expected));
        assert_eq!(retention.doomed(day, expected - Duration::from_nanos(1)), None);
        assert_eq!(retention.doomed(day, expected), Some(Doomed::Day));
    }

    #[test]
    fn services_go_at_their_own_horizon_and_the_rest_at_the_default() {
        let days = |n: u64| Duration::from_secs(n * 86_400);
        let services = BTreeMap::from([("debug".to_owned(), days(2)), ("audit".to_owned(), days(10))]);
        let retention = Retention::with_services(Some(days(5)), &services).unwrap();
        let day = parse_day("2024-03-01").unwrap();
        let at = |date: &str| {
            let day = parse_day(date).unwrap();
            SystemTime::UNIX_EPOCH + Duration::from_nanos((day * NANOS_PER_DAY) as u64)
        };
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(retention.doomed(day, at("2024-03-03")), None);
        assert_eq!(retention.doomed(day, at("2024-03-04")), Some(Doomed::Services(set(&["debug"]))));
        assert_eq!(retention.doomed(day, at("2024-03-07")), Some(Doomed::AllBut(set(&["audit"]))));
        assert_eq!(retention.doomed(day, at("2024-03-12")), Some(Doomed::Day));
        assert_eq!(
            retention.schedule(day),
            [
                (at("2024-03-04"), Doomed::Services(set(&["debug"]))),
                (at("2024-03-07"), Doomed::AllBut(set(&["audit"]))),
                (at("2024-03-12"), Doomed::Day),
            ]
        );
        let doomed = Doomed::AllBut(set(&["audit"]));
        assert!(doomed.matches(None) && doomed.matches(Some("api")) && !doomed.matches(Some("audit")));
        // Without a default, only the services named ever go, and a day
        // never goes whole.
        let only_debug = Retention::with_services(None, &services).unwrap();
        assert_eq!(only_debug.doomed(day, at("2030-01-01")), Some(Doomed::Services(set(&["audit", "debug"]))));
        assert_eq!(only_debug.expires_at(day), None);
        assert_eq!(Retention::with_services(None, &BTreeMap::new()), None);
        // A horizon past the end of time never comes, and does not panic.
        let forever = Retention::with_services(Some(days(200_000_000_000_000)), &services).unwrap();
        assert_eq!(forever.expires_at(day), None);
        assert_eq!(forever.doomed(day, at("2024-03-07")), Some(Doomed::Services(set(&["debug"]))));
        assert_eq!(forever.schedule(day).len(), 2);
        // A policy stored before per-service retention still reads.
        let old: Retention = serde_json::from_str(r#"{"keep_seconds":172800}"#).unwrap();
        assert_eq!(old, Retention::new(days(2)));
    }
}
