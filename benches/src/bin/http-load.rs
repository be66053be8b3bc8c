//! The load generator of the HTTP ingest benchmark (`benches/http-e2e.sh`):
//! many concurrent clients posting a corpus to `sluice-ingest serve` as
//! NDJSON, the way a fleet of shippers would.
//!
//! The corpus is cut into bodies of about `--body-bytes` at line ends and
//! sent once, each body by whichever client is free, over one keep-alive
//! connection per client. A 429 or 503 is retried after its `Retry-After`,
//! as shippers do, so every line ends up acknowledged exactly once; the
//! refusals are counted. With `--rss-pid` the server's resident memory is
//! sampled every 100 ms, to show whether it stays flat under the load.
//!
//! Prints one JSON object: bytes and lines acknowledged, requests, seconds,
//! MB/s, requests/s, latency percentiles of the acknowledged requests,
//! refusals by status, and the RSS samples.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::sync::{Mutex, mpsc};

#[derive(Parser)]
#[command(about = "Posts a corpus of JSON lines to sluice-ingest serve with many concurrent clients")]
struct Args {
    /// The ingest endpoint.
    #[arg(long, default_value = "http://127.0.0.1:7280/api/v1/ingest")]
    url: String,
    /// NDJSON file to send, once.
    #[arg(long)]
    corpus: PathBuf,
    /// Send only the first N bytes of the corpus (whole lines).
    #[arg(long)]
    limit_bytes: Option<u64>,
    /// Size of each request body, cut at a line end.
    #[arg(long, default_value_t = 1 << 20)]
    body_bytes: usize,
    /// Concurrent clients, one connection each.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Bearer token, if the server needs one.
    #[arg(long)]
    token: Option<String>,
    /// Process whose resident memory to sample (the server).
    #[arg(long)]
    rss_pid: Option<u32>,
}

/// What one client saw.
#[derive(Default)]
struct ClientStats {
    requests: u64,
    bytes: u64,
    lines: u64,
    accepted: u64,
    rejected: u64,
    /// Latency of each acknowledged request, in microseconds.
    latencies_us: Vec<u64>,
    refused_429: u64,
    refused_503: u64,
    /// Requests whose connection broke before the answer; retried.
    connection_errors: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let uri: hyper::Uri = args.url.parse().unwrap_or_else(|e| fail(&format!("--url {}: {e}", args.url)));
    let authority = uri.authority().unwrap_or_else(|| fail("--url needs host:port")).to_string();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();

    // Bodies come from one reader thread, a few ahead of the clients.
    let (bodies_tx, bodies_rx) = mpsc::channel::<Bytes>(args.clients * 2);
    let reader = {
        let (corpus, body_bytes, limit) = (args.corpus.clone(), args.body_bytes, args.limit_bytes);
        std::thread::spawn(move || read_bodies(&corpus, body_bytes, limit, &bodies_tx))
    };
    let bodies = Arc::new(Mutex::new(bodies_rx));

    let done = Arc::new(AtomicBool::new(false));
    let sampler = args.rss_pid.map(|pid| {
        let done = done.clone();
        std::thread::spawn(move || sample_rss(pid, &done))
    });

    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (bodies, authority, path, token) = (bodies.clone(), authority.clone(), path.clone(), args.token.clone());
        clients.push(tokio::spawn(async move { run_client(&bodies, &authority, &path, token.as_deref()).await }));
    }
    let mut total = ClientStats::default();
    for client in clients {
        let stats = client.await.unwrap_or_else(|e| fail(&format!("a client failed: {e}")));
        total.requests += stats.requests;
        total.bytes += stats.bytes;
        total.lines += stats.lines;
        total.accepted += stats.accepted;
        total.rejected += stats.rejected;
        total.latencies_us.extend(stats.latencies_us);
        total.refused_429 += stats.refused_429;
        total.refused_503 += stats.refused_503;
        total.connection_errors += stats.connection_errors;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (sent_bytes, sent_lines) = reader.join().expect("the reader thread");
    done.store(true, Ordering::Relaxed);
    let rss_kib = sampler.map(|s| s.join().expect("the sampler thread")).unwrap_or_default();

    if (total.bytes, total.lines) != (sent_bytes, sent_lines) {
        fail(&format!(
            "acknowledged {} bytes in {} lines, but the corpus slice has {sent_bytes} bytes in {sent_lines} lines",
            total.bytes, total.lines
        ));
    }
    total.latencies_us.sort_unstable();
    let percentile = |p: f64| {
        let n = total.latencies_us.len();
        if n == 0 { 0.0 } else { total.latencies_us[((n - 1) as f64 * p).round() as usize] as f64 / 1000.0 }
    };
    let summary = serde_json::json!({
        "clients": args.clients,
        "body_bytes": args.body_bytes,
        "requests": total.requests,
        "bytes": total.bytes,
        "lines": total.lines,
        "accepted": total.accepted,
        "rejected": total.rejected,
        "seconds": seconds,
        "mb_per_s": total.bytes as f64 / 1e6 / seconds,
        "lines_per_s": total.lines as f64 / seconds,
        "requests_per_s": total.requests as f64 / seconds,
        "latency_ms": {"p50": percentile(0.50), "p99": percentile(0.99), "max": percentile(1.0)},
        "refused": {"429": total.refused_429, "503": total.refused_503},
        "connection_errors": total.connection_errors,
        "rss_peak_kib": rss_kib.iter().max(),
        "rss_kib_by_tenth": by_tenth(&rss_kib),
    });
    println!("{summary}");
}

/// Cuts the corpus into bodies at line ends and hands them out; returns the
/// bytes and lines sent.
fn read_bodies(corpus: &Path, body_bytes: usize, limit: Option<u64>, out: &mpsc::Sender<Bytes>) -> (u64, u64) {
    use std::io::Read;
    let mut file = std::fs::File::open(corpus).unwrap_or_else(|e| fail(&format!("{}: {e}", corpus.display())));
    let limit = limit.unwrap_or(u64::MAX);
    let (mut sent_bytes, mut sent_lines) = (0u64, 0u64);
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut buffer = std::mem::take(&mut carry);
        let start = buffer.len();
        buffer.resize(body_bytes.max(start + 1), 0);
        let read = file.read(&mut buffer[start..]).unwrap_or_else(|e| fail(&e.to_string()));
        buffer.truncate(start + read);
        if buffer.is_empty() {
            break;
        }
        let cut = if read == 0 {
            buffer.len()
        } else {
            match memchr::memrchr(b'\n', &buffer) {
                Some(end) => end + 1,
                // A line longer than a body: read on until it ends.
                None => {
                    carry = buffer;
                    continue;
                }
            }
        };
        carry = buffer.split_off(cut);
        let mut body = buffer;
        let room = limit - sent_bytes;
        if body.len() as u64 > room {
            let keep = memchr::memrchr(b'\n', &body[..room as usize]).map_or(0, |i| i + 1);
            body.truncate(keep);
        }
        if body.is_empty() {
            break;
        }
        sent_bytes += body.len() as u64;
        sent_lines += memchr::memchr_iter(b'\n', &body).count() as u64 + u64::from(body.last() != Some(&b'\n'));
        if out.blocking_send(Bytes::from(body)).is_err() {
            break;
        }
    }
    (sent_bytes, sent_lines)
}

/// One shipper: takes bodies until there are none, each retried until acknowledged.
async fn run_client(
    bodies: &Mutex<mpsc::Receiver<Bytes>>,
    authority: &str,
    path: &str,
    token: Option<&str>,
) -> ClientStats {
    let mut stats = ClientStats::default();
    let mut sender = connect(authority).await;
    loop {
        let Some(body) = bodies.lock().await.recv().await else { break };
        loop {
            if sender.ready().await.is_err() {
                sender = connect(authority).await;
            }
            let mut request = Request::post(path)
                .header(header::HOST, authority)
                .header(header::CONTENT_TYPE, "application/x-ndjson");
            if let Some(token) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let request = request.body(Full::new(body.clone())).expect("a valid request");
            let sent = Instant::now();
            let response = match sender.send_request(request).await {
                Ok(response) => response,
                // A server that refuses a request before reading its body
                // (429 at admission) closes the connection while the body
                // is still being written, and the client sees a broken
                // pipe instead of the answer. Shippers reconnect and retry
                // after a pause; so does this client.
                Err(error)
                    if error.is_canceled() || error.is_closed() || error.is_incomplete_message() || is_io(&error) =>
                {
                    stats.connection_errors += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    sender = connect(authority).await;
                    continue;
                }
                Err(error) => fail(&format!("request failed: {error}")),
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1);
            let answer = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            match status {
                StatusCode::OK => {
                    stats.latencies_us.push(sent.elapsed().as_micros() as u64);
                    let answer: serde_json::Value = serde_json::from_slice(&answer)
                        .unwrap_or_else(|e| fail(&format!("the answer is not JSON: {e}")));
                    let field = |name: &str| answer[name].as_u64().unwrap_or(0);
                    stats.requests += 1;
                    stats.bytes += body.len() as u64;
                    stats.lines += field("lines_read");
                    stats.accepted += field("accepted");
                    stats.rejected += field("rejected");
                    break;
                }
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        stats.refused_429 += 1;
                    } else {
                        stats.refused_503 += 1;
                    }
                    tokio::time::sleep(Duration::from_secs(retry_after)).await;
                }
                other => fail(&format!("unexpected {other}: {}", String::from_utf8_lossy(&answer))),
            }
        }
    }
    stats
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Whether the request failed in the socket (a reset or a broken pipe).
fn is_io(error: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

async fn connect(authority: &str) -> Sender {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .unwrap_or_else(|e| fail(&format!("cannot connect to {authority}: {e}")));
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap_or_else(|e| fail(&format!("HTTP handshake with {authority}: {e}")));
    tokio::spawn(connection);
    sender
}

/// The peak of each tenth of the samples: flat under steady load, rising if
/// memory grows with the data sent.
fn by_tenth(samples: &[u64]) -> Vec<u64> {
    if samples.len() < 10 {
        return samples.to_vec();
    }
    (0..10)
        .map(|i| samples[i * samples.len() / 10..(i + 1) * samples.len() / 10].iter().copied().max().unwrap_or(0))
        .collect()
}

/// The resident memory of `pid` every 100 ms, in KiB, until `done`.
fn sample_rss(pid: u32, done: &AtomicBool) -> Vec<u64> {
    let path = format!("/proc/{pid}/status");
    let mut samples = Vec::new();
    while !done.load(Ordering::Relaxed) {
        let Ok(status) = std::fs::read_to_string(&path) else { break };
        if let Some(kib) = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        {
            samples.push(kib);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    samples
}

fn fail(message: &str) -> ! {
    eprintln!("http-load: {message}");
    std::process::exit(1);
}
