//! Rendering results: aligned tables for people, NDJSON and JSON for scripts.

use std::io::{self, Write};

use sluice_schemas::Timestamp;

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

/// Writes a count, or counts by value with each value's share.
pub fn write_counts(out: &mut dyn Write, total: u64, by: Option<(&str, &[Bucket])>, format: Format) -> io::Result<()> {
    let Some((field, buckets)) = by else {
        return match format {
            Format::Table => writeln!(out, "{total}"),
            Format::Json | Format::Ndjson => writeln!(out, "{}", serde_json::json!({ "count": total })),
        };
    };
    match format {
        Format::Json | Format::Ndjson => {
            let buckets: Vec<serde_json::Value> =
                buckets.iter().map(|(value, count)| serde_json::json!({ "value": value, "count": count })).collect();
            writeln!(out, "{}", serde_json::json!({ "count": total, "by": field, "buckets": buckets }))
        }
        Format::Table => {
            let label = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".to_owned());
            let value_width = buckets.iter().map(|(v, _)| label(v).chars().count()).max().unwrap_or(0).max(field.len());
            let count_width = buckets.iter().map(|(_, c)| c.to_string().len()).max().unwrap_or(0).max(5);
            writeln!(out, "{:<value_width$}  {:>count_width$}  {:>6}", field.to_uppercase(), "COUNT", "SHARE")?;
            for (value, count) in buckets {
                let share = if total == 0 { 0.0 } else { *count as f64 * 100.0 / total as f64 };
                writeln!(out, "{:<value_width$}  {count:>count_width$}  {share:>5.1}%", label(value))?;
            }
            writeln!(out, "{:<value_width$}  {total:>count_width$}  {:>5.1}%", "total", 100.0)
        }
    }
}

/// `2024-03-01T00:00:01.209Z`: millisecond precision, always UTC.
fn short_time(nanos: i64) -> String {
    let full = Timestamp::from_nanos(nanos).to_string(); // …:SS.nnnnnnnnnZ
    format!("{}Z", &full[..23])
}

fn paint_level(level: &str, padded: &str) -> String {
    let code = match level {
        "fatal" | "critical" | "alert" | "emergency" => "1;35",
        "error" => "1;31",
        "warn" | "warning" => "33",
        "debug" | "trace" => "2",
        _ => "32",
    };
    format!("\x1b[{code}m{padded}\x1b[0m")
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
        let buckets = [(Some("info".to_owned()), 3), (None, 1)];
        write_counts(&mut out, 4, Some(("level", &buckets)), Format::Table).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "LEVEL   COUNT   SHARE\ninfo        3   75.0%\n(none)      1   25.0%\ntotal       4  100.0%\n"
        );
        let mut out = Vec::new();
        write_counts(&mut out, 4, Some(("level", &buckets)), Format::Json).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"buckets\":[{\"count\":3,\"value\":\"info\"},{\"count\":1,\"value\":null}],\"by\":\"level\",\"count\":4}\n"
        );
    }
}
