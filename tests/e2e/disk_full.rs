//! A full disk at every step: the run stops with exit 3 and what to do,
//! keeps nothing it could not commit, and resumes exactly once there is
//! room. On a real small file system (a tmpfs this test mounts, as root)
//! when it may; each step is also made to fail with ENOSPC through the
//! storage seam's fail-points, which needs no privilege.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::durability::stored;
use crate::serve::Server;
use crate::{binary, generate_corpus, stderr_text, workspace};

/// A size-limited tmpfs, mounted for one test and unmounted after it.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` when this process may not mount (not root): the caller says
    /// which way the test ran.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Makes room: the same file system, grown.
    fn grow(&self, size: &str) {
        let status =
            Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(self.dir.path()).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn ingest(args: &[&str], stdin: Option<&[u8]>, failpoints: &str) -> Output {
    let mut command = Command::new(binary("sluice-ingest"));
    command.args(args).current_dir(workspace()).env_remove("SLUICE_DATA_DIR");
    if !failpoints.is_empty() {
        command.env("FAILPOINTS", failpoints);
    }
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // The run may stop before it has read everything.
        let _ = pipe.write_all(input);
    }
    child.wait_with_output().unwrap()
}

const FILE_RESUME: &str = "Free space on the data directory's filesystem (or give --data-dir another one) and run the \
                           same command again: it resumes after the last committed batch, losing and duplicating \
                           nothing.\n";

/// The stdin line the message says to resume from.
fn stdin_resume_line(message: &str) -> usize {
    let rest = message
        .split("and send standard input again from line ")
        .nth(1)
        .unwrap_or_else(|| panic!("no resume line in: {message}"));
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// Lines for the injected-failure runs: spread over days and hours, with
/// an invalid one every 50.
fn lines() -> (String, Vec<String>) {
    let mut text = String::new();
    let mut accepted = Vec::new();
    for i in 0..1500 {
        if i % 50 == 49 {
            text.push_str(&format!("not json {i}\n"));
            continue;
        }
        let message = format!("disk event {i:05}");
        text.push_str(&format!(
            "{{\"time\":\"2024-05-{:02}T{:02}:00:00Z\",\"msg\":\"{message}\"}}\n",
            1 + i % 5,
            i % 24
        ));
        accepted.push(message);
    }
    accepted.sort();
    (text, accepted)
}

/// Where the injected ENOSPC strikes, and how many passes go through first.
const FULL_AT: &[(&str, usize)] = &[
    ("storage.create", 12),
    ("storage.write", 60),
    ("storage.fsync", 12),
    ("storage.rename", 12),
    ("storage.sync_dir", 12),
    ("split.write", 100),
    ("split.atomic_write", 6),
    ("commit.split_early", 2),
    ("commit.splits", 1),
    ("commit.manifest_staged", 1),
];

#[test]
fn a_full_disk_at_every_step_stops_file_and_stdin_ingest_with_exit_3_and_they_resume_exactly() {
    let temp = tempfile::tempdir().unwrap();
    let (text, accepted) = lines();
    let input = temp.path().join("app.ndjson");
    std::fs::write(&input, &text).unwrap();
    for (point, pass) in FULL_AT {
        let failpoints = format!("{point}={pass}*off->return(enospc)");
        // A file: the same command again resumes it.
        let data = temp.path().join(format!("file-{point}"));
        let args = ["--data-dir", data.to_str().unwrap(), "--batch-bytes", "16384", input.to_str().unwrap()];
        let full = ingest(&args, None, &failpoints);
        assert_eq!(full.status.code(), Some(3), "{point}: {}", stderr_text(&full));
        let message = stderr_text(&full);
        assert!(message.starts_with("sluice-ingest: error: disk full: "), "{point}: {message}");
        assert!(message.contains("No space left on device (os error 28)"), "{point}: {message}");
        assert!(message.ends_with(FILE_RESUME), "{point}: {message}");
        let rerun = ingest(&args, None, "");
        assert_eq!(rerun.status.code(), Some(0), "{point}: {}", stderr_text(&rerun));
        let after = stored(&data);
        after.assert_consistent(point);
        assert_eq!(after.messages, accepted, "{point}: file");
        assert_eq!(after.dead_letters.len(), 30, "{point}: file");

        // Standard input: the message says from which line to send it again.
        let data = temp.path().join(format!("stdin-{point}"));
        let args = ["--data-dir", data.to_str().unwrap(), "--batch-bytes", "16384"];
        let full = ingest(&args, Some(text.as_bytes()), &failpoints);
        assert_eq!(full.status.code(), Some(3), "{point}: {}", stderr_text(&full));
        let message = stderr_text(&full);
        assert!(message.starts_with("sluice-ingest: error: disk full: "), "{point}: {message}");
        let from = stdin_resume_line(&message);
        assert!(
            message.ends_with(&format!(
                "and send standard input again from line {from} on (the first {} lines, {} bytes, are committed; \
                 from a file: `tail -n +{from} FILE | sluice-ingest …`): nothing is lost or duplicated.\n",
                from - 1,
                text.lines().take(from - 1).map(|l| l.len() + 1).sum::<usize>()
            )),
            "{point}: {message}"
        );
        let rest: String = text.lines().skip(from - 1).map(|l| format!("{l}\n")).collect();
        let rerun = ingest(&args, Some(rest.as_bytes()), "");
        assert_eq!(rerun.status.code(), Some(0), "{point}: {}", stderr_text(&rerun));
        let after = stored(&data);
        after.assert_consistent(point);
        assert_eq!(after.messages, accepted, "{point}: stdin");
        assert_eq!(after.dead_letters.len(), 30, "{point}: stdin");
    }
}

/// The real thing: a corpus several times the size of a tmpfs, from a file
/// and from stdin; once the file system is grown, the file run resumes and
/// the stdin run is fed again from the line it names.
#[test]
fn a_real_full_file_system_stops_ingest_and_it_resumes_exactly() {
    let Some(fs) = Tmpfs::mount("6m") else {
        eprintln!("not root: a real full disk is not tested here (the fail-point test covers every step)");
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let (corpus, expected) = generate_corpus(temp.path(), "corpus", &["--size", "40MB", "--seed", "17"]);
    let accepted = expected["accepted"].as_u64().unwrap();
    let data = fs.path().join("file");
    let args = ["--data-dir", data.to_str().unwrap(), "--batch-bytes", "4194304", corpus.to_str().unwrap()];
    let full = ingest(&args, None, "");
    assert_eq!(full.status.code(), Some(3), "{}", stderr_text(&full));
    let message = stderr_text(&full);
    assert!(message.starts_with("sluice-ingest: error: disk full: "), "{message}");
    assert!(message.ends_with(FILE_RESUME), "{message}");
    let before = stored(&data).manifest["records"].as_u64().unwrap_or(0);
    assert!(before < accepted);

    fs.grow("400m");
    let rerun = ingest(&args, None, "");
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr_text(&rerun));
    let after = stored(&data);
    after.assert_consistent("tmpfs, file");
    assert_eq!(after.messages.len() as u64, accepted);
    // The same corpus ingested where there is room all along: the same records.
    let reference = temp.path().join("reference");
    let clean = ingest(&["--data-dir", reference.to_str().unwrap(), corpus.to_str().unwrap()], None, "");
    assert_eq!(clean.status.code(), Some(0), "{}", stderr_text(&clean));
    let reference = stored(&reference);
    assert_eq!(after.messages, reference.messages, "each record stored exactly once");

    // Standard input, on a file system that is full again.
    std::fs::remove_dir_all(fs.path().join("file")).unwrap();
    fs.grow("6m");
    let text = std::fs::read(&corpus).unwrap();
    let data = fs.path().join("stdin");
    let args = ["--data-dir", data.to_str().unwrap(), "--batch-bytes", "4194304"];
    let full = ingest(&args, Some(&text), "");
    assert_eq!(full.status.code(), Some(3), "{}", stderr_text(&full));
    let from = stdin_resume_line(&stderr_text(&full));
    fs.grow("400m");
    let rest: Vec<u8> = text.split_inclusive(|&b| b == b'\n').skip(from - 1).flatten().copied().collect();
    let rerun = ingest(&args, Some(&rest), "");
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr_text(&rerun));
    let after = stored(&data);
    after.assert_consistent("tmpfs, stdin");
    assert_eq!(after.messages, reference.messages, "each record from stdin stored exactly once");
}

fn metric(server: &Server, name: &str) -> Option<u64> {
    let (_, text) = server.request("GET", "/metrics", &[], b"");
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The server on a full disk: every request it cannot keep gets 507 with
/// `Retry-After`, nothing it acknowledged is lost, `/health/ready` and
/// `/metrics` say why, and it takes requests again by itself once there is
/// room. `room` gives room back; `waits` is how many times committing must
/// have stopped for lack of space before the test goes on.
fn serve_through_a_full_disk(data: &Path, args: &[&str], env: &[(&str, &str)], room: impl FnOnce(), waits: u64) {
    let server = Server::start_with_env(data, args, env);
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    let mut saw_507 = false;
    // Messages that do not compress away: 128 pseudo-random hex digits each.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut noise = move || {
        (0..8)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                format!("{state:016x}")
            })
            .collect::<String>()
    };
    for request in 0..1000 {
        let mut body = String::new();
        let mut messages = Vec::new();
        for j in 0..200 {
            let message = format!("full {request:03} {j:03} {}", noise());
            body.push_str(&format!("{{\"time\":\"2024-06-01T10:00:00Z\",\"msg\":\"{message}\"}}\n"));
            messages.push(message);
        }
        let (status, headers) = curl_status_and_headers(&server.url("/api/v1/ingest"), body.as_bytes());
        match status {
            200 => acknowledged.extend(messages),
            507 => {
                assert!(headers.to_ascii_lowercase().contains("retry-after: 10"), "{headers}");
                refused.extend(messages);
                saw_507 = true;
            }
            other => panic!("status {other}: {headers}"),
        }
        if saw_507 && request % 10 == 9 {
            break;
        }
    }
    assert!(saw_507, "the disk never filled");
    assert!(!acknowledged.is_empty());
    // Out of space: said on /health/ready (when committing stopped) or counted.
    let refusals = metric(&server, "sluice_wal_append_failures_total{reason=\"disk_full\"}").unwrap_or(0);
    let waiting = metric(&server, "sluice_disk_full").unwrap_or(0);
    assert!(refusals + waiting > 0, "neither the log's refusals nor the commit's wait were counted");
    if waiting == 1 {
        let (status, body) = server.request("GET", "/health/ready", &[], b"");
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("\"disk_full\""), "{body}");
    }

    room();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // The waits counted first: once seen, the refusals they cause are in force.
        let waited = metric(&server, "sluice_disk_full_events_total").unwrap_or(0);
        let (status, _) = server.request("GET", "/health/ready", &[], b"");
        if waited >= waits && status == 200 {
            break;
        }
        if Instant::now() > deadline {
            let said: Vec<String> = server.stderr.try_iter().collect();
            panic!("not ready 60 s after room came back ({status}); the server said:\n{}", said.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = server.request(
        "POST",
        "/api/v1/ingest",
        &[],
        b"{\"time\":\"2024-06-01T11:00:00Z\",\"msg\":\"after the disk emptied\"}\n",
    );
    assert_eq!(status, 200, "{body}");
    // A commit that failed just before room came back recovers too.
    while metric(&server, "sluice_disk_full") != Some(0) {
        assert!(Instant::now() < deadline, "still waiting for room 60 s after it came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    let after = stored(data);
    after.assert_consistent("serve on a full disk");
    let mut counts = std::collections::BTreeMap::new();
    for message in &after.messages {
        *counts.entry(message.as_str()).or_insert(0) += 1;
    }
    for message in &acknowledged {
        assert_eq!(counts.get(message.as_str()), Some(&1), "acknowledged {message:?}");
    }
    for message in &refused {
        assert_eq!(counts.get(message.as_str()), None, "refused with 507 yet stored: {message:?}");
    }
    assert_eq!(counts.get("after the disk emptied").copied(), Some(1));
}

fn curl_status_and_headers(url: &str, body: &[u8]) -> (u16, String) {
    let mut child = Command::new("curl")
        .args(["-sS", "-D", "-", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "60", "--data-binary", "@-"])
        .args(["-H", "Content-Type: application/x-ndjson"])
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let code = text.get(text.len().saturating_sub(3)..).unwrap_or("0").parse().unwrap_or(0);
    (code, text)
}

#[test]
fn the_server_answers_507_on_a_full_disk_and_recovers_by_itself() {
    match Tmpfs::mount("4m") {
        Some(fs) => {
            let data: PathBuf = fs.path().join("data");
            serve_through_a_full_disk(
                &data,
                &["--commit-interval", "50ms", "--wal-segment-bytes", "1048576"],
                &[],
                || fs.grow("400m"),
                0,
            );
        }
        None => {
            eprintln!("not root: the server's full disk is injected at the commit's fail-points instead of a tmpfs");
        }
    }
    // Through the seam as well (and only so, without root): the commit runs
    // out of space three times, then there is room.
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    serve_through_a_full_disk(
        &data,
        &["--commit-interval", "50ms"],
        &[("FAILPOINTS", "commit.manifest_staged=2*off->3*return(enospc);wal.synced=20*off->2*return(enospc)")],
        || {},
        3,
    );
    let _: Option<Value> = None;
}
