//! `--from` / `--to` values: absolute times, dates, and durations ago.

use sluice_schemas::Timestamp;
use sluice_schemas::timestamp::{DefaultZone, EpochUnit, parse_text};

use crate::error::QueryError;

/// A half-open time range `[from, to)` in ns since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange { from: None, to: None };

    /// Parses `--from` and `--to` relative to `now`.
    pub fn parse(from: Option<&str>, to: Option<&str>, now: Timestamp) -> Result<TimeRange, QueryError> {
        let range = TimeRange {
            from: from.map(|t| parse_time(t, now)).transpose()?.map(Timestamp::as_nanos),
            to: to.map(|t| parse_time(t, now)).transpose()?.map(Timestamp::as_nanos),
        };
        if let (Some(f), Some(t)) = (range.from, range.to)
            && f >= t
        {
            return Err(QueryError::EmptyRange {
                from: Timestamp::from_nanos(f).to_string(),
                to: Timestamp::from_nanos(t).to_string(),
            });
        }
        Ok(range)
    }

    /// Whether `[start, end)` overlaps the range.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.from.is_none_or(|f| end > f) && self.to.is_none_or(|t| start < t)
    }
}

const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// One time: `now`; `today` or `yesterday` (midnight UTC); a duration ago (`30s`, `15m`, `2h`, `7d`, `1w`); a date
/// (`2024-03-01`, midnight UTC); or RFC 3339 / ISO 8601 (a time without an
/// offset is UTC).
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, QueryError> {
    let bad = || QueryError::BadTime { text: text.to_owned() };
    let trimmed = text.trim();
    if trimmed == "now" {
        return Ok(now);
    }
    // `today` and `yesterday` start at midnight UTC.
    let midnight = now.as_nanos().div_euclid(NANOS_PER_DAY) * NANOS_PER_DAY;
    match trimmed {
        "today" => return Ok(Timestamp::from_nanos(midnight)),
        "yesterday" => return Ok(Timestamp::from_nanos(midnight - NANOS_PER_DAY)),
        _ => {}
    }
    if let Some(ago) = duration_nanos(trimmed) {
        return Ok(Timestamp::from_nanos(now.as_nanos().saturating_sub(ago)));
    }
    let is_date = trimmed.len() == 10 && trimmed.as_bytes()[4] == b'-' && trimmed.as_bytes()[7] == b'-';
    let full = if is_date { format!("{trimmed}T00:00:00Z") } else { trimmed.to_owned() };
    // Epoch digits are not accepted here: `15` would be ambiguous with a duration.
    if full.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    parse_text(&full, EpochUnit::Seconds, &DefaultZone::Utc).map_err(|_| bad())
}

/// `--baseline`: `FROM..TO` (each as `--from` takes it), or a duration
/// `D` meaning the `D` just before the window starts at `window_from`.
pub fn parse_baseline(text: &str, window_from: i64, now: Timestamp) -> Result<(i64, i64), QueryError> {
    let bad = || QueryError::BadBaseline { text: text.to_owned() };
    let (from, to) = match text.split_once("..") {
        Some((from, to)) => {
            (parse_time(from, now).map_err(|_| bad())?.as_nanos(), parse_time(to, now).map_err(|_| bad())?.as_nanos())
        }
        None => {
            let length = duration_nanos(text.trim()).ok_or_else(bad)?;
            (window_from.saturating_sub(length), window_from)
        }
    };
    if from >= to {
        return Err(bad());
    }
    Ok((from, to))
}

/// `15m` → 900 s in ns; `None` when `text` is not a duration.
pub(crate) fn duration_nanos(text: &str) -> Option<i64> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(unit_at);
    let count: i64 = digits.parse().ok()?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    count.checked_mul(seconds)?.checked_mul(1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_709_294_400_000_000_000; // 2024-03-01T12:00:00Z

    fn at(text: &str) -> String {
        parse_time(text, Timestamp::from_nanos(NOW)).map(|t| t.to_string()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn relative_absolute_and_dates() {
        assert_eq!(at("15m"), "2024-03-01T11:45:00.000000000Z");
        assert_eq!(at("2h"), "2024-03-01T10:00:00.000000000Z");
        assert_eq!(at("7d"), "2024-02-23T12:00:00.000000000Z");
        assert_eq!(at("1w"), "2024-02-23T12:00:00.000000000Z");
        assert_eq!(at("now"), "2024-03-01T12:00:00.000000000Z");
        assert_eq!(at("today"), "2024-03-01T00:00:00.000000000Z");
        assert_eq!(at("yesterday"), "2024-02-29T00:00:00.000000000Z");
        assert_eq!(at("2024-02-29"), "2024-02-29T00:00:00.000000000Z");
        assert_eq!(at("2024-03-01T10:30:00+02:00"), "2024-03-01T08:30:00.000000000Z");
        assert_eq!(at("2024-03-01T10:30:00.123456789Z"), "2024-03-01T10:30:00.123456789Z");
    }

    #[test]
    fn errors_say_what_is_accepted() {
        assert_eq!(
            at("15"),
            "invalid time `15`: expected RFC 3339 (2024-03-01T12:00:00Z), a date (2024-03-01), `now`, `today`, `yesterday`, or a duration ago (15m, 2h, 7d, 1w)"
        );
        assert!(at("3 days").starts_with("invalid time `3 days`"));
        let range = TimeRange::parse(Some("1h"), Some("2h"), Timestamp::from_nanos(NOW)).unwrap_err();
        assert_eq!(
            range.to_string(),
            "--from 2024-03-01T11:00:00.000000000Z is not before --to 2024-03-01T10:00:00.000000000Z"
        );
    }

    #[test]
    fn baselines() {
        let now = Timestamp::from_nanos(NOW);
        let hour = 3_600_000_000_000;
        assert_eq!(parse_baseline("1h", NOW - hour, now).unwrap(), (NOW - 2 * hour, NOW - hour));
        assert_eq!(parse_baseline("3h..2h", NOW - hour, now).unwrap(), (NOW - 3 * hour, NOW - 2 * hour));
        assert_eq!(
            parse_baseline("2024-03-01T08:00:00Z..2024-03-01T09:00:00Z", 0, now).unwrap(),
            (NOW - 4 * hour, NOW - 3 * hour)
        );
        for bad in ["", "1x", "2h..3h", "tomorrow..now"] {
            assert!(parse_baseline(bad, NOW, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap_is_half_open() {
        let range = TimeRange { from: Some(10), to: Some(20) };
        assert!(range.overlaps(0, 11));
        assert!(!range.overlaps(0, 10));
        assert!(range.overlaps(19, 30));
        assert!(!range.overlaps(20, 30));
        assert!(TimeRange::ALL.overlaps(i64::MIN, i64::MAX));
    }
}
