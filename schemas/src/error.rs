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
