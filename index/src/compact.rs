//! Compaction: each hour partition's small archive files merged into few
//! large ones, and each day split's segments into one.
//!
//! Ingest writes one Parquet file per batch per hour it touches and one
//! tantivy segment per commit, so a trickle (a batch a second) leaves
//! thousands of tiny files a day, each compressed with little context, and
//! every query opens them all. Compaction rewrites them.
//!
//! **Archive.** A partition is compacted once it is *quiet*: no file in it
//! younger than [`CompactConfig::quiet_for`] and no staged (`.tmp`) file in
//! it, so an hour still being written is left alone. Its live files (see
//! [`crate::archive_files::live_files`]), in batch order, are cut into
//! groups of at most [`CompactConfig::target_file_bytes`] (a new group
//! also starts where the columns change, as after a schema change); each
//! group becomes one file `part-<first>-<last>.parquet`, written at
//! [`CompactConfig::zstd_level`] with bloom filters on `trace_id` and
//! `service`. Rows are re-sorted by service, template, host, then time (`row_order`); a
//! record's `(batch, row)` maps to its new row through the output's batch
//! table and row map, so event references keep working (the module doc of
//! [`crate::archive_files`]). A file already compacted and alone in its
//! group is left as it is.
//!
//! The protocol for one output, each step through [`crate::storage::Storage`]:
//! 1. write it as `<stem>.parquet.tmp`, fsync (fail-point `compact.archive_staged`);
//!    write its row map beside the index, atomically (`compact.row_map_staged`);
//! 2. rename it into place, fsync the directory (`compact.archive_published`):
//!    the commit point. From here readers use it and ignore its inputs;
//! 3. delete the inputs, fsync the directory (`compact.inputs_removed`), then
//!    the row maps of inputs that were compacted files.
//!
//! A crash before 2 leaves a staged file that recovery (and the next
//! compaction) deletes; a crash after 2 leaves superseded inputs that no
//! reader uses and that recovery (and the next compaction) deletes. At no
//! point does a reader see a row twice or miss one.
//!
//! **Index.** A day split whose `meta.json` is quiet and that has more than
//! one segment is merged into one (tantivy's merge, committed through its
//! own `meta.json` swap, fail-point `compact.split_merged` after it). The
//! documents keep their `batch` and `row`, so nothing else changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arrow_array::{Array, BooleanArray, RecordBatch, UInt32Array, UInt64Array};
use arrow_ord::sort::{SortColumn, SortOptions};
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Encoding;
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::schema::types::ColumnPath;
use sluice_schemas::ErrorKind;
use tantivy::{Index, IndexWriter, TantivyDocument, TantivyError};

use crate::archive::{archive_properties, layout_key_value};
use crate::archive_files::{
    ArchiveFileName, BATCHES_KEY, ROW_MAP_EXTENSION, batch_table, encode_row_map, format_batches, live_files,
    read_row_positions, row_map_path, rows_listed, superseded_files,
};
use crate::data_dir::DataDir;
use crate::failpoint;
use crate::lock::WriterLock;
use crate::split_directory::SplitDirectory;
use crate::splits::{MIN_MEMORY_BUDGET_PER_THREAD, list_splits};
use crate::storage::staged_path;

/// Why compaction stopped. What it finished before stays finished.
#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error("compaction: {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("compaction: cannot rewrite archive file {}: {source}", path.display())]
    Parquet { path: PathBuf, source: ParquetError },
    #[error("compaction: {}: {message}", path.display())]
    Damaged { path: PathBuf, message: String },
    #[error("compaction: cannot merge the segments of index split {}: {source}", path.display())]
    Index { path: PathBuf, source: TantivyError },
}

impl CompactError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CompactError::Io { .. } | CompactError::Damaged { .. } => ErrorKind::OperatorFixable,
            CompactError::Parquet { source: ParquetError::External(_), .. } => ErrorKind::OperatorFixable,
            CompactError::Index { source: TantivyError::IoError(_), .. } => ErrorKind::OperatorFixable,
            CompactError::Index { source: TantivyError::LockFailure(..), .. } => ErrorKind::OperatorFixable,
            CompactError::Parquet { .. } | CompactError::Index { .. } => ErrorKind::Fatal,
        }
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CompactError + '_ {
        move |source| CompactError::Io { path: path.to_owned(), source }
    }

    fn parquet(path: &Path) -> impl FnOnce(ParquetError) -> CompactError + '_ {
        move |source| CompactError::Parquet { path: path.to_owned(), source }
    }
}

/// What to compact and how.
#[derive(Clone, Debug)]
pub struct CompactConfig {
    /// Most bytes (of input files) merged into one output file.
    pub target_file_bytes: u64,
    /// zstd level of the rewritten files (ingest writes at 3, for speed;
    /// compaction runs once per file, in the background, so it can afford
    /// more).
    pub zstd_level: i32,
    /// Partitions and splits written to more recently than this are left
    /// alone: they are still being written.
    pub quiet_for: Duration,
    /// The time "now" is (a parameter so tests can move it).
    pub now: SystemTime,
}

impl Default for CompactConfig {
    fn default() -> CompactConfig {
        CompactConfig {
            target_file_bytes: DEFAULT_TARGET_FILE_BYTES,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            quiet_for: Duration::ZERO,
            now: SystemTime::now(),
        }
    }
}

/// 64 MiB of input files a compacted file: an hour of a busy stream (about
/// 1 GB of logs) in one file, while the rows of one output, sorted in
/// memory, take about 10-15× their compressed bytes.
pub const DEFAULT_TARGET_FILE_BYTES: u64 = 64 << 20;

/// See `benches/compaction.sh` for the level's cost and gain.
pub const DEFAULT_ZSTD_LEVEL: i32 = 19;

/// What one compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    pub partitions: usize,
    pub files_read: usize,
    pub files_written: usize,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub rows: u64,
    /// Superseded files left by an interrupted compaction, deleted.
    pub leftovers_removed: usize,
    pub splits_merged: usize,
    pub segments_before: usize,
    pub segments_after: usize,
}

impl std::ops::AddAssign<&CompactReport> for CompactReport {
    /// Sums the reports of several rounds (background compaction).
    fn add_assign(&mut self, other: &CompactReport) {
        self.partitions += other.partitions;
        self.files_read += other.files_read;
        self.files_written += other.files_written;
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.rows += other.rows;
        self.leftovers_removed += other.leftovers_removed;
        self.splits_merged += other.splits_merged;
        self.segments_before += other.segments_before;
        self.segments_after += other.segments_after;
    }
}

/// Compacts the archive, then the index, of a data directory whose writer
/// lock the caller holds (ingest and compaction never write at once).
/// `progress` hears of each partition and split as it is done.
pub fn compact(
    dir: &DataDir,
    config: &CompactConfig,
    writer: &WriterLock,
    progress: &mut dyn FnMut(&str),
) -> Result<CompactReport, CompactError> {
    let mut report = CompactReport::default();
    compact_archive(dir, config, writer, &mut report, progress)?;
    merge_splits(dir, config, writer, &mut report, progress)?;
    Ok(report)
}

/// The archive half of [`compact`].
pub fn compact_archive(
    dir: &DataDir,
    config: &CompactConfig,
    _writer: &WriterLock,
    report: &mut CompactReport,
    progress: &mut dyn FnMut(&str),
) -> Result<(), CompactError> {
    for partition in dir
        .archive_partitions()
        .map_err(|error| CompactError::Damaged { path: dir.archive(), message: error.to_string() })?
    {
        let files = dir.storage().list(&partition).map_err(CompactError::io(&partition))?;
        report.leftovers_removed +=
            remove_superseded(dir, &partition, &files).map_err(|(path, source)| CompactError::Io { path, source })?;
        if files.iter().any(|path| path.extension().is_some_and(|e| e == "tmp")) {
            continue; // a batch is being committed here
        }
        let live = live_files(&files);
        let mut inputs = Vec::with_capacity(live.len());
        let mut newest = SystemTime::UNIX_EPOCH;
        for path in live {
            let Some(name) = ArchiveFileName::parse(&path) else { continue };
            let metadata = std::fs::metadata(&path).map_err(CompactError::io(&path))?;
            newest = newest.max(metadata.modified().map_err(CompactError::io(&path))?);
            inputs.push(Input { path, name, bytes: metadata.len(), schema: None });
        }
        let quiet = config.now.duration_since(newest).is_ok_and(|age| age >= config.quiet_for);
        if inputs.is_empty() || !quiet {
            continue;
        }
        inputs.sort_by_key(|input| input.name.range());
        for input in &mut inputs {
            input.schema = Some(file_schema(&input.path)?);
        }
        let mut compacted_any = false;
        for group in groups(inputs, config.target_file_bytes) {
            if let [only] = group.as_slice()
                && only.name.is_compacted()
            {
                continue;
            }
            let (first, _) = group[0].name.range();
            let (_, last) = group[group.len() - 1].name.range();
            let output = Output {
                name: ArchiveFileName::Compacted { first, last, generation: 0 },
                zstd_level: config.zstd_level,
                step: Step::Compaction,
            };
            let written = rewrite(dir, &partition, &group, &output, None)?;
            report.files_read += group.len();
            report.files_written += usize::from(written.file.is_some());
            report.rows += written.rows;
            report.bytes_written += written.bytes;
            report.bytes_read += group.iter().map(|input| input.bytes).sum::<u64>();
            compacted_any = true;
        }
        if compacted_any {
            report.partitions += 1;
            progress(&partition.strip_prefix(dir.archive()).unwrap_or(&partition).display().to_string());
        }
    }
    Ok(())
}

/// One archive file to merge.
pub(crate) struct Input {
    pub(crate) path: PathBuf,
    pub(crate) name: ArchiveFileName,
    pub(crate) bytes: u64,
    pub(crate) schema: Option<SchemaRef>,
}

impl Input {
    /// A published archive file of a partition, its columns read.
    pub(crate) fn open(path: PathBuf) -> Result<Option<Input>, CompactError> {
        let Some(name) = ArchiveFileName::parse(&path) else { return Ok(None) };
        let bytes = std::fs::metadata(&path).map_err(CompactError::io(&path))?.len();
        let schema = Some(file_schema(&path)?);
        Ok(Some(Input { path, name, bytes, schema }))
    }
}

/// What a rewrite writes, and which fail-points it passes.
pub(crate) struct Output {
    pub(crate) name: ArchiveFileName,
    pub(crate) zstd_level: i32,
    pub(crate) step: Step,
}

/// Whose rewrite it is: its fail-points are named after it
/// (`compact.archive_staged`, `retention.archive_staged`, …).
#[derive(Clone, Copy)]
pub(crate) enum Step {
    Compaction,
    Retention,
}

impl Step {
    fn failpoint(self, point: &'static str) -> String {
        match self {
            Step::Compaction => format!("compact.{point}"),
            Step::Retention => format!("retention.{point}"),
        }
    }
}

/// What a rewrite wrote: the file (none when no row was left), its rows
/// and bytes, and the rows it left out.
pub(crate) struct Written {
    pub(crate) file: Option<PathBuf>,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) rows_removed: u64,
}

/// Deletes the files of a partition that a published compaction output
/// supersedes (step 3, finished after a crash), and the row maps no live
/// file has; returns how many archive files.
pub(crate) fn remove_superseded(
    dir: &DataDir,
    partition: &Path,
    files: &[PathBuf],
) -> Result<usize, (PathBuf, std::io::Error)> {
    let storage = dir.storage();
    let superseded = superseded_files(files);
    for path in &superseded {
        storage.remove_file(path).map_err(|error| (path.clone(), error))?;
    }
    if !superseded.is_empty() {
        storage.sync_dir(partition).map_err(|error| (partition.to_owned(), error))?;
    }
    remove_orphan_row_maps(dir, partition)?;
    Ok(superseded.len())
}

/// Deletes the row maps of `partition` whose compacted file is not there:
/// superseded and deleted, or never published (a crash between writing the
/// row map and renaming its file into place).
fn remove_orphan_row_maps(dir: &DataDir, partition: &Path) -> Result<(), (PathBuf, std::io::Error)> {
    let storage = dir.storage();
    let (index, archive) = (dir.index(), dir.archive());
    let Some(maps) = row_map_path(&index, &archive, &partition.join("x.parquet")).parent().map(Path::to_owned) else {
        return Ok(());
    };
    let mut removed = false;
    for map in storage.list(&maps).map_err(|error| (maps.clone(), error))? {
        if map.extension().is_some_and(|e| e == "tmp") {
            // A row map staged by a compaction that stopped before its rename.
            storage.remove_file(&map).map_err(|error| (map.clone(), error))?;
            removed = true;
            continue;
        }
        if map.extension().is_none_or(|e| e != ROW_MAP_EXTENSION) {
            continue;
        }
        let Some(stem) = map.file_stem() else { continue };
        if !partition.join(stem).with_extension("parquet").exists() {
            storage.remove_file(&map).map_err(|error| (map.clone(), error))?;
            removed = true;
        }
    }
    if removed {
        storage.sync_dir(&maps).map_err(|error| (maps.clone(), error))?;
    }
    Ok(())
}

/// A file's columns, without the metadata a reader derives from its footer
/// (an input's batch table and row map must not be carried into the output).
fn file_schema(path: &Path) -> Result<SchemaRef, CompactError> {
    let file = std::fs::File::open(path).map_err(CompactError::io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(CompactError::parquet(path))?;
    Ok(Arc::new(arrow_schema::Schema::new(builder.schema().fields().clone())))
}

/// Consecutive inputs cut where the bytes would pass `target` or the
/// columns change.
fn groups(inputs: Vec<Input>, target: u64) -> Vec<Vec<Input>> {
    let mut groups: Vec<Vec<Input>> = Vec::new();
    let mut bytes = 0;
    for input in inputs {
        let fits = groups.last().is_some_and(|group| {
            let fields = |input: &Input| input.schema.as_ref().map(|schema| schema.fields().clone());
            let same_columns = fields(&group[0]) == fields(&input);
            same_columns && bytes + input.bytes <= target
        });
        if fits {
            bytes += input.bytes;
            if let Some(group) = groups.last_mut() {
                group.push(input);
            }
        } else {
            bytes = input.bytes;
            groups.push(vec![input]);
        }
    }
    groups
}

/// Writes one group as one compacted file and removes its inputs (the
/// module's three steps). With `keep`, only the rows it keeps are written
/// (retention); when none is left, the inputs are only removed.
pub(crate) fn rewrite(
    dir: &DataDir,
    partition: &Path,
    group: &[Input],
    output: &Output,
    keep: Option<&KeepRows<'_>>,
) -> Result<Written, CompactError> {
    let published = partition.join(format!("{}.parquet", output.name.stem()));
    let staged = staged_path(&published);
    let storage = dir.storage();
    let schema = group[0].schema.clone().ok_or_else(|| CompactError::Damaged {
        path: group[0].path.clone(),
        message: "its schema was not read".to_owned(),
    })?;
    let arrow = |error: arrow_schema::ArrowError| CompactError::Parquet { path: staged.clone(), source: error.into() };

    // Every input's rows, in input order, and for each its position in the
    // batch table's order (each batch's rows as ingest numbered them): what
    // the new row map records. A batch file's rows are in that order; a
    // compacted input's row map says where each of its rows came from (with
    // holes where retention removed rows, so positions count what the
    // batch table lists, not the rows read).
    let mut batches = Vec::new();
    let mut parts = Vec::new();
    let mut origins: Vec<u32> = Vec::new();
    let mut listed = 0usize;
    for input in group {
        let file = storage.open_read(&input.path).map_err(CompactError::io(&input.path))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(CompactError::parquet(&input.path))?;
        let rows = builder.metadata().file_metadata().num_rows() as usize;
        let damaged = |message| CompactError::Damaged { path: input.path.clone(), message };
        let (table, positions) = match input.name {
            ArchiveFileName::Batch(batch) => (vec![(batch, rows as u64)], (0..rows as u32).collect()),
            ArchiveFileName::Compacted { .. } => {
                let table = batch_table(builder.metadata()).map_err(damaged)?;
                let row_map = row_map_path(&dir.index(), &dir.archive(), &input.path);
                let positions = read_row_positions(storage, &row_map, rows, rows_listed(&table)).map_err(damaged)?;
                (table, positions)
            }
        };
        let base = u32::try_from(listed).map_err(|_| damaged("more rows than a row map holds".to_owned()))?;
        origins.extend(positions.into_iter().map(|position: u32| base + position));
        listed += rows_listed(&table);
        batches.extend(table);
        let reader = builder.with_batch_size(READ_BATCH_ROWS).build().map_err(CompactError::parquet(&input.path))?;
        for batch in reader {
            let batch = batch.map_err(|e| CompactError::Parquet { path: input.path.clone(), source: e.into() })?;
            parts.push(batch.with_schema(schema.clone()).map_err(arrow)?);
        }
    }
    let mut all = arrow_select::concat::concat_batches(&schema, &parts).map_err(arrow)?;
    drop(parts);
    if origins.len() != all.num_rows() {
        return Err(CompactError::Damaged {
            path: group[0].path.clone(),
            message: format!("read {} rows where the inputs' footers promise {}", all.num_rows(), origins.len()),
        });
    }
    let mut rows_removed = 0;
    if let Some(keep) = keep {
        let kept = keep(&all).map_err(arrow)?;
        all = arrow_select::filter::filter_record_batch(&all, &kept).map_err(arrow)?;
        let before = origins.len();
        origins =
            origins.into_iter().zip(kept.iter()).filter(|(_, kept)| *kept == Some(true)).map(|(o, _)| o).collect();
        rows_removed = (before - origins.len()) as u64;
    }
    if all.num_rows() == 0 {
        remove_inputs(dir, partition, group, output.step)?;
        return Ok(Written { file: None, rows: 0, bytes: 0, rows_removed });
    }
    let order = row_order(&all).map_err(arrow)?;
    let sorted = arrow_select::take::take_record_batch(&all, &order).map_err(arrow)?;
    drop(all);
    let row_origins: Vec<u32> = order.values().iter().map(|&input_row| origins[input_row as usize]).collect();

    let mut properties = archive_properties(output.zstd_level)
        .map_err(CompactError::parquet(&staged))?
        .set_key_value_metadata(Some(vec![
            layout_key_value(),
            KeyValue::new(BATCHES_KEY.to_owned(), format_batches(&batches)),
        ]))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_sorting_columns(Some(sorting_columns(&sorted)));
    for column in ["trace_id", "service"] {
        properties = properties.set_column_bloom_filter_enabled(ColumnPath::from(column), true);
    }
    // Ordered by template within a service, times are no longer rising
    // deltas: plain values under zstd take fewer bytes (see `row_order`).
    for column in ["timestamp", "observed_timestamp"] {
        properties = properties.set_column_encoding(ColumnPath::from(column), Encoding::PLAIN);
    }
    let written = (|| {
        let file = storage.create(&staged).map_err(CompactError::io(&staged))?;
        let mut writer = ArrowWriter::try_new(file, sorted.schema(), Some(properties.build()))
            .map_err(CompactError::parquet(&staged))?;
        writer.write(&sorted).map_err(CompactError::parquet(&staged))?;
        let file = writer.into_inner().map_err(CompactError::parquet(&staged))?;
        file.sync_all().map_err(CompactError::io(&staged))
    })();
    if let Err(error) = written {
        // A full disk, say: what was written of the output goes (best
        // effort; recovery deletes it otherwise), the inputs stay.
        let _ = storage.remove_file(&staged);
        return Err(error);
    }
    failpoint::hit(&output.step.failpoint("archive_staged")).map_err(CompactError::io(&staged))?;

    // The row map, durable before the file it maps is published.
    let row_map = row_map_path(&dir.index(), &dir.archive(), &published);
    if let Some(parent) = row_map.parent() {
        storage.create_dir_all(parent).map_err(CompactError::io(parent))?;
    }
    storage
        .write_atomically(&row_map, &encode_row_map(&row_origins), &output.step.failpoint("row_map_staged"))
        .map_err(|(path, source)| CompactError::Io { path, source })?;

    storage.rename(&staged, &published).map_err(CompactError::io(&published))?;
    storage.sync_dir(partition).map_err(CompactError::io(partition))?;
    failpoint::hit(&output.step.failpoint("archive_published")).map_err(CompactError::io(&published))?;

    remove_inputs(dir, partition, group, output.step)?;
    let bytes = std::fs::metadata(&published).map_err(CompactError::io(&published))?.len();
    Ok(Written { file: Some(published), rows: sorted.num_rows() as u64, bytes, rows_removed })
}

/// For each row of a batch, whether a rewrite keeps it.
pub(crate) type KeepRows<'a> = dyn Fn(&RecordBatch) -> Result<BooleanArray, arrow_schema::ArrowError> + 'a;

/// Step 3: the inputs deleted, then the row maps no live file has.
fn remove_inputs(dir: &DataDir, partition: &Path, group: &[Input], step: Step) -> Result<(), CompactError> {
    let storage = dir.storage();
    for input in group {
        storage.remove_file(&input.path).map_err(CompactError::io(&input.path))?;
    }
    storage.sync_dir(partition).map_err(CompactError::io(partition))?;
    failpoint::hit(&step.failpoint("inputs_removed")).map_err(CompactError::io(partition))?;
    remove_orphan_row_maps(dir, partition).map_err(|(path, source)| CompactError::Io { path, source })
}

/// The order a compacted file's rows are written in: by `service` (nulls
/// first), then message template ([`crate::fields::template_key`]), then
/// `host`, then `timestamp`, then input position (so the order is total
/// and the same in every run). Records of one service share their words,
/// hosts and attribute keys, and records of one template most of their
/// message, so zstd finds far more to reuse than in time order (see
/// `benches/compaction.sh` for the measurements that chose it). Time
/// pruning stays by hour, the partition; a `service = …` predicate skips
/// pages as well.
fn row_order(batch: &RecordBatch) -> Result<UInt32Array, arrow_schema::ArrowError> {
    let position = UInt32Array::from_iter_values(0..batch.num_rows() as u32);
    let ascending = |values: arrow_array::ArrayRef| SortColumn { values, options: Some(SortOptions::default()) };
    let mut columns = Vec::new();
    if let Some(service) = batch.column_by_name("service") {
        columns.push(ascending(service.clone()));
    }
    if let Some(message) = batch.column_by_name("message")
        && let Some(message) = message.as_any().downcast_ref::<arrow_array::StringArray>()
    {
        let templates: UInt64Array =
            message.iter().map(|message| Some(crate::fields::template_key(message.unwrap_or("")))).collect();
        columns.push(ascending(Arc::new(templates)));
    }
    if let Some(host) = batch.column_by_name("host") {
        columns.push(ascending(host.clone()));
    }
    columns.push(ascending(batch.column(0).clone()));
    columns.push(ascending(Arc::new(position)));
    arrow_ord::sort::lexsort_to_indices(&columns, None)
}

/// What a compacted file's footer says of its order: by `service` only,
/// since the template that comes next is no column.
fn sorting_columns(batch: &RecordBatch) -> Vec<SortingColumn> {
    let ascending = |column_idx: usize| SortingColumn {
        column_idx: column_idx as i32,
        descending: false,
        nulls_first: SortOptions::default().nulls_first,
    };
    match batch.schema().index_of("service") {
        Ok(service) => vec![ascending(service)],
        // Without a service column, rows are in template, host, time order.
        Err(_) => Vec::new(),
    }
}

/// Rows per row group of a compacted file: DataFusion, DuckDB and Spark
/// parallelise and prune by row group, and a fetch of one row decodes
/// pages, not groups, so groups can be large.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// Rows per batch read from an input.
const READ_BATCH_ROWS: usize = 64 * 1024;

/// The index half of [`compact`]: each quiet day split with more than one
/// segment merged into one.
pub fn merge_splits(
    dir: &DataDir,
    config: &CompactConfig,
    _writer: &WriterLock,
    report: &mut CompactReport,
    progress: &mut dyn FnMut(&str),
) -> Result<(), CompactError> {
    let index_root = dir.index();
    let splits = list_splits(&index_root)
        .map_err(|error| CompactError::Damaged { path: index_root.clone(), message: error.to_string() })?;
    for (day, path) in splits {
        let meta = path.join("meta.json");
        let modified = std::fs::metadata(&meta).and_then(|m| m.modified()).map_err(CompactError::io(&meta))?;
        if config.now.duration_since(modified).map_or(true, |age| age < config.quiet_for) {
            continue;
        }
        let tantivy = |source| CompactError::Index { path: path.clone(), source };
        let directory = SplitDirectory::open(&path).map_err(|error| tantivy(error.into()))?;
        let index = Index::open(directory).map_err(tantivy)?;
        let segments = index.searchable_segment_ids().map_err(tantivy)?;
        if segments.len() <= 1 {
            continue;
        }
        let mut writer: IndexWriter<TantivyDocument> =
            match index.writer_with_num_threads(1, MIN_MEMORY_BUDGET_PER_THREAD) {
                Ok(writer) => writer,
                // Ingest in this process has the day open: it is not done.
                Err(TantivyError::LockFailure(..)) => continue,
                Err(error) => return Err(tantivy(error)),
            };
        // Merges only: the policy must not start others meanwhile.
        writer.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
        let merge = writer.merge(&segments);
        merge.wait().map_err(tantivy)?;
        writer.wait_merging_threads().map_err(tantivy)?;
        failpoint::hit("compact.split_merged").map_err(CompactError::io(&path))?;
        let after = index.searchable_segment_ids().map_err(tantivy)?.len();
        report.splits_merged += 1;
        report.segments_before += segments.len();
        report.segments_after += after;
        progress(&format!("index/{day}"));
    }
    Ok(())
}
