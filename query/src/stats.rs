//! `sluice stats`: what a data directory holds: records, time span, days,
//! sizes on disk, dead letters, committed batches.

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
    /// The retention the writer recorded (`--retention`), in seconds.
    pub retention_seconds: Option<u64>,
    /// The services with their own retention (the schema file's
    /// `[retention.services]`), in seconds.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub service_retention_seconds: std::collections::BTreeMap<String, u64>,
    /// What goes next under it, and when.
    pub next_expiry: Option<Expiry>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Expiry {
    pub day: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// Which of the day's records: `"day"`, `{"services": […]}` or
    /// `{"all_but": […]}`.
    pub goes: sluice_index::retention::Doomed,
    #[serde(skip)]
    pub at_nanos: i64,
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
            .map(|split| Ok(DayStats { day: split.day.clone(), records: split.committed_docs()? }))
            .collect::<Result<_, QueryError>>()?;
        let bounds = self.time_bounds()?;
        let time = |nanos: i64| sluice_schemas::Timestamp::from_nanos(nanos).to_string();
        let usage = self.dir.usage()?;
        let batches = self.last_batch();
        let retention_error = |error: sluice_index::retention::RetentionError| QueryError::Archive {
            path: self.dir.root().join("retention.json"),
            message: error.to_string(),
        };
        let retention = sluice_index::retention::Retention::load(&self.dir).map_err(retention_error)?;
        let next_expiry = match &retention {
            Some(retention) => {
                sluice_index::retention::next_expiry(&self.dir, retention).map_err(retention_error)?.map(|next| {
                    let at_nanos = next
                        .at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |since| i64::try_from(since.as_nanos()).unwrap_or(i64::MAX));
                    Expiry { day: next.day, at: time(at_nanos), goes: next.doomed, at_nanos }
                })
            }
            None => None,
        };
        Ok(Stats {
            data_dir: self.dir.root().display().to_string(),
            records: days.iter().map(|d| d.records).sum(),
            first: bounds.map(|(first, _)| time(first)),
            last: bounds.map(|(_, last)| time(last)),
            span: bounds,
            days,
            index_bytes: usage.index_bytes,
            archive_bytes: usage.archive_bytes,
            archive_files: usage.archive_files,
            dead_letters: self.dir.dead_letter_count()?,
            batches,
            retention_seconds: retention.as_ref().and_then(|r| r.keep_seconds),
            service_retention_seconds: retention.map(|r| r.services).unwrap_or_default(),
            next_expiry,
        })
    }
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
