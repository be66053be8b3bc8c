//! `--from` / `--to` values: absolute times, dates, and durations ago;
//! `--tz`: the zone times are shown in and dates are read in.

use sluice_schemas::Timestamp;
use sluice_schemas::timestamp::{DefaultZone, EpochUnit, parse_text};

use crate::error::QueryError;

/// A half-open time range `[from, to)` in ns since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TimeRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange { from: None, to: None };

    /// Parses `--from` and `--to` relative to `now`; dates and times
    /// without an offset are in `zone`.
    pub fn parse(from: Option<&str>, to: Option<&str>, now: Timestamp, zone: &Zone) -> Result<TimeRange, QueryError> {
        let range = TimeRange {
            from: from.map(|t| parse_time(t, now, zone)).transpose()?.map(Timestamp::as_nanos),
            to: to.map(|t| parse_time(t, now, zone)).transpose()?.map(Timestamp::as_nanos),
        };
        if let (Some(f), Some(t)) = (range.from, range.to)
            && f >= t
        {
            return Err(QueryError::EmptyRange { from: zone.full_time(f), to: zone.full_time(t) });
        }
        Ok(range)
    }

    /// Whether `[start, end)` overlaps the range.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.from.is_none_or(|f| end > f) && self.to.is_none_or(|t| start < t)
    }
}

/// `--tz`: where people read times. Table output shows times in it, and
/// dates, `today`, `yesterday` and times written without an offset are
/// read in it. JSON output stays in UTC, so scripts see one format.
#[derive(Clone, Debug)]
pub struct Zone {
    tz: jiff::tz::TimeZone,
    utc: bool,
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::utc()
    }
}

impl Zone {
    pub fn utc() -> Zone {
        Zone { tz: jiff::tz::TimeZone::UTC, utc: true }
    }

    /// `UTC`, `local` (the system's zone), an offset (`+02:00`, `-0530`)
    /// or an IANA name (`Europe/Berlin`, `America/New_York`).
    pub fn parse(text: &str) -> Result<Zone, QueryError> {
        let bad = |reason: String| QueryError::BadZone { text: text.to_owned(), reason };
        let tz = if text.eq_ignore_ascii_case("local") {
            jiff::tz::TimeZone::try_system().map_err(|e| bad(format!("the system's zone is unknown ({e})")))?
        } else {
            match DefaultZone::parse(text).map_err(|_| {
                bad("expected UTC, local, an offset such as +02:00, or an IANA name such as Europe/Berlin".into())
            })? {
                DefaultZone::Utc => jiff::tz::TimeZone::UTC,
                DefaultZone::Fixed(seconds) => jiff::tz::Offset::from_seconds(seconds)
                    .map(jiff::tz::TimeZone::fixed)
                    .map_err(|e| bad(e.to_string()))?,
                DefaultZone::Named(tz) => tz,
            }
        };
        let utc = tz.to_fixed_offset().is_ok_and(|offset| offset.seconds() == 0);
        Ok(Zone { tz, utc })
    }

    /// Seconds east of UTC at an instant.
    pub fn offset_seconds(&self, nanos: i64) -> i32 {
        if self.utc {
            return 0;
        }
        let instant = jiff::Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        self.tz.to_offset(instant).seconds()
    }

    /// `2024-03-01T00:00:01.209Z`, or `2024-03-01T01:00:01.209+01:00` in
    /// another zone: milliseconds, the precision of a table.
    pub fn short_time(&self, nanos: i64) -> String {
        let full = self.full_time(nanos);
        let split = full.len() - if self.utc { 1 } else { 6 };
        format!("{}{}", &full[..23], &full[split..])
    }

    /// RFC 3339 with nanoseconds, in this zone.
    pub fn full_time(&self, nanos: i64) -> String {
        if self.utc {
            return Timestamp::from_nanos(nanos).to_string();
        }
        let offset = self.offset_seconds(nanos);
        let local = Timestamp::from_nanos(nanos.saturating_add(i64::from(offset) * 1_000_000_000)).to_string();
        let (sign, offset) = if offset < 0 { ('-', -offset) } else { ('+', offset) };
        format!("{}{sign}{:02}:{:02}", &local[..local.len() - 1], offset / 3600, offset / 60 % 60)
    }

    /// The midnight that starts the day `days` after the day of `now` (0:
    /// today, -1: yesterday), in this zone.
    fn midnight(&self, now: Timestamp, days: i64) -> Option<Timestamp> {
        let instant = jiff::Timestamp::from_nanosecond(i128::from(now.as_nanos())).ok()?;
        let date = instant.to_zoned(self.tz.clone()).date().checked_add(jiff::Span::new().days(days)).ok()?;
        let start = date.to_zoned(self.tz.clone()).ok()?.timestamp().as_nanosecond();
        i64::try_from(start).ok().map(Timestamp::from_nanos)
    }

    fn default_zone(&self) -> DefaultZone {
        if self.utc { DefaultZone::Utc } else { DefaultZone::Named(self.tz.clone()) }
    }
}

/// One time: `now`; `today` or `yesterday` (midnight in `zone`); a duration ago (`30s`, `15m`, `2h`, `7d`, `1w`); a
/// date (`2024-03-01`, midnight in `zone`); or RFC 3339 / ISO 8601 (a time without an offset is in `zone`).
pub fn parse_time(text: &str, now: Timestamp, zone: &Zone) -> Result<Timestamp, QueryError> {
    let bad = || QueryError::BadTime { text: text.to_owned() };
    let trimmed = text.trim();
    match trimmed {
        "now" => return Ok(now),
        "today" => return zone.midnight(now, 0).ok_or_else(bad),
        "yesterday" => return zone.midnight(now, -1).ok_or_else(bad),
        _ => {}
    }
    if let Some(ago) = duration_nanos(trimmed) {
        return Ok(Timestamp::from_nanos(now.as_nanos().saturating_sub(ago)));
    }
    let is_date = trimmed.len() == 10 && trimmed.as_bytes()[4] == b'-' && trimmed.as_bytes()[7] == b'-';
    let full = if is_date { format!("{trimmed}T00:00:00") } else { trimmed.to_owned() };
    // Epoch digits are not accepted here: `15` would be ambiguous with a duration.
    if full.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    parse_text(&full, EpochUnit::Seconds, &zone.default_zone()).or_else(|_| beyond_range(&full).ok_or_else(bad))
}

/// A valid time outside what 64-bit nanoseconds hold (1677-09-21 to
/// 2262-04-11) is taken as the nearest end, so `--to 9999-12-31` means "no
/// end" rather than an error; `None` for anything that is not a time.
fn beyond_range(text: &str) -> Option<Timestamp> {
    // The date's year is enough (jiff's own range ends a day short of
    // 9999-12-31 with an offset, so its civil date is read).
    let date = text.get(..10)?.parse::<jiff::civil::Date>().ok()?;
    if text.len() > 10 && text.parse::<jiff::Timestamp>().is_err() && text.parse::<jiff::civil::DateTime>().is_err() {
        // Not a time whatever its range, unless only jiff's range refused it.
        let civil = text.get(..19)?.parse::<jiff::civil::DateTime>().ok()?;
        if civil.date() != date {
            return None;
        }
    }
    let year = date.year();
    match year {
        ..=1677 => Some(Timestamp::from_nanos(i64::MIN)),
        2262.. => Some(Timestamp::from_nanos(i64::MAX)),
        _ => None,
    }
}

/// `--baseline`: `FROM..TO` (each as `--from` takes it), or a duration
/// `D` meaning the `D` just before the window starts at `window_from`.
pub fn parse_baseline(text: &str, window_from: i64, now: Timestamp, zone: &Zone) -> Result<(i64, i64), QueryError> {
    let bad = || QueryError::BadBaseline { text: text.to_owned() };
    let (from, to) = match text.split_once("..") {
        Some((from, to)) => {
            let at = |text| parse_time(text, now, zone).map_err(|_| bad()).map(Timestamp::as_nanos);
            (at(from)?, at(to)?)
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
        parse_time(text, Timestamp::from_nanos(NOW), &Zone::utc())
            .map(|t| t.to_string())
            .unwrap_or_else(|e| e.to_string())
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
        let range = TimeRange::parse(Some("1h"), Some("2h"), Timestamp::from_nanos(NOW), &Zone::utc()).unwrap_err();
        assert_eq!(
            range.to_string(),
            "the time range's start 2024-03-01T11:00:00.000000000Z is not before its end 2024-03-01T10:00:00.000000000Z"
        );
    }

    #[test]
    fn baselines() {
        let now = Timestamp::from_nanos(NOW);
        let utc = Zone::utc();
        let hour = 3_600_000_000_000;
        assert_eq!(parse_baseline("1h", NOW - hour, now, &utc).unwrap(), (NOW - 2 * hour, NOW - hour));
        assert_eq!(parse_baseline("3h..2h", NOW - hour, now, &utc).unwrap(), (NOW - 3 * hour, NOW - 2 * hour));
        assert_eq!(
            parse_baseline("2024-03-01T08:00:00Z..2024-03-01T09:00:00Z", 0, now, &utc).unwrap(),
            (NOW - 4 * hour, NOW - 3 * hour)
        );
        for bad in ["", "1x", "2h..3h", "tomorrow..now"] {
            assert!(parse_baseline(bad, NOW, now, &utc).is_err(), "{bad}");
        }
    }

    #[test]
    fn zones_read_dates_and_show_times() {
        let now = Timestamp::from_nanos(NOW);
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let at = |text: &str, zone: &Zone| parse_time(text, now, zone).unwrap().to_string();
        assert_eq!(at("today", &berlin), "2024-02-29T23:00:00.000000000Z");
        assert_eq!(at("yesterday", &berlin), "2024-02-28T23:00:00.000000000Z");
        assert_eq!(at("2024-03-01", &berlin), "2024-02-29T23:00:00.000000000Z");
        // Summer time: +02:00.
        assert_eq!(at("2024-07-01T10:00:00", &berlin), "2024-07-01T08:00:00.000000000Z");
        assert_eq!(at("2024-07-01T10:00:00Z", &berlin), "2024-07-01T10:00:00.000000000Z");
        let new_york = Zone::parse("-05:00").unwrap();
        assert_eq!(at("today", &new_york), "2024-03-01T05:00:00.000000000Z");

        assert_eq!(berlin.short_time(NOW + 209_000_000), "2024-03-01T13:00:00.209+01:00");
        assert_eq!(new_york.short_time(NOW), "2024-03-01T07:00:00.000-05:00");
        assert_eq!(Zone::parse("+05:30").unwrap().full_time(NOW), "2024-03-01T17:30:00.000000000+05:30");
        assert_eq!(Zone::parse("UTC").unwrap().short_time(NOW), "2024-03-01T12:00:00.000Z");
        assert_eq!(Zone::parse("+00:00").unwrap().short_time(NOW), "2024-03-01T12:00:00.000Z");
        assert_eq!(
            Zone::parse("Mars/Olympus").unwrap_err().to_string(),
            "unknown time zone `Mars/Olympus`: expected UTC, local, an offset such as +02:00, or an IANA name such as Europe/Berlin"
        );
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
