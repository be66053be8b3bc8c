//! `sluice-ingest compact`: the data directory's compaction, run on its own.
//!
//! It takes the writer lock (so it never runs beside an ingest into the same
//! directory), finishes or undoes whatever a crash interrupted (the same
//! recovery an ingest run starts with), drops the days past `--retention`
//! ([`sluice_index::retention`]), runs [`sluice_index::compact::compact`], then
//! brings the shared archive (`--archive`) up to date.

use std::path::PathBuf;

use sluice_index::compact::{CompactConfig, CompactReport};
use sluice_index::data_dir::DataDir;
use sluice_index::fields::IndexFields;
use sluice_index::retention::{Retention, RetentionReport};

use crate::IngestError;

/// What `sluice-ingest compact` was asked to do.
#[derive(Clone, Debug)]
pub struct CompactRun {
    pub data_dir: PathBuf,
    pub compact: CompactConfig,
    /// `--retention`: days past this horizon are dropped first (and the
    /// policy stored).
    pub retention: Option<std::time::Duration>,
    /// `--schema`, whose `[retention.services]` give services their own.
    pub schema: Option<PathBuf>,
    /// Brought up to date last (`--archive`).
    pub shared_archive: Option<sluice_index::shared_archive::ArchiveUrl>,
}

/// What `sluice-ingest compact` did.
#[derive(Clone, Debug, Default)]
pub struct CompactOutcome {
    pub expired: RetentionReport,
    pub compacted: CompactReport,
    pub shared_archive: Option<sluice_index::shared_archive::SyncReport>,
}

/// Compacts the data directory; `progress` hears of each partition and split
/// as it is done.
pub fn compact(run: &CompactRun, progress: &mut dyn FnMut(&str)) -> Result<CompactOutcome, IngestError> {
    let dir = DataDir::open(&run.data_dir).map_err(IngestError::DataDir)?;
    let lock = dir.lock("sluice-ingest compact").map_err(IngestError::DataDir)?;
    // Recovery rolls back index documents by their `batch` field, which has
    // the same place in every schema's splits: the built-in schema will do.
    let fields = IndexFields::new(&sluice_schemas::Schema::builtin());
    dir.recover(&fields, &lock).map_err(IngestError::DataDir)?;
    let mut outcome = CompactOutcome::default();
    let schema = crate::dry_run::load_schema(run.schema.as_deref())?;
    if let Some(retention) = Retention::with_services(run.retention, &schema.service_retention) {
        retention.store(&dir)?;
        outcome.expired =
            sluice_index::retention::apply(&dir, &retention, run.compact.now, run.compact.zstd_level, &lock)?;
    }
    outcome.compacted = sluice_index::compact::compact(&dir, &run.compact, &lock, progress)?;
    if let Some(url) = &run.shared_archive {
        outcome.shared_archive = Some(crate::archive_upload::open(&dir, url)?.sync(&dir)?);
    }
    Ok(outcome)
}
