//! `sluice compare`: what grew or appeared in a window against a baseline.
//!
//! Levels and services are counted exactly (terms aggregations); message
//! templates come from one pattern miner fed with both ranges, so a
//! template means the same thing on both sides. Counts are compared as
//! rates: the baseline's count is scaled to the window's length (the
//! "expected" count), and changes are ranked by how far the window's count
//! exceeds it.

use std::collections::HashMap;

use crate::error::QueryError;
use crate::store::Store;
use crate::time::TimeRange;

/// One value that grew or appeared.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Change {
    /// `level`, `service` or `pattern`.
    pub kind: &'static str,
    pub value: String,
    pub window: u64,
    pub baseline: u64,
    /// The baseline's count scaled to the window's length.
    pub expected: f64,
}

impl Change {
    /// Window rate over baseline rate; `None` when the value is new.
    pub fn ratio(&self) -> Option<f64> {
        (self.baseline > 0).then(|| self.window as f64 / self.expected)
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub window: (i64, i64),
    pub baseline: (i64, i64),
    pub window_count: u64,
    pub baseline_count: u64,
    /// Largest excess over the expected count first.
    pub changes: Vec<Change>,
    /// Messages grouped into templates per side (the newest `sample`).
    pub sampled: [u64; 2],
}

impl Store {
    /// Compares the matches of `window` with those of `baseline` (both
    /// half-open, in ns).
    pub fn compare(
        &self,
        text: &str,
        window: (i64, i64),
        baseline: (i64, i64),
        sample: usize,
    ) -> Result<Comparison, QueryError> {
        let ranges = [window, baseline].map(|(from, to)| TimeRange { from: Some(from), to: Some(to) });
        let scale = (window.1 - window.0) as f64 / (baseline.1 - baseline.0).max(1) as f64;
        let mut changes = Vec::new();
        let mut push = |kind: &'static str, value: String, counts: [u64; 2]| {
            let expected = counts[1] as f64 * scale;
            if counts[0] as f64 > expected {
                changes.push(Change { kind, value, window: counts[0], baseline: counts[1], expected });
            }
        };
        for field in ["level", "service"] {
            let mut counts: HashMap<String, [u64; 2]> = HashMap::new();
            for (side, range) in ranges.iter().enumerate() {
                for (value, count) in self.terms(text, *range, field)?.buckets {
                    counts.entry(value.unwrap_or_else(|| "(none)".to_owned())).or_default()[side] += count;
                }
            }
            for (value, counts) in counts {
                push(field, value, counts);
            }
        }
        let mined = self.patterns(text, &ranges, sample)?;
        for pattern in mined.patterns {
            push("pattern", pattern.template, [pattern.counts[0], pattern.counts[1]]);
        }
        changes.sort_by(|a, b| {
            let excess = |c: &Change| c.window as f64 - c.expected;
            excess(b).total_cmp(&excess(a)).then_with(|| a.kind.cmp(b.kind)).then_with(|| a.value.cmp(&b.value))
        });
        Ok(Comparison {
            window,
            baseline,
            window_count: mined.totals[0],
            baseline_count: mined.totals[1],
            changes,
            sampled: [mined.sampled[0], mined.sampled[1]],
        })
    }
}
