//! Evaluating a parsed LogQL query over a [`Store`]: log queries give
//! [`Entry`]s, metric queries [`Series`] sampled at steps.
//!
//! A record seen as a Loki log line: its line is the message (the record's
//! JSON when it has none); its stream labels are `service_name`, `host`
//! and `level`; `trace_id`, `span_id` and its attributes (dots in names
//! become `_`, as Loki does with OpenTelemetry attributes) are structured
//! metadata, which `| json` and `| logfmt` turn into parsed labels (the
//! record is already structured: nothing is parsed again).
//!
//! Counting (`count_over_time`, `rate`) with a selector the index answers
//! exactly reads only fast columns ([`super::collect`]); anything that
//! needs the line or an attribute reads the candidates from the archive,
//! at most [`Limits::max_records`] of them.

use std::collections::BTreeMap;

use super::LogqlError;
use super::ast::*;
use super::collect::{self, FineGrid};
use super::plan::{Column, column, plan};
use crate::error::QueryError;
use crate::fetch::FetchedRecord;
use crate::store::{Split, Store};
use crate::time::TimeRange;

/// Label name → value, sorted by name (the order Loki prints them in).
pub type Labels = BTreeMap<String, String>;

/// How much one query may read and return.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Candidate records read from the archive to check a pipeline.
    pub max_records: usize,
    /// Series a metric query may return (Loki's `max_query_series`).
    pub max_series: usize,
    /// Steps of a range query (Loki's and Prometheus's 11,000).
    pub max_points: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_records: 1_000_000, max_series: 5_000, max_points: 11_000 }
    }
}

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Logql(#[from] LogqlError),
    /// Over one of [`Limits`]: the client should narrow the query.
    #[error("{0}")]
    Limit(String),
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// One log line as Loki shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub timestamp: i64,
    pub line: String,
    pub stream: Labels,
    pub metadata: Labels,
    pub parsed: Labels,
}

impl Entry {
    /// Every label, as Loki's uncategorized answers group lines by.
    pub fn all_labels(&self) -> Labels {
        let mut all = self.stream.clone();
        all.extend(self.metadata.iter().map(|(k, v)| (k.clone(), v.clone())));
        all.extend(self.parsed.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// A label's value: parsed labels, then stream labels, then
    /// structured metadata; `service` and `detected_level` are the stream's
    /// `service_name` and `level`.
    pub fn label(&self, name: &str) -> Option<&str> {
        let name = match name {
            "service" => "service_name",
            "detected_level" => "level",
            other => other,
        };
        self.parsed.get(name).or_else(|| self.stream.get(name)).or_else(|| self.metadata.get(name)).map(String::as_str)
    }

    /// A record from the archive, before any pipeline stage.
    pub fn of(record: &FetchedRecord) -> Entry {
        let mut stream = Labels::new();
        let mut metadata = Labels::new();
        for (label, value) in [("service_name", &record.service), ("host", &record.host), ("level", &record.level)] {
            if let Some(value) = value {
                stream.insert(label.to_owned(), value.clone());
            }
        }
        let json: serde_json::Value = serde_json::from_str(&record.json).unwrap_or_default();
        if let Some(object) = json.as_object() {
            for (key, value) in object {
                match key.as_str() {
                    "attributes" => {
                        for (name, value) in value.as_object().into_iter().flatten() {
                            metadata.insert(label_name(name), text(value));
                        }
                    }
                    "trace_id" | "span_id" => {
                        metadata.insert(key.clone(), text(value));
                    }
                    "timestamp" | "observed_timestamp" | "level" | "severity_number" | "message" | "service"
                    | "host" | "notes" | "producer" => {}
                    // A field declared in the schema.
                    _ => {
                        metadata.entry(label_name(key)).or_insert_with(|| text(value));
                    }
                }
            }
        }
        let line = record.message.clone().unwrap_or_else(|| record.json.clone());
        Entry { timestamp: record.timestamp, line, stream, metadata, parsed: Labels::new() }
    }
}

/// Loki's label names: letters, digits and `_`.
fn label_name(name: &str) -> String {
    let mut label: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if label.starts_with(|c: char| c.is_ascii_digit()) {
        label.insert(0, '_');
    }
    label
}

fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A pipeline with its regular expressions compiled.
struct Pipeline<'a> {
    selector: Vec<(&'a Matcher, Option<regex::Regex>)>,
    stages: Vec<(&'a Stage, Vec<regex::Regex>)>,
}

fn anchored(pattern: &str) -> regex::Regex {
    // Checked by the parser; a pattern that fails here matches nothing.
    regex::Regex::new(&format!("^(?:{pattern})$")).unwrap_or_else(|_| regex::Regex::new("[^\\s\\S]").expect("valid"))
}

fn unanchored(pattern: &str) -> regex::Regex {
    regex::Regex::new(pattern).unwrap_or_else(|_| regex::Regex::new("[^\\s\\S]").expect("valid"))
}

impl<'a> Pipeline<'a> {
    fn new(query: &'a LogQuery) -> Pipeline<'a> {
        // Every matcher, though the index answers most: checking one is a
        // comparison, and the plan leaves some to this (attributes, regular
        // expressions tantivy's automata do not take).
        let selector = query
            .selector
            .iter()
            .map(|m| (m, matches!(m.op, MatchOp::Re | MatchOp::NotRe).then(|| anchored(&m.value))))
            .collect();
        let stages = query
            .pipeline
            .iter()
            .map(|stage| {
                let regexes = match stage {
                    Stage::Line { op: LineOp::Matches | LineOp::NotMatches, values } => {
                        values.iter().map(|v| unanchored(v)).collect()
                    }
                    _ => Vec::new(),
                };
                (stage, regexes)
            })
            .collect();
        Pipeline { selector, stages }
    }

    /// The entry after every stage, or `None` where a filter drops it.
    fn run(&self, mut entry: Entry) -> Option<Entry> {
        for (matcher, regex) in &self.selector {
            if !matches(entry.label(&matcher.label).unwrap_or(""), matcher, regex.as_ref()) {
                return None;
            }
        }
        for (stage, regexes) in &self.stages {
            match stage {
                Stage::Line { op, values } => {
                    let keep = match op {
                        LineOp::Contains => values.iter().any(|v| entry.line.contains(v.as_str())),
                        LineOp::NotContains => !values.iter().any(|v| entry.line.contains(v.as_str())),
                        LineOp::Matches => regexes.iter().any(|r| r.is_match(&entry.line)),
                        LineOp::NotMatches => !regexes.iter().any(|r| r.is_match(&entry.line)),
                    };
                    if !keep {
                        return None;
                    }
                }
                Stage::Parser(_) => {
                    let metadata = std::mem::take(&mut entry.metadata);
                    for (name, value) in metadata {
                        if name == "trace_id" || name == "span_id" {
                            entry.metadata.insert(name, value);
                        } else {
                            entry.parsed.insert(name, value);
                        }
                    }
                }
                Stage::Filter(filter) => {
                    if !filter_holds(filter, &entry) {
                        return None;
                    }
                }
                Stage::LineFormat(parts) => {
                    let mut line = String::new();
                    for part in parts {
                        match part {
                            TemplatePart::Text(text) => line.push_str(text),
                            TemplatePart::Label(name) if name == "message" || name == "__line__" => {
                                line.push_str(&entry.line.clone())
                            }
                            TemplatePart::Label(name) => line.push_str(entry.label(name).unwrap_or("")),
                        }
                    }
                    entry.line = line;
                }
                Stage::Keep(names) => {
                    for labels in [&mut entry.stream, &mut entry.metadata, &mut entry.parsed] {
                        labels.retain(|name, _| names.contains(name));
                    }
                }
                Stage::Drop(names) => {
                    for labels in [&mut entry.stream, &mut entry.metadata, &mut entry.parsed] {
                        labels.retain(|name, _| !names.contains(name));
                    }
                }
                Stage::Unwrap(_) => {}
            }
        }
        Some(entry)
    }
}

fn matches(value: &str, matcher: &Matcher, regex: Option<&regex::Regex>) -> bool {
    match (matcher.op, regex) {
        (MatchOp::Eq, _) => value == matcher.value,
        (MatchOp::Ne, _) => value != matcher.value,
        (MatchOp::Re, Some(regex)) => regex.is_match(value),
        (MatchOp::NotRe, Some(regex)) => !regex.is_match(value),
        (MatchOp::Re, None) => anchored(&matcher.value).is_match(value),
        (MatchOp::NotRe, None) => !anchored(&matcher.value).is_match(value),
    }
}

/// A label filter on an entry. A comparison with a label that is missing
/// or not a number, a duration or a byte size does not hold.
fn filter_holds(filter: &LabelFilter, entry: &Entry) -> bool {
    match filter {
        LabelFilter::Match(matcher) => {
            // `__error__=""`, which Grafana adds: Sluice's labels carry no
            // parse errors.
            let value = entry.label(&matcher.label).unwrap_or("");
            matches(value, matcher, None)
        }
        LabelFilter::Compare { label, op, value } => {
            entry.label(label).and_then(number_of).is_some_and(|left| op.holds(left, *value))
        }
        LabelFilter::And(a, b) => filter_holds(a, entry) && filter_holds(b, entry),
        LabelFilter::Or(a, b) => filter_holds(a, entry) || filter_holds(b, entry),
    }
}

/// A label's value as a number: plain, a duration (seconds) or a size.
fn number_of(text: &str) -> Option<f64> {
    let text = text.trim();
    text.parse::<f64>()
        .ok()
        .or_else(|| super::duration_nanos(text).map(|n| n as f64 / 1e9))
        .or_else(|| super::bytes(text))
}

fn convert(text: &str, conversion: Conversion) -> Option<f64> {
    let text = text.trim();
    match conversion {
        Conversion::Number => text.parse::<f64>().ok(),
        Conversion::Duration => super::duration_nanos(text).map(|n| n as f64 / 1e9).or_else(|| text.parse().ok()),
        Conversion::Bytes => super::bytes(text).or_else(|| text.parse().ok()),
    }
}

/// The newest (or, `forward`, oldest) `limit` lines of `query` in `range`.
pub fn select_lines(
    store: &Store,
    query: &LogQuery,
    range: TimeRange,
    limit: usize,
    forward: bool,
    limits: &Limits,
) -> Result<Vec<Entry>, EvalError> {
    let pipeline = Pipeline::new(query);
    let check = store.splits.first().map(|s| plan(s, query, range)).transpose()?.is_some_and(|p| p.check);
    warm(store, query, range)?;
    // Without a check every candidate is a line; with one, read more
    // candidates until `limit` pass or none are left.
    let mut want = if check { limit.saturating_mul(4).max(1_000) } else { limit };
    loop {
        let (hits, total) = store.search_by(
            &|split: &Split| Ok(plan(split, query, range)?.query),
            want.min(limits.max_records),
            forward,
        )?;
        let mut lines = Vec::with_capacity(limit.min(hits.len()));
        for chunk in hits.chunks(10_000) {
            for record in crate::fetch::fetch(store, chunk)? {
                if let Some(entry) = pipeline.run(Entry::of(&record)) {
                    lines.push(entry);
                    if lines.len() == limit {
                        return Ok(lines);
                    }
                }
            }
        }
        let exhausted = (hits.len() as u64) >= total;
        if exhausted || !check {
            return Ok(lines);
        }
        if want >= limits.max_records {
            return Err(EvalError::Limit(format!(
                "the query's filters were checked on {} of its {total} candidate lines without finding {limit}: \
                 narrow the stream selector or the time range",
                limits.max_records
            )));
        }
        want = want.saturating_mul(8);
    }
}

/// The lines of `query` in batches committed after `shown` (each data
/// directory's last batch already seen), oldest first, and the batches
/// now seen: Loki's live tail. New lines are found by batch, not by time,
/// so a late line with an old timestamp is still new, and each shows once.
pub fn lines_after(store: &Store, query: &LogQuery, shown: &[u64]) -> Result<NewLines, EvalError> {
    let committed = store.last_batches().to_vec();
    if committed.iter().zip(shown).all(|(now, seen)| now <= seen) {
        return Ok(NewLines { lines: Vec::new(), shown: shown.to_vec(), dropped: 0 });
    }
    let pipeline = Pipeline::new(query);
    let (mut hits, total) = store.search_by(
        &|split: &Split| {
            let source = usize::from(split.source);
            let (after, upto) = (shown.get(source).copied().unwrap_or(0), committed[source]);
            let batch = split.field("batch")?;
            let batches = tantivy::query::RangeQuery::new(
                std::ops::Bound::Excluded(tantivy::Term::from_field_u64(batch, after)),
                std::ops::Bound::Included(tantivy::Term::from_field_u64(batch, upto)),
            );
            let query = plan(split, query, TimeRange::ALL)?.query;
            Ok(Box::new(tantivy::query::BooleanQuery::new(vec![
                (tantivy::query::Occur::Must, query),
                (tantivy::query::Occur::Must, Box::new(batches)),
            ])) as Box<dyn tantivy::query::Query>)
        },
        MAX_TAIL_LINES,
        true,
    )?;
    hits.sort_by_key(|hit| (hit.timestamp, hit.source, hit.batch, hit.row));
    let mut lines = Vec::new();
    for chunk in hits.chunks(10_000) {
        for record in crate::fetch::fetch(store, chunk)? {
            lines.extend(pipeline.run(Entry::of(&record)));
        }
    }
    Ok(NewLines { lines, shown: committed, dropped: total - hits.len() as u64 })
}

/// What [`lines_after`] found.
pub struct NewLines {
    /// Oldest first.
    pub lines: Vec<Entry>,
    /// Each data directory's last batch now seen.
    pub shown: Vec<u64>,
    /// Lines past the most one poll sends (Loki's `dropped_entries`).
    pub dropped: u64,
}

/// At most this many new lines per poll of a live tail.
const MAX_TAIL_LINES: usize = 100_000;

/// The instants a metric query is evaluated at: `start`, `start + step`,
/// … up to `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steps {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Steps {
    pub fn count(&self) -> usize {
        if self.end < self.start || self.step <= 0 {
            return 0;
        }
        usize::try_from((i128::from(self.end) - i128::from(self.start)) / i128::from(self.step) + 1)
            .unwrap_or(usize::MAX)
    }

    pub fn at(&self, k: usize) -> i64 {
        self.start + self.step * k as i64
    }
}

/// A series: its labels and a value at each step where it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<Option<f64>>,
}

/// What a metric query computes.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<Series>),
}

/// Evaluates a metric query at every step.
pub fn evaluate(store: &Store, expr: &MetricExpr, steps: Steps, limits: &Limits) -> Result<Value, EvalError> {
    if steps.count() > limits.max_points {
        return Err(EvalError::Limit(format!(
            "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
            limits.max_points
        )));
    }
    eval(store, expr, steps, None, limits)
}

fn eval(
    store: &Store,
    expr: &MetricExpr,
    steps: Steps,
    wanted: Option<&Grouping>,
    limits: &Limits,
) -> Result<Value, EvalError> {
    Ok(match expr {
        MetricExpr::Number(n) => Value::Scalar(*n),
        MetricExpr::Vector1(n) => {
            Value::Vector(vec![Series { labels: Labels::new(), points: vec![Some(*n); steps.count()] }])
        }
        MetricExpr::Range(range) => Value::Vector(range_aggregation(store, range, steps, wanted, limits)?),
        MetricExpr::Vector(aggregation) => {
            // Only a sum may be taken over coarser series than the inner
            // query's (a sum of counts is the count of the union); an
            // average, a minimum or topk needs every series.
            let everything = Grouping { without: false, labels: Vec::new() };
            let wanted =
                (aggregation.op == VectorOp::Sum).then(|| aggregation.grouping.as_ref().unwrap_or(&everything));
            let inner = eval(store, &aggregation.inner, steps, wanted, limits)?;
            let series = match inner {
                Value::Scalar(n) => vec![Series { labels: Labels::new(), points: vec![Some(n); steps.count()] }],
                Value::Vector(series) => series,
            };
            Value::Vector(vector_aggregation(aggregation, series, steps.count()))
        }
        MetricExpr::Binary { op, left, right } => {
            let left = eval(store, left, steps, None, limits)?;
            let right = eval(store, right, steps, None, limits)?;
            binary(*op, left, right)
        }
    })
}

fn binary(op: BinaryOp, left: Value, right: Value) -> Value {
    let map = |series: Vec<Series>, f: &dyn Fn(f64) -> f64| -> Vec<Series> {
        series
            .into_iter()
            .map(|s| Series { points: s.points.into_iter().map(|p| p.map(f)).collect(), labels: s.labels })
            .collect()
    };
    match (left, right) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(op.apply(a, b)),
        (Value::Vector(v), Value::Scalar(b)) => Value::Vector(map(v, &|a| op.apply(a, b))),
        (Value::Scalar(a), Value::Vector(v)) => Value::Vector(map(v, &|b| op.apply(a, b))),
        (Value::Vector(left), Value::Vector(right)) => {
            // One to one, on identical label sets.
            let right: BTreeMap<&Labels, &Series> = right.iter().map(|s| (&s.labels, s)).collect();
            let joined = left
                .iter()
                .filter_map(|l| {
                    let r = right.get(&l.labels)?;
                    let points = l
                        .points
                        .iter()
                        .zip(&r.points)
                        .map(|(a, b)| Some(op.apply((*a)?, (*b)?)))
                        .collect::<Vec<Option<f64>>>();
                    Some(Series { labels: l.labels.clone(), points })
                })
                .filter(|s| s.points.iter().any(Option::is_some))
                .collect();
            Value::Vector(joined)
        }
    }
}

/// The labels a grouping keeps of `labels`.
fn grouped(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => Labels::new(),
        Some(Grouping { without: false, labels: names }) => {
            labels.iter().filter(|(k, _)| names.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
        }
        Some(Grouping { without: true, labels: names }) => {
            labels.iter().filter(|(k, _)| !names.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
        }
    }
}

fn vector_aggregation(aggregation: &VectorAggregation, series: Vec<Series>, steps: usize) -> Vec<Series> {
    let grouping = aggregation.grouping.as_ref();
    if let (VectorOp::Topk | VectorOp::Bottomk, Some(k)) = (aggregation.op, aggregation.parameter) {
        let k = k as usize;
        let mut groups: BTreeMap<Labels, Vec<usize>> = BTreeMap::new();
        for (i, s) in series.iter().enumerate() {
            groups.entry(grouped(&s.labels, grouping)).or_default().push(i);
        }
        let mut points: Vec<Vec<Option<f64>>> = vec![vec![None; steps]; series.len()];
        for members in groups.values() {
            #[allow(clippy::needless_range_loop)] // `step` indexes every member's points.
            for step in 0..steps {
                let mut present: Vec<(f64, usize)> =
                    members.iter().filter_map(|&i| series[i].points[step].map(|v| (v, i))).collect();
                present.sort_by(|a, b| {
                    let order = a.0.total_cmp(&b.0);
                    if aggregation.op == VectorOp::Topk { order.reverse() } else { order }
                });
                for (value, i) in present.into_iter().take(k) {
                    points[i][step] = Some(value);
                }
            }
        }
        return series
            .into_iter()
            .zip(points)
            .filter(|(_, p)| p.iter().any(Option::is_some))
            .map(|(s, points)| Series { labels: s.labels, points })
            .collect();
    }
    let mut groups: BTreeMap<Labels, Vec<(f64, f64, f64, f64)>> = BTreeMap::new();
    // Per step: sum, count, min, max.
    for s in &series {
        let slots = groups
            .entry(grouped(&s.labels, grouping))
            .or_insert_with(|| vec![(0.0, 0.0, f64::INFINITY, f64::NEG_INFINITY); steps]);
        for (slot, point) in slots.iter_mut().zip(&s.points) {
            if let Some(v) = point {
                slot.0 += v;
                slot.1 += 1.0;
                slot.2 = slot.2.min(*v);
                slot.3 = slot.3.max(*v);
            }
        }
    }
    groups
        .into_iter()
        .map(|(labels, slots)| {
            let points = slots
                .into_iter()
                .map(|(sum, count, min, max)| {
                    (count > 0.0).then(|| match aggregation.op {
                        VectorOp::Sum => sum,
                        VectorOp::Avg => sum / count,
                        VectorOp::Min => min,
                        VectorOp::Max => max,
                        VectorOp::Count | VectorOp::Topk | VectorOp::Bottomk => count,
                    })
                })
                .collect();
            Series { labels, points }
        })
        .filter(|s| s.points.iter().any(Option::is_some))
        .collect()
}

/// Whether a pipeline stage leaves the counting to the index: only `drop`
/// of Loki's error labels, which Grafana appends and Sluice never sets.
fn counts_on_index(stage: &Stage) -> bool {
    matches!(stage, Stage::Drop(names) if names.iter().all(|n| n.starts_with("__error")))
}

/// The canonical fields behind a grouping's labels, when every label the
/// result needs is one (`sum by (level) (…)`).
fn fast_grouping(wanted: Option<&Grouping>) -> Option<Vec<(&'static str, String)>> {
    const STREAM: [(&str, &str); 3] = [("service", "service_name"), ("host", "host"), ("level", "level")];
    match wanted {
        Some(Grouping { without: false, labels }) => labels
            .iter()
            .map(|label| match column(label) {
                Column::Canonical(field) => Some((field, label.clone())),
                _ => None,
            })
            .collect(),
        // Without a grouping the result has every stream label.
        _ => Some(STREAM.iter().map(|(field, label)| (*field, (*label).to_owned())).collect()),
    }
}

fn range_aggregation(
    store: &Store,
    aggregation: &RangeAggregation,
    steps: Steps,
    wanted: Option<&Grouping>,
    limits: &Limits,
) -> Result<Vec<Series>, EvalError> {
    let n = steps.count();
    let range_ns = aggregation.range;
    // Every window (t - range, t], as one time range.
    let span = TimeRange {
        from: Some(steps.start.saturating_sub(range_ns).saturating_add(1)),
        to: Some(steps.end.saturating_add(1)),
    };
    let query = &aggregation.query;
    let counting = matches!(aggregation.function, RangeFunction::CountOverTime | RangeFunction::Rate);
    let exact_on_index = match store.splits.first() {
        Some(split) => !plan(split, query, span)?.check,
        None => true,
    };
    let seconds = range_ns as f64 / 1e9;
    let scale = if aggregation.function == RangeFunction::Rate { 1.0 / seconds } else { 1.0 };
    if counting
        && exact_on_index
        && query.pipeline.iter().all(counts_on_index)
        && let Some(fields) = fast_grouping(wanted)
    {
        let grid = FineGrid::new(steps, range_ns).ok_or_else(|| {
            EvalError::Limit(format!(
                "the range {range_ns} ns and the step {} ns share no divisor coarse enough to count with: use a step that divides the range",
                steps.step
            ))
        })?;
        let names: Vec<&str> = fields.iter().map(|(field, _)| *field).collect();
        let counted = collect::count(store, &|split: &Split| Ok(plan(split, query, span)?.query), &names, &grid)?;
        if counted.len() > limits.max_series {
            return Err(too_many_series(limits));
        }
        return Ok(counted
            .into_iter()
            .map(|(values, fine)| {
                let labels = fields
                    .iter()
                    .zip(values)
                    .filter_map(|((_, label), value)| value.map(|v| (label.clone(), v)))
                    .collect();
                let points = grid.windows(&fine).into_iter().map(|c| (c > 0).then_some(c as f64 * scale)).collect();
                Series { labels, points }
            })
            .filter(|s: &Series| s.points.iter().any(Option::is_some))
            .collect());
    }
    // Read the candidates and run the pipeline on each.
    let additive = matches!(
        aggregation.function,
        RangeFunction::CountOverTime
            | RangeFunction::Rate
            | RangeFunction::BytesOverTime
            | RangeFunction::BytesRate
            | RangeFunction::SumOverTime
    );
    let pipeline = Pipeline::new(query);
    warm(store, query, span)?;
    let (hits, total) =
        store.search_by(&|split: &Split| Ok(plan(split, query, span)?.query), limits.max_records, true)?;
    if total > hits.len() as u64 {
        return Err(EvalError::Limit(format!(
            "the query would read {total} lines to check its filters, more than {}: narrow the stream selector or the time range",
            limits.max_records
        )));
    }
    let mut samples: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for chunk in hits.chunks(10_000) {
        for record in crate::fetch::fetch(store, chunk)? {
            let Some(entry) = pipeline.run(Entry::of(&record)) else { continue };
            let value = match (&aggregation.unwrap, aggregation.function) {
                (Some(unwrap), _) => match entry.label(&unwrap.label).and_then(|v| convert(v, unwrap.conversion)) {
                    Some(v) => v,
                    None => continue,
                },
                (None, RangeFunction::BytesOverTime | RangeFunction::BytesRate) => entry.line.len() as f64,
                (None, _) => 1.0,
            };
            // A series per stream (and parsed labels), unless grouped: by
            // its own `by`, or, for a sum over it, by the sum's (any label,
            // structured metadata too).
            let labels = match (&aggregation.grouping, wanted) {
                (Some(grouping), _) => grouped(&entry.all_labels(), Some(grouping)),
                (None, Some(wanted)) if additive && !wanted.without => grouped(&entry.all_labels(), Some(wanted)),
                (None, _) => {
                    let mut labels = entry.stream.clone();
                    labels.extend(entry.parsed.clone());
                    labels
                }
            };
            let mut labels = labels;
            if let Some(unwrap) = &aggregation.unwrap {
                labels.remove(&unwrap.label);
            }
            samples.entry(labels).or_default().push((entry.timestamp, value));
            if samples.len() > limits.max_series {
                return Err(too_many_series(limits));
            }
        }
    }
    let mut series = Vec::with_capacity(samples.len());
    for (labels, mut values) in samples {
        values.sort_by_key(|(t, _)| *t);
        let mut points = Vec::with_capacity(n);
        let (mut lo, mut hi) = (0usize, 0usize);
        for k in 0..n {
            let t = steps.at(k);
            while hi < values.len() && values[hi].0 <= t {
                hi += 1;
            }
            while lo < hi && values[lo].0 <= t - range_ns {
                lo += 1;
            }
            let window: Vec<f64> = values[lo..hi].iter().map(|(_, v)| *v).collect();
            points.push(window_value(aggregation, &window, seconds));
        }
        if points.iter().any(Option::is_some) {
            series.push(Series { labels, points });
        }
    }
    Ok(series)
}

/// Reads the term dictionaries the query's line filters scan, in every
/// segment of every split, side by side.
fn warm(store: &Store, query: &LogQuery, range: TimeRange) -> Result<(), EvalError> {
    let mut work = Vec::new();
    for split in &store.splits {
        let parts = plan(split, query, range)?.word_parts;
        if parts.is_empty() {
            continue;
        }
        for reader in split.searcher().segment_readers() {
            work.extend(parts.iter().map(|part| (reader.clone(), part.clone())));
        }
    }
    super::word_part::warm(&work)
        .map_err(|source| EvalError::Query(QueryError::Index { path: store.dir.root().to_owned(), source }))
}

fn too_many_series(limits: &Limits) -> EvalError {
    EvalError::Limit(format!(
        "maximum of series ({}) reached for a single query: group by fewer labels or narrow the stream selector",
        limits.max_series
    ))
}

fn window_value(aggregation: &RangeAggregation, window: &[f64], seconds: f64) -> Option<f64> {
    if window.is_empty() {
        return None;
    }
    let sum: f64 = window.iter().sum();
    Some(match aggregation.function {
        RangeFunction::CountOverTime => window.len() as f64,
        RangeFunction::Rate => window.len() as f64 / seconds,
        RangeFunction::BytesOverTime | RangeFunction::SumOverTime => sum,
        RangeFunction::BytesRate => sum / seconds,
        RangeFunction::AvgOverTime => sum / window.len() as f64,
        RangeFunction::MinOverTime => window.iter().copied().fold(f64::INFINITY, f64::min),
        RangeFunction::MaxOverTime => window.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        RangeFunction::QuantileOverTime => quantile(aggregation.parameter.unwrap_or(0.5), window),
    })
}

/// Prometheus's quantile: linear between the closest ranks.
fn quantile(phi: f64, values: &[f64]) -> f64 {
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = phi * (sorted.len() - 1) as f64;
    let (lower, upper) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - rank.floor();
    sorted[lower] * (1.0 - weight) + sorted[upper] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile(0.5, &[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(0.99, &[5.0]), 5.0);
        assert_eq!(quantile(1.0, &[3.0, 1.0, 2.0]), 3.0);
    }

    #[test]
    fn label_names_are_lokis() {
        assert_eq!(label_name("http.status"), "http_status");
        assert_eq!(label_name("1st-try"), "_1st_try");
    }
}
