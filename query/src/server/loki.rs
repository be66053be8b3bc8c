//! Loki's HTTP query API (`/loki/api/v1/…`), with Loki's JSON shapes and
//! its plain-text error bodies.
//!
//! Every endpoint reads its parameters ([`Params`]), waits for a query
//! slot, and answers from the current [`Store`] on the blocking pool,
//! within the query deadline.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::State;
use super::params::{BadParam, Params};
use crate::error::QueryError;
use crate::logql::ast::{Expr, LogQuery, Matcher, Stage};
use crate::logql::eval::{self, Entry, EvalError, Labels, Series, Steps};
use crate::logql::{LogqlError, parse, parse_selector};
use crate::patterns::PatternMiner;
use crate::store::Store;
use crate::time::TimeRange;

/// The Loki version Sluice's API follows (Grafana turns features on by it).
const LOKI_VERSION: &str = "3.4.0";
/// Largest `limit` of lines a query may ask for (Loki's default).
pub(super) const MAX_ENTRIES: usize = 5_000;
/// Largest form body of a POST query.
const MAX_FORM_BYTES: usize = 1 << 20;
/// Lines sampled for `detected_fields` and `patterns`.
const SAMPLE: usize = 10_000;
const HOUR: i64 = 3_600_000_000_000;

pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/loki/api/v1/query", endpoint("query", instant_query))
        .route("/loki/api/v1/query_range", endpoint("query_range", range_query))
        .route("/loki/api/v1/labels", endpoint("labels", label_names))
        .route("/loki/api/v1/label/{name}/values", named_endpoint("label_values", values_of_label))
        .route("/loki/api/v1/series", endpoint("series", series_list))
        .route("/loki/api/v1/index/stats", endpoint("index_stats", stats))
        .route("/loki/api/v1/index/volume", endpoint("volume", volume_instant))
        .route("/loki/api/v1/index/volume_range", endpoint("volume_range", volume_over_range))
        .route("/loki/api/v1/patterns", endpoint("patterns", mined_patterns))
        .route("/loki/api/v1/detected_labels", endpoint("detected_labels", labels_detected))
        .route("/loki/api/v1/detected_fields", endpoint("detected_fields", fields_detected))
        .route("/loki/api/v1/detected_field/{name}/values", named_endpoint("detected_field_values", values_of_field))
        .route("/loki/api/v1/tail", get(super::tail::tail))
        .route("/loki/api/v1/status/buildinfo", get(buildinfo))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .with_state(state)
}

/// A query endpoint (GET, or POST with a form): `handler` through [`run`],
/// counted in `/metrics` as `endpoint`.
fn endpoint(endpoint: &'static str, handler: Handler) -> MethodRouter<Arc<State>> {
    let serve = move |AxumState(state): AxumState<Arc<State>>, request: Request| async move {
        run(state, endpoint, None, request, handler).await
    };
    get(serve).post(serve)
}

/// The same for an endpoint whose path names a label or field (`{name}`).
fn named_endpoint(endpoint: &'static str, handler: Handler) -> MethodRouter<Arc<State>> {
    let serve = move |AxumState(state): AxumState<Arc<State>>, Path(name): Path<String>, request: Request| async move {
        run(state, endpoint, Some(name), request, handler).await
    };
    get(serve).post(serve)
}

/// With tokens, every request but `/ready` must carry one.
async fn authorize(AxumState(state): AxumState<Arc<State>>, request: Request, next: Next) -> Response {
    if let Some(tokens) = &state.tokens
        && request.uri().path() != "/ready"
    {
        let header = request.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes());
        if !tokens.allows(header) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "authentication required: send Authorization: Bearer TOKEN (a token of sluice serve's --token-file)\n",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// An answer other than success: Loki writes the reason as plain text.
struct ApiError {
    status: StatusCode,
    reason: String,
}

impl ApiError {
    fn bad(reason: impl Into<String>) -> ApiError {
        ApiError { status: StatusCode::BAD_REQUEST, reason: reason.into() }
    }
}

impl From<BadParam> for ApiError {
    fn from(error: BadParam) -> ApiError {
        ApiError::bad(error.0)
    }
}

impl From<LogqlError> for ApiError {
    fn from(error: LogqlError) -> ApiError {
        ApiError::bad(error.to_string())
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> ApiError {
        let status = match error.kind() {
            sluice_schemas::ErrorKind::UserFixable => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError { status, reason: error.to_string() }
    }
}

impl From<EvalError> for ApiError {
    fn from(error: EvalError) -> ApiError {
        match error {
            EvalError::Logql(error) => error.into(),
            EvalError::Limit(reason) => ApiError::bad(reason),
            EvalError::Query(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::X_CONTENT_TYPE_OPTIONS, "nosniff")],
            self.reason,
        )
            .into_response()
    }
}

/// What a handler is asked.
struct Ask {
    params: Params,
    /// `X-Loki-Response-Encoding-Flags: categorize-labels`.
    categorize: bool,
    now: i64,
    /// The `{name}` of the path, where there is one.
    name: Option<String>,
    /// `X-Scope-OrgID`: only the lines whose `tenant` is this.
    tenant: Option<Matcher>,
}

impl Ask {
    /// The `query` parameter, parsed and scoped to the tenant.
    fn expr(&self) -> Result<Expr, ApiError> {
        let mut expr = parse(query_text(self)?)?;
        if let Some(tenant) = &self.tenant {
            expr.restrict(tenant);
        }
        Ok(expr)
    }

    /// A selector parameter, scoped to the tenant.
    fn selector_of(&self, text: &str) -> Result<Vec<Matcher>, ApiError> {
        let mut matchers = parse_selector(text)?;
        matchers.extend(self.tenant.clone());
        Ok(matchers)
    }
}

/// The `X-Scope-OrgID` header as a matcher on the `tenant` label.
pub(super) fn tenant(headers: &HeaderMap) -> Option<Matcher> {
    let value = headers.get("x-scope-orgid")?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| Matcher {
        label: "tenant".to_owned(),
        op: crate::logql::ast::MatchOp::Eq,
        value: value.to_owned(),
    })
}

type Handler = fn(&State, &Store, &Ask) -> Result<Value, ApiError>;

/// Reads the request, waits for a slot, runs `handler` on the blocking
/// pool within the deadline, and counts it in `/metrics`.
async fn run(
    state: Arc<State>,
    endpoint: &'static str,
    name: Option<String>,
    request: Request,
    handler: Handler,
) -> Response {
    let started = Instant::now();
    let response = match answer(&state, name, request, handler).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(error) => error.into_response(),
    };
    state.metrics.observe(endpoint, response.status().as_u16(), started.elapsed());
    response
}

async fn answer(
    state: &Arc<State>,
    name: Option<String>,
    request: Request,
    handler: Handler,
) -> Result<Value, ApiError> {
    let deadline = tokio::time::Instant::now() + state.query_timeout;
    let (parts, body) = request.into_parts();
    let form = read_form(state, &parts.headers, body).await?;
    let params = Params::parse(parts.uri.query(), form.as_deref())?;
    let categorize = parts
        .headers
        .get("x-loki-response-encoding-flags")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|flags| flags.split(',').any(|flag| flag.trim() == "categorize-labels"));
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    let ask = Ask { params, categorize, now, name, tenant: tenant(&parts.headers) };
    let timed_out = || {
        ApiError {
        status: StatusCode::GATEWAY_TIMEOUT,
        reason: "request timed out, decrease the duration of the request or add more label matchers (prefer exact match over regex match) to reduce the amount of data processed".to_owned(),
    }
    };
    let _slot = tokio::time::timeout_at(deadline, state.slots.acquire()).await.map_err(|_| timed_out())?;
    let shared = state.clone();
    let work = tokio::task::spawn_blocking(move || {
        let store = shared.store.current()?;
        handler(&shared, &store, &ask)
    });
    match tokio::time::timeout_at(deadline, work).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(panic)) => Err(ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            reason: format!("the query failed (a bug in Sluice, please report it): {panic}"),
        }),
        // The query runs on to its end, but its answer is dropped.
        Err(_) => Err(timed_out()),
    }
}

/// A POST's form body, within the size limit and the body timeout.
async fn read_form(state: &State, headers: &HeaderMap, body: Body) -> Result<Option<Vec<u8>>, ApiError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(None);
    }
    let too_large = || ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        reason: format!("the form body is larger than {MAX_FORM_BYTES} bytes"),
    };
    let read = async {
        let mut body = body;
        let mut bytes = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| ApiError::bad(format!("reading the request body: {error}")))?;
            if let Some(data) = frame.data_ref() {
                if bytes.len() + data.len() > MAX_FORM_BYTES {
                    return Err(too_large());
                }
                bytes.extend_from_slice(data);
            }
        }
        Ok(bytes)
    };
    match tokio::time::timeout(state.body_read_timeout, read).await {
        Ok(bytes) => bytes.map(Some),
        Err(_) => Err(ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            reason: "the request body did not arrive in time".to_owned(),
        }),
    }
}

fn success(data: Value) -> Value {
    json!({ "status": "success", "data": data })
}

async fn buildinfo(AxumState(state): AxumState<Arc<State>>) -> Response {
    axum::Json(json!({
        "version": LOKI_VERSION,
        "revision": state.revision,
        "branch": "",
        "buildUser": "sluice",
        "buildDate": "",
        "goVersion": "",
    }))
    .into_response()
}

async fn ready() -> &'static str {
    "ready\n"
}

async fn metrics(AxumState(state): AxumState<Arc<State>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render(&state.connections)).into_response()
}

/// `start` and `end` (Loki's defaults: the hour before now), as a
/// half-open range.
fn span(ask: &Ask, default_length: i64) -> Result<(i64, i64), ApiError> {
    let end = ask.params.time("end", ask.now)?;
    let start = ask.params.time("start", end - default_length)?;
    if end < start {
        return Err(ApiError::bad("end timestamp must not be before or equal to start time"));
    }
    Ok((start, end))
}

fn query_text(ask: &Ask) -> Result<&str, ApiError> {
    ask.params.get("query").ok_or_else(|| ApiError::bad("query parameter is required"))
}

fn instant_query(state: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let time = ask.params.time("time", ask.now)?;
    match ask.expr()? {
        Expr::Log(_) => Err(ApiError::bad(
            "log queries are not supported as an instant query type, please change your query to a range query type",
        )),
        Expr::Metric(expr) => {
            let steps = Steps { start: time, end: time, step: 1 };
            let value = eval::evaluate(store, &expr, steps, &state.limits)?;
            let at = seconds(time);
            Ok(success(match value {
                eval::Value::Scalar(n) => json!({ "resultType": "scalar", "result": [at, number(n)] }),
                eval::Value::Vector(series) => json!({
                    "resultType": "vector",
                    "result": series.iter().filter_map(|s| s.points[0].map(|v| json!({"metric": s.labels, "value": [at, number(v)]}))).collect::<Vec<_>>(),
                }),
            }))
        }
    }
}

fn range_query(state: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, HOUR)?;
    match ask.expr()? {
        Expr::Log(query) => {
            let limit = ask.params.limit(100, MAX_ENTRIES)?;
            let forward = ask.params.forward()?;
            let range = TimeRange { from: Some(start), to: Some(end) };
            let entries = eval::select_lines(store, &query, range, limit, forward, &state.limits)?;
            Ok(success(streams(&entries, ask.categorize)))
        }
        Expr::Metric(expr) => {
            let steps = Steps { start, end, step: ask.params.step(start, end)? };
            let series = match eval::evaluate(store, &expr, steps, &state.limits)? {
                eval::Value::Scalar(n) => vec![Series { labels: Labels::new(), points: vec![Some(n); steps.count()] }],
                eval::Value::Vector(series) => series,
            };
            Ok(success(json!({ "resultType": "matrix", "result": matrix(&series, steps) })))
        }
    }
}

/// Lines grouped into streams by their labels, in the order they came.
fn streams(entries: &[Entry], categorize: bool) -> Value {
    let mut order: Vec<Labels> = Vec::new();
    let mut grouped: HashMap<Labels, Vec<Value>> = HashMap::new();
    for entry in entries {
        let labels = if categorize { entry.stream.clone() } else { entry.all_labels() };
        let mut value = vec![json!(entry.timestamp.to_string()), json!(entry.line)];
        if categorize && (!entry.metadata.is_empty() || !entry.parsed.is_empty()) {
            let mut categories = serde_json::Map::new();
            if !entry.metadata.is_empty() {
                categories.insert("structuredMetadata".to_owned(), json!(entry.metadata));
            }
            if !entry.parsed.is_empty() {
                categories.insert("parsed".to_owned(), json!(entry.parsed));
            }
            value.push(Value::Object(categories));
        }
        grouped
            .entry(labels.clone())
            .or_insert_with(|| {
                order.push(labels);
                Vec::new()
            })
            .push(Value::Array(value));
    }
    let result: Vec<Value> = order
        .into_iter()
        .map(|labels| {
            let values = grouped.remove(&labels).unwrap_or_default();
            json!({ "stream": labels, "values": values })
        })
        .collect();
    let mut data = json!({
        "resultType": "streams",
        "result": result,
        "stats": { "summary": { "totalEntriesReturned": entries.len() } },
    });
    if categorize {
        data["encodingFlags"] = json!(["categorize-labels"]);
    }
    data
}

fn matrix(series: &[Series], steps: Steps) -> Vec<Value> {
    series
        .iter()
        .map(|s| {
            let values: Vec<Value> = s
                .points
                .iter()
                .enumerate()
                .filter_map(|(k, p)| p.map(|v| json!([seconds(steps.at(k)), number(v)])))
                .collect();
            json!({ "metric": s.labels, "values": values })
        })
        .collect()
}

/// A sample's time as Prometheus writes it: seconds, with milliseconds
/// when there are any.
fn seconds(nanos: i64) -> Value {
    let millis = nanos.div_euclid(1_000_000);
    if millis % 1000 == 0 { json!(millis / 1000) } else { json!(millis as f64 / 1000.0) }
}

/// A sample's value as Prometheus writes it: a string, shortest form.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        format!("{value}")
    }
}

/// The selector of the `query` parameter (or every record of the tenant).
fn selector(ask: &Ask, name: &str) -> Result<Vec<Matcher>, ApiError> {
    match ask.params.get(name) {
        None => Ok(ask.tenant.clone().into_iter().collect()),
        Some(text) => ask.selector_of(text),
    }
}

/// The stream label sets of the records `matchers` select in `[start,
/// end)` and their line counts, from fast columns.
fn streams_of(store: &Store, matchers: Vec<Matcher>, start: i64, end: i64) -> Result<Vec<(Labels, u64)>, ApiError> {
    let query = LogQuery { selector: matchers, pipeline: Vec::new() };
    let range = (end - start).max(1);
    let expr = crate::logql::ast::MetricExpr::Range(crate::logql::ast::RangeAggregation {
        function: crate::logql::ast::RangeFunction::CountOverTime,
        parameter: None,
        query,
        unwrap: None,
        range,
        grouping: None,
    });
    // One window, (end - 1 - range, end - 1]: [start, end).
    let steps = Steps { start: end - 1, end: end - 1, step: range };
    let limits = eval::Limits { max_series: usize::MAX, ..eval::Limits::default() };
    let series = match eval::evaluate(store, &expr, steps, &limits)? {
        eval::Value::Vector(series) => series,
        eval::Value::Scalar(_) => Vec::new(),
    };
    Ok(series.into_iter().filter_map(|s| Some((s.labels, s.points[0]? as u64))).collect())
}

fn label_names(_: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, 6 * HOUR)?;
    let names: BTreeSet<String> = streams_of(store, selector(ask, "query")?, start, end)?
        .into_iter()
        .flat_map(|(labels, _)| labels.into_keys())
        .collect();
    Ok(success(json!(names)))
}

fn values_of_label(_: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, 6 * HOUR)?;
    let name = ask.name.as_deref().unwrap_or_default();
    let name = match name {
        "service" => "service_name",
        "detected_level" => "level",
        other => other,
    };
    let values: BTreeSet<String> = streams_of(store, selector(ask, "query")?, start, end)?
        .into_iter()
        .filter_map(|(mut labels, _)| labels.remove(name))
        .collect();
    Ok(success(json!(values)))
}

fn series_list(_: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, 6 * HOUR)?;
    let mut found: BTreeSet<Labels> = BTreeSet::new();
    let selectors = ask.params.all("match[]");
    if selectors.is_empty() {
        return Err(ApiError::bad("at least one match[] argument must be provided"));
    }
    for text in selectors {
        found.extend(streams_of(store, ask.selector_of(text)?, start, end)?.into_iter().map(|(labels, _)| labels));
    }
    Ok(success(json!(found)))
}

fn stats(_: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, HOUR)?;
    let streams = streams_of(store, selector(ask, "query")?, start, end)?;
    let entries: u64 = streams.iter().map(|(_, count)| count).sum();
    // Sluice keeps no chunks and no per-line byte counts in the index:
    // `bytes` is not known without reading every line, and is 0.
    Ok(json!({ "streams": streams.len(), "chunks": streams.len(), "entries": entries, "bytes": 0 }))
}

/// The labels a volume query groups by: `targetLabels`, else those its
/// selector names.
fn volume_labels(ask: &Ask, matchers: &[Matcher]) -> Vec<String> {
    match ask.params.get("targetLabels") {
        Some(text) => text.split(',').map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()).collect(),
        None => matchers.iter().map(|m| m.label.clone()).collect(),
    }
}

fn volume_instant(_: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, HOUR)?;
    let matchers = selector(ask, "query")?;
    let by = volume_labels(ask, &matchers);
    let limit = ask.params.limit(100, usize::MAX)?;
    let mut totals: BTreeMap<Labels, u64> = BTreeMap::new();
    for (labels, count) in streams_of(store, matchers, start, end)? {
        let key: Labels = labels.into_iter().filter(|(k, _)| by.contains(k)).collect();
        *totals.entry(key).or_default() += count;
    }
    let mut totals: Vec<(Labels, u64)> = totals.into_iter().collect();
    totals.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    totals.truncate(limit);
    let at = seconds(end);
    let result: Vec<Value> =
        totals.into_iter().map(|(labels, count)| json!({"metric": labels, "value": [at, count.to_string()]})).collect();
    Ok(success(json!({ "resultType": "vector", "result": result })))
}

fn volume_over_range(state: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, HOUR)?;
    let matchers = selector(ask, "query")?;
    let by = volume_labels(ask, &matchers);
    let step = ask.params.step(start, end)?;
    let steps = Steps { start, end, step };
    let expr = crate::logql::ast::MetricExpr::Vector(crate::logql::ast::VectorAggregation {
        op: crate::logql::ast::VectorOp::Sum,
        parameter: None,
        grouping: Some(crate::logql::ast::Grouping { without: false, labels: by }),
        inner: Box::new(crate::logql::ast::MetricExpr::Range(crate::logql::ast::RangeAggregation {
            function: crate::logql::ast::RangeFunction::CountOverTime,
            parameter: None,
            query: LogQuery { selector: matchers, pipeline: Vec::new() },
            unwrap: None,
            range: step,
            grouping: None,
        })),
    });
    let series = match eval::evaluate(store, &expr, steps, &state.limits)? {
        eval::Value::Vector(series) => series,
        eval::Value::Scalar(_) => Vec::new(),
    };
    Ok(success(json!({ "resultType": "matrix", "result": matrix(&series, steps) })))
}

fn mined_patterns(state: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, HOUR)?;
    let query = log_query(ask)?;
    let step = ask.params.step(start, end)?;
    let steps = Steps { start, end, step };
    let range = TimeRange { from: Some(start), to: Some(end) };
    let entries = eval::select_lines(store, &query, range, SAMPLE, false, &state.limits)?;
    let mut miner = PatternMiner::new(steps.count().max(1));
    for entry in &entries {
        let side = ((entry.timestamp - start) / step) as usize;
        miner.add(&entry.line, entry.timestamp, side);
    }
    let result: Vec<Value> = miner
        .patterns()
        .into_iter()
        .map(|pattern| {
            let samples: Vec<Value> = pattern
                .counts
                .iter()
                .enumerate()
                .filter(|(_, count)| **count > 0)
                .map(|(k, count)| json!([seconds(steps.at(k)), count]))
                .collect();
            json!({ "pattern": pattern.template.replace("<*>", "<_>"), "samples": samples })
        })
        .collect();
    Ok(success(json!(result)))
}

/// The `query` parameter as a log query (a metric query's is refused).
fn log_query(ask: &Ask) -> Result<LogQuery, ApiError> {
    match ask.expr()? {
        Expr::Log(query) => Ok(query),
        Expr::Metric(_) => Err(ApiError::bad("a log query is needed here, such as {service_name=\"api\"}")),
    }
}

fn labels_detected(_: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let (start, end) = span(ask, HOUR)?;
    let matchers = match ask.params.get("query") {
        Some(_) => log_query(ask)?.selector,
        None => ask.tenant.clone().into_iter().collect(),
    };
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (labels, _) in streams_of(store, matchers, start, end)? {
        for (name, value) in labels {
            values.entry(name).or_default().insert(value);
        }
    }
    let detected: Vec<Value> =
        values.into_iter().map(|(label, values)| json!({"label": label, "cardinality": values.len()})).collect();
    Ok(json!({ "detectedLabels": detected }))
}

/// The structured metadata of the newest lines of the query: name →
/// values seen.
fn sampled_fields(state: &State, store: &Store, ask: &Ask) -> Result<BTreeMap<String, BTreeSet<String>>, ApiError> {
    let (start, end) = span(ask, HOUR)?;
    let query = log_query(ask)?;
    let limit = ask.params.limit(1_000, SAMPLE)?;
    let range = TimeRange { from: Some(start), to: Some(end) };
    let mut fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let entries = eval::select_lines(store, &query, range, limit, false, &state.limits)?;
    for entry in entries {
        for (name, value) in entry.metadata.into_iter().chain(entry.parsed) {
            fields.entry(name).or_default().insert(value);
        }
    }
    Ok(fields)
}

fn fields_detected(state: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let parsed = log_query(ask)?.pipeline.iter().any(|s| matches!(s, Stage::Parser(_)));
    let fields = sampled_fields(state, store, ask)?;
    let detected: Vec<Value> = fields
        .into_iter()
        .map(|(label, values)| {
            json!({
                "label": label,
                "type": field_type(&values),
                "cardinality": values.len(),
                "parsers": if parsed { json!(["json"]) } else { Value::Null },
            })
        })
        .collect();
    Ok(json!({ "fields": detected, "limit": ask.params.limit(1_000, SAMPLE)? }))
}

fn values_of_field(state: &State, store: &Store, ask: &Ask) -> Result<Value, ApiError> {
    let name = ask.name.clone().unwrap_or_default();
    let mut fields = sampled_fields(state, store, ask)?;
    let values: Vec<String> = fields.remove(&name).map(|v| v.into_iter().collect()).unwrap_or_default();
    Ok(json!({ "values": values, "limit": ask.params.limit(1_000, SAMPLE)? }))
}

/// Loki's detected field types: the narrowest that every value fits.
fn field_type(values: &BTreeSet<String>) -> &'static str {
    let all = |f: &dyn Fn(&str) -> bool| values.iter().all(|v| f(v));
    if all(&|v| v.parse::<i64>().is_ok()) {
        "int"
    } else if all(&|v| v.parse::<f64>().is_ok()) {
        "float"
    } else if all(&|v| v == "true" || v == "false") {
        "boolean"
    } else if all(&|v| crate::logql::duration_nanos(v).is_some()) {
        "duration"
    } else if all(&|v| crate::logql::bytes(v).is_some()) {
        "bytes"
    } else {
        "string"
    }
}
