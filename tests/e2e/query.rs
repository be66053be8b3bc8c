//! `sluice search` and `sluice count` over an ingested generated corpus:
//! every answer is checked against the generator's expected counts.

use std::path::Path;

use serde_json::Value;

use crate::{generate_corpus, run, stderr_text, stdout_lines};

fn sluice(data: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--data-dir", data.to_str().unwrap()];
    all.extend_from_slice(args);
    run("sluice", &all, None)
}

fn json(data: &Path, args: &[&str]) -> Value {
    let output = sluice(data, args);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn ndjson(data: &Path, args: &[&str]) -> Vec<Value> {
    let output = sluice(data, args);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_text(&output));
    stdout_lines(&output).iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn buckets(value: &Value) -> serde_json::Map<String, Value> {
    value["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["value"].as_str().unwrap_or("(none)").to_owned(), b["count"].clone()))
        .collect()
}

#[test]
fn search_and_count_agree_with_the_generator() {
    let temp = tempfile::tempdir().unwrap();
    let flags = ["--size", "4MB", "--seed", "21", "--needles", "8", "--traces", "6"];
    let (corpus, expected) = generate_corpus(temp.path(), "corpus", &flags);
    let data = temp.path().join("data");
    // Small batches: hits come from many archive files and several day splits.
    let ingested = run(
        "sluice-ingest",
        &["--data-dir", data.to_str().unwrap(), "--batch-bytes", "1000000", corpus.to_str().unwrap()],
        None,
    );
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));
    let accepted = expected["accepted"].as_u64().unwrap();

    // Counts: in all, by level, by service.
    assert_eq!(json(&data, &["count", "*", "--format", "json"])["count"], accepted);
    let by_level = json(&data, &["count", "*", "--by", "level", "--format", "json"]);
    assert_eq!(Value::Object(buckets(&by_level)), expected["by_level"]);
    let by_service = json(&data, &["count", "*", "--by", "service", "--format", "json"]);
    assert_eq!(Value::Object(buckets(&by_service)), expected["by_service"]);
    let errors = expected["by_level"]["error"].as_u64().unwrap();
    assert_eq!(json(&data, &["count", "level:error", "--format", "json"])["count"], errors);

    // Every needle is found exactly once, by a bare word, with its record.
    for needle in expected["needles"].as_array().unwrap() {
        let needle = needle.as_str().unwrap();
        let hits = ndjson(&data, &["search", needle, "--format", "ndjson"]);
        assert_eq!(hits.len(), 1, "{needle}");
        assert!(hits[0]["message"].as_str().unwrap().contains(needle), "{needle}: {}", hits[0]);
        assert!(hits[0]["timestamp"].is_string() && hits[0]["producer"].is_string());
    }

    // A trace returns exactly its records, oldest first.
    for (trace, count) in expected["traces"].as_object().unwrap() {
        let query = format!("trace_id:{trace}");
        let hits = ndjson(&data, &["search", &query, "--oldest-first", "--limit", "1000", "--format", "ndjson"]);
        assert_eq!(hits.len() as u64, count.as_u64().unwrap(), "{trace}");
        assert!(hits.iter().all(|h| h["trace_id"] == trace.as_str()));
        let times: Vec<&str> = hits.iter().map(|h| h["timestamp"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    }

    // Newest first; the newest is the generator's last timestamp.
    let newest = ndjson(&data, &["search", "*", "--limit", "25", "--format", "ndjson"]);
    assert_eq!(newest.len(), 25);
    assert_eq!(newest[0]["timestamp"], expected["last_timestamp"]);
    let times: Vec<&str> = newest.iter().map(|h| h["timestamp"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let oldest = ndjson(&data, &["search", "*", "--limit", "1", "--oldest-first", "--format", "ndjson"]);
    assert_eq!(oldest[0]["timestamp"], expected["first_timestamp"]);

    // Time ranges are half-open and partition the data.
    let first = expected["first_timestamp"].as_str().unwrap();
    assert_eq!(json(&data, &["count", "*", "--from", first, "--format", "json"])["count"], accepted);
    assert_eq!(json(&data, &["count", "*", "--to", first, "--format", "json"])["count"], 0);
    let middle = "2024-03-02T07:30:00Z";
    let before = json(&data, &["count", "*", "--to", middle, "--format", "json"])["count"].as_u64().unwrap();
    let after = json(&data, &["count", "*", "--from", middle, "--format", "json"])["count"].as_u64().unwrap();
    assert!(before > 0 && after > 0, "{before} {after}");
    assert_eq!(before + after, accepted);
    let json_result = json(&data, &["search", "level:fatal", "--to", middle, "--limit", "3", "--format", "json"]);
    assert_eq!(json_result["returned"], 3);
    assert!(json_result["hits"].as_array().unwrap().iter().all(|h| h["level"] == "fatal"));
    assert_eq!(
        json_result["total"],
        json(&data, &["count", "level:fatal", "--to", middle, "--format", "json"])["count"]
    );

    top_and_histogram_agree_with_the_generator(&data, &expected);
    context_and_trace_return_the_right_records(&data, &expected);
    sql_agrees_with_count(&data, &expected);

    // patterns: every match falls in exactly one template, far fewer templates than messages.
    let sshd = json(&data, &["count", "service:sshd", "--format", "json"])["count"].as_u64().unwrap();
    let mined = json(&data, &["patterns", "service:sshd", "--limit", "100000", "--format", "json"]);
    assert_eq!(mined["matches"], sshd);
    assert_eq!(mined["grouped"], sshd);
    let patterns = mined["patterns"].as_array().unwrap();
    assert_eq!(patterns.iter().map(|p| p["count"].as_u64().unwrap()).sum::<u64>(), sshd);
    assert_eq!(patterns.len() as u64, mined["templates"].as_u64().unwrap());
    assert!((patterns.len() as u64) * 10 < sshd, "{} templates for {sshd} messages", patterns.len());
    assert!(patterns.iter().all(|p| p["first"].as_str() <= p["last"].as_str()));

    let stats = json(&data, &["stats", "--format", "json"]);
    assert_eq!(stats["records"], expected["accepted"]);
    assert_eq!(stats["first"], expected["first_timestamp"]);
    assert_eq!(stats["last"], expected["last_timestamp"]);
    let rejected: u64 = expected["rejected_by_reason"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(stats["dead_letters"], rejected);
    // Three days of timeline; the generator's pace may spill a few minutes
    // into a fourth.
    let days: Vec<&str> = stats["days"].as_array().unwrap().iter().map(|d| d["day"].as_str().unwrap()).collect();
    assert_eq!(days[..3], ["2024-03-01", "2024-03-02", "2024-03-03"]);
    assert!(days.len() <= 4, "{days:?}");
    assert_eq!(days.first().copied(), expected["first_timestamp"].as_str().map(|t| &t[..10]));
    assert_eq!(days.last().copied(), expected["last_timestamp"].as_str().map(|t| &t[..10]));
    assert!(stats["archive_files"].as_u64().unwrap() > 0 && stats["index_bytes"].as_u64().unwrap() > 0);
}

/// `sql` over the archive gives the same numbers as `count` over the index.
fn sql_agrees_with_count(data: &Path, expected: &Value) {
    let sql = |statement: &str| ndjson(data, &["sql", statement, "--format", "ndjson"]);
    let count =
        |args: &[&str]| json(data, &[&["count"][..], args, &["--format", "json"][..]].concat())["count"].clone();
    assert_eq!(sql("SELECT count(*) AS n FROM logs")[0]["n"], expected["accepted"]);
    let by_level: serde_json::Map<String, Value> = sql("SELECT level, count(*) AS n FROM logs GROUP BY level")
        .iter()
        .map(|row| (row["level"].as_str().unwrap().to_owned(), row["n"].clone()))
        .collect();
    assert_eq!(Value::Object(by_level), expected["by_level"]);
    let (from, to) = ("2024-03-01T06:00:00Z", "2024-03-01T12:00:00Z");
    let errors = sql(&format!(
        "SELECT count(*) AS n FROM logs WHERE level = 'error' AND timestamp >= '{from}' AND timestamp < '{to}'"
    ));
    assert_eq!(errors[0]["n"], count(&["level:error", "--from", from, "--to", to]));
    // The partition columns select whole directories.
    let day = sql("SELECT count(*) AS n FROM logs WHERE date = '2024-03-02'");
    assert_eq!(day[0]["n"], count(&["*", "--from", "2024-03-02", "--to", "2024-03-03"]));
    let hour = sql("SELECT count(*) AS n FROM logs WHERE date = '2024-03-02' AND hour = 7");
    assert_eq!(hour[0]["n"], count(&["*", "--from", "2024-03-02T07:00:00Z", "--to", "2024-03-02T08:00:00Z"]));
    // …and `--stats` counts the files scanned: only that hour's, of all of them.
    let parquet_in = |dir: &Path| walk(dir).iter().filter(|p| p.extension().is_some_and(|e| e == "parquet")).count();
    let (in_hour, all) = (parquet_in(&data.join("archive/date=2024-03-02/hour=07")), parquet_in(&data.join("archive")));
    assert!(in_hour >= 1 && in_hour < all, "{in_hour} of {all}");
    for (statement, read) in [
        ("SELECT level, count(*) AS n FROM logs WHERE date = '2024-03-02' AND hour = 7 GROUP BY level", in_hour),
        ("SELECT level, count(*) AS n FROM logs GROUP BY level", all),
        // A bare count is answered from the files' statistics: nothing is scanned.
        ("SELECT count(*) AS n FROM logs WHERE date = '2024-03-02' AND hour = 7", 0),
    ] {
        let stats = sluice(data, &["sql", statement, "--format", "csv", "--stats"]);
        assert_eq!(stats.status.code(), Some(0), "{}", stderr_text(&stats));
        assert_eq!(stderr_text(&stats), format!("sluice: scanned {read} of {all} archive files\n"), "{statement}");
    }
    for needle in expected["needles"].as_array().unwrap() {
        let needle = needle.as_str().unwrap();
        let rows = sql(&format!("SELECT message FROM logs WHERE message LIKE '%{needle}%'"));
        assert_eq!(rows.len(), 1, "{needle}");
    }
    let csv = sluice(
        data,
        &["sql", "SELECT level, count(*) AS n FROM logs GROUP BY level ORDER BY n DESC LIMIT 1", "--format", "csv"],
    );
    assert_eq!(String::from_utf8(csv.stdout).unwrap(), format!("level,n\ninfo,{}\n", expected["by_level"]["info"]));
    let bad = sluice(data, &["sql", "SELECT nope FROM logs"]);
    assert_eq!(bad.status.code(), Some(2));
    let message = stderr_text(&bad);
    assert!(message.starts_with("sluice: error: sql: ") && message.contains("nope"), "{message}");
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

/// `context` returns the event's neighbours from its service and host, as a
/// full search of that service and host orders them; `trace` returns
/// exactly a trace's records, oldest first.
fn context_and_trace_return_the_right_records(data: &Path, expected: &Value) {
    for needle in expected["needles"].as_array().unwrap().iter().take(3) {
        let needle = needle.as_str().unwrap();
        let table = sluice(data, &["search", needle]);
        let row = &stdout_lines(&table)[1];
        let fields: Vec<&str> = row.split_whitespace().collect();
        let (service, host, reference) = (fields[2], fields[3], fields[4]);
        let event = &ndjson(data, &["search", needle, "--format", "ndjson"])[0];
        let same = format!("service:\"{service}\" AND host:\"{host}\"");
        let all = ndjson(data, &["search", &same, "--oldest-first", "--limit", "100000", "--format", "ndjson"]);
        let at = all.iter().position(|r| r == event).unwrap();
        let window = &all[at.saturating_sub(4)..(at + 3).min(all.len())];
        let context = ndjson(data, &["context", reference, "-B", "4", "-A", "2", "--format", "ndjson"]);
        assert_eq!(context, window, "{needle} {reference}");
        let marked = stdout_lines(&sluice(data, &["context", reference, "-B", "4", "-A", "2"]));
        let marked: Vec<&String> = marked.iter().filter(|l| l.starts_with('>')).collect();
        assert_eq!(marked.len(), 1);
        assert!(marked[0].contains(needle) && marked[0].contains(reference), "{}", marked[0]);
    }

    for (trace, count) in expected["traces"].as_object().unwrap() {
        let records = ndjson(data, &["trace", &trace.to_uppercase(), "--format", "ndjson"]);
        assert_eq!(records.len() as u64, count.as_u64().unwrap(), "{trace}");
        assert!(records.iter().all(|r| r["trace_id"] == trace.as_str()));
        let times: Vec<&str> = records.iter().map(|r| r["timestamp"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        let table = stdout_lines(&sluice(data, &["trace", trace]));
        assert!(table[0].starts_with("TIME") && table[0].contains("+GAP"), "{}", table[0]);
        assert_eq!(table.len() as u64, count.as_u64().unwrap() + 1);
        assert!(table[1].split_whitespace().nth(1) == Some("+0ms"), "{}", table[1]);
    }
    let unknown = sluice(data, &["context", "1:2:3"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr_text(&unknown).starts_with("sluice: error: no record 1:2:3 in this data directory"));
}

/// `top` and `histogram` on the same data: their counts add up to `count`.
fn top_and_histogram_agree_with_the_generator(data: &Path, expected: &Value) {
    let accepted = expected["accepted"].as_u64().unwrap();

    // top: the generator's most frequent services, in order; the rest in `other`.
    let mut by_service: Vec<(String, u64)> = expected["by_service"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(service, count)| (service.clone(), count.as_u64().unwrap()))
        .collect();
    by_service.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let top = json(data, &["top", "service", "--limit", "3", "--format", "json"]);
    let shown: Vec<(String, u64)> = top["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["value"].as_str().unwrap().to_owned(), b["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(shown, by_service[..3]);
    let rest: u64 = by_service[3..].iter().map(|(_, c)| c).sum();
    assert_eq!(top["other"], rest);
    assert_eq!(top["count"], accepted);
    assert_eq!(top["distinct"], by_service.len());
    let errors = expected["by_level"]["error"].as_u64().unwrap();
    let top_errors = json(data, &["top", "level", "level:error", "--format", "json"]);
    assert_eq!(top_errors["buckets"], serde_json::json!([{"value": "error", "count": errors, "share": 100.0}]));
    let unknown = sluice(data, &["top", "servce"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(
        stderr_text(&unknown),
        "sluice: error: cannot count by `servce`: not a field with a fast column (did you mean `service`?); \
         fields you can count by: host, level, producer, service, severity_number\n"
    );

    // histogram: buckets cover first to last record, sum to the count, and
    // stacked by level they sum to the generator's counts per level.
    let histogram = json(data, &["histogram", "--by", "level", "--interval", "1h", "--format", "json"]);
    let buckets = histogram["buckets"].as_array().unwrap();
    assert_eq!(histogram["count"], accepted);
    assert_eq!(buckets.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), accepted);
    let first = expected["first_timestamp"].as_str().unwrap();
    let last = expected["last_timestamp"].as_str().unwrap();
    assert_eq!(buckets[0]["start"].as_str().unwrap()[..13], first[..13]);
    assert_eq!(buckets.last().unwrap()["start"].as_str().unwrap()[..13], last[..13]);
    let mut per_level = serde_json::Map::new();
    for bucket in buckets {
        let by = bucket["by"].as_array().unwrap();
        assert_eq!(by.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), bucket["count"].as_u64().unwrap());
        for entry in by {
            let level = entry["value"].as_str().unwrap().to_owned();
            let count = per_level.get(&level).and_then(Value::as_u64).unwrap_or(0);
            per_level.insert(level, (count + entry["count"].as_u64().unwrap()).into());
        }
    }
    assert_eq!(Value::Object(per_level), expected["by_level"]);

    // A query and a range: every bucket inside it, empty ones included.
    let (from, to) = ("2024-03-01T06:00:00Z", "2024-03-01T12:00:00Z");
    let range = ["--from", from, "--to", to, "--interval", "30m", "--format", "json"];
    let errors_in_range = json(data, &[&["histogram", "level:error"][..], &range[..]].concat());
    let starts: Vec<&str> =
        errors_in_range["buckets"].as_array().unwrap().iter().map(|b| b["start"].as_str().unwrap()).collect();
    assert_eq!(starts.len(), 12);
    assert_eq!(starts[0], "2024-03-01T06:00:00.000000000Z");
    assert_eq!(starts[11], "2024-03-01T11:30:00.000000000Z");
    let counted = json(data, &["count", "level:error", "--from", from, "--to", to, "--format", "json"]);
    assert_eq!(errors_in_range["count"], counted["count"]);
    let too_many = sluice(data, &["histogram", "--interval", "1s"]);
    assert_eq!(too_many.status.code(), Some(2));
    assert!(stderr_text(&too_many).starts_with("sluice: error: --interval 1s makes "), "{}", stderr_text(&too_many));
}

#[test]
fn attributes_by_path_and_table_output() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let lines = concat!(
        r#"{"time":"2024-03-01T10:00:00Z","level":"error","msg":"upstream failed","service":"api","http":{"status":500},"user":"Steve"}"#,
        "\n",
        r#"{"time":"2024-03-01T10:00:01Z","level":"info","msg":"ok","service":"api","http":{"status":200},"user":"ann"}"#,
        "\n",
        r#"{"time":"2024-03-01T10:00:02Z","level":"warn","msg":"connection refused by upstream","service":"sshd","host":"web-01"}"#,
        "\n",
    );
    let ingested = run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(lines.as_bytes()));
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));

    let messages = |query: &str| -> Vec<String> {
        ndjson(&data, &["search", query, "--format", "ndjson"])
            .iter()
            .map(|h| h["message"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(messages("http.status:500"), ["upstream failed"]);
    assert_eq!(messages("user:steve"), ["upstream failed"]);
    assert_eq!(messages("upstream"), ["connection refused by upstream", "upstream failed"]);
    assert_eq!(messages("\"connection refused\""), ["connection refused by upstream"]);
    assert_eq!(messages("refused upstream"), ["connection refused by upstream"]);
    assert_eq!(messages("service:api AND NOT level:error"), ["ok"]);

    let table = sluice(&data, &["search", "*"]);
    assert_eq!(table.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(table.stdout).unwrap(),
        "TIME                      LEVEL  SERVICE  HOST    REF         MESSAGE\n\
         2024-03-01T10:00:02.000Z  warn   sshd     web-01  474802:1:2  connection refused by upstream\n\
         2024-03-01T10:00:01.000Z  info   api      -       474802:1:1  ok\n\
         2024-03-01T10:00:00.000Z  error  api      -       474802:1:0  upstream failed\n"
    );
    let selected = ndjson(&data, &["search", "*", "--fields", "message,http.status,user,ref", "--format", "ndjson"]);
    assert_eq!(
        selected,
        [
            serde_json::json!({"message": "connection refused by upstream", "ref": "474802:1:2"}),
            serde_json::json!({"message": "ok", "http.status": 200, "user": "ann", "ref": "474802:1:1"}),
            serde_json::json!({"message": "upstream failed", "http.status": 500, "user": "Steve", "ref": "474802:1:0"}),
        ]
    );
    let fields = json(&data, &["fields", "--sample", "2", "--format", "json"]);
    assert_eq!((fields["matches"].as_u64(), fields["sampled"].as_u64()), (Some(3), Some(2)));
    let listed: Vec<String> = fields["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {} {}", f["field"].as_str().unwrap(), f["type"].as_str().unwrap(), f["records"]))
        .collect();
    assert_eq!(
        listed,
        [
            "timestamp string 2",
            "observed_timestamp string 2",
            "level string 2",
            "severity_number number 2",
            "message string 2",
            "service string 2",
            "host string 1",
            "producer string 2",
            "http.status number 1",
            "user string 1",
        ]
    );
    let ndjson_line = &stdout_lines(&sluice(&data, &["search", "user:ann", "--format", "ndjson"]))[0];
    assert!(
        ndjson_line.starts_with(r#"{"timestamp":"2024-03-01T10:00:01.000000000Z","observed_timestamp":"#),
        "{ndjson_line}"
    );
    assert!(
        ndjson_line.ends_with(r#""level":"info","severity_number":9,"message":"ok","service":"api","attributes":{"http.status":200,"user":"ann"},"producer":"logrus"}"#),
        "{ndjson_line}"
    );
}

#[test]
fn errors_say_what_to_do() {
    let temp = tempfile::tempdir().unwrap();
    let empty = temp.path().join("nothing-here");
    let output = sluice(&empty, &["search", "*"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr_text(&output).trim_end(),
        format!(
            "sluice: error: no data in {0}: ingest some first, e.g. `sluice-ingest --data-dir {0} app.log.json` or `app | sluice-ingest --data-dir {0}`",
            empty.display()
        )
    );
    let data = temp.path().join("data");
    let line = br#"{"time":"2024-03-01T10:00:00Z","msg":"x"}"#;
    assert_eq!(run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(line)).status.code(), Some(0));
    let bad = sluice(&data, &["search", "level:error AND ("]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr_text(&bad).starts_with("sluice: error: invalid query `level:error AND (`: "),
        "{}",
        stderr_text(&bad)
    );
    let bad_time = sluice(&data, &["count", "*", "--from", "yesterdayish"]);
    assert_eq!(bad_time.status.code(), Some(2));
    assert!(stderr_text(&bad_time).contains("invalid time `yesterdayish`: expected RFC 3339"));
    let bad_field = sluice(&data, &["count", "*", "--by", "message"]);
    assert_eq!(bad_field.status.code(), Some(2));
    assert_eq!(
        stderr_text(&bad_field).trim_end(),
        "sluice: error: cannot count by `message`: not a field with a fast column; fields you can count by: host, level, producer, service, severity_number"
    );
}

/// An archive in a layout version this build does not know (written by a
/// newer Sluice) is refused by the writer and by `sql`, saying what to do.
#[test]
fn an_archive_in_an_unknown_layout_is_refused_by_ingest_and_sql() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let line = br#"{"time":"2024-03-01T10:00:00Z","msg":"x"}"#;
    assert_eq!(run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(line)).status.code(), Some(0));
    let layout = data.join("archive/_sluice_layout.json");
    assert_eq!(std::fs::read_to_string(&layout).unwrap(), "{\"layout_version\":3}\n");
    // An archive of layout 1 (before compaction existed) is read, and named
    // layout 3 by the next writer.
    std::fs::write(&layout, "{\"layout_version\":1}\n").unwrap();
    let count = run("sluice", &["--data-dir", data.to_str().unwrap(), "count", "*"], None);
    assert_eq!(count.status.code(), Some(0), "{}", stderr_text(&count));
    assert_eq!(run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(line)).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&layout).unwrap(), "{\"layout_version\":3}\n");
    std::fs::write(&layout, "{\"layout_version\":4}\n").unwrap();
    let message = format!(
        "archive {} is in layout version 4 (its _sluice_layout.json), and this Sluice knows layout versions 1 to 3 \
         only: upgrade Sluice, or give this one another --data-dir",
        data.join("archive").display()
    );
    let ingest = run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(line));
    assert_eq!(ingest.status.code(), Some(3));
    assert!(stderr_text(&ingest).contains(&message), "{}", stderr_text(&ingest));
    let sql = sluice(&data, &["sql", "SELECT count(*) FROM logs"]);
    assert_eq!(sql.status.code(), Some(3));
    assert_eq!(stderr_text(&sql).trim_end(), format!("sluice: error: {message}"));
}

/// Starts `sluice tail -f --format ndjson` on `data`; each line it prints
/// arrives as (when it was read, its message).
pub(crate) fn follow(data: &Path) -> (std::process::Child, std::sync::mpsc::Receiver<(std::time::Instant, String)>) {
    use std::io::BufRead;

    let mut tail = std::process::Command::new(crate::binary("sluice"))
        .args(["--data-dir", data.to_str().unwrap(), "tail", "-f", "--format", "ndjson"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    let stdout = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let message = serde_json::from_str::<Value>(&line).unwrap()["message"].as_str().unwrap().to_owned();
            if sender.send((std::time::Instant::now(), message)).is_err() {
                break;
            }
        }
    });
    (tail, lines)
}

/// `tail -f` shows a line within 2 s of its commit, exactly once, and a late
/// line (an old timestamp, committed now) too.
#[test]
fn tail_follows_commits() {
    use std::time::{Duration, Instant};

    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let line = |time: &str, message: &str| format!(r#"{{"time":"{time}","level":"info","msg":"{message}"}}"#);
    let ingest = |text: String| {
        let output = run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(text.as_bytes()));
        assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    };
    ingest((1..=12).map(|i| line(&format!("2024-03-01T10:00:{i:02}Z"), &format!("first {i}")) + "\n").collect());

    let (mut tail, lines) = follow(&data);
    let next = |timeout: Duration| lines.recv_timeout(timeout);
    // The newest 10, oldest first.
    let first: Vec<String> = (0..10).map(|_| next(Duration::from_secs(10)).unwrap().1).collect();
    assert_eq!(first, (3..=12).map(|i| format!("first {i}")).collect::<Vec<_>>());

    for (time, message) in [("2024-03-01T11:00:00Z", "new line"), ("2024-02-01T00:00:00Z", "late line")] {
        ingest(line(time, message) + "\n");
        let committed = Instant::now();
        let (shown, text) = next(Duration::from_secs(10)).expect("tail -f showed nothing");
        assert_eq!(text, message);
        let delay = shown.saturating_duration_since(committed);
        assert!(delay <= Duration::from_secs(2), "{message} shown {delay:?} after its commit");
    }
    // Nothing twice.
    assert!(next(Duration::from_millis(1500)).is_err());
    tail.kill().unwrap();
    tail.wait().unwrap();
}

/// `app | sluice-ingest` with an app that writes now and then: each line is
/// committed once the pipe goes quiet, so `count` and `tail -f` see it
/// within 2 s of the write, while the ingester keeps running; closing the
/// pipe ends the run with every line accounted for.
#[test]
fn a_quiet_pipe_is_committed_while_it_stays_open() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let line = |second: u32, message: &str| {
        format!("{{\"time\":\"2024-03-01T10:00:{second:02}Z\",\"level\":\"info\",\"msg\":\"{message}\"}}\n")
    };
    let mut ingester = Command::new(crate::binary("sluice-ingest"))
        .args(["--data-dir", data_arg, "--summary-json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut app = ingester.stdin.take().unwrap();

    app.write_all(line(1, "first write").as_bytes()).unwrap();
    app.flush().unwrap();
    let written = Instant::now();
    let count = || {
        let output = run("sluice", &["--data-dir", data_arg, "count", "*", "--format", "json"], None);
        serde_json::from_slice::<Value>(&output.stdout).ok().and_then(|v| v["count"].as_u64())
    };
    while count() != Some(1) {
        assert!(written.elapsed() < Duration::from_secs(10), "the first line was never committed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let delay = written.elapsed();
    assert!(delay <= Duration::from_secs(2), "the first line was committed {delay:?} after it was written");

    let (mut tail, shown) = follow(&data);
    assert_eq!(shown.recv_timeout(Duration::from_secs(10)).unwrap().1, "first write");

    for (second, message) in [(2, "second write"), (3, "third write")] {
        app.write_all(line(second, message).as_bytes()).unwrap();
        app.flush().unwrap();
        let written = Instant::now();
        let (at, text) = shown.recv_timeout(Duration::from_secs(10)).expect("tail -f showed nothing");
        assert_eq!(text, message);
        let delay = at.saturating_duration_since(written);
        assert!(delay <= Duration::from_secs(2), "{message} shown {delay:?} after it was written");
    }
    // A burst: both lines, once each, in one commit or two.
    app.write_all((line(4, "burst one") + &line(5, "burst two")).as_bytes()).unwrap();
    drop(app);
    let burst: Vec<String> = (0..2).map(|_| shown.recv_timeout(Duration::from_secs(10)).unwrap().1).collect();
    assert_eq!(burst, ["burst one", "burst two"]);

    let output = ingester.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((summary["lines_read"].as_u64(), summary["accepted"].as_u64()), (Some(5), Some(5)));
    assert_eq!(count(), Some(5));
    assert!(shown.recv_timeout(Duration::from_millis(1200)).is_err(), "tail -f showed a line twice");
    tail.kill().unwrap();
    tail.wait().unwrap();
}

/// `--tz`: dates and `histogram` days follow the zone's midnight, tables
/// show the zone's clock, JSON stays UTC; a bad zone is refused.
#[test]
fn time_zones_for_people_utc_for_scripts() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let lines: String = [
        ("2024-03-01T22:30:00Z", "late evening"),
        ("2024-03-01T23:30:00Z", "midnight in Berlin"),
        ("2024-03-02T00:30:00Z", "midnight in London"),
    ]
    .iter()
    .map(|(time, message)| format!("{{\"time\":\"{time}\",\"level\":\"info\",\"msg\":\"{message}\"}}\n"))
    .collect();
    let ingested = run("sluice-ingest", &["--data-dir", data_arg], Some(lines.as_bytes()));
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));

    let count = |extra: &[&str]| {
        json(&data, &[&["count", "*", "--from", "2024-03-02", "--format", "json"][..], extra].concat())["count"].clone()
    };
    assert_eq!(count(&[]), 1);
    assert_eq!(count(&["--tz", "Europe/Berlin"]), 2);
    assert_eq!(count(&["--tz", "+01:00"]), 2);
    assert_eq!(count(&["--tz", "-05:00"]), 0);

    let days = json(&data, &["histogram", "--interval", "1d", "--tz", "Europe/Berlin", "--format", "json"]);
    let buckets: Vec<(String, u64)> = days["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["start"].as_str().unwrap().to_owned(), b["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        buckets,
        [("2024-02-29T23:00:00.000000000Z".to_owned(), 1), ("2024-03-01T23:00:00.000000000Z".to_owned(), 2)]
    );

    let table = run(
        "sluice",
        &["--data-dir", data_arg, "--tz", "Europe/Berlin", "search", "*", "--fields", "timestamp,message"],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&table.stdout),
        "TIMESTAMP                      MESSAGE\n\
         2024-03-02T01:30:00.000+01:00  midnight in London\n\
         2024-03-02T00:30:00.000+01:00  midnight in Berlin\n\
         2024-03-01T23:30:00.000+01:00  late evening\n"
    );
    let ndjson = run(
        "sluice",
        &["--data-dir", data_arg, "--tz", "Europe/Berlin", "search", "*", "--limit", "1", "--format", "ndjson"],
        None,
    );
    let record: Value = serde_json::from_slice(&ndjson.stdout).unwrap();
    assert_eq!(record["timestamp"], "2024-03-02T00:30:00.000000000Z");

    let bad = run("sluice", &["--data-dir", data_arg, "--tz", "Mars/Olympus", "count", "*"], None);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        stderr_text(&bad),
        "sluice: error: unknown time zone `Mars/Olympus`: expected UTC, local, an offset such as +02:00, or an IANA name such as Europe/Berlin\n"
    );
}

/// A query that cannot be parsed says where; one that matches nothing
/// because of a misspelt field says which field was meant.
#[test]
fn query_mistakes_are_explained() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let data_arg = data.to_str().unwrap();
    let line = "{\"time\":\"2024-03-01T10:00:00Z\",\"level\":\"error\",\"service\":\"api\",\"msg\":\"boom\"}\n";
    let ingested = run("sluice-ingest", &["--data-dir", data_arg], Some(line.as_bytes()));
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));

    let typo = run("sluice", &["--data-dir", data_arg, "count", "levle:error"], None);
    assert_eq!(typo.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&typo.stdout), "0\n");
    let note = stderr_text(&typo);
    assert!(
        note.starts_with("sluice: note: `levle` is not a record field, so it was searched as the attribute path `levle`; did you mean `level`?\nrecord fields: "),
        "{note}"
    );
    // A field that matches is not second-guessed.
    let right = run("sluice", &["--data-dir", data_arg, "count", "level:error"], None);
    assert_eq!((String::from_utf8_lossy(&right.stdout).as_ref(), stderr_text(&right).as_str()), ("1\n", ""));

    let broken = run("sluice", &["--data-dir", data_arg, "search", "level:(error"], None);
    assert_eq!(broken.status.code(), Some(2));
    assert_eq!(
        stderr_text(&broken),
        "sluice: error: invalid query `level:(error`: expected ')', at character 13\n  level:(error\n              ^\n"
    );

    // Presence of an attribute (found by the query_string fuzz target):
    // the same, not an index failure.
    let exists = run("sluice", &["--data-dir", data_arg, "count", "error OR user.id:*"], None);
    assert_eq!(exists.status.code(), Some(2), "{}", stderr_text(&exists));
    assert!(
        stderr_text(&exists).starts_with(
            "sluice: error: invalid query `error OR user.id:*`: `user.id` is an attribute, indexed as text \
             without a column, so it cannot be searched for presence (`:*`)."
        ),
        "{}",
        stderr_text(&exists)
    );
    // A range over an attribute (found by the query_string fuzz target's
    // seeds): a user error naming the field and the fix, not an index failure.
    let range = run("sluice", &["--data-dir", data_arg, "count", "http.status:[400 TO 499]"], None);
    assert_eq!(range.status.code(), Some(2), "{}", stderr_text(&range));
    assert_eq!(
        stderr_text(&range),
        "sluice: error: invalid query `http.status:[400 TO 499]`: `http.status` is an attribute, indexed as text \
         without a column, so it cannot be searched by range. Search exact values (`http.status:500 OR \
         http.status:503`), or declare it in the schema file with a numeric `type` (columnar by default) and \
         ingest again; ranges and `:*` work on `timestamp`, `severity_number` and declared fast fields\n"
    );
    // On a field with a column, a range works.
    let fast = run("sluice", &["--data-dir", data_arg, "count", "severity_number:>=17"], None);
    assert_eq!((String::from_utf8_lossy(&fast.stdout).as_ref(), stderr_text(&fast).as_str()), ("1\n", ""));
}

/// `compare` names what appeared in the window: the new error template, its
/// level and its service; steady traffic does not show.
#[test]
fn compare_finds_what_appeared() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut lines = String::new();
    for minute in 0..120 {
        let time = format!("2024-03-01T{:02}:{:02}:00Z", 9 + minute / 60, minute % 60);
        lines += &format!(
            "{{\"time\":\"{time}\",\"level\":\"info\",\"service\":\"web\",\"msg\":\"GET /health 200 in {}ms\"}}\n",
            minute % 7
        );
        if minute >= 90 {
            lines += &format!(
                "{{\"time\":\"{time}\",\"level\":\"error\",\"service\":\"payments\",\"msg\":\"connection refused by db-0{} after {}ms\"}}\n",
                minute % 3,
                5000 + minute
            );
        }
    }
    let ingested = run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(lines.as_bytes()));
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));
    let args = ["compare", "--from", "2024-03-01T10:00:00Z", "--to", "2024-03-01T11:00:00Z", "--baseline", "1h"];
    let comparison = json(&data, &[&args[..], &["--format", "json"][..]].concat());
    assert_eq!(comparison["window"]["count"], 90);
    assert_eq!(comparison["baseline"]["count"], 60);
    let changes: Vec<(String, String, u64, bool)> = comparison["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let kind = c["kind"].as_str().unwrap().to_owned();
            (kind, c["value"].as_str().unwrap().to_owned(), c["window"].as_u64().unwrap(), c["new"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("level".to_owned(), "error".to_owned(), 30, true),
            ("pattern".to_owned(), "connection refused by <*> after <*>".to_owned(), 30, true),
            ("service".to_owned(), "payments".to_owned(), 30, true),
        ]
    );
    let table = String::from_utf8(sluice(&data, &args).stdout).unwrap();
    let row = table.lines().find(|l| l.starts_with("pattern")).unwrap_or_default();
    assert_eq!(row.split_whitespace().take(5).collect::<Vec<_>>(), ["pattern", "30", "0", "0.0", "new"], "{table}");
    let missing = sluice(&data, &["compare", "--baseline", "1h"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr_text(&missing),
        "sluice: error: compare needs --from: the start of the window to compare with the baseline\n"
    );
    // The library words these as a time range and a baseline; the CLI names its flags.
    let baseline = sluice(&data, &["compare", "--from", "2024-03-01T10:00:00Z", "--baseline", "yesterdayish"]);
    assert_eq!(baseline.status.code(), Some(2));
    assert_eq!(
        stderr_text(&baseline),
        "sluice: error: invalid --baseline `yesterdayish`: expected FROM..TO (times as --from takes them, FROM before \
         TO) or a duration (1h: the hour before --from)\n"
    );
    let backwards = sluice(&data, &["count", "--from", "2024-03-01T11:00:00Z", "--to", "2024-03-01T10:00:00Z", "*"]);
    assert_eq!(backwards.status.code(), Some(2));
    assert_eq!(
        stderr_text(&backwards),
        "sluice: error: --from 2024-03-01T11:00:00.000000000Z is not before --to 2024-03-01T10:00:00.000000000Z\n"
    );
}

/// The index adds records grouped by producer, service and template, not in
/// time order, so doc ids do not follow the archive. Records of one instant
/// still come back in archive (input) order, reversed for newest first.
#[test]
fn records_of_the_same_instant_come_back_in_input_order() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut input = String::new();
    for n in 1..=6 {
        let service = if n % 2 == 0 { "db" } else { "web" };
        let words = if n % 3 == 0 { "retrying query" } else { "slow request" };
        input.push_str(&format!(
            "{{\"timestamp\":\"2024-03-01T10:00:00Z\",\"level\":\"info\",\"service\":\"{service}\",\"message\":\"{words} {n}\"}}\n"
        ));
    }
    let ingested = run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(input.as_bytes()));
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));
    let messages = |extra: &[&str]| -> Vec<String> {
        let args = [&["search", "*", "--format", "ndjson"][..], extra].concat();
        ndjson(&data, &args).iter().map(|h| h["message"].as_str().unwrap().to_owned()).collect()
    };
    let in_order = [
        "slow request 1",
        "slow request 2",
        "retrying query 3",
        "slow request 4",
        "slow request 5",
        "retrying query 6",
    ];
    assert_eq!(messages(&["--oldest-first"]), in_order);
    let newest_first: Vec<&str> = in_order.iter().rev().copied().collect();
    assert_eq!(messages(&[]), newest_first);
}
