//! The archive as DataFusion lists it: the local file system with the files
//! a compaction has superseded left out.
//!
//! Compaction publishes its output before it deletes the inputs (see
//! `sluice_index::compact`), so a listing in between holds both; reading
//! both would count those rows twice. Every listing goes through
//! [`sluice_index::archive_files::live_files`], the same rule `sluice`'s
//! other commands follow.
//!
//! A statement reads the files its listing found, later, and meanwhile a
//! compaction may delete them (their rows now in its output, which that
//! listing did not have). So each file listed is opened there and then and
//! read through that descriptor ("pinned"), as a tantivy reader keeps its
//! segments: the listing is a snapshot that stays readable until the engine
//! is dropped. The process's open-file limit is raised to its hard limit
//! for that (`sluice_index::storage::raise_open_file_limit`).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// An [`ObjectStore`] whose listings keep to the archive's live files.
/// `inner` must be the local file system rooted at `/`: pinning opens the
/// path a location names.
#[derive(Debug)]
pub struct LiveArchiveStore {
    inner: Arc<dyn ObjectStore>,
    /// Listed files, open; `None` for a remote store, whose reads of a
    /// file deleted since the listing fail as "not found" (and the
    /// statement runs again, see `SqlEngine::run`).
    pinned: Option<Arc<Mutex<HashMap<Path, Pinned>>>>,
}

/// A listed archive file, open.
#[derive(Debug)]
struct Pinned {
    file: std::fs::File,
    meta: ObjectMeta,
}

impl LiveArchiveStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> LiveArchiveStore {
        LiveArchiveStore { inner, pinned: Some(Arc::default()) }
    }

    /// A shared archive in an object store: listings keep to live files
    /// (of each writer), nothing is pinned.
    pub fn remote(inner: Arc<dyn ObjectStore>) -> LiveArchiveStore {
        LiveArchiveStore { inner, pinned: None }
    }
}

/// Opens each archive file of `objects` not yet pinned. A file gone already
/// (a compaction published its output and deleted it after the listing)
/// makes the listing stale: the output may not be in it, so leaving the file
/// out would lose its rows. That is a "not found" error, which makes
/// `SqlEngine::run` run the statement again on a new listing.
fn pin(pinned: Option<&Mutex<HashMap<Path, Pinned>>>, objects: Vec<ObjectMeta>) -> Result<Vec<ObjectMeta>> {
    let Some(pinned) = pinned else { return Ok(objects) };
    let mut pinned = pinned.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for object in &objects {
        let local = PathBuf::from(format!("/{}", object.location));
        if sluice_index::archive_files::ArchiveFileName::parse(&local).is_none()
            || pinned.contains_key(&object.location)
        {
            continue;
        }
        let file = std::fs::File::open(&local).map_err(|source| object_store::Error::NotFound {
            path: object.location.to_string(),
            source: Box::new(source),
        })?;
        pinned.insert(object.location.clone(), Pinned { file, meta: object.clone() });
    }
    Ok(objects)
}

/// Listings of one prefix taken again when a file listed was gone before it
/// could be pinned.
const LISTING_ATTEMPTS: usize = 20;

/// `list`'s live objects, pinned. A file gone between the listing and its
/// pinning was deleted by a compaction that had already published its output
/// (see `sluice_index::compact`), so listing the prefix again finds that
/// output. Only when every attempt meets a deleted file (a compaction per
/// listing) is the "not found" returned, for `SqlEngine::run` to run the
/// statement again.
async fn listed_and_pinned<F, Fut>(pinned: Option<&Mutex<HashMap<Path, Pinned>>>, mut list: F) -> Result<ListResult>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<ListResult>>,
{
    let mut attempt = 1;
    loop {
        let ListResult { common_prefixes, objects } = list().await?;
        match pin(pinned, live(objects)) {
            Ok(objects) => return Ok(ListResult { common_prefixes, objects }),
            Err(object_store::Error::NotFound { .. }) if attempt < LISTING_ATTEMPTS => attempt += 1,
            Err(error) => return Err(error),
        }
    }
}

impl fmt::Display for LiveArchiveStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LiveArchiveStore({})", self.inner)
    }
}

/// `objects` without those a compacted file in the same directory supersedes.
fn live(objects: Vec<ObjectMeta>) -> Vec<ObjectMeta> {
    let paths: Vec<PathBuf> = objects.iter().map(|o| PathBuf::from(o.location.as_ref())).collect();
    let live = sluice_index::archive_files::live_files(&paths);
    objects
        .into_iter()
        .zip(paths)
        .filter(|(_, path)| {
            // Only archive files are judged; anything else passes as it is.
            sluice_index::archive_files::ArchiveFileName::parse(path).is_none() || live.contains(path)
        })
        .map(|(object, _)| object)
        .collect()
}

#[async_trait]
impl ObjectStore for LiveArchiveStore {
    async fn put_opts(&self, location: &Path, payload: PutPayload, opts: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(&self, location: &Path, opts: PutMultipartOptions) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let pinned = self.pinned.as_ref().and_then(|pinned| {
            let pinned = pinned.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            pinned.get(location).map(|pin| (pin.file.try_clone(), pin.meta.clone()))
        });
        let Some((file, meta)) = pinned else { return self.inner.get_opts(location, options).await };
        let error = |source: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
            store: "LiveArchiveStore",
            source,
        };
        let file = file.map_err(|e| error(Box::new(e)))?;
        let range = match &options.range {
            Some(range) => range.as_range(meta.size).map_err(|e| error(Box::new(e)))?,
            None => 0..meta.size,
        };
        let local = PathBuf::from(format!("/{location}"));
        Ok(GetResult { payload: GetResultPayload::File(file, local), meta, range, attributes: Attributes::default() })
    }

    fn delete_stream(&self, locations: BoxStream<'static, Result<Path>>) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let inner = self.inner.clone();
        let pinned = self.pinned.clone();
        let prefix = prefix.cloned();
        stream::once(async move {
            listed_and_pinned(pinned.as_deref(), || {
                let listing = inner.list(prefix.as_ref());
                async move {
                    let objects = listing.try_collect::<Vec<_>>().await?;
                    Ok(ListResult { common_prefixes: Vec::new(), objects })
                }
            })
            .await
        })
        .map_ok(|result| stream::iter(result.objects.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        listed_and_pinned(self.pinned.as_deref(), || self.inner.list_with_delimiter(prefix)).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(path: &std::path::Path) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(path.to_str().unwrap().trim_start_matches('/')),
            last_modified: Default::default(),
            size: 0,
            e_tag: None,
            version: None,
        }
    }

    /// A compaction deletes a listed file before it is pinned: the prefix is
    /// listed again and the output, published before the delete, is pinned.
    #[test]
    fn a_file_deleted_before_it_is_pinned_makes_the_listing_be_taken_again() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("part-00000000000000000001.parquet");
        let output = dir.path().join("part-00000000000000000001-00000000000000000001.parquet");
        std::fs::write(&output, b"").unwrap();
        let pinned = Mutex::new(HashMap::new());
        let mut listings = 0;
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let listed = runtime
            .block_on(listed_and_pinned(Some(&pinned), || {
                listings += 1;
                // The first listing still has the input, deleted since.
                let objects = if listings == 1 { vec![meta(&input)] } else { vec![meta(&input), meta(&output)] };
                futures::future::ready(Ok(ListResult { common_prefixes: Vec::new(), objects }))
            }))
            .unwrap();
        assert_eq!(listings, 2);
        assert_eq!(listed.objects, vec![meta(&output)]);
        assert_eq!(pinned.lock().unwrap().len(), 1);
    }
}
