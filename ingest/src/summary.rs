//! The account of one run: every line read is accepted, rejected (with a
//! reason) or blank, and the three add up.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Why a line was rejected. A small fixed set, shared by the summary, the
/// dead-letter files and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    LineTooLong,
    Normalize(sluice_schemas::RejectReason),
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::LineTooLong => "line_too_long",
            RejectReason::Normalize(reason) => reason.as_str(),
        }
    }
}

impl RejectReason {
    /// The reason and the detail to report for a line the normalizer
    /// rejected. `raw_line` is the line as it arrived: for invalid UTF-8 it
    /// names the first bad byte, which the normalizer cannot (its buffer is
    /// borrowed by then).
    pub fn of_rejection(rejection: sluice_schemas::Rejection, raw_line: &[u8]) -> (RejectReason, String) {
        let detail = match rejection.reason {
            sluice_schemas::RejectReason::InvalidUtf8 => sluice_schemas::invalid_utf8_detail(raw_line),
            _ => rejection.detail,
        };
        (RejectReason::Normalize(rejection.reason), detail)
    }
}

/// Counts for one run. Invariant: `accepted + rejected + blank == lines_read`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub lines_read: u64,
    pub accepted: u64,
    pub blank: u64,
    pub bytes_read: u64,
    pub elapsed: Duration,
    pub rejected_by_reason: BTreeMap<&'static str, u64>,
    /// With `--archive`: what the run uploaded to the shared archive and
    /// deleted from it.
    pub shared_archive: Option<sluice_index::shared_archive::SyncReport>,
}

#[derive(Serialize)]
struct SummaryJson<'s> {
    lines_read: u64,
    accepted: u64,
    rejected: u64,
    blank: u64,
    bytes_read: u64,
    elapsed_seconds: f64,
    rejected_by_reason: &'s BTreeMap<&'static str, u64>,
}

impl Summary {
    pub fn rejected(&self) -> u64 {
        self.rejected_by_reason.values().sum()
    }

    pub fn count_rejected(&mut self, reason: RejectReason) {
        *self.rejected_by_reason.entry(reason.as_str()).or_default() += 1;
    }

    /// Adds another account's counts (bytes and elapsed time are left alone).
    pub fn merge_counts(&mut self, other: &Summary) {
        self.lines_read += other.lines_read;
        self.accepted += other.accepted;
        self.blank += other.blank;
        for (reason, count) in &other.rejected_by_reason {
            *self.rejected_by_reason.entry(reason).or_default() += count;
        }
    }

    /// Whether every line read is accounted for.
    pub fn balances(&self) -> bool {
        self.accepted + self.rejected() + self.blank == self.lines_read
    }

    /// The machine-readable summary: one JSON object, keys as documented.
    pub fn to_json(&self) -> String {
        let json = SummaryJson {
            lines_read: self.lines_read,
            accepted: self.accepted,
            rejected: self.rejected(),
            blank: self.blank,
            bytes_read: self.bytes_read,
            elapsed_seconds: self.elapsed.as_secs_f64(),
            rejected_by_reason: &self.rejected_by_reason,
        };
        serde_json::to_string(&json).unwrap_or_default()
    }
}

/// The human summary printed to stderr at exit.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "{} lines read: {} accepted, {} rejected, {} blank; {} bytes in {:.3}s ({:.1} MB/s, {:.0} lines/s)",
            self.lines_read,
            self.accepted,
            self.rejected(),
            self.blank,
            self.bytes_read,
            self.elapsed.as_secs_f64(),
            self.bytes_read as f64 / 1e6 / seconds,
            self.lines_read as f64 / seconds,
        )?;
        for (reason, count) in &self.rejected_by_reason {
            write!(f, "\n  rejected {reason}: {count}")?;
        }
        if let Some(shared) = &self.shared_archive {
            write!(
                f,
                "\n  shared archive: {} files uploaded ({} bytes), {} deleted",
                shared.uploaded, shared.uploaded_bytes, shared.deleted
            )?;
        }
        Ok(())
    }
}
