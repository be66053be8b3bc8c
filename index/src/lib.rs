//! The on-disk layout: the time-split tantivy index and the Hive-partitioned
//! Parquet archive, their writers and readers.
//!
//! Empty until the ingest pipeline issue: it will depend on `sluice-schemas`
//! only, be synchronous, and know nothing of sources, HTTP or the CLI.
