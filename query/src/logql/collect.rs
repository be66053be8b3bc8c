//! Counting lines per series and per window from fast columns alone: the
//! path of `count_over_time` and `rate` when the index answers the
//! selector exactly (Grafana's log-volume query). No document is read.
//!
//! Windows `(t - range, t]` at steps `t = start + k × step` overlap when
//! the range is longer than the step, so lines are counted into fine
//! buckets of `gcd(step, range)` and each window sums the buckets it
//! covers: every line is touched once, whatever the overlap.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DateTime, DocId, Score, SegmentOrdinal, SegmentReader};

use super::eval::Steps;
use crate::error::QueryError;
use crate::store::{SplitQuery, Store};

/// At most this many fine buckets per series.
const MAX_FINE_BUCKETS: i64 = 2_000_000;

/// Fine buckets `(origin + b × width, origin + (b + 1) × width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FineGrid {
    origin: i64,
    width: i64,
    end: i64,
    buckets: usize,
    /// Step and range in buckets.
    step: i64,
    range: i64,
    steps: usize,
}

impl FineGrid {
    /// `None` when the step and the range make too many buckets.
    pub fn new(steps: Steps, range: i64) -> Option<FineGrid> {
        let count = steps.count();
        // One instant: its window is one bucket.
        let step = if count <= 1 { range } else { steps.step };
        let width = gcd(step, range);
        let origin = steps.start.checked_sub(range)?;
        let buckets = (i128::from(steps.end) - i128::from(origin) - 1) / i128::from(width) + 1;
        if width <= 0 || buckets > i128::from(MAX_FINE_BUCKETS) {
            return None;
        }
        Some(FineGrid {
            origin,
            width,
            end: steps.end,
            buckets: buckets as usize,
            step: step / width,
            range: range / width,
            steps: count,
        })
    }

    fn bucket(&self, timestamp: i64) -> Option<usize> {
        if timestamp <= self.origin || timestamp > self.end {
            return None;
        }
        Some(((timestamp - self.origin - 1) / self.width) as usize)
    }

    /// Each step's window: the sum of its buckets.
    pub fn windows(&self, fine: &[u64]) -> Vec<u64> {
        let mut prefix = Vec::with_capacity(fine.len() + 1);
        prefix.push(0u64);
        for count in fine {
            prefix.push(prefix.last().copied().unwrap_or(0) + count);
        }
        (0..self.steps)
            .map(|k| {
                let first = (k as i64 * self.step) as usize;
                let last = ((k as i64 * self.step + self.range) as usize).min(fine.len());
                prefix[last] - prefix[first.min(last)]
            })
            .collect()
    }
}

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// The value of each of `fields` (`None`: the record has none) → lines
/// per fine bucket.
pub type Counts = HashMap<Vec<Option<String>>, Vec<u64>>;

/// Counts the matches of `query` per value combination of `fields` (fast
/// text columns) and fine bucket. Splits are counted side by side.
pub fn count(store: &Store, query: &SplitQuery<'_>, fields: &[&str], grid: &FineGrid) -> Result<Counts, QueryError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(store.splits.len().max(1));
    let per_thread = store.splits.len().div_ceil(threads.max(1)).max(1);
    let collector = Counter { fields: fields.iter().map(|f| (*f).to_owned()).collect(), grid: *grid };
    let queries = store.splits.iter().map(query).collect::<Result<Vec<_>, QueryError>>()?;
    let work: Vec<_> = store.splits.iter().zip(queries).collect();
    let results: Vec<Result<Counts, QueryError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = work
            .chunks(per_thread)
            .map(|splits| {
                let collector = &collector;
                scope.spawn(move || -> Result<Counts, QueryError> {
                    let mut counts = Counts::new();
                    for (split, query) in splits {
                        let found = split.searcher().search(query, collector).map_err(split.tantivy())?;
                        merge(&mut counts, found);
                    }
                    Ok(counts)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut counts = Counts::new();
    for result in results {
        merge(&mut counts, result?);
    }
    Ok(counts)
}

fn merge(into: &mut Counts, from: Counts) {
    for (key, fine) in from {
        match into.get_mut(&key) {
            Some(existing) => existing.iter_mut().zip(fine).for_each(|(a, b)| *a += b),
            None => {
                into.insert(key, fine);
            }
        }
    }
}

struct Counter {
    fields: Vec<String>,
    grid: FineGrid,
}

/// A field's term ordinal in a segment; records without it.
const MISSING: u64 = u64::MAX;

struct SegmentCounter {
    grid: FineGrid,
    timestamps: tantivy::columnar::Column<DateTime>,
    columns: Vec<Option<StrColumn>>,
    /// Ordinals of each series seen, and its buckets, by index.
    keys: Vec<Vec<u64>>,
    slots: Vec<Vec<u64>>,
    index: HashMap<Vec<u64>, usize>,
    /// Doc ids group similar records: the last series is usually the next.
    last: usize,
    key: Vec<u64>,
}

impl Collector for Counter {
    type Fruit = Counts;
    type Child = SegmentCounter;

    fn for_segment(&self, _: SegmentOrdinal, segment: &SegmentReader) -> tantivy::Result<SegmentCounter> {
        let fast = segment.fast_fields();
        let timestamps = fast.date("timestamp")?;
        let columns = self.fields.iter().map(|field| fast.str(field)).collect::<tantivy::Result<Vec<_>>>()?;
        Ok(SegmentCounter {
            grid: self.grid,
            timestamps,
            key: vec![MISSING; columns.len()],
            columns,
            keys: Vec::new(),
            slots: Vec::new(),
            index: HashMap::new(),
            last: usize::MAX,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Counts>) -> tantivy::Result<Counts> {
        let mut counts = Counts::new();
        for fruit in fruits {
            merge(&mut counts, fruit);
        }
        Ok(counts)
    }
}

impl SegmentCollector for SegmentCounter {
    type Fruit = Counts;

    fn collect(&mut self, doc: DocId, _: Score) {
        let Some(timestamp) = self.timestamps.first(doc) else { return };
        let Some(bucket) = self.grid.bucket(timestamp.into_timestamp_nanos()) else { return };
        for (slot, column) in self.key.iter_mut().zip(&self.columns) {
            *slot = column.as_ref().and_then(|c| c.term_ords(doc).next()).unwrap_or(MISSING);
        }
        let series = if self.last != usize::MAX && self.keys[self.last] == self.key {
            self.last
        } else {
            let next = self.keys.len();
            let series = *self.index.entry(self.key.clone()).or_insert(next);
            if series == next {
                self.keys.push(self.key.clone());
                self.slots.push(vec![0; self.grid.buckets]);
            }
            series
        };
        self.last = series;
        self.slots[series][bucket] += 1;
    }

    fn harvest(self) -> Counts {
        let mut counts = Counts::new();
        let mut text = String::new();
        for (ords, fine) in self.keys.into_iter().zip(self.slots) {
            let values: Vec<Option<String>> = ords
                .iter()
                .zip(&self.columns)
                .map(|(&ord, column)| {
                    let column = column.as_ref()?;
                    if ord == MISSING {
                        return None;
                    }
                    text.clear();
                    column.ord_to_str(ord, &mut text).ok().filter(|found| *found).map(|_| text.clone())
                })
                .collect();
            merge(&mut counts, Counts::from([(values, fine)]));
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_sum_their_buckets() {
        // Steps at 10, 20, 30 with windows of 20: (-10, 10], (0, 20], (10, 30].
        let grid = FineGrid::new(Steps { start: 10, end: 30, step: 10 }, 20).unwrap();
        let mut fine = vec![0u64; grid.buckets];
        for t in [1, 10, 11, 20, 25, 30, 31, -10] {
            if let Some(b) = grid.bucket(t) {
                fine[b] += 1;
            }
        }
        assert_eq!(grid.windows(&fine), [2, 4, 4]);
    }
}
