//! Stage 3, one thread: normalized chunks, in input order → sorted,
//! staged batches.
//!
//! A batch closes after `--batch-bytes` of input or at the end of the
//! inputs. Closing sorts its records by time (stable), which fixes each
//! record's row in its hour's archive file; the documents get that
//! location and are then ordered for the index by day, then grouped
//! (similar records side by side, time order within a group: see
//! `GroupKey`); the archive files and the dead letters are written and
//! fsync'd under temporary names. Nothing is visible yet: the commit stage
//! makes it so, after the index commit (see `sluice_index::data_dir`).

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_index::archive::{ArchiveLayout, hour_rows, sort_order, sorted_batch};
use sluice_index::commit::{BatchStager, StagedBatch};
use sluice_index::data_dir::Checkpoint;
use sluice_index::fields::{GroupKey, IndexFields};
use sluice_index::splits::day_of;
use sluice_index::{RecordBatch, TantivyDocument};

use crate::error::IngestError;
use crate::pipeline::normalize::NormalizedChunk;

/// Collects chunks into the open batch and stages it when it closes.
pub struct Batcher {
    fields: IndexFields,
    layout: Arc<ArchiveLayout>,
    stager: BatchStager,
    next_number: u64,
    open: OpenBatch,
}

#[derive(Default)]
struct OpenBatch {
    timestamps: Vec<i64>,
    groups: Vec<GroupKey>,
    documents: Vec<TantivyDocument>,
    rows: Vec<RecordBatch>,
    dead_letters: Vec<u8>,
    checkpoints: BTreeMap<String, Checkpoint>,
    bytes: u64,
}

impl Batcher {
    pub fn new(fields: IndexFields, layout: Arc<ArchiveLayout>, stager: BatchStager, next_number: u64) -> Batcher {
        Batcher { fields, layout, stager, next_number, open: OpenBatch::default() }
    }

    /// Input bytes in the open batch.
    pub fn open_bytes(&self) -> u64 {
        self.open.bytes
    }

    pub fn add(&mut self, chunk: NormalizedChunk) {
        let open = &mut self.open;
        open.timestamps.extend_from_slice(&chunk.timestamps);
        open.groups.extend_from_slice(&chunk.groups);
        open.documents.extend(chunk.documents);
        if chunk.rows.num_rows() > 0 {
            open.rows.push(chunk.rows);
        }
        open.dead_letters.extend_from_slice(&chunk.dead_letters);
        if let Some((key, checkpoint)) = chunk.checkpoint {
            open.checkpoints.insert(key, checkpoint);
        }
        open.bytes += chunk.bytes;
    }

    /// Closes the open batch: sorts, locates, stages. `None` when it holds
    /// nothing to commit.
    pub fn close(&mut self) -> Result<Option<StagedBatch>, IngestError> {
        let open = std::mem::take(&mut self.open);
        if open.documents.is_empty() && open.dead_letters.is_empty() && open.checkpoints.is_empty() {
            return Ok(None);
        }
        let number = self.next_number;
        self.next_number += 1;
        let order = sort_order(&open.timestamps);
        // Each record's row in its hour's archive file.
        let rows = hour_rows(&open.timestamps, &order);
        // The index's order: by day (one split at a time, see
        // `SplitWriters::add_document`), then group, time order within a
        // group (a stable sort of the time order). Positions are sorted, not
        // documents, so each document moves once.
        let mut index_order = order.clone();
        index_order.sort_by_key(|&position| {
            let position = position as usize;
            (day_of(open.timestamps[position]), open.groups[position])
        });
        let mut slots: Vec<Option<TantivyDocument>> = open.documents.into_iter().map(Some).collect();
        let mut documents = Vec::with_capacity(slots.len());
        for position in index_order {
            let position = position as usize;
            if let Some(mut document) = slots[position].take() {
                self.fields.locate(&mut document, number, rows[position]);
                documents.push((open.timestamps[position], document));
            }
        }
        let sorted = if order.is_empty() {
            None
        } else {
            Some(sorted_batch(&self.layout, &open.rows, &order).map_err(IngestError::Archive)?)
        };
        drop(open.rows);
        let staged = self.stager.stage(number, sorted.as_ref(), &open.dead_letters)?;
        Ok(Some(StagedBatch { number, documents, staged, checkpoints: open.checkpoints }))
    }
}
