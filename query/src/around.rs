//! Records around one record: the lines before and after an event from the
//! same service and host (`context`), and every record of a trace
//! (`trace`).

use std::fmt;
use std::str::FromStr;

use crate::error::QueryError;
use crate::fetch::{FetchedRecord, fetch};
use crate::store::{Hit, Store};
use crate::time::TimeRange;

const NANOS_PER_HOUR: i64 = 3_600_000_000_000;

/// At most this many records with the very timestamp of a context's event
/// are considered to order it among them.
const MAX_SAME_INSTANT: usize = 10_000;

/// At most this many records of one trace.
pub const MAX_TRACE_RECORDS: usize = 100_000;

/// Where a record lives: its hour's archive file (by batch) and its row
/// there. Search output prints it (`REF`), `context` takes it back. It
/// stays valid for the life of the data directory: batches are never
/// rewritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventRef {
    /// Hours since the epoch.
    pub hour: i64,
    pub batch: u64,
    pub row: u64,
    /// Which data directory, when several are queried (`--data-dir A
    /// --data-dir B`): 0 for the first, whose references carry no prefix;
    /// `N/` before the others'.
    pub source: u16,
}

impl EventRef {
    pub fn of(hit: &Hit) -> EventRef {
        EventRef { hour: hit.timestamp.div_euclid(NANOS_PER_HOUR), batch: hit.batch, row: hit.row, source: hit.source }
    }
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.source > 0 {
            write!(f, "{}/", self.source)?;
        }
        write!(f, "{}:{}:{}", self.hour, self.batch, self.row)
    }
}

impl FromStr for EventRef {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<EventRef, QueryError> {
        let bad = || QueryError::BadRef { text: text.to_owned() };
        let text = text.trim();
        let (source, rest) = match text.split_once('/') {
            Some((source, rest)) => (source.parse().map_err(|_| bad())?, rest),
            None => (0, text),
        };
        let mut parts = rest.split(':');
        let (Some(hour), Some(batch), Some(row), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        Ok(EventRef {
            hour: hour.parse().map_err(|_| bad())?,
            batch: batch.parse().map_err(|_| bad())?,
            row: row.parse().map_err(|_| bad())?,
            source,
        })
    }
}

/// An event and its neighbours, oldest first.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Context {
    pub records: Vec<(EventRef, FetchedRecord)>,
    /// The event's position in `records`.
    pub event: usize,
}

impl Store {
    /// The event, `before` records before it and `after` records after it
    /// from the same service and host, in time order (ties in archive
    /// order, which is arrival order).
    pub fn context(&self, event: EventRef, before: usize, after: usize) -> Result<Context, QueryError> {
        let unknown = || QueryError::UnknownRef { event: event.to_string() };
        if usize::from(event.source) >= self.dirs().len() {
            return Err(unknown());
        }
        // An hour past what 64-bit nanoseconds hold names no record.
        let timestamp = event.hour.checked_mul(NANOS_PER_HOUR).ok_or_else(unknown)?;
        let probe = Hit { timestamp, batch: event.batch, row: event.row, source: event.source };
        let record = fetch(self, &[probe])
            .map_err(|_| QueryError::UnknownRef { event: event.to_string() })?
            .pop()
            .ok_or_else(|| QueryError::UnknownRef { event: event.to_string() })?;
        let at = record.timestamp;
        let mut same: Vec<(&str, &str)> = Vec::new();
        if let Some(service) = record.service.as_deref() {
            same.push(("service", service));
        }
        if let Some(host) = record.host.as_deref() {
            same.push(("host", host));
        }
        let around = |range: TimeRange, limit: usize, oldest_first: bool| {
            self.search_by(&|split| split.exact_query(&same, range), limit, oldest_first).map(|(hits, _)| hits)
        };
        let mut earlier = around(TimeRange { from: None, to: Some(at) }, before, false)?;
        earlier.reverse();
        let mut instant = around(TimeRange { from: Some(at), to: Some(at + 1) }, MAX_SAME_INSTANT, true)?;
        instant.sort_by_key(|hit| (hit.source, hit.batch, hit.row));
        let later = around(TimeRange { from: Some(at + 1), to: None }, after, true)?;
        // Records at the event's very instant count as before or after it.
        let hits: Vec<Hit> = earlier.into_iter().chain(instant).chain(later).collect();
        let event_index = hits
            .iter()
            .position(|hit| EventRef::of(hit) == event)
            .ok_or_else(|| QueryError::UnknownRef { event: event.to_string() })?;
        let start = event_index.saturating_sub(before);
        let hits = &hits[start..(event_index + after + 1).min(hits.len())];
        let records = fetch(self, hits)?;
        Ok(Context { records: hits.iter().map(EventRef::of).zip(records).collect(), event: event_index - start })
    }

    /// Every record of a trace, oldest first, and how many there are (more
    /// than returned past `MAX_TRACE_RECORDS`).
    pub fn trace(&self, trace_id: &str, range: TimeRange) -> Result<(Vec<FetchedRecord>, u64), QueryError> {
        let id = trace_id.trim().to_ascii_lowercase();
        let (hits, total) =
            self.search_by(&|split| split.exact_query(&[("trace_id", &id)], range), MAX_TRACE_RECORDS, true)?;
        Ok((fetch(self, &hits)?, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_round_trip() {
        let hit = Hit { timestamp: 1_709_251_200_000_000_000 + 5, batch: 12, row: 3456, source: 0 };
        let event = EventRef::of(&hit);
        assert_eq!(event.to_string(), "474792:12:3456");
        assert_eq!("474792:12:3456".parse::<EventRef>().unwrap(), event);
        let second = EventRef::of(&Hit { source: 2, ..hit });
        assert_eq!(second.to_string(), "2/474792:12:3456");
        assert_eq!("2/474792:12:3456".parse::<EventRef>().unwrap(), second);
        for bad in ["", "1:2", "1:2:3:4", "a:2:3", "1:-2:3", "x/1:2:3", "/1:2:3", "1/2/1:2:3"] {
            assert!(bad.parse::<EventRef>().is_err(), "{bad}");
        }
    }
}
