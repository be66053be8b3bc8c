//! The progress line shown on stderr while a long ingest runs.
//!
//! Stages update atomic counters; a display thread redraws one line a
//! second (the first after a second, so short runs print nothing) and
//! erases it at the end, before the summary is printed.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Progress {
    started: Instant,
    bytes: AtomicU64,
    lines: AtomicU64,
    rejected: AtomicU64,
    done: AtomicBool,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            started: Instant::now(),
            bytes: AtomicU64::new(0),
            lines: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            done: AtomicBool::new(false),
        }
    }

    pub fn add_read(&self, bytes: u64, lines: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.lines.fetch_add(lines, Ordering::Relaxed);
    }

    pub fn set_rejected(&self, rejected: u64) {
        self.rejected.store(rejected, Ordering::Relaxed);
    }

    pub fn done(&self) {
        self.done.store(true, Ordering::Relaxed);
    }

    /// The line as it is drawn, e.g.
    /// `1.20 GB read, 4.52 M lines, 41.3 MB/s, 155 k lines/s, 12 rejected`.
    pub fn line(&self) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-9);
        let bytes = self.bytes.load(Ordering::Relaxed) as f64;
        let lines = self.lines.load(Ordering::Relaxed) as f64;
        format!(
            "{} read, {} lines, {:.1} MB/s, {} lines/s, {} rejected",
            human(bytes, "B"),
            human(lines, "").trim_end(),
            bytes / 1e6 / seconds,
            human(lines / seconds, "").trim_end(),
            self.rejected.load(Ordering::Relaxed),
        )
    }

    /// Redraws the line every second until [`Progress::done`], then erases it.
    pub fn display_until_done(&self) {
        let mut drawn = false;
        let mut next = Duration::from_secs(1);
        while !self.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if self.started.elapsed() >= next {
                next += Duration::from_secs(1);
                let mut stderr = std::io::stderr().lock();
                let _ = write!(stderr, "\r\x1b[K{}", self.line());
                let _ = stderr.flush();
                drawn = true;
            }
        }
        if drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }
}

/// `value` with an SI prefix: `1.20 GB`, `4.52 M`, `815 k`, `12`.
fn human(value: f64, unit: &str) -> String {
    let (scaled, prefix) = if value >= 1e9 {
        (value / 1e9, "G")
    } else if value >= 1e6 {
        (value / 1e6, "M")
    } else if value >= 1e3 {
        (value / 1e3, "k")
    } else {
        return format!("{value:.0} {unit}");
    };
    format!("{scaled:.2} {prefix}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human(1_200_000_000.0, "B"), "1.20 GB");
        assert_eq!(human(4_520_000.0, ""), "4.52 M");
        assert_eq!(human(815_000.0, ""), "815.00 k");
        assert_eq!(human(12.0, ""), "12 ");
    }

    #[test]
    fn line_counts_what_stages_report() {
        let progress = Progress::new();
        progress.add_read(2_000_000, 10_000);
        progress.add_read(1_000_000, 5_000);
        progress.set_rejected(7);
        let line = progress.line();
        assert!(line.starts_with("3.00 MB read, 15.00 k lines, "), "{line}");
        assert!(line.ends_with(" lines/s, 7 rejected"), "{line}");
    }
}
