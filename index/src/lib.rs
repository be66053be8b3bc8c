//! The on-disk layout: the time-split tantivy index and the Hive-partitioned
//! Parquet archive, their writers and readers.
//!
//! Main types so far:
//! * [`archive::ArchiveLayout`]: the archive's columns for a schema.
//! * [`archive::ArchiveBatchBuilder`]: records → a timestamp-sorted Arrow batch.
//! * [`archive::ArchiveWriter`]: batch → one zstd Parquet file per hour
//!   partition, staged under a temporary name until
//!   [`archive::StagedFile::publish`].
//!
//! Depends on `sluice-schemas` only, is synchronous, and knows nothing of
//! sources, HTTP or the CLI.

pub mod archive;
