//! Stage 4, one thread: staged batches → committed, in order.
//!
//! Runs steps 2 to 4 of the data directory's commit protocol
//! ([`BatchCommitter::commit`]) for each batch. A crash anywhere in between
//! is undone or rolled forward by `DataDir::recover` on the next start.

use sluice_index::commit::{BatchCommitter, StagedBatch};
use sluice_index::data_dir::Manifest;

use crate::error::IngestError;

/// Called after each commit with the stored manifest.
type CommitHook = Box<dyn FnMut(&Manifest) + Send>;

pub struct Committer {
    inner: BatchCommitter,
    /// Called with each stored manifest, after the batch is published (the
    /// server drops write-ahead log segments the manifest has passed).
    on_commit: Option<CommitHook>,
}

impl Committer {
    pub fn new(inner: BatchCommitter) -> Committer {
        Committer { inner, on_commit: None }
    }

    pub fn on_commit(&mut self, hook: impl FnMut(&Manifest) + Send + 'static) {
        self.on_commit = Some(Box::new(hook));
    }

    pub fn commit(&mut self, batch: StagedBatch) -> Result<(), IngestError> {
        let manifest = self.inner.commit(batch)?;
        if let Some(hook) = &mut self.on_commit {
            hook(manifest);
        }
        Ok(())
    }

    /// The committed checkpoint of an input.
    pub fn committed(&self, key: &str) -> Option<&sluice_index::data_dir::Checkpoint> {
        self.inner.manifest().checkpoints.get(key)
    }

    /// Drops an input's checkpoint from the next manifest stored.
    pub fn forget(&mut self, key: &str) {
        self.inner.forget(key);
    }

    /// Closes the index writers (nothing is pending after the last commit).
    pub fn finish(self) -> Result<(), IngestError> {
        Ok(self.inner.finish()?)
    }
}
