//! Retention (`--retention`): exactly the days past the horizon go, at the
//! time an injected clock says, and every answer about the other days stays
//! as it was; a crash at each step leaves nothing half-dropped after the
//! next run.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::{binary, generate_corpus, run, stderr_text, workspace};

fn sluice(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["--data-dir", data.to_str().unwrap()];
    all.extend_from_slice(args);
    let output = run("sluice", &all, None);
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr_text(&output));
    String::from_utf8(output.stdout).unwrap()
}

/// `sluice-ingest compact --retention 2d` with the clock at `now`.
fn retain(data: &Path, now: &str, failpoints: &str) -> Output {
    let mut command = Command::new(binary("sluice-ingest"));
    command.args(["compact", "--data-dir", data.to_str().unwrap(), "--retention", "2d", "--now", now]);
    command.args(["--zstd-level", "1"]).current_dir(workspace()).env_remove("SLUICE_DATA_DIR").stdin(Stdio::null());
    if !failpoints.is_empty() {
        command.env("FAILPOINTS", failpoints);
    }
    command.output().unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

/// What is asked of the days that stay.
fn answers(data: &Path) -> Vec<String> {
    let from = ["--from", "2024-03-02T00:00:00Z"];
    vec![
        sluice(data, &[&["count", "*", "--format", "json"][..], &from[..]].concat()),
        sluice(data, &[&["count", "*", "--by", "service", "--format", "json"][..], &from[..]].concat()),
        sluice(
            data,
            &[&["search", "*", "--oldest-first", "--limit", "100000", "--format", "ndjson"][..], &from[..]].concat(),
        ),
        sluice(
            data,
            &[
                "sql",
                "SELECT date, count(*) AS n FROM logs WHERE date >= '2024-03-02' GROUP BY date ORDER BY date",
                "--format",
                "csv",
            ],
        ),
    ]
}

fn ingested(temp: &Path) -> std::path::PathBuf {
    let (corpus, _) =
        generate_corpus(temp, "corpus", &["--size", "600KB", "--seed", "9", "--days", "3", "--malformed", "0"]);
    let data = temp.join("data");
    let ingest = run(
        "sluice-ingest",
        &["--data-dir", data.to_str().unwrap(), "--batch-bytes", "100000", corpus.to_str().unwrap()],
        None,
    );
    assert_eq!(ingest.status.code(), Some(0), "{}", stderr_text(&ingest));
    data
}

#[test]
fn exactly_the_days_past_the_horizon_go_and_the_rest_answer_as_before() {
    let temp = tempfile::tempdir().unwrap();
    let data = ingested(temp.path());
    let days = listing(&data.join("index"));
    assert_eq!(days[..3], ["2024-03-01", "2024-03-02", "2024-03-03"]);
    let partitions = listing(&data.join("archive"));
    let before = answers(&data);
    let all: u64 = serde_json::from_str::<Value>(&sluice(&data, &["count", "*", "--format", "json"])).unwrap()["count"]
        .as_u64()
        .unwrap();
    let kept: u64 = serde_json::from_str::<Value>(&before[0]).unwrap()["count"].as_u64().unwrap();
    assert!(0 < kept && kept < all, "{kept} of {all}");

    // 2024-03-01 goes at 2024-03-04T00:00:00Z with 2 days' retention: not a
    // nanosecond before.
    let early = retain(&data, "2024-03-03T23:59:59.999999999Z", "");
    assert_eq!(early.status.code(), Some(0), "{}", stderr_text(&early));
    assert!(!stderr_text(&early).contains("dropped"), "{}", stderr_text(&early));
    assert_eq!(listing(&data.join("index")), days);
    let stats: Value = serde_json::from_str(&sluice(&data, &["stats", "--format", "json"])).unwrap();
    assert_eq!(stats["retention_seconds"], 172_800);
    assert_eq!(stats["next_expiry"], serde_json::json!({"day": "2024-03-01", "at": "2024-03-04T00:00:00.000000000Z"}));
    let table = sluice(&data, &["stats"]);
    assert!(
        table.lines().any(|l| l == "retention       2d; next: 2024-03-01 goes at 2024-03-04T00:00:00.000000000Z"),
        "{table}"
    );

    let on_time = retain(&data, "2024-03-04T00:00:00Z", "");
    assert_eq!(on_time.status.code(), Some(0), "{}", stderr_text(&on_time));
    assert!(stderr_text(&on_time).starts_with("dropped 2024-03-01: past the retention\n"), "{}", stderr_text(&on_time));
    assert_eq!(listing(&data.join("index")), days[1..]);
    assert_eq!(partitions[..2], ["_sluice_layout.json", "date=2024-03-01"]);
    let mut kept_partitions = partitions.clone();
    kept_partitions.remove(1);
    assert_eq!(listing(&data.join("archive")), kept_partitions);
    assert_eq!(listing(&data.join("expired")), Vec::<String>::new());
    assert_eq!(answers(&data), before);
    let count: Value = serde_json::from_str(&sluice(&data, &["count", "*", "--format", "json"])).unwrap();
    assert_eq!(count["count"], kept);
    let stats: Value = serde_json::from_str(&sluice(&data, &["stats", "--format", "json"])).unwrap();
    assert_eq!(stats["next_expiry"]["day"], "2024-03-02");
}

#[test]
fn a_crash_at_every_step_of_retention_is_finished_by_the_next_run() {
    let temp = tempfile::tempdir().unwrap();
    let template = ingested(temp.path());
    let before = answers(&template);
    let days = listing(&template.join("index"));
    let mut kept_partitions = listing(&template.join("archive"));
    kept_partitions.remove(1);
    for point in [
        "retention.policy_staged",
        "retention.split_removed",
        "retention.archive_removed",
        "retention.deleted",
        "storage.rename",
        "storage.delete",
    ] {
        let data = temp.path().join(format!("crash-{point}"));
        crate::compaction::copy_dir(&template, &data);
        let crashed = retain(&data, "2024-03-04T00:00:00Z", &format!("{point}=return(kill)"));
        assert_eq!(crashed.status.signal(), Some(9), "{point}: did not crash: {}", stderr_text(&crashed));
        // Whatever the step, a search finds no record whose row is gone.
        sluice(&data, &["search", "*", "--oldest-first", "--limit", "100000", "--format", "ndjson"]);
        let finished = retain(&data, "2024-03-04T00:00:00Z", "");
        assert_eq!(finished.status.code(), Some(0), "{point}: {}", stderr_text(&finished));
        assert_eq!(listing(&data.join("index")), days[1..], "{point}");
        assert_eq!(listing(&data.join("archive")), kept_partitions, "{point}");
        assert_eq!(listing(&data.join("expired")), Vec::<String>::new(), "{point}");
        assert_eq!(answers(&data), before, "{point}");
    }
}
