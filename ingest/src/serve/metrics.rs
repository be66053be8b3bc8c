//! The server's counters, rendered in the Prometheus text format.
//!
//! A handful of counters and two histograms behind one mutex: updates are
//! a few per request, far from contended. The text format is simple enough
//! that a registry crate would add more than it saves.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use crate::summary::Summary;

use sluice_index::serving::Histogram;

#[derive(Default)]
struct Counters {
    accepted: u64,
    rejected: BTreeMap<&'static str, u64>,
    blank: u64,
    bytes: u64,
    /// By endpoint, then status code.
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    wal_syncs: u64,
    wal_sync_seconds: Histogram,
    wal_appends: u64,
    wal_damaged_bytes: u64,
    wal_torn_bytes: u64,
    /// Groups of appends the log refused: (for lack of space, otherwise).
    wal_refused: (u64, u64),
    /// Acknowledged entries the indexer took: handed over in memory, and
    /// read back from the log (entries, bytes).
    handed_over: (u64, u64),
    read_back: (u64, u64),
    disk_full: bool,
    disk_full_events: u64,
}

/// What `/metrics` reports.
#[derive(Default)]
pub(crate) struct Metrics {
    counters: Mutex<Counters>,
    /// Kept by the accept loop (`connections`), lock-free.
    pub connections: std::sync::Arc<super::connections::ConnectionStats>,
}

/// Gauges read at render time.
pub(crate) struct Gauges {
    pub queue_depth: usize,
    pub requests_in_flight: usize,
    pub wal_disk_bytes: u64,
    pub wal_behind_bytes: u64,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn with(&self, f: impl FnOnce(&mut Counters)) {
        // A poisoned lock only means a panic elsewhere; the counts are still usable.
        let mut counters = self.counters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut counters);
    }

    /// Lines made durable (accepted and rejected alike: the log holds both).
    pub fn count_chunk(&self, counts: &Summary, bytes: u64) {
        self.with(|c| {
            c.accepted += counts.accepted;
            c.blank += counts.blank;
            c.bytes += bytes;
            for (reason, n) in &counts.rejected_by_reason {
                *c.rejected.entry(reason).or_default() += n;
            }
        });
    }

    pub fn observe_request(&self, endpoint: &'static str, status: u16, elapsed: Duration) {
        self.with(|c| {
            *c.requests.entry((endpoint, status)).or_default() += 1;
            c.latency.entry(endpoint).or_default().observe(elapsed.as_secs_f64());
        });
    }

    pub fn observe_wal_sync(&self, elapsed: Duration, appends: usize) {
        self.with(|c| {
            c.wal_syncs += 1;
            c.wal_appends += appends as u64;
            c.wal_sync_seconds.observe(elapsed.as_secs_f64());
        });
    }

    /// Log bytes found damaged (skipped) and torn (cut off) at startup.
    pub fn count_wal_damage(&self, damaged: u64, torn: u64) {
        self.with(|c| {
            c.wal_damaged_bytes += damaged;
            c.wal_torn_bytes += torn;
        });
    }

    /// A group of appends the log could not write.
    /// An acknowledged entry of `bytes` request bytes reached the indexer:
    /// in memory, or read back from the log because the indexer was behind.
    pub fn count_indexer_feed(&self, read_back: bool, bytes: u64) {
        self.with(|c| {
            let counter = if read_back { &mut c.read_back } else { &mut c.handed_over };
            counter.0 += 1;
            counter.1 += bytes;
        });
    }

    pub fn count_wal_refusal(&self, disk_full: bool) {
        self.with(|c| if disk_full { c.wal_refused.0 += 1 } else { c.wal_refused.1 += 1 });
    }

    /// Whether ingest is stopped for lack of space (see `serve::tail`).
    pub fn set_disk_full(&self, full: bool) {
        self.with(|c| {
            if full && !c.disk_full {
                c.disk_full_events += 1;
            }
            c.disk_full = full;
        });
    }

    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        self.with(|c| {
            let metric = |out: &mut String, name: &str, kind: &str, help: &str| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            };
            metric(&mut out, "sluice_ingest_lines_accepted_total", "counter", "Lines accepted and durable.");
            let _ = writeln!(out, "sluice_ingest_lines_accepted_total {}", c.accepted);
            metric(
                &mut out,
                "sluice_ingest_lines_rejected_total",
                "counter",
                "Lines rejected, by reason (kept as dead letters).",
            );
            for (reason, n) in &c.rejected {
                let _ = writeln!(out, "sluice_ingest_lines_rejected_total{{reason=\"{reason}\"}} {n}");
            }
            metric(&mut out, "sluice_ingest_lines_blank_total", "counter", "Blank lines skipped.");
            let _ = writeln!(out, "sluice_ingest_lines_blank_total {}", c.blank);
            metric(&mut out, "sluice_ingest_bytes_total", "counter", "Bytes of lines received (after decompression).");
            let _ = writeln!(out, "sluice_ingest_bytes_total {}", c.bytes);
            metric(
                &mut out,
                "sluice_http_requests_total",
                "counter",
                "HTTP requests answered, by endpoint and status.",
            );
            for ((endpoint, status), n) in &c.requests {
                let _ = writeln!(out, "sluice_http_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}");
            }
            metric(&mut out, "sluice_http_request_duration_seconds", "histogram", "Time to answer an HTTP request.");
            for (endpoint, histogram) in &c.latency {
                histogram.render(&mut out, "sluice_http_request_duration_seconds", &format!("endpoint=\"{endpoint}\""));
            }
            metric(
                &mut out,
                "sluice_wal_syncs_total",
                "counter",
                "Write-ahead log fsyncs (one per group of requests).",
            );
            let _ = writeln!(out, "sluice_wal_syncs_total {}", c.wal_syncs);
            metric(&mut out, "sluice_wal_appends_total", "counter", "Requests written to the write-ahead log.");
            let _ = writeln!(out, "sluice_wal_appends_total {}", c.wal_appends);
            metric(&mut out, "sluice_wal_sync_duration_seconds", "histogram", "Time to write and fsync one group.");
            c.wal_sync_seconds.render(&mut out, "sluice_wal_sync_duration_seconds", "");
            metric(
                &mut out,
                "sluice_wal_damaged_bytes_total",
                "counter",
                "Write-ahead log bytes found damaged at startup, with whole entries after them (their lines are lost).",
            );
            let _ = writeln!(out, "sluice_wal_damaged_bytes_total {}", c.wal_damaged_bytes);
            metric(
                &mut out,
                "sluice_wal_torn_bytes_total",
                "counter",
                "Bytes of a torn last write-ahead log entry cut off at startup (never acknowledged).",
            );
            let _ = writeln!(out, "sluice_wal_torn_bytes_total {}", c.wal_torn_bytes);
            metric(
                &mut out,
                "sluice_indexer_entries_total",
                "counter",
                "Acknowledged write-ahead log entries the indexer took, by how: handed over in memory, or read back \
                 from the log (the indexer was behind when they were acknowledged).",
            );
            let _ = writeln!(out, "sluice_indexer_entries_total{{from=\"memory\"}} {}", c.handed_over.0);
            let _ = writeln!(out, "sluice_indexer_entries_total{{from=\"log\"}} {}", c.read_back.0);
            metric(
                &mut out,
                "sluice_indexer_bytes_total",
                "counter",
                "Request bytes of the entries in sluice_indexer_entries_total.",
            );
            let _ = writeln!(out, "sluice_indexer_bytes_total{{from=\"memory\"}} {}", c.handed_over.1);
            let _ = writeln!(out, "sluice_indexer_bytes_total{{from=\"log\"}} {}", c.read_back.1);
            metric(
                &mut out,
                "sluice_wal_append_failures_total",
                "counter",
                "Groups of requests the write-ahead log could not write (answered 507 or 503, nothing kept).",
            );
            let _ = writeln!(out, "sluice_wal_append_failures_total{{reason=\"disk_full\"}} {}", c.wal_refused.0);
            let _ = writeln!(out, "sluice_wal_append_failures_total{{reason=\"io_error\"}} {}", c.wal_refused.1);
            metric(
                &mut out,
                "sluice_disk_full",
                "gauge",
                "1 while the disk is too full to commit: ingest requests get 507 until there is room.",
            );
            let _ = writeln!(out, "sluice_disk_full {}", u8::from(c.disk_full));
            metric(
                &mut out,
                "sluice_disk_full_events_total",
                "counter",
                "Times committing stopped on a full disk and waited for room.",
            );
            let _ = writeln!(out, "sluice_disk_full_events_total {}", c.disk_full_events);
        });
        let mut gauge = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        };
        gauge("sluice_queue_depth", "Requests decoded and waiting for a worker.", gauges.queue_depth as u64);
        gauge("sluice_http_requests_in_flight", "Requests being read or processed.", gauges.requests_in_flight as u64);
        gauge("sluice_wal_size_bytes", "Bytes of write-ahead log segments on disk.", gauges.wal_disk_bytes);
        gauge(
            "sluice_wal_behind_bytes",
            "Write-ahead log bytes not yet committed to the index and archive.",
            gauges.wal_behind_bytes,
        );
        let connections = &self.connections;
        let load = |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
        gauge("sluice_http_connections_open", "Connections open.", load(&connections.open));
        let _ = writeln!(
            out,
            "# HELP sluice_http_connections_total Connections accepted (refused ones included).\n\
             # TYPE sluice_http_connections_total counter\nsluice_http_connections_total {}",
            load(&connections.accepted)
        );
        let _ = writeln!(
            out,
            "# HELP sluice_http_connections_refused_total Connections closed at once: --max-connections were open.\n\
             # TYPE sluice_http_connections_refused_total counter\nsluice_http_connections_refused_total {}",
            load(&connections.refused)
        );
        let _ = writeln!(
            out,
            "# HELP sluice_http_connection_timeouts_total Connections closed for a timeout, by what timed out \
             (header: --header-read-timeout, body: --body-read-timeout, idle: --idle-timeout).\n\
             # TYPE sluice_http_connection_timeouts_total counter"
        );
        for (stage, counter) in [
            ("header", &connections.header_timeouts),
            ("body", &connections.body_timeouts),
            ("idle", &connections.idle_timeouts),
        ] {
            let _ = writeln!(out, "sluice_http_connection_timeouts_total{{stage=\"{stage}\"}} {}", load(counter));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_every_series_with_its_type() {
        let metrics = Metrics::new();
        let mut counts = Summary { lines_read: 5, accepted: 3, blank: 1, ..Summary::default() };
        counts.rejected_by_reason.insert("invalid_json", 1);
        metrics.count_chunk(&counts, 120);
        metrics.observe_request("ndjson", 200, Duration::from_millis(3));
        metrics.observe_request("ndjson", 200, Duration::from_millis(30));
        metrics.observe_wal_sync(Duration::from_micros(700), 2);
        let text = metrics.render(&Gauges {
            queue_depth: 1,
            requests_in_flight: 2,
            wal_disk_bytes: 4096,
            wal_behind_bytes: 10,
        });
        for line in [
            "# TYPE sluice_ingest_lines_accepted_total counter",
            "sluice_ingest_lines_accepted_total 3",
            "sluice_ingest_lines_rejected_total{reason=\"invalid_json\"} 1",
            "sluice_ingest_bytes_total 120",
            "sluice_http_requests_total{endpoint=\"ndjson\",status=\"200\"} 2",
            "# TYPE sluice_http_request_duration_seconds histogram",
            "sluice_http_request_duration_seconds_bucket{endpoint=\"ndjson\",le=\"0.0025\"} 0",
            "sluice_http_request_duration_seconds_bucket{endpoint=\"ndjson\",le=\"0.005\"} 1",
            "sluice_http_request_duration_seconds_bucket{endpoint=\"ndjson\",le=\"+Inf\"} 2",
            "sluice_http_request_duration_seconds_count{endpoint=\"ndjson\"} 2",
            "sluice_wal_sync_duration_seconds_bucket{le=\"0.001\"} 1",
            "sluice_wal_sync_duration_seconds_count 1",
            "sluice_wal_appends_total 2",
            "sluice_queue_depth 1",
            "sluice_wal_size_bytes 4096",
            "sluice_wal_behind_bytes 10",
            "sluice_http_connections_open 0",
            "sluice_http_connections_refused_total 0",
            "sluice_http_connection_timeouts_total{stage=\"header\"} 0",
            "sluice_http_connection_timeouts_total{stage=\"idle\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
