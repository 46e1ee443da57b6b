//! Streamed plugin scans in a session with extension settings.
//!
//! datafusion-ffi 55 sends a session's settings to a plugin as one list, an
//! extension's (the distributed engine's `distributed.*`) among DataFusion's
//! own, and the plugin's side rebuilds its settings from that list with
//! `ConfigOptions::set`, which refuses a namespace it does not know ("could
//! not find config namespace"). So a streamed scan planned or run in such a
//! session would fail. [`PlainSettingsTable`], around every plugin's own
//! provider, gives the plugin the session minus those settings when it plans
//! a scan, and [`PlainSettingsExec`] does the same for each task context the
//! scan runs in ([`plain_task_context`], which a worker also applies to the
//! scans it rebuilds by name). At planning the plugin refuses such settings;
//! when a task runs, datafusion-ffi would silently give it DataFusion's
//! default settings instead of the session's.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::Extensions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Constraints, Result, Statistics};
use datafusion::execution::{
    SendableRecordBatchStream, SessionState, SessionStateBuilder, TaskContext,
};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, StatisticsArgs, StatisticsContext,
};

/// A plugin's own table provider, which never sees extension settings.
#[derive(Debug)]
pub(crate) struct PlainSettingsTable {
    inner: Arc<dyn TableProvider>,
}

impl PlainSettingsTable {
    pub(crate) fn new(inner: Arc<dyn TableProvider>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl TableProvider for PlainSettingsTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match without_extensions(state) {
            Some(plain) => {
                let scan = self.inner.scan(&plain, projection, filters, limit).await?;
                Ok(Arc::new(PlainSettingsExec::new(scan)))
            }
            None => self.inner.scan(state, projection, filters, limit).await,
        }
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

/// `state` without its extensions' settings; `None` when it has none to take
/// out (or is not a [`SessionState`]).
fn without_extensions(state: &dyn Session) -> Option<SessionState> {
    state.config_options().extensions.iter().next()?;
    let state = state.as_any().downcast_ref::<SessionState>()?;
    let mut config = state.config().clone();
    config.options_mut().extensions = Extensions::new();
    Some(
        SessionStateBuilder::new_from_existing(state.clone())
            .with_config(config)
            .build(),
    )
}

/// A plugin's streamed scan that runs with DataFusion's own settings only.
/// It shows, and reports statistics and metrics, as the scan it wraps.
#[derive(Debug)]
struct PlainSettingsExec {
    inner: Arc<dyn ExecutionPlan>,
}

impl PlainSettingsExec {
    fn new(inner: Arc<dyn ExecutionPlan>) -> Self {
        Self { inner }
    }
}

impl DisplayAs for PlainSettingsExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt_as(format, f)
    }
}

impl ExecutionPlan for PlainSettingsExec {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    /// None: like the plugin's scan it wraps, a leaf.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn statistics_from_inputs(
        &self,
        _inputs: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        StatisticsContext::new().compute(self.inner.as_ref(), args)
    }

    fn with_new_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.inner.metrics()
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.inner.execute(partition, plain_task_context(context))
    }
}

/// `context` without its extensions' settings, for a plan that crosses the
/// FFI boundary when it runs: as it is when it has none. A scan a worker
/// rebuilds by name runs in the engine's task context, which carries them.
pub fn plain_task_context(context: Arc<TaskContext>) -> Arc<TaskContext> {
    if context
        .session_config()
        .options()
        .extensions
        .iter()
        .next()
        .is_none()
    {
        return context;
    }
    let mut config = context.session_config().clone();
    config.options_mut().extensions = Extensions::new();
    Arc::new(TaskContext::new(
        context.task_id(),
        context.session_id(),
        config,
        context.scalar_functions().clone(),
        context.higher_order_functions().clone(),
        context.aggregate_functions().clone(),
        context.window_functions().clone(),
        context.runtime_env(),
    ))
}
