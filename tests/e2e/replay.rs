//! `sluice-ingest replay`: dead-lettered lines ingested again under a fixed
//! schema; the account is exact, the dead-letter files say what is still
//! rejected, and replaying twice, or after a crash, never duplicates a
//! record. Dead letters of both file ingest and `serve`.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::{binary, run, stderr_text, workspace};

fn replay(data: &Path, extra: &[&str], failpoints: &str) -> std::process::Output {
    let mut command = Command::new(binary("sluice-ingest"));
    command.args(["replay", "--data-dir", data.to_str().unwrap(), "--summary-json", "--compact-after", "off"]);
    command.args(extra).current_dir(workspace()).env_remove("SLUICE_DATA_DIR").stdin(Stdio::null());
    if !failpoints.is_empty() {
        command.env("FAILPOINTS", failpoints);
    }
    command.output().unwrap()
}

fn summary(output: &std::process::Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(output));
    serde_json::from_str(String::from_utf8_lossy(&output.stdout).lines().last().unwrap()).unwrap()
}

/// `(source file name, line, reason)` of each dead letter left to replay.
fn dead_letters(data: &Path) -> Vec<(String, u64, String)> {
    let mut files: Vec<_> = std::fs::read_dir(data.join("deadletter"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let entry: Value = serde_json::from_str(line).unwrap();
            let source = entry["source"].as_str().unwrap();
            out.push((
                Path::new(source).file_name().unwrap().to_string_lossy().into_owned(),
                entry["line"].as_u64().unwrap(),
                entry["reason"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

fn count(data: &Path, query: &str) -> u64 {
    let output = run("sluice", &["--data-dir", data.to_str().unwrap(), "count", query, "--format", "json"], None);
    assert_eq!(output.status.code(), Some(0), "{}", stderr_text(&output));
    serde_json::from_slice::<Value>(&output.stdout).unwrap()["count"].as_u64().unwrap()
}

const LINES: &[u8] = b"{\"msg\":\"has a service\",\"service\":\"api\"}\n\
{\"msg\":\"no service one\"}\n\
{\"msg\":\"no service two\"}\n\
{\"msg\": oops}\n\
\n\
{\"msg\":\"bad \xff byte\",\"service\":\"api\"}\n";

#[test]
fn replayed_lines_are_accepted_once_and_what_is_still_rejected_stays() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let file = temp.path().join("in.ndjson");
    std::fs::write(&file, LINES).unwrap();
    let schema = workspace().join("fixtures/schemas/require-service.toml");
    let ingested = run(
        "sluice-ingest",
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--schema",
            schema.to_str().unwrap(),
            "--summary-json",
            file.to_str().unwrap(),
        ],
        None,
    );
    let first = summary(&ingested);
    assert_eq!(
        first,
        serde_json::json!({"lines_read": 6, "accepted": 1, "rejected": 4, "blank": 1, "bytes_read": LINES.len(),
            "elapsed_seconds": first["elapsed_seconds"],
            "rejected_by_reason": {"missing_required_field": 2, "invalid_json": 1, "invalid_utf8": 1}})
    );

    // Under the default schema, the two lines without a service go in.
    let replayed = replay(&data, &[], "");
    let account = summary(&replayed);
    assert_eq!(
        (&account["lines_read"], &account["accepted"], &account["rejected_by_reason"]),
        (&serde_json::json!(4), &serde_json::json!(2), &serde_json::json!({"invalid_json": 1, "invalid_utf8": 1})),
        "{account}"
    );
    assert!(stderr_text(&replayed).contains("replayed 1 dead-letter file; 1 moved to "), "{}", stderr_text(&replayed));
    let original = "part-00000000000000000001.ndjson";
    assert!(data.join("deadletter/replayed").join(original).is_file());
    // Still rejected: entries 3 and 4 of the replayed file, by name.
    let replay_input = dead_letters(&data)[0].0.clone();
    assert!(
        replay_input.starts_with("part-00000000000000000001.") && replay_input.ends_with(".ndjson"),
        "{replay_input}"
    );
    assert_eq!(
        dead_letters(&data),
        [(replay_input.clone(), 3, "invalid_json".to_owned()), (replay_input, 4, "invalid_utf8".to_owned())]
    );
    assert_eq!(count(&data, "*"), 3);
    assert_eq!(count(&data, "\"no service one\""), 1);

    // Again: only what is still rejected is replayed, and nothing doubles.
    let again = summary(&replay(&data, &[], ""));
    assert_eq!((&again["lines_read"], &again["accepted"]), (&serde_json::json!(2), &serde_json::json!(0)), "{again}");
    assert_eq!(count(&data, "*"), 3);
    // The same file named again, even copied under another name, reads
    // nothing new.
    let named = data.join("deadletter/replayed").join(original);
    let copy = temp.path().join("copied.ndjson");
    std::fs::copy(&named, &copy).unwrap();
    for file in [&named, &copy] {
        let named_again = summary(&replay(&data, &[file.to_str().unwrap()], ""));
        assert_eq!(named_again["lines_read"], 0, "{named_again}");
    }
    assert_eq!(count(&data, "*"), 3);
}

#[test]
fn a_replay_killed_while_committing_loses_and_duplicates_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let file = temp.path().join("in.ndjson");
    std::fs::write(&file, LINES).unwrap();
    let schema = workspace().join("fixtures/schemas/require-service.toml");
    let args = ["--data-dir", data.to_str().unwrap(), "--schema", schema.to_str().unwrap(), file.to_str().unwrap()];
    assert_eq!(run("sluice-ingest", &args, None).status.code(), Some(0));
    for point in ["commit.archive_staged", "commit.splits", "commit.manifest"] {
        let crashed = replay(&data, &[], &format!("{point}=return(kill)"));
        assert_eq!(crashed.status.signal(), Some(9), "{point}: {}", stderr_text(&crashed));
    }
    // One of the killed runs may have committed before it died: the last
    // run then reads nothing more, and only moves the file.
    let finished = replay(&data, &[], "");
    summary(&finished);
    assert_eq!(count(&data, "*"), 3);
    assert_eq!(count(&data, "\"no service two\""), 1);
}

#[test]
fn dead_letters_of_the_server_are_replayed_too() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let schema = workspace().join("fixtures/schemas/require-service.toml");
    let server = crate::serve::Server::start(&data, &["--schema", schema.to_str().unwrap()]);
    let (status, answer) = server.post_json(
        "/api/v1/ingest",
        &[],
        b"{\"msg\":\"served, no service\"}\n{\"msg\":\"x\",\"service\":\"web\"}\n",
    );
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(1)), "{answer}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(count(&data, "*"), 1);
    let account = summary(&replay(&data, &[], ""));
    assert_eq!(
        (&account["lines_read"], &account["accepted"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{account}"
    );
    assert_eq!(count(&data, "\"served, no service\""), 1);
    assert_eq!(dead_letters(&data), []);
}
