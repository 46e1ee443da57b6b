//! [`GuardedExec`]: a plugin's plan as one leaf to the host, its stream
//! fenced against panics, its metrics gathered from the plans below it.

use std::collections::HashSet;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, Statistics};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{MetricValue, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, StatisticsArgs, StatisticsContext,
    displayable,
};
use futures::StreamExt;

use super::{InRuntime, Origin, with_runtime};

/// A plugin's plan: a leaf to the host, whose stream is fenced against panics.
#[derive(Debug)]
pub(super) struct GuardedExec {
    inner: Arc<dyn ExecutionPlan>,
    runtime_env: Option<Arc<RuntimeEnv>>,
    origin: Origin,
    /// The plugin's plan in one line, returned as the plan's name: the FFI
    /// layer shows the host only a foreign plan's name (and metrics), so this
    /// is how `EXPLAIN` on the host shows what the plugin scans, with which
    /// projection and predicate.
    label: String,
}

impl GuardedExec {
    pub(super) fn new(
        inner: Arc<dyn ExecutionPlan>,
        runtime_env: Option<Arc<RuntimeEnv>>,
        origin: Origin,
    ) -> Self {
        // Its plans top to bottom, on one line: `FilterExec: … <- DataSourceExec: …`.
        let label = crate::catch(|| {
            let shown = displayable(inner.as_ref()).indent(false).to_string();
            shown
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join(" <- ")
        })
        .unwrap_or_else(|_| format!("{} (its plan cannot be displayed)", inner.name()));
        Self {
            label: format!(
                "CodelakePluginExec: table={}, plugin={}, input={}",
                origin.table, origin.plugin, label
            ),
            inner,
            runtime_env,
            origin,
        }
    }
}

impl DisplayAs for GuardedExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

impl ExecutionPlan for GuardedExec {
    fn name(&self) -> &str {
        &self.label
    }

    /// The plugin plan's metrics (rows and bytes read, files and row groups
    /// pruned, time spent), so `EXPLAIN ANALYZE` on the host shows them.
    fn metrics(&self) -> Option<MetricsSet> {
        crate::catch(|| plan_metrics(self.inner.as_ref()))
            .unwrap_or_else(|payload| self.origin.ignored("reporting metrics", &*payload))
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    // The plugin's plan crosses the boundary whole: the host optimises around it, not inside it.
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

    /// The plugin plan's own statistics (row counts, sizes, min/max): without
    /// them the host's optimizer cannot tell a small join side from a large one.
    fn statistics_from_inputs(
        &self,
        _inputs: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        crate::catch(|| StatisticsContext::new().compute(self.inner.as_ref(), args))
            .unwrap_or_else(|payload| Err(self.origin.error("computing statistics", &*payload)))
    }

    /// Lets the host split the plugin's scan into `target_partitions` (a Parquet
    /// scan splits its files by byte range), so one file is read on every core.
    fn repartitioned(
        &self,
        target_partitions: usize,
        config: &ConfigOptions,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let repartitioned = crate::catch(|| self.inner.repartitioned(target_partitions, config))
            .unwrap_or_else(|payload| Err(self.origin.error("repartitioning a scan", &*payload)))?;
        Ok(repartitioned.map(|inner| {
            Arc::new(Self::new(
                inner,
                self.runtime_env.clone(),
                self.origin.clone(),
            )) as Arc<dyn ExecutionPlan>
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let context = match &self.runtime_env {
            Some(runtime_env) => Arc::new(with_runtime(&context, Arc::clone(runtime_env))),
            None => context,
        };
        let started = crate::catch(|| self.inner.execute(partition, context));
        let stream = match started {
            Ok(stream) => stream.map_err(|error| self.origin.context(error))?,
            Err(payload) => return Err(self.origin.error("starting a scan", &*payload)),
        };
        let origin = self.origin.clone();
        let schema = stream.schema();
        // After a panic the inner stream is poisoned: report it once, then end.
        let fenced = AssertUnwindSafe(InRuntime::new(stream))
            .catch_unwind()
            .then(move |item| {
                let origin = origin.clone();
                async move {
                    match item {
                        Ok(Ok(batch)) => Ok(batch),
                        Ok(Err(error)) => Err(origin.explained(error).await),
                        Err(payload) => Err(origin.error("reading", &*payload)),
                    }
                }
            });
        let mut failed = false;
        let fenced = fenced.take_while(move |item| {
            let keep = !failed;
            failed |= item.is_err();
            futures::future::ready(keep)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, fenced)))
    }
}

/// The metrics of `plan` and, without their baseline ones (output rows,
/// compute time…, which would add up with the root's), of every plan below it:
/// the host shows a plugin's plan as one node.
fn plan_metrics(plan: &dyn ExecutionPlan) -> Option<MetricsSet> {
    let mut metrics = plan.metrics();
    // Names already shown: the host sums metrics by name (a plan's partitions
    // each report their own), and panics on one name with two kinds, so a plan
    // below adds only names no plan above it has.
    let mut taken: HashSet<String> = metrics
        .iter()
        .flat_map(MetricsSet::iter)
        .map(|metric| metric.value().name().to_owned())
        .collect();
    let mut below = plan.children();
    while let Some(child) = below.pop() {
        let mut names = Vec::new();
        for metric in child.metrics().iter().flat_map(MetricsSet::iter) {
            let baseline = matches!(
                metric.value(),
                MetricValue::OutputRows(_)
                    | MetricValue::ElapsedCompute(_)
                    | MetricValue::OutputBytes(_)
                    | MetricValue::OutputBatches(_)
                    | MetricValue::StartTimestamp(_)
                    | MetricValue::EndTimestamp(_)
            );
            let name = metric.value().name();
            if !baseline && !taken.contains(name) {
                metrics.get_or_insert_default().push(Arc::clone(metric));
                names.push(name.to_owned());
            }
        }
        taken.extend(names);
        below.extend(child.children());
    }
    metrics
}
