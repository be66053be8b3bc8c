//! `sluice-sql`: the program `sluice sql` runs. DataFusion lives here only,
//! so that `sluice` and its other commands build without it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use sluice_sql::{BlockingSqlEngine, SqlFormat, write_sql_result};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SQL over a Sluice archive, as table `logs`: the engine of `sluice sql`
/// (see `sluice sql --help`).
#[derive(Parser, Debug)]
#[command(name = "sluice-sql", version = VERSION.as_str(), after_help = "See `sluice sql --help` for the table's columns and examples.")]
struct Args {
    /// Data directory [default: $SLUICE_DATA_DIR, else ./sluice-data].
    #[arg(long, value_name = "DIR", env = "SLUICE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// A shared archive (s3://BUCKET/PREFIX or a directory) to query
    /// instead of the data directory's archive.
    #[arg(long, value_name = "URL")]
    archive: Option<String>,
    /// When to color the error label: auto (a terminal, unless NO_COLOR), always or never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    /// One SQL statement.
    statement: String,
    /// table, csv, json (an array) or ndjson.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// After the result, print on stderr how many archive files the
    /// statement scanned, of those committed.
    #[arg(long)]
    stats: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// The commit built from (`-modified` when the work tree had uncommitted changes).
const COMMIT: &str = git_version::git_version!(
    args = ["--always", "--dirty=-modified", "--abbrev=12", "--exclude=*"],
    fallback = "unknown"
);

/// `0.1.0 (commit 0123abcd4567)`: the version and the commit built from.
static VERSION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{} (commit {COMMIT})", env!("CARGO_PKG_VERSION")));

fn main() -> ExitCode {
    let args = Args::parse();
    match args.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    }
    .write_global();
    let data_dir = args.data_dir.unwrap_or_else(|| PathBuf::from("sluice-data"));
    let format = match args.format {
        Format::Table => SqlFormat::Table,
        Format::Csv => SqlFormat::Csv,
        Format::Json => SqlFormat::Json,
        Format::Ndjson => SqlFormat::Ndjson,
    };
    let engine = match &args.archive {
        Some(url) => sluice_index::shared_archive::ArchiveUrl::parse(url)
            .map_err(|e| sluice_query::QueryError::Sql { message: e.to_string(), user: true })
            .and_then(|url| BlockingSqlEngine::open_shared(&url)),
        None => BlockingSqlEngine::open(&data_dir),
    };
    let result = engine.and_then(|engine| engine.run(&args.statement));
    let result = match result {
        Ok(result) => result,
        Err(error) => {
            let mut stderr = anstream::stderr();
            let _ = writeln!(stderr, "sluice: \x1b[1;31merror\x1b[0m: {error}");
            return ExitCode::from(error.kind().exit_code());
        }
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    match write_sql_result(&mut out, &result, format).and_then(|()| out.flush()) {
        Ok(()) => {
            if args.stats {
                let scan = result.scan;
                let _ = writeln!(
                    io::stderr(),
                    "sluice: scanned {} of {} archive files",
                    scan.files_scanned,
                    scan.files_committed
                );
            }
            ExitCode::SUCCESS
        }
        // A closed pipe (`sluice sql … | head`) is not an error.
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(anstream::stderr(), "sluice: \x1b[1;31merror\x1b[0m: cannot write output: {error}");
            ExitCode::from(sluice_schemas::ErrorKind::OperatorFixable.exit_code())
        }
    }
}
