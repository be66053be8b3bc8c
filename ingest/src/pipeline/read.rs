//! Stage 1, on the calling thread: inputs → framed lines → chunks.
//!
//! A chunk is about [`CHUNK_BYTES`] of whole lines from one input, copied
//! out of the reader's buffer so the reader can move on. Blank lines are
//! counted here and dropped; an over-long line travels with its first
//! `--max-line-bytes` bytes so the dead letter can show it. Each chunk
//! carries where its input may resume once the chunk is committed.
//!
//! A pipe whose writer goes quiet (`app | sluice-ingest`) does not hold
//! its lines back until the chunk is full: when a read would block, the
//! chunk goes out as it is, marked [`Chunk::idle`], so the batch stage can
//! commit it (see `--commit-interval`). Once the writer is quiet, an empty
//! idle chunk tells the batch stage so even if the last chunk was full.

use std::path::PathBuf;
use std::sync::Arc;

use sluice_index::data_dir::{Checkpoint, Manifest};
use sluice_schemas::{Producer, Timestamp};

use crate::error::IngestError;
use crate::framing::{Frame, LineReader, is_blank};
use crate::source::{Compression, Input, InputRead};

/// Input bytes per chunk (at most; never more than a batch): large enough that channel hand-offs cost nothing,
/// small enough that the bounded queues hold little.
pub const CHUNK_BYTES: usize = 1 << 20;

/// One line of a chunk: its number in its input and where it is in `data`.
#[derive(Clone, Debug)]
pub struct ChunkLine {
    pub number: u64,
    pub start: usize,
    pub end: usize,
    /// For a line over the limit, its full length (`data` holds its prefix).
    pub too_long: Option<u64>,
}

/// Whole lines of one input, on their way to a normalizer.
#[derive(Debug)]
pub struct Chunk {
    pub source: Arc<str>,
    pub data: Vec<u8>,
    pub lines: Vec<ChunkLine>,
    /// When these lines were read: every record's `observed_timestamp`.
    pub observed: Timestamp,
    /// Input bytes the chunk covers, line endings and blank lines included.
    pub bytes: u64,
    /// Lines the chunk covers, blank lines included.
    pub lines_read: u64,
    pub blank: u64,
    /// For a file: its manifest key and where it resumes after this chunk.
    pub checkpoint: Option<(String, Checkpoint)>,
    /// Sent because the input went quiet, not because the chunk was full.
    pub idle: bool,
    /// The service of records that name none, when the input says (HTTP's
    /// `?service=`); else `--service`.
    pub service: Option<Arc<str>>,
    /// Read every line with this producer's profile (HTTP's `?schema=`).
    pub producer: Option<Producer>,
}

impl Chunk {
    pub(crate) fn new(source: &Arc<str>) -> Chunk {
        Chunk {
            source: source.clone(),
            data: Vec::with_capacity(CHUNK_BYTES + 4096),
            lines: Vec::with_capacity(CHUNK_BYTES / 128),
            observed: Timestamp::now(),
            bytes: 0,
            lines_read: 0,
            blank: 0,
            checkpoint: None,
            idle: false,
            service: None,
            producer: None,
        }
    }

    fn is_empty(&self) -> bool {
        self.lines_read == 0
    }
}

/// Reads every input in order and hands each chunk to `send`, which
/// returns `false` when the pipeline has stopped (a later stage failed).
pub fn read_inputs(
    inputs: &[Input],
    manifest: &Manifest,
    max_line_bytes: usize,
    chunk_bytes: usize,
    mut send: impl FnMut(Chunk) -> bool,
) -> Result<(), IngestError> {
    for input in inputs {
        let (reader, name, checkpoint) = open_input(input, manifest)?;
        let source: Arc<str> = Arc::from(name.as_str());
        let mut lines = LineReader::new(reader, max_line_bytes);
        let (start_offset, start_lines) = checkpoint.as_ref().map_or((0, 0), |(c, _)| (c.offset, c.lines));
        let mut chunk = Chunk::new(&source);
        let mut chunk_started_at = 0u64;
        let mut chunk_started_line = 0u64;
        // Lines went out since the input was last seen quiet.
        let mut flowing = false;
        // Only standard input has a writer that can pause; files are not
        // asked on every line.
        let may_pause = *input == Input::Stdin;
        loop {
            let frame =
                lines.next_frame().map_err(|source| IngestError::ReadInput { path: PathBuf::from(&name), source })?;
            let Some(frame) = frame else { break };
            match frame {
                Frame::TooLong { number, length, prefix } => {
                    let start = chunk.data.len();
                    chunk.data.extend_from_slice(prefix);
                    let end = chunk.data.len();
                    chunk.lines.push(ChunkLine { number: start_lines + number, start, end, too_long: Some(length) });
                }
                Frame::Line { bytes, .. } if is_blank(bytes) => chunk.blank += 1,
                Frame::Line { number, bytes } => {
                    let start = chunk.data.len();
                    chunk.data.extend_from_slice(bytes);
                    let end = chunk.data.len();
                    chunk.lines.push(ChunkLine { number: start_lines + number, start, end, too_long: None });
                }
            }
            let full = chunk.data.len() >= chunk_bytes;
            let holding = lines.lines_read() > chunk_started_line;
            let idle = may_pause && !full && (holding || flowing) && lines.get_mut().is_idle();
            if full || idle {
                seal(&mut chunk, &lines, &checkpoint, start_offset, start_lines, chunk_started_at, chunk_started_line);
                chunk.idle = idle;
                flowing = !idle;
                chunk_started_at = lines.bytes_read();
                chunk_started_line = lines.lines_read();
                if !send(std::mem::replace(&mut chunk, Chunk::new(&source))) {
                    return Ok(());
                }
            }
        }
        seal(&mut chunk, &lines, &checkpoint, start_offset, start_lines, chunk_started_at, chunk_started_line);
        if !chunk.is_empty() && !send(chunk) {
            return Ok(());
        }
    }
    Ok(())
}

/// Fills in a chunk's counts and resume point from the reader's position.
fn seal(
    chunk: &mut Chunk,
    lines: &LineReader<Box<dyn InputRead>>,
    checkpoint: &Option<(Checkpoint, String)>,
    start_offset: u64,
    start_lines: u64,
    chunk_started_at: u64,
    chunk_started_line: u64,
) {
    // A quiet pipe's chunk may have been opened long before its lines came.
    chunk.observed = Timestamp::now();
    chunk.bytes = lines.bytes_read() - chunk_started_at;
    chunk.lines_read = lines.lines_read() - chunk_started_line;
    chunk.checkpoint = checkpoint.as_ref().map(|(c, key)| {
        let mut c = c.clone();
        c.offset = start_offset + lines.bytes_read();
        c.lines = start_lines + lines.lines_read();
        (key.clone(), c)
    });
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
    let checkpoint = match opened.file {
        Some(identity) => (Checkpoint { device: identity.device, inode: identity.inode, ..resumed }, identity.key),
        // A pipe never resumes (the next run's stdin is another stream), but
        // what of it is committed is recorded, for the message of a run
        // that stops (see `STDIN_CHECKPOINT_KEY`).
        None => (Checkpoint::default(), STDIN_CHECKPOINT_KEY.to_owned()),
    };
    Ok((opened.reader, input.name(), Some(checkpoint)))
}

/// The manifest checkpoint of standard input: bytes and lines of this run's
/// stdin committed so far. Never resumed from.
pub const STDIN_CHECKPOINT_KEY: &str = "<stdin>";

/// A reader, its name for messages, and (for files) its checkpoint and manifest key.
type OpenedInput = (Box<dyn InputRead>, String, Option<(Checkpoint, String)>);
