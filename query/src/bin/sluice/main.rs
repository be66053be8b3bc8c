//! `sluice`: the incident CLI over a Sluice data directory.

mod chart;
mod cli;
mod generate;
mod output;
mod sql;
mod terminal;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chart::write_histogram;
use clap::Parser;
use cli::{Args, Command, OutputFormat};
use output::{
    Layout, TableStyle, ValueCounts, write_comparison, write_counts, write_fields, write_patterns, write_records,
    write_rows, write_selected,
};
use sluice_query::aggregate::Interval;
use sluice_query::around::EventRef;
use sluice_query::fetch::FetchedRecord;
use sluice_query::follow::Follower;
use sluice_query::stats::{Stats, human_bytes};
use sluice_query::store::Store;
use sluice_query::time::{TimeRange, Zone, parse_baseline};
use sluice_query::{QueryError, api};
use sluice_schemas::Timestamp;
use terminal::{error_label, stdout_color};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Args::parse();
    anstream::ColorChoice::from(args.color).write_global();
    let data_dirs = if args.data_dir.is_empty() { vec![PathBuf::from("sluice-data")] } else { args.data_dir.clone() };
    let result = Zone::parse(&args.tz).map_err(Failure::from).and_then(|zone| run(&args, &data_dirs, &zone));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Query(error)) => {
            eprintln!("sluice: {}: {}", error_label(), cli_message(&error));
            ExitCode::from(error.kind().exit_code())
        }
        Err(Failure::Serve(error)) => {
            eprintln!("sluice: {}: {error}", error_label());
            ExitCode::from(error.kind().exit_code())
        }
        Err(Failure::Sql(error)) => {
            eprintln!("sluice: {}: {error}", error_label());
            ExitCode::from(error.kind().exit_code())
        }
        // A closed pipe (`sluice search … | head`) is not an error.
        Err(Failure::Output(error)) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(error)) => {
            eprintln!("sluice: {}: cannot write output: {error}", error_label());
            ExitCode::from(sluice_schemas::ErrorKind::OperatorFixable.exit_code())
        }
    }
}

/// A query error in the words of this CLI: the library's say "the time
/// range" and "the interval"; these name the flags that set them.
fn cli_message(error: &QueryError) -> String {
    match error {
        QueryError::EmptyRange { from, to } => format!("--from {from} is not before --to {to}"),
        QueryError::TooManyBuckets { buckets, interval, max } => format!(
            "--interval {interval} makes {buckets} buckets, more than {max}: use a larger --interval (or `auto`) or a \
             narrower --from/--to"
        ),
        QueryError::BadBaseline { text } => format!(
            "invalid --baseline `{text}`: expected FROM..TO (times as --from takes them, FROM before TO) or a duration \
             (1h: the hour before --from)"
        ),
        QueryError::WindowNeeded => {
            "compare needs --from: the start of the window to compare with the baseline".to_owned()
        }
        other => other.to_string(),
    }
}

enum Failure {
    Query(QueryError),
    Serve(sluice_query::server::ServeError),
    Sql(sql::SqlUnavailable),
    Output(io::Error),
}

impl From<QueryError> for Failure {
    fn from(error: QueryError) -> Failure {
        Failure::Query(error)
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Failure {
        Failure::Output(error)
    }
}

fn run(args: &Args, data_dirs: &[PathBuf], zone: &Zone) -> Result<(), Failure> {
    let data_dir = data_dirs;
    match &args.command {
        Command::Sql { statement, format, stats, archive } => {
            let archive = archive.as_deref();
            if data_dirs.len() > 1 && archive.is_none() {
                return Err(QueryError::Sql {
                    message: "sql reads one data directory's archive: for several ingesters', give the shared \
                              archive they write (--archive URL)"
                        .to_owned(),
                    user: true,
                }
                .into());
            }
            let data_dir = &data_dirs[0];
            return Err(Failure::Sql(sql::exec(data_dir, archive, statement, *format, *stats, args.color)));
        }
        Command::Serve(serve_args) => return serve(serve_args, data_dirs),
        Command::Completions { shell } => return Ok(generate::completions(*shell, &mut io::stdout())?),
        Command::Man { out_dir: None } => return Ok(generate::man_page(&mut io::stdout())?),
        Command::Man { out_dir: Some(dir) } => return Ok(generate::man_pages(dir)?),
        _ => {}
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match &args.command {
        Command::Search { query, range, limit, oldest_first, fields, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            // A table shows five columns: the archive's other pages are not read.
            let table_only = fields.is_empty() && matches!(format, OutputFormat::Table);
            let columns = table_only.then(|| TABLE_COLUMNS.map(str::to_owned).to_vec());
            let request =
                api::SearchRequest { query: query.clone(), range, limit: *limit, oldest_first: *oldest_first, columns };
            let api::Found { records, refs, total, hint } = api::search(store, &request)?;
            note(hint);
            let color = stdout_color();
            if fields.is_empty() {
                write_records(
                    &mut out,
                    &records,
                    &refs,
                    total,
                    (*format).into(),
                    Layout::Search,
                    TableStyle { color, zone },
                )?;
            } else {
                write_selected(&mut out, &records, &refs, fields, (*format).into(), zone)?;
            }
            out.flush()?;
            if matches!(format, OutputFormat::Table) && terminal::stderr_is_terminal() {
                let order = if *oldest_first { "oldest" } else { "newest" };
                eprintln!("{} of {total} matches, {order} first", records.len());
            }
        }
        Command::Count { query, by, range, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let request = api::CountRequest { query: query.clone(), range, by: by.clone() };
            let api::Counted { total, by: terms, hint } = api::count(store, &request)?;
            note(hint);
            let by = by.as_deref().zip(terms.as_ref()).map(|(field, terms)| ValueCounts {
                field,
                terms,
                limit: None,
                bars: false,
            });
            write_counts(&mut out, total, by, (*format).into())?;
            out.flush()?;
        }
        Command::Context { event, before, after, format } => {
            let event: EventRef = event.parse()?;
            let store = open_store(data_dir, TimeRange::ALL)?;
            let context = api::context(store, event, *before, *after)?;
            let (refs, records): (Vec<EventRef>, Vec<_>) = context.records.into_iter().unzip();
            let layout = Layout::Context { event: context.event };
            let color = stdout_color();
            write_records(
                &mut out,
                &records,
                &refs,
                records.len() as u64,
                (*format).into(),
                layout,
                TableStyle { color, zone },
            )?;
            out.flush()?;
        }
        Command::Trace { trace_id, range, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let api::Found { records, total, .. } = api::trace(store, trace_id, range)?;
            let color = stdout_color();
            write_records(&mut out, &records, &[], total, (*format).into(), Layout::Trace, TableStyle { color, zone })?;
            out.flush()?;
            if matches!(format, OutputFormat::Table) && terminal::stderr_is_terminal() {
                eprintln!("{}", trace_summary(&records, total));
            }
        }
        Command::Tail { query, range, lines, follow, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let color = stdout_color();
            // The follower starts before the first read, so nothing committed in between is missed.
            let mut follower = if *follow {
                Some(data_dirs.iter().map(|dir| Follower::new(dir, query, range)).collect::<Result<Vec<_>, _>>()?)
            } else {
                None
            };
            let store = open_store(data_dir, range)?;
            let api::Found { records, refs, total, .. } = api::last(store, query, range, *lines)?;
            let format =
                if follower.is_some() && matches!(format, OutputFormat::Json) { OutputFormat::Ndjson } else { *format };
            write_records(&mut out, &records, &refs, total, format.into(), Layout::Search, TableStyle { color, zone })?;
            out.flush()?;
            while let Some(followers) = follower.as_mut() {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let mut records = Vec::new();
                for follower in followers.iter_mut() {
                    records.extend(follower.poll()?);
                }
                // Each follower's records are in order; several merge by time.
                records.sort_by_key(|record| record.timestamp);
                if records.is_empty() {
                    continue;
                }
                if matches!(format, OutputFormat::Table) {
                    write_rows(&mut out, &records, TableStyle { color, zone })?;
                } else {
                    write_records(
                        &mut out,
                        &records,
                        &[],
                        0,
                        format.into(),
                        Layout::Search,
                        TableStyle { color, zone },
                    )?;
                }
                out.flush()?;
            }
        }
        Command::Patterns { query, range, limit, sample, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let mined = api::patterns(store, query, range, *sample)?;
            write_patterns(&mut out, &mined, *limit, (*format).into(), zone)?;
            out.flush()?;
        }
        Command::Compare { query, range, baseline, limit, sample, format } => {
            let now = Timestamp::now();
            let window = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), now, zone)?;
            let from = window.from.ok_or(QueryError::WindowNeeded)?;
            let baseline = parse_baseline(baseline, from, now, zone)?;
            let request = api::CompareRequest { query: query.clone(), from, to: window.to, baseline, sample: *sample };
            let store = open_store(data_dir, api::compare_span(&request))?;
            let comparison = api::compare(store, &request)?;
            write_comparison(&mut out, &comparison, *limit, (*format).into(), zone)?;
            out.flush()?;
        }
        Command::Fields { query, range, sample, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let report = api::fields(open_store(data_dir, range)?, query, range, *sample)?;
            write_fields(&mut out, &report, (*format).into())?;
            out.flush()?;
        }
        Command::Stats { format } => {
            // One table (or JSON line) per data directory.
            for (i, dir) in data_dirs.iter().enumerate() {
                let stats = api::stats(open_store(std::slice::from_ref(dir), TimeRange::ALL)?)?;
                match format {
                    OutputFormat::Table => {
                        if i > 0 {
                            writeln!(out)?;
                        }
                        write_stats(&mut out, &stats, zone)?
                    }
                    OutputFormat::Json | OutputFormat::Ndjson => {
                        writeln!(out, "{}", serde_json::to_string(&stats).unwrap_or_default())?
                    }
                }
            }
            out.flush()?;
        }
        Command::Top { field, query, range, limit, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let api::Top { total, terms, hint } = api::top(store, query, range, field)?;
            note(hint);
            let by = ValueCounts { field, terms: &terms, limit: Some(*limit), bars: true };
            write_counts(&mut out, total, Some(by), (*format).into())?;
            out.flush()?;
        }
        // Ran above, without a data directory's store.
        Command::Sql { .. } | Command::Serve(_) | Command::Completions { .. } | Command::Man { .. } => {}
        Command::Histogram { query, range, interval, by, format } => {
            let interval = Interval::parse(interval)?;
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let request = api::HistogramRequest { query: query.clone(), range, interval, by: by.clone() };
            let histogram = api::histogram(store, &request, zone)?;
            let color = stdout_color();
            write_histogram(&mut out, &histogram, by.as_deref(), (*format).into(), color, terminal_width(), zone)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// The archive columns a search table shows.
const TABLE_COLUMNS: [&str; 5] = ["timestamp", "level", "service", "host", "message"];

/// Opens the data directory for the rest of the process. The store is
/// never dropped: unmapping a few hundred index files one by one costs
/// milliseconds that the kernel saves by tearing the process down at exit.
fn open_store(data_dirs: &[PathBuf], range: TimeRange) -> Result<&'static Store, QueryError> {
    Ok(Box::leak(Box::new(Store::open_many(data_dirs, range)?)))
}

/// Nothing matched and a field name in the query looks like a typo: say so.
fn note(hint: Option<String>) {
    if let Some(hint) = hint {
        eprintln!("sluice: {}: {hint}", terminal::note_label());
    }
}

/// Columns for charts: `$COLUMNS` (set by shells for their children when
/// exported), else 100.
fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|c: &usize| *c >= 40).unwrap_or(100)
}

/// `12 records, 3 services, 1.250 s from first to last`.
fn trace_summary(records: &[FetchedRecord], total: u64) -> String {
    let mut services: Vec<&str> = records.iter().filter_map(|r| r.service.as_deref()).collect();
    services.sort_unstable();
    services.dedup();
    let span = match (records.first(), records.last()) {
        (Some(first), Some(last)) => (last.timestamp - first.timestamp) as f64 / 1e9,
        _ => 0.0,
    };
    let shown = if total > records.len() as u64 { format!(" (first {} shown)", records.len()) } else { String::new() };
    format!("{total} records{shown}, {} services, {span:.3} s from first to last", services.len())
}

/// `30d; next: 2024-03-01 goes at …`, `30d, debug 3d; next: service debug
/// of 2024-03-01 goes at …`, or `none (kept forever)`.
fn retention_line(stats: &Stats, zone: &Zone) -> String {
    let duration = |seconds: u64| {
        if seconds.is_multiple_of(86_400) { format!("{}d", seconds / 86_400) } else { format!("{seconds}s") }
    };
    let mut policy = vec![stats.retention_seconds.map_or_else(|| "kept forever".to_owned(), duration)];
    policy.extend(
        stats.service_retention_seconds.iter().map(|(service, &seconds)| format!("{service} {}", duration(seconds))),
    );
    if policy.len() == 1 && stats.retention_seconds.is_none() {
        return "none (kept forever)".to_owned();
    }
    let policy = policy.join(", ");
    match &stats.next_expiry {
        Some(next) if next.goes == sluice_index::retention::Doomed::Day => {
            format!("{policy}; next: {} goes at {}", next.day, zone.full_time(next.at_nanos))
        }
        Some(next) => {
            format!("{policy}; next: {} of {} goes at {}", next.goes, next.day, zone.full_time(next.at_nanos))
        }
        None => policy,
    }
}

fn write_stats(out: &mut dyn Write, stats: &Stats, zone: &Zone) -> io::Result<()> {
    let days = match (stats.days.first(), stats.days.last()) {
        (Some(first), Some(last)) if stats.days.len() > 1 => {
            format!("{} ({} … {})", stats.days.len(), first.day, last.day)
        }
        (Some(first), _) => format!("1 ({})", first.day),
        _ => "0".to_owned(),
    };
    let rows = [
        ("data directory", stats.data_dir.clone()),
        ("records", stats.records.to_string()),
        ("first", stats.span.map_or_else(|| "-".into(), |(first, _)| zone.full_time(first))),
        ("last", stats.span.map_or_else(|| "-".into(), |(_, last)| zone.full_time(last))),
        ("days", days),
        ("index", human_bytes(stats.index_bytes)),
        ("archive", format!("{} in {} files", human_bytes(stats.archive_bytes), stats.archive_files)),
        ("dead letters", stats.dead_letters.to_string()),
        ("batches", stats.batches.to_string()),
        ("retention", retention_line(stats, zone)),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<15} {value}")?;
    }
    Ok(())
}

/// `sluice serve`: Loki's query API until SIGTERM or SIGINT.
fn serve(args: &cli::ServeArgs, data_dirs: &[PathBuf]) -> Result<(), Failure> {
    use sluice_query::server::{ServeConfig, ServeError};
    let mut config = ServeConfig::new(data_dirs.to_vec());
    config.listen = args.listen;
    config.query_timeout = std::time::Duration::from_secs(args.query_timeout.max(1));
    if let Some(n) = args.max_concurrent_queries {
        config.max_concurrent_queries = n.max(1);
    }
    config.connections.max_connections = args.max_connections.max(1);
    config.limits.max_records = args.max_lines_checked.max(1);
    config.revision = cli::COMMIT.to_owned();
    if let Some(path) = &args.token_file {
        let tokens =
            sluice_index::serving::Tokens::load(path).map_err(|error| Failure::Serve(ServeError::Token(error)))?;
        config.tokens = Some(tokens);
    }
    let shown = data_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
    sluice_query::server::serve(&config, |addr| {
        eprintln!("sluice: serving Loki's query API on http://{addr}, data in {shown}");
    })
    .map_err(Failure::Serve)
}
