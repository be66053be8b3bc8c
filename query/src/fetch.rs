//! Search hits → records, read from the Parquet archive.
//!
//! The index stores no documents; each hit carries its batch and its row
//! in that batch's file for its hour. Hits are grouped by file and each
//! file is read once, only the row ranges needed (parquet's row selection
//! skips the pages in between).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, TimestampNanosecondType, UInt8Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::file::metadata::PageIndexPolicy;
use sluice_index::archive::file_path;
use sluice_index::archive_files::{RowLocation, RowLocator};
use sluice_index::data_dir::{DataDir, batch_file_stem};
use sluice_index::storage::staged_path;
use sluice_schemas::Timestamp;

use crate::error::QueryError;
use crate::store::{Hit, Store};

/// One record as the canonical JSON object (keys in record order: as
/// `sluice-ingest --dry-run` prints them), plus the fields the table shows.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FetchedRecord {
    pub json: String,
    pub timestamp: i64,
    pub level: Option<String>,
    pub service: Option<String>,
    pub host: Option<String>,
    pub span_id: Option<String>,
    pub message: Option<String>,
}

/// The records of `hits`, in the same order.
pub fn fetch(store: &Store, hits: &[Hit]) -> Result<Vec<FetchedRecord>, QueryError> {
    fetch_columns(store, hits, None)
}

/// [`fetch`], reading only `columns` (e.g. `timestamp` and `message` for
/// `patterns`): the other columns' pages are not even read.
///
/// A hit names its batch's file for its hour; once compaction has merged
/// that file, [`RowLocator`] finds the row in the compacted file. A file
/// that vanishes between listing and reading (a compaction finished in
/// between) is looked for again, so a fetch during compaction returns the
/// same records as before and after it.
pub fn fetch_columns(store: &Store, hits: &[Hit], columns: Option<&[&str]>) -> Result<Vec<FetchedRecord>, QueryError> {
    if store.dirs().len() == 1 {
        return fetch_from(&store.dirs()[0], hits, columns);
    }
    // Each data directory's hits from its own archive, then back in order.
    let mut out: Vec<Option<FetchedRecord>> = vec![None; hits.len()];
    for (source, dir) in store.dirs().iter().enumerate() {
        let (positions, own): (Vec<usize>, Vec<Hit>) =
            hits.iter().enumerate().filter(|(_, hit)| usize::from(hit.source) == source).map(|(i, h)| (i, *h)).unzip();
        if own.is_empty() {
            continue;
        }
        for (position, record) in positions.into_iter().zip(fetch_from(dir, &own, columns)?) {
            out[position] = Some(record);
        }
    }
    out.into_iter()
        .zip(hits)
        .map(|(record, hit)| {
            record.ok_or_else(|| QueryError::UnknownRef { event: crate::around::EventRef::of(hit).to_string() })
        })
        .collect()
}

/// [`fetch_columns`] of hits all in `dir`.
fn fetch_from(dir: &DataDir, hits: &[Hit], columns: Option<&[&str]>) -> Result<Vec<FetchedRecord>, QueryError> {
    let mut locator = RowLocator::new(&dir.index(), &dir.archive());
    let mut out: Vec<Option<FetchedRecord>> = vec![None; hits.len()];
    let mut pending: Vec<usize> = (0..hits.len()).collect();
    for attempt in 0..FETCH_ATTEMPTS {
        let mut by_file: BTreeMap<PathBuf, Vec<(u64, usize)>> = BTreeMap::new();
        for &position in &pending {
            let location = locate(dir, &mut locator, &hits[position])?;
            by_file.entry(location.path).or_default().push((location.row, position));
        }
        let mut retry = Vec::new();
        for (path, mut rows) in by_file {
            rows.sort_unstable();
            let file = match dir.storage().open_read(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && attempt + 1 < FETCH_ATTEMPTS => {
                    if let Some(partition) = path.parent() {
                        locator.forget(partition);
                    }
                    retry.extend(rows.iter().map(|(_, position)| *position));
                    continue;
                }
                Err(error) => return Err(QueryError::Archive { path, message: error.to_string() }),
            };
            let records = read_rows(&path, file, &rows.iter().map(|(row, _)| *row).collect::<Vec<_>>(), columns)?;
            for ((_, position), record) in rows.iter().zip(records) {
                out[*position] = Some(record);
            }
        }
        if retry.is_empty() {
            break;
        }
        pending = retry;
    }
    let archive = dir.archive();
    out.into_iter()
        .zip(hits)
        .map(|(record, hit)| {
            record.ok_or_else(|| QueryError::Archive {
                path: file_path(&archive, hit.timestamp, &batch_file_stem(hit.batch)),
                message: format!("row {} is missing", hit.row),
            })
        })
        .collect()
}

/// Compactions a fetch outlasts: each attempt follows the files that the
/// one before found gone.
const FETCH_ATTEMPTS: usize = 4;

/// Where a hit's row is: its batch's file (published, or still staged
/// between the commit's manifest store and its rename), else the compacted
/// file that holds its batch now.
fn locate(dir: &DataDir, locator: &mut RowLocator, hit: &Hit) -> Result<RowLocation, QueryError> {
    let archive = dir.archive();
    let published = file_path(&archive, hit.timestamp, &batch_file_stem(hit.batch));
    let error = |message: String| QueryError::Archive { path: published.clone(), message };
    let Some(partition) = published.parent() else { return Err(error("no partition".to_owned())) };
    let storage = dir.storage();
    for _ in 0..FETCH_ATTEMPTS {
        if let Some(location) =
            locator.locate(storage, partition, hit.batch, hit.row).map_err(|e| error(e.to_string()))?
        {
            return Ok(location);
        }
        let staged = staged_path(&published);
        if staged.exists() {
            return Ok(RowLocation { path: staged, row: hit.row });
        }
        // Published or compacted since the listing: look again.
        locator.forget(partition);
    }
    Err(error(format!(
        "no archive file holds row {} of batch {}: was the archive file deleted or moved by hand?",
        hit.row, hit.batch
    )))
}

/// Reads `rows` (sorted, may repeat) of one archive file.
fn read_rows(
    path: &Path,
    file: File,
    rows: &[u64],
    columns: Option<&[&str]>,
) -> Result<Vec<FetchedRecord>, QueryError> {
    let archive_error = |message: String| QueryError::Archive { path: path.to_owned(), message };
    // The offset index (written with page statistics) lets the reader decode
    // only the pages that hold the selected rows, not whole column chunks.
    let options = ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional);
    let mut builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
        .map_err(|e| archive_error(e.to_string()))?;
    if let Some(columns) = columns {
        let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
        builder = builder.with_projection(mask);
    }
    let total = builder.metadata().file_metadata().num_rows() as u64;
    let mut distinct: Vec<u64> = rows.to_vec();
    distinct.dedup();
    if let Some(&last) = distinct.last()
        && last >= total
    {
        return Err(archive_error(format!("row {last} is past the file's {total} rows")));
    }
    let mut selectors = Vec::new();
    let mut next = 0u64;
    for &row in &distinct {
        if row > next {
            selectors.push(RowSelector::skip((row - next) as usize));
        }
        selectors.push(RowSelector::select(1));
        next = row + 1;
    }
    let reader = builder
        .with_row_selection(RowSelection::from(selectors))
        .with_batch_size(distinct.len().max(1))
        .build()
        .map_err(|e| archive_error(e.to_string()))?;
    let mut selected = Vec::with_capacity(distinct.len());
    for batch in reader {
        let batch = batch.map_err(|e| archive_error(e.to_string()))?;
        for index in 0..batch.num_rows() {
            selected.push(to_record(&batch, index));
        }
    }
    // Repeated rows map to the same record.
    let mut out = Vec::with_capacity(rows.len());
    let mut cursor = 0;
    for (i, &row) in rows.iter().enumerate() {
        if i > 0 && rows[i - 1] != row {
            cursor += 1;
        }
        let record = selected.get(cursor).cloned().ok_or_else(|| archive_error(format!("row {row} is missing")))?;
        out.push(record);
    }
    Ok(out)
}

/// Columns written as JSON text in the archive, embedded as JSON objects.
const JSON_COLUMNS: [&str; 2] = ["attributes", "notes"];

fn to_record(batch: &RecordBatch, row: usize) -> FetchedRecord {
    let schema = batch.schema();
    let mut json = String::from("{");
    let mut record = FetchedRecord {
        json: String::new(),
        timestamp: 0,
        level: None,
        service: None,
        host: None,
        span_id: None,
        message: None,
    };
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if column.is_null(row) {
            continue;
        }
        let name = field.name().as_str();
        let value = match column.data_type() {
            DataType::Timestamp(..) => {
                let nanos = column.as_primitive::<TimestampNanosecondType>().value(row);
                if name == "timestamp" {
                    record.timestamp = nanos;
                }
                serde_json::Value::String(Timestamp::from_nanos(nanos).to_string()).to_string()
            }
            DataType::Utf8 => {
                let text = column.as_string::<i32>().value(row);
                match name {
                    "level" => record.level = Some(text.to_owned()),
                    "service" => record.service = Some(text.to_owned()),
                    "host" => record.host = Some(text.to_owned()),
                    "span_id" => record.span_id = Some(text.to_owned()),
                    "message" => record.message = Some(text.to_owned()),
                    _ => {}
                }
                if JSON_COLUMNS.contains(&name) {
                    if text == "{}" || text.is_empty() {
                        continue;
                    }
                    text.to_owned()
                } else {
                    serde_json::Value::String(text.to_owned()).to_string()
                }
            }
            DataType::UInt8 => column.as_primitive::<UInt8Type>().value(row).to_string(),
            DataType::Int64 => column.as_primitive::<Int64Type>().value(row).to_string(),
            DataType::UInt64 => column.as_primitive::<UInt64Type>().value(row).to_string(),
            DataType::Float64 => serde_json::Value::from(column.as_primitive::<Float64Type>().value(row)).to_string(),
            DataType::Boolean => column.as_boolean().value(row).to_string(),
            _ => continue,
        };
        if json.len() > 1 {
            json.push(',');
        }
        json.push_str(&serde_json::Value::String(name.to_owned()).to_string());
        json.push(':');
        json.push_str(&value);
    }
    json.push('}');
    record.json = json;
    record
}
