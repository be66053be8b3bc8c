//! Error classification shared by every Sluice crate.
//!
//! Each library error answers [`ErrorKind`] so that binaries and the HTTP
//! layer, and only they, can turn it into an exit code or a status.

/// Who can fix an error, which decides how it is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Try again later: overload, a full queue (HTTP 429/503 with `Retry-After`).
    Retryable,
    /// The input or the command line is wrong: say which line, field and what was expected.
    UserFixable,
    /// The machine or configuration is wrong: disk full, permissions, bad paths.
    OperatorFixable,
    /// A bug: report with context and exit non-zero.
    Fatal,
}

impl ErrorKind {
    /// The exit code every Sluice binary ends with for an error of this
    /// kind: 2 the user's to fix (input, flags, query), 3 the operator's
    /// (disk, permissions, configuration; also retryable overload), 1 a bug.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::UserFixable => 2,
            ErrorKind::OperatorFixable | ErrorKind::Retryable => 3,
            ErrorKind::Fatal => 1,
        }
    }
}
