//! `sluice-ingest serve`: the real server, driven with curl as a shipper
//! would, checked with `sluice` and the files it leaves.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{archive_rows, binary, index_docs, run};

/// A running server and where it listens.
pub(crate) struct Server {
    pub(crate) child: Child,
    addr: String,
    pub(crate) stderr: mpsc::Receiver<String>,
    /// What it printed before it listened (a replay, say).
    pub(crate) started: String,
}

impl Server {
    /// Starts `sluice-ingest serve` on `data` and waits until it listens.
    pub(crate) fn start(data: &Path, args: &[&str]) -> Server {
        Server::start_with_env(data, args, &[])
    }

    /// [`Server::start`] with environment variables (`FAILPOINTS`, say).
    pub(crate) fn start_with_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(binary("sluice-ingest"));
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .args(if args.contains(&"--listen") { &[][..] } else { &["--listen", "127.0.0.1:0"][..] })
            .args(args)
            .envs(env.iter().copied());
        Server::launch(command, "sluice-ingest: listening on http://")
    }

    /// Runs a server `command`; returns once it printed `listening` and the
    /// address after it.
    pub(crate) fn launch(mut command: Command, listening: &str) -> Server {
        let mut child = command
            .env_remove("SLUICE_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let (tx, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut started = String::new();
        let addr = loop {
            match stderr.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    started.push_str(&line);
                    started.push('\n');
                    if let Some(rest) = line.strip_prefix(listening) {
                        break Some(rest.split(',').next().unwrap().to_owned());
                    }
                }
                Err(_) => break None,
            }
        };
        match addr {
            Some(addr) => Server { child, addr, stderr, started },
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not say where it listens within 30 s: {started}");
            }
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a request with curl; returns the status and the body.
    pub(crate) fn request(&self, method: &str, path: &str, headers: &[&str], body: &[u8]) -> (u16, String) {
        curl(&self.url(path), method, headers, body)
    }

    pub(crate) fn post_json(&self, path: &str, headers: &[&str], body: &[u8]) -> (u16, Value) {
        let (status, text) = self.request("POST", path, headers, body);
        (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")))
    }

    /// SIGTERM, then the exit status and everything it printed on stderr.
    pub(crate) fn stop(mut self) -> (i32, String) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let mut text = std::mem::take(&mut self.started);
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(5)) {
            text.push_str(&line);
            text.push('\n');
        }
        (exit.code().unwrap_or(-1), text)
    }
}

impl Drop for Server {
    /// A failed test leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn curl(url: &str, method: &str, headers: &[&str], body: &[u8]) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method, "--max-time", "30"]);
    for header in headers {
        command.args(["-H", header]);
    }
    if method != "GET" {
        command.args(["--data-binary", "@-"]);
    }
    let mut child =
        command.arg(url).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(body);
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

pub(crate) fn count(data: &Path, query: &str) -> u64 {
    let output = run("sluice", &["--data-dir", data.to_str().unwrap(), "count", query, "--format", "json"], None);
    if String::from_utf8_lossy(&output.stderr).contains("no data in") {
        return 0; // Nothing committed yet.
    }
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["count"].as_u64().unwrap()
}

/// Polls until `count(query)` reaches `expected`; returns how long it took.
pub(crate) fn wait_for_count(data: &Path, query: &str, expected: u64, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let n = count(data, query);
        if n == expected {
            return started.elapsed();
        }
        assert!(n < expected, "{query}: {n} records, more than the {expected} sent");
        assert!(started.elapsed() < within, "{query}: {n} of {expected} records searchable after {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn ndjson_over_http_is_accounted_per_line_and_searchable_within_two_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--max-line-bytes", "200"]);
    let long = format!(r#"{{"msg":"{}"}}"#, "x".repeat(300));
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"level\":\"error\",\"msg\":\"payment declined\",\"service\":\"checkout\"}\n");
    body.extend_from_slice(b"\n");
    body.extend_from_slice(b"{\"msg\":\"no service here\"}\r\n");
    body.extend_from_slice(b"{\"msg\": oops}\n");
    body.extend_from_slice(b"[1,2]\n");
    body.extend_from_slice(long.as_bytes());
    body.extend_from_slice(b"\n{\"msg\":\"caf\xe9\"}\n");
    body.extend_from_slice(b"{\"level\":\"info\",\"msg\":\"last line, no newline\"}");
    let (status, answer) =
        server.post_json("/api/v1/ingest?service=web", &["Content-Type: application/x-ndjson"], &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        serde_json::json!({
            "lines_read": 8, "accepted": 3, "rejected": 4, "blank": 1,
            "rejections": [
                {"line": 4, "reason": "invalid_json", "detail": "not valid JSON at byte 8 near 'o': syntax error"},
                {"line": 5, "reason": "not_an_object", "detail": "expected a JSON object, found an array"},
                {"line": 6, "reason": "line_too_long", "detail": "line is 310 bytes, longer than --max-line-bytes 200"},
                {"line": 7, "reason": "invalid_utf8", "detail": "invalid UTF-8 at byte 11"},
            ]
        })
    );
    let took = wait_for_count(&data, "*", 3, Duration::from_secs(2));
    eprintln!("searchable after {took:?}");
    assert_eq!(count(&data, "service:web"), 2);
    assert_eq!(count(&data, "service:checkout AND level:error"), 1);

    // A second request, gzip-compressed, with a forced producer format.
    let pino = br#"{"level":50,"time":1700000000123,"msg":"from pino"}"#;
    let (status, answer) = server.post_json(
        "/api/v1/ingest?schema=pino",
        &["Content-Encoding: gzip", "Content-Type: application/x-ndjson"],
        &gzip(pino),
    );
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(1)), "{answer}");
    wait_for_count(&data, "*", 4, Duration::from_secs(2));
    assert_eq!(count(&data, "level:error AND \"from pino\""), 1);

    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("stopping: finishing requests in flight, then committing"), "{stderr}");
    assert!(stderr.contains("9 lines read: 4 accepted, 4 rejected, 1 blank"), "{stderr}");
    assert_eq!(index_docs(&data), 4);
    assert_eq!(archive_rows(&data), 4);
    let mut letters = Vec::new();
    for entry in std::fs::read_dir(data.join("deadletter")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        letters.extend(text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()));
    }
    let reasons: Vec<(u64, &str)> =
        letters.iter().map(|l| (l["line"].as_u64().unwrap(), l["reason"].as_str().unwrap())).collect();
    assert_eq!(reasons, [(4, "invalid_json"), (5, "not_an_object"), (6, "line_too_long"), (7, "invalid_utf8")]);
    assert!(letters[0]["source"].as_str().unwrap().ends_with(" /api/v1/ingest"), "{}", letters[0]);
    assert_eq!(letters[0]["raw"], "{\"msg\": oops}");
}

#[test]
fn elasticsearch_clients_find_a_server_and_get_per_item_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let (status, root) = server.request("GET", "/", &[], b"");
    assert_eq!(status, 200);
    let root: Value = serde_json::from_str(&root).unwrap();
    assert_eq!(root["version"]["number"], "8.11.0");
    assert_eq!(root["tagline"], "You Know, for Search");
    let headers =
        Command::new("curl").args(["-sS", "-D", "-", "-o", "/dev/null"]).arg(server.url("/")).output().unwrap();
    assert!(String::from_utf8_lossy(&headers.stdout).to_ascii_lowercase().contains("x-elastic-product: elasticsearch"));

    let body = b"{\"index\":{\"_index\":\"shop\",\"_id\":\"e1\"}}\n\
                 {\"@timestamp\":\"2024-03-02T10:00:00Z\",\"log.level\":\"warn\",\"message\":\"stock low\",\"service.name\":\"inventory\",\"ecs.version\":\"1.6.0\"}\n\
                 {\"create\":{}}\n\
                 {\"@timestamp\":\"2024-03-02T10:00:01Z\",\"message\":\"broken\n\
                 {\"delete\":{\"_id\":\"e1\"}}\n";
    let (status, answer) = server.post_json("/logs-app/_bulk", &["Content-Type: application/x-ndjson"], body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["errors"], true);
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["index"]["status"], 201);
    assert_eq!(items[0]["index"]["_id"], "e1");
    assert_eq!(items[0]["index"]["_index"], "shop");
    assert_eq!(items[0]["index"]["result"], "created");
    assert_eq!(items[1]["create"]["status"], 400);
    assert_eq!(items[1]["create"]["_index"], "logs-app");
    assert_eq!(items[1]["create"]["error"]["type"], "document_parsing_exception");
    assert!(items[1]["create"]["error"]["reason"].as_str().unwrap().starts_with("[invalid_json] "), "{answer}");
    assert_eq!(items[2]["delete"]["status"], 400);

    // A malformed action line fails the whole request, as Elasticsearch does.
    let (status, answer) =
        server.post_json("/_bulk", &["Content-Type: application/x-ndjson"], b"{\"index\":{}}\n{}\n\"index\"\n{}\n");
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["type"], "illegal_argument_exception");
    assert!(answer["error"]["reason"].as_str().unwrap().starts_with("Malformed action/metadata line [3]"), "{answer}");

    wait_for_count(&data, "*", 1, Duration::from_secs(2));
    assert_eq!(count(&data, "service:inventory AND level:warn AND stock"), 1);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("2 lines read: 1 accepted, 1 rejected, 0 blank"), "{stderr}");
}

#[test]
fn tokens_limits_and_media_types_are_enforced_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "# shippers\n0123456789abcdef0123\n").unwrap();
    let server = Server::start(&data, &["--token-file", tokens.to_str().unwrap(), "--max-body-bytes", "1000"]);
    let line = b"{\"msg\":\"hello\"}\n";

    let (status, answer) = server.post_json("/api/v1/ingest", &[], line);
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["reason"], "this server needs a token: send `Authorization: Bearer TOKEN`");
    let (status, answer) = server.post_json("/api/v1/ingest", &["Authorization: Bearer wrong-token-0000000"], line);
    assert_eq!(status, 401);
    assert_eq!(answer["error"]["reason"], "the token is not one of the server's (--token-file)");
    let (status, _) = server.request("GET", "/", &[], b"");
    assert_eq!(status, 401);
    let (status, _) = server.request("GET", "/health/live", &[], b"");
    assert_eq!(status, 200);
    let (status, _) = server.request("GET", "/health/ready", &[], b"");
    assert_eq!(status, 200);

    let bearer = "Authorization: Bearer 0123456789abcdef0123";
    let (status, answer) = server.post_json("/api/v1/ingest", &[bearer], line);
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(1)));
    // Basic authentication with the token as password (rsyslog, Fluent Bit).
    let basic = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u", "fluentbit:0123456789abcdef0123", "--data-binary"])
        .arg(std::str::from_utf8(line).unwrap())
        .arg(server.url("/api/v1/ingest"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&basic.stdout), "200");

    // 413: too large as sent, and too large once decompressed.
    let big = line.repeat(100);
    let (status, answer) = server.post_json("/api/v1/ingest", &[bearer], &big);
    assert_eq!(status, 413);
    assert_eq!(
        answer["error"]["reason"],
        "the request body is larger than 1000 bytes (--max-body-bytes); send smaller batches"
    );
    let compressed = gzip(&big);
    assert!(compressed.len() < 1000);
    let (status, _) = server.post_json("/api/v1/ingest", &[bearer, "Content-Encoding: gzip"], &compressed);
    assert_eq!(status, 413);
    // A body that is not the gzip it claims, an encoding we do not know, a protobuf at the NDJSON endpoint.
    let (status, answer) = server.post_json("/api/v1/ingest", &[bearer, "Content-Encoding: gzip"], b"plain text");
    assert_eq!(status, 400, "{answer}");
    let (status, _) = server.request("POST", "/api/v1/ingest", &[bearer, "Content-Encoding: snappy"], line);
    assert_eq!(status, 415);
    let (status, answer) =
        server.post_json("/api/v1/ingest", &[bearer, "Content-Type: application/x-protobuf"], b"\x0a\x00");
    assert_eq!(status, 415);
    assert_eq!(answer["error"]["type"], "media_type_header_exception");
    let (status, answer) = server.post_json("/api/v1/ingest?schema=log5j", &[bearer], line);
    assert_eq!(status, 400);
    assert!(
        answer["error"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("unknown schema `log5j`: expected one of generic, ecs,")
    );
    // zstd is accepted too.
    let zstd = zstd::encode_all(&line[..], 3).unwrap();
    let (status, answer) = server.post_json("/api/v1/ingest", &[bearer, "Content-Encoding: zstd"], &zstd);
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(1)), "{answer}");

    let (status, metrics) = server.request("GET", "/metrics", &[bearer], b"");
    assert_eq!(status, 200);
    assert!(metrics.lines().any(|l| l == "sluice_ingest_lines_accepted_total 3"), "{metrics}");
    assert!(metrics.contains("sluice_http_requests_total{endpoint=\"ingest\",status=\"413\"} 2"), "{metrics}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("0123456789abcdef0123"), "a token was printed: {stderr}");
    assert_eq!(index_docs(&data), 3);
}

#[test]
fn listening_beyond_loopback_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        "sluice-ingest",
        &["serve", "--listen", "0.0.0.0:0", "--data-dir", dir.path().join("data").to_str().unwrap()],
        None,
    );
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "sluice-ingest: error: refusing to listen on 0.0.0.0:0 without authentication: anyone who can reach it could \
         write logs. Give --token-file FILE (one token per line), or listen on 127.0.0.1\n"
    );
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "short\n").unwrap();
    let output = run(
        "sluice-ingest",
        &["serve", "--token-file", tokens.to_str().unwrap(), "--data-dir", dir.path().join("data").to_str().unwrap()],
        None,
    );
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("token file",));
}

/// Clients send numbered lines concurrently while the server is killed
/// (SIGKILL) at random moments and restarted on the same port. Every line
/// a 200 acknowledged is in the index exactly once; no line is there twice.
#[test]
fn sigkill_loses_no_acknowledged_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}/api/v1/ingest");
    const CLIENTS: u64 = 4;
    const LINES_PER_REQUEST: u64 = 50;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients: Option<Vec<_>> = Some(
        (0..CLIENTS)
            .map(|client| {
                let url = url.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut acknowledged = Vec::new();
                    let mut request = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let first = (client * 1_000_000) + request * LINES_PER_REQUEST;
                        request += 1;
                        let body: String = (first..first + LINES_PER_REQUEST)
                            .map(|n| format!("{{\"msg\":\"line n{n}\",\"seq\":{n}}}\n"))
                            .collect();
                        let (status, answer) = curl(&url, "POST", &[], body.as_bytes());
                        if status == 200 {
                            let answer: Value = serde_json::from_str(&answer).unwrap();
                            assert_eq!(answer["accepted"], LINES_PER_REQUEST);
                            acknowledged.extend(first..first + LINES_PER_REQUEST);
                        } else {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                    acknowledged
                })
            })
            .collect(),
    );
    // A fixed seed: the same kill points on every run.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..4 {
        let mut server = Server::start(&data, &["--listen", &listen, "--commit-interval", "300ms"]);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(400 + seed % 900));
        if round < 3 {
            server.child.kill().unwrap(); // SIGKILL
            server.child.wait().unwrap();
        } else {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let acknowledged: Vec<u64> = clients.take().unwrap().into_iter().flat_map(|c| c.join().unwrap()).collect();
            assert!(acknowledged.len() as u64 >= 4 * LINES_PER_REQUEST, "too few requests got through");
            let (code, stderr) = server.stop();
            assert_eq!(code, 0, "{stderr}");
            // Replay once more after a clean stop: nothing left to replay.
            let server = Server::start(&data, &[]);
            let (code, stderr) = server.stop();
            assert_eq!(code, 0);
            assert!(!stderr.contains("replayed"), "{stderr}");

            let output = run(
                "sluice",
                &["--data-dir", data.to_str().unwrap(), "search", "*", "--limit", "10000000", "--format", "ndjson"],
                None,
            );
            assert!(output.status.success());
            let mut seen = std::collections::HashMap::<u64, u32>::new();
            for line in String::from_utf8_lossy(&output.stdout).lines() {
                let record: Value = serde_json::from_str(line).unwrap();
                let n = record["attributes"]["seq"].as_u64().unwrap_or_else(|| panic!("{record}"));
                *seen.entry(n).or_default() += 1;
            }
            let doubled: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
            assert!(doubled.is_empty(), "lines stored twice: {doubled:?}");
            let lost: Vec<_> = acknowledged.iter().filter(|n| !seen.contains_key(n)).collect();
            assert!(lost.is_empty(), "{} acknowledged lines lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);
            assert_eq!(index_docs(&data) as usize, seen.len());
            assert_eq!(archive_rows(&data), seen.len());
            eprintln!("{} lines acknowledged, {} stored, over 3 kills", acknowledged.len(), seen.len());
        }
    }
}

#[test]
fn otlp_json_and_loki_json_pushes_with_curl() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let otlp =
        br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"billing"}}]},
        "scopeLogs":[{"logRecords":[
          {"timeUnixNano":"1709373600000000000","severityNumber":17,"body":{"stringValue":"invoice failed"},
           "traceId":"5b8efff798038103d269b633813fc60c","attributes":[{"key":"invoice","value":{"intValue":"42"}}]},
          {"timeUnixNano":"1709373601000000000","severityText":"INFO","body":{"stringValue":"invoice sent"}}]}]}]}"#;
    let (status, answer) = server.request("POST", "/v1/logs", &["Content-Type: application/json"], otlp);
    assert_eq!((status, answer.as_str()), (200, "{}"));
    // Failures are google.rpc.Status, as the OTLP spec asks: code 3 is INVALID_ARGUMENT.
    let (status, answer) = server.post_json("/v1/logs", &["Content-Type: application/json"], b"{\"resourceLogs\":7}");
    assert_eq!(status, 400);
    assert_eq!(answer["code"], 3);
    assert!(
        answer["message"].as_str().unwrap().starts_with("the body is not an OTLP ExportLogsServiceRequest in JSON"),
        "{answer}"
    );
    let (status, answer) = server.post_json("/v1/logs", &["Content-Type: text/plain"], otlp);
    assert_eq!(status, 415);
    assert_eq!(
        answer,
        serde_json::json!({"code": 3, "message": "Content-Type `text/plain` is not OTLP/HTTP: send application/x-protobuf or application/json"})
    );

    let loki = br#"{"streams":[{"stream":{"service_name":"gateway","level":"warn","region":"eu"},
        "values":[["1709373602000000000","upstream slow"],["1709373603000000000","{\"msg\":\"upstream down\",\"level\":\"error\"}"]]}]}"#;
    let (status, answer) = server.request("POST", "/loki/api/v1/push", &["Content-Type: application/json"], loki);
    assert_eq!((status, answer.as_str()), (204, ""));
    let (status, answer) = server.post_json(
        "/loki/api/v1/push",
        &["Content-Type: application/json"],
        br#"{"streams":[{"values":[["x","y"]]}]}"#,
    );
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["reason"], "streams[0].values[0]: `x` is not a unix epoch in nanoseconds");

    wait_for_count(&data, "*", 4, Duration::from_secs(2));
    assert_eq!(count(&data, "service:billing AND level:error AND trace_id:5b8efff798038103d269b633813fc60c"), 1);
    assert_eq!(count(&data, "service:billing AND invoice:42"), 1);
    assert_eq!(count(&data, "service:gateway AND region:eu"), 2);
    assert_eq!(count(&data, "service:gateway AND level:error AND \"upstream down\""), 1);
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}

/// The disk fills after lines were acknowledged (the manifest cannot be
/// written: `/dev/full` answers every write with ENOSPC): the server keeps
/// running, refuses new lines with 507 and says why on `/health/ready`;
/// once the manifest can be written again it commits every acknowledged
/// line exactly once, by itself, and takes lines again.
#[test]
fn a_failed_commit_pauses_the_server_until_there_is_room_and_it_resumes_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let staged_manifest = data.join("manifest.json.tmp");
    std::os::unix::fs::symlink("/dev/full", &staged_manifest).unwrap();
    let mut server = Server::start(&data, &["--commit-interval", "100ms"]);
    let body = b"{\"msg\":\"kept one\"}\n{\"msg\":\"kept two\"}\n";
    let (status, answer) = server.post_json("/api/v1/ingest", &[], body);
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(2)), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let (status, answer) = server.request("GET", "/health/ready", &[], b"");
        if status == 503 && answer.contains("disk_full") {
            break answer;
        }
        assert!(Instant::now() < deadline, "the server never said its disk is full: {status} {answer}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(refused.contains("No space left on device"), "{refused}");
    let (status, answer) = server.post_json("/api/v1/ingest", &[], b"{\"msg\":\"refused\"}\n");
    assert_eq!(status, 507, "{answer}");
    assert_eq!(answer["error"]["type"], "disk_full", "{answer}");
    assert!(server.child.try_wait().unwrap().is_none(), "the server stopped");
    assert_eq!(archive_rows(&data), 0);

    std::fs::remove_file(&staged_manifest).unwrap();
    wait_for_count(&data, "kept", 2, Duration::from_secs(30));
    let (status, answer) = server.post_json("/api/v1/ingest", &[], b"{\"msg\":\"kept three\"}\n");
    assert_eq!(status, 200, "{answer}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("sluice-ingest: error: disk full: data directory "), "{stderr}");
    assert!(stderr.contains("ingest requests get 507 until there is room again"), "{stderr}");
    assert!(stderr.contains("there is room on the disk again: committing the "), "{stderr}");
    assert_eq!(index_docs(&data), 3);
    assert_eq!(archive_rows(&data), 3);
    assert_eq!(count(&data, "kept"), 3);
    assert_eq!(count(&data, "refused"), 0);
}
