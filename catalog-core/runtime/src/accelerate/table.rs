//! [`AcceleratedTable`]: a table provider that answers from a copy in Arrow
//! memory once one is loaded, and from its source until then; and
//! [`AcceleratedExec`], the plan node that says so in `EXPLAIN`.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::common::Statistics;
use datafusion::common::config::ConfigOptions;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, StatisticsArgs, StatisticsContext,
};
use futures::StreamExt;

use super::zones::Zones;

/// A table's copy: its rows as the source gave them, partition by partition,
/// and the zone maps that let a filtered scan skip batches.
#[derive(Debug)]
pub(crate) struct Copy {
    pub(crate) partitions: Vec<Vec<RecordBatch>>,
    pub(crate) zones: Zones,
    pub(crate) loaded_at: SystemTime,
    pub(crate) bytes: u64,
    pub(crate) rows: u64,
}

/// What happened to a table's copy, for metrics, `verify` and messages.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    /// Loads and refreshes that succeeded.
    pub(crate) loads: u64,
    /// Loads and refreshes that failed, in total.
    pub(crate) failures: u64,
    /// Failures since the last success: the retry backs off with them.
    pub(crate) failing: u32,
    /// The last failure's message, cleared by a success.
    pub(crate) last_error: Option<String>,
    /// Why the table is read from its source for good: over the budget.
    pub(crate) refused: Option<String>,
}

/// A catalog table with a copy in memory. Queries read the copy when there is
/// one, the source otherwise; a refresh swaps in a new copy at once, so a
/// query sees the old copy or the new one, whole.
pub(crate) struct AcceleratedTable {
    pub(crate) name: String,
    pub(crate) refresh: Duration,
    pub(crate) source: Arc<dyn TableProvider>,
    copy: RwLock<Option<Arc<Copy>>>,
    pub(crate) history: Mutex<History>,
}

impl fmt::Debug for AcceleratedTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcceleratedTable")
            .field("name", &self.name)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl AcceleratedTable {
    pub(crate) fn new(name: String, refresh: Duration, source: Arc<dyn TableProvider>) -> Self {
        Self {
            name,
            refresh,
            source,
            copy: RwLock::new(None),
            history: Mutex::new(History::default()),
        }
    }

    /// The copy queries read now, if one is loaded.
    pub(crate) fn copy(&self) -> Option<Arc<Copy>> {
        self.copy
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Makes `copy` the one queries read from their next scan on; `None`
    /// sends them to the source.
    pub(crate) fn swap(&self, copy: Option<Copy>) {
        *self.copy.write().unwrap_or_else(PoisonError::into_inner) = copy.map(Arc::new);
    }

    pub(crate) fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the whole source, partition by partition at once. Stops with an
    /// error naming the size read so far once the copy would pass `room` bytes.
    /// The copy's age counts from when the read started.
    pub(crate) async fn read_source(&self, state: &dyn Session, room: u64) -> Result<Copy, Load> {
        let started = SystemTime::now();
        let plan = self
            .source
            .scan(state, None, &[], None)
            .await
            .map_err(|error| Load::Failed(error.to_string()))?;
        let task = state.task_ctx();
        let partitions = plan.properties().partitioning.partition_count();
        let reads = (0..partitions).map(|partition| {
            let (plan, task) = (Arc::clone(&plan), Arc::clone(&task));
            async move { plan.execute(partition, task) }
        });
        let streams = futures::future::try_join_all(reads)
            .await
            .map_err(|error| Load::Failed(error.to_string()))?;
        let bytes = std::sync::atomic::AtomicU64::new(0);
        let collect = streams
            .into_iter()
            .map(|stream| collect(stream, &bytes, room));
        let collected = futures::future::join_all(collect).await;
        let bytes = bytes.load(std::sync::atomic::Ordering::Relaxed);
        let mut partitions = Vec::with_capacity(collected.len());
        let mut over = false;
        for partition in collected {
            match partition {
                Ok(batches) => partitions.push(batches),
                Err(Load::Over(_)) => over = true,
                Err(error) => return Err(error),
            }
        }
        if over {
            return Err(Load::Over(bytes));
        }
        let batches = partitions.iter().flatten();
        Ok(Copy {
            rows: batches.clone().map(|batch| batch.num_rows() as u64).sum(),
            zones: Zones::of(self.schema(), batches),
            partitions,
            loaded_at: started,
            bytes,
        })
    }
}

/// Why a copy was not made.
#[derive(Debug)]
pub(crate) enum Load {
    /// The source could not be read.
    Failed(String),
    /// The copy would take at least this many bytes, more than it may.
    Over(u64),
}

/// One partition's batches. Once the partitions together pass `room` bytes,
/// the read stops with the size read so far: a copy that does not fit is not
/// read whole.
async fn collect(
    mut stream: SendableRecordBatchStream,
    bytes: &std::sync::atomic::AtomicU64,
    room: u64,
) -> Result<Vec<RecordBatch>, Load> {
    let mut batches = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|error| Load::Failed(error.to_string()))?;
        let size = batch.get_array_memory_size() as u64;
        let total = bytes.fetch_add(size, std::sync::atomic::Ordering::Relaxed) + size;
        if total > room {
            return Err(Load::Over(total));
        }
        batches.push(batch);
    }
    Ok(batches)
}

#[async_trait]
impl TableProvider for AcceleratedTable {
    fn schema(&self) -> SchemaRef {
        self.source.schema()
    }

    fn table_type(&self) -> TableType {
        self.source.table_type()
    }

    /// Every filter is taken, as inexact: the copy skips batches with any
    /// filter its zones can read, whatever the source supports, and applies
    /// none exactly (a query planned before a copy arrives may be scanned from
    /// it), so DataFusion always keeps its own filter above. The source is
    /// handed only the filters it takes (see [`Self::scan`]).
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(copy) = self.copy() else {
            let asked: Vec<&Expr> = filters.iter().collect();
            let support = self.source.supports_filters_pushdown(&asked)?;
            let taken: Vec<Expr> = (filters.iter().zip(support))
                .filter(|(_, support)| *support != TableProviderFilterPushDown::Unsupported)
                .map(|(filter, _)| filter.clone())
                .collect();
            return self.source.scan(state, projection, &taken, limit).await;
        };
        let batches = copy.zones.num_containers();
        let (partitions, kept) = match copy.zones.keep(state, filters) {
            Some(keep) => spread(&copy.partitions, &keep),
            None => (copy.partitions.clone(), batches),
        };
        let memory = MemorySourceConfig::try_new(&partitions, self.schema(), projection.cloned())?
            .with_limit(limit);
        let input = datafusion::datasource::source::DataSourceExec::from_data_source(memory);
        Ok(Arc::new(AcceleratedExec {
            table: self.name.clone(),
            loaded_at: copy.loaded_at,
            bytes: copy.bytes,
            batches: (kept, batches),
            input,
        }))
    }
}

/// The batches of `partitions` that `keep` says to scan (one flag per batch,
/// in order), dealt in turn over as many partitions as the copy has, so that
/// what a filter keeps is spread over every core even when it sits in one
/// partition of the copy; and how many were kept.
fn spread(partitions: &[Vec<RecordBatch>], keep: &[bool]) -> (Vec<Vec<RecordBatch>>, usize) {
    let count = partitions.len().max(1);
    let mut spread = vec![Vec::new(); count];
    let kept = partitions
        .iter()
        .flatten()
        .zip(keep)
        .filter(|(_, keep)| **keep)
        .map(|(batch, _)| batch);
    let mut kept_count = 0;
    for (index, batch) in kept.enumerate() {
        spread[index % count].push(batch.clone());
        kept_count += 1;
    }
    (spread, kept_count)
}

/// A scan answered from a table's copy in memory: shows the table, the copy's
/// age and size in `EXPLAIN`, and runs its input unchanged.
#[derive(Debug)]
pub struct AcceleratedExec {
    table: String,
    loaded_at: SystemTime,
    bytes: u64,
    /// The batches a filter left to scan, of the copy's.
    batches: (usize, usize),
    input: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for AcceleratedExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let age = SystemTime::now()
            .duration_since(self.loaded_at)
            .unwrap_or_default();
        write!(
            f,
            "AcceleratedExec: table={}, copy=memory, age={}, bytes={}, batches={} of {}",
            self.table,
            humantime::format_duration(Duration::from_secs(age.as_secs())),
            self.bytes,
            self.batches.0,
            self.batches.1
        )
    }
}

impl AcceleratedExec {
    fn over(&self, input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            table: self.table.clone(),
            loaded_at: self.loaded_at,
            bytes: self.bytes,
            batches: self.batches,
            input,
        }
    }
}

/// A leaf to the optimizer, as the scan it stands for: its input is the
/// copy's memory scan, which it repartitions and describes.
impl ExecutionPlan for AcceleratedExec {
    fn name(&self) -> &str {
        "AcceleratedExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    /// The copy's statistics (its exact row count, sizes): the optimizer
    /// picks join sides from them.
    fn statistics_from_inputs(
        &self,
        _inputs: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        StatisticsContext::new().compute(self.input.as_ref(), args)
    }

    /// Spreads the copy's batches over `target_partitions`, so every core scans.
    fn repartitioned(
        &self,
        target_partitions: usize,
        config: &ConfigOptions,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        Ok(self
            .input
            .repartitioned(target_partitions, config)?
            .map(|input| Arc::new(self.over(input)) as Arc<dyn ExecutionPlan>))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.input.metrics()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }
}
