//! `LiveStore`, the store a long-lived reader (a server) keeps open: the
//! same store while nothing changes, a new one after a commit, a
//! compaction or a retention, each showing exactly what is on disk.

use std::path::Path;
use std::sync::Arc;

use sluice_query::live::LiveStore;
use sluice_query::time::{TimeRange, Zone};
use sluice_schemas::Timestamp;

use crate::{run, stderr_text};

fn ingest(data: &Path, lines: &str) {
    let output = run("sluice-ingest", &["--data-dir", data.to_str().unwrap()], Some(lines.as_bytes()));
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
}

fn line(time: &str, message: &str) -> String {
    format!("{{\"timestamp\":\"{time}\",\"level\":\"info\",\"service\":\"api\",\"message\":\"{message}\"}}\n")
}

/// `--from DATE --to NEXT` (in UTC).
fn day(date: &str, next: &str) -> TimeRange {
    TimeRange::parse(Some(date), Some(next), Timestamp::now(), &Zone::utc()).unwrap()
}

#[test]
fn a_live_store_is_reopened_exactly_when_the_data_changes() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    ingest(&data, &(line("2024-03-01T10:00:00Z", "first one") + &line("2024-03-01T10:00:01Z", "first two")));

    let live = LiveStore::open(std::slice::from_ref(&data)).unwrap();
    let before = live.current().unwrap();
    assert_eq!(before.count("*", TimeRange::ALL).unwrap(), 2);
    // Nothing changed: the same store, not a new one per request.
    assert!(Arc::ptr_eq(&before, &live.current().unwrap()));

    // A commit to the same day and one to a new day.
    ingest(&data, &(line("2024-03-01T10:30:00Z", "second one") + &line("2024-03-02T08:00:00Z", "next day")));
    let after = live.current().unwrap();
    assert!(!Arc::ptr_eq(&before, &after));
    assert_eq!(after.count("*", TimeRange::ALL).unwrap(), 4);
    assert_eq!(after.count("second", day("2024-03-01", "2024-03-02")).unwrap(), 1);
    assert_eq!(after.count("*", day("2024-03-02", "2024-03-03")).unwrap(), 1);
    // The store a request already holds still answers as it did.
    assert_eq!(before.count("*", TimeRange::ALL).unwrap(), 2);
    assert!(Arc::ptr_eq(&after, &live.current().unwrap()));

    // A compaction merges 2024-03-01's two segments: no new batch, but a
    // new split version, read through a new store with the same answers.
    let compacted = run("sluice-ingest", &["compact", "--data-dir", data.to_str().unwrap()], None);
    assert_eq!(compacted.status.code(), Some(0), "{}", stderr_text(&compacted));
    let merged = live.current().unwrap();
    assert!(!Arc::ptr_eq(&after, &merged), "{}", stderr_text(&compacted));
    assert_eq!(merged.count("*", TimeRange::ALL).unwrap(), 4);
    assert_eq!(merged.count("first", day("2024-03-01", "2024-03-02")).unwrap(), 2);
    assert_eq!(after.count("*", TimeRange::ALL).unwrap(), 4);
}

/// The query library's requests and answers are plain data: a server can
/// send them as they are (and a request can be read back).
#[test]
fn api_requests_and_answers_serialize() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    ingest(&data, &(line("2024-03-01T10:00:00Z", "first one") + &line("2024-03-01T10:00:01Z", "second one")));
    let live = LiveStore::open(std::slice::from_ref(&data)).unwrap();
    let store = live.current().unwrap();

    let request = sluice_query::api::CountRequest {
        query: "one".to_owned(),
        range: TimeRange::ALL,
        by: Some("service".to_owned()),
    };
    let text = serde_json::to_string(&request).unwrap();
    assert_eq!(text, r#"{"query":"one","range":{"from":null,"to":null},"by":"service"}"#);
    assert_eq!(serde_json::from_str::<sluice_query::api::CountRequest>(&text).unwrap(), request);
    let counted = sluice_query::api::count(&store, &request).unwrap();
    assert_eq!(
        serde_json::to_value(&counted).unwrap(),
        serde_json::json!({"total": 2, "by": {"buckets": [["api", 2]], "other": 0, "distinct": 1}, "hint": null})
    );
    let request = sluice_query::api::SearchRequest {
        query: "second".to_owned(),
        range: TimeRange::ALL,
        limit: 5,
        oldest_first: false,
        columns: None,
    };
    let found = serde_json::to_value(sluice_query::api::search(&store, &request).unwrap()).unwrap();
    assert_eq!(found["total"], 1);
    assert_eq!(
        found["refs"][0],
        serde_json::json!({"hour": found["refs"][0]["hour"], "batch": 1, "row": 1, "source": 0})
    );
    assert_eq!(found["records"][0]["message"], "second one");
}
