//! `sluice-ingest`: reads JSON log lines and normalizes them.

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use sluice_ingest::IngestError;
use sluice_ingest::dry_run::{DryRunConfig, Input, dry_run};
use sluice_ingest::framing::DEFAULT_MAX_LINE_BYTES;
use sluice_ingest::pipeline::{IngestConfig, ingest};
use sluice_ingest::serve::{ServeConfig, Tokens};
use sluice_schemas::ErrorKind;

/// mimalloc: glibc's allocator costs ~10% of normalizing under
/// callgrind; the benchmarks measure with this one too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tells mimalloc never to return freed memory to the OS during the run.
/// Its default returns it after 1 s, shorter than a batch: every batch then
/// faulted its buffers (documents, Arrow columns, Parquet pages, zstd
/// tables) back in and the kernel zeroed them again, about 6% of an
/// ingest's CPU (`clear_page_erms` in `perf`). Keeping them costs about
/// 130 MiB of RSS, at a high-water mark the batch size bounds, and a run
/// exits when its input ends. The server keeps mimalloc's default: its RSS
/// should follow its load (with a 10 s delay, its peak with 10 MB bodies
/// was 1,079 MiB against 972 MiB with the default, one run each).
fn keep_freed_memory() {
    /// `mi_option_purge_delay` in `mimalloc.h` (v2 and v3), which
    /// libmimalloc-sys does not name; -1 means never.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // Reason: mimalloc's documented option call, with a plain integer; it
    // takes effect at the next purge decision.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1)
    };
}

const AFTER_HELP: &str = "\
Examples:
  # Ingest files (resumes where it stopped if interrupted) and pipes
  sluice-ingest --data-dir /var/lib/sluice /var/log/app/*.json
  app | sluice-ingest --service checkout
  # Receive logs over HTTP (NDJSON, Elasticsearch bulk, OTLP, Loki): see `sluice-ingest serve --help`
  sluice-ingest serve --data-dir /var/lib/sluice
  # See how Sluice reads your logs: normalized records as NDJSON on stdout
  sluice-ingest --dry-run fixtures/producers/*.ndjson
  app | sluice-ingest --dry-run --service checkout
  sluice-ingest --dry-run --schema team.toml --summary-json sample.ndjson | tail -1

Every line read is counted as accepted, rejected or blank. Rejected lines go
to DIR/deadletter/ as NDJSON (source, line, reason, detail, raw line); with
--dry-run they are reported on stderr instead. The formats of ECS, OpenTelemetry, bunyan, pino, zap, logrus,
log4j2, Logstash, GELF, journald, Google Cloud, python-json-logger,
structlog, Docker json-file and Zeek are recognised line by line without
configuration; anything else is read with the schema's generic aliases.

Exit codes: 0 input processed (rejected lines are normal); 1 internal error
(a bug: please report it); 2 user-fixable (bad flag, schema or input file,
too many rejects); 3 operator-fixable (permissions, disk, unreadable input).";

/// Read JSON log lines, normalize them against a schema, index and archive
/// them; or serve HTTP ingest (`sluice-ingest serve`).
#[derive(Parser, Debug)]
#[command(name = "sluice-ingest", version = VERSION.as_str(), after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Input files; none or `-` reads standard input.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,

    #[command(flatten)]
    pipeline: PipelineArgs,

    /// Also print the run summary as one JSON object, last on stdout.
    #[arg(long)]
    summary_json: bool,

    /// Normalize and print records as NDJSON on stdout; write nothing.
    #[arg(long)]
    dry_run: bool,

    /// Fail (exit 2) once more than N lines are rejected.
    #[arg(long, value_name = "N")]
    max_rejected: Option<u64>,

    /// When to color: auto (when writing to a terminal, unless NO_COLOR is set or
    /// CLICOLOR_FORCE asks for it), always, or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto, global = true)]
    color: ColorWhen,
}

/// The commit built from (`-modified` when the work tree had uncommitted changes).
const COMMIT: &str = git_version::git_version!(
    args = ["--always", "--dirty=-modified", "--abbrev=12", "--exclude=*"],
    fallback = "unknown"
);

/// `0.1.0 (commit 0123abcd4567)`: the version and the commit built from.
static VERSION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{} (commit {COMMIT})", env!("CARGO_PKG_VERSION")));

/// `--color`; the policy is anstream's (see `report`).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Serve HTTP ingest: NDJSON, Elasticsearch bulk, OTLP, Loki; answered only once durable.
    #[command(after_help = SERVE_HELP)]
    Serve(Box<ServeArgs>),
    /// Merge the archive's small files into few large ones and each day split's segments into one.
    #[command(after_help = COMPACT_HELP)]
    Compact(CompactArgs),
    /// Ingest dead-lettered lines again (every file of DIR/deadletter/, or FILES), usually under a fixed --schema.
    #[command(after_help = REPLAY_HELP)]
    Replay(ReplayArgs),
    /// Shell completions for sluice-ingest, on stdout (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "\
Examples:
  sluice-ingest completions bash > ~/.local/share/bash-completion/completions/sluice-ingest
  sluice-ingest completions fish > ~/.config/fish/completions/sluice-ingest.fish")]
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// The manual page sluice-ingest(1) on stdout, or every page (also sluice-ingest-serve.1) into a directory.
    #[command(after_help = "\
Examples:
  sluice-ingest man | man -l -
  sluice-ingest man --out-dir ~/.local/share/man/man1")]
    Man {
        /// Write sluice-ingest.1 and sluice-ingest-COMMAND.1 into this directory instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// Where records go and how the pipeline runs: shared by files, pipes and the server.
#[derive(clap::Args, Debug)]
struct PipelineArgs {
    /// Data directory [default: $SLUICE_DATA_DIR, else ./sluice-data].
    #[arg(long, value_name = "DIR", env = "SLUICE_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Compact each archive hour and index day nothing has been written to
    /// for this long (10m, 1h), in the background; `off` leaves it to
    /// `sluice-ingest compact`.
    #[arg(long, value_name = "DURATION", value_parser = parse_compact_after, default_value = "10m")]
    compact_after: CompactAfter,

    /// Drop each day once all of it is older than this (30d, 2w), in the
    /// background with compaction (needs --compact-after); kept forever
    /// without it. The --schema file's `[retention.services]` give services
    /// their own (`"nginx-debug" = "3d"`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    retention: Option<Duration>,

    /// Also copy the archive to this shared archive as it is committed,
    /// compacted and expired: s3://BUCKET/PREFIX (credentials, region and
    /// AWS_ENDPOINT_URL the usual AWS way) or a directory. Several data
    /// directories may share one; each writes only its own files.
    #[arg(long, value_name = "URL", value_parser = parse_archive_url)]
    archive: Option<sluice_index::shared_archive::ArchiveUrl>,

    /// zstd level of the files background compaction writes, 1-22.
    #[arg(long, value_name = "LEVEL", default_value_t = sluice_index::compact::DEFAULT_ZSTD_LEVEL,
          value_parser = clap::value_parser!(i32).range(1..=22))]
    compact_zstd_level: i32,

    /// Schema file (TOML) that extends the built-in default schema.
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,

    /// Service of records that name none.
    #[arg(long, value_name = "NAME")]
    service: Option<String>,

    /// Longest accepted line, in bytes; longer lines are rejected.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES)]
    max_line_bytes: usize,

    /// Input bytes per committed batch: larger batches ingest faster, smaller
    /// ones lose less work to a crash (a rerun resumes after the last batch).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    batch_bytes: u64,

    /// When a pipe goes quiet (`app | sluice-ingest`), or for what the server
    /// received, commit after at most this long, so `sluice tail -f` shows it:
    /// 500ms, 1s, 5s. Files and busy pipes commit every --batch-bytes.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    commit_interval: Duration,

    /// Threads that parse and normalize [default: one per core].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,

    /// tantivy indexing threads [default: one per core, at most 4].
    #[arg(long, value_name = "N")]
    index_threads: Option<usize>,

    /// tantivy's indexing memory per open day split, in MiB (at least 15 per indexing thread).
    #[arg(long, value_name = "MIB", default_value_t = 96)]
    index_memory_mib: usize,
}

impl PipelineArgs {
    fn config(&self, inputs: Vec<Input>) -> IngestConfig {
        let data_dir = self.data_dir.clone().unwrap_or_else(|| PathBuf::from("sluice-data"));
        let mut config = IngestConfig::new(data_dir, inputs);
        config.compaction = match self.compact_after {
            CompactAfter::Off => None,
            CompactAfter::Quiet(quiet_for) => Some(sluice_ingest::background_compaction::BackgroundCompaction {
                quiet_for,
                zstd_level: self.compact_zstd_level,
                target_file_bytes: sluice_index::compact::DEFAULT_TARGET_FILE_BYTES,
                retention: self.retention.map(sluice_index::retention::Retention::new),
            }),
        };
        config.shared_archive = self.archive.clone();
        config.schema = self.schema.clone();
        config.service = self.service.clone();
        config.max_line_bytes = self.max_line_bytes;
        config.batch_bytes = self.batch_bytes.max(1);
        config.commit_interval = self.commit_interval;
        config.workers = self.workers.unwrap_or(config.workers).max(1);
        config.index_threads = self.index_threads.unwrap_or(config.index_threads).max(1);
        config.index_memory_bytes = self.index_memory_mib << 20;
        config
    }
}

const SERVE_HELP: &str = "\
Endpoints:
  POST /api/v1/ingest            NDJSON lines; ?service=NAME sets the service of records
                                 that name none, ?schema=FORMAT reads every line as that
                                 logger's format (ecs, pino, zap, logrus, ...)
  POST /_bulk, /{index}/_bulk    the Elasticsearch bulk API (index and create actions)
  POST /v1/logs                  OTLP/HTTP logs, protobuf or JSON
  POST /loki/api/v1/push         Loki push, snappy protobuf or JSON; labels become fields
  GET  /                         what Elasticsearch clients check before writing
  GET  /health/live, /health/ready, /metrics (Prometheus)

A 2xx answer means the lines are in the write-ahead log (DIR/wal) and fsync'd:
they survive a crash and are indexed on the next start. Rejected lines are
listed in the answer and kept in DIR/deadletter/. Bodies may be gzip, zstd or
deflate (Content-Encoding). When indexing falls behind, or too many requests
are in flight, requests get 429 with Retry-After.

Authentication: with --token-file, every endpoint but /health/* needs one of
its tokens, as `Authorization: Bearer TOKEN`, `ApiKey TOKEN`, or the password
of Basic authentication. Listening beyond loopback requires --token-file.

SIGTERM or Ctrl-C: stop accepting, finish requests in flight, commit, exit 0.

Examples:
  sluice-ingest serve --data-dir /var/lib/sluice
  sluice-ingest serve --listen 0.0.0.0:7280 --token-file /etc/sluice/tokens
  curl --data-binary @app.ndjson 'http://127.0.0.1:7280/api/v1/ingest?service=checkout'";

const COMPACT_HELP: &str = "\
Each archive hour (date=…/hour=…) whose files are quiet is rewritten as few files of up to
--target-file-mib, rows ordered by service then time (zstd finds a third more to share than in
time order), at --zstd-level, with bloom filters on trace_id and service. Each quiet day split's
index segments are merged into one. Event references (`sluice context REF`) printed before keep
working. Readers (`sluice search`, `sql`, `tail -f`, …) may run meanwhile: they see every record
once, before, during and after. An ingest into the same directory must not: compaction takes the
writer lock.

Crash-safe: each output is written under a .tmp name, renamed into place, and only then are its
inputs deleted; run it again (or any ingest) after a crash and it finishes or undoes what was
interrupted.

Examples:
  sluice-ingest compact --data-dir /var/lib/sluice
  sluice-ingest compact --quiet-for 2h --zstd-level 15";

#[derive(clap::Args, Debug)]
struct CompactArgs {
    /// Data directory [default: $SLUICE_DATA_DIR, else ./sluice-data].
    #[arg(long, value_name = "DIR", env = "SLUICE_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Most MiB of input files merged into one output file (the rows of one
    /// output are sorted in memory: about 10-15x this).
    #[arg(long, value_name = "MIB", default_value_t = sluice_index::compact::DEFAULT_TARGET_FILE_BYTES >> 20)]
    target_file_mib: u64,

    /// zstd level of the rewritten files, 1-22 (ingest writes at 3).
    #[arg(long, value_name = "LEVEL", default_value_t = sluice_index::compact::DEFAULT_ZSTD_LEVEL,
          value_parser = clap::value_parser!(i32).range(1..=22))]
    zstd_level: i32,

    /// Leave hours and day splits written to within this long (500ms, 30s,
    /// 10m, 2h): they are still being written.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    quiet_for: Duration,

    /// First drop each day all of which is older than this (30d, 2w), and
    /// record the policy for `sluice stats`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    retention: Option<Duration>,

    /// Schema file (TOML) whose `[retention.services]` give services their
    /// own retention (`nginx-debug = "3d"`): their records go at that
    /// horizon, from inside the days that stay.
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,

    /// Then bring this shared archive up to date (see `sluice-ingest --help`).
    #[arg(long, value_name = "URL", value_parser = parse_archive_url)]
    archive: Option<sluice_index::shared_archive::ArchiveUrl>,

    /// The time it is now, RFC 3339 (for tests of retention).
    #[arg(long, value_name = "TIME", value_parser = parse_now, hide = true)]
    now: Option<std::time::SystemTime>,
}

fn parse_archive_url(text: &str) -> Result<sluice_index::shared_archive::ArchiveUrl, String> {
    sluice_index::shared_archive::ArchiveUrl::parse(text).map_err(|error| error.to_string())
}

fn parse_now(text: &str) -> Result<std::time::SystemTime, String> {
    let zone = sluice_schemas::timestamp::DefaultZone::Utc;
    let time = sluice_schemas::timestamp::parse_text(text, sluice_schemas::timestamp::EpochUnit::Auto, &zone)
        .map_err(|error| format!("`{text}`: {error}"))?;
    let nanos = u64::try_from(time.as_nanos()).map_err(|_| format!("`{text}` is before 1970"))?;
    Ok(std::time::SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos))
}

const REPLAY_HELP: &str = "\
Each dead-letter file's lines are written once to DIR/replay/ and ingested from there, as any
input file: a replay run again, or after a crash, resumes and never ingests a line twice. A line
rejected again is dead-lettered again (its `source` the replay file, its `line` the entry's
position in the dead-letter file); the replayed files of DIR/deadletter/ move to
DIR/deadletter/replayed/, so what is left in DIR/deadletter/ is what is still rejected.

Examples:
  sluice-ingest replay --schema fixed.toml
  sluice-ingest replay --data-dir /var/lib/sluice /var/lib/sluice/deadletter/part-00000000000000000042.ndjson";

#[derive(clap::Args, Debug)]
struct ReplayArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,

    /// Print the account as one JSON object on stdout too.
    #[arg(long)]
    summary_json: bool,

    /// Dead-letter files to replay [default: every one in DIR/deadletter/].
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on. Beyond loopback, --token-file is required.
    #[arg(long, value_name = "ADDR", default_value = sluice_ingest::serve::DEFAULT_LISTEN)]
    listen: SocketAddr,

    /// File of bearer tokens, one per line (blank lines and # comments skipped).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,

    #[command(flatten)]
    pipeline: PipelineArgs,

    /// Largest request body, in bytes, after decompression (413 beyond).
    #[arg(long, value_name = "BYTES", default_value_t = sluice_ingest::serve::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,

    /// Requests read or processed at once (429 beyond). With
    /// --max-in-flight-mib, bounds the memory that request bodies take.
    #[arg(long, value_name = "N", default_value_t = sluice_ingest::serve::DEFAULT_MAX_REQUESTS_IN_FLIGHT)]
    max_requests_in_flight: usize,

    /// MiB of request bodies being read or processed at once (429 beyond).
    /// A compressed or chunked body counts as --max-body-bytes until read.
    #[arg(long, value_name = "MIB", default_value_t = sluice_ingest::serve::DEFAULT_MAX_IN_FLIGHT_BYTES >> 20)]
    max_in_flight_mib: u64,

    /// How far, in MiB, the write-ahead log may run ahead of indexing before
    /// requests get 429.
    #[arg(long, value_name = "MIB", default_value_t = sluice_ingest::serve::DEFAULT_MAX_WAL_BEHIND_BYTES >> 20)]
    max_wal_behind_mib: u64,

    /// MiB of acknowledged request lines that may wait in memory, normalized,
    /// for the indexer. Beyond it the indexer reads them back from the
    /// write-ahead log instead (normalizing them again): acknowledgements
    /// never wait for indexing, and memory stays bounded.
    #[arg(long, value_name = "MIB", default_value_t = sluice_ingest::serve::DEFAULT_INDEXER_QUEUE_BYTES >> 20)]
    indexer_queue_mib: usize,

    /// At startup, what to do with a damaged write-ahead log entry that has
    /// whole entries after it (the lines acknowledged in it are lost either
    /// way; the entries before it are committed first). `skip`: keep a copy
    /// of the damaged bytes in DIR/wal/damaged/, report it (stderr,
    /// sluice_wal_damaged_bytes_total), replay the entries after it and
    /// serve. `refuse`: stop with exit 3 and what to do. A torn last entry (a
    /// write that never finished, never acknowledged) is always cut off with
    /// a warning.
    #[arg(long, value_enum, value_name = "POLICY", default_value = "skip")]
    wal_damage: WalDamage,
    /// Most connections open at once; one more is closed at once (counted
    /// in sluice_http_connections_refused_total).
    #[arg(long, value_name = "N", default_value_t = sluice_ingest::serve::connections::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,

    /// How long a client may take to send a request's headers, from
    /// connecting or from the previous response (so also how long a
    /// keep-alive connection may idle between requests): 10s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    header_read_timeout: Duration,

    /// How long a client may take to send a whole request body (408 past it).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    body_read_timeout: Duration,

    /// A connection on which nothing has moved either way for this long
    /// (a stalled body, a response the client does not read) is closed.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    idle_timeout: Duration,

    /// Write-ahead log segment size (for tests of segment removal).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20, hide = true)]
    wal_segment_bytes: u64,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum WalDamage {
    Skip,
    Refuse,
}

/// `--compact-after`.
#[derive(Clone, Copy, Debug)]
enum CompactAfter {
    Off,
    Quiet(Duration),
}

fn parse_compact_after(text: &str) -> Result<CompactAfter, String> {
    if text == "off" {
        return Ok(CompactAfter::Off);
    }
    parse_duration(text).map(CompactAfter::Quiet).map_err(|error| format!("{error}, or `off`"))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    sluice_schemas::parse_duration(text)
}

fn main() -> ExitCode {
    // Test builds only: the crash and disk-full tests arm fail-points here.
    sluice_index::failpoint::setup_from_env();
    let args = Args::parse();
    match args.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    }
    .write_global();
    match args.command {
        Some(Command::Serve(serve_args)) => return serve(*serve_args),
        Some(Command::Compact(compact_args)) => return compact(compact_args),
        Some(Command::Replay(replay_args)) => return replay(replay_args),
        Some(Command::Completions { shell }) => return completions(shell),
        Some(Command::Man { out_dir }) => return man(out_dir.as_deref()),
        None => {}
    }
    if !args.dry_run {
        keep_freed_memory();
        let mut config = args.pipeline.config(args.files.iter().map(|f| Input::from_arg(f)).collect());
        config.max_rejected = args.max_rejected;
        config.progress = io::stderr().is_terminal();
        return match ingest(&config) {
            Ok(summary) => {
                if args.summary_json {
                    println!("{}", summary.to_json());
                }
                eprintln!("{summary}");
                ExitCode::SUCCESS
            }
            Err(error) => report(&error),
        };
    }
    let config = DryRunConfig {
        inputs: args.files.iter().map(|f| Input::from_arg(f)).collect(),
        schema: args.pipeline.schema,
        service: args.pipeline.service,
        max_line_bytes: args.pipeline.max_line_bytes,
        max_rejected: args.max_rejected,
    };
    let stdout = io::stdout();
    let mut records = stdout.lock();
    let stderr = io::stderr();
    let mut rejects = stderr.lock();
    match dry_run(&config, &mut records, &mut rejects) {
        Ok(summary) => {
            if args.summary_json {
                let _ = writeln!(records, "{}", summary.to_json());
            }
            let _ = writeln!(rejects, "{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn replay(args: ReplayArgs) -> ExitCode {
    let mut config = args.pipeline.config(Vec::new());
    config.progress = io::stderr().is_terminal();
    match sluice_ingest::replay::replay(&config, &args.files) {
        Ok(outcome) => {
            if args.summary_json {
                println!("{}", outcome.summary.to_json());
            }
            eprintln!("{}", outcome.summary);
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            eprintln!(
                "replayed {} dead-letter file{}; {} moved to {}",
                outcome.files,
                plural(outcome.files),
                outcome.moved,
                std::path::Path::new(&config.data_dir).join("deadletter").join("replayed").display()
            );
            if outcome.truncated > 0 {
                eprintln!(
                    "note: {} of the lines were kept truncated (longer than --max-line-bytes when rejected): \
                     only their start was replayed",
                    outcome.truncated
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let mut config = ServeConfig::new(args.pipeline.config(Vec::new()));
    config.listen = args.listen;
    config.max_body_bytes = args.max_body_bytes.max(1);
    config.max_requests_in_flight = args.max_requests_in_flight.max(1);
    config.max_in_flight_bytes = args.max_in_flight_mib.max(1) << 20;
    config.max_wal_behind_bytes = args.max_wal_behind_mib << 20;
    config.indexer_queue_bytes = args.indexer_queue_mib.saturating_mul(1 << 20);
    config.connections = sluice_ingest::serve::connections::ConnectionLimits {
        max_connections: args.max_connections.max(1),
        header_read_timeout: args.header_read_timeout.max(Duration::from_millis(1)),
        body_read_timeout: args.body_read_timeout.max(Duration::from_millis(1)),
        idle_timeout: args.idle_timeout.max(Duration::from_millis(1)),
    };
    config.wal_segment_bytes = args.wal_segment_bytes.max(1);
    config.wal_damage = match args.wal_damage {
        WalDamage::Skip => sluice_ingest::serve::wal::DamagePolicy::Skip,
        WalDamage::Refuse => sluice_ingest::serve::wal::DamagePolicy::Refuse,
    };
    if let Some(path) = &args.token_file {
        match Tokens::load(path) {
            Ok(tokens) => config.tokens = Some(tokens),
            Err(error) => return report(&sluice_ingest::serve::ServeError::from(error).into()),
        }
    }
    let data_dir = config.ingest.data_dir.display().to_string();
    let result = sluice_ingest::serve::serve(&config, |addr| {
        eprintln!("sluice-ingest: listening on http://{addr}, data in {data_dir}");
    });
    match result {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn compact(args: CompactArgs) -> ExitCode {
    let run = sluice_ingest::compact::CompactRun {
        data_dir: args.data_dir.unwrap_or_else(|| PathBuf::from("sluice-data")),
        compact: sluice_index::compact::CompactConfig {
            target_file_bytes: args.target_file_mib.max(1) << 20,
            zstd_level: args.zstd_level,
            quiet_for: args.quiet_for,
            now: args.now.unwrap_or_else(std::time::SystemTime::now),
        },
        retention: args.retention,
        schema: args.schema,
        shared_archive: args.archive,
    };
    let terminal = io::stderr().is_terminal();
    let mut progress = |done: &str| {
        if terminal {
            eprintln!("sluice-ingest: compacted {done}");
        }
    };
    match sluice_ingest::compact::compact(&run, &mut progress) {
        Ok(outcome) => {
            for line in outcome.expired.lines() {
                eprintln!("{line}");
            }
            let report = outcome.compacted;
            let plural = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
            let share = if report.bytes_read == 0 {
                0.0
            } else {
                100.0 * report.bytes_written as f64 / report.bytes_read as f64
            };
            eprintln!(
                "compacted {} in {} into {}, {}\n  archive: {} -> {} ({share:.0}%)\n  index: {}, {} -> {}",
                plural(report.files_read, "archive file", "archive files"),
                plural(report.partitions, "hour", "hours"),
                plural(report.files_written, "file", "files"),
                plural(report.rows as usize, "row", "rows"),
                human_bytes(report.bytes_read),
                human_bytes(report.bytes_written),
                plural(report.splits_merged, "day split", "day splits"),
                plural(report.segments_before, "segment", "segments"),
                report.segments_after,
            );
            if let Some(shared) = &outcome.shared_archive {
                eprintln!(
                    "  shared archive: {} uploaded ({}), {} deleted",
                    plural(shared.uploaded, "file", "files"),
                    human_bytes(shared.uploaded_bytes),
                    plural(shared.deleted, "file", "files"),
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", bytes as f64 / 1e6),
        _ => format!("{:.2} GB", bytes as f64 / 1e9),
    }
}

/// The completion script for `shell` on stdout.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    // clap_complete panics when its writer fails (`… completions bash |
    // head`): generate into memory, then write.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "sluice-ingest", &mut script);
    if shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 spells a hyphenated program's states two ways in
        // bash (clap-rs/clap#6421, open): its dispatch loop reaches
        // `sluice__ingest__subcmd__serve` while the case arms say
        // `sluice__subcmd__ingest__subcmd__serve`, so nothing after a
        // subcommand completes. Spell the arms as the loop does.
        let fixed =
            String::from_utf8_lossy(&script).replace("sluice__subcmd__ingest__subcmd__", "sluice__ingest__subcmd__");
        script = fixed.into_bytes();
    }
    match io::stdout().lock().write_all(&script) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sluice-ingest: error: cannot write the completions: {error}");
            ExitCode::from(ErrorKind::OperatorFixable.exit_code())
        }
    }
}

/// sluice-ingest(1) on stdout, or every page into `dir`.
fn man(dir: Option<&std::path::Path>) -> ExitCode {
    let written = match dir {
        None => clap_mangen::Man::new(Args::command()).render(&mut io::stdout()),
        Some(dir) => std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(Args::command(), dir)),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sluice-ingest: error: cannot write the manual: {error}");
            ExitCode::from(ErrorKind::OperatorFixable.exit_code())
        }
    }
}

fn report(error: &IngestError) -> ExitCode {
    let color = anstream::AutoStream::choice(&io::stderr()) != anstream::ColorChoice::Never;
    let label = if color { "\x1b[1;31merror\x1b[0m" } else { "error" };
    if error.is_disk_full() {
        let resume = match error {
            IngestError::StdinStopped { lines, bytes, .. } => format!(
                "send standard input again from line {} on (the first {lines} lines, {bytes} bytes, are committed; \
                 from a file: `tail -n +{} FILE | sluice-ingest …`): nothing is lost or duplicated.",
                lines + 1,
                lines + 1
            ),
            _ => "run the same command again: it resumes after the last committed batch, losing and duplicating \
                  nothing."
                .to_owned(),
        };
        eprintln!(
            "sluice-ingest: {label}: disk full: {error}\n\
             Free space on the data directory's filesystem (or give --data-dir another one) and {resume}"
        );
        return ExitCode::from(ErrorKind::OperatorFixable.exit_code());
    }
    eprintln!("sluice-ingest: {label}: {error}");
    ExitCode::from(error.kind().exit_code())
}
