//! Search, aggregations and archive reads: what the `sluice` CLI asks and
//! answers. The library returns data; the CLI (`src/bin/sluice/`) renders it.
//!
//! * [`api`]: one function per question (search, count, top, trace,
//!   context, histogram, patterns, fields, compare, stats), plain request
//!   in, plain answer out: what the CLI and a server both call.
//! * [`store::Store`]: the day splits a time range needs; a query string
//!   parsed against them (bare words search `message`, other names are
//!   fields or attribute paths); hits newest first; counts, by value
//!   through tantivy's terms aggregation.
//! * [`aggregate`]: terms (`count --by`, `top`) and date histograms, from
//!   tantivy's aggregation module over fast columns, merged across splits.
//! * [`around`]: an event's neighbours from the same service and host
//!   (`context`), a trace's records (`trace`), and event references.
//! * [`follow`]: `tail -f`, records as their batches are committed.
//! * [`live::LiveStore`]: a store kept open across requests (a server),
//!   opened again when a commit, compaction or retention changed the data.
//! * [`fetch::fetch`]: hits → records read from the Parquet archive (the
//!   index stores no documents: each hit's batch and row locate it).
//! * [`fields`]: the fields of the newest matches, with types and counts.
//! * [`stats`]: what a data directory holds, from the index and the files.
//! * [`time::TimeRange`]: `--from` / `--to`, absolute or relative.
//!
//! * [`patterns`]: messages grouped into templates (Drain-like); [`compare`]:
//!   levels, services and templates that grew in a window against a baseline.
//!
//! SQL over the archive is the `sluice-sql` crate (`query/sql`), built
//! apart: DataFusion is most of the workspace's build time.

pub mod aggregate;
pub mod api;
pub mod around;
pub mod compare;
pub mod error;
pub mod fetch;
pub mod fields;
pub mod follow;
pub mod live;
pub mod logql;
pub mod patterns;
pub mod server;
pub mod stats;
pub mod store;
pub mod time;

pub use error::QueryError;
