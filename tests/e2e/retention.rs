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
    retain_with(data, &[], now, failpoints)
}

/// The same, with a schema file whose `[retention.services]` give services their own.
fn retain_services(data: &Path, schema: &Path, now: &str, failpoints: &str) -> Output {
    retain_with(data, &["--schema", schema.to_str().unwrap()], now, failpoints)
}

fn retain_with(data: &Path, extra: &[&str], now: &str, failpoints: &str) -> Output {
    let mut command = Command::new(binary("sluice-ingest"));
    command.args(["compact", "--data-dir", data.to_str().unwrap(), "--retention", "2d", "--now", now]);
    command.args(extra).args(["--zstd-level", "1"]);
    command.current_dir(workspace()).env_remove("SLUICE_DATA_DIR").stdin(Stdio::null());
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
    assert_eq!(
        stats["next_expiry"],
        serde_json::json!({"day": "2024-03-01", "at": "2024-03-04T00:00:00.000000000Z", "goes": "day"})
    );
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

/// Records per (date, service) as `sql` counts them from the archive.
fn per_day_and_service(data: &Path) -> Vec<(String, String, u64)> {
    let csv = sluice(
        data,
        &[
            "sql",
            "SELECT date, coalesce(service, '-') AS service, count(*) AS n FROM logs GROUP BY 1, 2 ORDER BY 1, 2",
            "--format",
            "csv",
        ],
    );
    csv.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_owned(), fields[1].to_owned(), fields[2].parse().unwrap())
        })
        .collect()
}

/// Every record as `search` prints it, with its reference, oldest first.
fn every_record(data: &Path) -> Vec<Value> {
    let ndjson = sluice(
        data,
        &[
            "search",
            "*",
            "--oldest-first",
            "--limit",
            "100000",
            "--format",
            "ndjson",
            "--fields",
            "ref,timestamp,service,message",
        ],
    );
    ndjson.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn index_count(data: &Path, query: &str, from: &str, to: &str) -> u64 {
    let json = sluice(data, &["count", query, "--from", from, "--to", to, "--format", "json"]);
    serde_json::from_str::<Value>(&json).unwrap()["count"].as_u64().unwrap()
}

/// What the answers should be once `gone` records are removed.
fn without(records: &[Value], gone: &dyn Fn(&str, &str) -> bool) -> Vec<Value> {
    records
        .iter()
        .filter(|r| !gone(&r["timestamp"].as_str().unwrap()[..10], r["service"].as_str().unwrap_or("-")))
        .cloned()
        .collect()
}

fn counts_without(counts: &[(String, String, u64)], gone: &dyn Fn(&str, &str) -> bool) -> Vec<(String, String, u64)> {
    counts.iter().filter(|(day, service, _)| !gone(day, service)).cloned().collect()
}

/// The two services with the most records on 2024-03-01: one kept a day,
/// one kept five.
fn short_and_long(counts: &[(String, String, u64)]) -> (String, String) {
    let mut first_day: Vec<&(String, String, u64)> =
        counts.iter().filter(|(day, service, _)| day == "2024-03-01" && service != "-").collect();
    first_day.sort_by_key(|(_, service, n)| (std::cmp::Reverse(*n), service.clone()));
    (first_day[0].1.clone(), first_day[1].1.clone())
}

fn schema_file(temp: &Path, short: &str, long: &str) -> std::path::PathBuf {
    let schema = temp.join("retention.toml");
    std::fs::write(&schema, format!("[retention.services]\n\"{short}\" = \"1d\"\n\"{long}\" = \"5d\"\n")).unwrap();
    schema
}

fn archive_files(data: &Path, day: &str) -> Vec<String> {
    let mut files = Vec::new();
    for hour in listing(&data.join("archive").join(format!("date={day}"))) {
        for file in listing(&data.join("archive").join(format!("date={day}")).join(&hour)) {
            files.push(format!("{hour}/{file}"));
        }
    }
    files
}

#[test]
fn services_with_their_own_retention_lose_exactly_their_expired_records() {
    let temp = tempfile::tempdir().unwrap();
    let data = ingested(temp.path());
    let compact = run("sluice-ingest", &["compact", "--data-dir", data.to_str().unwrap(), "--zstd-level", "1"], None);
    assert_eq!(compact.status.code(), Some(0), "{}", stderr_text(&compact));
    let counts = per_day_and_service(&data);
    let records = every_record(&data);
    assert_eq!(records.len() as u64, counts.iter().map(|(_, _, n)| n).sum::<u64>());
    let (short, long) = short_and_long(&counts);
    let schema = schema_file(temp.path(), &short, &long);
    let of = |day: &str, service: &str| counts.iter().find(|(d, s, _)| d == day && s == service).map_or(0, |c| c.2);

    // A nanosecond before 2024-03-01 is a day past its end: nothing goes.
    let early = retain_services(&data, &schema, "2024-03-02T23:59:59.999999999Z", "");
    assert_eq!(early.status.code(), Some(0), "{}", stderr_text(&early));
    assert!(!stderr_text(&early).contains("removed"), "{}", stderr_text(&early));
    assert_eq!(per_day_and_service(&data), counts);
    let stats: Value = serde_json::from_str(&sluice(&data, &["stats", "--format", "json"])).unwrap();
    assert_eq!(stats["service_retention_seconds"], serde_json::json!({&short: 86_400, &long: 432_000}));
    assert_eq!(
        stats["next_expiry"],
        serde_json::json!({"day": "2024-03-01", "at": "2024-03-03T00:00:00.000000000Z", "goes": {"services": [&short]}})
    );
    let mut policy = [format!("{long} 5d"), format!("{short} 1d")];
    policy.sort();
    let table = sluice(&data, &["stats"]);
    let line = format!(
        "retention       2d, {}; next: service {short} of 2024-03-01 goes at 2024-03-03T00:00:00.000000000Z",
        policy.join(", ")
    );
    assert!(table.lines().any(|l| l == line), "{line}\n{table}");
    let gone_short = records
        .iter()
        .find(|r| &r["timestamp"].as_str().unwrap()[..10] == "2024-03-01" && r["service"] == short.as_str())
        .unwrap()["ref"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept_long = records
        .iter()
        .find(|r| &r["timestamp"].as_str().unwrap()[..10] == "2024-03-01" && r["service"] == long.as_str())
        .unwrap()["ref"]
        .as_str()
        .unwrap()
        .to_owned();

    // At 2024-03-03T00:00:00Z the short-lived service's records of
    // 2024-03-01 go, and nothing else.
    let first = retain_services(&data, &schema, "2024-03-03T00:00:00Z", "");
    assert_eq!(first.status.code(), Some(0), "{}", stderr_text(&first));
    assert!(
        stderr_text(&first).starts_with(&format!(
            "removed {} records of service {short} from 2024-03-01: past their retention\n",
            of("2024-03-01", &short)
        )),
        "{}",
        stderr_text(&first)
    );
    let gone = |day: &str, service: &str| day == "2024-03-01" && service == short;
    assert_eq!(per_day_and_service(&data), counts_without(&counts, &gone));
    assert_eq!(every_record(&data), without(&records, &gone));
    assert_eq!(index_count(&data, &format!("service:\"{short}\""), "2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"), 0);
    // The files that held its rows are each file's next generation; nothing superseded is left.
    let files = archive_files(&data, "2024-03-01");
    assert!(files.iter().any(|f| f.ends_with("-1.parquet")), "{files:?}");
    assert!(files.iter().all(|f| f.ends_with(".parquet")), "{files:?}");
    // A reference to a removed record says so; one to a kept record still works.
    let output = run("sluice", &["--data-dir", data.to_str().unwrap(), "context", &gone_short], None);
    assert_eq!(output.status.code(), Some(2), "{}", stderr_text(&output));
    assert!(
        stderr_text(&output).contains(&format!("no record {gone_short} in this data directory")),
        "{}",
        stderr_text(&output)
    );
    sluice(&data, &["context", &kept_long, "-B", "0", "-A", "0"]);
    let stats: Value = serde_json::from_str(&sluice(&data, &["stats", "--format", "json"])).unwrap();
    assert_eq!(
        stats["next_expiry"],
        serde_json::json!({"day": "2024-03-01", "at": "2024-03-04T00:00:00.000000000Z", "goes": {"all_but": [&long]}})
    );

    // At 2024-03-04 the default's horizon passes 2024-03-01 (all but the
    // long-lived service go) and the short one's passes 2024-03-02.
    let second = retain_services(&data, &schema, "2024-03-04T00:00:00Z", "");
    assert_eq!(second.status.code(), Some(0), "{}", stderr_text(&second));
    let removed_first: u64 =
        counts.iter().filter(|(d, s, _)| d == "2024-03-01" && *s != short && *s != long).map(|c| c.2).sum();
    assert!(
        stderr_text(&second).starts_with(&format!(
            "removed {removed_first} records of every service but {long} from 2024-03-01: past their retention\n\
             removed {} records of service {short} from 2024-03-02: past their retention\n",
            of("2024-03-02", &short)
        )),
        "{}",
        stderr_text(&second)
    );
    let gone = |day: &str, service: &str| {
        (day == "2024-03-01" && service != long) || (day == "2024-03-02" && service == short)
    };
    assert_eq!(per_day_and_service(&data), counts_without(&counts, &gone));
    assert_eq!(every_record(&data), without(&records, &gone));
    sluice(&data, &["context", &kept_long, "-B", "0", "-A", "0"]);
    assert!(archive_files(&data, "2024-03-01").iter().any(|f| f.ends_with("-2.parquet")));

    // At 2024-03-07 the long-lived service's horizon passes 2024-03-01: the day goes whole.
    let last = retain_services(&data, &schema, "2024-03-07T00:00:00Z", "");
    assert_eq!(last.status.code(), Some(0), "{}", stderr_text(&last));
    assert!(stderr_text(&last).starts_with("dropped 2024-03-01: past the retention\n"), "{}", stderr_text(&last));
    assert!(!data.join("archive/date=2024-03-01").exists());
    assert!(!data.join("index/2024-03-01").exists());
    assert!(!data.join("index/rowmaps/date=2024-03-01").exists());
}

#[test]
fn a_crash_at_every_step_of_removing_a_services_records_is_finished_by_the_next_run() {
    let temp = tempfile::tempdir().unwrap();
    // Not compacted: batch files are rewritten as compacted files of their one batch.
    let template = ingested(temp.path());
    let (short, long) = short_and_long(&per_day_and_service(&template));
    let schema = schema_file(temp.path(), &short, &long);
    let reference = temp.path().join("reference");
    crate::compaction::copy_dir(&template, &reference);
    let done = retain_services(&reference, &schema, "2024-03-03T00:00:00Z", "");
    assert_eq!(done.status.code(), Some(0), "{}", stderr_text(&done));
    let expected = (per_day_and_service(&reference), every_record(&reference), archive_files(&reference, "2024-03-01"));
    assert!(expected.2.iter().any(|f| f.contains("-0")), "{:?}", expected.2);
    for point in [
        "retention.records_deleted",
        "retention.archive_staged",
        "retention.row_map_staged",
        "retention.archive_published",
        "retention.inputs_removed",
        "storage.rename",
        "storage.delete",
    ] {
        let data = temp.path().join(format!("crash-{point}"));
        crate::compaction::copy_dir(&template, &data);
        let crashed = retain_services(&data, &schema, "2024-03-03T00:00:00Z", &format!("{point}=return(kill)"));
        assert_eq!(crashed.status.signal(), Some(9), "{point}: did not crash: {}", stderr_text(&crashed));
        // Whatever the step, a search finds no record whose row is gone.
        sluice(&data, &["search", "*", "--oldest-first", "--limit", "100000", "--format", "ndjson"]);
        let finished = retain_services(&data, &schema, "2024-03-03T00:00:00Z", "");
        assert_eq!(finished.status.code(), Some(0), "{point}: {}", stderr_text(&finished));
        let now = (per_day_and_service(&data), every_record(&data), archive_files(&data, "2024-03-01"));
        assert_eq!(now, expected, "{point}");
    }
}
