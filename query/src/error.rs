//! Errors of a query, each classified for exit codes. They are worded in
//! the library's terms (a time range, an interval), not in one front end's:
//! the CLI says which of its flags each concerns (`sluice`'s `cli_message`),
//! a server names its own parameters.

use std::path::PathBuf;

use sluice_schemas::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(
        "no data in {}: ingest some first, e.g. `sluice-ingest --data-dir {} app.log.json` or `app | sluice-ingest --data-dir {}`",
        dir.display(), dir.display(), dir.display()
    )]
    EmptyDataDir { dir: PathBuf },
    #[error("invalid query `{}`: {message}", shortened(query))]
    BadQuery { query: String, message: String },
    #[error(
        "invalid time `{text}`: expected RFC 3339 (2024-03-01T12:00:00Z), a date (2024-03-01), `now`, `today`, `yesterday`, or a duration ago (15m, 2h, 7d, 1w)"
    )]
    BadTime { text: String },
    #[error("unknown time zone `{text}`: {reason}")]
    BadZone { text: String, reason: String },
    #[error("the time range's start {from} is not before its end {to}")]
    EmptyRange { from: String, to: String },
    #[error("invalid interval `{text}`: expected `auto` or a whole number and a unit: 30s, 5m, 1h, 1d, 1w")]
    BadInterval { text: String },
    #[error(
        "an interval of {interval} makes {buckets} buckets, more than {max}: use a larger interval (or `auto`) or a narrower time range"
    )]
    TooManyBuckets { buckets: i64, interval: String, max: i64 },
    #[error("invalid event reference `{text}`: expected HOUR:BATCH:ROW as `sluice search` prints it (REF column)")]
    BadRef { text: String },
    #[error(
        "no record {event} in this data directory (references are printed by `sluice search` for its own data directory)"
    )]
    UnknownRef { event: String },
    #[error(
        "invalid baseline `{text}`: expected FROM..TO (times as a range's start takes them, FROM before TO) or a duration (1h: the hour before the window)"
    )]
    BadBaseline { text: String },
    #[error("compare needs the start of the window to compare with the baseline")]
    WindowNeeded,
    #[error("{given} data directories given: query 1 to {max} at once")]
    TooManyDataDirs { given: usize, max: usize },
    #[error("sql: {message}")]
    Sql { message: String, user: bool },
    #[error("cannot count by `{field}`: {reason}; fields you can count by: {known}")]
    BadField { field: String, reason: String, known: String },
    #[error("index split {}: {source}", path.display())]
    Index { path: PathBuf, source: tantivy::TantivyError },
    #[error("archive file {}: {message}", path.display())]
    Archive { path: PathBuf, message: String },
    #[error(transparent)]
    Layout(#[from] sluice_index::splits::IndexError),
    #[error(transparent)]
    DataDir(#[from] sluice_index::data_dir::DataDirError),
}

/// A query as an error message quotes it: whole up to 200 characters,
/// else its start and its length (a 100 KB query is not echoed back whole).
fn shortened(query: &str) -> String {
    const SHOWN: usize = 200;
    match query.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}… ({} bytes)", &query[..end], query.len()),
        None => query.to_owned(),
    }
}

impl QueryError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            QueryError::EmptyDataDir { .. }
            | QueryError::BadQuery { .. }
            | QueryError::BadTime { .. }
            | QueryError::BadZone { .. }
            | QueryError::EmptyRange { .. }
            | QueryError::BadField { .. }
            | QueryError::BadInterval { .. }
            | QueryError::BadRef { .. }
            | QueryError::BadBaseline { .. }
            | QueryError::WindowNeeded
            | QueryError::UnknownRef { .. }
            | QueryError::TooManyBuckets { .. }
            | QueryError::TooManyDataDirs { .. } => ErrorKind::UserFixable,
            QueryError::Index { source: tantivy::TantivyError::IoError(_), .. } | QueryError::Archive { .. } => {
                ErrorKind::OperatorFixable
            }
            QueryError::Index { .. } => ErrorKind::Fatal,
            QueryError::Sql { user: true, .. } => ErrorKind::UserFixable,
            QueryError::Sql { user: false, .. } => ErrorKind::OperatorFixable,
            QueryError::Layout(error) => error.kind(),
            QueryError::DataDir(error) => error.kind(),
        }
    }
}
