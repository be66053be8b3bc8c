//! `sluice-corpus` feeds `sluice-ingest`: the generator's expected counts
//! are what the ingester reports, line for line.

use serde_json::Value;

use crate::{generate_corpus, run, stderr_text, stdout_lines};

#[test]
fn ingest_reports_exactly_what_the_generator_expects() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--size", "2MB", "--seed", "11", "--malformed", "0.02"];
    let (corpus, expected) = generate_corpus(dir.path(), "corpus", &flags);

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
    let (again, expected_again) = generate_corpus(dir.path(), "again", &flags);
    assert_eq!(expected_again, expected);
    assert!(std::fs::read(&corpus).unwrap() == std::fs::read(&again).unwrap(), "corpus is not deterministic");
}
