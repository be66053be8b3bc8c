//! Bar charts in the terminal: value bars for `top`, a time histogram
//! (stacked by a field's values when asked) for `histogram`.

use std::io::{self, Write};

use crate::output::{Format, level_color};
use sluice_query::aggregate::{Histogram, interval_label};
use sluice_query::time::Zone;

/// A bar of `count` out of `most` over at most `width` cells, drawn to an
/// eighth of a cell; a non-zero count always shows.
pub fn bar(count: u64, most: u64, width: usize) -> String {
    if count == 0 || most == 0 {
        return String::new();
    }
    let eighths = ((count as f64 / most as f64) * (width * 8) as f64).round().max(1.0) as usize;
    let mut out = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        out.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8 - 1]);
    }
    out
}

/// Glyphs of the stacked series when there is no color to tell them apart.
const GLYPHS: [char; 6] = ['█', '▓', '▒', '░', '#', '='];
/// Colors of series that are not levels.
const COLORS: [&str; 6] = ["36", "35", "34", "32", "33", "31"];

/// Writes a histogram: a bar per bucket for people, JSON or one bucket per
/// line for scripts.
pub fn write_histogram(
    out: &mut dyn Write,
    histogram: &Histogram,
    by: Option<&str>,
    format: Format,
    color: bool,
    width: usize,
    zone: &Zone,
) -> io::Result<()> {
    let total: u64 = histogram.buckets.iter().map(|b| b.count).sum();
    let bucket_json = |bucket: &sluice_query::aggregate::TimeBucket| {
        let mut json = serde_json::json!({
            "start": sluice_schemas::Timestamp::from_nanos(bucket.start).to_string(),
            "count": bucket.count,
        });
        if by.is_some() {
            json["by"] =
                bucket.by.iter().map(|(value, count)| serde_json::json!({ "value": value, "count": count })).collect();
        }
        json
    };
    match format {
        Format::Ndjson => {
            for bucket in &histogram.buckets {
                writeln!(out, "{}", bucket_json(bucket))?;
            }
            Ok(())
        }
        Format::Json => {
            let buckets: Vec<serde_json::Value> = histogram.buckets.iter().map(bucket_json).collect();
            let json = serde_json::json!({
                "interval": interval_label(histogram.interval),
                "interval_seconds": histogram.interval / 1_000_000_000,
                "count": total,
                "by": by,
                "buckets": buckets,
            });
            writeln!(out, "{json}")
        }
        Format::Table => {
            let most = histogram.buckets.iter().map(|b| b.count).max().unwrap_or(0);
            let count_width = most.to_string().len().max(5);
            let time_width = zone.short_time(0).len();
            let bar_width = width.saturating_sub(time_width + count_width + 4).clamp(10, 100);
            writeln!(
                out,
                "{:<time_width$}  {:>count_width$}  per {}",
                if zone.short_time(0).ends_with('Z') { "TIME (UTC)" } else { "TIME" },
                "COUNT",
                interval_label(histogram.interval)
            )?;
            for bucket in &histogram.buckets {
                let bars = match by {
                    None => bar(bucket.count, most, bar_width),
                    Some(field) => stacked(bucket, histogram, field, most, bar_width, color),
                };
                let line =
                    format!("{:<time_width$}  {:>count_width$}  {bars}", zone.short_time(bucket.start), bucket.count);
                writeln!(out, "{}", line.trim_end())?;
            }
            writeln!(out, "{:<time_width$}  {total:>count_width$}", "total")?;
            if let Some(field) = by {
                let legend: Vec<String> = histogram
                    .values
                    .iter()
                    .enumerate()
                    .map(|(i, value)| {
                        let name = value.as_deref().unwrap_or("(none)");
                        format!("{} {name}", paint(i, value.as_deref(), field, &glyph(i, color).to_string(), color))
                    })
                    .collect();
                writeln!(out, "{}", legend.join("  "))?;
            }
            Ok(())
        }
    }
}

/// One bucket's bar, a segment per value in the legend's order. Segments
/// are whole cells, rounded so that they add up to the bucket's bar.
fn stacked(
    bucket: &sluice_query::aggregate::TimeBucket,
    histogram: &Histogram,
    field: &str,
    most: u64,
    width: usize,
    color: bool,
) -> String {
    if bucket.count == 0 {
        return String::new();
    }
    let cells = |count: u64| (count as f64 / most as f64 * width as f64).round() as usize;
    let mut out = String::new();
    let mut running = 0u64;
    let mut drawn = 0usize;
    for (i, value) in histogram.values.iter().enumerate() {
        let Some((_, count)) = bucket.by.iter().find(|(v, _)| v == value) else { continue };
        running += count;
        let upto = cells(running).max(drawn + 1);
        let segment: String = std::iter::repeat_n(glyph(i, color), upto - drawn).collect();
        drawn = upto;
        out.push_str(&paint(i, value.as_deref(), field, &segment, color));
    }
    out
}

fn glyph(series: usize, color: bool) -> char {
    if color { '█' } else { GLYPHS[series % GLYPHS.len()] }
}

fn paint(series: usize, value: Option<&str>, field: &str, text: &str, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let code = match (field, value) {
        ("level", Some(level)) => level_color(level),
        _ => COLORS[series % COLORS.len()],
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_query::aggregate::TimeBucket;

    #[test]
    fn bars_are_drawn_to_an_eighth() {
        assert_eq!(bar(10, 10, 4), "████");
        assert_eq!(bar(5, 10, 3), "█▌");
        assert_eq!(bar(1, 1000, 4), "▏");
        assert_eq!(bar(0, 10, 4), "");
    }

    fn histogram() -> Histogram {
        let hour = 3_600_000_000_000;
        let start = 1_709_251_200_000_000_000; // 2024-03-01T00:00:00Z
        let info = || Some("info".to_owned());
        let error = || Some("error".to_owned());
        Histogram {
            interval: hour,
            buckets: vec![
                TimeBucket { start, count: 4, by: vec![(info(), 3), (error(), 1)] },
                TimeBucket { start: start + hour, count: 0, by: vec![] },
                TimeBucket { start: start + 2 * hour, count: 2, by: vec![(error(), 2)] },
            ],
            values: vec![info(), error()],
        }
    }

    #[test]
    fn stacked_histogram_without_color() {
        let mut out = Vec::new();
        write_histogram(&mut out, &histogram(), Some("level"), Format::Table, false, 42, &Zone::utc()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TIME (UTC)                COUNT  per 1h\n\
             2024-03-01T00:00:00.000Z      4  ████████▓▓\n\
             2024-03-01T01:00:00.000Z      0\n\
             2024-03-01T02:00:00.000Z      2  ▓▓▓▓▓\n\
             total                         6\n\
             █ info  ▓ error\n"
        );
    }

    #[test]
    fn histogram_as_json() {
        let mut out = Vec::new();
        write_histogram(&mut out, &histogram(), None, Format::Json, false, 80, &Zone::utc()).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(json["interval"], "1h");
        assert_eq!(json["count"], 6);
        assert_eq!(json["buckets"][1], serde_json::json!({"start": "2024-03-01T01:00:00.000000000Z", "count": 0}));
    }
}
