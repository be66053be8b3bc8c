//! Ingest: sources → framing → parsing and normalizing → (from the ingest
//! pipeline on) the index and the archive.
//!
//! Main types:
//! * [`framing::LineReader`]: newline framing with a line-length limit that
//!   never buffers an over-long line.
//! * [`summary::Summary`]: the per-run account; `accepted + rejected +
//!   blank == lines_read` always holds.
//! * [`dry_run::dry_run`]: normalizes inputs and prints canonical records,
//!   the mode `sluice-ingest --dry-run` runs.
//!
//! Every error is an [`IngestError`] that knows its
//! [`ErrorKind`](sluice_schemas::ErrorKind), from which the binary picks its
//! exit code.

pub mod archive_upload;
pub mod background_compaction;
pub mod compact;
mod dead_letter;
pub mod dry_run;
mod error;
pub mod framing;
pub mod pipeline;
pub mod progress;
pub mod replay;
pub mod serve;
pub mod source;
pub mod summary;

pub use error::IngestError;
