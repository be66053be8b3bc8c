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
//! * [`data_dir::DataDir`] and [`data_dir::Manifest`]: the directory layout
//!   (the one owner of every path in it), the committed state, the commit
//!   protocol and crash recovery.
//! * [`commit::BatchStager`] and [`commit::BatchCommitter`]: the commit
//!   protocol's steps, driven by the ingest pipeline.
//! * [`storage::Storage`]: the seam every write, fsync, rename and delete
//!   goes through; [`failpoint`]: where tests make it fail.
//! * [`archive_files`]: archive file names, which files are live, and
//!   where a record's row is once compaction has merged its file.
//! * [`compact::compact`]: each quiet hour's archive files merged into few,
//!   each quiet day split's segments into one; crash-safe.
//! * [`retention`]: whole days dropped past the horizon; crash-safe.
//! * [`shared_archive`]: the archive copied to an object-store prefix (S3 or
//!   a directory) that several data directories share.
//! * [`lock::WriterLock`]: one writer per data directory.
//! * [`wal`]: the server's write-ahead log files and framing.
//! * [`fields::IndexFields`]: a split's tantivy schema; records → documents.
//! * [`splits::SplitWriters`]: one tantivy index per UTC day, committed per
//!   ingest batch; [`splits::rollback_batches_after`] undoes batches the
//!   manifest never recorded.
//!
//! Depends on `sluice-schemas` only, is synchronous (the shared archive
//! drives `object_store` from a runtime of its own), and knows nothing of
//! sources, HTTP or the CLI.

pub mod archive;
pub mod archive_files;
pub mod commit;
pub mod compact;
pub mod data_dir;
pub mod failpoint;
pub mod fields;
pub mod lock;
pub mod retention;
pub mod serving;
pub mod shared_archive;
pub mod split_directory;
pub mod splits;
pub mod storage;
pub mod wal;

/// The types the ingest pipeline passes between its stages, re-exported so
/// it needs no direct dependency on tantivy or arrow.
pub use arrow_array::RecordBatch;
pub use tantivy::TantivyDocument;
