//! Readers racing the writer: `search`, `count`, `sql` and `tail -f` run in
//! loops while `sluice-ingest` commits small batches (and tantivy merges the
//! segments they leave). No reader fails or sees a torn state: counts never
//! go down and never pass what was sent, and `tail -f` shows every record
//! exactly once.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::query::follow;
use crate::{binary, run, stderr_text};

const RECORDS: usize = 3000;

fn line(i: usize) -> String {
    // Two days, so commits touch two splits; a trace id for `trace`.
    format!(
        "{{\"time\":\"2024-07-0{}T12:{:02}:{:02}Z\",\"level\":\"info\",\"service\":\"racer\",\"msg\":\"race {i:05}\"}}\n",
        1 + i % 2,
        (i / 60) % 60,
        i % 60
    )
}

#[test]
fn readers_racing_the_writer_see_no_error_no_torn_read_and_tail_shows_each_record_once() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let data_dir = data.to_str().unwrap().to_owned();
    // A first record, so that the readers have a data directory to open.
    let seeded = run(
        "sluice-ingest",
        &["--data-dir", &data_dir],
        Some(b"{\"msg\":\"seed\",\"time\":\"2024-07-01T00:00:00Z\"}\n"),
    );
    assert_eq!(seeded.status.code(), Some(0), "{}", stderr_text(&seeded));
    let (mut tail, shown) = follow(&data);
    // tail -f first shows the newest records (the seed), then follows.
    assert_eq!(shown.recv_timeout(Duration::from_secs(20)).unwrap().1, "seed");

    let mut writer = Command::new(binary("sluice-ingest"))
        .args(["--data-dir", &data_dir, "--commit-interval", "100ms"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let writing = AtomicBool::new(true);
    let sent = std::thread::scope(|scope| {
        let readers: Vec<_> = [
            vec!["count", "race", "--format", "json"],
            vec!["count", "*", "--by", "level", "--format", "json"],
            vec!["search", "race", "--limit", "3", "--format", "ndjson"],
            vec!["sql", "SELECT count(*) AS n FROM logs WHERE service = 'racer'", "--format", "json"],
        ]
        .into_iter()
        .map(|args| {
            let writing = &writing;
            let data_dir = &data_dir;
            scope.spawn(move || {
                let mut last = 0u64;
                let mut runs = 0;
                while writing.load(Ordering::Relaxed) || runs == 0 {
                    let output = run("sluice", &[&["--data-dir", data_dir.as_str()][..], &args].concat(), None);
                    assert!(output.status.success(), "{args:?}: {}", stderr_text(&output));
                    let text = String::from_utf8_lossy(&output.stdout).into_owned();
                    let n = match args[0] {
                        "count" if args.contains(&"--by") => {
                            let json: Value = serde_json::from_str(&text).unwrap();
                            json["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum()
                        }
                        "count" => serde_json::from_str::<Value>(&text).unwrap()["count"].as_u64().unwrap(),
                        "sql" => serde_json::from_str::<Value>(&text).unwrap()[0]["n"].as_u64().unwrap(),
                        _ => {
                            for line in text.lines() {
                                let record: Value = serde_json::from_str(line).unwrap();
                                assert!(record["message"].as_str().unwrap().starts_with("race "), "{line}");
                            }
                            text.lines().count() as u64
                        }
                    };
                    assert!(n >= last, "{args:?}: {n} after {last}: a count went down");
                    assert!(n <= RECORDS as u64 + 1, "{args:?}: {n}, more than was sent");
                    last = n;
                    runs += 1;
                }
                runs
            })
        })
        .collect();
        // Bursts of lines with pauses, so that many small batches commit.
        let mut stdin = writer.stdin.take().unwrap();
        let started = Instant::now();
        for burst in 0..RECORDS / 100 {
            let text: String = (burst * 100..(burst + 1) * 100).map(line).collect();
            stdin.write_all(text.as_bytes()).unwrap();
            stdin.flush().unwrap();
            std::thread::sleep(Duration::from_millis(150));
        }
        drop(stdin);
        let exit = writer.wait().unwrap();
        assert_eq!(exit.code(), Some(0));
        writing.store(false, Ordering::Relaxed);
        let runs: Vec<usize> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        // Each reader started before the first line was written; `count` (the
        // quickest) ran again and again while commits went on. `sql` in a
        // debug build may take seconds a call, so once is all it is asked.
        assert!(
            runs.iter().all(|&n| n >= 1) && runs[0] >= 3,
            "each reader ran while the writer did: {runs:?} in {:?}",
            started.elapsed()
        );
        RECORDS
    });

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < sent {
        let Ok((_, message)) = shown.recv_timeout(deadline.saturating_duration_since(Instant::now())) else { break };
        *seen.entry(message).or_default() += 1;
    }
    // Nothing more comes, and nothing came twice.
    if let Ok((_, message)) = shown.recv_timeout(Duration::from_millis(1500)) {
        *seen.entry(message).or_default() += 1;
    }
    tail.kill().unwrap();
    tail.wait().unwrap();
    assert_eq!(seen.len(), sent, "tail -f showed {} of {sent} records", seen.len());
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "shown more than once: {twice:?}");
    let final_count = run("sluice", &["--data-dir", &data_dir, "count", "race", "--format", "json"], None);
    let json: Value = serde_json::from_slice(&final_count.stdout).unwrap();
    assert_eq!(json["count"], sent);
}
