//! `sluice serve`: Loki's query API, driven with the requests Grafana's
//! Loki data source sends (its Go back end's `makeDataRequest`: `start`
//! and `end` in ns, `step` as `…ms`; the health check's instant
//! `vector(1)+vector(1)`; Explore's supplementary volume query), and every
//! supported LogQL construct with exact answers.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::serve::{Server, curl};
use crate::{binary, generate_corpus, run, stderr_text};

/// `sluice serve` on `data`, on a free port.
fn serve(data: &Path, args: &[&str]) -> Server {
    let mut command = Command::new(binary("sluice"));
    command.arg("--data-dir").arg(data).args(["serve", "--listen", "127.0.0.1:0"]).args(args);
    Server::launch(command, "sluice: serving Loki's query API on http://")
}

/// A GET with `params` URL-encoded, as Grafana sends them; the status and
/// the body.
fn get(server: &Server, path: &str, params: &[(&str, &str)], headers: &[&str]) -> (u16, String) {
    let query = serde_urlencoded::to_string(params).unwrap();
    curl(&server.url(&format!("{path}?{query}")), "GET", headers, b"")
}

fn get_json(server: &Server, path: &str, params: &[(&str, &str)]) -> Value {
    let (status, body) = get(server, path, params, &[]);
    assert_eq!(status, 200, "{path} {params:?}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn ingest(data: &Path, input: &[u8]) {
    let output = run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(input));
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
}

fn ns(time: &str) -> String {
    let timestamp: jiff::Timestamp = time.parse().unwrap();
    timestamp.as_nanosecond().to_string()
}

/// A matrix's series as (labels, [(seconds, value)]), sorted by labels.
fn matrix(answer: &Value) -> Vec<(Value, Vec<(i64, String)>)> {
    assert_eq!(answer["status"], "success", "{answer}");
    assert_eq!(answer["data"]["resultType"], "matrix", "{answer}");
    let mut series: Vec<(Value, Vec<(i64, String)>)> = answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let points = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_i64().unwrap(), p[1].as_str().unwrap().to_owned()))
                .collect();
            (s["metric"].clone(), points)
        })
        .collect();
    series.sort_by_key(|(labels, _)| labels.to_string());
    series
}

/// An instant vector as (labels, value), sorted by labels.
fn vector(answer: &Value) -> Vec<(Value, String)> {
    assert_eq!(answer["data"]["resultType"], "vector", "{answer}");
    let mut samples: Vec<(Value, String)> = answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["metric"].clone(), s["value"][1].as_str().unwrap().to_owned()))
        .collect();
    samples.sort_by_key(|(labels, _)| labels.to_string());
    samples
}

/// Every line of a streams answer, in order, with its stream's labels.
fn lines(answer: &Value) -> Vec<(Value, String)> {
    assert_eq!(answer["data"]["resultType"], "streams", "{answer}");
    answer["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["values"].as_array().unwrap().iter().map(|v| (s["stream"].clone(), v[1].as_str().unwrap().to_owned()))
        })
        .collect()
}

#[test]
fn grafanas_requests_answer_from_the_generated_corpus() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let (corpus, expected) =
        generate_corpus(temp.path(), "corpus", &["--size", "400KB", "--seed", "21", "--days", "2"]);
    ingest(&data, &std::fs::read(&corpus).unwrap());
    let server = serve(&data, &[]);
    // The corpus spans two days and a little of a third.
    let (start, end) = (ns("2024-03-01T00:00:00Z"), ns("2024-03-04T00:00:00Z"));
    let accepted = expected["accepted"].as_u64().unwrap();

    // Save & test: the health check, an instant query.
    let health = get_json(&server, "/loki/api/v1/query", &[("query", "vector(1)+vector(1)"), ("time", &end)]);
    assert_eq!(
        health,
        json!({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1709510400, "2"]}]}})
    );
    let info = get_json(&server, "/loki/api/v1/status/buildinfo", &[]);
    assert_eq!(info["version"], "3.4.0");

    // The label browser.
    let labels = get_json(&server, "/loki/api/v1/labels", &[("start", &start), ("end", &end)]);
    assert_eq!(labels["data"], json!(["host", "level", "service_name"]));
    let services = get_json(&server, "/loki/api/v1/label/service_name/values", &[("start", &start), ("end", &end)]);
    let expected_services: Vec<&String> = expected["by_service"].as_object().unwrap().keys().collect();
    assert_eq!(services["data"], json!(expected_services));
    let levels = get_json(
        &server,
        "/loki/api/v1/label/level/values",
        &[("start", &start), ("end", &end), ("query", "{service_name=\"sshd\"}")],
    );
    assert!(
        levels["data"].as_array().unwrap().iter().all(|l| expected["by_level"].get(l.as_str().unwrap()).is_some()),
        "{levels}"
    );
    let series = get_json(
        &server,
        "/loki/api/v1/series",
        &[("match[]", "{service_name=\"sshd\"}"), ("start", &start), ("end", &end)],
    );
    let series = series["data"].as_array().unwrap();
    assert!(!series.is_empty() && series.iter().all(|s| s["service_name"] == "sshd"), "{series:?}");
    let stats = get_json(
        &server,
        "/loki/api/v1/index/stats",
        &[("query", "{service_name=~\".+\"}"), ("start", &start), ("end", &end)],
    );
    assert_eq!(stats["entries"], accepted);

    // Explore: the logs of one service, newest first, as Grafana asks.
    let sshd = expected["by_service"]["sshd"].as_u64().unwrap();
    let logs = get_json(
        &server,
        "/loki/api/v1/query_range",
        &[
            ("query", "{service_name=\"sshd\"}"),
            ("direction", "backward"),
            ("limit", "1000"),
            ("start", &start),
            ("end", &end),
            ("step", "60000ms"),
        ],
    );
    let found = lines(&logs);
    assert_eq!(found.len() as u64, sshd);
    assert!(found.iter().all(|(stream, _)| stream["service_name"] == "sshd"));
    let times: Vec<i64> = logs["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().iter().map(|v| v[0].as_str().unwrap().parse::<i64>().unwrap()))
        .collect();
    assert!(times.iter().all(|t| (1_709_251_200_000_000_000..1_709_510_400_000_000_000).contains(t)));
    // A limit smaller than the matches: the newest.
    let newest = get_json(
        &server,
        "/loki/api/v1/query_range",
        &[("query", "{service_name=\"sshd\"}"), ("limit", "5"), ("start", &start), ("end", &end)],
    );
    assert_eq!(lines(&newest).len(), 5);

    // Explore's supplementary log-volume query, per level, hourly.
    let volume = get_json(
        &server,
        "/loki/api/v1/query_range",
        &[
            (
                "query",
                "sum by (level, detected_level) (count_over_time({service_name=~\".+\"} | drop __error__[3600000ms]))",
            ),
            ("start", &start),
            ("end", &end),
            ("step", "3600000ms"),
        ],
    );
    let mut per_level = serde_json::Map::new();
    for (labels, points) in matrix(&volume) {
        assert_eq!(labels["level"], labels["detected_level"]);
        let total: u64 = points.iter().map(|(_, v)| v.parse::<u64>().unwrap()).sum();
        per_level.insert(labels["level"].as_str().unwrap().to_owned(), json!(total));
    }
    assert_eq!(Value::Object(per_level), expected["by_level"]);

    // Drilldown's service list: volume by service_name.
    let by_service = get_json(
        &server,
        "/loki/api/v1/index/volume",
        &[
            ("query", "{service_name=~\".+\"}"),
            ("start", &start),
            ("end", &end),
            ("limit", "5000"),
            ("targetLabels", "service_name"),
            ("aggregateBy", "series"),
        ],
    );
    let mut volumes = serde_json::Map::new();
    for (labels, value) in vector(&by_service) {
        volumes.insert(labels["service_name"].as_str().unwrap().to_owned(), json!(value.parse::<u64>().unwrap()));
    }
    assert_eq!(Value::Object(volumes), expected["by_service"]);

    // Drilldown's patterns of one service: every sampled line in one.
    let patterns = get_json(
        &server,
        "/loki/api/v1/patterns",
        &[("query", "{service_name=\"sshd\"}"), ("start", &start), ("end", &end), ("step", "3600000ms")],
    );
    let patterns = patterns["data"].as_array().unwrap();
    let in_patterns: u64 =
        patterns.iter().flat_map(|p| p["samples"].as_array().unwrap().iter().map(|s| s[1].as_u64().unwrap())).sum();
    assert_eq!(in_patterns, sshd);
    assert!(patterns.iter().all(|p| !p["pattern"].as_str().unwrap().contains("<*>")));

    // The last 100 lines with a rare word, and count_over_time against
    // `sluice count`, over windows that cover every record.
    let needle = expected["needles"][3].as_str().unwrap();
    let rare = get_json(
        &server,
        "/loki/api/v1/query_range",
        &[
            ("query", &format!("{{service_name=~\".+\"}} |= \"{needle}\"")),
            ("limit", "100"),
            ("start", &start),
            ("end", &end),
        ],
    );
    let rare_lines = lines(&rare);
    assert!(!rare_lines.is_empty() && rare_lines.iter().all(|(_, line)| line.contains(needle)));
    for (logql, sluice) in [
        (format!("{{service_name=~\".+\"}} |= \"{needle}\""), needle.to_owned()),
        ("{level=\"error\"}".to_owned(), "level:error".to_owned()),
        ("{service_name=\"sshd\", level!=\"info\"}".to_owned(), "service:sshd AND NOT level:info".to_owned()),
    ] {
        let counted = get_json(
            &server,
            "/loki/api/v1/query_range",
            &[
                ("query", &format!("sum(count_over_time({logql} [3600000ms]))")),
                ("start", &ns("2024-02-29T01:00:00Z")),
                ("end", &ns("2024-03-05T00:00:00Z")),
                ("step", "3600000ms"),
            ],
        );
        let sum: u64 =
            matrix(&counted).iter().flat_map(|(_, p)| p.iter().map(|(_, v)| v.parse::<u64>().unwrap())).sum();
        let output = run("sluice", &["--data-dir", data.to_str().unwrap(), "count", &sluice, "--format", "json"], None);
        let count: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(sum, count["count"].as_u64().unwrap(), "{logql} vs {sluice}");
        assert!(sum > 0, "{logql}");
    }

    // Detected labels and fields.
    let detected = get_json(
        &server,
        "/loki/api/v1/detected_labels",
        &[("query", "{service_name=~\".+\"}"), ("start", &start), ("end", &end)],
    );
    let services_detected =
        detected["detectedLabels"].as_array().unwrap().iter().find(|l| l["label"] == "service_name").unwrap();
    assert_eq!(services_detected["cardinality"], expected["by_service"].as_object().unwrap().len());

    // Errors in Loki's shape: plain text, 400.
    let (status, body) = get(
        &server,
        "/loki/api/v1/query_range",
        &[("query", "{service_name=\"sshd\"} | pattern \"<_> x\""), ("start", &start), ("end", &end)],
        &[],
    );
    assert_eq!(status, 400);
    assert!(
        body.starts_with("unsupported LogQL: `| pattern` is not supported by Sluice. Supported: stream selectors"),
        "{body}"
    );
    let (status, body) = get(
        &server,
        "/loki/api/v1/query_range",
        &[("query", "{service_name=\"sshd\""), ("start", &start), ("end", &end)],
        &[],
    );
    assert_eq!(
        (status, body.as_str()),
        (400, "parse error at line 1, col 21: expected `}` or `,` in the stream selector, found the end of the query")
    );
    let (status, body) = get(&server, "/loki/api/v1/query", &[("query", "{service_name=\"sshd\"}")], &[]);
    assert_eq!(
        (status, body.as_str()),
        (400, "log queries are not supported as an instant query type, please change your query to a range query type")
    );

    // Latency by endpoint.
    let (status, metrics) = curl(&server.url("/metrics"), "GET", &[], b"");
    assert_eq!(status, 200);
    assert!(metrics.contains("sluice_query_duration_seconds_count{endpoint=\"query_range\"}"), "{metrics}");
    assert!(metrics.contains("sluice_query_requests_total{endpoint=\"query_range\",code=\"400\"} 2"), "{metrics}");
}

/// Six requests to two services, one minute apart, with attributes.
const REQUESTS: &str = r#"{"timestamp":"2024-03-01T10:00:05Z","level":"info","service":"api","host":"a","message":"GET /users took 120ms","status":200,"latency_ms":120,"took":"120ms","path":"/users"}
{"timestamp":"2024-03-01T10:00:30Z","level":"error","service":"api","host":"a","message":"GET /orders failed: timeout","status":500,"latency_ms":900,"took":"900ms","path":"/orders"}
{"timestamp":"2024-03-01T10:01:10Z","level":"warn","service":"api","host":"b","message":"GET /users slow","status":200,"latency_ms":450,"took":"450ms","path":"/users"}
{"timestamp":"2024-03-01T10:01:50Z","level":"info","service":"web","host":"b","message":"render /home","status":200,"latency_ms":30,"took":"30ms","path":"/home"}
{"timestamp":"2024-03-01T10:02:20Z","level":"error","service":"web","host":"c","message":"render /cart failed: Timeout","status":503,"latency_ms":1500,"took":"1.5s","path":"/cart"}
{"timestamp":"2024-03-01T10:02:59Z","level":"info","service":"api","host":"a","message":"GET /users took 80ms","status":200,"latency_ms":80,"took":"80ms","path":"/users"}
"#;

#[test]
fn every_supported_logql_construct_answers_exactly() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    ingest(&data, REQUESTS.as_bytes());
    let server = serve(&data, &[]);
    // Steps at 10:01, 10:02 and 10:03: windows (10:00, 10:01], (10:01, 10:02], (10:02, 10:03].
    let (start, end) = (ns("2024-03-01T10:01:00Z"), ns("2024-03-01T10:03:00Z"));
    let (t1, t2, t3) = (1_709_287_260, 1_709_287_320, 1_709_287_380);
    let range = |query: &str| {
        get_json(
            &server,
            "/loki/api/v1/query_range",
            &[("query", query), ("start", &start), ("end", &end), ("step", "60000ms")],
        )
    };
    let instant = |query: &str| get_json(&server, "/loki/api/v1/query", &[("query", query), ("time", &end)]);
    let logs = |query: &str| {
        let answer = get_json(
            &server,
            "/loki/api/v1/query_range",
            &[("query", query), ("start", &ns("2024-03-01T10:00:00Z")), ("end", &end)],
        );
        lines(&answer)
    };
    let points = |values: &[(i64, &str)]| values.iter().map(|(t, v)| (*t, (*v).to_owned())).collect::<Vec<_>>();

    // Range aggregations, grouped.
    assert_eq!(
        matrix(&range(r#"sum by (service_name) (count_over_time({service_name=~".+"}[1m]))"#)),
        [
            (json!({"service_name": "api"}), points(&[(t1, "2"), (t2, "1"), (t3, "1")])),
            (json!({"service_name": "web"}), points(&[(t2, "1"), (t3, "1")])),
        ]
    );
    // Per stream, with a line filter checked on the line itself.
    assert_eq!(
        matrix(&range(r#"count_over_time({service_name="api"} |= "GET /users" [1m])"#)),
        [
            (json!({"host": "a", "level": "info", "service_name": "api"}), points(&[(t1, "1"), (t3, "1")])),
            (json!({"host": "b", "level": "warn", "service_name": "api"}), points(&[(t2, "1")])),
        ]
    );
    assert_eq!(
        matrix(&range(r#"sum(count_over_time({service_name=~".+"} | json | status >= 500 [1m]))"#)),
        [(json!({}), points(&[(t1, "1"), (t3, "1")]))]
    );
    assert_eq!(
        matrix(&range(r#"sum(rate({service_name="web"}[1m]))"#)),
        [(json!({}), points(&[(t2, "0.016666666666666666"), (t3, "0.016666666666666666")]))]
    );
    // Unwrapped values.
    assert_eq!(
        matrix(&range(r#"avg_over_time({service_name="api"} | json | unwrap latency_ms [1m]) by (path)"#)),
        [
            (json!({"path": "/orders"}), points(&[(t1, "900")])),
            (json!({"path": "/users"}), points(&[(t1, "120"), (t2, "450"), (t3, "80")])),
        ]
    );
    assert_eq!(
        vector(&instant(r#"quantile_over_time(0.5, {service_name=~".+"} | json | unwrap latency_ms [3m]) by ()"#)),
        [(json!({}), "285".to_owned())]
    );
    assert_eq!(
        vector(&instant(r#"max_over_time({service_name=~".+"} | json | unwrap latency_ms [3m]) by (service_name)"#)),
        [(json!({"service_name": "api"}), "900".to_owned()), (json!({"service_name": "web"}), "1500".to_owned())]
    );
    assert_eq!(
        vector(&instant(r#"sum(sum_over_time({service_name=~".+"} | json | status < 300 | unwrap latency_ms [3m]))"#)),
        [(json!({}), "680".to_owned())]
    );
    // bytes of the lines ("render /home", "render /cart failed: Timeout").
    assert_eq!(vector(&instant(r#"sum(bytes_over_time({service_name="web"}[3m]))"#)), [(json!({}), "40".to_owned())]);
    // Vector aggregations and arithmetic.
    assert_eq!(
        vector(&instant(r#"topk(1, sum by (service_name) (count_over_time({service_name=~".+"}[3m])))"#)),
        [(json!({"service_name": "api"}), "4".to_owned())]
    );
    assert_eq!(
        vector(&instant(r#"bottomk(1, sum by (host) (count_over_time({service_name=~".+"}[3m])))"#)),
        [(json!({"host": "c"}), "1".to_owned())]
    );
    assert_eq!(
        vector(&instant(r#"count(sum by (host) (count_over_time({service_name=~".+"}[3m])))"#)),
        [(json!({}), "3".to_owned())]
    );
    assert_eq!(
        vector(&instant(r#"sum(count_over_time({service_name="api"}[3m])) * 2 + 1"#)),
        [(json!({}), "9".to_owned())]
    );
    assert_eq!(
        vector(&instant(r#"sum without (host, level) (count_over_time({service_name="web"}[3m]))"#)),
        [(json!({"service_name": "web"}), "2".to_owned())]
    );
    assert_eq!(instant("2 ^ 3 / 4")["data"], json!({"resultType": "scalar", "result": [t3, "2"]}));

    assert_eq!(
        vector(&instant(r#"sum(bytes_rate({service_name="web"}[3m]))"#)),
        [(json!({}), "0.2222222222222222".to_owned())]
    );
    assert_eq!(
        vector(&instant(r#"min_over_time({service_name=~".+"} | json | unwrap latency_ms [3m]) by (service_name)"#)),
        [(json!({"service_name": "api"}), "80".to_owned()), (json!({"service_name": "web"}), "30".to_owned())]
    );
    assert_eq!(
        vector(&instant(r#"max_over_time({service_name=~".+"} | json | unwrap duration(took) [3m]) by ()"#)),
        [(json!({}), "1.5".to_owned())]
    );
    // An average over streams, not over a sum; a sum by structured metadata.
    assert_eq!(
        vector(&instant(r#"avg by (service_name) (count_over_time({service_name=~".+"}[3m]))"#)),
        [
            (json!({"service_name": "api"}), "1.3333333333333333".to_owned()),
            (json!({"service_name": "web"}), "1".to_owned())
        ]
    );
    assert_eq!(
        vector(&instant(r#"sum by (path) (count_over_time({service_name="api"}[3m]))"#)),
        [(json!({"path": "/orders"}), "1".to_owned()), (json!({"path": "/users"}), "3".to_owned())]
    );
    let per_host = r#"sum by (host) (count_over_time({service_name=~".+"}[3m]))"#;
    for (op, value) in [("avg", "2"), ("min", "1"), ("max", "3"), ("sum", "6")] {
        assert_eq!(vector(&instant(&format!("{op}({per_host})"))), [(json!({}), value.to_owned())], "{op}");
    }
    assert_eq!(vector(&instant(&format!("{per_host} % 2 - 1"))).len(), 3);

    // Log queries: selectors, line filters, parsers, label filters, formats.
    let texts = |found: Vec<(Value, String)>| found.into_iter().map(|(_, line)| line).collect::<Vec<_>>();
    assert_eq!(texts(logs(r#"{service_name!="api", level!~"info|debug"}"#)), ["render /cart failed: Timeout"]);
    assert_eq!(
        texts(logs(r#"{service_name=~".+"} | json | took > 500ms"#)),
        ["render /cart failed: Timeout", "GET /orders failed: timeout"]
    );
    assert_eq!(texts(logs(r#"{host=~"a|b"} != "GET""#)), ["render /home"]);
    assert_eq!(texts(logs(r#"{service_name=~".+"} |= "timeout""#)), ["GET /orders failed: timeout"]);
    // Substrings, not words: the end of one word and the start of the
    // next, and a part of a word (case-sensitive, as Loki's).
    assert_eq!(texts(logs(r#"{service_name=~".+"} |= "ders fail""#)), ["GET /orders failed: timeout"]);
    assert_eq!(
        texts(logs(r#"{service_name=~".+"} |= "ime""#)),
        ["render /cart failed: Timeout", "GET /orders failed: timeout"]
    );
    assert_eq!(texts(logs(r#"{service_name=~".+"} |= "Time""#)), ["render /cart failed: Timeout"]);
    assert_eq!(texts(logs(r#"{service_name="web"} |~ "(?i)timeout""#)), ["render /cart failed: Timeout"]);
    // Anchors, which tantivy's regular expressions on terms do not take,
    // are checked on each line.
    assert_eq!(texts(logs(r#"{service_name=~"^w.b$"}"#)), ["render /cart failed: Timeout", "render /home"]);
    assert_eq!(texts(logs(r#"{service_name=~".+"} |~ "slow|home""#)), ["render /home", "GET /users slow"]);
    assert_eq!(
        texts(logs(r#"{service_name=~".+"} |= "home" or "cart""#)),
        ["render /cart failed: Timeout", "render /home"]
    );
    assert_eq!(
        texts(logs(r#"{service_name="api"} !~ "took \\d+ms""#)),
        ["GET /users slow", "GET /orders failed: timeout"]
    );
    assert_eq!(texts(logs(r#"{path="/users", host!="b"}"#)), ["GET /users took 80ms", "GET /users took 120ms"]);
    assert_eq!(
        texts(logs(r#"{service_name="api"} | json | status="200" | line_format "{{.path}} {{.status}} {{.level}}""#)),
        ["/users 200 info", "/users 200 warn", "/users 200 info"]
    );
    assert_eq!(
        texts(logs(r#"{service_name=~".+"} | logfmt | latency_ms > 1000 or path=~"/o.*""#)),
        ["render /cart failed: Timeout", "GET /orders failed: timeout"]
    );
    let kept = logs(r#"{service_name="web"} | json | keep path"#);
    assert_eq!(
        kept.iter().map(|(stream, _)| stream.clone()).collect::<Vec<_>>(),
        [json!({"path": "/cart"}), json!({"path": "/home"})]
    );
    let dropped = logs(r#"{service_name="web", level="info"} | json | drop latency_ms, status, host, took"#);
    assert_eq!(
        dropped,
        [(json!({"level": "info", "path": "/home", "service_name": "web"}), "render /home".to_owned())]
    );
    // Oldest first.
    let forward = get_json(
        &server,
        "/loki/api/v1/query_range",
        &[
            ("query", "{service_name=\"api\"}"),
            ("direction", "forward"),
            ("limit", "2"),
            ("start", &ns("2024-03-01T10:00:00Z")),
            ("end", &end),
        ],
    );
    assert_eq!(texts(lines(&forward)), ["GET /users took 120ms", "GET /orders failed: timeout"]);
    // Categorized labels: the stream's own, metadata and parsed apart.
    let (status, body) = get(
        &server,
        "/loki/api/v1/query_range",
        &[
            ("query", r#"{service_name="web", level="info"} | json"#),
            ("start", &ns("2024-03-01T10:00:00Z")),
            ("end", &end),
        ],
        &["X-Loki-Response-Encoding-Flags: categorize-labels"],
    );
    assert_eq!(status, 200, "{body}");
    let categorized: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(categorized["data"]["encodingFlags"], json!(["categorize-labels"]));
    assert_eq!(
        categorized["data"]["result"],
        json!([{"stream": {"host": "b", "level": "info", "service_name": "web"}, "values": [[ns("2024-03-01T10:01:50Z"), "render /home", {"parsed": {"latency_ms": "30", "path": "/home", "status": "200", "took": "30ms"}}]]}])
    );
}

#[test]
fn reading_beyond_loopback_needs_a_token_and_requests_need_it() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    ingest(&data, REQUESTS.as_bytes());
    let refused = run("sluice", &["--data-dir", data.to_str().unwrap(), "serve", "--listen", "0.0.0.0:0"], None);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr_text(&refused));
    assert_eq!(
        stderr_text(&refused),
        "sluice: error: refusing to listen on 0.0.0.0:0 without authentication: anyone who can reach it could read every \
         log. Give --token-file FILE (one token per line), or listen on 127.0.0.1\n"
    );
    let tokens = temp.path().join("tokens");
    std::fs::write(&tokens, "0123456789abcdef0123\n").unwrap();
    let server = serve(&data, &["--token-file", tokens.to_str().unwrap()]);
    let params = [("query", "vector(1)+vector(1)")];
    let (status, body) = get(&server, "/loki/api/v1/query", &params, &[]);
    assert_eq!(
        (status, body.as_str()),
        (401, "authentication required: send Authorization: Bearer TOKEN (a token of sluice serve's --token-file)\n")
    );
    let (status, _) = get(&server, "/loki/api/v1/query", &params, &["Authorization: Bearer 0123456789abcdef0123"]);
    assert_eq!(status, 200);
    let (status, _) = get(&server, "/ready", &[], &[]);
    assert_eq!(status, 200);
}

/// A live tail's next message, within `within`.
fn next_message(
    socket: &mut tungstenite::WebSocket<std::net::TcpStream>,
    within: std::time::Duration,
) -> Option<Value> {
    socket.get_mut().set_read_timeout(Some(within)).unwrap();
    match socket.read() {
        Ok(tungstenite::Message::Text(text)) => Some(serde_json::from_str(text.as_str()).unwrap()),
        // Keep-alives, every 30 s.
        Ok(tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_)) => next_message(socket, within),
        Ok(other) => panic!("unexpected message {other:?}"),
        Err(tungstenite::Error::Io(error))
            if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) =>
        {
            None
        }
        Err(error) => panic!("{error}"),
    }
}

#[test]
fn live_tail_sends_new_lines_within_two_seconds_each_once() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    ingest(&data, REQUESTS.as_bytes());
    let server = serve(&data, &[]);
    let query = serde_urlencoded::to_string([
        ("query", r#"{service_name="web"} |= "render""#),
        ("start", &ns("2024-03-01T00:00:00Z")),
        ("limit", "10"),
    ])
    .unwrap();
    let url = server.url(&format!("/loki/api/v1/tail?{query}")).replacen("http://", "ws://", 1);
    let host = url.trim_start_matches("ws://").split('/').next().unwrap().to_owned();
    let stream = std::net::TcpStream::connect(&host).unwrap();
    let (mut socket, _) = tungstenite::client(url.as_str(), stream).unwrap();
    let texts = |message: &Value| -> Vec<String> {
        message["streams"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["values"].as_array().unwrap().iter().map(|v| v[1].as_str().unwrap().to_owned()))
            .collect()
    };

    // What is there: oldest first.
    let first = next_message(&mut socket, std::time::Duration::from_secs(5)).expect("the lines since start");
    assert_eq!(texts(&first), ["render /home", "render /cart failed: Timeout"]);
    assert_eq!(first["dropped_entries"], Value::Null);
    // Uncategorized, as Loki's: structured metadata is among the labels.
    assert_eq!(
        first["streams"][0]["stream"],
        json!({"host": "b", "latency_ms": "30", "level": "info", "path": "/home", "service_name": "web", "status": "200", "took": "30ms"})
    );

    // Two commits: each new matching line comes once, within 2 s; a late
    // line (an old timestamp) is new too.
    for (round, time) in [(1, "2024-03-01T10:05:00Z"), (2, "2024-02-01T00:00:00Z")] {
        let lines = format!(
            "{{\"timestamp\":\"{time}\",\"service\":\"web\",\"message\":\"render /new{round}\"}}\n\
             {{\"timestamp\":\"{time}\",\"service\":\"api\",\"message\":\"render /not-web{round}\"}}\n"
        );
        let committed = std::time::Instant::now();
        ingest(&data, lines.as_bytes());
        let message = next_message(&mut socket, std::time::Duration::from_secs(2)).expect("the new line within 2 s");
        assert!(committed.elapsed() < std::time::Duration::from_secs(3), "{:?}", committed.elapsed());
        assert_eq!(texts(&message), [format!("render /new{round}")]);
        assert_eq!(next_message(&mut socket, std::time::Duration::from_millis(1500)), None, "sent twice");
    }
    socket.close(None).unwrap();
}

#[test]
fn a_tenant_header_scopes_what_is_pushed_and_what_is_read() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let ingest_server = Server::start(&data, &[]);
    let push = |tenant: Option<&str>, line: &str| {
        let body = format!(
            r#"{{"streams":[{{"stream":{{"service_name":"api"}},"values":[["1709287200000000000","{line}"]]}}]}}"#
        );
        let header = tenant.map(|t| format!("X-Scope-OrgID: {t}"));
        let mut headers = vec!["Content-Type: application/json"];
        headers.extend(header.as_deref());
        let (status, answer) = ingest_server.request("POST", "/loki/api/v1/push", &headers, body.as_bytes());
        assert_eq!(status, 204, "{answer}");
    };
    push(Some("team-a"), "a one");
    push(Some("team-a"), "a two");
    push(Some("team-b"), "b one");
    push(None, "no tenant");
    crate::serve::wait_for_count(&data, "*", 4, std::time::Duration::from_secs(10));

    let server = serve(&data, &[]);
    let params = [
        ("query", r#"{service_name="api"}"#),
        ("start", &ns("2024-03-01T00:00:00Z")),
        ("end", &ns("2024-03-02T00:00:00Z")),
        ("direction", "forward"),
    ];
    let read = |tenant: &str| {
        let header = format!("X-Scope-OrgID: {tenant}");
        let headers: Vec<&str> = if tenant.is_empty() { vec![] } else { vec![header.as_str()] };
        let (status, body) = get(&server, "/loki/api/v1/query_range", &params, &headers);
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        let mut texts: Vec<String> = lines(&answer).into_iter().map(|(_, line)| line).collect();
        texts.sort();
        texts
    };
    assert_eq!(read("team-a"), ["a one", "a two"]);
    assert_eq!(read("team-b"), ["b one"]);
    assert_eq!(read("team-c"), Vec::<String>::new());
    // Without the header: every line.
    assert_eq!(read(""), ["a one", "a two", "b one", "no tenant"]);
    // Metric queries and the label browser are scoped too.
    let (status, body) = get(
        &server,
        "/loki/api/v1/query",
        &[("query", r#"sum(count_over_time({service_name=~".+"}[1d]))"#), ("time", &ns("2024-03-02T00:00:00Z"))],
        &["X-Scope-OrgID: team-a"],
    );
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(vector(&answer), [(json!({}), "2".to_owned())]);
    let (_, body) = get(
        &server,
        "/loki/api/v1/label/service_name/values",
        &[("start", &ns("2024-03-01T00:00:00Z")), ("end", &ns("2024-03-02T00:00:00Z"))],
        &["X-Scope-OrgID: team-z"],
    );
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["data"], json!([]));
}
