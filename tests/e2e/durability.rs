//! The durability promise, proven at every step of the commit protocol and
//! the write-ahead log, on the real binaries: fail-points (compiled into the
//! test build only, armed with `FAILPOINTS`) make them die abruptly
//! (SIGKILL to themselves) or fail as on a full disk at a named step; the
//! restart must then hold every acknowledged line exactly once, the index
//! and the archive must agree with the manifest's account, dead letters
//! must equal rejected lines, and no staged file may be left.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use arrow_array::Array;
use serde_json::Value;

use crate::serve::Server;
use crate::{binary, collect, index_docs, stderr_text, workspace};

/// Days a test input spans: more than the four day splits a writer keeps
/// open, so every batch commits splits early on the way.
const DAYS: usize = 6;

/// What a data directory holds, read from its files directly.
#[derive(Debug)]
pub(crate) struct Stored {
    /// The `message` of every archive row, sorted.
    pub messages: Vec<String>,
    pub index_docs: u64,
    /// The raw line of every dead letter, sorted.
    pub dead_letters: Vec<String>,
    pub manifest: Value,
    /// Files under a temporary name.
    pub staged: Vec<PathBuf>,
}

pub(crate) fn stored(data: &Path) -> Stored {
    let mut files = Vec::new();
    collect(&data.join("archive"), "parquet", &mut files);
    let mut messages = Vec::new();
    for path in files {
        let file = std::fs::File::open(&path).unwrap();
        let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), ["message"]);
        for batch in builder.with_projection(mask).build().unwrap() {
            let batch = batch.unwrap();
            let column = batch.column(0).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
            messages.extend((0..column.len()).map(|i| column.value(i).to_owned()));
        }
    }
    messages.sort();
    let mut dead = Vec::new();
    collect(&data.join("deadletter"), "ndjson", &mut dead);
    let mut dead_letters: Vec<String> = dead
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(|line| {
                    let entry = serde_json::from_str::<Value>(line).unwrap();
                    entry["raw"].as_str().or(entry["raw_base64"].as_str()).unwrap().to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    dead_letters.sort();
    let manifest = std::fs::read(data.join("manifest.json"))
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
        .unwrap_or(Value::Null);
    let mut staged = Vec::new();
    collect(data, "tmp", &mut staged);
    Stored { messages, index_docs: index_docs(data), dead_letters, manifest, staged }
}

impl Stored {
    /// The invariants that hold after any crash and restart: index =
    /// archive = the manifest's account, dead letters as it says, nothing
    /// staged.
    pub(crate) fn assert_consistent(&self, context: &str) {
        let records = self.manifest["records"].as_u64().unwrap_or(0);
        assert_eq!(self.index_docs, self.messages.len() as u64, "{context}: index documents = archive rows");
        assert_eq!(records, self.messages.len() as u64, "{context}: the manifest's account = archive rows");
        assert_eq!(
            self.manifest["dead_letters"].as_u64().unwrap_or(0),
            self.dead_letters.len() as u64,
            "{context}: the manifest's dead letters = dead-letter lines"
        );
        assert!(self.staged.is_empty(), "{context}: staged files left behind: {:?}", self.staged);
    }
}

/// A file input spanning [`DAYS`] days on every few lines, with an
/// invalid line every 40: `(path, accepted messages sorted, rejected raw
/// lines sorted)`.
fn multi_day_input(dir: &Path) -> (PathBuf, Vec<String>, Vec<String>) {
    let mut text = String::new();
    let (mut accepted, mut rejected) = (Vec::new(), Vec::new());
    for i in 0..720 {
        if i % 40 == 39 {
            let line = format!("not json {i:04}");
            text.push_str(&line);
            rejected.push(line);
        } else {
            let day = 1 + i % DAYS;
            let message = format!("event {i:04} of a run across days");
            text.push_str(&format!(
                "{{\"time\":\"2024-03-{day:02}T10:{:02}:{:02}Z\",\"level\":\"info\",\"service\":\"svc{}\",\"msg\":\"{message}\"}}",
                (i / 60) % 60,
                i % 60,
                i % 3
            ));
            accepted.push(message);
        }
        text.push('\n');
    }
    let path = dir.join("input.ndjson");
    std::fs::write(&path, text).unwrap();
    accepted.sort();
    rejected.sort();
    (path, accepted, rejected)
}

/// Runs `sluice-ingest` with `FAILPOINTS` set to `failpoints` (none when empty).
fn ingest_with(args: &[&str], failpoints: &str) -> Output {
    let mut command = Command::new(binary("sluice-ingest"));
    command.args(args).current_dir(workspace()).env_remove("SLUICE_DATA_DIR");
    if !failpoints.is_empty() {
        command.env("FAILPOINTS", failpoints);
    }
    command.stdin(Stdio::null()).output().unwrap()
}

/// `name=N*off->return(action)`: the (N+1)th pass through `name` fires.
fn arm(name: &str, pass: usize, action: &str) -> String {
    format!("{name}={pass}*off->return({action})")
}

/// Each fail-point of the file pipeline, and how many passes to let through
/// first, so that the crash lands after some batches are committed (a batch
/// here writes 6 Parquet files, one dead-letter file and a manifest, and
/// commits 2 day splits early).
const FILE_CRASH_POINTS: &[(&str, usize)] = &[
    ("storage.create", 10),
    ("storage.write", 40),
    ("storage.fsync", 10),
    ("storage.rename", 10),
    ("storage.sync_dir", 10),
    ("split.create", 40),
    ("split.write", 200),
    ("split.fsync", 40),
    ("split.atomic_write", 8),
    ("split.sync_dir", 8),
    ("commit.archive_staged", 8),
    ("commit.dead_letters_staged", 1),
    ("commit.split_early", 2),
    ("commit.splits", 1),
    ("commit.manifest_staged", 1),
    ("commit.manifest", 1),
    ("commit.archive_published", 8),
    ("commit.dead_letters_published", 1),
];

#[test]
fn a_crash_at_every_step_of_the_file_pipeline_loses_and_duplicates_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let (input, accepted, rejected) = multi_day_input(temp.path());
    for (point, pass) in FILE_CRASH_POINTS {
        let data = temp.path().join(point);
        let args = ["--data-dir", data.to_str().unwrap(), "--batch-bytes", "8192", input.to_str().unwrap()];
        let crashed = ingest_with(&args, &arm(point, *pass, "kill"));
        assert_eq!(crashed.status.signal(), Some(9), "{point} never fired: {}", stderr_text(&crashed));
        let committed = stored(&data).manifest["records"].as_u64().unwrap_or(0);
        assert!(committed < accepted.len() as u64, "{point}: the crash came after the last commit");

        let rerun = ingest_with(&args, "");
        assert_eq!(rerun.status.code(), Some(0), "{point}: {}", stderr_text(&rerun));
        let after = stored(&data);
        after.assert_consistent(point);
        assert_eq!(after.messages, accepted, "{point}: every accepted line stored exactly once");
        assert_eq!(after.dead_letters, rejected, "{point}: every rejected line dead-lettered exactly once");
    }
}

/// Recovery itself is interrupted (while it deletes a crashed batch's
/// staged files, and while it publishes a committed one's), then runs again.
#[test]
fn a_crash_during_recovery_is_recovered_from() {
    let temp = tempfile::tempdir().unwrap();
    let (input, accepted, rejected) = multi_day_input(temp.path());
    for (first, during) in [("commit.splits", "storage.delete"), ("commit.manifest", "storage.rename")] {
        let data = temp.path().join(first);
        let args = ["--data-dir", data.to_str().unwrap(), "--batch-bytes", "8192", input.to_str().unwrap()];
        let crashed = ingest_with(&args, &arm(first, 1, "kill"));
        assert_eq!(crashed.status.signal(), Some(9), "{first}: {}", stderr_text(&crashed));
        let recovering = ingest_with(&args, &arm(during, 1, "kill"));
        assert_eq!(recovering.status.signal(), Some(9), "{during} in recovery: {}", stderr_text(&recovering));
        let rerun = ingest_with(&args, "");
        assert_eq!(rerun.status.code(), Some(0), "{}", stderr_text(&rerun));
        let after = stored(&data);
        after.assert_consistent(during);
        assert_eq!(after.messages, accepted);
        assert_eq!(after.dead_letters, rejected);
    }
}

/// A query never counts or shows a record whose batch the manifest does not
/// record: here the ingester died after committing a batch's day splits
/// and before storing the manifest, and nothing has recovered since.
#[test]
fn readers_see_committed_batches_only() {
    let temp = tempfile::tempdir().unwrap();
    let (input, _, _) = multi_day_input(temp.path());
    let data = temp.path().join("data");
    let args = ["--data-dir", data.to_str().unwrap(), "--batch-bytes", "8192", input.to_str().unwrap()];
    let crashed = ingest_with(&args, &arm("commit.splits", 2, "kill"));
    assert_eq!(crashed.status.signal(), Some(9), "{}", stderr_text(&crashed));
    let state = stored(&data);
    let committed = state.manifest["records"].as_u64().unwrap();
    // The third batch is in the index, though no manifest records it.
    assert!(state.index_docs > committed, "{} documents, {committed} committed", state.index_docs);
    let data_dir = data.to_str().unwrap();
    let json = |args: &[&str]| -> Value {
        let output = crate::run("sluice", &[&["--data-dir", data_dir][..], args].concat(), None);
        assert!(output.status.success(), "{args:?}: {}", stderr_text(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    assert_eq!(json(&["count", "*", "--format", "json"])["count"], committed);
    assert_eq!(json(&["count", "event", "--format", "json"])["count"], committed);
    assert_eq!(json(&["stats", "--format", "json"])["records"], committed);
    let by_service = json(&["count", "*", "--by", "service", "--format", "json"]);
    let sum: u64 = by_service["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, committed, "{by_service}");
    let search =
        crate::run("sluice", &["--data-dir", data_dir, "search", "*", "--limit", "100000", "--format", "ndjson"], None);
    assert!(search.status.success(), "{}", stderr_text(&search));
    assert_eq!(crate::stdout_lines(&search).len() as u64, committed);
    let histogram = json(&["histogram", "*", "--interval", "1d", "--format", "json"]);
    let sum: u64 = histogram["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, committed, "{histogram}");
}

#[test]
fn one_writer_at_a_time_and_a_dead_writers_lock_is_taken_over() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let (input, accepted, _) = multi_day_input(temp.path());
    let server = Server::start(&data, &[]);
    let pid = server.child.id();
    let second = ingest_with(&["--data-dir", data.to_str().unwrap(), input.to_str().unwrap()], "");
    assert_eq!(second.status.code(), Some(3), "{}", stderr_text(&second));
    let message = stderr_text(&second);
    let expected = format!(
        "sluice-ingest: error: data directory {} already has a writer: pid {pid} (`{} serve --data-dir {} --listen 127.0.0.1:0`) since ",
        data.display(),
        binary("sluice-ingest").display(),
        data.display()
    );
    assert!(message.starts_with(&expected), "{message}\nexpected: {expected}");
    assert!(
        message.ends_with(
            "Stop that process first, or give this one another --data-dir (only one sluice-ingest or sluice-ingest \
             serve may write a data directory; sluice may read it at any time)\n"
        ),
        "{message}"
    );
    // Readers never take the lock.
    let reading = crate::run("sluice", &["--data-dir", data.to_str().unwrap(), "stats"], None);
    assert!(!stderr_text(&reading).contains("writer"), "{}", stderr_text(&reading));

    // The holder dies without a trace: its lock is no lock.
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let taken = ingest_with(&["--data-dir", data.to_str().unwrap(), input.to_str().unwrap()], "");
    assert_eq!(taken.status.code(), Some(0), "{}", stderr_text(&taken));
    assert!(
        stderr_text(&taken).starts_with(&format!("sluice-ingest: took over the writer lock of pid {pid} (`")),
        "{}",
        stderr_text(&taken)
    );
    assert_eq!(stored(&data).messages, accepted);
}

/// Lines for one request to the server: `lines` accepted ones across the
/// days, each unique, and one that is not JSON.
fn request_body(request: usize, lines: usize) -> (String, Vec<String>, String) {
    let mut body = String::new();
    let mut messages = Vec::new();
    for j in 0..lines {
        let day = 1 + (request + j) % DAYS;
        let message = format!("req {request:03} line {j:02}");
        body.push_str(&format!(
            "{{\"time\":\"2024-04-{day:02}T08:00:{:02}Z\",\"service\":\"api\",\"msg\":\"{message}\"}}\n",
            j % 60
        ));
        messages.push(message);
    }
    let bad = format!("broken {request:03}");
    body.push_str(&bad);
    body.push('\n');
    (body, messages, bad)
}

/// What was sent to a server and what it acknowledged.
#[derive(Default)]
struct Sent {
    acknowledged: Vec<String>,
    acknowledged_bad: Vec<String>,
    unacknowledged: Vec<String>,
    unacknowledged_bad: Vec<String>,
}

/// Sends requests one after another (a pause between them, so commits
/// interleave) until `requests` are sent or the server stops answering.
fn send_requests(server: &Server, requests: usize, pause: Duration) -> Sent {
    let mut sent = Sent::default();
    for request in 0..requests {
        let (body, messages, bad) = request_body(request, 12);
        let (status, _) = server.request("POST", "/api/v1/ingest", &[], body.as_bytes());
        if status == 200 {
            sent.acknowledged.extend(messages);
            sent.acknowledged_bad.push(bad);
        } else {
            sent.unacknowledged.extend(messages);
            sent.unacknowledged_bad.push(bad);
            if status == 0 {
                break; // gone
            }
        }
        std::thread::sleep(pause);
    }
    sent
}

/// Every acknowledged line is stored exactly once; one never acknowledged
/// at most once.
fn assert_each_once(stored: &[String], acknowledged: &[String], unacknowledged: &[String], context: &str) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for message in stored {
        *counts.entry(message).or_default() += 1;
    }
    for message in acknowledged {
        assert_eq!(counts.get(message.as_str()), Some(&1), "{context}: acknowledged {message:?}");
    }
    for message in unacknowledged {
        assert!(counts.get(message.as_str()).copied().unwrap_or(0) <= 1, "{context}: {message:?} stored twice");
    }
    let known = acknowledged.len() + unacknowledged.len();
    assert!(stored.len() <= known, "{context}: {} stored, {known} sent", stored.len());
}

/// Each fail-point on the server's path, with the passes to let through:
/// the log's own steps (written not synced, synced not answered, a
/// committed segment deleted) and the commit protocol's behind it.
const SERVE_CRASH_POINTS: &[(&str, usize)] = &[
    ("wal.appended", 4),
    ("wal.synced", 4),
    ("wal.segment_deleted", 1),
    ("commit.archive_staged", 6),
    ("commit.split_early", 2),
    ("commit.splits", 1),
    ("commit.manifest_staged", 1),
    ("commit.manifest", 1),
    ("commit.archive_published", 6),
    ("commit.dead_letters_published", 1),
    ("storage.rename", 6),
    ("storage.fsync", 12),
    ("split.atomic_write", 6),
];

#[test]
fn a_crash_at_every_step_of_the_server_loses_no_acknowledged_line() {
    let temp = tempfile::tempdir().unwrap();
    for (point, pass) in SERVE_CRASH_POINTS {
        let data = temp.path().join(point);
        let args = ["--commit-interval", "30ms", "--wal-segment-bytes", "2048"];
        let failpoints = arm(point, *pass, "kill");
        let mut server = Server::start_with_env(&data, &args, &[("FAILPOINTS", &failpoints)]);
        let sent = send_requests(&server, 40, Duration::from_millis(40));
        let deadline = Instant::now() + Duration::from_secs(20);
        let exit = loop {
            if let Some(exit) = server.child.try_wait().unwrap() {
                break exit;
            }
            assert!(Instant::now() < deadline, "{point} never fired");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(exit.signal(), Some(9), "{point}");
        drop(server);

        let server = Server::start(&data, &[]);
        let (code, stderr) = server.stop();
        assert_eq!(code, 0, "{point}: {stderr}");
        let after = stored(&data);
        after.assert_consistent(point);
        assert_each_once(&after.messages, &sent.acknowledged, &sent.unacknowledged, point);
        assert_each_once(&after.dead_letters, &sent.acknowledged_bad, &sent.unacknowledged_bad, point);
        assert!(!sent.acknowledged.is_empty(), "{point}: nothing was acknowledged before the crash");
    }
}

/// The entries of a write-ahead log segment, `(offset, size)`, without the
/// group-end frames (9 bytes) after each group.
fn wal_entries(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = 8 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        if size > 9 {
            entries.push((at, size));
        }
        at += size;
    }
    entries
}

/// Three acknowledged requests left in the log by a server killed before it
/// committed them (its batch stays open a minute); returns the segment.
fn three_uncommitted_requests(data: &Path) -> PathBuf {
    let server = Server::start(data, &["--commit-interval", "60s"]);
    for request in 0..3 {
        let body = format!("{{\"time\":\"2024-08-01T00:00:0{request}Z\",\"msg\":\"logged {request}\"}}\n");
        let (status, _) = server.request("POST", "/api/v1/ingest", &[], body.as_bytes());
        assert_eq!(status, 200);
    }
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    data.join("wal").join(format!("{:020}.wal", 0))
}

#[test]
fn write_ahead_log_damage_is_reported_with_file_and_offset_never_silent() {
    let temp = tempfile::tempdir().unwrap();

    // A damaged entry in the middle of the active segment.
    for policy in ["refuse", "skip"] {
        let data = temp.path().join(policy);
        let segment = three_uncommitted_requests(&data);
        let mut bytes = std::fs::read(&segment).unwrap();
        let entries = wal_entries(&bytes);
        assert_eq!(entries.len(), 3);
        let (offset, size) = entries[1];
        bytes[offset + size - 2] ^= 0xff;
        std::fs::write(&segment, &bytes).unwrap();
        let damage = format!(
            "write-ahead log segment {} is damaged at byte {offset} (an entry whose checksum does not match; {size} \
             bytes up to the next whole entry): the lines acknowledged there cannot be recovered.",
            segment.display()
        );
        let kept = data.join("wal/damaged").join(format!("{offset:020}.bin"));
        if policy == "refuse" {
            let refused = ingest_with(
                &["serve", "--data-dir", data.to_str().unwrap(), "--listen", "127.0.0.1:0", "--wal-damage", "refuse"],
                "",
            );
            assert_eq!(refused.status.code(), Some(3), "{}", stderr_text(&refused));
            // After the note that the killed server's lock was taken over.
            let said = stderr_text(&refused);
            assert!(said.starts_with("sluice-ingest: took over the writer lock of pid "), "{said}");
            assert_eq!(
                said.lines().last().map(|l| format!("{l}\n")).unwrap_or_default(),
                format!(
                    "sluice-ingest: error: {damage} The entries before it are committed. Start again with \
                     --wal-damage skip to keep a copy of the damaged bytes in {} and replay the entries after them\n",
                    data.join("wal/damaged").display()
                )
            );
            // What came before the damage is committed; nothing after it yet.
            assert_eq!(stored(&data).messages, ["logged 0"]);
            assert!(!kept.exists());
            continue;
        }
        let server = Server::start(&data, &[]);
        let (code, stderr) = server.stop();
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "sluice-ingest: error: {damage} The damaged bytes are kept in {}; the entries after them are \
                 replayed (--wal-damage skip)\n",
                kept.display()
            )),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&kept).unwrap(), &bytes[offset..offset + size]);
        let after = stored(&data);
        after.assert_consistent("damaged entry");
        // Every valid acknowledged line, exactly once.
        assert_eq!(after.messages, ["logged 0", "logged 2"]);
        // Once committed past, the damage is not reported again.
        let server = Server::start(&data, &[]);
        let (_, stderr) = server.stop();
        assert!(!stderr.contains("damaged"), "{stderr}");
    }

    // A torn tail: a partial last entry, nothing valid after it.
    let data = temp.path().join("torn");
    let segment = three_uncommitted_requests(&data);
    let whole = std::fs::read(&segment).unwrap();
    let torn = [&whole[..], &whole[..13]].concat();
    std::fs::write(&segment, &torn).unwrap();
    let server = Server::start(&data, &[]);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "sluice-ingest: warning: write-ahead log segment {}: cut off a torn last entry at byte {} (13 bytes \
             dropped): a write that never completed, so no client was told it was kept\n",
            segment.display(),
            whole.len()
        )),
        "{stderr}"
    );
    assert_eq!(stored(&data).messages, ["logged 0", "logged 1", "logged 2"]);
}
