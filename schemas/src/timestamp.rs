//! Timestamps: the canonical [`Timestamp`] and the parsers for every form
//! loggers write time in.
//!
//! Parsing is hand-written rather than delegated to a date crate because it
//! sits on the hot path of every line and must accept a union of grammars no
//! single crate parses: RFC 3339 with any number of fraction digits, ISO 8601
//! with a space separator, a comma before the fraction or an offset without a
//! colon (`+0100`, zap's development encoder), and epoch numbers in four
//! units. Named time zones, which need the tz database, are left to `jiff`.

use std::fmt;

/// Nanoseconds since the Unix epoch, UTC.
///
/// The range is that of an `i64` of nanoseconds: 1677-09-21 to 2262-04-11.
/// Parsers reject anything outside it instead of wrapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Builds a timestamp from whole seconds and a nanosecond adjustment,
    /// or `None` when it falls outside the representable range.
    pub fn from_parts(seconds: i64, nanos: i64) -> Option<Self> {
        seconds.checked_mul(NANOS_PER_SECOND).and_then(|n| n.checked_add(nanos)).map(Timestamp)
    }

    /// The current time, for `observed_timestamp`.
    pub fn now() -> Self {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX))
    }

    /// Splits into (seconds, nanoseconds 0..1e9), flooring toward the past.
    pub fn to_parts(self) -> (i64, u32) {
        let seconds = self.0.div_euclid(NANOS_PER_SECOND);
        let nanos = self.0.rem_euclid(NANOS_PER_SECOND) as u32;
        (seconds, nanos)
    }
}

/// RFC 3339 in UTC with nine fraction digits: `2024-01-02T03:04:05.123456789Z`.
/// Fixed width, so it sorts as text in time order.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (seconds, nanos) = self.to_parts();
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        )
    }
}

/// The unit of an epoch number, when the producer's convention says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochUnit {
    Seconds,
    Millis,
    Micros,
    Nanos,
    /// Guessed from the magnitude: below 1e11 seconds (until year 5138),
    /// below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
    Auto,
}

impl EpochUnit {
    fn resolve(self, magnitude: f64) -> EpochUnit {
        if self != EpochUnit::Auto {
            return self;
        }
        let magnitude = magnitude.abs();
        if magnitude < 1e11 {
            EpochUnit::Seconds
        } else if magnitude < 1e14 {
            EpochUnit::Millis
        } else if magnitude < 1e17 {
            EpochUnit::Micros
        } else {
            EpochUnit::Nanos
        }
    }

    fn nanos_per_unit(self) -> i64 {
        match self {
            EpochUnit::Seconds => NANOS_PER_SECOND,
            EpochUnit::Millis => 1_000_000,
            EpochUnit::Micros => 1_000,
            EpochUnit::Nanos | EpochUnit::Auto => 1,
        }
    }
}

/// The zone assumed for a timestamp written without an offset.
#[derive(Clone, Debug, Default)]
pub enum DefaultZone {
    #[default]
    Utc,
    /// A fixed offset in seconds east of UTC.
    Fixed(i32),
    /// An IANA zone, e.g. `Europe/Berlin`; daylight-saving aware.
    Named(jiff::tz::TimeZone),
}

impl DefaultZone {
    /// Parses `UTC`, `Z`, a fixed offset (`+02:00`, `-0530`) or an IANA name.
    pub fn parse(text: &str) -> Result<DefaultZone, String> {
        if text.eq_ignore_ascii_case("utc") || text == "Z" {
            return Ok(DefaultZone::Utc);
        }
        if let Some(offset) = parse_offset(text.as_bytes()) {
            return Ok(DefaultZone::Fixed(offset));
        }
        jiff::tz::TimeZone::get(text)
            .map(DefaultZone::Named)
            .map_err(|_| {
                format!("unknown time zone `{text}`: expected UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin")
            })
    }
}

/// Why a value could not be read as a timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampError(pub &'static str);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

const EXPECTED_TEXT: &str = "expected RFC 3339 / ISO 8601 (2024-01-02T03:04:05.123Z) or epoch digits";
const OUT_OF_RANGE: &str = "timestamp outside 1677-09-21..2262-04-11";

/// Parses a timestamp written as text: ISO 8601 / RFC 3339 in any of the
/// common variants, or epoch digits (`"1700000000"`, `"1700000000.5"`).
pub fn parse_text(text: &str, unit: EpochUnit, zone: &DefaultZone) -> Result<Timestamp, TimestampError> {
    let bytes = text.trim().as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(TimestampError("empty timestamp"));
    };
    if bytes.len() >= 10 && bytes.get(4) == Some(&b'-') && first.is_ascii_digit() {
        return parse_iso(bytes, zone);
    }
    parse_epoch_text(bytes, unit)
}

/// Parses epoch digits with an optional fraction, exactly (no float rounding).
fn parse_epoch_text(bytes: &[u8], unit: EpochUnit) -> Result<Timestamp, TimestampError> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    let (whole, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    if whole.is_empty() || !whole.iter().all(u8::is_ascii_digit) || !fraction.iter().all(u8::is_ascii_digit) {
        return Err(TimestampError(EXPECTED_TEXT));
    }
    let whole_value = whole
        .iter()
        .try_fold(0i64, |acc, &d| acc.checked_mul(10)?.checked_add(i64::from(d - b'0')))
        .ok_or(TimestampError(OUT_OF_RANGE))?;
    let unit = unit.resolve(whole_value as f64);
    let per_unit = unit.nanos_per_unit();
    // The fraction's digits scaled to nanoseconds of this unit, truncated
    // past nanosecond precision.
    let mut fraction_nanos = 0i64;
    let mut scale = per_unit;
    for &d in fraction {
        scale /= 10;
        if scale == 0 {
            break;
        }
        fraction_nanos += i64::from(d - b'0') * scale;
    }
    let nanos = whole_value
        .checked_mul(per_unit)
        .and_then(|n| n.checked_add(fraction_nanos))
        .ok_or(TimestampError(OUT_OF_RANGE))?;
    Ok(Timestamp(if negative { -nanos } else { nanos }))
}

/// Epoch integer in the given (or guessed) unit.
pub fn from_epoch_i64(value: i64, unit: EpochUnit) -> Result<Timestamp, TimestampError> {
    let unit = unit.resolve(value as f64);
    value.checked_mul(unit.nanos_per_unit()).map(Timestamp).ok_or(TimestampError(OUT_OF_RANGE))
}

/// Epoch float in the given (or guessed) unit.
///
/// An `f64` holds about 16 significant digits, so a float of epoch seconds
/// (zap, Zeek) is only precise to a fraction of a microsecond: the result is
/// rounded to the microsecond, which recovers exactly what the producer
/// wrote when it wrote at most six fraction digits. Floats already in
/// nanoseconds are rounded to the nanosecond.
pub fn from_epoch_f64(value: f64, unit: EpochUnit) -> Result<Timestamp, TimestampError> {
    if !value.is_finite() {
        return Err(TimestampError("timestamp is not a finite number"));
    }
    let unit = unit.resolve(value);
    // Round in the float domain to the precision the float can carry, then
    // scale in integers: an f64 cannot hold every integer above 2^53, so
    // multiplying up to nanoseconds as a float would invent digits.
    let (rounded, scale) = match unit {
        EpochUnit::Nanos | EpochUnit::Auto => (value.round(), 1),
        EpochUnit::Micros => (value.round(), 1_000),
        EpochUnit::Millis => ((value * 1e3).round(), 1_000),
        EpochUnit::Seconds => ((value * 1e6).round(), 1_000),
    };
    if !(-9.2e18..=9.2e18).contains(&rounded) {
        return Err(TimestampError(OUT_OF_RANGE));
    }
    (rounded as i64).checked_mul(scale).map(Timestamp).ok_or(TimestampError(OUT_OF_RANGE))
}

/// A small cursor over ASCII bytes for the ISO grammar.
struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn digits(&mut self, count: usize) -> Option<i64> {
        let slice = self.bytes.get(self.position..self.position + count)?;
        let mut value = 0i64;
        for &b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
        }
        self.position += count;
        Some(value)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.position += 1)
    }
}

/// `YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)F+]]][Z|±HH[:MM]|±HHMM]`.
fn parse_iso(bytes: &[u8], zone: &DefaultZone) -> Result<Timestamp, TimestampError> {
    let mut cursor = Cursor { bytes, position: 0 };
    let date = (|| {
        let year = cursor.digits(4)?;
        cursor.expect(b'-')?;
        let month = cursor.digits(2)?;
        cursor.expect(b'-')?;
        let day = cursor.digits(2)?;
        Some((year, month, day))
    })();
    let Some((year, month, day)) = date else {
        return Err(TimestampError(EXPECTED_TEXT));
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(TimestampError("date out of range (month 1-12, day within the month)"));
    }
    let mut second_of_day = 0i64;
    let mut fraction_nanos = 0i64;
    if matches!(cursor.peek(), Some(b'T' | b't' | b' ')) {
        cursor.position += 1;
        let time = (|| {
            let hour = cursor.digits(2)?;
            cursor.expect(b':')?;
            let minute = cursor.digits(2)?;
            let mut second = 0;
            if cursor.peek() == Some(b':') {
                cursor.position += 1;
                second = cursor.digits(2)?;
                if matches!(cursor.peek(), Some(b'.' | b',')) {
                    cursor.position += 1;
                    let mut scale = NANOS_PER_SECOND;
                    let start = cursor.position;
                    while let Some(d) = cursor.peek().filter(u8::is_ascii_digit) {
                        scale /= 10;
                        fraction_nanos += i64::from(d - b'0') * scale;
                        cursor.position += 1;
                    }
                    if cursor.position == start {
                        return None;
                    }
                }
            }
            Some((hour, minute, second))
        })();
        let Some((hour, minute, second)) = time else {
            return Err(TimestampError(EXPECTED_TEXT));
        };
        // 60 admits a leap second, counted as the first second of the next minute.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(TimestampError("time of day out of range"));
        }
        second_of_day = hour * 3600 + minute * 60 + second;
    }
    let mut rest = &bytes[cursor.position..];
    // Go's time.String(): "2014-03-10 19:57:38.562264131 -0400 EDT". A space
    // may precede the offset, and a zone abbreviation may follow it; the
    // numeric offset is authoritative, so the abbreviation is ignored.
    if let [b' ', b'+' | b'-', ..] = rest {
        rest = &rest[1..];
    }
    if let Some(space) = rest.iter().position(|&b| b == b' ')
        && matches!(rest.first(), Some(b'+' | b'-'))
        && rest[space + 1..].iter().all(u8::is_ascii_alphabetic)
        && space + 1 < rest.len()
    {
        rest = &rest[..space];
    }
    let days = days_from_civil(year, month, day);
    let local_seconds = days * SECONDS_PER_DAY + second_of_day;
    let utc_seconds = if rest.is_empty() {
        match zone {
            DefaultZone::Utc => local_seconds,
            DefaultZone::Fixed(offset) => local_seconds - i64::from(*offset),
            DefaultZone::Named(tz) => local_seconds - named_zone_offset(tz, local_seconds)?,
        }
    } else {
        let offset = parse_offset(rest)
            .ok_or(TimestampError("unrecognised time zone suffix: expected Z, +HH:MM, +HHMM or +HH"))?;
        local_seconds - i64::from(offset)
    };
    Timestamp::from_parts(utc_seconds, fraction_nanos).ok_or(TimestampError(OUT_OF_RANGE))
}

/// Offset of a named zone at a local wall-clock time, in seconds.
/// An ambiguous time (a DST fold) takes the earlier offset, as most tools do.
fn named_zone_offset(tz: &jiff::tz::TimeZone, local_seconds: i64) -> Result<i64, TimestampError> {
    let days = local_seconds.div_euclid(SECONDS_PER_DAY);
    let second_of_day = local_seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let civil = jiff::civil::DateTime::new(
        i16::try_from(year).map_err(|_| TimestampError(OUT_OF_RANGE))?,
        month as i8,
        day as i8,
        (second_of_day / 3600) as i8,
        (second_of_day / 60 % 60) as i8,
        (second_of_day % 60) as i8,
        0,
    )
    .map_err(|_| TimestampError(OUT_OF_RANGE))?;
    let zoned = tz.to_ambiguous_zoned(civil).compatible().map_err(|_| TimestampError(OUT_OF_RANGE))?;
    Ok(i64::from(zoned.offset().seconds()))
}

/// `Z`, `z`, `+HH:MM`, `+HHMM`, `+HH` (and `-`, and U+2212 is not accepted).
fn parse_offset(bytes: &[u8]) -> Option<i32> {
    match bytes {
        [b'Z' | b'z'] => return Some(0),
        [] => return None,
        _ => {}
    }
    let sign = match bytes.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let mut cursor = Cursor { bytes, position: 1 };
    let hours = cursor.digits(2)?;
    let minutes = match cursor.peek() {
        None => 0,
        Some(b':') => {
            cursor.position += 1;
            cursor.digits(2)?
        }
        Some(_) => cursor.digits(2)?,
    };
    if cursor.position != bytes.len() || hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60) as i32)
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `input` as text with UTC as the default zone and compares the
    /// result's RFC 3339 rendering.
    fn check(input: &str, expected: &str) {
        let parsed = parse_text(input, EpochUnit::Auto, &DefaultZone::Utc).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(parsed.to_string(), expected, "input {input:?}");
    }

    fn check_err(input: &str, expected: &str) {
        let error = parse_text(input, EpochUnit::Auto, &DefaultZone::Utc).unwrap_err();
        assert_eq!(error.0, expected, "input {input:?}");
    }

    #[test]
    fn rfc3339_with_any_fraction_and_offset() {
        check("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.000000000Z");
        check("2024-01-02T03:04:05.1Z", "2024-01-02T03:04:05.100000000Z");
        check("2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05.123000000Z");
        check("2024-01-02T03:04:05.123456Z", "2024-01-02T03:04:05.123456000Z");
        check("2024-01-02T03:04:05.123456789Z", "2024-01-02T03:04:05.123456789Z");
        // Digits past nanoseconds are truncated, not rounded.
        check("2024-01-02T03:04:05.1234567891Z", "2024-01-02T03:04:05.123456789Z");
        check("2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05.000000000Z");
        check("2024-01-02T03:04:05.5-07:30", "2024-01-02T10:34:05.500000000Z");
        check("2024-01-02t03:04:05z", "2024-01-02T03:04:05.000000000Z");
        // zap's development encoder: offset without a colon.
        check("2024-01-02T03:04:05.000+0100", "2024-01-02T02:04:05.000000000Z");
        check("2024-01-02T03:04:05+01", "2024-01-02T02:04:05.000000000Z");
        // Crossing midnight and a year boundary through the offset.
        check("2024-01-01T00:30:00+01:00", "2023-12-31T23:30:00.000000000Z");
        check("  2024-02-29T12:00:00Z ", "2024-02-29T12:00:00.000000000Z");
        // Go's default time.String() format, as in logrus's README.
        check("2014-03-10 19:57:38.562264131 -0400 EDT", "2014-03-10T23:57:38.562264131Z");
        check("2014-03-10 19:57:38 +0000 UTC", "2014-03-10T19:57:38.000000000Z");
    }

    #[test]
    fn space_separator_comma_fraction_and_no_offset() {
        // Python logging's asctime and log4j's default pattern.
        check("2024-01-02 03:04:05,678", "2024-01-02T03:04:05.678000000Z");
        check("2024-01-02 03:04:05.678", "2024-01-02T03:04:05.678000000Z");
        check("2024-01-02 03:04:05", "2024-01-02T03:04:05.000000000Z");
        check("2024-01-02T03:04", "2024-01-02T03:04:00.000000000Z");
        check("2024-01-02", "2024-01-02T00:00:00.000000000Z");
    }

    #[test]
    fn default_zone_applies_only_without_offset() {
        let berlin = DefaultZone::parse("Europe/Berlin").unwrap();
        let parse = |s| parse_text(s, EpochUnit::Auto, &berlin).unwrap().to_string();
        // Winter (CET, +1) and summer (CEST, +2).
        assert_eq!(parse("2024-01-15 12:00:00"), "2024-01-15T11:00:00.000000000Z");
        assert_eq!(parse("2024-07-15 12:00:00"), "2024-07-15T10:00:00.000000000Z");
        assert_eq!(parse("2024-07-15T12:00:00Z"), "2024-07-15T12:00:00.000000000Z");
        let fixed = DefaultZone::parse("-05:00").unwrap();
        assert_eq!(
            parse_text("2024-01-15 12:00:00", EpochUnit::Auto, &fixed).unwrap().to_string(),
            "2024-01-15T17:00:00.000000000Z"
        );
        assert!(DefaultZone::parse("Mars/Olympus").unwrap_err().contains("unknown time zone"));
    }

    #[test]
    fn epoch_numbers_by_unit_and_magnitude() {
        let expect = "2023-11-14T22:13:20.000000000Z";
        for (value, unit) in [
            (1_700_000_000i64, EpochUnit::Auto),
            (1_700_000_000_000, EpochUnit::Auto),
            (1_700_000_000_000_000, EpochUnit::Auto),
            (1_700_000_000_000_000_000, EpochUnit::Auto),
            (1_700_000_000_000, EpochUnit::Millis),
        ] {
            assert_eq!(from_epoch_i64(value, unit).unwrap().to_string(), expect);
        }
        // A producer known to write seconds keeps that unit even for small values.
        assert_eq!(from_epoch_i64(86_400, EpochUnit::Seconds).unwrap().to_string(), "1970-01-02T00:00:00.000000000Z");
        assert!(from_epoch_i64(i64::MAX, EpochUnit::Seconds).is_err());
    }

    #[test]
    fn epoch_floats_round_to_the_microsecond() {
        let parse = |v, u| from_epoch_f64(v, u).unwrap().to_string();
        assert_eq!(parse(1_257_894_000.123456, EpochUnit::Seconds), "2009-11-10T23:00:00.123456000Z");
        assert_eq!(parse(1_521_911_720.865716, EpochUnit::Auto), "2018-03-24T17:15:20.865716000Z");
        assert_eq!(parse(1_531_171_074_631.5, EpochUnit::Auto), "2018-07-09T21:17:54.631500000Z");
        assert!(from_epoch_f64(f64::NAN, EpochUnit::Auto).is_err());
        assert!(from_epoch_f64(1e30, EpochUnit::Seconds).is_err());
    }

    #[test]
    fn epoch_strings_are_exact() {
        check("1700000000", "2023-11-14T22:13:20.000000000Z");
        check("1700000000.123456789", "2023-11-14T22:13:20.123456789Z");
        check("1700000000123", "2023-11-14T22:13:20.123000000Z");
        check("1700000000123456", "2023-11-14T22:13:20.123456000Z");
        check("1700000000123456789", "2023-11-14T22:13:20.123456789Z");
        // journald writes microseconds as a string; the known unit wins.
        let journald = parse_text("1700000000123456", EpochUnit::Micros, &DefaultZone::Utc);
        assert_eq!(journald.unwrap().to_string(), "2023-11-14T22:13:20.123456000Z");
    }

    #[test]
    fn malformed_text_is_an_error_not_a_guess() {
        check_err("", "empty timestamp");
        check_err("yesterday", EXPECTED_TEXT);
        check_err("2024-13-01T00:00:00Z", "date out of range (month 1-12, day within the month)");
        check_err("2023-02-29", "date out of range (month 1-12, day within the month)");
        check_err("2024-01-01T25:00:00Z", "time of day out of range");
        check_err("2024-01-01T10:00:00.Z", EXPECTED_TEXT);
        check_err("2024-01-01T10:00:00 UTC", "unrecognised time zone suffix: expected Z, +HH:MM, +HHMM or +HH");
        check_err("99999999999999999999", OUT_OF_RANGE);
        check_err("3000-01-01T00:00:00Z", OUT_OF_RANGE);
    }

    #[test]
    fn civil_round_trip_over_four_centuries() {
        for days in (-200_000..200_000).step_by(7) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
        assert_eq!(Timestamp::from_nanos(-1).to_string(), "1969-12-31T23:59:59.999999999Z");
    }
}
