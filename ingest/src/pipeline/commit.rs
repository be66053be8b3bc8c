//! Stage 4, one thread: staged batches → committed, in order.
//!
//! Adds a batch's documents to the day splits, commits them with the batch
//! number as payload, stores the manifest (the commit point), then
//! publishes the staged files. A crash anywhere in between is undone or
//! rolled forward by `DataDir::recover` on the next start.

use sluice_index::data_dir::{DataDir, Manifest};
use sluice_index::splits::SplitWriters;

use crate::error::IngestError;
use crate::pipeline::batch::StagedBatch;

/// Called after each commit with the stored manifest.
type CommitHook = Box<dyn FnMut(&Manifest) + Send>;

pub struct Committer {
    dir: DataDir,
    manifest: Manifest,
    splits: SplitWriters,
    /// Called with each stored manifest, after the batch is published (the
    /// server drops write-ahead log segments the manifest has passed).
    on_commit: Option<CommitHook>,
}

impl Committer {
    pub fn new(dir: DataDir, manifest: Manifest, splits: SplitWriters) -> Committer {
        Committer { dir, manifest, splits, on_commit: None }
    }

    pub fn on_commit(&mut self, hook: impl FnMut(&Manifest) + Send + 'static) {
        self.on_commit = Some(Box::new(hook));
    }

    pub fn commit(&mut self, batch: StagedBatch) -> Result<(), IngestError> {
        for (timestamp, document) in batch.documents {
            self.splits.add_document(batch.number, timestamp, document).map_err(IngestError::Index)?;
        }
        self.splits.commit(batch.number).map_err(IngestError::Index)?;
        self.manifest.last_batch = batch.number;
        self.manifest.checkpoints.extend(batch.checkpoints);
        self.manifest.store(&self.dir).map_err(IngestError::DataDir)?;
        for file in &batch.staged {
            file.publish().map_err(IngestError::Archive)?;
        }
        if let Some(hook) = &mut self.on_commit {
            hook(&self.manifest);
        }
        Ok(())
    }

    /// Closes the index writers (nothing is pending after the last commit).
    pub fn finish(self) -> Result<(), IngestError> {
        self.splits.close().map_err(IngestError::Index)
    }
}
