//! The ingest pipeline: inputs → framing → normalize → batches committed to
//! the tantivy index, the Parquet archive and the dead-letter files
//! together (see `sluice_index::data_dir` for the protocol).
//!
//! This first version runs on one thread; the stages are the same ones the
//! parallel version will run with bounded queues between them. A batch
//! closes after `batch_bytes` of input or at the end of an input. For each
//! batch the accepted records are sorted by time, which fixes each record's
//! row in its hour's archive file before the index documents point at it.

use std::fs::File;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use sluice_index::archive::{ArchiveBatchBuilder, ArchiveLayout, ArchiveWriter, StagedFile};
use sluice_index::data_dir::{Checkpoint, DataDir, Manifest, batch_file_stem};
use sluice_index::fields::IndexFields;
use sluice_index::splits::SplitWriters;
use sluice_schemas::{CompiledSchema, LineBuffer, Normalizer, NormalizerConfig, Record, Timestamp};

use crate::dry_run::load_schema;
use crate::error::IngestError;
use crate::framing::{Frame, LineReader, is_blank};
use crate::source::{Compression, Input};
use crate::summary::{RejectReason, Summary};

/// Everything an ingest run needs, parsed from the command line.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    pub data_dir: PathBuf,
    pub inputs: Vec<Input>,
    pub schema: Option<PathBuf>,
    pub service: Option<String>,
    pub max_line_bytes: usize,
    pub max_rejected: Option<u64>,
    /// Input bytes per committed batch.
    pub batch_bytes: u64,
    /// tantivy's indexing memory for an open day split.
    pub index_memory_bytes: usize,
    pub zstd_level: i32,
}

impl IngestConfig {
    pub fn new(data_dir: PathBuf, inputs: Vec<Input>) -> IngestConfig {
        IngestConfig {
            data_dir,
            inputs,
            schema: None,
            service: None,
            max_line_bytes: crate::framing::DEFAULT_MAX_LINE_BYTES,
            max_rejected: None,
            batch_bytes: 64 << 20,
            index_memory_bytes: 64 << 20,
            zstd_level: 3,
        }
    }
}

/// One open batch.
struct Batch {
    number: u64,
    records: Vec<Record<'static>>,
    dead_letters: Vec<u8>,
}

/// The writers and state shared by all batches of a run.
struct Sink {
    dir: DataDir,
    manifest: Manifest,
    layout: Arc<ArchiveLayout>,
    archive: ArchiveWriter,
    splits: SplitWriters,
}

impl Sink {
    /// Commits a batch: stage archive and dead letters, commit the index,
    /// store the manifest, publish. `checkpoint` is where the current input
    /// may resume after this batch.
    fn commit(&mut self, batch: &mut Batch, checkpoint: Option<(String, Checkpoint)>) -> Result<(), IngestError> {
        if batch.records.is_empty() && batch.dead_letters.is_empty() && checkpoint.is_none() {
            return Ok(());
        }
        let stem = batch_file_stem(batch.number);
        // Stable sort: equal timestamps keep arrival order, as in the archive.
        batch.records.sort_by_key(|r| r.timestamp);
        let mut staged: Vec<StagedFile> = Vec::new();
        if !batch.records.is_empty() {
            let mut builder = ArchiveBatchBuilder::new(self.layout.clone());
            let mut hour = i64::MIN;
            let mut row = 0u64;
            for record in &batch.records {
                builder.push(record);
                let record_hour = record.timestamp.as_nanos().div_euclid(3_600_000_000_000);
                if record_hour != hour {
                    hour = record_hour;
                    row = 0;
                }
                self.splits.add(record, batch.number, row).map_err(IngestError::Index)?;
                row += 1;
            }
            let arrow_batch = builder.finish().map_err(IngestError::Archive)?;
            staged.extend(self.archive.write(&arrow_batch, &stem).map_err(IngestError::Archive)?);
        }
        let dead_letter = if batch.dead_letters.is_empty() {
            None
        } else {
            let published = self.dir.deadletter().join(format!("{stem}.ndjson"));
            let staged_path = self.dir.deadletter().join(format!("{stem}.ndjson.tmp"));
            let io = |source| {
                IngestError::DataDir(sluice_index::data_dir::DataDirError::Io { path: staged_path.clone(), source })
            };
            let mut file = File::create(&staged_path).map_err(io)?;
            file.write_all(&batch.dead_letters).map_err(io)?;
            file.sync_all().map_err(io)?;
            Some(StagedFile { staged: staged_path, published, rows: 0 })
        };
        self.splits.commit(batch.number).map_err(IngestError::Index)?;
        self.manifest.last_batch = batch.number;
        if let Some((key, checkpoint)) = checkpoint {
            self.manifest.checkpoints.insert(key, checkpoint);
        }
        self.manifest.store(&self.dir).map_err(IngestError::DataDir)?;
        for file in staged.iter().chain(dead_letter.iter()) {
            file.publish().map_err(IngestError::Archive)?;
        }
        batch.number += 1;
        batch.records.clear();
        batch.dead_letters.clear();
        Ok(())
    }
}

/// Ingests every input into the data directory; returns the run's account.
pub fn ingest(config: &IngestConfig) -> Result<Summary, IngestError> {
    let started = Instant::now();
    let schema = load_schema(config.schema.as_deref())?;
    let dir = DataDir::open(&config.data_dir).map_err(IngestError::DataDir)?;
    let fields = IndexFields::new(&schema);
    let (manifest, _recovery) = dir.recover(&fields).map_err(IngestError::DataDir)?;
    let layout = Arc::new(ArchiveLayout::new(&schema));
    let archive = ArchiveWriter::new(&dir.archive(), config.zstd_level).map_err(IngestError::Archive)?;
    let splits = SplitWriters::new(&dir.index(), fields, config.index_memory_bytes, 1);
    let mut batch = Batch { number: manifest.last_batch + 1, records: Vec::new(), dead_letters: Vec::new() };
    let mut sink = Sink { dir, manifest, layout, archive, splits };
    let compiled = Arc::new(CompiledSchema::new(schema));
    let mut normalizer = Normalizer::new(compiled, NormalizerConfig { default_service: config.service.clone() });
    let mut buffer = LineBuffer::new();
    let mut summary = Summary::default();
    let inputs = if config.inputs.is_empty() { vec![Input::Stdin] } else { config.inputs.clone() };
    for input in &inputs {
        let (reader, name, mut checkpoint) = open_input(input, &sink.manifest)?;
        let mut lines = LineReader::new(reader, config.max_line_bytes);
        let start_offset = checkpoint.as_ref().map_or(0, |(c, _)| c.offset);
        let start_lines = checkpoint.as_ref().map_or(0, |(c, _)| c.lines);
        let mut batch_started_at = 0u64;
        // Where this input may resume once everything read so far is committed.
        let position = |checkpoint: &mut Option<(Checkpoint, String)>, lines: &LineReader<Box<dyn BufRead>>| {
            checkpoint.as_mut().map(|(c, key)| {
                c.offset = start_offset + lines.bytes_read();
                c.lines = start_lines + lines.lines_read();
                (key.clone(), c.clone())
            })
        };
        loop {
            let frame =
                lines.next_frame().map_err(|source| IngestError::ReadInput { path: PathBuf::from(&name), source })?;
            let Some(frame) = frame else { break };
            summary.lines_read += 1;
            match frame {
                Frame::TooLong { number, length, prefix } => {
                    summary.count_rejected(RejectReason::LineTooLong);
                    let detail =
                        format!("line is {length} bytes, longer than --max-line-bytes {}", config.max_line_bytes);
                    dead_letter(
                        &mut batch.dead_letters,
                        &name,
                        start_lines + number,
                        RejectReason::LineTooLong,
                        &detail,
                        prefix,
                        true,
                    );
                }
                Frame::Line { bytes, .. } if is_blank(bytes) => summary.blank += 1,
                Frame::Line { number, bytes } => {
                    buffer.fill(bytes);
                    match normalizer.normalize_buffer(&mut buffer, Timestamp::now()) {
                        Ok(record) => {
                            summary.accepted += 1;
                            batch.records.push(record.into_owned());
                        }
                        Err(rejection) => {
                            let (reason, detail) = RejectReason::of_rejection(rejection, bytes);
                            summary.count_rejected(reason);
                            dead_letter(
                                &mut batch.dead_letters,
                                &name,
                                start_lines + number,
                                reason,
                                &detail,
                                bytes,
                                false,
                            );
                        }
                    }
                }
            }
            if let Some(max) = config.max_rejected
                && summary.rejected() > max
            {
                return Err(IngestError::TooManyRejected { rejected: summary.rejected(), max });
            }
            if lines.bytes_read() - batch_started_at >= config.batch_bytes {
                sink.commit(&mut batch, position(&mut checkpoint, &lines))?;
                batch_started_at = lines.bytes_read();
            }
        }
        summary.bytes_read += lines.bytes_read();
        sink.commit(&mut batch, position(&mut checkpoint, &lines))?;
    }
    sink.splits.close().map_err(IngestError::Index)?;
    summary.elapsed = started.elapsed();
    debug_assert!(summary.balances(), "{summary:?}");
    Ok(summary)
}

/// Opens an input. A file the manifest has a checkpoint for (same device
/// and inode; for a plain file, not shorter than the checkpoint) resumes
/// after it; anything else starts from the beginning.
fn open_input(input: &Input, manifest: &Manifest) -> Result<OpenedInput, IngestError> {
    let mut resumed = Checkpoint::default();
    let opened = crate::source::open(input, |identity| match manifest.checkpoints.get(&identity.key) {
        Some(previous)
            if previous.device == identity.device
                && previous.inode == identity.inode
                && (identity.compression != Compression::None || previous.offset <= identity.size) =>
        {
            resumed = previous.clone();
            previous.offset
        }
        _ => 0,
    })?;
    let checkpoint = opened.file.map(|identity| {
        let checkpoint = Checkpoint { device: identity.device, inode: identity.inode, ..resumed };
        (checkpoint, identity.key)
    });
    Ok((opened.reader, input.name(), checkpoint))
}

/// A reader, its name for messages, and (for files) its checkpoint and manifest key.
type OpenedInput = (Box<dyn BufRead>, String, Option<(Checkpoint, String)>);

/// One dead-letter line: source, line number, reason, detail and the raw
/// line, as a string when it is UTF-8 and as base64 when it is not. An
/// over-long line keeps only its first `--max-line-bytes` (`raw_truncated`).
fn dead_letter(
    out: &mut Vec<u8>,
    source: &str,
    line: u64,
    reason: RejectReason,
    detail: &str,
    raw: &[u8],
    truncated: bool,
) {
    let mut entry = serde_json::json!({
        "source": source,
        "line": line,
        "reason": reason.as_str(),
        "detail": detail,
    });
    if truncated {
        entry["raw_truncated"] = serde_json::Value::Bool(true);
    }
    match std::str::from_utf8(raw) {
        Ok(text) => entry["raw"] = serde_json::Value::String(text.to_owned()),
        Err(_) => {
            entry["raw_base64"] = serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(raw))
        }
    }
    if serde_json::to_writer(&mut *out, &entry).is_ok() {
        out.push(b'\n');
    }
}
