//! Rendering results: aligned tables for people, NDJSON and JSON for scripts.

use std::io::{self, Write};

use sluice_schemas::Timestamp;

use sluice_query::aggregate::Terms;
use sluice_query::around::EventRef;
use sluice_query::compare::Comparison;
use sluice_query::fetch::FetchedRecord;
use sluice_query::fields::FieldsReport;
use sluice_query::patterns::Mined;
use sluice_query::time::Zone;

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Ndjson,
    Json,
}

/// Which columns a table of records shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// TIME LEVEL SERVICE HOST REF MESSAGE (`search`, `tail`).
    Search,
    /// Search's columns with the event's row marked `>` (`context`).
    Context { event: usize },
    /// TIME +GAP SERVICE LEVEL SPAN MESSAGE: the time since the previous
    /// line shows where a request waited (`trace`).
    Trace,
}

/// How a table of records looks: colors (on a terminal) and the zone its
/// times are shown in.
#[derive(Clone, Copy, Debug)]
pub struct TableStyle<'z> {
    pub color: bool,
    pub zone: &'z Zone,
}

/// Writes records. `total` is the number of matches in all; `refs`, when
/// given, is each record's reference (`REF` column).
pub fn write_records(
    out: &mut dyn Write,
    records: &[FetchedRecord],
    refs: &[EventRef],
    total: u64,
    format: Format,
    layout: Layout,
    style: TableStyle<'_>,
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
        Format::Table => write_table(out, &columns(records, refs, layout, style.zone), style.color)?,
    }
    Ok(())
}

/// `search --fields a,b`: each record as only the named fields, in that
/// order. A name is a record field (`timestamp`, `level`, `message`,
/// `service`, a declared field …), `ref` (the event reference), or an
/// attribute path (`http.status`, `user`). Absent fields are left out of
/// JSON and shown as `-` in tables.
pub fn write_selected(
    out: &mut dyn Write,
    records: &[FetchedRecord],
    refs: &[EventRef],
    fields: &[String],
    format: Format,
    zone: &Zone,
) -> io::Result<()> {
    let rows: Vec<Vec<Option<serde_json::Value>>> =
        records.iter().enumerate().map(|(i, record)| select(record, refs.get(i), fields)).collect();
    match format {
        Format::Table => {
            let columns: Vec<Column> = fields
                .iter()
                .enumerate()
                .map(|(f, name)| {
                    let cells = rows
                        .iter()
                        .zip(records)
                        .map(|(row, record)| match &row[f] {
                            None => "-".to_owned(),
                            Some(serde_json::Value::String(_)) if name == "timestamp" => {
                                zone.short_time(record.timestamp)
                            }
                            Some(serde_json::Value::String(text)) => text.replace('\n', "⏎"),
                            Some(other) => other.to_string(),
                        })
                        .collect();
                    Column::new(name.to_uppercase(), cells)
                })
                .collect();
            write_table(out, &columns, false)
        }
        Format::Ndjson | Format::Json => {
            let objects: Vec<String> = rows
                .iter()
                .map(|row| {
                    let members: Vec<String> = fields
                        .iter()
                        .zip(row)
                        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{}:{v}", serde_json::json!(name))))
                        .collect();
                    format!("{{{}}}", members.join(","))
                })
                .collect();
            if format == Format::Ndjson {
                objects.iter().try_for_each(|object| writeln!(out, "{object}"))
            } else {
                writeln!(out, "[{}]", objects.join(","))
            }
        }
    }
}

fn select(record: &FetchedRecord, reference: Option<&EventRef>, fields: &[String]) -> Vec<Option<serde_json::Value>> {
    let parsed: serde_json::Value = serde_json::from_str(&record.json).unwrap_or_default();
    fields
        .iter()
        .map(|name| match name.as_str() {
            "ref" => reference.map(|r| serde_json::Value::String(r.to_string())),
            _ => parsed
                .get(name)
                .or_else(|| parsed.get("attributes").and_then(|a| a.get(name)))
                .or_else(|| name.strip_prefix("attributes.").and_then(|p| parsed.get("attributes")?.get(p)))
                .cloned(),
        })
        .collect()
}

/// Table rows without a header, for records that arrive after the table
/// was started (`tail -f`).
pub fn write_rows(out: &mut dyn Write, records: &[FetchedRecord], style: TableStyle<'_>) -> io::Result<()> {
    let mut table = Vec::new();
    write_table(&mut table, &columns(records, &[], Layout::Search, style.zone), style.color)?;
    let body = table.iter().position(|b| *b == b'\n').map_or(&table[..], |end| &table[end + 1..]);
    out.write_all(body)
}

/// A table column: a header, one cell per row, and the cells' colors.
struct Column {
    header: String,
    cells: Vec<String>,
    colors: Vec<Option<&'static str>>,
}

impl Column {
    fn new(header: impl Into<String>, cells: Vec<String>) -> Column {
        let colors = vec![None; cells.len()];
        Column { header: header.into(), cells, colors }
    }
}

fn columns(records: &[FetchedRecord], refs: &[EventRef], layout: Layout, zone: &Zone) -> Vec<Column> {
    let text = |get: &dyn Fn(&FetchedRecord) -> Option<&str>| -> Vec<String> {
        records.iter().map(|r| get(r).unwrap_or("-").to_owned()).collect()
    };
    let time = Column::new("TIME", records.iter().map(|r| zone.short_time(r.timestamp)).collect());
    let mut level = Column::new("LEVEL", text(&|r| r.level.as_deref()));
    level.colors = records.iter().map(|r| r.level.as_deref().map(level_color)).collect();
    let service = Column::new("SERVICE", text(&|r| r.service.as_deref()));
    let message =
        Column::new("MESSAGE", records.iter().map(|r| r.message.as_deref().unwrap_or("").replace('\n', "⏎")).collect());
    match layout {
        Layout::Search | Layout::Context { .. } => {
            let host = Column::new("HOST", text(&|r| r.host.as_deref()));
            let reference = Column::new("REF", refs.iter().map(ToString::to_string).collect());
            let mut columns = vec![time, level, service, host];
            if !refs.is_empty() {
                columns.push(reference);
            }
            columns.push(message);
            if let Layout::Context { event } = layout {
                let marks = (0..records.len()).map(|i| if i == event { ">" } else { " " }.to_owned()).collect();
                let mut mark = Column::new(" ", marks);
                mark.colors = (0..records.len()).map(|i| (i == event).then_some("1")).collect();
                columns.insert(0, mark);
            }
            columns
        }
        Layout::Trace => {
            let gaps = records
                .iter()
                .enumerate()
                .map(|(i, r)| if i == 0 { "+0ms".to_owned() } else { gap(r.timestamp - records[i - 1].timestamp) })
                .collect();
            let span = Column::new("SPAN", text(&|r| r.span_id.as_deref()));
            vec![time, Column::new("+GAP", gaps), service, level, span, message]
        }
    }
}

/// `+12ms`, `+1.250s`, `+3m05s`: the time since the previous line.
fn gap(nanos: i64) -> String {
    let millis = nanos / 1_000_000;
    if nanos < 1_000_000 && nanos > 0 {
        format!("+{}µs", nanos / 1_000)
    } else if millis < 1_000 {
        format!("+{millis}ms")
    } else if millis < 60_000 {
        format!("+{}.{:03}s", millis / 1_000, millis % 1_000)
    } else {
        format!("+{}m{:02}s", millis / 60_000, (millis / 1_000) % 60)
    }
}

/// Aligned columns, two spaces apart; the last one is not padded.
fn write_table(out: &mut dyn Write, columns: &[Column], color: bool) -> io::Result<()> {
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| c.cells.iter().map(|cell| cell.chars().count()).max().unwrap_or(0).max(c.header.chars().count()))
        .collect();
    let last = columns.len().saturating_sub(1);
    let line = |cells: &mut dyn Iterator<Item = (usize, String, Option<&'static str>)>| {
        let mut line = String::new();
        for (i, text, paint) in cells {
            if i > 0 {
                line.push_str("  ");
            }
            let padded = if i == last { text } else { format!("{text:<width$}", width = widths[i]) };
            match paint.filter(|_| color) {
                Some(code) => line.push_str(&format!("\x1b[{code}m{padded}\x1b[0m")),
                None => line.push_str(&padded),
            }
        }
        line
    };
    let header = line(&mut columns.iter().enumerate().map(|(i, c)| (i, c.header.clone(), None)));
    if color {
        writeln!(out, "\x1b[1m{}\x1b[0m", header.trim_end())?;
    } else {
        writeln!(out, "{}", header.trim_end())?;
    }
    let rows = columns.first().map_or(0, |c| c.cells.len());
    for row in 0..rows {
        let text = line(&mut columns.iter().enumerate().map(|(i, c)| (i, c.cells[row].clone(), c.colors[row])));
        writeln!(out, "{}", text.trim_end())?;
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

/// Writes message templates, most frequent first: count, share of the
/// messages grouped, first and last seen.
pub fn write_patterns(out: &mut dyn Write, mined: &Mined, limit: usize, format: Format, zone: &Zone) -> io::Result<()> {
    let grouped = mined.sampled.first().copied().unwrap_or(0);
    let shown = &mined.patterns[..limit.min(mined.patterns.len())];
    let share = |count: u64| if grouped == 0 { 0.0 } else { count as f64 * 100.0 / grouped as f64 };
    let time = |nanos: i64| Timestamp::from_nanos(nanos).to_string();
    match format {
        Format::Json | Format::Ndjson => {
            let patterns: Vec<serde_json::Value> = shown
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "pattern": p.template, "count": p.count(), "share": round2(share(p.count())),
                        "first": time(p.first), "last": time(p.last),
                    })
                })
                .collect();
            let json = serde_json::json!({
                "matches": mined.totals.first(), "grouped": grouped,
                "templates": mined.patterns.len(), "patterns": patterns,
            });
            writeln!(out, "{json}")
        }
        Format::Table => {
            let columns = [
                Column::new("COUNT", shown.iter().map(|p| p.count().to_string()).collect()),
                Column::new("SHARE", shown.iter().map(|p| format!("{:.1}%", share(p.count()))).collect()),
                Column::new("FIRST SEEN", shown.iter().map(|p| zone.short_time(p.first)).collect()),
                Column::new("LAST SEEN", shown.iter().map(|p| zone.short_time(p.last)).collect()),
                Column::new("PATTERN", shown.iter().map(|p| p.template.clone()).collect()),
            ];
            write_table(out, &columns, false)
        }
    }
}

/// Writes what grew or appeared in a window against its baseline.
pub fn write_comparison(
    out: &mut dyn Write,
    comparison: &Comparison,
    limit: usize,
    format: Format,
    zone: &Zone,
) -> io::Result<()> {
    let shown = &comparison.changes[..limit.min(comparison.changes.len())];
    let time = |nanos: i64| Timestamp::from_nanos(nanos).to_string();
    match format {
        Format::Json | Format::Ndjson => {
            let changes: Vec<serde_json::Value> = shown
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "kind": c.kind, "value": c.value, "window": c.window, "baseline": c.baseline,
                        "expected": round2(c.expected), "ratio": c.ratio().map(round2), "new": c.baseline == 0,
                    })
                })
                .collect();
            let json = serde_json::json!({
                "window": { "from": time(comparison.window.0), "to": time(comparison.window.1), "count": comparison.window_count },
                "baseline": { "from": time(comparison.baseline.0), "to": time(comparison.baseline.1), "count": comparison.baseline_count },
                "changes": changes,
            });
            writeln!(out, "{json}")
        }
        Format::Table => {
            writeln!(
                out,
                "window   {} … {}  {} matches\nbaseline {} … {}  {} matches",
                zone.short_time(comparison.window.0),
                zone.short_time(comparison.window.1),
                comparison.window_count,
                zone.short_time(comparison.baseline.0),
                zone.short_time(comparison.baseline.1),
                comparison.baseline_count,
            )?;
            if shown.is_empty() {
                return writeln!(out, "nothing grew or appeared");
            }
            let change = |c: &sluice_query::compare::Change| c.ratio().map_or("new".to_owned(), |r| format!("×{r:.1}"));
            let columns = [
                Column::new("KIND", shown.iter().map(|c| c.kind.to_owned()).collect()),
                Column::new("WINDOW", shown.iter().map(|c| c.window.to_string()).collect()),
                Column::new("BASELINE", shown.iter().map(|c| c.baseline.to_string()).collect()),
                Column::new("EXPECTED", shown.iter().map(|c| format!("{:.1}", c.expected)).collect()),
                Column::new("CHANGE", shown.iter().map(change).collect()),
                Column::new("VALUE", shown.iter().map(|c| c.value.clone()).collect()),
            ];
            write_table(out, &columns, false)
        }
    }
}

/// Writes the fields of a sample of records with how often they occur.
pub fn write_fields(out: &mut dyn Write, report: &FieldsReport, format: Format) -> io::Result<()> {
    let share = |n: u64| if report.sampled == 0 { 0.0 } else { n as f64 * 100.0 / report.sampled as f64 };
    match format {
        Format::Json | Format::Ndjson => {
            let fields: Vec<serde_json::Value> = report
                .fields
                .iter()
                .map(|f| {
                    serde_json::json!({ "field": f.name, "type": f.kind, "records": f.records, "share": round2(share(f.records)) })
                })
                .collect();
            let json = serde_json::json!({ "matches": report.total, "sampled": report.sampled, "fields": fields });
            writeln!(out, "{json}")
        }
        Format::Table => {
            let f = &report.fields;
            let columns = [
                Column::new("FIELD", f.iter().map(|f| f.name.clone()).collect()),
                Column::new("TYPE", f.iter().map(|f| f.kind.to_owned()).collect()),
                Column::new("RECORDS", f.iter().map(|f| f.records.to_string()).collect()),
                Column::new("SHARE", f.iter().map(|f| format!("{:.1}%", share(f.records))).collect()),
            ];
            write_table(out, &columns, false)?;
            if report.sampled < report.total {
                writeln!(out, "(the newest {} of {} matching records)", report.sampled, report.total)?;
            }
            Ok(())
        }
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
            span_id: None,
            message: Some(message.into()),
        }
    }

    #[test]
    fn table_is_aligned() {
        let mut out = Vec::new();
        let records = [record("error", "connection refused"), record("info", "ok")];
        write_records(
            &mut out,
            &records,
            &[],
            2,
            Format::Table,
            Layout::Search,
            TableStyle { color: false, zone: &Zone::utc() },
        )
        .unwrap();
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
    fn selected_fields_in_their_order() {
        let mut record = record("error", "refused");
        record.json =
            r#"{"timestamp":"2024-03-01T00:00:01.209000000Z","level":"error","attributes":{"http.status":500}}"#.into();
        let fields: Vec<String> = ["http.status", "level", "host", "ref", "timestamp"].map(String::from).to_vec();
        let refs = [EventRef { hour: 474792, batch: 1, row: 7, source: 0 }];
        let mut out = Vec::new();
        write_selected(&mut out, &[record.clone()], &refs, &fields, Format::Ndjson, &Zone::utc()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"http.status\":500,\"level\":\"error\",\"ref\":\"474792:1:7\",\"timestamp\":\"2024-03-01T00:00:01.209000000Z\"}\n"
        );
        let mut out = Vec::new();
        write_selected(&mut out, &[record], &refs, &fields, Format::Table, &Zone::utc()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP.STATUS  LEVEL  HOST  REF         TIMESTAMP\n\
             500          error  -     474792:1:7  2024-03-01T00:00:01.209Z\n"
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
