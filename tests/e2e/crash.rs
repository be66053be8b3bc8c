//! kill -9 in the middle of a file, then the same command again: every
//! record ends up in the index and the archive exactly once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{archive_rows, binary, collect, generate_corpus, index_docs, run, stderr_text};

fn last_batch(data: &Path) -> u64 {
    std::fs::read(data.join("manifest.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|m| m["last_batch"].as_u64())
        .unwrap_or(0)
}

fn search_count(data: &Path, query: &str) -> usize {
    sluice_index::splits::list_splits(&data.join("index"))
        .unwrap()
        .into_iter()
        .map(|(_, path)| {
            let index = tantivy::Index::open_in_dir(path).unwrap();
            let message = index.schema().get_field("message").unwrap();
            let parser = tantivy::query::QueryParser::for_index(&index, vec![message]);
            let query = parser.parse_query(query).unwrap();
            index.reader().unwrap().searcher().search(&query, &tantivy::collector::Count).unwrap()
        })
        .sum()
}

#[test]
fn sigkill_mid_file_then_rerun_loses_and_duplicates_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let (corpus, expected) =
        generate_corpus(temp.path(), "corpus", &["--size", "6MB", "--seed", "3", "--needles", "12"]);
    let data = temp.path().join("data");
    let args = ["--data-dir", data.to_str().unwrap(), "--batch-bytes", "262144", corpus.to_str().unwrap()];

    // Kill the ingester once a few batches are committed but well before the end.
    let mut child =
        Command::new(binary("sluice-ingest")).args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while last_batch(&data) < 3 {
        assert!(Instant::now() < deadline, "no batch committed within 2 minutes");
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let committed_before_rerun = last_batch(&data);
    assert!(committed_before_rerun >= 3);

    let rerun = run("sluice-ingest", &[&["--summary-json"][..], &args[..]].concat(), None);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr_text(&rerun));
    let summary: Value = serde_json::from_str(String::from_utf8_lossy(&rerun.stdout).lines().next().unwrap()).unwrap();
    // The rerun read only what the killed run had not committed.
    assert!(summary["lines_read"].as_u64().unwrap() < expected["lines_read"].as_u64().unwrap(), "{summary}");

    let accepted = expected["accepted"].as_u64().unwrap();
    assert_eq!(index_docs(&data), accepted, "index holds every accepted record once");
    assert_eq!(archive_rows(&data) as u64, accepted, "archive holds every accepted record once");
    let mut staged = Vec::new();
    collect(&data, "tmp", &mut staged);
    assert!(staged.is_empty(), "staged files left behind: {staged:?}");
    for needle in expected["needles"].as_array().unwrap() {
        assert_eq!(search_count(&data, needle.as_str().unwrap()), 1, "needle {needle}");
    }
}
