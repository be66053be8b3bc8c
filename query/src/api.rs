//! One function per question a front end asks, with a plain request and a
//! plain answer: the `sluice` CLI and a server call the same ones and
//! differ only in how they read requests (flags, HTTP parameters) and
//! render answers (tables and charts, JSON shapes). Requests carry parsed
//! values (a [`TimeRange`], an [`Interval`]), not the text of one front
//! end's flags; answers carry data, never formatting.
//!
//! The [`Store`] is the caller's: the CLI opens one per command, a server
//! keeps a [`crate::live::LiveStore`].

use crate::aggregate::{Histogram, Interval, Terms};
use crate::around::{Context, EventRef};
use crate::compare::Comparison;
use crate::error::QueryError;
use crate::fetch::FetchedRecord;
use crate::fields::FieldsReport;
use crate::patterns::Mined;
use crate::stats::Stats;
use crate::store::Store;
use crate::time::{TimeRange, Zone};

/// `search`: the newest (or oldest) matches of a query.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SearchRequest {
    pub query: String,
    pub range: TimeRange,
    pub limit: usize,
    pub oldest_first: bool,
    /// Archive columns to read; `None`: whole records.
    pub columns: Option<Vec<String>>,
}

/// Records in the order asked for, each with its reference.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Found {
    pub records: Vec<FetchedRecord>,
    /// One per record (empty where records have none, as a trace's).
    pub refs: Vec<EventRef>,
    /// Matches in all, of which `records` are the first.
    pub total: u64,
    /// Nothing matched and a field name in the query looks like a typo.
    pub hint: Option<String>,
}

pub fn search(store: &Store, request: &SearchRequest) -> Result<Found, QueryError> {
    let (hits, total) = store.search(&request.query, request.range, request.limit, request.oldest_first)?;
    let columns: Option<Vec<&str>> = request.columns.as_ref().map(|c| c.iter().map(String::as_str).collect());
    let records = crate::fetch::fetch_columns(store, &hits, columns.as_deref())?;
    let refs = hits.iter().map(EventRef::of).collect();
    Ok(Found { records, refs, total, hint: hint(store, &request.query, total) })
}

/// `tail`: the last `lines` matches, oldest first.
pub fn last(store: &Store, query: &str, range: TimeRange, lines: usize) -> Result<Found, QueryError> {
    let (mut hits, total) = store.search(query, range, lines, false)?;
    hits.reverse();
    let records = crate::fetch::fetch(store, &hits)?;
    let refs = hits.iter().map(EventRef::of).collect();
    Ok(Found { records, refs, total, hint: None })
}

/// `count`, optionally per value of a field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CountRequest {
    pub query: String,
    pub range: TimeRange,
    /// Count per value of this field too.
    pub by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Counted {
    pub total: u64,
    /// Per value of `by`, most frequent first.
    pub by: Option<Terms>,
    pub hint: Option<String>,
}

pub fn count(store: &Store, request: &CountRequest) -> Result<Counted, QueryError> {
    let total = store.count(&request.query, request.range)?;
    let by = request.by.as_deref().map(|field| store.terms(&request.query, request.range, field)).transpose()?;
    Ok(Counted { total, by, hint: hint(store, &request.query, total) })
}

/// `top`: the matches' most frequent values of `field`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Top {
    pub total: u64,
    pub terms: Terms,
    pub hint: Option<String>,
}

pub fn top(store: &Store, query: &str, range: TimeRange, field: &str) -> Result<Top, QueryError> {
    let total = store.count(query, range)?;
    let terms = store.terms(query, range, field)?;
    Ok(Top { total, terms, hint: hint(store, query, total) })
}

/// `trace`: a trace's records, oldest first.
pub fn trace(store: &Store, trace_id: &str, range: TimeRange) -> Result<Found, QueryError> {
    let (records, total) = store.trace(trace_id, range)?;
    Ok(Found { records, refs: Vec::new(), total, hint: None })
}

/// `context`: an event and its neighbours from the same service and host.
pub fn context(store: &Store, event: EventRef, before: usize, after: usize) -> Result<Context, QueryError> {
    store.context(event, before, after)
}

/// `histogram`: matches per time bucket, optionally per value of `by`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistogramRequest {
    pub query: String,
    pub range: TimeRange,
    pub interval: Interval,
    pub by: Option<String>,
}

/// Buckets start at whole intervals in `zone` (days at its midnight).
pub fn histogram(store: &Store, request: &HistogramRequest, zone: &Zone) -> Result<Histogram, QueryError> {
    store.histogram(&request.query, request.range, request.interval, request.by.as_deref(), zone)
}

/// `patterns`: the matches' messages as templates, over up to `sample`.
pub fn patterns(store: &Store, query: &str, range: TimeRange, sample: usize) -> Result<Mined, QueryError> {
    store.patterns(query, &[range], sample)
}

/// `fields`: the fields of the newest `sample` matches.
pub fn fields(store: &Store, query: &str, range: TimeRange, sample: usize) -> Result<FieldsReport, QueryError> {
    store.fields(query, range, sample)
}

/// `compare`: what grew in a window against a baseline.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CompareRequest {
    pub query: String,
    /// The window's start (ns).
    pub from: i64,
    /// The window's end (ns); `None`: just after the newest record.
    pub to: Option<i64>,
    /// Half-open, in ns.
    pub baseline: (i64, i64),
    pub sample: usize,
}

pub fn compare(store: &Store, request: &CompareRequest) -> Result<Comparison, QueryError> {
    let from = request.from;
    let to = match request.to {
        Some(to) => to,
        None => store.time_bounds()?.map_or(from + 1, |(_, last)| (last + 1).max(from + 1)),
    };
    store.compare(&request.query, (from, to), request.baseline, request.sample)
}

/// The time range `compare` needs open: the window's and the baseline's.
pub fn compare_span(request: &CompareRequest) -> TimeRange {
    TimeRange { from: Some(request.from.min(request.baseline.0)), to: request.to.map(|to| to.max(request.baseline.1)) }
}

/// `stats`: what a data directory holds.
pub fn stats(store: &Store) -> Result<Stats, QueryError> {
    store.stats()
}

fn hint(store: &Store, query: &str, total: u64) -> Option<String> {
    if total == 0 { store.empty_result_hint(query) } else { None }
}
