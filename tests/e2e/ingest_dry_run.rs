//! `sluice-ingest --dry-run`: every line accounted for, rejects explained,
//! errors classified by exit code.

use serde_json::{Value, json};

use crate::{run, stderr_text, stdout_lines};

/// The summary object (last stdout line) without its timing.
fn summary_of(lines: &[String]) -> Value {
    let mut summary: Value = serde_json::from_str(lines.last().expect("summary line")).expect("summary is JSON");
    let elapsed = summary.as_object_mut().and_then(|o| o.remove("elapsed_seconds"));
    assert!(elapsed.is_some_and(|e| e.as_f64().is_some_and(|s| s >= 0.0)), "elapsed_seconds present");
    summary
}

/// A record line without `observed_timestamp`, which is the clock's.
fn record_of(line: &str) -> Value {
    let mut record: Value = serde_json::from_str(line).expect("record is JSON");
    let observed = record.as_object_mut().and_then(|o| o.remove("observed_timestamp"));
    assert!(observed.is_some(), "observed_timestamp present in {line}");
    record
}

#[test]
fn quick_start_normalizes_every_bundled_producer_fixture() {
    let mut args = vec!["--dry-run", "--summary-json"];
    let files: Vec<String> = std::fs::read_dir(crate::workspace().join("fixtures/producers"))
        .unwrap()
        .map(|e| format!("fixtures/producers/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    args.extend(files.iter().map(String::as_str));
    let output = run("sluice-ingest", &args, None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    let lines = stdout_lines(&output);
    let summary = summary_of(&lines);
    let bytes: u64 = files.iter().map(|f| std::fs::metadata(crate::workspace().join(f)).unwrap().len()).sum();
    assert_eq!(
        summary,
        json!({"lines_read": 38, "accepted": 38, "rejected": 0, "blank": 0, "bytes_read": bytes, "rejected_by_reason": {}})
    );
    assert_eq!(lines.len(), 38 + 1);
    // Every record names its producer; none fell through to generic.
    for line in &lines[..38] {
        let record = record_of(line);
        assert_ne!(record["producer"], "generic", "{line}");
    }
}

#[test]
fn every_reject_reason_is_counted_and_explained() {
    let output = run(
        "sluice-ingest",
        &["--dry-run", "--summary-json", "--max-line-bytes", "300", "fixtures/malformed/every-reason.ndjson"],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    let lines = stdout_lines(&output);
    let file_len = std::fs::metadata(crate::workspace().join("fixtures/malformed/every-reason.ndjson")).unwrap().len();
    assert_eq!(
        summary_of(&lines),
        json!({
            "lines_read": 11, "accepted": 4, "rejected": 5, "blank": 2, "bytes_read": file_len,
            "rejected_by_reason": {"invalid_json": 2, "invalid_utf8": 1, "line_too_long": 1, "not_an_object": 1}
        })
    );
    let stderr = stderr_text(&output);
    let rejects: Vec<&str> = stderr.lines().take(5).collect();
    assert_eq!(
        rejects,
        [
            "fixtures/malformed/every-reason.ndjson:3: invalid_json: not valid JSON at byte 0 near 'n': expected a JSON value",
            "fixtures/malformed/every-reason.ndjson:4: not_an_object: expected a JSON object, found an array",
            "fixtures/malformed/every-reason.ndjson:5: invalid_utf8: invalid UTF-8 at byte 11",
            "fixtures/malformed/every-reason.ndjson:6: line_too_long: line is 410 bytes, longer than --max-line-bytes 300",
            "fixtures/malformed/every-reason.ndjson:9: invalid_json: not valid JSON at byte 12 near ':': syntax error",
        ]
    );
    assert!(stderr.contains("11 lines read: 4 accepted, 5 rejected, 2 blank; "), "{stderr}");
    // The accepted records, in input order: pino, ECS (CRLF), generic, and the unterminated last line.
    let records: Vec<Value> = lines[..4].iter().map(|l| record_of(l)).collect();
    assert_eq!(records[0]["producer"], "pino");
    assert_eq!(records[0]["message"], "hello world");
    assert_eq!(records[1]["message"], "Tomcat started");
    assert_eq!(records[1]["timestamp"], "2019-08-06T12:09:12.375000000Z");
    assert_eq!(
        records[2],
        json!({"timestamp": "2024-01-01T00:00:00.000000000Z", "level": "warn", "severity_number": 13,
               "message": "no service here", "attributes": {}, "producer": "generic"})
    );
    assert_eq!(records[3]["message"], "last line, no newline");
    assert_eq!(records[3]["service"], "tail");
}

#[test]
fn strict_schema_rejects_records_missing_a_required_field() {
    let output = run(
        "sluice-ingest",
        &[
            "--dry-run",
            "--summary-json",
            "--max-line-bytes",
            "300",
            "--schema",
            "fixtures/schemas/require-service.toml",
            "fixtures/malformed/every-reason.ndjson",
        ],
        None,
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    let summary = summary_of(&stdout_lines(&output));
    assert_eq!(summary["accepted"], 2);
    assert_eq!(summary["rejected_by_reason"]["missing_required_field"], 2);
    assert!(stderr_text(&output).contains(
        "every-reason.ndjson:1: missing_required_field: required field `service` is missing (schema `require-service` is strict)"
    ));
}

#[test]
fn stdin_and_service_flag() {
    let input = b"{\"msg\":\"from a pipe\",\"level\":\"error\",\"time\":\"2024-01-01T00:00:00Z\"}\n\n";
    let output = run("sluice-ingest", &["--dry-run", "--service", "checkout", "-"], Some(input));
    assert_eq!(output.status.code(), Some(0));
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 1);
    let record = record_of(&lines[0]);
    assert_eq!(record["service"], "checkout");
    assert_eq!(record["level"], "error");
    assert!(stderr_text(&output).contains("2 lines read: 1 accepted, 0 rejected, 1 blank; 69 bytes"));
}

#[test]
fn too_many_rejects_fail_with_exit_2() {
    let output = run(
        "sluice-ingest",
        &["--dry-run", "--max-rejected", "1", "--max-line-bytes", "300", "fixtures/malformed/every-reason.ndjson"],
        None,
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr_text(&output).ends_with("sluice-ingest: error: 2 lines rejected, more than --max-rejected 1\n"));
}

#[test]
fn user_errors_exit_2_with_the_place_to_fix() {
    let missing = run("sluice-ingest", &["--dry-run", "no/such/file.ndjson"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr_text(&missing),
        "sluice-ingest: error: cannot open input no/such/file.ndjson: No such file or directory (os error 2)\n"
    );

    let bad_schema = run("sluice-ingest", &["--dry-run", "--schema", "fixtures/schemas/bad-type.toml", "-"], Some(b""));
    assert_eq!(bad_schema.status.code(), Some(2));
    assert_eq!(
        stderr_text(&bad_schema),
        "sluice-ingest: error: fixtures/schemas/bad-type.toml:6:8: key `type` of field `latency_ms`: unknown variant `float`, expected one of `string`, `text`, `i64`, `u64`, `f64`, `bool`, `timestamp`, `ip`\n"
    );

    let bad_flag = run("sluice-ingest", &["--dry-rn"], None);
    assert_eq!(bad_flag.status.code(), Some(2));
    assert!(stderr_text(&bad_flag).contains("tip: a similar argument exists: '--dry-run'"));
}

#[test]
fn closed_stdout_ends_the_run_quietly() {
    // Like `sluice-ingest --dry-run big.ndjson | head -1`: a reader that goes
    // away is not an error.
    let mut input = Vec::new();
    for i in 0..20_000 {
        input.extend_from_slice(format!("{{\"msg\":\"line {i}\",\"level\":\"info\"}}\n").as_bytes());
    }
    let mut child = std::process::Command::new(crate::binary("sluice-ingest"))
        .arg("--dry-run")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    assert!(!stderr_text(&output).contains("error"), "{}", stderr_text(&output));
}

#[test]
fn help_teaches_with_examples() {
    let output = run("sluice-ingest", &["--help"], None);
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in ["--dry-run", "--schema", "--service", "--summary-json", "--data-dir", "Examples:", "Exit codes:"] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}
