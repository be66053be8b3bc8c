//! `sluice sql`: SQL over a data directory's Parquet archive, as table
//! `logs` (DataFusion).
//!
//! This crate is apart from `sluice-query` because DataFusion is most of the
//! workspace's build: `sluice` and every other command build in minutes
//! without it, and `sluice sql` runs this crate's `sluice-sql` binary.
//!
//! * [`engine::SqlEngine`]: the archive registered as `logs`; async, to
//!   run on a server's runtime; [`engine::BlockingSqlEngine`] gives it a
//!   runtime of its own, for the CLI.
//! * [`live_store::LiveArchiveStore`]: the archive listed without the
//!   files a compaction superseded.
//! * [`render`]: a result as a table, CSV, JSON or NDJSON.

pub mod engine;
pub mod live_store;
pub mod render;

pub use engine::{BlockingSqlEngine, Scan, SqlEngine, SqlResult};
pub use render::{SqlFormat, write_sql_result};
