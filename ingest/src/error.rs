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
    #[error(transparent)]
    Commit(#[from] sluice_index::commit::CommitError),
    #[error(transparent)]
    Wal(#[from] sluice_index::wal::WalError),
    #[error(transparent)]
    Compact(#[from] sluice_index::compact::CompactError),
    #[error(transparent)]
    Retention(#[from] sluice_index::retention::RetentionError),
    /// `--archive`: the shared archive could not be opened or updated.
    #[error(transparent)]
    SharedArchive(sluice_index::shared_archive::SharedArchiveError),
    #[error(transparent)]
    WalDamaged(#[from] crate::serve::wal::WalDamaged),
    #[error(transparent)]
    Serve(#[from] crate::serve::ServeError),
    /// A run reading standard input stopped: the first `lines` lines
    /// (`bytes` bytes) of its stdin are committed.
    #[error("{source}")]
    StdinStopped {
        lines: u64,
        bytes: u64,
        #[source]
        source: Box<IngestError>,
    },
    #[error("{rejected} lines rejected, more than --max-rejected {max}")]
    TooManyRejected { rejected: u64, max: u64 },
    #[error("internal error: {0} (a bug: please report it)")]
    Internal(String),
}

/// `ENOSPC` and `EDQUOT` on Linux.
const DISK_FULL_ERRNOS: [i32; 2] = [28, 122];

impl IngestError {
    /// Whether the error comes from a full disk (or an exhausted quota),
    /// anywhere in its chain of causes: the archive writer, tantivy and
    /// the manifest each wrap the `io::Error` differently.
    pub fn is_disk_full(&self) -> bool {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(error) = cause {
            if let Some(io) = error.downcast_ref::<std::io::Error>()
                && (io.raw_os_error().is_some_and(|code| DISK_FULL_ERRNOS.contains(&code))
                    || matches!(io.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded))
            {
                return true;
            }
            cause = error.source();
        }
        // Some layers keep only the message of the error they wrap.
        let text = self.to_string();
        text.contains("No space left on device") || text.contains("Disk quota exceeded")
    }

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
            IngestError::Commit(error) => error.kind(),
            IngestError::Wal(error) => error.kind(),
            IngestError::Compact(error) => error.kind(),
            IngestError::Retention(error) => error.kind(),
            IngestError::SharedArchive(error) => error.kind(),
            IngestError::WalDamaged(_) => ErrorKind::OperatorFixable,
            IngestError::Serve(error) => error.kind(),
            IngestError::StdinStopped { source, .. } => source.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::PathBuf;

    use super::*;
    use sluice_index::archive::ArchiveError;
    use sluice_index::data_dir::DataDirError;
    use sluice_index::splits::IndexError;

    fn enospc() -> io::Error {
        io::Error::from_raw_os_error(28)
    }

    #[test]
    fn disk_full_is_found_through_every_layer() {
        let path = PathBuf::from("/data/x");
        let errors = [
            IngestError::DataDir(DataDirError::Io { path: path.clone(), source: enospc() }),
            IngestError::Archive(ArchiveError::Io { path: path.clone(), source: enospc() }),
            IngestError::Archive(ArchiveError::Parquet { path: path.clone(), source: parquet_external(enospc()) }),
            IngestError::Index(IndexError::Tantivy { path: path.clone(), source: tantivy_io(enospc()) }),
        ];
        for error in &errors {
            assert!(error.is_disk_full(), "{error:?}");
            assert_eq!(error.kind(), ErrorKind::OperatorFixable, "{error:?}");
        }
        let denied = IngestError::DataDir(DataDirError::Io {
            path,
            source: io::Error::from_raw_os_error(13), // EACCES
        });
        assert!(!denied.is_disk_full());
        assert_eq!(denied.kind(), ErrorKind::OperatorFixable);
    }

    fn parquet_external(error: io::Error) -> parquet::errors::ParquetError {
        parquet::errors::ParquetError::External(Box::new(error))
    }

    fn tantivy_io(error: io::Error) -> tantivy::TantivyError {
        tantivy::TantivyError::from(error)
    }
}
