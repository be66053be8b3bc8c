//! `sluice`: the incident CLI over a Sluice data directory.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sluice_query::QueryError;
use sluice_query::aggregate::Interval;
use sluice_query::around::EventRef;
use sluice_query::chart::write_histogram;
use sluice_query::fetch::FetchedRecord;
use sluice_query::follow::Follower;
use sluice_query::output::{
    Format, Layout, SqlFormat, TableStyle, ValueCounts, write_comparison, write_counts, write_fields, write_patterns,
    write_records, write_rows, write_selected, write_sql_result,
};
use sluice_query::stats::{Stats, human_bytes};
use sluice_query::store::Store;
use sluice_query::time::{TimeRange, Zone, parse_baseline};
use sluice_schemas::{ErrorKind, Timestamp};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const AFTER_HELP: &str = "\
Queries use tantivy's syntax: bare words search the message (all must
match), `field:value` matches a field exactly (level, service, host,
trace_id, span_id, producer, declared fields), any other name is an
attribute path (`http.status:500`, `user:steve`), \"quoted phrases\",
AND / OR / NOT, -word, (groups), and `*` for everything.

Times (--from, --to) are RFC 3339 (2024-03-01T12:00:00Z), dates
(2024-03-01), `now`, `today`, `yesterday`, or durations ago (30s, 15m, 2h,
7d, 1w); the range is [from, to). Tables show times in UTC, or in --tz
(`--tz local`, `--tz Europe/Berlin`, `--tz -05:00`), which is also the zone
of dates, `today`, `yesterday` and times written without an offset. JSON
output is always UTC.

Exit codes: 0 ok (also when nothing matches); 1 internal error; 2 bad
query, time or field, or an empty data directory; 3 unreadable data.";

/// Search, count and chart logs ingested by sluice-ingest.
#[derive(Parser, Debug)]
#[command(name = "sluice", version, after_help = AFTER_HELP)]
struct Args {
    /// Data directory [default: $SLUICE_DATA_DIR, else ./sluice-data].
    #[arg(long, value_name = "DIR", env = "SLUICE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,

    /// Time zone for tables and for dates in --from/--to: UTC, local, +02:00, Europe/Berlin.
    #[arg(
        long,
        value_name = "ZONE",
        env = "SLUICE_TZ",
        default_value = "UTC",
        global = true,
        allow_hyphen_values = true
    )]
    tz: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug)]
struct Range {
    /// Start of the time range (inclusive).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// End of the time range (exclusive).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Matching records, newest first.
    #[command(after_help = "\
Examples:
  sluice search 'level:error AND service:sshd \"connection refused\"' --from 2h
  sluice search 'http.status:500' --limit 20 --format ndjson | jq .message
  sluice search 'level:error' --fields timestamp,service,http.status,ref
  sluice search '*' --from 2024-03-01 --to 2024-03-02 --oldest-first")]
    Search {
        /// The query; `*` matches every record.
        query: String,
        #[command(flatten)]
        range: Range,
        /// At most this many records.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Oldest first instead of newest first.
        #[arg(long)]
        oldest_first: bool,
        /// Only these fields, in this order: record fields, `ref`, or attribute paths
        /// (e.g. timestamp,service,http.status,ref).
        #[arg(long, value_name = "A,B", value_delimiter = ',')]
        fields: Vec<String>,
        /// table (aligned, colored on a terminal), ndjson (canonical records) or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// How many records match, in all or per value of a field.
    #[command(after_help = "\
Examples:
  sluice count 'level:error' --from 1h
  sluice count '*' --by service
  sluice count 'refused' --by level --format json")]
    Count {
        /// The query; `*` matches every record.
        query: String,
        /// Count per value of this field (level, service, host, producer, severity_number,
        /// or a declared fast field).
        #[arg(long, value_name = "FIELD")]
        by: Option<String>,
        #[command(flatten)]
        range: Range,
        /// table or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The records around one event from the same service and host, in time order.
    #[command(after_help = "\
Examples:
  sluice search 'level:fatal' --limit 5        # the REF column names each event
  sluice context 474815:3:1187 -B 20 -A 5
  sluice context 474815:3:1187 --format ndjson | jq -r .message

The event's line is marked with `>`. Records at the very same instant as
the event are ordered as they arrived.")]
    Context {
        /// The event's reference, as `sluice search` prints it (REF column).
        #[arg(value_name = "EVENT_REF")]
        event: String,
        /// Records before the event.
        #[arg(short = 'B', long, default_value_t = 10)]
        before: usize,
        /// Records after the event.
        #[arg(short = 'A', long, default_value_t = 10)]
        after: usize,
        /// table, ndjson or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Every record of a trace across services, oldest first, with the gap between lines.
    #[command(after_help = "\
Examples:
  sluice trace 4bf92f3577b34da6a3ce929d0e0e4736
  sluice trace 4bf92f3577b34da6a3ce929d0e0e4736 --format ndjson | jq -c '{service, message}'

The +GAP column is the time since the previous line of the trace: a long
gap is where the request waited.")]
    Trace {
        /// The trace id (hexadecimal, any case).
        trace_id: String,
        #[command(flatten)]
        range: Range,
        /// table, ndjson or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The newest matching records, oldest first; with -f, new ones as they are committed.
    #[command(after_help = "\
Examples:
  sluice tail
  sluice tail 'level:error' -n 50
  sluice tail 'service:api AND level:error' -f
  sluice tail -f --format ndjson | jq -r .message

With -f, records appear as sluice-ingest commits them (every --batch-bytes
of input, and at the end of its input), late records with old timestamps
included. Polls every 500 ms; stop with Ctrl-C.")]
    Tail {
        /// Only records matching this query [default: `*`, every record].
        #[arg(default_value = "*")]
        query: String,
        #[command(flatten)]
        range: Range,
        /// How many of the newest records to show first.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
        /// Keep printing records as they are committed.
        #[arg(short, long)]
        follow: bool,
        /// table, ndjson or json (json only without -f).
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Messages grouped into templates (variable parts masked as <*>), most frequent first.
    #[command(after_help = "\
Examples:
  sluice patterns 'level:error' --from 1h
  sluice patterns 'service:sshd' --limit 20 --format json | jq -r '.patterns[].pattern'

Tokens that look variable (starting with a digit, or holding two digits
or more: numbers, ids, addresses, durations) are masked; messages of
the same length and first word that agree on at least half their words
share a template, the differing words masked (in the spirit of Drain).
The newest --sample matches are grouped; shares are of those.")]
    Patterns {
        /// Only records matching this query [default: `*`, every record].
        #[arg(default_value = "*")]
        query: String,
        #[command(flatten)]
        range: Range,
        /// Show this many templates.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Group at most this many of the newest matches.
        #[arg(long, default_value_t = 100_000)]
        sample: usize,
        /// table or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// What grew or appeared in a window (--from/--to) against a baseline: levels, services, templates.
    #[command(after_help = "\
Examples:
  sluice compare --from 2024-03-01T03:12:00Z --to 2024-03-01T03:42:00Z --baseline 1h
  sluice compare 'service:api' --from 30m --baseline 2h..1h
  sluice compare --from 1h --baseline 1d --format json | jq '.changes[:5]'

--baseline is FROM..TO, or a duration: the span just before --from. Counts
are compared as rates: EXPECTED is the baseline's count scaled to the
window's length, CHANGE the window's count over it (`new`: absent from the
baseline). Without --to the window ends after the newest record.")]
    Compare {
        /// Only records matching this query [default: `*`, every record].
        #[arg(default_value = "*")]
        query: String,
        #[command(flatten)]
        range: Range,
        /// The range to compare with: FROM..TO, or a duration before --from (1h, 1d).
        #[arg(long, value_name = "RANGE")]
        baseline: String,
        /// Show this many changes.
        #[arg(long, default_value_t = 15)]
        limit: usize,
        /// Group at most this many of the newest messages per side into templates.
        #[arg(long, default_value_t = 100_000)]
        sample: usize,
        /// table or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// The fields present (canonical fields and attribute paths), their types and how often they occur.
    #[command(after_help = "\
Examples:
  sluice fields
  sluice fields 'service:api' --from 1h
  sluice fields --format json | jq -r '.fields[] | select(.share < 1) | .field'

Like Kibana's field list it looks at the newest --sample matching records
(exact when there are no more matches than that). A field seen with two
JSON types is listed once per type.")]
    Fields {
        /// Only records matching this query [default: `*`, every record].
        #[arg(default_value = "*")]
        query: String,
        #[command(flatten)]
        range: Range,
        /// Look at this many of the newest matches.
        #[arg(long, default_value_t = 10_000)]
        sample: usize,
        /// table or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// What the data directory holds: records, time span, days, sizes, dead letters.
    #[command(after_help = "\
Examples:
  sluice stats
  sluice stats --format json | jq .records")]
    Stats {
        /// table or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// SQL over the Parquet archive, as table `logs` (DataFusion).
    #[command(after_help = "\
Examples:
  sluice sql \"SELECT service, count(*) AS n FROM logs WHERE level = 'error' GROUP BY service ORDER BY n DESC\"
  sluice sql \"SELECT date_trunc('hour', timestamp) AS hour, count(*) FROM logs GROUP BY 1 ORDER BY 1\"
  sluice sql \"SELECT * FROM logs WHERE date = '2024-03-01' AND hour = 14 LIMIT 10\" --format csv
  sluice sql 'DESCRIBE logs'

Columns are the canonical record's (timestamp, observed_timestamp, level,
severity_number, message, service, host, trace_id, span_id, attributes as
JSON text, notes, producer), declared schema fields, and the partitions
`date` (DATE) and `hour` (text 00-23; `hour = 7` works): filter on them to read only those
directories. Filters on `timestamp` skip row groups by their statistics.
DuckDB, pyarrow and Spark read the same files: DIR/archive/**/*.parquet.")]
    Sql {
        /// One SQL statement.
        statement: String,
        /// table, csv, json (an array) or ndjson.
        #[arg(long, value_enum, default_value_t = SqlOutputFormat::Table)]
        format: SqlOutputFormat,
    },
    /// The most frequent values of a field among the matches, with counts and share.
    #[command(after_help = "\
Examples:
  sluice top service 'level:error' --from 1h
  sluice top host --limit 20
  sluice top level 'service:api' --format json | jq '.buckets[0]'

FIELD is a field with a fast column: level, service, host, producer,
severity_number, or a field declared `fast` in the schema. Values past the
limit are summed in one \"other values\" line, so the counts add up to the
number of matches.")]
    Top {
        /// The field whose values to rank.
        field: String,
        /// Only records matching this query [default: `*`, every record].
        #[arg(default_value = "*")]
        query: String,
        #[command(flatten)]
        range: Range,
        /// Show this many values.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// table (with bars) or json.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Matches per time bucket, drawn as bars; stacked by a field's values with --by.
    #[command(after_help = "\
Examples:
  sluice histogram 'level:error' --from 6h
  sluice histogram --by level --interval 1h --from 2024-03-01 --to 2024-03-02
  sluice histogram 'service:api' --format ndjson | jq -r '[.start, .count] | @tsv'

Buckets start at multiples of the interval since the epoch (UTC) and cover
--from to --to; without them, the data's first to last record. Empty
buckets are shown. `auto` picks a round interval that gives at most about
60 buckets.")]
    Histogram {
        /// Only records matching this query [default: `*`, every record].
        #[arg(default_value = "*")]
        query: String,
        #[command(flatten)]
        range: Range,
        /// Bucket width: auto, or a number and a unit (30s, 5m, 1h, 1d, 1w).
        #[arg(long, default_value = "auto")]
        interval: String,
        /// Stack each bar by this field's values (e.g. level).
        #[arg(long, value_name = "FIELD")]
        by: Option<String>,
        /// table (bar chart), json, or ndjson (one bucket per line).
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SqlOutputFormat {
    Table,
    Csv,
    Json,
    Ndjson,
}

impl From<SqlOutputFormat> for SqlFormat {
    fn from(format: SqlOutputFormat) -> SqlFormat {
        match format {
            SqlOutputFormat::Table => SqlFormat::Table,
            SqlOutputFormat::Csv => SqlFormat::Csv,
            SqlOutputFormat::Json => SqlFormat::Json,
            SqlOutputFormat::Ndjson => SqlFormat::Ndjson,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputFormat {
    Table,
    Ndjson,
    Json,
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Format {
        match format {
            OutputFormat::Table => Format::Table,
            OutputFormat::Ndjson => Format::Ndjson,
            OutputFormat::Json => Format::Json,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let data_dir = args.data_dir.clone().unwrap_or_else(|| PathBuf::from("sluice-data"));
    let result = Zone::parse(&args.tz).map_err(Failure::from).and_then(|zone| run(&args.command, &data_dir, &zone));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Query(error)) => {
            let label = if io::stderr().is_terminal() { "\x1b[1;31merror\x1b[0m" } else { "error" };
            eprintln!("sluice: {label}: {error}");
            ExitCode::from(match error.kind() {
                ErrorKind::UserFixable => 2,
                ErrorKind::OperatorFixable | ErrorKind::Retryable => 3,
                ErrorKind::Fatal => 1,
            })
        }
        // A closed pipe (`sluice search … | head`) is not an error.
        Err(Failure::Output(error)) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(error)) => {
            eprintln!("sluice: error: cannot write output: {error}");
            ExitCode::from(3)
        }
    }
}

enum Failure {
    Query(QueryError),
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

fn run(command: &Command, data_dir: &std::path::Path, zone: &Zone) -> Result<(), Failure> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match command {
        Command::Search { query, range, limit, oldest_first, fields, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let (hits, total) = store.search(query, range, *limit, *oldest_first)?;
            note_if_empty(store, query, total);
            // A table shows five columns: the archive's other pages are not read.
            let table_only = fields.is_empty() && matches!(format, OutputFormat::Table);
            let columns = table_only.then_some(&TABLE_COLUMNS[..]);
            let records = sluice_query::fetch::fetch_columns(store, &hits, columns)?;
            let refs: Vec<EventRef> = hits.iter().map(EventRef::of).collect();
            let color = io::stdout().is_terminal();
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
            if matches!(format, OutputFormat::Table) && io::stderr().is_terminal() {
                let order = if *oldest_first { "oldest" } else { "newest" };
                eprintln!("{} of {total} matches, {order} first", records.len());
            }
        }
        Command::Count { query, by, range, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let total = store.count(query, range)?;
            note_if_empty(store, query, total);
            let terms = by.as_deref().map(|field| store.terms(query, range, field)).transpose()?;
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
            let context = store.context(event, *before, *after)?;
            let (refs, records): (Vec<EventRef>, Vec<_>) = context.records.into_iter().unzip();
            let layout = Layout::Context { event: context.event };
            let color = io::stdout().is_terminal();
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
            let (records, total) = store.trace(trace_id, range)?;
            let color = io::stdout().is_terminal();
            write_records(&mut out, &records, &[], total, (*format).into(), Layout::Trace, TableStyle { color, zone })?;
            out.flush()?;
            if matches!(format, OutputFormat::Table) && io::stderr().is_terminal() {
                eprintln!("{}", trace_summary(&records, total));
            }
        }
        Command::Tail { query, range, lines, follow, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let color = io::stdout().is_terminal();
            // The follower starts before the first read, so nothing committed in between is missed.
            let mut follower = if *follow { Some(Follower::new(data_dir, query, range)?) } else { None };
            let store = open_store(data_dir, range)?;
            let (mut hits, total) = store.search(query, range, *lines, false)?;
            hits.reverse();
            let records = sluice_query::fetch::fetch(store, &hits)?;
            let refs: Vec<EventRef> = hits.iter().map(EventRef::of).collect();
            let format =
                if follower.is_some() && matches!(format, OutputFormat::Json) { OutputFormat::Ndjson } else { *format };
            write_records(&mut out, &records, &refs, total, format.into(), Layout::Search, TableStyle { color, zone })?;
            out.flush()?;
            while let Some(follower) = follower.as_mut() {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let records = follower.poll()?;
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
            let mined = store.patterns(query, &[range], *sample)?;
            write_patterns(&mut out, &mined, *limit, (*format).into(), zone)?;
            out.flush()?;
        }
        Command::Compare { query, range, baseline, limit, sample, format } => {
            let now = Timestamp::now();
            let window = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), now, zone)?;
            let from = window.from.ok_or(QueryError::WindowNeeded)?;
            let baseline = parse_baseline(baseline, from, now, zone)?;
            let both = TimeRange { from: Some(from.min(baseline.0)), to: window.to.map(|to| to.max(baseline.1)) };
            let store = open_store(data_dir, both)?;
            let to = match window.to {
                Some(to) => to,
                None => store.time_bounds()?.map_or(from + 1, |(_, last)| (last + 1).max(from + 1)),
            };
            let comparison = store.compare(query, (from, to), baseline, *sample)?;
            write_comparison(&mut out, &comparison, *limit, (*format).into(), zone)?;
            out.flush()?;
        }
        Command::Fields { query, range, sample, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let report = open_store(data_dir, range)?.fields(query, range, *sample)?;
            write_fields(&mut out, &report, (*format).into())?;
            out.flush()?;
        }
        Command::Stats { format } => {
            let stats = open_store(data_dir, TimeRange::ALL)?.stats()?;
            match format {
                OutputFormat::Table => write_stats(&mut out, &stats, zone)?,
                OutputFormat::Json | OutputFormat::Ndjson => {
                    writeln!(out, "{}", serde_json::to_string(&stats).unwrap_or_default())?
                }
            }
            out.flush()?;
        }
        Command::Sql { statement, format } => {
            let result = sluice_query::sql::run_sql(data_dir, statement)?;
            write_sql_result(&mut out, &result, (*format).into())?;
            out.flush()?;
        }
        Command::Top { field, query, range, limit, format } => {
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let total = store.count(query, range)?;
            note_if_empty(store, query, total);
            let terms = store.terms(query, range, field)?;
            let by = ValueCounts { field, terms: &terms, limit: Some(*limit), bars: true };
            write_counts(&mut out, total, Some(by), (*format).into())?;
            out.flush()?;
        }
        Command::Histogram { query, range, interval, by, format } => {
            let interval = Interval::parse(interval)?;
            let range = TimeRange::parse(range.from.as_deref(), range.to.as_deref(), Timestamp::now(), zone)?;
            let store = open_store(data_dir, range)?;
            let histogram = store.histogram(query, range, interval, by.as_deref(), zone)?;
            let color = io::stdout().is_terminal();
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
fn open_store(data_dir: &std::path::Path, range: TimeRange) -> Result<&'static Store, QueryError> {
    Ok(Box::leak(Box::new(Store::open(data_dir, range)?)))
}

/// Nothing matched: say so if a field name in the query looks like a typo.
fn note_if_empty(store: &Store, query: &str, total: u64) {
    if total == 0
        && let Some(hint) = store.empty_result_hint(query)
    {
        let label = if io::stderr().is_terminal() { "\x1b[1;33mnote\x1b[0m" } else { "note" };
        eprintln!("sluice: {label}: {hint}");
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
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<15} {value}")?;
    }
    Ok(())
}
