//! Log levels: the six canonical [`Level`]s, OpenTelemetry severity numbers,
//! and the one table that maps every producer's words and numbers onto them.
//!
//! # The mapping table
//!
//! Severity numbers follow the OpenTelemetry log data model (1-4 trace,
//! 5-8 debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal) and its
//! "SeverityNumber example mappings" appendix for syslog, log4j, zap and
//! java.util.logging.
//!
//! | text (any case)                         | number | level |
//! | --------------------------------------- | ------ | ----- |
//! | `trace`, `finest`, `verbose`, `vrb`, `v` | 1      | trace |
//! | `debug`, `dbg`, `finer`, `d`            | 5      | debug |
//! | `fine`                                  | 6      | debug |
//! | `config`                                | 7      | debug |
//! | `info`, `information`, `informational`, `inf`, `i` | 9 | info |
//! | `notice`                                | 10     | info  |
//! | `warn`, `warning`, `wrn`, `w`           | 13     | warn  |
//! | `error`, `err`, `eror`, `severe`, `e`   | 17     | error |
//! | `crit` (syslog)                         | 18     | error |
//! | `dpanic` (zap)                          | 18     | error |
//! | `alert` (syslog)                        | 19     | error |
//! | `panic` (zap)                           | 19     | error |
//! | `fatal`, `ftl`, `emerg`, `emergency`, `f`, `a` (Android assert) | 21 | fatal |
//! | `critical` (Python, .NET: their highest) | 21    | fatal |
//!
//! Where producers disagree, the producer's convention overrides the table:
//!
//! * **Syslog** (journald `PRIORITY`, GELF `level`, GCP `severity`): numbers
//!   0-7 are RFC 5424 severities (0 emerg → 21, 1 alert → 19, 2 crit → 18,
//!   3 err → 17, 4 warning → 13, 5 notice → 10, 6 info → 9, 7 debug → 5),
//!   and `critical` sits below `alert` and `emergency` (→ 18).
//! * **Python** (python-json-logger, structlog): `critical` is the highest
//!   level (→ 21), as in the table.
//! * **logrus**: `panic` is above `fatal` (→ 24, fatal).
//! * **bunyan / pino** numbers: 10 trace, 20 debug, 30 info, 40 warn,
//!   50 error, 60 fatal; numbers between round down (pino custom levels).
//! * **OpenTelemetry** `SeverityNumber`: taken as it is (1-24).
//! * A number from an unknown producer: 0-7 is read as syslog, multiples of
//!   ten from 10 to 60 as bunyan; anything else is unrecognised.
//!
//! `default`, `unspecified`, `off` and `all` mean "no level".
//! An unrecognised value leaves `level` absent, keeps the original field in
//! `attributes` and adds a note to the record: nothing is guessed.

use std::fmt;

/// The canonical level. Ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    pub const ALL: [Level; 6] = [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    /// The level an OpenTelemetry severity number (1-24) falls in.
    pub fn from_severity_number(number: SeverityNumber) -> Level {
        match number.get() {
            1..=4 => Level::Trace,
            5..=8 => Level::Debug,
            9..=12 => Level::Info,
            13..=16 => Level::Warn,
            17..=20 => Level::Error,
            _ => Level::Fatal,
        }
    }

    /// The first severity number of this level's range.
    pub fn severity_number(self) -> SeverityNumber {
        SeverityNumber(match self {
            Level::Trace => 1,
            Level::Debug => 5,
            Level::Info => 9,
            Level::Warn => 13,
            Level::Error => 17,
            Level::Fatal => 21,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OpenTelemetry severity number, guaranteed to be in 1..=24.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeverityNumber(u8);

impl SeverityNumber {
    pub fn new(number: u8) -> Option<SeverityNumber> {
        (1..=24).contains(&number).then_some(SeverityNumber(number))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// Whose rules a level value follows. See the module docs for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelConvention {
    /// Words from the common table; numbers 0-7 as syslog, 10-60 as bunyan.
    Generic,
    /// RFC 5424 severities: numbers 0-7, `critical` below `alert`.
    Syslog,
    /// bunyan and pino: numbers 10-60.
    Bunyan,
    /// OpenTelemetry severity numbers 1-24.
    OpenTelemetry,
    /// logrus: `panic` above `fatal`.
    Logrus,
}

/// The outcome of reading a level: both canonical forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedLevel {
    pub level: Level,
    pub severity_number: SeverityNumber,
}

impl ParsedLevel {
    fn from_number(number: u8) -> Option<ParsedLevel> {
        let severity_number = SeverityNumber::new(number)?;
        Some(ParsedLevel { level: Level::from_severity_number(severity_number), severity_number })
    }
}

/// What a level value said when it did not say a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelOutcome {
    Parsed(ParsedLevel),
    /// The producer explicitly said "no level" (`DEFAULT`, `unspecified`, 0 in OpenTelemetry).
    Unspecified,
    Unrecognized,
}

/// Words of the common table, lowercase, with their severity numbers.
const WORDS: &[(&str, u8)] = &[
    ("info", 9),
    ("error", 17),
    ("warn", 13),
    ("debug", 5),
    ("warning", 13),
    ("trace", 1),
    ("fatal", 21),
    ("notice", 10),
    ("critical", 21),
    ("err", 17),
    ("crit", 18),
    ("alert", 19),
    ("emerg", 21),
    ("emergency", 21),
    ("panic", 19),
    ("dpanic", 18),
    ("severe", 17),
    ("verbose", 1),
    ("information", 9),
    ("informational", 9),
    ("finest", 1),
    ("finer", 5),
    ("fine", 6),
    ("config", 7),
    ("dbg", 5),
    ("inf", 9),
    ("wrn", 13),
    ("eror", 17),
    ("ftl", 21),
    ("vrb", 1),
    ("i", 9),
    ("e", 17),
    ("w", 13),
    ("d", 5),
    ("v", 1),
    ("f", 21),
    ("a", 21),
];

const NO_LEVEL_WORDS: &[&str] = &["default", "unspecified", "off", "all", "none"];

/// Reads a level written as text: a word, or digits (`"6"` from journald).
pub fn parse_level_text(text: &str, convention: LevelConvention) -> LevelOutcome {
    let text = text.trim();
    if !text.is_empty() && text.len() <= 3 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().map_or(LevelOutcome::Unrecognized, |n| parse_level_number(n, convention));
    }
    // Lowercase once into a stack buffer; every known word is short.
    let mut buffer = [0u8; 16];
    let Some(lower) = buffer.get_mut(..text.len()) else { return LevelOutcome::Unrecognized };
    for (to, from) in lower.iter_mut().zip(text.bytes()) {
        *to = from.to_ascii_lowercase();
    }
    let lower: &[u8] = lower;
    let number = convention_word(lower, convention)
        .or_else(|| WORDS.iter().find(|(word, _)| word.as_bytes() == lower).map(|&(_, n)| n));
    if let Some(number) = number {
        return ParsedLevel::from_number(number).map_or(LevelOutcome::Unrecognized, LevelOutcome::Parsed);
    }
    // OpenTelemetry severity texts such as "INFO2" or "ERROR3".
    if let Some(parsed) = otel_short_name(text) {
        return LevelOutcome::Parsed(parsed);
    }
    if NO_LEVEL_WORDS.iter().any(|w| w.as_bytes() == lower) {
        return LevelOutcome::Unspecified;
    }
    LevelOutcome::Unrecognized
}

/// Words whose meaning depends on the producer.
fn convention_word(lowercase: &[u8], convention: LevelConvention) -> Option<u8> {
    match (convention, lowercase) {
        (LevelConvention::Syslog, b"critical") => Some(18),
        (LevelConvention::Logrus, b"panic") => Some(24),
        _ => None,
    }
}

/// `TRACE2`, `INFO3`, `FATAL4`, … as OpenTelemetry writes severity texts.
fn otel_short_name(text: &str) -> Option<ParsedLevel> {
    let (name, digit) = text.split_at_checked(text.len().checked_sub(1)?)?;
    let step = digit.parse::<u8>().ok().filter(|d| (2..=4).contains(d))?;
    let level = Level::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(name))?;
    ParsedLevel::from_number(level.severity_number().get() + step - 1)
}

/// Reads a numeric level under the producer's convention.
pub fn parse_level_number(number: i64, convention: LevelConvention) -> LevelOutcome {
    let parsed = match convention {
        LevelConvention::OpenTelemetry if number == 0 => return LevelOutcome::Unspecified,
        LevelConvention::OpenTelemetry => u8::try_from(number).ok().and_then(ParsedLevel::from_number),
        LevelConvention::Syslog => syslog_number(number),
        LevelConvention::Bunyan => bunyan_number(number),
        LevelConvention::Generic | LevelConvention::Logrus => match number {
            0..=7 => syslog_number(number),
            10..=60 if number % 10 == 0 => bunyan_number(number),
            _ => None,
        },
    };
    parsed.map_or(LevelOutcome::Unrecognized, LevelOutcome::Parsed)
}

fn syslog_number(number: i64) -> Option<ParsedLevel> {
    let severity = match number {
        0 => 21,
        1 => 19,
        2 => 18,
        3 => 17,
        4 => 13,
        5 => 10,
        6 => 9,
        7 => 5,
        _ => return None,
    };
    ParsedLevel::from_number(severity)
}

fn bunyan_number(number: i64) -> Option<ParsedLevel> {
    let severity = match number {
        ..10 => return None,
        10..=19 => 1,
        20..=29 => 5,
        30..=39 => 9,
        40..=49 => 13,
        50..=59 => 17,
        60..=100 => 21,
        _ => return None,
    };
    ParsedLevel::from_number(severity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, convention: LevelConvention, expected: Option<(Level, u8)>) {
        let got = match parse_level_text(text, convention) {
            LevelOutcome::Parsed(p) => Some((p.level, p.severity_number.get())),
            LevelOutcome::Unspecified | LevelOutcome::Unrecognized => None,
        };
        assert_eq!(got, expected, "{text:?} under {convention:?}");
    }

    #[test]
    fn words_in_any_case() {
        use Level::*;
        let g = LevelConvention::Generic;
        for (text, level, number) in [
            ("trace", Trace, 1),
            ("TRACE", Trace, 1),
            ("Debug", Debug, 5),
            ("info", Info, 9),
            ("INFO", Info, 9),
            ("Information", Info, 9),
            ("informational", Info, 9),
            ("notice", Info, 10),
            ("warn", Warn, 13),
            ("WARNING", Warn, 13),
            ("err", Error, 17),
            ("error", Error, 17),
            ("crit", Error, 18),
            ("critical", Fatal, 21),
            ("alert", Error, 19),
            ("emerg", Fatal, 21),
            ("EMERGENCY", Fatal, 21),
            ("fatal", Fatal, 21),
            ("panic", Error, 19),
            ("dpanic", Error, 18),
            ("SEVERE", Error, 17),
            ("verbose", Trace, 1),
            ("FINEST", Trace, 1),
            ("finer", Debug, 5),
            ("fine", Debug, 6),
            ("config", Debug, 7),
            ("V", Trace, 1),
            ("D", Debug, 5),
            ("I", Info, 9),
            ("W", Warn, 13),
            ("E", Error, 17),
            ("F", Fatal, 21),
            ("INF", Info, 9),
            ("WRN", Warn, 13),
            ("ERR", Error, 17),
            ("FTL", Fatal, 21),
            ("INFO2", Info, 10),
            ("ERROR3", Error, 19),
            (" info ", Info, 9),
        ] {
            check(text, g, Some((level, number)));
        }
    }

    #[test]
    fn conventions_decide_where_producers_collide() {
        use Level::*;
        // Syslog's critical sits below alert and emergency; Python's is its highest.
        check("CRITICAL", LevelConvention::Syslog, Some((Error, 18)));
        check("CRITICAL", LevelConvention::Generic, Some((Fatal, 21)));
        // logrus panics above fatal; zap (generic table) panics below it.
        check("panic", LevelConvention::Logrus, Some((Fatal, 24)));
        check("panic", LevelConvention::Generic, Some((Error, 19)));
        // The number 3: syslog err, OpenTelemetry TRACE3.
        check("3", LevelConvention::Syslog, Some((Error, 17)));
        check("3", LevelConvention::OpenTelemetry, Some((Trace, 3)));
        check("3", LevelConvention::Generic, Some((Error, 17)));
    }

    #[test]
    fn numbers() {
        use Level::*;
        let n = |v, c| match parse_level_number(v, c) {
            LevelOutcome::Parsed(p) => Some((p.level, p.severity_number.get())),
            _ => None,
        };
        let syslog = [
            (0, Fatal, 21),
            (1, Error, 19),
            (2, Error, 18),
            (3, Error, 17),
            (4, Warn, 13),
            (5, Info, 10),
            (6, Info, 9),
            (7, Debug, 5),
        ];
        for (value, level, number) in syslog {
            assert_eq!(n(value, LevelConvention::Syslog), Some((level, number)));
        }
        let bunyan = [
            (10, Trace, 1),
            (20, Debug, 5),
            (30, Info, 9),
            (35, Info, 9),
            (40, Warn, 13),
            (50, Error, 17),
            (60, Fatal, 21),
        ];
        for (value, level, number) in bunyan {
            assert_eq!(n(value, LevelConvention::Bunyan), Some((level, number)));
        }
        for value in 1..=24u8 {
            let parsed = n(i64::from(value), LevelConvention::OpenTelemetry).unwrap();
            assert_eq!(parsed.1, value);
        }
        assert_eq!(parse_level_number(0, LevelConvention::OpenTelemetry), LevelOutcome::Unspecified);
        assert_eq!(n(25, LevelConvention::OpenTelemetry), None);
        assert_eq!(n(8, LevelConvention::Syslog), None);
        assert_eq!(n(35, LevelConvention::Generic), None);
        assert_eq!(n(-1, LevelConvention::Generic), None);
    }

    #[test]
    fn no_level_and_unknown_words() {
        assert_eq!(parse_level_text("DEFAULT", LevelConvention::Syslog), LevelOutcome::Unspecified);
        assert_eq!(parse_level_text("combo", LevelConvention::Generic), LevelOutcome::Unrecognized);
        assert_eq!(parse_level_text("", LevelConvention::Generic), LevelOutcome::Unrecognized);
        assert_eq!(parse_level_text("INFO9", LevelConvention::Generic), LevelOutcome::Unrecognized);
    }
}
