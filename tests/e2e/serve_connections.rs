//! `sluice-ingest serve` against clients that open connections and stall:
//! half-sent headers, a body that stops coming, more connections than the
//! cap. Normal requests go on being answered at once, and the stalled
//! connections' descriptors are given back after their timeout, each
//! counted in `/metrics`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::serve::Server;

/// Lets this test process open a thousand sockets.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
}

/// One metric's value from `/metrics`.
fn metric(server: &Server, line: &str) -> u64 {
    // Retried a while: under a small --max-connections, connections the
    // test just closed may still count for a moment.
    let started = Instant::now();
    let (mut status, mut text) = server.request("GET", "/metrics", &[], b"");
    while status != 200 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(100));
        (status, text) = server.request("GET", "/metrics", &[], b"");
    }
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(line).and_then(|rest| rest.strip_prefix(' ')).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {line} in\n{text}"))
        .parse()
        .unwrap()
}

/// A request over a fresh connection, raw; returns the status line and
/// how long it took.
fn timed_request(addr: &str, request: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer).into_owned();
    (text.lines().next().unwrap_or_default().to_owned(), took)
}

fn addr(server: &Server) -> String {
    server.url("").trim_start_matches("http://").to_owned()
}

#[test]
fn a_thousand_half_open_connections_neither_delay_requests_nor_outlive_the_header_timeout() {
    raise_open_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--header-read-timeout", "3s"]);
    let pid = server.child.id();
    let addr = addr(&server);
    let line = r#"{"msg":"through the crowd"}"#;
    let ingest = format!(
        "POST /api/v1/ingest HTTP/1.1\r\nHost: sluice\r\nConnection: close\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{line}",
        line.len()
    );
    let ingest = ingest.as_str();
    // Warm: the first request after start pays for lazy set-up.
    assert_eq!(timed_request(&addr, ingest).0, "HTTP/1.1 200 OK");
    let baseline = descriptors(pid);

    let mut stalled = Vec::new();
    for _ in 0..1000 {
        let mut stream = TcpStream::connect(&addr).unwrap();
        stream.write_all(b"POST /api/v1/ingest HTTP/1.1\r\nHost: sluice\r\nContent-Le").unwrap();
        stalled.push(stream);
    }
    let opened = Instant::now();
    while metric(&server, "sluice_http_connections_open") < 1000 {
        assert!(
            opened.elapsed() < Duration::from_secs(5),
            "the server did not accept 1000 connections in 5 s: {} open",
            metric(&server, "sluice_http_connections_open")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The baseline may hold a file or two of a commit under way: a little slack.
    assert!(descriptors(pid) >= baseline + 990, "{} descriptors, {baseline} before", descriptors(pid));

    // Normal requests meanwhile: answered at once.
    let mut times = Vec::new();
    for _ in 0..5 {
        let (status, took) =
            timed_request(&addr, "GET /health/live HTTP/1.1\r\nHost: sluice\r\nConnection: close\r\n\r\n");
        assert_eq!(status, "HTTP/1.1 200 OK");
        times.push(took);
        let (status, took) = timed_request(&addr, ingest);
        assert_eq!(status, "HTTP/1.1 200 OK");
        times.push(took);
    }
    times.sort();
    eprintln!("normal requests beside 1000 half-open connections: {times:?}");
    assert!(times[times.len() - 1] < Duration::from_millis(100), "{times:?}");

    // Past the header timeout, every stalled connection is closed: the
    // client reads the end, and the server has its descriptors back.
    for stream in &mut stalled {
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(error) => panic!("a half-open connection was not closed: {error}"),
        }
    }
    let closed = opened.elapsed();
    eprintln!("1000 half-open connections closed {closed:?} after they were opened");
    assert!(closed < Duration::from_secs(8), "{closed:?}");
    let released = Instant::now();
    while descriptors(pid) > baseline + 2 {
        assert!(released.elapsed() < Duration::from_secs(2), "{} descriptors, {baseline} before", descriptors(pid));
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(metric(&server, "sluice_http_connection_timeouts_total{stage=\"header\"}"), 1000);
    assert_eq!(metric(&server, "sluice_http_connections_open"), 1, "the /metrics request's own");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("6 lines read: 6 accepted"), "{stderr}");
}

#[test]
fn a_stalled_body_gets_408_and_connections_past_the_cap_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &["--body-read-timeout", "1s", "--max-connections", "3"]);
    let addr = addr(&server);

    // Headers promise 100 bytes; 10 come.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    slow.write_all(b"POST /api/v1/ingest HTTP/1.1\r\nHost: sluice\r\nContent-Length: 100\r\n\r\n{\"msg\":\"a").unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408 Request Timeout"), "{answer}");
    assert!(
        answer.contains("the request body did not arrive within 1s (--body-read-timeout); send it faster, or smaller"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(metric(&server, "sluice_http_connection_timeouts_total{stage=\"body\"}"), 1);

    // Six connections at once against a cap of three: at least three are
    // closed at once (more if the /metrics request above still counts),
    // and at most three are kept, waiting for their headers.
    let mut six: Vec<TcpStream> = (0..6).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    let (mut closed, mut kept) = (0, 0);
    for stream in &mut six {
        let _ = stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: sl");
        stream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut nothing = Vec::new();
        match stream.read_to_end(&mut nothing) {
            Ok(_) => closed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            Err(_) => kept += 1,
        }
        assert!(nothing.is_empty(), "{}", String::from_utf8_lossy(&nothing));
    }
    assert!(closed >= 3 && (2..=3).contains(&kept), "{closed} closed, {kept} kept");
    drop(six);
    std::thread::sleep(Duration::from_millis(300));
    let refused = metric(&server, "sluice_http_connections_refused_total");
    assert_eq!(refused, closed, "refused {refused}, closed {closed}");
    let (code, stderr) = server.stop();
    assert_eq!(code, 0, "{stderr}");
}
