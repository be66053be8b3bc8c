//! `sluice`'s command line: its flags, subcommands and help, in one place
//! for parsing, shell completions and man pages alike.

use std::path::PathBuf;

use crate::output::Format;
use clap::{Parser, Subcommand, ValueEnum};

/// The commit built from (`-modified` when the work tree had uncommitted changes).
pub const COMMIT: &str = git_version::git_version!(
    args = ["--always", "--dirty=-modified", "--abbrev=12", "--exclude=*"],
    fallback = "unknown"
);

/// `0.1.0 (commit 0123abcd4567)`: the version and the commit built from.
pub static VERSION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{} (commit {COMMIT})", env!("CARGO_PKG_VERSION")));

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
#[command(name = "sluice", version = VERSION.as_str(), after_help = AFTER_HELP)]
pub struct Args {
    /// Data directory [default: $SLUICE_DATA_DIR, else ./sluice-data]. Give
    /// it again to query several data directories (several ingesters') as
    /// one: hits are merged by time, counts added up, and references to the
    /// second and later carry its position (`1/474902:1:2`).
    #[arg(long, value_name = "DIR", env = "SLUICE_DATA_DIR", global = true, action = clap::ArgAction::Append)]
    pub data_dir: Vec<PathBuf>,

    /// Time zone for tables and for dates in --from/--to: UTC, local, +02:00, Europe/Berlin.
    #[arg(
        long,
        value_name = "ZONE",
        env = "SLUICE_TZ",
        default_value = "UTC",
        global = true,
        allow_hyphen_values = true
    )]
    pub tz: String,

    /// When to color: auto (when writing to a terminal, unless NO_COLOR is set or
    /// CLICOLOR_FORCE asks for it), always, or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto, global = true)]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug)]
pub struct Range {
    /// Start of the time range (inclusive).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the time range (exclusive).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
DuckDB, pyarrow and Spark read the same files: DIR/archive/**/*.parquet.

Runs the sluice-sql program, found beside sluice or on PATH: DataFusion is
built apart so that the other commands build in minutes.")]
    Sql {
        /// One SQL statement.
        statement: String,
        /// table, csv, json (an array) or ndjson.
        #[arg(long, value_enum, default_value_t = SqlOutputFormat::Table)]
        format: SqlOutputFormat,
        /// After the result, print on stderr how many archive files the
        /// statement scanned, of those committed: filters on `date` and
        /// `hour` skip whole directories, and a bare `count(*)` is answered
        /// from the files' statistics without scanning any.
        #[arg(long)]
        stats: bool,
        /// Query this shared archive instead of the data directory's own:
        /// s3://BUCKET/PREFIX (credentials, region and AWS_ENDPOINT_URL the
        /// usual AWS way) or a directory, as `sluice-ingest --archive`
        /// writes it. Every writer's files are read, each record once.
        #[arg(long, value_name = "URL")]
        archive: Option<String>,
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
    /// Serve Loki's query API, so that Grafana's Loki data source reads this data directory.
    #[command(after_help = "\
Examples:
  sluice serve                                   # http://127.0.0.1:3100, data in ./sluice-data
  sluice serve --data-dir /var/lib/sluice
  sluice serve --listen 0.0.0.0:3100 --token-file /etc/sluice/read-tokens

In Grafana, add a Loki data source with the URL http://HOST:3100 (and, with
--token-file, an Authorization header `Bearer TOKEN`). Explore (logs, the
log volume, live tail), the label browser, dashboards and alerts on LogQL
metric queries, and Logs Drilldown's services, fields and patterns work;
LogQL outside the supported subset is answered with a 400 that names it.
X-Scope-OrgID, where given, shows only that tenant's lines.

Read-only: safe beside a running `sluice-ingest serve` on the same data
directory; new batches are seen as they are committed. Listening beyond
loopback requires --token-file. /metrics has latency by endpoint.")]
    Serve(ServeArgs),
    /// Shell completions for sluice, on stdout.
    #[command(after_help = "\
Examples:
  sluice completions bash > ~/.local/share/bash-completion/completions/sluice
  sluice completions zsh > ~/.zfunc/_sluice      # with fpath+=(~/.zfunc) before compinit
  sluice completions fish > ~/.config/fish/completions/sluice.fish

scripts/install puts them where shells look, with the man pages.")]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// The manual page sluice(1) on stdout, or every page (one per subcommand) into a directory.
    #[command(after_help = "\
Examples:
  sluice man | man -l -
  sluice man --out-dir ~/.local/share/man/man1")]
    Man {
        /// Write sluice.1 and sluice-<command>.1 into this directory instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl From<ColorWhen> for anstream::ColorChoice {
    fn from(when: ColorWhen) -> anstream::ColorChoice {
        match when {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SqlOutputFormat {
    Table,
    Csv,
    Json,
    Ndjson,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutputFormat {
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

/// `sluice serve`'s flags.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Beyond loopback, --token-file is required.
    #[arg(long, value_name = "ADDR", default_value = sluice_query::server::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// File of bearer tokens, one per line (blank lines and # comments skipped).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Longest a query may run before it is answered with 504.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub query_timeout: u64,
    /// Queries answered at once; more wait for a slot within their deadline.
    #[arg(long, value_name = "N")]
    pub max_concurrent_queries: Option<usize>,
    /// Connections open at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = sluice_index::serving::connections::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Lines read from the archive to check a query's filters, at most.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub max_lines_checked: usize,
}
