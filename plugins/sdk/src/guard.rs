//! Panic fences around a plugin's provider, plan and stream.
//!
//! Each DataFusion call that runs plugin code from across the FFI boundary goes
//! through one of these wrappers, which turns a panic into a `DataFusionError`
//! naming the table and plugin. Without them, the panic would unwind into an
//! `extern "C"` frame of `datafusion_ffi` and abort the host process.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, Statistics};
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, StatisticsArgs, StatisticsContext,
};
use futures::{FutureExt, Stream, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::panic_message;

/// Where a panic happened, for its error message.
#[derive(Debug, Clone)]
struct Origin {
    table: String,
    plugin: &'static str,
    /// The table's `location` or `url`, so a read error names the file or endpoint.
    location: Option<String>,
}

impl Origin {
    /// Names the table, plugin and location on an error from the plugin's own code.
    fn context(&self, error: DataFusionError) -> DataFusionError {
        let location = self
            .location
            .as_ref()
            .map(|location| format!(", `{location}`"))
            .unwrap_or_default();
        error.context(format!(
            "table `{}` (plugin `{}`{location})",
            self.table, self.plugin
        ))
    }

    fn error(&self, during: &str, payload: &(dyn std::any::Any + Send)) -> DataFusionError {
        DataFusionError::External(
            format!(
                "table `{}`: plugin `{}` panicked while {during}: {}",
                self.table,
                self.plugin,
                panic_message(payload)
            )
            .into(),
        )
    }
}

/// A plugin's provider, with every call fenced against panics, and run in the
/// plugin's own runtime environment when it has one.
#[derive(Debug)]
pub struct GuardedProvider {
    inner: Arc<dyn TableProvider>,
    /// Read once, when the provider is built (inside the SDK's panic fence):
    /// `schema` and `table_type` cannot return an error, so they must not call plugin code.
    schema: SchemaRef,
    table_type: TableType,
    runtime_env: Option<Arc<RuntimeEnv>>,
    origin: Origin,
}

impl GuardedProvider {
    /// Wraps `inner`, the provider of `table` built by `plugin`.
    pub fn new(
        inner: Arc<dyn TableProvider>,
        runtime_env: Option<Arc<RuntimeEnv>>,
        table: String,
        location: Option<String>,
        plugin: &'static str,
    ) -> Self {
        Self {
            schema: inner.schema(),
            table_type: inner.table_type(),
            inner,
            runtime_env,
            origin: Origin {
                table,
                plugin,
                location,
            },
        }
    }
}

#[async_trait]
impl TableProvider for GuardedProvider {
    fn schema(&self) -> SchemaRef {
        SchemaRef::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        self.table_type
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // The host's session reaches this side with a default runtime environment:
        // plan in one that has the plugin's object stores.
        let local;
        let state: &dyn Session = match &self.runtime_env {
            Some(runtime_env) => {
                local = SessionStateBuilder::new()
                    .with_config(state.config().clone())
                    .with_runtime_env(Arc::clone(runtime_env))
                    .build();
                &local
            }
            None => state,
        };
        let planned = InRuntime(AssertUnwindSafe(
            self.inner.scan(state, projection, filters, limit),
        ))
        .catch_unwind()
        .await;
        match planned {
            Ok(plan) => Ok(Arc::new(GuardedExec {
                inner: plan.map_err(|error| self.origin.context(error))?,
                runtime_env: self.runtime_env.clone(),
                origin: self.origin.clone(),
            })),
            Err(payload) => Err(self.origin.error("planning a scan", &*payload)),
        }
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        catch_unwind(AssertUnwindSafe(|| {
            self.inner.supports_filters_pushdown(filters)
        }))
        .unwrap_or_else(|payload| Err(self.origin.error("checking filters", &*payload)))
    }

    fn statistics(&self) -> Option<Statistics> {
        catch_unwind(AssertUnwindSafe(|| self.inner.statistics())).unwrap_or(None)
    }
}

/// A plugin's plan: a leaf to the host, whose stream is fenced against panics.
#[derive(Debug)]
struct GuardedExec {
    inner: Arc<dyn ExecutionPlan>,
    runtime_env: Option<Arc<RuntimeEnv>>,
    origin: Origin,
}

impl DisplayAs for GuardedExec {
    fn fmt_as(&self, format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CodelakePluginExec: table={}, plugin={}, input=",
            self.origin.table, self.origin.plugin
        )?;
        self.inner.fmt_as(format, f)
    }
}

impl ExecutionPlan for GuardedExec {
    fn name(&self) -> &str {
        "CodelakePluginExec"
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
        catch_unwind(AssertUnwindSafe(|| {
            StatisticsContext::new().compute(self.inner.as_ref(), args)
        }))
        .unwrap_or_else(|payload| Err(self.origin.error("computing statistics", &*payload)))
    }

    /// Lets the host split the plugin's scan into `target_partitions` (a Parquet
    /// scan splits its files by byte range), so one file is read on every core.
    fn repartitioned(
        &self,
        target_partitions: usize,
        config: &ConfigOptions,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let repartitioned = catch_unwind(AssertUnwindSafe(|| {
            self.inner.repartitioned(target_partitions, config)
        }))
        .unwrap_or_else(|payload| Err(self.origin.error("repartitioning a scan", &*payload)))?;
        Ok(repartitioned.map(|inner| {
            Arc::new(Self {
                inner,
                runtime_env: self.runtime_env.clone(),
                origin: self.origin.clone(),
            }) as Arc<dyn ExecutionPlan>
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
        let started = catch_unwind(AssertUnwindSafe(|| self.inner.execute(partition, context)));
        let stream = match started {
            Ok(stream) => stream.map_err(|error| self.origin.context(error))?,
            Err(payload) => return Err(self.origin.error("starting a scan", &*payload)),
        };
        let origin = self.origin.clone();
        let schema = stream.schema();
        // After a panic the inner stream is poisoned: report it once, then end.
        let fenced =
            AssertUnwindSafe(InRuntime(stream))
                .catch_unwind()
                .map(move |item| match item {
                    Ok(batch) => batch.map_err(|error| origin.context(error)),
                    Err(payload) => Err(origin.error("reading", &*payload)),
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

/// `context` with another runtime environment (`TaskContext` is not `Clone`).
fn with_runtime(context: &TaskContext, runtime_env: Arc<RuntimeEnv>) -> TaskContext {
    TaskContext::new(
        context.task_id(),
        context.session_id(),
        context.session_config().clone(),
        context.scalar_functions().clone(),
        context.higher_order_functions().clone(),
        context.aggregate_functions().clone(),
        context.window_functions().clone(),
        runtime_env,
    )
}

/// Polls a plugin future or stream inside the plugin's tokio runtime.
///
/// The host polls from its own threads, where the plugin's copy of tokio finds
/// no runtime; I/O inside the plugin (object_store, reqwest) needs one.
struct InRuntime<T>(T);

impl<T: Future + Unpin> Future for InRuntime<T> {
    type Output = T::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let _entered = crate::runtime().enter();
        Pin::new(&mut self.0).poll(cx)
    }
}

impl<T: Stream + Unpin> Stream for InRuntime<T> {
    type Item = T::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let _entered = crate::runtime().enter();
        Pin::new(&mut self.0).poll_next(cx)
    }
}
