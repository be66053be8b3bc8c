//! `sluice-corpus`: writes a deterministic mixed-producer corpus and the
//! counts a correct ingester must find in it.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sluice_benches::corpus::{CorpusConfig, Variables, generate};
use sluice_schemas::Timestamp;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const AFTER_HELP: &str = "\
Examples:
  # 1 GB for the end-to-end benchmark, with its expected counts
  sluice-corpus --size 1GB --out corpus.ndjson --expected corpus.expected.json
  # A small corpus with many malformed lines, to stdout
  sluice-corpus --size 2MB --malformed 0.05 | sluice-ingest --dry-run --summary-json | tail -1

Messages come from the loghub templates in fixtures/loghub/templates.tsv,
their slots filled with the values loghub's sample shows for them
(fixtures/loghub/slot-values.ndjson; research and academic use with
attribution, see fixtures/README.md).
The same flags always produce the same bytes.";

/// Generate a deterministic corpus of mixed-producer JSON log lines.
#[derive(Parser, Debug)]
#[command(name = "sluice-corpus", version, after_help = AFTER_HELP)]
struct Args {
    /// Size to generate: bytes, or with a suffix KB/MB/GB (10^3) or KiB/MiB/GiB (2^10).
    #[arg(long, default_value = "16MB", value_parser = parse_size)]
    size: u64,
    /// Seed; the same seed gives the same corpus.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of malformed lines (half as many blank lines are added).
    #[arg(long, default_value_t = 0.001)]
    malformed: f64,
    /// Lines over 1 MiB, rejected as line_too_long.
    #[arg(long, default_value_t = 0)]
    too_long: u32,
    /// Days the timeline spans.
    #[arg(long, default_value_t = 3)]
    days: u32,
    /// First day, YYYY-MM-DD (UTC).
    #[arg(long, default_value = "2024-03-01")]
    start: String,
    /// Unique tokens planted once each (searchable "needles").
    #[arg(long, default_value_t = 10)]
    needles: u32,
    /// Traces of 3-12 records across services.
    #[arg(long, default_value_t = 20)]
    traces: u32,
    /// How template slots get their values: `observed` draws them from what
    /// each slot took in loghub's sample (fixtures/loghub/slot-values.ndjson),
    /// fresh ones as often as values seen once suggest; `uniform` fills every
    /// slot with a random number, hex id or IP, as corpora made before
    /// `observed` existed were (three times less compressible than real logs).
    #[arg(long, value_enum, default_value_t = Variables::Observed)]
    variables: Variables,
    /// Write the corpus here instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the expected counts (JSON) here; without it they go to stderr.
    #[arg(long, value_name = "FILE")]
    expected: Option<PathBuf>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("`{text}` is not a size such as 500MB or 1GiB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown size unit `{other}`: use KB, MB, GB, KiB, MiB or GiB")),
    };
    Ok((number * scale) as u64)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let start = match sluice_schemas::timestamp::parse_text(
        &args.start,
        sluice_schemas::timestamp::EpochUnit::Seconds,
        &sluice_schemas::timestamp::DefaultZone::Utc,
    ) {
        Ok(start) => start,
        Err(error) => {
            eprintln!("sluice-corpus: error: --start `{}`: {error}", args.start);
            return ExitCode::from(2);
        }
    };
    let config = CorpusConfig {
        target_bytes: args.size,
        seed: args.seed,
        malformed_fraction: args.malformed.clamp(0.0, 0.5),
        too_long_lines: args.too_long,
        start: Timestamp::from_nanos(start.as_nanos()),
        days: args.days,
        needles: args.needles,
        traces: args.traces,
        variables: args.variables,
    };
    let result = (|| -> io::Result<()> {
        let mut out: Box<dyn Write> = match &args.out {
            Some(path) => Box::new(BufWriter::with_capacity(1 << 20, File::create(path)?)),
            None => Box::new(BufWriter::with_capacity(1 << 20, io::stdout().lock())),
        };
        let expected = generate(&config, &mut out)?;
        out.flush()?;
        let json = serde_json::to_string_pretty(&expected).map_err(io::Error::other)?;
        match &args.expected {
            Some(path) => std::fs::write(path, json + "\n")?,
            None => eprintln!("{json}"),
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sluice-corpus: error: {error}");
            ExitCode::from(3)
        }
    }
}
