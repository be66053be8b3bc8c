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

/// A data directory's archive registered as table `logs`, with the runtime
/// that runs statements over it: open once, run many statements.
pub struct SqlEngine {
    runtime: tokio::runtime::Runtime,
    context: SessionContext,
    files_committed: usize,
}

impl SqlEngine {
    /// Registers `DIR/archive` as `logs`. An archive in a layout this
    /// build does not know is refused; one without a committed file is
    /// [`QueryError::EmptyDataDir`]: there is no schema to plan against.
    pub fn open(data_dir: &Path) -> Result<SqlEngine, QueryError> {
        let dir = sluice_index::data_dir::DataDir::at(data_dir);
        dir.archive_layout()?;
        let files_committed = dir.archive_files()?.len();
        if files_committed == 0 {
            return Err(QueryError::EmptyDataDir { dir: data_dir.to_owned() });
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(std::thread::available_parallelism().map_or(2, usize::from))
            .build()
            .map_err(|e| QueryError::Sql { message: format!("cannot start the query runtime: {e}"), user: false })?;
        let context = runtime.block_on(register(&dir.archive())).map_err(sql_error)?;
        Ok(SqlEngine { runtime, context, files_committed })
    }

    /// Runs one statement and collects its rows. A file that a compaction
    /// deleted between the statement's listing and its read makes it run
    /// again (the new listing has the compacted file instead), so a
    /// statement during compaction answers as before and after it.
    pub fn run(&self, sql: &str) -> Result<SqlResult, QueryError> {
        let mut attempt = 0;
        let mut result = loop {
            match self.runtime.block_on(execute(&self.context, sql)) {
                Err(error) if attempt + 1 < RUN_ATTEMPTS && is_file_gone(&error) => attempt += 1,
                other => break other.map_err(sql_error)?,
            }
        };
        result.scan.files_committed = self.files_committed;
        Ok(result)
    }
}

async fn register(archive: &Path) -> Result<SessionContext, DataFusionError> {
    let config = SessionConfig::new().with_information_schema(true);
    // No cached listings: a statement run again after a compaction must
    // list the partitions again (see `SqlEngine::run`).
    let cache = CacheManagerConfig::default().with_list_files_cache_limit(0);
    let runtime = RuntimeEnvBuilder::new().with_cache_manager(cache).build_arc()?;
    let context = SessionContext::new_with_config_rt(config, runtime);
    let mut root = archive.canonicalize()?.to_string_lossy().into_owned();
    root.push('/');
    let url = ListingTableUrl::parse(&root)?;
    // Listings leave out what a compaction superseded (see `live_store`).
    crate::live_store::raise_open_file_limit();
    let local = Arc::new(object_store::local::LocalFileSystem::new());
    context.register_object_store(url.object_store().as_ref(), Arc::new(LiveArchiveStore::new(local)));
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
