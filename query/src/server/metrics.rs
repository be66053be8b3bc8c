//! `sluice serve`'s `/metrics`: requests by endpoint and status, query
//! latency by endpoint, connections.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sluice_index::serving::Histogram;
use sluice_index::serving::connections::ConnectionStats;

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(&'static str, u16), u64>,
    latency: BTreeMap<&'static str, Histogram>,
}

impl Metrics {
    pub fn observe(&self, endpoint: &'static str, status: u16, took: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *inner.requests.entry((endpoint, status)).or_default() += 1;
        inner.latency.entry(endpoint).or_default().observe(took.as_secs_f64());
    }

    pub fn render(&self, connections: &ConnectionStats) -> String {
        let inner = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        out.push_str("# HELP sluice_query_requests_total Query API requests by endpoint and status code.\n");
        out.push_str("# TYPE sluice_query_requests_total counter\n");
        for ((endpoint, status), count) in &inner.requests {
            let _ = writeln!(out, "sluice_query_requests_total{{endpoint=\"{endpoint}\",code=\"{status}\"}} {count}");
        }
        out.push_str("# HELP sluice_query_duration_seconds Time to answer, by endpoint.\n");
        out.push_str("# TYPE sluice_query_duration_seconds histogram\n");
        for (endpoint, histogram) in &inner.latency {
            histogram.render(&mut out, "sluice_query_duration_seconds", &format!("endpoint=\"{endpoint}\""));
        }
        out.push_str("# TYPE sluice_query_connections_open gauge\n");
        let _ = writeln!(out, "sluice_query_connections_open {}", connections.open.load(Ordering::Relaxed));
        out.push_str("# TYPE sluice_query_connections_refused_total counter\n");
        let _ = writeln!(out, "sluice_query_connections_refused_total {}", connections.refused.load(Ordering::Relaxed));
        out
    }
}
