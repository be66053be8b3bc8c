//! `sluice-ingest --dry-run`: frame, parse and normalize every input line
//! and print the canonical records as NDJSON, writing nothing to disk.
//!
//! It is how a team checks a schema against sample lines, and it runs the
//! same framing and normalizer the pipeline does, with the same accounting.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use sluice_schemas::{CompiledSchema, LineBuffer, Normalizer, NormalizerConfig, Schema, Timestamp};

use crate::error::IngestError;
use crate::framing::{Frame, LineReader, is_blank};
use crate::summary::{RejectReason, Summary};

pub use crate::source::Input;

/// Everything a dry run needs, parsed from the command line.
#[derive(Clone, Debug)]
pub struct DryRunConfig {
    pub inputs: Vec<Input>,
    pub schema: Option<PathBuf>,
    pub service: Option<String>,
    pub max_line_bytes: usize,
    pub max_rejected: Option<u64>,
}

/// Loads the schema named by `--schema`, or the built-in default.
pub fn load_schema(path: Option<&Path>) -> Result<Schema, IngestError> {
    Ok(match path {
        Some(path) => Schema::from_file(path)?,
        None => Schema::builtin(),
    })
}

/// Normalizes every line of every input: records to `records` (NDJSON),
/// one line per rejected input line to `rejects` (`source:line: reason: detail`).
///
/// A closed `records` pipe (`| head`) ends the run early without error.
pub fn dry_run(
    config: &DryRunConfig,
    records: &mut dyn Write,
    rejects: &mut dyn Write,
) -> Result<Summary, IngestError> {
    let started = Instant::now();
    let schema = load_schema(config.schema.as_deref())?;
    let compiled = Arc::new(CompiledSchema::new(schema));
    let mut normalizer = Normalizer::new(compiled, NormalizerConfig { default_service: config.service.clone() });
    let mut summary = Summary::default();
    let mut buffer = LineBuffer::new();
    let mut out = Vec::with_capacity(64 * 1024);
    let inputs = if config.inputs.is_empty() { vec![Input::Stdin] } else { config.inputs.clone() };
    'inputs: for input in &inputs {
        let reader = crate::source::open(input, |_| 0)?.reader;
        let name = input.name();
        let mut lines = LineReader::new(reader, config.max_line_bytes);
        let bytes_before = summary.bytes_read;
        let mut reader_gone = false;
        loop {
            let frame =
                lines.next_frame().map_err(|source| IngestError::ReadInput { path: PathBuf::from(&name), source })?;
            let Some(frame) = frame else { break };
            summary.lines_read += 1;
            let observed = Timestamp::now();
            match frame {
                Frame::TooLong { number, length, .. } => {
                    summary.count_rejected(RejectReason::LineTooLong);
                    let detail =
                        format!("line is {length} bytes, longer than --max-line-bytes {}", config.max_line_bytes);
                    report_reject(rejects, &name, number, RejectReason::LineTooLong, &detail)?;
                }
                Frame::Line { bytes, .. } if is_blank(bytes) => summary.blank += 1,
                Frame::Line { number, bytes } => {
                    buffer.fill(bytes);
                    match normalizer.normalize_buffer(&mut buffer, observed) {
                        Ok(record) => {
                            summary.accepted += 1;
                            record.write_ndjson(&mut out);
                        }
                        Err(rejection) => {
                            let (reason, detail) = RejectReason::of_rejection(rejection, bytes);
                            summary.count_rejected(reason);
                            report_reject(rejects, &name, number, reason, &detail)?;
                        }
                    }
                }
            }
            if out.len() >= 60 * 1024 && !flush(records, &mut out)? {
                reader_gone = true;
                break;
            }
            if let Some(max) = config.max_rejected
                && summary.rejected() > max
            {
                flush(records, &mut out)?;
                return Err(IngestError::TooManyRejected { rejected: summary.rejected(), max });
            }
        }
        summary.bytes_read = bytes_before + lines.bytes_read();
        if reader_gone {
            break 'inputs;
        }
    }
    flush(records, &mut out)?;
    summary.elapsed = started.elapsed();
    debug_assert!(summary.balances(), "{summary:?}");
    Ok(summary)
}

/// Writes and clears `out`; `Ok(false)` when the reader went away.
fn flush(records: &mut dyn Write, out: &mut Vec<u8>) -> Result<bool, IngestError> {
    let result = records.write_all(out).and_then(|()| records.flush());
    out.clear();
    match result {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(error) => Err(IngestError::WriteOutput(error)),
    }
}

fn report_reject(
    rejects: &mut dyn Write,
    source: &str,
    line_number: u64,
    reason: RejectReason,
    detail: &str,
) -> Result<(), IngestError> {
    match writeln!(rejects, "{source}:{line_number}: {}: {detail}", reason.as_str()) {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(IngestError::WriteOutput(error)),
        _ => Ok(()),
    }
}
