//! Rendering results: aligned tables for people, NDJSON and JSON for scripts.

use std::io::{self, Write};

use sluice_schemas::Timestamp;

use crate::aggregate::Terms;
use crate::fetch::FetchedRecord;

/// A value of a field (`None`: records without it) and its count.
pub type Bucket = (Option<String>, u64);

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Ndjson,
    Json,
}

/// Writes search results. `total` is the number of matches in all.
pub fn write_records(
    out: &mut dyn Write,
    records: &[FetchedRecord],
    total: u64,
    format: Format,
    color: bool,
) -> io::Result<()> {
    match format {
        Format::Ndjson => {
            for record in records {
                writeln!(out, "{}", record.json)?;
            }
        }
        Format::Json => {
            write!(out, "{{\"total\":{total},\"returned\":{},\"hits\":[", records.len())?;
            for (i, record) in records.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                out.write_all(record.json.as_bytes())?;
            }
            writeln!(out, "]}}")?;
        }
        Format::Table => {
            let time = |r: &FetchedRecord| short_time(r.timestamp);
            let width = |get: &dyn Fn(&FetchedRecord) -> usize, header: &str| {
                records.iter().map(get).max().unwrap_or(0).max(header.len())
            };
            let level_width = width(&|r| r.level.as_deref().map_or(1, str::len), "LEVEL");
            let service_width = width(&|r| r.service.as_deref().map_or(1, str::len), "SERVICE");
            let host_width = width(&|r| r.host.as_deref().map_or(1, str::len), "HOST");
            let header = format!(
                "{:<24}  {:<level_width$}  {:<service_width$}  {:<host_width$}  MESSAGE",
                "TIME", "LEVEL", "SERVICE", "HOST"
            );
            if color {
                writeln!(out, "\x1b[1m{header}\x1b[0m")?;
            } else {
                writeln!(out, "{header}")?;
            }
            for record in records {
                let level = record.level.as_deref().unwrap_or("-");
                let padded = format!("{level:<level_width$}");
                let level_cell = if color { paint_level(level, &padded) } else { padded };
                let message = record.message.as_deref().unwrap_or("").replace('\n', "⏎");
                writeln!(
                    out,
                    "{:<24}  {}  {:<service_width$}  {:<host_width$}  {}",
                    time(record),
                    level_cell,
                    record.service.as_deref().unwrap_or("-"),
                    record.host.as_deref().unwrap_or("-"),
                    message,
                )?;
            }
        }
    }
    Ok(())
}

/// Values of a field with their counts, as `count --by` and `top` show them.
pub struct ValueCounts<'a> {
    pub field: &'a str,
    pub terms: &'a Terms,
    /// `top`: only this many values; the rest are summed into "other".
    pub limit: Option<usize>,
    /// Draw a bar per value (`top`).
    pub bars: bool,
}

/// Writes a count, or counts by value with each value's share.
pub fn write_counts(out: &mut dyn Write, total: u64, by: Option<ValueCounts<'_>>, format: Format) -> io::Result<()> {
    let Some(ValueCounts { field, terms, limit, bars }) = by else {
        return match format {
            Format::Table => writeln!(out, "{total}"),
            Format::Json | Format::Ndjson => writeln!(out, "{}", serde_json::json!({ "count": total })),
        };
    };
    let shown = limit.unwrap_or(usize::MAX).min(terms.buckets.len());
    let buckets = &terms.buckets[..shown];
    let other = terms.other + terms.buckets[shown..].iter().map(|(_, c)| c).sum::<u64>();
    let others = terms.distinct - shown;
    let share = |count: u64| if total == 0 { 0.0 } else { count as f64 * 100.0 / total as f64 };
    match format {
        Format::Json | Format::Ndjson => {
            let buckets: Vec<serde_json::Value> = buckets
                .iter()
                .map(|(value, count)| {
                    serde_json::json!({ "value": value, "count": count, "share": round2(share(*count)) })
                })
                .collect();
            let json = serde_json::json!({
                "count": total, "by": field, "buckets": buckets, "other": other, "distinct": terms.distinct,
            });
            writeln!(out, "{json}")
        }
        Format::Table => {
            let label = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".to_owned());
            let other_label = format!("({others} other value{})", if others == 1 { "" } else { "s" });
            let value_width = buckets
                .iter()
                .map(|(v, _)| label(v).chars().count())
                .chain((other > 0).then(|| other_label.chars().count()))
                .max()
                .unwrap_or(0)
                .max(field.len())
                .max(5);
            let count_width = total.to_string().len().max(5);
            let most = buckets.first().map_or(0, |(_, c)| *c).max(other);
            let bar =
                |count: u64| if bars { format!("  {}", crate::chart::bar(count, most, 40)) } else { String::new() };
            writeln!(out, "{:<value_width$}  {:>count_width$}  {:>6}", field.to_uppercase(), "COUNT", "SHARE")?;
            for (value, count) in buckets {
                let line = format!(
                    "{:<value_width$}  {count:>count_width$}  {:>5.1}%{}",
                    label(value),
                    share(*count),
                    bar(*count)
                );
                writeln!(out, "{}", line.trim_end())?;
            }
            if other > 0 {
                let line =
                    format!("{other_label:<value_width$}  {other:>count_width$}  {:>5.1}%{}", share(other), bar(other));
                writeln!(out, "{}", line.trim_end())?;
            }
            writeln!(out, "{:<value_width$}  {total:>count_width$}  {:>5.1}%", "total", 100.0)
        }
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// `2024-03-01T00:00:01.209Z`: millisecond precision, always UTC.
pub fn short_time(nanos: i64) -> String {
    let full = Timestamp::from_nanos(nanos).to_string(); // …:SS.nnnnnnnnnZ
    format!("{}Z", &full[..23])
}

pub fn paint_level(level: &str, padded: &str) -> String {
    format!("\x1b[{}m{padded}\x1b[0m", level_color(level))
}

/// The ANSI color of a level: errors red, warnings yellow, and so on.
pub fn level_color(level: &str) -> &'static str {
    match level {
        "fatal" | "critical" | "alert" | "emergency" => "1;35",
        "error" => "1;31",
        "warn" | "warning" => "33",
        "debug" | "trace" => "2",
        _ => "32",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: &str, message: &str) -> FetchedRecord {
        FetchedRecord {
            json: format!("{{\"level\":\"{level}\"}}"),
            timestamp: 1_709_251_201_209_000_000,
            level: Some(level.into()),
            service: Some("sshd".into()),
            host: None,
            message: Some(message.into()),
        }
    }

    #[test]
    fn table_is_aligned() {
        let mut out = Vec::new();
        let records = [record("error", "connection refused"), record("info", "ok")];
        write_records(&mut out, &records, 2, Format::Table, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TIME                      LEVEL  SERVICE  HOST  MESSAGE\n\
             2024-03-01T00:00:01.209Z  error  sshd     -     connection refused\n\
             2024-03-01T00:00:01.209Z  info   sshd     -     ok\n"
        );
    }

    #[test]
    fn counts_by_value_with_share() {
        let mut out = Vec::new();
        let terms = Terms { buckets: vec![(Some("info".to_owned()), 3), (None, 1)], other: 0, distinct: 2 };
        let by = || Some(ValueCounts { field: "level", terms: &terms, limit: None, bars: false });
        write_counts(&mut out, 4, by(), Format::Table).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "LEVEL   COUNT   SHARE\ninfo        3   75.0%\n(none)      1   25.0%\ntotal       4  100.0%\n"
        );
        let mut out = Vec::new();
        write_counts(&mut out, 4, by(), Format::Json).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"buckets\":[{\"count\":3,\"share\":75.0,\"value\":\"info\"},{\"count\":1,\"share\":25.0,\"value\":null}],\"by\":\"level\",\"count\":4,\"distinct\":2,\"other\":0}\n"
        );
    }

    #[test]
    fn top_values_with_bars_and_the_rest() {
        let terms = Terms {
            buckets: vec![(Some("api".to_owned()), 6), (Some("db".to_owned()), 3), (Some("sshd".to_owned()), 1)],
            other: 0,
            distinct: 3,
        };
        let mut out = Vec::new();
        let by = ValueCounts { field: "service", terms: &terms, limit: Some(2), bars: true };
        write_counts(&mut out, 10, Some(by), Format::Table).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SERVICE          COUNT   SHARE\n\
             api                  6   60.0%  ████████████████████████████████████████\n\
             db                   3   30.0%  ████████████████████\n\
             (1 other value)      1   10.0%  ██████▋\n\
             total               10  100.0%\n"
        );
    }
}
