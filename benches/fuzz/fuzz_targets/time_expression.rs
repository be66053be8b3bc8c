//! Time expressions: `--from`/`--to` (absolute times, dates, durations
//! ago, `today`), `--tz`, `--interval` and `--baseline`, one per input line.
//! A range that parses is counted and charted over a small data
//! directory: buckets are bounded, whatever the interval and range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_fuzz::{sample_store, text};
use sluice_query::aggregate::Interval;
use sluice_query::time::{TimeRange, Zone, parse_baseline, parse_time};
use sluice_schemas::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Some(input) = text(data) else { return };
    let mut parts = input.split('\n');
    let (from, to, zone, interval, baseline) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next());
    let now = Timestamp::from_nanos(1_765_000_000_000_000_000);
    let zone = zone.and_then(|z| Zone::parse(z).ok()).unwrap_or_default();
    for text in [from, to, baseline].into_iter().flatten() {
        let _ = parse_time(text, now, &zone);
    }
    let from = from.filter(|s| !s.is_empty());
    let to = to.filter(|s| !s.is_empty());
    let Ok(range) = TimeRange::parse(from, to, now, &zone) else { return };
    if let Some(baseline) = baseline {
        let _ = parse_baseline(baseline, range.from.unwrap_or(0), now, &zone);
    }
    let store = sample_store();
    let count = store.count("*", range).expect("counting a valid range works");
    let interval = interval.and_then(|i| Interval::parse(i).ok()).unwrap_or(Interval::Auto);
    if let Ok(histogram) = store.histogram("*", range, interval, None, &zone) {
        let charted: u64 = histogram.buckets.iter().map(|b| b.count).sum();
        assert_eq!(charted, count, "the histogram charts every match in the range");
    }
});
