//! The Parquet archive: every accepted record, one row each, in
//! `DIR/archive/date=YYYY-MM-DD/hour=HH/<stem>.parquet` (Hive partitioning,
//! which DuckDB, pyarrow and Spark read as they are).
//!
//! Columns are named as the canonical record: `timestamp` and
//! `observed_timestamp` as UTC nanosecond timestamps, `level`,
//! `severity_number`, `message`, `service`, `host`, `trace_id`, `span_id`,
//! `attributes` (one JSON object as a string), then each declared schema
//! field as a typed column, then `notes` (JSON, null when none) and
//! `producer`. zstd throughout; dictionary encoding on (it pays for
//! `level`, `service`, `host`, `producer`); page statistics on; rows sorted
//! by `timestamp` within a file, and the file says so in its metadata.
//!
//! Contract for callers: [`ArchiveWriter::write`] leaves files under a
//! `.parquet.tmp` name, fsync'd; nothing is visible to readers until
//! [`StagedFile::publish`] renames it. The ingest pipeline publishes only
//! after the matching index commit, so index and archive agree after a crash.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder, UInt8Builder,
    UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, SortingColumn};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use sluice_schemas::{ErrorKind, FieldType, Record, Schema, TypedValue};

use crate::data_dir::{ARCHIVE_LAYOUT_KEY, ARCHIVE_LAYOUT_VERSION};
use crate::failpoint;
use crate::storage::{Storage, staged_path};

/// Why writing the archive failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot write archive file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot encode archive file {}: {source}", path.display())]
    Parquet { path: PathBuf, source: ParquetError },
    #[error("cannot build archive batch: {0}")]
    Arrow(#[from] ArrowError),
}

impl ArchiveError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ArchiveError::Io { .. } => ErrorKind::OperatorFixable,
            ArchiveError::Parquet { source: ParquetError::External(_), .. } => ErrorKind::OperatorFixable,
            ArchiveError::Parquet { .. } | ArchiveError::Arrow(_) => ErrorKind::Fatal,
        }
    }
}

/// The archive's column layout for one schema.
#[derive(Debug)]
pub struct ArchiveLayout {
    arrow_schema: SchemaRef,
    declared: Vec<(Arc<str>, FieldType)>,
}

fn utc_nanos() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

impl ArchiveLayout {
    pub fn new(schema: &Schema) -> ArchiveLayout {
        let declared: Vec<(Arc<str>, FieldType)> =
            schema.extra_fields().filter(|f| f.deprecated.is_none()).map(|f| (f.name.clone(), f.field_type)).collect();
        let mut fields = vec![
            Field::new("timestamp", utc_nanos(), false),
            Field::new("observed_timestamp", utc_nanos(), false),
            Field::new("level", DataType::Utf8, true),
            Field::new("severity_number", DataType::UInt8, true),
            Field::new("message", DataType::Utf8, true),
            Field::new("service", DataType::Utf8, true),
            Field::new("host", DataType::Utf8, true),
            Field::new("trace_id", DataType::Utf8, true),
            Field::new("span_id", DataType::Utf8, true),
            Field::new("attributes", DataType::Utf8, false),
        ];
        for (name, field_type) in &declared {
            let data_type = match field_type {
                FieldType::String | FieldType::Text | FieldType::Ip => DataType::Utf8,
                FieldType::I64 => DataType::Int64,
                FieldType::U64 => DataType::UInt64,
                FieldType::F64 => DataType::Float64,
                FieldType::Bool => DataType::Boolean,
                FieldType::Timestamp => utc_nanos(),
            };
            fields.push(Field::new(name.as_ref(), data_type, true));
        }
        fields.push(Field::new("notes", DataType::Utf8, true));
        fields.push(Field::new("producer", DataType::Utf8, false));
        ArchiveLayout { arrow_schema: Arc::new(ArrowSchema::new(fields)), declared }
    }

    pub fn arrow_schema(&self) -> &SchemaRef {
        &self.arrow_schema
    }
}

enum DeclaredColumn {
    Text(StringBuilder),
    I64(Int64Builder),
    U64(UInt64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Timestamp(TimestampNanosecondBuilder),
}

impl DeclaredColumn {
    fn new(field_type: FieldType) -> DeclaredColumn {
        match field_type {
            FieldType::String | FieldType::Text | FieldType::Ip => DeclaredColumn::Text(StringBuilder::new()),
            FieldType::I64 => DeclaredColumn::I64(Int64Builder::new()),
            FieldType::U64 => DeclaredColumn::U64(UInt64Builder::new()),
            FieldType::F64 => DeclaredColumn::F64(Float64Builder::new()),
            FieldType::Bool => DeclaredColumn::Bool(BooleanBuilder::new()),
            FieldType::Timestamp => DeclaredColumn::Timestamp(TimestampNanosecondBuilder::new().with_timezone("UTC")),
        }
    }

    /// Appends the value, or null when absent. Values were coerced to the
    /// field's type by the normalizer, so a mismatch cannot occur; it is
    /// stored as null defensively.
    fn push(&mut self, value: Option<&TypedValue<'_>>) {
        match (self, value) {
            (DeclaredColumn::Text(b), Some(TypedValue::String(s))) => b.append_value(s),
            (DeclaredColumn::Text(b), Some(TypedValue::Ip(ip))) => b.append_value(ip.to_string()),
            (DeclaredColumn::I64(b), Some(TypedValue::I64(n))) => b.append_value(*n),
            (DeclaredColumn::U64(b), Some(TypedValue::U64(n))) => b.append_value(*n),
            (DeclaredColumn::F64(b), Some(TypedValue::F64(n))) => b.append_value(*n),
            (DeclaredColumn::Bool(b), Some(TypedValue::Bool(v))) => b.append_value(*v),
            (DeclaredColumn::Timestamp(b), Some(TypedValue::Timestamp(t))) => b.append_value(t.as_nanos()),
            (DeclaredColumn::Text(b), _) => b.append_null(),
            (DeclaredColumn::I64(b), _) => b.append_null(),
            (DeclaredColumn::U64(b), _) => b.append_null(),
            (DeclaredColumn::F64(b), _) => b.append_null(),
            (DeclaredColumn::Bool(b), _) => b.append_null(),
            (DeclaredColumn::Timestamp(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            DeclaredColumn::Text(b) => Arc::new(b.finish()),
            DeclaredColumn::I64(b) => Arc::new(b.finish()),
            DeclaredColumn::U64(b) => Arc::new(b.finish()),
            DeclaredColumn::F64(b) => Arc::new(b.finish()),
            DeclaredColumn::Bool(b) => Arc::new(b.finish()),
            DeclaredColumn::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

/// Accumulates records into Arrow columns (copying their strings).
pub struct ArchiveBatchBuilder {
    layout: Arc<ArchiveLayout>,
    timestamp: Vec<i64>,
    observed_timestamp: Vec<i64>,
    level: StringBuilder,
    severity_number: UInt8Builder,
    message: StringBuilder,
    service: StringBuilder,
    host: StringBuilder,
    trace_id: StringBuilder,
    span_id: StringBuilder,
    attributes: StringBuilder,
    declared: Vec<DeclaredColumn>,
    notes: StringBuilder,
    producer: StringBuilder,
    json: Vec<u8>,
}

impl ArchiveBatchBuilder {
    pub fn new(layout: Arc<ArchiveLayout>) -> ArchiveBatchBuilder {
        let declared = layout.declared.iter().map(|(_, t)| DeclaredColumn::new(*t)).collect();
        ArchiveBatchBuilder {
            layout,
            timestamp: Vec::new(),
            observed_timestamp: Vec::new(),
            level: StringBuilder::new(),
            severity_number: UInt8Builder::new(),
            message: StringBuilder::new(),
            service: StringBuilder::new(),
            host: StringBuilder::new(),
            trace_id: StringBuilder::new(),
            span_id: StringBuilder::new(),
            attributes: StringBuilder::new(),
            declared,
            notes: StringBuilder::new(),
            producer: StringBuilder::new(),
            json: Vec::with_capacity(1024),
        }
    }

    /// Makes room for `rows` records of about `bytes` of input in all. Only
    /// an empty builder (new or just finished) is resized; otherwise this
    /// does nothing.
    ///
    /// Why: [`ArchiveBatchBuilder::finish_unsorted`] hands its buffers
    /// over and starts again from empty ones, so without a reservation
    /// every chunk regrows its string buffers by doubling, copying them and
    /// faulting in fresh pages each time (a quarter of the pipeline's own
    /// CPU before this was added).
    pub fn reserve(&mut self, rows: usize, bytes: usize) {
        if !self.is_empty() {
            return;
        }
        self.timestamp.reserve(rows);
        self.observed_timestamp.reserve(rows);
        // Messages and attributes are most of a line; the rest are short.
        for text in [&mut self.message, &mut self.attributes] {
            *text = StringBuilder::with_capacity(rows, bytes / 2);
        }
        for short in [&mut self.level, &mut self.service, &mut self.host, &mut self.producer] {
            *short = StringBuilder::with_capacity(rows, rows * 16);
        }
    }

    pub fn len(&self) -> usize {
        self.timestamp.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamp.is_empty()
    }

    pub fn push(&mut self, record: &Record<'_>) {
        self.timestamp.push(record.timestamp.as_nanos());
        self.observed_timestamp.push(record.observed_timestamp.as_nanos());
        self.level.append_option(record.level.map(|l| l.as_str()));
        self.severity_number.append_option(record.severity_number.map(|n| n.get()));
        self.message.append_option(record.message.as_deref());
        self.service.append_option(record.service.as_deref());
        self.host.append_option(record.host.as_deref());
        self.trace_id.append_option(record.trace_id.as_deref());
        self.span_id.append_option(record.span_id.as_deref());
        self.json.clear();
        record.write_attributes_json(&mut self.json);
        self.attributes.append_value(String::from_utf8_lossy(&self.json));
        for ((name, _), column) in self.layout.declared.iter().zip(&mut self.declared) {
            column.push(record.field(name));
        }
        self.json.clear();
        record.write_notes_json(&mut self.json);
        if self.json.is_empty() {
            self.notes.append_null();
        } else {
            self.notes.append_value(String::from_utf8_lossy(&self.json));
        }
        self.producer.append_value(record.producer.as_str());
    }

    /// The rows pushed so far as one batch sorted by `timestamp` (stable:
    /// equal timestamps keep arrival order); the builder is left empty.
    pub fn finish(&mut self) -> Result<RecordBatch, ArchiveError> {
        let unsorted = self.finish_unsorted()?;
        let timestamps = timestamps_of(&unsorted)?;
        let order = sort_order(timestamps.values());
        sorted_batch(&self.layout, &[unsorted], &order)
    }

    /// The rows pushed so far in arrival order; the builder is left empty.
    pub fn finish_unsorted(&mut self) -> Result<RecordBatch, ArchiveError> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(
                arrow_array::TimestampNanosecondArray::from(std::mem::take(&mut self.timestamp)).with_timezone("UTC"),
            ),
            Arc::new(
                arrow_array::TimestampNanosecondArray::from(std::mem::take(&mut self.observed_timestamp))
                    .with_timezone("UTC"),
            ),
            Arc::new(self.level.finish()),
            Arc::new(self.severity_number.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.host.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.span_id.finish()),
            Arc::new(self.attributes.finish()),
        ];
        columns.extend(self.declared.iter_mut().map(DeclaredColumn::finish));
        columns.push(Arc::new(self.notes.finish()));
        columns.push(Arc::new(self.producer.finish()));
        Ok(RecordBatch::try_new(self.layout.arrow_schema.clone(), columns)?)
    }
}

/// The positions of `timestamps` in ascending order; equal timestamps keep
/// their order (a stable sort), so the archive's row order is deterministic.
pub fn sort_order(timestamps: &[i64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..timestamps.len() as u32).collect();
    order.sort_by_key(|&i| timestamps[i as usize]);
    order
}

/// The rows of `parts` (batches of this layout, concatenated) in `order`:
/// `order[k]` is the position, in the concatenation, of the k-th row out.
///
/// One gather straight from the parts (arrow's `interleave`): the rows are
/// copied once, not concatenated first and then taken, which for a 64 MiB
/// batch saved a copy of every column and the page faults of its buffers.
pub fn sorted_batch(layout: &ArchiveLayout, parts: &[RecordBatch], order: &[u32]) -> Result<RecordBatch, ArchiveError> {
    if parts.is_empty() {
        return Ok(RecordBatch::new_empty(layout.arrow_schema.clone()));
    }
    // Where each part starts in the concatenation.
    let mut starts = Vec::with_capacity(parts.len());
    let mut total = 0usize;
    for part in parts {
        starts.push(total);
        total += part.num_rows();
    }
    let indices: Vec<(usize, usize)> = order
        .iter()
        .map(|&position| {
            let position = position as usize;
            let part = starts.partition_point(|&start| start <= position) - 1;
            (part, position - starts[part])
        })
        .collect();
    let parts: Vec<&RecordBatch> = parts.iter().collect();
    Ok(arrow_select::interleave::interleave_record_batch(&parts, &indices)?)
}

fn timestamps_of(batch: &RecordBatch) -> Result<&arrow_array::TimestampNanosecondArray, ArchiveError> {
    batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::TimestampNanosecondArray>()
        .ok_or_else(|| ArchiveError::Arrow(ArrowError::SchemaError("archive column 0 must be the timestamp".into())))
}

/// What a staged file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagedKind {
    Archive,
    DeadLetters,
}

/// A file of a batch written and fsync'd under a temporary name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    pub staged: PathBuf,
    pub published: PathBuf,
    pub kind: StagedKind,
    /// Rows of an archive file; entries (lines) of a dead-letter file.
    pub rows: usize,
}

impl StagedFile {
    /// Renames the file into place and syncs its directory: from here on
    /// readers see it under its published name. Idempotent, so crash
    /// recovery can roll forward.
    pub fn publish(&self, storage: &Storage) -> Result<(), ArchiveError> {
        let io = |source| ArchiveError::Io { path: self.published.clone(), source };
        if self.staged.exists() {
            storage.rename(&self.staged, &self.published).map_err(io)?;
        }
        if let Some(parent) = self.published.parent() {
            storage.sync_dir(parent).map_err(io)?;
        }
        Ok(())
    }
}

/// Writes batches as zstd Parquet files into the archive's partitions.
pub struct ArchiveWriter {
    root: PathBuf,
    storage: Storage,
    properties: WriterProperties,
}

const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

impl ArchiveWriter {
    /// `root` is `DIR/archive`; `zstd_level` 1-22 (3 is zstd's default).
    pub fn new(root: &Path, storage: Storage, zstd_level: i32) -> Result<ArchiveWriter, ArchiveError> {
        let properties = archive_properties(zstd_level)
            .map_err(|source| ArchiveError::Parquet { path: root.to_owned(), source })?
            .set_sorting_columns(Some(vec![SortingColumn { column_idx: 0, descending: false, nulls_first: false }]))
            .set_key_value_metadata(Some(vec![layout_key_value()]))
            .build();
        Ok(ArchiveWriter { root: root.to_owned(), storage, properties })
    }

    /// Writes a timestamp-sorted batch, one file per hour it spans, named
    /// `<stem>.parquet` in its partition, staged but not yet published.
    pub fn write(&self, batch: &RecordBatch, stem: &str) -> Result<Vec<StagedFile>, ArchiveError> {
        let timestamps = timestamps_of(batch)?;
        let values = timestamps.values();
        debug_assert!(values.windows(2).all(|w| w[0] <= w[1]), "batch must be sorted by timestamp");
        let mut staged = Vec::new();
        let mut start = 0;
        while start < values.len() {
            let hour = values[start].div_euclid(NANOS_PER_HOUR);
            let end = start + values[start..].partition_point(|&t| t.div_euclid(NANOS_PER_HOUR) == hour);
            let slice = batch.slice(start, end - start);
            staged.push(self.write_file(&slice, hour, stem)?);
            start = end;
        }
        Ok(staged)
    }

    fn write_file(&self, batch: &RecordBatch, hour: i64, stem: &str) -> Result<StagedFile, ArchiveError> {
        let partition = self.root.join(partition_dir(hour));
        let published = partition.join(format!("{stem}.parquet"));
        let staged_path = staged_path(&published);
        let io = |source| ArchiveError::Io { path: staged_path.clone(), source };
        self.storage.create_dir_all(&partition).map_err(io)?;
        let file = self.storage.create(&staged_path).map_err(io)?;
        let parquet = |source| ArchiveError::Parquet { path: staged_path.clone(), source };
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(self.properties.clone())).map_err(parquet)?;
        writer.write(batch).map_err(parquet)?;
        let file = writer.into_inner().map_err(parquet)?;
        file.sync_all().map_err(io)?;
        failpoint::hit("commit.archive_staged").map_err(io)?;
        Ok(StagedFile { staged: staged_path, published, kind: StagedKind::Archive, rows: batch.num_rows() })
    }
}

/// The `ARCHIVE_LAYOUT_KEY` entry every archive file carries.
pub fn layout_key_value() -> KeyValue {
    KeyValue::new(ARCHIVE_LAYOUT_KEY.to_owned(), ARCHIVE_LAYOUT_VERSION.to_string())
}

/// The writer settings of every archive file, ingest's and compaction's,
/// at `zstd_level` (1-22); the caller adds sorting columns and metadata.
pub fn archive_properties(zstd_level: i32) -> Result<WriterPropertiesBuilder, ParquetError> {
    let level = ZstdLevel::try_new(zstd_level)?;
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(concat!("sluice ", env!("CARGO_PKG_VERSION")).to_owned());
    // Sorted timestamps are small deltas: delta encoding stores them in
    // half the bytes of plain + zstd. Timestamps, messages and
    // attributes are nearly all distinct, so a dictionary would be
    // built only to be abandoned.
    for column in ["timestamp", "observed_timestamp"] {
        properties = properties
            .set_column_dictionary_enabled(ColumnPath::from(column), false)
            .set_column_encoding(ColumnPath::from(column), Encoding::DELTA_BINARY_PACKED);
    }
    for column in ["message", "attributes", "trace_id", "span_id"] {
        properties = properties.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    // Attribute JSON repeats its keys on every row: zstd 9 finds a third
    // more of that than zstd 3 for little CPU. Messages repeat their
    // templates' words and many of their values: zstd 6 stores them in
    // 7.5% fewer bytes than zstd 3 (1 GB corpus: archive 74.6 → 71.3 MB),
    // for CPU lost in the run-to-run noise; zstd 9 gains 1.5% more for
    // about 5% of ingest's CPU.
    Ok(properties
        .set_column_compression(
            ColumnPath::from("attributes"),
            Compression::ZSTD(ZstdLevel::try_new(zstd_level.max(9))?),
        )
        .set_column_compression(ColumnPath::from("message"), Compression::ZSTD(ZstdLevel::try_new(zstd_level.max(6))?)))
}

/// The archive file under `root` (`DIR/archive`) that holds the record
/// with this timestamp written by batch `stem` (see `batch_file_stem`).
pub fn file_path(root: &Path, timestamp_nanos: i64, stem: &str) -> PathBuf {
    root.join(partition_dir(timestamp_nanos.div_euclid(NANOS_PER_HOUR))).join(format!("{stem}.parquet"))
}

/// Each record's row in its hour's archive file, for a batch whose records
/// are taken in `order` (indexes into `timestamps`, sorted by time): rows
/// restart at 0 in each hour, one file per hour (see [`ArchiveWriter::write`]).
pub fn hour_rows(timestamps: &[i64], order: &[u32]) -> Vec<u64> {
    let mut rows = vec![0u64; timestamps.len()];
    let mut hour = i64::MIN;
    let mut row = 0u64;
    for &position in order {
        let record_hour = timestamps[position as usize].div_euclid(NANOS_PER_HOUR);
        if record_hour != hour {
            hour = record_hour;
            row = 0;
        }
        rows[position as usize] = row;
        row += 1;
    }
    rows
}

/// `date=YYYY-MM-DD/hour=HH` for an hour since the epoch.
fn partition_dir(hour: i64) -> PathBuf {
    let text = sluice_schemas::Timestamp::from_nanos(hour.saturating_mul(NANOS_PER_HOUR)).to_string();
    // "YYYY-MM-DDTHH:…"
    PathBuf::from(format!("date={}", &text[..10])).join(format!("hour={}", &text[11..13]))
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use super::*;
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use sluice_schemas::{CompiledSchema, Normalizer, NormalizerConfig, Timestamp};

    fn records(schema: &Schema, lines: &[&str]) -> Vec<Record<'static>> {
        let mut normalizer =
            Normalizer::new(Arc::new(CompiledSchema::new(schema.clone())), NormalizerConfig::default());
        lines
            .iter()
            .map(|l| {
                normalizer.normalize_owned(l.as_bytes(), Timestamp::from_nanos(1_800_000_000_000_000_000)).unwrap()
            })
            .collect()
    }

    #[test]
    fn sorted_batch_gathers_rows_across_parts() {
        let schema = Schema::builtin();
        let layout = Arc::new(ArchiveLayout::new(&schema));
        let mut parts = Vec::new();
        for chunk in [["3", "1"], ["2", "0"]] {
            let mut builder = ArchiveBatchBuilder::new(layout.clone());
            let lines: Vec<String> = chunk.iter().map(|s| format!(r#"{{"ts":170000000{s},"msg":"m{s}"}}"#)).collect();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            for record in records(&schema, &lines) {
                builder.push(&record);
            }
            parts.push(builder.finish_unsorted().unwrap());
        }
        // Positions in the concatenation: m3 m1 | m2 m0.
        let sorted = sorted_batch(&layout, &parts, &[3, 1, 2, 0]).unwrap();
        let message = sorted.column(4).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        let messages: Vec<&str> = (0..message.len()).map(|i| message.value(i)).collect();
        assert_eq!(messages, ["m0", "m1", "m2", "m3"]);
        assert_eq!(sorted_batch(&layout, &[], &[]).unwrap().num_rows(), 0);
    }

    #[test]
    fn partitions_sorted_rows_and_typed_columns() {
        let schema = Schema::from_toml(
            Path::new("t.toml"),
            "[[field]]\nname = \"http.status\"\ntype = \"u64\"\n[[field]]\nname = \"client\"\ntype = \"ip\"\n",
        )
        .unwrap();
        let layout = Arc::new(ArchiveLayout::new(&schema));
        let mut builder = ArchiveBatchBuilder::new(layout.clone());
        let lines = [
            r#"{"time":"2024-03-01T10:59:59.999999999Z","level":"warn","msg":"late","service":"api","http":{"status":503},"client":"10.0.0.1","x":{"y":1}}"#,
            r#"{"time":"2024-03-01T10:00:00.000000001Z","level":"info","msg":"first","service":"api"}"#,
            r#"{"time":"2024-03-01T11:00:00Z","level":"error","msg":"next hour","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}"#,
            r#"{"msg":"no time"}"#,
        ];
        for record in records(&schema, &lines) {
            builder.push(&record);
        }
        assert_eq!(builder.len(), 4);
        let batch = builder.finish().unwrap();
        assert!(builder.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let writer = ArchiveWriter::new(&dir.path().join("archive"), Storage::local(), 3).unwrap();
        let staged = writer.write(&batch, "part-00000000000000000001").unwrap();
        let names: Vec<String> =
            staged.iter().map(|s| s.published.strip_prefix(dir.path()).unwrap().display().to_string()).collect();
        assert_eq!(
            names,
            [
                "archive/date=2024-03-01/hour=10/part-00000000000000000001.parquet",
                "archive/date=2024-03-01/hour=11/part-00000000000000000001.parquet",
                // The record without a time carries the observed time.
                "archive/date=2027-01-15/hour=08/part-00000000000000000001.parquet",
            ]
        );
        // Nothing is visible before publishing.
        assert!(staged.iter().all(|s| s.staged.exists() && !s.published.exists()));
        for file in &staged {
            file.publish(&Storage::local()).unwrap();
            file.publish(&Storage::local()).unwrap(); // idempotent
        }
        let first = File::open(&staged[0].published).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(first).unwrap();
        let metadata = reader.metadata().clone();
        let read: Vec<RecordBatch> = reader.build().unwrap().collect::<Result<_, _>>().unwrap();
        let read = &read[0];
        assert_eq!(read.num_rows(), 2);
        let read_schema = read.schema();
        let column_names: Vec<&str> = read_schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            column_names,
            [
                "timestamp",
                "observed_timestamp",
                "level",
                "severity_number",
                "message",
                "service",
                "host",
                "trace_id",
                "span_id",
                "attributes",
                "http.status",
                "client",
                "notes",
                "producer"
            ]
        );
        assert_eq!(read.schema().field(0).data_type(), &utc_nanos());
        let ts = read.column(0).as_any().downcast_ref::<arrow_array::TimestampNanosecondArray>().unwrap();
        // Sorted within the file, to the nanosecond.
        assert_eq!(ts.values().as_ref(), [1_709_287_200_000_000_001, 1_709_290_799_999_999_999]);
        let message = read.column(4).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        assert_eq!(message.value(0), "first");
        let status = read.column(10).as_any().downcast_ref::<arrow_array::UInt64Array>().unwrap();
        assert!(status.is_null(0));
        assert_eq!(status.value(1), 503);
        let client = read.column(11).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        assert_eq!(client.value(1), "10.0.0.1");
        let attributes = read.column(9).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        assert_eq!(attributes.value(1), r#"{"x.y":1}"#);
        let row_group = metadata.row_group(0);
        // Parquet records the codec, not its level.
        assert!(matches!(row_group.column(0).compression(), Compression::ZSTD(_)));
        assert!(row_group.column(0).statistics().is_some());
        assert_eq!(row_group.sorting_columns().map(|c| c[0].column_idx), Some(0));
    }
}
