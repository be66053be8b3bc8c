//! Errors of an ingest run, each classified for exit codes.

use std::path::PathBuf;

use sluice_schemas::{ErrorKind, SchemaError};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("cannot open input {}: {source}", path.display())]
    OpenInput { path: PathBuf, source: std::io::Error },
    #[error("cannot read input {}: {source}", path.display())]
    ReadInput { path: PathBuf, source: std::io::Error },
    #[error("cannot write output: {0}")]
    WriteOutput(std::io::Error),
    #[error(transparent)]
    DataDir(sluice_index::data_dir::DataDirError),
    #[error(transparent)]
    Index(sluice_index::splits::IndexError),
    #[error(transparent)]
    Archive(sluice_index::archive::ArchiveError),
    #[error("{rejected} lines rejected, more than --max-rejected {max}")]
    TooManyRejected { rejected: u64, max: u64 },
    #[error("internal error: {0} (a bug: please report it)")]
    Internal(String),
}

impl IngestError {
    pub fn kind(&self) -> ErrorKind {
        use std::io::ErrorKind as Io;
        match self {
            IngestError::Schema(error) => error.kind(),
            IngestError::OpenInput { source, .. } if source.kind() == Io::NotFound => ErrorKind::UserFixable,
            IngestError::OpenInput { source, .. } if source.kind() == Io::IsADirectory => ErrorKind::UserFixable,
            IngestError::OpenInput { .. } | IngestError::ReadInput { .. } | IngestError::WriteOutput(_) => {
                ErrorKind::OperatorFixable
            }
            IngestError::TooManyRejected { .. } => ErrorKind::UserFixable,
            IngestError::Internal(_) => ErrorKind::Fatal,
            IngestError::DataDir(error) => error.kind(),
            IngestError::Index(error) => error.kind(),
            IngestError::Archive(error) => error.kind(),
        }
    }
}
