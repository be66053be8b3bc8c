//! `sluice stats`: what a data directory holds: records, time span, days,
//! sizes on disk, dead letters, committed batches.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Serialize;

use crate::error::QueryError;
use crate::store::Store;

#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub data_dir: String,
    pub records: u64,
    /// RFC 3339, UTC; `None` when the directory holds no record.
    pub first: Option<String>,
    pub last: Option<String>,
    /// The first and last timestamps in ns, for tables in another zone.
    #[serde(skip)]
    pub span: Option<(i64, i64)>,
    /// Records per day split, oldest first.
    pub days: Vec<DayStats>,
    pub index_bytes: u64,
    pub archive_bytes: u64,
    pub archive_files: u64,
    pub dead_letters: u64,
    pub batches: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DayStats {
    pub day: String,
    pub records: u64,
}

impl Store {
    /// Counts from the index (documents per split, the timestamp columns'
    /// bounds) and sizes from the files: nothing is scanned.
    pub fn stats(&self) -> Result<Stats, QueryError> {
        let days: Vec<DayStats> = self
            .splits
            .iter()
            .map(|split| DayStats { day: split.day.clone(), records: split.searcher().num_docs() })
            .collect();
        let bounds = self.time_bounds()?;
        let time = |nanos: i64| sluice_schemas::Timestamp::from_nanos(nanos).to_string();
        let (archive_bytes, archive_files) = disk_usage(&self.dir.archive(), "parquet");
        let batches = self.dir.load_manifest().map(|m| m.last_batch).unwrap_or(0);
        Ok(Stats {
            data_dir: self.dir.root().display().to_string(),
            records: days.iter().map(|d| d.records).sum(),
            first: bounds.map(|(first, _)| time(first)),
            last: bounds.map(|(_, last)| time(last)),
            span: bounds,
            days,
            index_bytes: disk_usage(&self.dir.index(), "").0,
            archive_bytes,
            archive_files,
            dead_letters: count_lines(&self.dir.deadletter()),
            batches,
        })
    }
}

/// Bytes and number of files under `dir` (only files ending in
/// `extension` when it is not empty).
fn disk_usage(dir: &Path, extension: &str) -> (u64, u64) {
    let Ok(entries) = std::fs::read_dir(dir) else { return (0, 0) };
    let mut total = (0, 0);
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            let (bytes, files) = disk_usage(&path, extension);
            total = (total.0 + bytes, total.1 + files);
        } else if extension.is_empty() || path.extension().is_some_and(|e| e == extension) {
            total = (total.0 + entry.metadata().map_or(0, |m| m.len()), total.1 + 1);
        }
    }
    total
}

/// Lines in the dead-letter files (one rejected line each).
fn count_lines(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "ndjson"))
        .filter_map(|e| std::fs::File::open(e.path()).ok())
        .map(|file| BufReader::new(file).split(b'\n').count() as u64)
        .sum()
}

/// `1.5 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}
