//! Aggregations over the index: values of a field by frequency (`count
//! --by`, `top`) and counts per time bucket (`histogram`).
//!
//! Everything runs through tantivy's aggregation module over fast columns:
//! no document is loaded. Each day split answers on its own and the
//! answers are merged here; buckets are bounded (`MAX_TERMS` values per
//! split, `MAX_BUCKETS` time buckets), so memory does not grow with the
//! data.

use std::collections::{BTreeMap, HashMap};

use tantivy::aggregation::AggregationCollector;
use tantivy::aggregation::agg_req::Aggregations;
use tantivy::schema::FieldType;

use crate::error::QueryError;
use crate::store::{Split, Store};
use crate::time::{TimeRange, Zone};

/// A value of a field (`None`: records without it) and its count.
pub type Bucket = (Option<String>, u64);

/// At most this many distinct values per split and field. Beyond it the
/// rarest values of a split are folded into `other`.
pub const MAX_TERMS: usize = 65_000;

/// At most this many time buckets in a histogram.
pub const MAX_BUCKETS: i64 = 10_000;

/// Fields with a column of their own but nothing to count by.
const INTERNAL: [&str; 3] = ["timestamp", "batch", "row"];

/// The placeholder for "no value" in a text field's `missing` bucket.
const NONE_TEXT: &str = "\u{0}none";

/// Values of a field among the matches, most frequent first.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Terms {
    /// Value (`None`: records without the field) and count; ties by value.
    pub buckets: Vec<Bucket>,
    /// Matches whose value is not in `buckets`: values past a split's
    /// `MAX_TERMS` most frequent, or past the caller's limit.
    pub other: u64,
    /// Distinct values seen (a lower bound when `other` came from a split).
    pub distinct: usize,
}

/// `--interval`: a fixed bucket width, or one chosen from the range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Interval {
    Auto,
    Fixed(i64),
}

impl Interval {
    /// `auto`, or a count and a unit: `30s`, `5m`, `1h`, `1d`, `1w`.
    pub fn parse(text: &str) -> Result<Interval, QueryError> {
        if text == "auto" {
            return Ok(Interval::Auto);
        }
        match crate::time::duration_nanos(text) {
            Some(nanos) if nanos > 0 => Ok(Interval::Fixed(nanos)),
            _ => Err(QueryError::BadInterval { text: text.to_owned() }),
        }
    }

    /// The width for a span of `span` ns: the first round width that gives
    /// about 60 buckets at most (a screenful of bars).
    fn resolve(self, span: i64) -> i64 {
        match self {
            Interval::Fixed(nanos) => nanos,
            Interval::Auto => {
                const ROUND: [i64; 17] = [
                    1, 5, 10, 30, 60, 300, 600, 900, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400, 604_800, 2_592_000,
                    31_536_000,
                ];
                ROUND
                    .iter()
                    .map(|s| s * NANOS_PER_SECOND)
                    .find(|width| span.div_euclid(*width) <= 60)
                    .unwrap_or(31_536_000 * NANOS_PER_SECOND)
            }
        }
    }
}

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// `1h`, `30s`, `7d`: a width as `--interval` spells it.
pub fn interval_label(nanos: i64) -> String {
    let seconds = nanos / NANOS_PER_SECOND;
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds % size == 0 {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

/// Counts per time bucket.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Histogram {
    /// Bucket width in ns.
    pub interval: i64,
    /// Every bucket from the range's start to its end, empty ones included.
    pub buckets: Vec<TimeBucket>,
    /// The `--by` field's values over the whole range, most frequent first
    /// (the legend and the stacking order).
    pub values: Vec<Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TimeBucket {
    /// Start of the bucket, ns since the epoch (a multiple of the width).
    pub start: i64,
    pub count: u64,
    /// With `--by`: the count of each value present in the bucket.
    pub by: Vec<Bucket>,
}

impl Store {
    /// Fields `count --by`, `top` and `histogram --by` accept: those with a
    /// fast column (canonical terms and declared fast fields).
    pub fn countable_fields(&self) -> Vec<String> {
        let Some(split) = self.splits.first() else { return Vec::new() };
        let schema = split.index.schema();
        let mut names: Vec<String> = schema
            .fields()
            .filter(|(_, entry)| entry.is_fast() && !INTERNAL.contains(&entry.name()))
            .filter(|(_, entry)| !matches!(entry.field_type(), FieldType::JsonObject(_) | FieldType::Date(_)))
            .map(|(_, entry)| entry.name().to_owned())
            .collect();
        names.sort();
        names
    }

    fn check_countable(&self, field: &str) -> Result<(), QueryError> {
        let known = self.countable_fields();
        if known.iter().any(|k| k == field) {
            return Ok(());
        }
        let reason = match nearest(field, &known) {
            Some(near) => format!("not a field with a fast column (did you mean `{near}`?)"),
            None => "not a field with a fast column".to_owned(),
        };
        Err(QueryError::BadField { field: field.to_owned(), reason, known: known.join(", ") })
    }

    /// Matches per value of `field`; records without the field count under
    /// `None`, so buckets and `other` sum to the number of matches.
    pub fn terms(&self, text: &str, range: TimeRange, field: &str) -> Result<Terms, QueryError> {
        self.check_countable(field)?;
        let mut counts: HashMap<Option<String>, u64> = HashMap::new();
        let mut other = 0;
        for split in &self.splits {
            let request = serde_json::json!({ "by": terms_request(split, field)? });
            let result = aggregate(split, text, range, request)?;
            other += result["by"]["sum_other_doc_count"].as_u64().unwrap_or(0);
            for (key, count) in term_buckets(&result["by"]) {
                *counts.entry(key).or_default() += count;
            }
        }
        let distinct = counts.len();
        let mut buckets: Vec<Bucket> = counts.into_iter().collect();
        buckets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Terms { buckets, other, distinct })
    }

    /// The earliest and latest timestamps of the open splits, from the
    /// columns' own statistics (no document is read).
    pub fn time_bounds(&self) -> Result<Option<(i64, i64)>, QueryError> {
        let mut bounds: Option<(i64, i64)> = None;
        for split in &self.splits {
            let searcher = split.searcher();
            for segment in searcher.segment_readers() {
                if segment.num_docs() == 0 {
                    continue;
                }
                let column = segment.fast_fields().date("timestamp").map_err(split.tantivy())?;
                let (low, high) =
                    (column.min_value().into_timestamp_nanos(), column.max_value().into_timestamp_nanos());
                bounds = Some(bounds.map_or((low, high), |(l, h)| (l.min(low), h.max(high))));
            }
        }
        Ok(bounds)
    }

    /// Matches per time bucket over `range` (the data's own span where the
    /// range is open), optionally split by the values of `by`. Buckets line
    /// up with `zone`'s clock (a 1d bucket starts at its midnight), at the
    /// zone's offset when the range starts.
    pub fn histogram(
        &self,
        text: &str,
        range: TimeRange,
        interval: Interval,
        by: Option<&str>,
        zone: &Zone,
    ) -> Result<Histogram, QueryError> {
        if let Some(field) = by {
            self.check_countable(field)?;
        }
        let Some((first, last)) = self.time_bounds()? else {
            return Ok(Histogram { interval: interval.resolve(0), buckets: Vec::new(), values: Vec::new() });
        };
        let start = range.from.unwrap_or(first);
        let end = range.to.unwrap_or(last.saturating_add(1));
        if end <= start {
            return Ok(Histogram { interval: interval.resolve(0), buckets: Vec::new(), values: Vec::new() });
        }
        // In i128: a range may span all of i64 (1677 to 2262), and its grid
        // start a bucket before that.
        let span = i64::try_from(i128::from(end) - i128::from(start)).unwrap_or(i64::MAX);
        let width = interval.resolve(span);
        let offset = i64::from(zone.offset_seconds(start)) * 1_000_000_000;
        let (wide_width, wide_offset) = (i128::from(width), i128::from(offset));
        let grid_start = (i128::from(start) + wide_offset).div_euclid(wide_width) * wide_width - wide_offset;
        // tantivy's grid is `offset + k × width`, with 0 <= offset < width.
        let grid_offset = (-offset).rem_euclid(width);
        let count = (i128::from(end) - 1 - grid_start).div_euclid(wide_width) + 1;
        // Bucket starts as tantivy's keys come back: saturated to i64.
        let bucket_start = |i: i64| {
            let start = grid_start + i128::from(i) * wide_width;
            i64::try_from(start).unwrap_or(if start < 0 { i64::MIN } else { i64::MAX })
        };
        if count > i128::from(MAX_BUCKETS) {
            return Err(QueryError::TooManyBuckets {
                buckets: i64::try_from(count).unwrap_or(i64::MAX),
                interval: interval_label(width),
                max: MAX_BUCKETS,
            });
        }
        let mut per_bucket: BTreeMap<i64, (u64, HashMap<Option<String>, u64>)> = BTreeMap::new();
        let mut totals: HashMap<Option<String>, u64> = HashMap::new();
        for split in &self.splits {
            let mut histogram = serde_json::json!({
                "date_histogram": {
                    "field": "timestamp",
                    "fixed_interval": format!("{}ms", width / 1_000_000),
                    "min_doc_count": 1,
                }
            });
            if grid_offset != 0 {
                histogram["date_histogram"]["offset"] = serde_json::json!(format!("{}ms", grid_offset / 1_000_000));
            }
            if let Some(field) = by {
                histogram["aggs"] = serde_json::json!({ "by": terms_request(split, field)? });
            }
            let result = aggregate(
                split,
                text,
                TimeRange { from: Some(start), to: Some(end) },
                serde_json::json!({ "h": histogram }),
            )?;
            for bucket in result["h"]["buckets"].as_array().into_iter().flatten() {
                let Some(key_ms) = bucket["key"].as_f64() else { continue };
                let bucket_start = (key_ms as i64).saturating_mul(1_000_000);
                let entry = per_bucket.entry(bucket_start).or_default();
                entry.0 += bucket["doc_count"].as_u64().unwrap_or(0);
                for (value, count) in term_buckets(&bucket["by"]) {
                    *entry.1.entry(value.clone()).or_default() += count;
                    *totals.entry(value).or_default() += count;
                }
            }
        }
        let mut values: Vec<Bucket> = totals.into_iter().collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let order: Vec<Option<String>> = values.into_iter().map(|(value, _)| value).collect();
        let buckets = (0..count as i64)
            .map(|i| {
                let bucket_start = bucket_start(i);
                let (count, by) = per_bucket.remove(&bucket_start).unwrap_or_default();
                let by = order.iter().filter_map(|v| by.get(v).map(|c| (v.clone(), *c))).collect();
                TimeBucket { start: bucket_start, count, by }
            })
            .collect();
        Ok(Histogram { interval: width, buckets, values: order })
    }
}

/// A terms aggregation over `field` that keeps records without the field
/// in a bucket of their own.
fn terms_request(split: &Split, field: &str) -> Result<serde_json::Value, QueryError> {
    let handle = split.field(field)?;
    let is_text = matches!(split.index.schema().get_field_entry(handle).field_type(), FieldType::Str(_));
    let missing = if is_text { serde_json::json!(NONE_TEXT) } else { serde_json::json!(u64::MAX) };
    Ok(serde_json::json!({
        "terms": { "field": field, "size": MAX_TERMS, "segment_size": MAX_TERMS, "missing": missing }
    }))
}

/// Runs an aggregation request on one split; the result as JSON.
fn aggregate(
    split: &Split,
    text: &str,
    range: TimeRange,
    request: serde_json::Value,
) -> Result<serde_json::Value, QueryError> {
    let query = split.query(text, range)?;
    let request: Aggregations = serde_json::from_value(request).map_err(|e| QueryError::Index {
        path: split.path.clone(),
        source: tantivy::TantivyError::InvalidArgument(e.to_string()),
    })?;
    let collector = AggregationCollector::from_aggs(request, Default::default());
    let result = split.searcher().search(&query, &collector).map_err(split.tantivy())?;
    Ok(serde_json::to_value(&result).unwrap_or_default())
}

/// The (value, count) pairs of a terms aggregation's result.
fn term_buckets(result: &serde_json::Value) -> impl Iterator<Item = Bucket> + '_ {
    result["buckets"].as_array().into_iter().flatten().map(|bucket| {
        let count = bucket["doc_count"].as_u64().unwrap_or(0);
        let key = match &bucket["key"] {
            serde_json::Value::String(s) if s == NONE_TEXT => None,
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) if n.as_f64() == Some(u64::MAX as f64) => None,
            serde_json::Value::Number(n) => Some(n.as_f64().map_or(n.to_string(), |f| format!("{f}"))),
            other => Some(other.to_string()),
        };
        (key, count)
    })
}

/// The known name closest to `name` (edit distance at most a third of its
/// length), for "did you mean".
pub fn nearest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(name, k), k))
        .filter(|(d, k)| *d <= name.len().max(k.len()) / 3 + 1)
        .min()
        .map(|(_, k)| k.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(Interval::parse("90s").unwrap(), Interval::Fixed(90 * NANOS_PER_SECOND));
        assert_eq!(Interval::parse("1h").unwrap(), Interval::Fixed(3_600 * NANOS_PER_SECOND));
        assert_eq!(Interval::parse("auto").unwrap(), Interval::Auto);
        for bad in ["0m", "h", "1y", "1.5h", ""] {
            assert!(Interval::parse(bad).is_err(), "{bad}");
        }
        let day = 86_400 * NANOS_PER_SECOND;
        assert_eq!(interval_label(Interval::Auto.resolve(day)), "30m");
        assert_eq!(interval_label(Interval::Auto.resolve(3_600 * NANOS_PER_SECOND)), "1m");
        assert_eq!(interval_label(Interval::Auto.resolve(7 * day)), "3h");
        assert_eq!(interval_label(90 * NANOS_PER_SECOND), "90s");
        assert_eq!(interval_label(7 * day), "1w");
    }

    #[test]
    fn nearest_names() {
        let known: Vec<String> = ["host", "level", "service"].iter().map(|s| s.to_string()).collect();
        assert_eq!(nearest("servce", &known), Some("service"));
        assert_eq!(nearest("lvl", &known), Some("level"));
        assert_eq!(nearest("user", &known), None);
    }
}
