//! The shared archive: an object-store prefix (S3 or S3-compatible, or a
//! local directory) that one or more data directories copy their archive
//! to, for `sluice sql --archive`, DuckDB, Spark and the rest to read where
//! it lives.
//!
//! Layout: the data directory's own layout, under the prefix
//! (`<prefix>/date=YYYY-MM-DD/hour=HH/…`, `<prefix>/_sluice_layout.json`),
//! except that each file's name carries its writer:
//! `part-<batch>.<writer>.parquet`, `part-<first>-<last>.<writer>.parquet`.
//! Batch numbers are each data directory's own, so several ingesters, each
//! with its own data directory and writer name, share one prefix without
//! ever writing the same key.
//!
//! **Each writer owns its files** (partitions are, in effect, leased per
//! writer): only the writer named in a key writes or deletes it. So
//! compaction and retention need no election and no lock across machines:
//! each data directory compacts and expires its own files, and
//! [`SharedArchive::sync`] makes the prefix follow. The price is one
//! compacted file per writer per hour instead of one.
//!
//! What `sync` guarantees, given object stores' atomic, strongly
//! consistent puts (S3 since 2020, local renames):
//! * a file appears whole or not at all;
//! * a compacted file is uploaded before the files it supersedes are
//!   deleted, so a reader keeping to [`crate::archive_files::live_files`]
//!   never misses a row and never reads one twice;
//! * an upload or delete interrupted (a crash, the network) is redone by
//!   the next sync, which compares the data directory with a fresh listing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sluice_schemas::ErrorKind;

use crate::archive_files::{ArchiveFileName, is_writer_name, writer_of};
use crate::data_dir::{ARCHIVE_LAYOUT_FILE, DataDir};

/// Why the shared archive could not be opened or brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum SharedArchiveError {
    #[error(
        "`{url}` is not an archive location: expected s3://BUCKET[/PREFIX], file:///PATH or a directory path ({reason})"
    )]
    BadUrl { url: String, reason: String },
    #[error("cannot open the shared archive {url}: {source}")]
    Open { url: String, source: Box<object_store::Error> },
    #[error("shared archive {url}: cannot {action} {key}: {source}")]
    Store { url: String, action: &'static str, key: String, source: Box<object_store::Error> },
    #[error("cannot read {} to upload it: {source}", path.display())]
    Local { path: PathBuf, source: std::io::Error },
    #[error("writer name `{name}` (in {}) is not 1 to 64 of a-z, 0-9 and -", path.display())]
    WriterName { name: String, path: PathBuf },
    #[error("cannot start the upload runtime: {0}")]
    Runtime(std::io::Error),
}

impl SharedArchiveError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SharedArchiveError::BadUrl { .. } => ErrorKind::UserFixable,
            SharedArchiveError::Open { .. }
            | SharedArchiveError::Store { .. }
            | SharedArchiveError::Local { .. }
            | SharedArchiveError::WriterName { .. } => ErrorKind::OperatorFixable,
            SharedArchiveError::Runtime(_) => ErrorKind::Fatal,
        }
    }
}

/// An archive location as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveUrl {
    /// `s3://bucket/prefix`: credentials, region and endpoint the usual AWS
    /// way (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL` for S3-compatible servers, …).
    S3 { bucket: String, prefix: String },
    /// `file:///path` or a plain path: a directory, for several ingesters
    /// on one machine or a shared file system.
    Local(PathBuf),
}

impl ArchiveUrl {
    pub fn parse(url: &str) -> Result<ArchiveUrl, SharedArchiveError> {
        let bad = |reason: &str| SharedArchiveError::BadUrl { url: url.to_owned(), reason: reason.to_owned() };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket"));
            }
            return Ok(ArchiveUrl::S3 { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() });
        }
        if let Some(path) = url.strip_prefix("file://") {
            return Ok(ArchiveUrl::Local(PathBuf::from(path)));
        }
        if url.contains("://") {
            return Err(bad("only s3:// and file:// are supported"));
        }
        if url.is_empty() {
            return Err(bad("empty"));
        }
        Ok(ArchiveUrl::Local(PathBuf::from(url)))
    }

    /// The store and the prefix within it. A local directory is created.
    pub fn open(&self) -> Result<(Arc<dyn ObjectStore>, Key), SharedArchiveError> {
        let url = self.to_string();
        let open = |source| SharedArchiveError::Open { url: url.clone(), source: Box::new(source) };
        match self {
            ArchiveUrl::S3 { bucket, prefix } => {
                let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
                // An S3-compatible server on plain HTTP (MinIO, moto, a
                // test) is allowed when the endpoint says so.
                let endpoint = std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT"));
                if endpoint.is_ok_and(|e| e.starts_with("http://")) {
                    builder = builder.with_allow_http(true);
                }
                let store = builder.build().map_err(open)?;
                Ok((Arc::new(store), Key::from(prefix.as_str())))
            }
            ArchiveUrl::Local(path) => {
                std::fs::create_dir_all(path).map_err(|e| {
                    open(object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(e) })
                })?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(path).map_err(open)?;
                Ok((Arc::new(store), Key::default()))
            }
        }
    }
}

impl std::fmt::Display for ArchiveUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            ArchiveUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            ArchiveUrl::Local(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The file in a data directory naming its writer in shared archives.
pub const WRITER_NAME_FILE: &str = "archive-writer";

/// This data directory's writer name, made and stored on first use:
/// the host's name (lower-cased, reduced to `a-z0-9-`) and 8 hex digits
/// from the time and process id, so two data directories on one host differ.
pub fn writer_name(dir: &DataDir) -> Result<String, SharedArchiveError> {
    let path = dir.root().join(WRITER_NAME_FILE);
    let local = |source| SharedArchiveError::Local { path: path.clone(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let name = text.trim().to_owned();
            if !is_writer_name(&name) {
                return Err(SharedArchiveError::WriterName { name, path });
            }
            return Ok(name);
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(local(error)),
    }
    let host: String = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let host = host.trim_matches('-');
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&nanos.to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(dir.root().as_os_str().as_encoded_bytes());
    let suffix = format!("{:08x}", hasher.finalize());
    let name = if host.is_empty() { format!("sluice-{suffix}") } else { format!("{host}-{suffix}") };
    dir.storage()
        .write_atomically(&path, name.as_bytes(), "shared_archive.writer_name_staged")
        .map_err(|(path, source)| SharedArchiveError::Local { path, source })?;
    Ok(name)
}

/// What one [`SharedArchive::sync`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub deleted: usize,
}

/// Files above this size go up in parts (S3 refuses single puts over 5 GB,
/// and a part retried is cheaper than a file).
const MULTIPART_BYTES: u64 = 16 << 20;

/// One data directory's view of a shared archive.
pub struct SharedArchive {
    url: ArchiveUrl,
    store: Arc<dyn ObjectStore>,
    prefix: Key,
    writer: String,
    runtime: tokio::runtime::Runtime,
    /// This writer's files in the store (relative local path → size), as
    /// of the last sync; `None` until the first lists the store.
    held: Option<BTreeMap<String, u64>>,
    layout_uploaded: bool,
}

impl SharedArchive {
    pub fn open(url: &ArchiveUrl, writer: String) -> Result<SharedArchive, SharedArchiveError> {
        let (store, prefix) = url.open()?;
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(SharedArchiveError::Runtime)?;
        Ok(SharedArchive { url: url.clone(), store, prefix, writer, runtime, held: None, layout_uploaded: false })
    }

    pub fn url(&self) -> &ArchiveUrl {
        &self.url
    }

    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// Makes this writer's files in the store the data directory's live
    /// archive files: uploads those missing (or of another size), then
    /// deletes those the data directory no longer has (merged by a
    /// compaction, whose output went up first, or past the retention).
    pub fn sync(&mut self, dir: &DataDir) -> Result<SyncReport, SharedArchiveError> {
        let archive = dir.archive();
        let files = dir.archive_files().map_err(|e| SharedArchiveError::Local {
            path: archive.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let local: BTreeMap<String, PathBuf> =
            files.into_iter().filter_map(|path| Some((relative(&archive, &path)?, path))).collect();
        let mut report = SyncReport::default();
        if local.is_empty() && self.held.as_ref().is_some_and(BTreeMap::is_empty) {
            return Ok(report);
        }
        let mut held = match self.held.take() {
            Some(held) => held,
            None => self.list_held()?,
        };
        let result = self.sync_with(&archive, &local, &mut held, &mut report);
        self.held = Some(held);
        result.map(|()| report)
    }

    fn sync_with(
        &mut self,
        archive: &Path,
        local: &BTreeMap<String, PathBuf>,
        held: &mut BTreeMap<String, u64>,
        report: &mut SyncReport,
    ) -> Result<(), SharedArchiveError> {
        if !self.layout_uploaded && !local.is_empty() {
            let path = archive.join(ARCHIVE_LAYOUT_FILE);
            if let Ok(bytes) = std::fs::read(&path) {
                let key = self.key(ARCHIVE_LAYOUT_FILE);
                self.runtime
                    .block_on(self.store.put(&key, PutPayload::from(bytes)))
                    .map_err(|source| self.store_error("upload", &key, source))?;
            }
            self.layout_uploaded = true;
        }
        for (relative, path) in local {
            let size = match std::fs::metadata(path) {
                Ok(meta) => meta.len(),
                // Merged by a compaction since the listing: its output
                // goes up next time, and its inputs stay until then.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(SharedArchiveError::Local { path: path.clone(), source }),
            };
            if held.get(relative) == Some(&size) {
                continue;
            }
            match self.upload(path, &self.remote_key(relative), size) {
                Ok(()) => {}
                Err(SharedArchiveError::Local { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    continue;
                }
                Err(error) => return Err(error),
            }
            held.insert(relative.clone(), size);
            report.uploaded += 1;
            report.uploaded_bytes += size;
        }
        let gone: Vec<String> = held.keys().filter(|relative| !local.contains_key(*relative)).cloned().collect();
        for relative in gone {
            let key = self.remote_key(&relative);
            match self.runtime.block_on(self.store.delete(&key)) {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => return Err(self.store_error("delete", &key, source)),
            }
            held.remove(&relative);
            report.deleted += 1;
        }
        Ok(())
    }

    /// This writer's files in the store, by relative local path.
    fn list_held(&self) -> Result<BTreeMap<String, u64>, SharedArchiveError> {
        let listing = self.store.list(Some(&self.prefix));
        let objects: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(listing.try_collect())
            .map_err(|source| self.store_error("list", &self.prefix, source))?;
        let mut held = BTreeMap::new();
        for object in objects {
            let key = object.location.as_ref();
            let relative = key.strip_prefix(self.prefix.as_ref()).unwrap_or(key).trim_start_matches('/');
            let path = Path::new(relative);
            if ArchiveFileName::parse(path).is_none() || writer_of(path) != self.writer {
                continue;
            }
            let own =
                format!("{}.parquet", relative.strip_suffix(&format!(".{}.parquet", self.writer)).unwrap_or(relative));
            held.insert(own, object.size);
        }
        Ok(held)
    }

    fn upload(&self, path: &Path, key: &Key, size: u64) -> Result<(), SharedArchiveError> {
        let local = |source| SharedArchiveError::Local { path: path.to_owned(), source };
        if size <= MULTIPART_BYTES {
            let bytes = std::fs::read(path).map_err(local)?;
            return self
                .runtime
                .block_on(self.store.put(key, PutPayload::from(bytes)))
                .map(drop)
                .map_err(|source| self.store_error("upload", key, source));
        }
        let mut file = std::fs::File::open(path).map_err(local)?;
        self.runtime.block_on(async {
            let upload =
                self.store.put_multipart(key).await.map_err(|source| self.store_error("upload", key, source))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
            let mut buffer = vec![0u8; 1 << 20];
            loop {
                let read = std::io::Read::read(&mut file, &mut buffer).map_err(local)?;
                if read == 0 {
                    break;
                }
                writer.wait_for_capacity(4).await.map_err(|source| self.store_error("upload", key, source))?;
                writer.write(&buffer[..read]);
            }
            writer.finish().await.map(drop).map_err(|source| self.store_error("upload", key, source))
        })
    }

    fn key(&self, relative: &str) -> Key {
        let mut key = self.prefix.clone();
        for part in relative.split('/') {
            key = key.join(part);
        }
        key
    }

    /// The store's key of the data directory's file at `relative`.
    fn remote_key(&self, relative: &str) -> Key {
        let stem = relative.strip_suffix(".parquet").unwrap_or(relative);
        self.key(&format!("{stem}.{}.parquet", self.writer))
    }

    fn store_error(&self, action: &'static str, key: &Key, source: object_store::Error) -> SharedArchiveError {
        SharedArchiveError::Store { url: self.url.to_string(), action, key: key.to_string(), source: Box::new(source) }
    }
}

/// `path` relative to `archive`, with `/` separators (`date=…/hour=…/part-….parquet`).
fn relative(archive: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(archive).ok()?;
    let parts: Option<Vec<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_say_what_is_wrong() {
        assert_eq!(
            ArchiveUrl::parse("s3://logs/prod/sluice/").unwrap(),
            ArchiveUrl::S3 { bucket: "logs".into(), prefix: "prod/sluice".into() }
        );
        assert_eq!(
            ArchiveUrl::parse("s3://logs").unwrap(),
            ArchiveUrl::S3 { bucket: "logs".into(), prefix: "".into() }
        );
        assert_eq!(ArchiveUrl::parse("file:///srv/archive").unwrap(), ArchiveUrl::Local("/srv/archive".into()));
        assert_eq!(ArchiveUrl::parse("shared").unwrap(), ArchiveUrl::Local("shared".into()));
        assert_eq!(
            ArchiveUrl::parse("gs://b/p").unwrap_err().to_string(),
            "`gs://b/p` is not an archive location: expected s3://BUCKET[/PREFIX], file:///PATH or a directory path \
             (only s3:// and file:// are supported)"
        );
        assert!(ArchiveUrl::parse("s3:///p").is_err());
    }
}
