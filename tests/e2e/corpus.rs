//! `sluice-corpus` feeds `sluice-ingest`: the generator's expected counts
//! are what the ingester reports, line for line.

use serde_json::Value;

use crate::{run, stderr_text, stdout_lines};

#[test]
fn ingest_reports_exactly_what_the_generator_expects() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.ndjson");
    let expected_path = dir.path().join("expected.json");
    let generated = run(
        "sluice-corpus",
        &[
            "--size",
            "2MB",
            "--seed",
            "11",
            "--malformed",
            "0.02",
            "--out",
            corpus.to_str().unwrap(),
            "--expected",
            expected_path.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(generated.status.code(), Some(0), "{}", stderr_text(&generated));
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();

    let ingested = run("sluice-ingest", &["--dry-run", "--summary-json", corpus.to_str().unwrap()], None);
    assert_eq!(ingested.status.code(), Some(0), "{}", stderr_text(&ingested));
    let lines = stdout_lines(&ingested);
    let summary: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    for key in ["lines_read", "accepted", "blank", "bytes_read", "rejected_by_reason"] {
        assert_eq!(summary[key], expected[key], "{key}");
    }
    assert!(expected["accepted"].as_u64().unwrap() > 5_000);

    // Per-level and per-service counts of the printed records match too.
    let mut by_level = std::collections::BTreeMap::<String, u64>::new();
    let mut by_service = std::collections::BTreeMap::<String, u64>::new();
    for line in &lines[..lines.len() - 1] {
        let record: Value = serde_json::from_str(line).unwrap();
        *by_level.entry(record["level"].as_str().unwrap_or("none").to_owned()).or_default() += 1;
        *by_service.entry(record["service"].as_str().unwrap_or("none").to_owned()).or_default() += 1;
    }
    assert_eq!(serde_json::to_value(&by_level).unwrap(), expected["by_level"]);
    assert_eq!(serde_json::to_value(&by_service).unwrap(), expected["by_service"]);

    // Same flags, same bytes.
    let again = dir.path().join("again.ndjson");
    let regenerated = run(
        "sluice-corpus",
        &[
            "--size",
            "2MB",
            "--seed",
            "11",
            "--malformed",
            "0.02",
            "--out",
            again.to_str().unwrap(),
            "--expected",
            "/dev/null",
        ],
        None,
    );
    assert_eq!(regenerated.status.code(), Some(0));
    assert!(std::fs::read(&corpus).unwrap() == std::fs::read(&again).unwrap(), "corpus is not deterministic");
}
