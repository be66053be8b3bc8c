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
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use sluice_query::QueryError;

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

    /// Runs one statement and collects its rows.
    pub fn run(&self, sql: &str) -> Result<SqlResult, QueryError> {
        let mut result = self.runtime.block_on(execute(&self.context, sql)).map_err(sql_error)?;
        result.scan.files_committed = self.files_committed;
        Ok(result)
    }
}

async fn register(archive: &Path) -> Result<SessionContext, DataFusionError> {
    let config = SessionConfig::new().with_information_schema(true);
    let context = SessionContext::new_with_config(config);
    let mut root = archive.canonicalize()?.to_string_lossy().into_owned();
    root.push('/');
    let url = ListingTableUrl::parse(&root)?;
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
