//! DataFusion over the Parquet archive, as table `logs`.
//!
//! The archive's hive layout (`date=YYYY-MM-DD/hour=HH`) becomes two
//! partition columns, `date` (DATE) and `hour` (the directory's text,
//! `00`–`23`), so predicates on them skip whole directories. `hour` is text
//! on purpose: typed as an integer, DataFusion turns `date = … AND hour = 7`
//! into the path prefix `hour=7`, which misses `hour=07`; as text, `hour = 7`
//! compares numerically and `hour = '07'` as text, both right. Predicates
//! on `timestamp` skip row groups and pages by their statistics. Staged
//! files (`.parquet.tmp`) are never read: only committed batches are
//! visible, as for every other command.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use sluice_query::QueryError;

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use sluice_index::shared_archive::ArchiveUrl;

use crate::live_store::LiveArchiveStore;

/// The result of a statement: its schema (even when no row matched), its
/// rows, and how many archive files it scanned.
pub struct SqlResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub scan: Scan,
}

/// The archive files a statement's plan scanned, of those committed: what
/// partition pruning (`date`, `hour`) left. A file whose statistics rule
/// out every row group is still opened, its row groups skipped unread; an
/// aggregate the files' statistics answer (a bare `count(*)`) scans none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    pub files_scanned: usize,
    pub files_committed: usize,
}

impl SqlResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// A data directory's archive registered as table `logs`: open once, run
/// many statements. Async, with no runtime of its own, so that a server
/// runs it on the runtime it already has; a program without one (the
/// `sluice-sql` CLI) uses [`BlockingSqlEngine`].
pub struct SqlEngine {
    context: SessionContext,
    files_committed: usize,
}

impl SqlEngine {
    /// Registers `DIR/archive` as `logs`. An archive in a layout this
    /// build does not know is refused; one without a committed file is
    /// [`QueryError::EmptyDataDir`]: there is no schema to plan against.
    pub async fn open(data_dir: &Path) -> Result<SqlEngine, QueryError> {
        let dir = sluice_index::data_dir::DataDir::at(data_dir);
        dir.archive_layout()?;
        let files_committed = dir.archive_files()?.len();
        if files_committed == 0 {
            return Err(QueryError::EmptyDataDir { dir: data_dir.to_owned() });
        }
        let archive = dir.archive();
        SqlEngine::start(files_committed, move || Location::local(&archive)).await
    }

    /// Registers a shared archive (`--archive`: what several data
    /// directories copy their archives to, on S3 or in a directory) as
    /// `logs`: the union of every writer's live files.
    pub async fn open_shared(url: &ArchiveUrl) -> Result<SqlEngine, QueryError> {
        match url {
            ArchiveUrl::Local(path) => {
                let files_committed = local_archive_files(path)?;
                if files_committed == 0 {
                    return Err(no_files(url));
                }
                let path = path.clone();
                SqlEngine::start(files_committed, move || Location::local(&path)).await
            }
            ArchiveUrl::S3 { bucket, prefix } => {
                let (store, _) = url.open().map_err(|e| QueryError::Sql { message: e.to_string(), user: false })?;
                let root =
                    if prefix.is_empty() { format!("s3://{bucket}/") } else { format!("s3://{bucket}/{prefix}/") };
                let location = Location { root, store: Arc::new(LiveArchiveStore::remote(store)) };
                let files_committed = location.check(url).await?;
                SqlEngine::start(files_committed, move || Ok(location.clone())).await
            }
        }
    }

    async fn start(
        files_committed: usize,
        location: impl Fn() -> Result<Location, DataFusionError>,
    ) -> Result<SqlEngine, QueryError> {
        // Inferring the schema reads files a compaction may delete meanwhile,
        // as a statement does (see `run`).
        let location = &location;
        let context = while_files_go(|| async move { register(location()?).await }).await?;
        Ok(SqlEngine { context, files_committed })
    }

    /// Runs one statement and collects its rows. A file that a compaction
    /// deleted between the statement's listing and its read makes it run
    /// again (the new listing has the compacted file instead), so a
    /// statement during compaction answers as before and after it.
    pub async fn run(&self, sql: &str) -> Result<SqlResult, QueryError> {
        let mut result = while_files_go(|| execute(&self.context, sql)).await?;
        result.scan.files_committed = self.files_committed;
        Ok(result)
    }
}

/// An [`SqlEngine`] with a runtime of its own, for a program that has none.
/// Never call it from inside a runtime: blocking on one there panics.
pub struct BlockingSqlEngine {
    runtime: tokio::runtime::Runtime,
    engine: SqlEngine,
}

impl BlockingSqlEngine {
    /// [`SqlEngine::open`], on a new runtime.
    pub fn open(data_dir: &Path) -> Result<BlockingSqlEngine, QueryError> {
        let runtime = runtime()?;
        let engine = runtime.block_on(SqlEngine::open(data_dir))?;
        Ok(BlockingSqlEngine { runtime, engine })
    }

    /// [`SqlEngine::open_shared`], on a new runtime.
    pub fn open_shared(url: &ArchiveUrl) -> Result<BlockingSqlEngine, QueryError> {
        let runtime = runtime()?;
        let engine = runtime.block_on(SqlEngine::open_shared(url))?;
        Ok(BlockingSqlEngine { runtime, engine })
    }

    /// [`SqlEngine::run`], blocking until the rows are collected.
    pub fn run(&self, sql: &str) -> Result<SqlResult, QueryError> {
        self.runtime.block_on(self.engine.run(sql))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, QueryError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, usize::from))
        .enable_all()
        .build()
        .map_err(|e| QueryError::Sql { message: format!("cannot start the query runtime: {e}"), user: false })
}

/// Where the archive is: its root URL and the store that reads it.
#[derive(Clone)]
struct Location {
    /// `/abs/archive/` or `s3://bucket/prefix/`.
    root: String,
    store: Arc<LiveArchiveStore>,
}

impl Location {
    /// A local archive directory, its files pinned as they are listed (see
    /// `live_store`).
    fn local(archive: &Path) -> Result<Location, DataFusionError> {
        let mut root = archive.canonicalize()?.to_string_lossy().into_owned();
        root.push('/');
        sluice_index::storage::raise_open_file_limit();
        let local = Arc::new(object_store::local::LocalFileSystem::new());
        Ok(Location { root, store: Arc::new(LiveArchiveStore::new(local)) })
    }

    /// Refuses a layout this build does not know; returns how many live
    /// archive files there are (an error when none).
    async fn check(&self, url: &ArchiveUrl) -> Result<usize, QueryError> {
        let sql = |message: String| QueryError::Sql { message, user: false };
        let root = ListingTableUrl::parse(&self.root).map_err(|e| sql(e.to_string()))?;
        let layout = root.prefix().clone().join(sluice_index::data_dir::ARCHIVE_LAYOUT_FILE);
        match self.store.get(&layout).await {
            Ok(found) => {
                let bytes = found.bytes().await.map_err(|e| sql(format!("{url}: {e}")))?;
                sluice_index::data_dir::check_archive_layout(&bytes, &url.to_string())?;
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(sql(format!("{url}: {error}"))),
        }
        let files: Vec<object_store::ObjectMeta> =
            self.store.list(Some(root.prefix())).try_collect().await.map_err(|e| sql(format!("{url}: {e}")))?;
        let files = files.iter().filter(|o| o.location.as_ref().ends_with(".parquet")).count();
        if files == 0 {
            return Err(no_files(url));
        }
        Ok(files)
    }
}

fn no_files(url: &ArchiveUrl) -> QueryError {
    QueryError::Sql {
        message: format!(
            "no archive files in {url}: ingest with `sluice-ingest --archive {url}`, or check the URL and AWS_ENDPOINT_URL"
        ),
        user: true,
    }
}

/// Live archive files under a local shared archive.
fn local_archive_files(path: &Path) -> Result<usize, QueryError> {
    let mut files = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| QueryError::Sql { message: format!("cannot read {}: {e}", dir.display()), user: false })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(sluice_index::archive_files::live_files(&files).len())
}

async fn register(location: Location) -> Result<SessionContext, DataFusionError> {
    let config = SessionConfig::new().with_information_schema(true);
    // No cached listings: a statement run again after a compaction must
    // list the partitions again (see `SqlEngine::run`).
    let cache = CacheManagerConfig::default().with_list_files_cache_limit(0);
    let runtime = RuntimeEnvBuilder::new().with_cache_manager(cache).build_arc()?;
    let context = SessionContext::new_with_config_rt(config, runtime);
    let url = ListingTableUrl::parse(&location.root)?;
    // Listings leave out what a compaction superseded (see `live_store`).
    context.register_object_store(url.object_store().as_ref(), location.store);
    let options = ListingOptions::new(Arc::new(ParquetFormat::default().with_enable_pruning(true)))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("date".to_owned(), DataType::Date32), ("hour".to_owned(), DataType::Utf8)]);
    let schema = options.infer_schema(&context.state(), &url).await?;
    let table_config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
    context.register_table("logs", Arc::new(ListingTable::try_new(table_config)?))?;
    Ok(context)
}

async fn execute(context: &SessionContext, sql: &str) -> Result<SqlResult, DataFusionError> {
    let frame = context.sql(sql).await?;
    let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
    let plan = frame.create_physical_plan().await?;
    let batches = datafusion::physical_plan::collect(Arc::clone(&plan), context.task_ctx()).await?;
    let scan = Scan { files_scanned: files_scanned(&plan), files_committed: 0 };
    Ok(SqlResult { schema, batches, scan })
}

/// Runs of a statement that a compaction can cause.
const RUN_ATTEMPTS: usize = 4;

/// `work`, run again (up to [`RUN_ATTEMPTS`] in all) while it fails because
/// a file it listed was gone when read.
async fn while_files_go<T, F>(mut work: impl FnMut() -> F) -> Result<T, QueryError>
where
    F: Future<Output = Result<T, DataFusionError>>,
{
    let mut attempt = 1;
    loop {
        match work().await {
            Err(error) if attempt < RUN_ATTEMPTS && is_file_gone(&error) => attempt += 1,
            other => return other.map_err(sql_error),
        }
    }
}

/// Whether a statement failed because a file it listed was gone when read,
/// wherever in the chain of causes the "not found" is.
fn is_file_gone(error: &DataFusionError) -> bool {
    let gone = |error: &(dyn std::error::Error + 'static)| {
        error.downcast_ref::<object_store::Error>().is_some_and(|e| matches!(e, object_store::Error::NotFound { .. }))
            || error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            || match error.downcast_ref::<DataFusionError>() {
                Some(DataFusionError::ObjectStore(e)) => matches!(e.as_ref(), object_store::Error::NotFound { .. }),
                Some(DataFusionError::IoError(e)) => e.kind() == std::io::ErrorKind::NotFound,
                Some(DataFusionError::ParquetError(e)) => external_gone(e.as_ref()),
                _ => false,
            }
            || error.downcast_ref::<datafusion::parquet::errors::ParquetError>().is_some_and(external_gone)
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if gone(error) {
            return true;
        }
        cause = error.source();
    }
    false
}

/// Whether a Parquet reader's error is the object store's "not found".
fn external_gone(error: &datafusion::parquet::errors::ParquetError) -> bool {
    match error {
        datafusion::parquet::errors::ParquetError::External(inner) => inner
            .downcast_ref::<object_store::Error>()
            .is_some_and(|e| matches!(e, object_store::Error::NotFound { .. })),
        _ => false,
    }
}

/// The files the plan's file scans were given, after partition pruning.
fn files_scanned(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let here = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        .map_or(0, |scan| scan.file_groups.iter().map(|group| group.len()).sum());
    here + plan.children().into_iter().map(files_scanned).sum::<usize>()
}

/// A DataFusion error, classified: a statement that does not parse or
/// plan, or names what does not exist, is the user's to fix; failing to
/// read the archive is the operator's.
fn sql_error(error: DataFusionError) -> QueryError {
    let user = match error.find_root() {
        DataFusionError::SQL(..)
        | DataFusionError::Plan(_)
        | DataFusionError::SchemaError(..)
        | DataFusionError::NotImplemented(_)
        | DataFusionError::Execution(_) => true,
        DataFusionError::ArrowError(error, _) => {
            !matches!(error.as_ref(), datafusion::arrow::error::ArrowError::IoError(..))
        }
        _ => false,
    };
    QueryError::Sql { message: error.strip_backtrace().to_string(), user }
}

#[cfg(test)]
mod tests {
    use datafusion::dataframe::DataFrameWriteOptions;

    use super::*;

    /// A data directory whose archive holds one file of `rows` rows.
    fn archive_of(rows: i64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let hour = dir.path().join("archive/date=2024-03-01/hour=10");
        std::fs::create_dir_all(&hour).unwrap();
        let file = hour.join("part-00000000000000000001.parquet");
        let writer = tokio::runtime::Builder::new_current_thread().build().unwrap();
        writer.block_on(async {
            let context = SessionContext::new();
            let frame = context.sql(&format!("SELECT value AS severity_number FROM range({rows})")).await.unwrap();
            let options = DataFrameWriteOptions::new().with_single_file_output(true);
            frame.write_parquet(file.to_str().unwrap(), options, None).await.unwrap();
        });
        dir
    }

    /// A server runs statements on the runtime it already has: opening and
    /// running there must not start (and block on) a runtime of its own,
    /// which panics inside another.
    #[test]
    fn the_engine_runs_inside_a_callers_runtime() {
        let dir = archive_of(5);
        let server = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let (rows, scan) = server.block_on(async {
            let engine = SqlEngine::open(dir.path()).await.unwrap();
            let result = engine.run("SELECT count(*) AS n, date, hour FROM logs GROUP BY date, hour").await.unwrap();
            let n = result.batches[0].column(0).as_any().downcast_ref::<datafusion::arrow::array::Int64Array>();
            (n.unwrap().value(0), result.scan)
        });
        assert_eq!(rows, 5);
        assert_eq!(scan, Scan { files_scanned: 1, files_committed: 1 });
    }

    #[test]
    fn the_blocking_engine_runs_without_one() {
        let dir = archive_of(3);
        let engine = BlockingSqlEngine::open(dir.path()).unwrap();
        let result = engine.run("SELECT severity_number FROM logs ORDER BY 1").unwrap();
        assert_eq!(result.num_rows(), 3);
        assert!(matches!(BlockingSqlEngine::open(&dir.path().join("nothing")), Err(QueryError::EmptyDataDir { .. })));
    }
}
