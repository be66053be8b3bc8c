//! Stage 2, on worker threads: a chunk's lines → index documents, Arrow
//! rows and dead letters.
//!
//! Everything that costs per record and needs no ordering happens here, in
//! parallel: parsing, normalizing, building the tantivy document (without
//! its archive location, known only once the batch is sorted) and the
//! archive's Arrow columns (in arrival order).

use std::sync::Arc;

use sluice_index::archive::{ArchiveBatchBuilder, ArchiveLayout};
use sluice_index::data_dir::Checkpoint;
use sluice_index::fields::{GroupKey, IndexFields};
use sluice_index::{RecordBatch, TantivyDocument};
use sluice_schemas::{LineBuffer, Normalizer};

use crate::dead_letter;
use crate::error::IngestError;
use crate::pipeline::read::Chunk;
use crate::summary::{RejectReason, Summary};

/// A normalized chunk.
pub struct NormalizedChunk {
    /// Accepted records' timestamps (ns), in arrival order.
    pub timestamps: Vec<i64>,
    /// Accepted records' index groups ([`GroupKey`]), in arrival order.
    pub groups: Vec<GroupKey>,
    /// Accepted records' index documents, in arrival order.
    pub documents: Vec<TantivyDocument>,
    /// Accepted records as archive rows, in arrival order.
    pub rows: RecordBatch,
    pub dead_letters: Vec<u8>,
    /// The chunk's account: lines read, accepted, rejected by reason, blank.
    pub counts: Summary,
    pub bytes: u64,
    pub checkpoint: Option<(String, Checkpoint)>,
    /// Each rejected line, in input order (HTTP answers with them).
    pub rejections: Vec<LineRejection>,
}

/// A rejected line: its number in its input, why, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRejection {
    pub number: u64,
    pub reason: RejectReason,
    pub detail: String,
}

/// One worker's state, reused from chunk to chunk.
pub struct ChunkNormalizer {
    normalizer: Normalizer,
    fields: IndexFields,
    archive: ArchiveBatchBuilder,
    buffer: LineBuffer,
    max_line_bytes: usize,
    /// `--service`, for chunks that bring no service of their own.
    default_service: Option<String>,
}

impl ChunkNormalizer {
    pub fn new(
        normalizer: Normalizer,
        fields: IndexFields,
        layout: Arc<ArchiveLayout>,
        max_line_bytes: usize,
        default_service: Option<String>,
    ) -> ChunkNormalizer {
        ChunkNormalizer {
            default_service,
            normalizer,
            fields,
            archive: ArchiveBatchBuilder::new(layout),
            buffer: LineBuffer::new(),
            max_line_bytes,
        }
    }

    pub fn normalize(&mut self, chunk: Chunk) -> Result<NormalizedChunk, IngestError> {
        let mut counts = Summary { lines_read: chunk.lines_read, blank: chunk.blank, ..Summary::default() };
        let mut timestamps = Vec::with_capacity(chunk.lines.len());
        let mut groups = Vec::with_capacity(chunk.lines.len());
        let mut documents = Vec::with_capacity(chunk.lines.len());
        let mut dead_letters = Vec::new();
        let mut rejections = Vec::new();
        self.normalizer.set_default_service(chunk.service.as_deref().or(self.default_service.as_deref()));
        self.normalizer.set_producer(chunk.producer);
        self.archive.reserve(chunk.lines.len(), chunk.data.len());
        for line in &chunk.lines {
            let bytes = &chunk.data[line.start..line.end];
            if let Some(length) = line.too_long {
                counts.count_rejected(RejectReason::LineTooLong);
                let detail = format!("line is {length} bytes, longer than --max-line-bytes {}", self.max_line_bytes);
                rejections.push(LineRejection {
                    number: line.number,
                    reason: RejectReason::LineTooLong,
                    detail: detail.clone(),
                });
                dead_letter::write_entry(
                    &mut dead_letters,
                    &chunk.source,
                    line.number,
                    RejectReason::LineTooLong,
                    &detail,
                    bytes,
                    true,
                );
                continue;
            }
            self.buffer.fill(bytes);
            match self.normalizer.normalize_buffer(&mut self.buffer, chunk.observed) {
                Ok(record) => {
                    counts.accepted += 1;
                    timestamps.push(record.timestamp.as_nanos());
                    groups.push(GroupKey::of(&record));
                    documents.push(self.fields.unlocated_document(&record));
                    self.archive.push(&record);
                }
                Err(rejection) => {
                    let (reason, detail) = RejectReason::of_rejection(rejection, bytes);
                    counts.count_rejected(reason);
                    rejections.push(LineRejection { number: line.number, reason, detail: detail.clone() });
                    dead_letter::write_entry(
                        &mut dead_letters,
                        &chunk.source,
                        line.number,
                        reason,
                        &detail,
                        bytes,
                        false,
                    );
                }
            }
        }
        let rows = self.archive.finish_unsorted().map_err(IngestError::Archive)?;
        Ok(NormalizedChunk {
            timestamps,
            groups,
            documents,
            rows,
            dead_letters,
            counts,
            bytes: chunk.bytes,
            checkpoint: chunk.checkpoint,
            rejections,
        })
    }
}
