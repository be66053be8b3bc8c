//! `sluice-ingest serve` under more load than it takes: 429 with
//! `Retry-After` and a reason naming the limit, nothing of a refused request
//! kept, and service again once the load is gone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::serve::{Server, count, wait_for_count};

const NDJSON: &str = "Content-Type: application/x-ndjson";

/// Sends a request with curl; returns the status line and headers (lower
/// case) and the body.
fn curl_with_headers(server: &Server, path: &str, body: &str) -> (String, String) {
    let output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "30", "-H", NDJSON, "--data-binary", body])
        .arg(server.url(path))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    (head.to_lowercase(), body.to_owned())
}

fn metric(server: &Server, name: &str) -> Option<u64> {
    let (status, text) = server.request("GET", "/metrics", &[], b"");
    assert_eq!(status, 200);
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// A slow client: posts `body` to `?service=slow` declaring its whole
/// length, sends 10 bytes of it and waits until the server has admitted the
/// request. Returns the connection and the rest of the body to send.
fn start_slow_request<'a>(server: &Server, body: &'a str) -> (TcpStream, &'a str) {
    let (first, rest) = body.split_at(10);
    let addr = server.url("").trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).unwrap();
    write!(
        slow,
        "POST /api/v1/ingest?service=slow HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{NDJSON}\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(server, "sluice_http_requests_in_flight") != Some(1) {
        assert!(Instant::now() < deadline, "the slow request was never admitted");
        std::thread::sleep(Duration::from_millis(20));
    }
    (slow, rest)
}

#[test]
fn requests_beyond_the_in_flight_limit_get_429_and_keep_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--max-requests-in-flight", "1"]);

    // A slow client: headers and half its body, then nothing for a while.
    let body = "{\"msg\":\"slow one\"}\n{\"msg\":\"slow two\"}\n";
    let (mut slow, rest) = start_slow_request(&server, body);

    let (head, answer) = curl_with_headers(&server, "/api/v1/ingest?service=refused", "{\"msg\":\"refused\"}\n");
    assert!(head.starts_with("http/1.1 429"), "{head}");
    assert!(head.contains("\nretry-after: 1\n"), "{head}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["status"], 429);
    assert_eq!(answer["error"]["type"], "es_rejected_execution_exception");
    assert_eq!(
        answer["error"]["reason"],
        "the server is at its limit of 1 request in flight (--max-requests-in-flight); retry shortly"
    );

    // The slow client finishes and is answered; its slot is free again.
    slow.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    slow.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"accepted\":2"), "{response}");
    let (head, _) = curl_with_headers(&server, "/api/v1/ingest?service=later", "{\"msg\":\"later\"}\n");
    assert!(head.starts_with("http/1.1 200"), "{head}");

    wait_for_count(&data, "*", 3, Duration::from_secs(5));
    assert_eq!(count(&data, "service:refused"), 0);
    let (_, metrics) = server.request("GET", "/metrics", &[], b"");
    assert!(metrics.contains("sluice_http_requests_total{endpoint=\"ingest\",status=\"429\"} 1\n"), "{metrics}");
    assert!(metrics.contains("sluice_http_requests_total{endpoint=\"ingest\",status=\"200\"} 2\n"), "{metrics}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("3 lines read: 3 accepted, 0 rejected, 0 blank"), "{stderr}");
}

/// With no room for lag at all, every request after the first waits for the
/// first to be indexed: 429 and not ready until the commit (10 s here), then
/// served again.
#[test]
fn requests_get_429_while_indexing_lags_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--max-wal-behind-mib", "0", "--commit-interval", "10s"]);

    let (head, _) = curl_with_headers(&server, "/api/v1/ingest?service=first", "{\"msg\":\"a\"}\n{\"msg\":\"b\"}\n");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let behind = metric(&server, "sluice_wal_behind_bytes").unwrap();
    assert!(behind > 0);
    let (head, answer) = curl_with_headers(&server, "/api/v1/ingest?service=refused", "{\"msg\":\"c\"}\n");
    assert!(head.starts_with("http/1.1 429"), "{head}");
    assert!(head.contains("\nretry-after: 1\n"), "{head}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer["error"]["reason"],
        format!("indexing is {behind} bytes behind the write-ahead log (--max-wal-behind-mib); retry shortly")
    );

    // A big body sent whole, without `Expect: 100-continue`, by a client
    // that reads the answer only after writing (as hyper's and many
    // shippers' clients do), is refused too, and the client reads the 429
    // rather than a reset: the server drains the body before it answers.
    let body = "{\"msg\":\"refused, big\"}\n".repeat(350_000);
    let addr = server.url("").trim_start_matches("http://").to_owned();
    let mut client = TcpStream::connect(&addr).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        client,
        "POST /api/v1/ingest?service=refused HTTP/1.1\r\nHost: {addr}\r\n{NDJSON}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    client.write_all(body.as_bytes()).expect("the server reads a refused body instead of resetting");
    let mut head = [0u8; 256];
    let read = client.read(&mut head).expect("the 429, not a reset");
    let head = String::from_utf8_lossy(&head[..read]).to_lowercase();
    assert!(head.starts_with("http/1.1 429"), "{head}");
    assert!(head.contains("\r\nretry-after: 1\r\n"), "{head}");
    drop(client);

    let (status, ready) = server.request("GET", "/health/ready", &[], b"");
    assert_eq!(status, 503, "{ready}");

    wait_for_count(&data, "*", 2, Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.request("GET", "/health/ready", &[], b"").0 != 200 {
        assert!(Instant::now() < deadline, "not ready after the commit");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(metric(&server, "sluice_wal_behind_bytes"), Some(0));
    let (head, _) = curl_with_headers(&server, "/api/v1/ingest?service=later", "{\"msg\":\"d\"}\n");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("3 lines read: 3 accepted, 0 rejected, 0 blank"), "{stderr}");
    assert_eq!(count(&data, "service:refused"), 0);
    assert_eq!(count(&data, "*"), 3);
}

/// Bodies count against `--max-in-flight-mib` at their declared length: a
/// request that would take the bytes in flight past it gets 429 while a
/// small one still fits.
#[test]
fn request_bodies_beyond_the_in_flight_bytes_get_429() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--max-in-flight-mib", "1"]);

    // A slow client declares 700,005 bytes (684 KiB), sends 10, then waits.
    let body = "{\"msg\":\"slow\"}\n".repeat(46_667);
    let (mut slow, rest) = start_slow_request(&server, &body);

    // 400,000 more bytes (391 KiB) would pass 1 MiB: refused, nothing kept.
    let big = dir.path().join("big.ndjson");
    std::fs::write(&big, "{\"msg\":\"refused\"}\n".repeat(400_000 / 18)).unwrap();
    let output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "30", "-H", NDJSON, "--data-binary"])
        .arg(format!("@{}", big.display()))
        .arg(server.url("/api/v1/ingest?service=refused"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
    let (head, answer) = text.split_once("\n\n").unwrap_or((&text, ""));
    assert!(head.to_lowercase().starts_with("http/1.1 429"), "{head}");
    assert!(head.to_lowercase().contains("\nretry-after: 1\n"), "{head}");
    let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
    assert_eq!(
        answer["error"]["reason"],
        "the server holds its limit of 1 MiB of request bodies in flight (--max-in-flight-mib); retry shortly"
    );

    // A small request still fits beside the slow one.
    let (head, _) = curl_with_headers(&server, "/api/v1/ingest?service=small", "{\"msg\":\"small\"}\n");
    assert!(head.starts_with("http/1.1 200"), "{head}");

    slow.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    slow.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"accepted\":46667"), "{response}");

    wait_for_count(&data, "*", 46_668, Duration::from_secs(10));
    assert_eq!(count(&data, "service:refused"), 0);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// Acknowledgements wait for the write-ahead log alone, never for indexing.
/// The first commit stalls for 20 s (a fail-point); a burst of requests sent
/// meanwhile is acknowledged before anything is committed. They overflow
/// the indexer's memory queue (`--indexer-queue-mib 0`: one request at a
/// time), so the indexer reads most of them back from the log. In the end
/// every acknowledged line is stored, once.
#[test]
fn acknowledgements_do_not_wait_for_indexing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with_env(
        &data,
        &["--indexer-queue-mib", "0", "--commit-interval", "100ms"],
        &[("FAILPOINTS", "commit.splits=1*sleep(20000)->off")],
    );
    let (requests, lines) = (12, 1000);
    let started = Instant::now();
    for r in 0..requests {
        let body: String = (0..lines).map(|i| format!("{{\"msg\":\"burst {r} {i}\"}}\n")).collect();
        let (head, answer) = curl_with_headers(&server, "/api/v1/ingest?service=burst", &body);
        assert!(head.starts_with("http/1.1 200"), "{head}\n{answer}");
        assert!(answer.contains(&format!("\"accepted\":{lines}")), "{answer}");
    }
    let acknowledged_in = started.elapsed();
    // Nothing is committed yet: the first commit is still stalled, and the
    // requests were acknowledged all the same.
    assert_eq!(count(&data, "*"), 0, "acknowledged in {acknowledged_in:?}, while the first commit is stalled");
    assert!(metric(&server, "sluice_wal_behind_bytes").unwrap() > 0);

    let total = requests * lines;
    wait_for_count(&data, "service:burst", total as u64, Duration::from_secs(60));
    let from_log = metric(&server, "sluice_indexer_entries_total{from=\"log\"}").unwrap();
    let from_memory = metric(&server, "sluice_indexer_entries_total{from=\"memory\"}").unwrap();
    assert_eq!(from_log + from_memory, requests as u64, "each request's entry reached the indexer once");
    assert!(from_log > 0, "the indexer read back the entries that did not fit its queue");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("{total} lines read: {total} accepted, 0 rejected, 0 blank")), "{stderr}");
    // Each line once: the first and last are there, neither twice.
    assert_eq!(count(&data, "*"), total as u64);
    assert_eq!(count(&data, "\"burst 0 0\""), 1);
    assert_eq!(count(&data, &format!("\"burst {} {}\"", requests - 1, lines - 1)), 1);
}
