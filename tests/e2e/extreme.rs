//! Extreme inputs, as ordinary tests: each gets a clear error or a correct
//! answer, never a panic, an abort or a failed allocation. These run the
//! debug build (overflow checks on), as the README's Quick start does.

use std::path::Path;

use serde_json::Value;

use crate::{run, stderr_text};

fn ingest(data: &Path, file: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--data-dir", data.to_str().unwrap(), "--summary-json", "--compact-after", "off"];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    let output = run("sluice-ingest", &args, None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    let summary: Value = serde_json::from_str(String::from_utf8_lossy(&output.stdout).lines().last().unwrap()).unwrap();
    let rejected = summary["rejected"].as_u64().unwrap();
    assert_eq!(
        summary["lines_read"].as_u64().unwrap(),
        summary["accepted"].as_u64().unwrap() + rejected + summary["blank"].as_u64().unwrap(),
        "{summary}"
    );
    summary
}

fn dead_letters(data: &Path) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let mut files = Vec::new();
    crate::collect(&data.join("deadletter"), "ndjson", &mut files);
    files.sort();
    for file in files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let entry: Value = serde_json::from_str(line).unwrap();
            out.push((
                entry["line"].as_u64().unwrap(),
                entry["reason"].as_str().unwrap().to_owned(),
                entry["detail"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

/// `sluice` with `args`: exit code, stdout, stderr.
fn sluice(data: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["--data-dir", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = run("sluice", &all, None);
    (output.status.code(), String::from_utf8_lossy(&output.stdout).into_owned(), stderr_text(&output))
}

#[test]
fn extreme_lines_are_accepted_or_rejected_with_a_reason() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let lines = [
        r#"{"msg":"huge number","n":1e999999}"#.to_owned(),
        r#"{"msg":"negative zeros","m":-0,"o":-0.0}"#.to_owned(),
        r#"{"msg":"nan-like","a":"NaN","b":"Infinity","c":"-inf","d":"1e999999"}"#.to_owned(),
        r#"{"msg":"control \u0000 \u001f characters","k\u0001ey":"v\u0007"}"#.to_owned(),
        format!(r#"{{"msg":"deep arrays","a":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000)),
        format!(r#"{{"msg":"deep objects","a":{}1{}}}"#, r#"{"a":"#.repeat(10_000), "}".repeat(10_000)),
        r#"{"msg":"time past 2262","time":"9999-12-31T23:59:59Z"}"#.to_owned(),
        r#"{"msg":"time of 1e300 s","time":1e300}"#.to_owned(),
    ];
    let file = temp.path().join("extreme.ndjson");
    let mut bytes = lines.join("\n").into_bytes();
    bytes.extend_from_slice(b"\n{\"msg\":\"invalid \xff UTF-8 in a value\",\"k\xfe\":1}\n");
    std::fs::write(&file, &bytes).unwrap();
    let summary = ingest(&data, &file, &[]);
    assert_eq!((summary["lines_read"].as_u64(), summary["accepted"].as_u64()), (Some(9), Some(5)), "{summary}");
    assert_eq!(
        dead_letters(&data),
        [
            (1, "invalid_json".into(), "not valid JSON at byte 25 near '1': InvalidNumber".into()),
            (5, "invalid_json".into(), "not valid JSON at byte 1048 near '[': DepthLimitExceeded".into()),
            (6, "invalid_json".into(), "not valid JSON at byte 5141 near '{': DepthLimitExceeded".into()),
            (9, "invalid_utf8".into(), "invalid UTF-8 at byte 16".into()),
        ]
    );
    // What was accepted reads back as written.
    let (code, out, err) = sluice(&data, &["search", "*", "--oldest-first", "--format", "ndjson"]);
    assert_eq!(code, Some(0), "{err}");
    let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by_message = |m: &str| records.iter().find(|r| r["message"] == m).unwrap_or_else(|| panic!("{m}: {out}"));
    assert_eq!(by_message("negative zeros")["attributes"], serde_json::json!({"m": 0, "o": -0.0}));
    assert_eq!(
        by_message("nan-like")["attributes"],
        serde_json::json!({"a": "NaN", "b": "Infinity", "c": "-inf", "d": "1e999999"})
    );
    assert_eq!(by_message("control \u{0} \u{1f} characters")["attributes"], serde_json::json!({"k\u{1}ey": "v\u{7}"}));
    // A time past what 64-bit nanoseconds hold is not taken as the
    // record's time: it keeps its text, with a note, and the record the time
    // it was observed.
    for message in ["time past 2262", "time of 1e300 s"] {
        let record = by_message(message);
        assert!(record["notes"].as_array().is_some_and(|n| !n.is_empty()), "{record}");
    }
}

#[test]
fn an_object_with_a_million_keys_is_ingested_and_searchable() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let keys: Vec<String> = (0..1_000_000).map(|i| format!("\"k{i}\":{i}")).collect();
    let line = format!("{{\"msg\":\"a million keys\",{}}}\n", keys.join(","));
    let file = temp.path().join("million.ndjson");
    std::fs::write(&file, &line).unwrap();
    // The default line limit (1 MiB) rejects it, saying so.
    let summary = ingest(&data, &file, &[]);
    assert_eq!(summary["rejected_by_reason"], serde_json::json!({"line_too_long": 1}), "{summary}");
    let summary = ingest(&temp.path().join("data2"), &file, &["--max-line-bytes", "20000000"]);
    assert_eq!(summary["accepted"].as_u64(), Some(1), "{summary}");
    let (code, out, err) = sluice(&temp.path().join("data2"), &["count", "k999999:999999", "--format", "json"]);
    assert_eq!((code, out.trim()), (Some(0), r#"{"count":1}"#), "{err}");
}

#[test]
fn extreme_queries_get_an_answer_or_a_clear_error() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let file = temp.path().join("few.ndjson");
    let lines: String = (0..5)
        .map(|i| format!("{{\"time\":\"2024-03-01T10:00:0{i}Z\",\"service\":\"api\",\"msg\":\"request {i}\"}}\n"))
        .collect();
    std::fs::write(&file, lines).unwrap();
    ingest(&data, &file, &[]);
    let count = |args: &[&str]| -> (Option<i32>, String, String) { sluice(&data, args) };

    // An hour past what 64-bit nanoseconds hold: no such record.
    for reference in ["3000000:0:0", "9223372036854775807:0:0", "-3000000:0:0"] {
        let (code, _, err) = count(&["context", "--", reference]);
        assert_eq!(code, Some(2), "{reference}: {err}");
        assert!(err.contains(&format!("no record {reference} in this data directory")), "{reference}: {err}");
    }
    // Limits far past the data: every record, no giant allocation.
    let (code, out, err) = count(&["search", "*", "--limit", "1000000000000", "--format", "ndjson"]);
    assert_eq!((code, out.lines().count()), (Some(0), 5), "{err}");
    let (code, out, err) = count(&["tail", "-n", "1000000000000", "--format", "ndjson"]);
    assert_eq!((code, out.lines().count()), (Some(0), 5), "{err}");
    let (code, out, err) = count(&["context", "474802:1:2", "--before", "1000000000000", "--after", "1000000000000"]);
    assert_eq!((code, out.lines().count()), (Some(0), 6), "{out}{err}");
    let (code, out, err) = count(&["top", "service", "*", "--limit", "1000000000000", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["buckets"][0]["count"], 5);
    for command in ["patterns", "fields"] {
        let (code, _, err) = count(&[command, "*", "--sample", "1000000000000"]);
        assert_eq!(code, Some(0), "{command}: {err}");
    }
    // Times past 2262 (or before 1677) are the ends of time.
    let (code, out, err) = count(&["count", "*", "--from", "1970-01-01", "--to", "9999-12-31", "--format", "json"]);
    assert_eq!((code, out.trim()), (Some(0), r#"{"count":5}"#), "{err}");
    let (code, out, err) =
        count(&["count", "*", "--from", "0001-01-01", "--to", "9999-12-31T23:59:59Z", "--format", "json"]);
    assert_eq!((code, out.trim()), (Some(0), r#"{"count":5}"#), "{err}");
    let (code, _, err) = count(&["count", "*", "--to", "9999-12-31T25:00:00Z"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = count(&["histogram", "*", "--interval", "1s", "--from", "1970-01-01", "--to", "9999-12-31"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("buckets, more than 10000: use a larger --interval"), "{err}");
    // From before the epoch to the end of time (found by the time_expression
    // fuzz target: the span overflowed i64): charted by the year, every
    // record in its bucket.
    let (code, out, err) = count(&["histogram", "*", "--from", "1969-02-01", "--to", "9998-12-31", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let charted: u64 = serde_json::from_str::<Value>(&out).unwrap()["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .sum();
    assert_eq!(charted, 5, "{out}");
    // U+0001 separates JSON path segments inside tantivy's terms (found by
    // the query_string fuzz target with U+0000, which argv cannot carry).
    let (code, _, err) = count(&["count", "a\u{1}b:x"]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err,
        "sluice: error: invalid query `a\u{1}b:x`: the control character U+0001 at character 2: queries cannot \
         contain it\n"
    );

    // A query of 100 KB: words ORed, answered; parentheses 50,000 deep,
    // refused before the parser recurses, and not echoed back whole.
    let words: Vec<String> = (0..11_000).map(|i| format!("word{i}")).collect();
    let mut wide = words.join(" OR ");
    wide.truncate(100_000);
    let wide = format!("{} OR request", wide.rsplit_once(" OR ").unwrap().0);
    let (code, out, err) = count(&["count", &wide, "--format", "json"]);
    assert_eq!((code, out.trim()), (Some(0), r#"{"count":5}"#), "{err}");
    let deep = format!("{}request{}", "(".repeat(50_000), ")".repeat(50_000));
    let (code, _, err) = count(&["count", &deep]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("… (100007 bytes)`: parentheses nest more than 100 deep; write the query flatter"), "{err}");
    assert!(err.len() < 1000, "{} bytes of error", err.len());
}
