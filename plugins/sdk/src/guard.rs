//! Panic fences around a plugin's provider, plan and stream.
//!
//! Each DataFusion call that runs plugin code from across the FFI boundary goes
//! through one of these wrappers, which turns a panic into a `DataFusionError`
//! naming the table and plugin. Without them, the panic would unwind into an
//! `extern "C"` frame of `datafusion_ffi` and abort the host process.

use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result, Statistics};
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::filter_pushdown::FilterPushdown;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::prelude::SessionConfig;
use futures::{FutureExt, Stream};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::{Explain, Preflight, panic_message};
use datafusion::object_store::ObjectMeta;

mod exec;

use exec::GuardedExec;

/// Where a panic happened, for its error message.
#[derive(Clone)]
struct Origin {
    table: String,
    plugin: &'static str,
    /// The table's `location` or `url`, so a read error names the file or endpoint.
    location: Option<String>,
    /// The plugin's rewrite of its scans' errors, if it has one.
    explain: Option<Explain>,
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Origin")
            .field("table", &self.table)
            .field("plugin", &self.plugin)
            .field("location", &self.location)
            .field("explain", &self.explain.is_some())
            .finish()
    }
}

impl Origin {
    /// An error of the plugin's scan, rewritten by the plugin in its own
    /// runtime (fenced against panics), then named with [`Self::context`].
    async fn explained(&self, error: DataFusionError) -> DataFusionError {
        let Some(explain) = &self.explain else {
            return self.context(error);
        };
        let explaining = crate::catch(|| explain(error));
        let explaining = match explaining {
            Ok(explaining) => explaining,
            Err(payload) => return self.error("explaining an error", &*payload),
        };
        match AssertUnwindSafe(InRuntime::new(explaining))
            .catch_unwind()
            .await
        {
            Ok(error) => self.context(error),
            Err(payload) => self.error("explaining an error", &*payload),
        }
    }

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

    /// A panic in an optional step, which the plugin goes on without: said
    /// once on standard error, as the panic would have been, in one line.
    fn ignored<T: Default>(&self, during: &str, payload: &(dyn std::any::Any + Send)) -> T {
        eprintln!(
            "warning: table `{}`: plugin `{}` panicked while {during}, and went on without it: {}",
            self.table,
            self.plugin,
            panic_message(payload)
        );
        T::default()
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
    preflight: Checks,
}

/// A plugin's [`Preflight`], shown in `Debug` only as there or not.
struct Checks(Option<Preflight>);

impl fmt::Debug for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

impl GuardedProvider {
    /// Wraps `inner`, the provider of `table` built by `plugin`, whose scans'
    /// errors `explain` rewrites.
    pub fn new(
        inner: Arc<dyn TableProvider>,
        runtime_env: Option<Arc<RuntimeEnv>>,
        table: String,
        location: Option<String>,
        plugin: &'static str,
        explain: Option<Explain>,
    ) -> Self {
        // One of the table's own when the plugin gave none, kept for its
        // life: its caches (footers, statistics) last from scan to scan.
        let runtime_env = runtime_env.or_else(|| crate::runtime_env_builder().build_arc().ok());
        Self {
            schema: inner.schema(),
            table_type: inner.table_type(),
            inner,
            runtime_env,
            origin: Origin {
                table,
                plugin,
                location,
                explain,
            },
            preflight: Checks(None),
        }
    }

    /// With the plugin's check of a host-executed scan's files.
    pub(crate) fn with_preflight(mut self, preflight: Option<Preflight>) -> Self {
        self.preflight = Checks(preflight);
        self
    }

    /// The plugin's check of the files a host-executed scan reads, fenced:
    /// a panic there streams the scan too.
    pub(crate) async fn preflight(
        &self,
        objects: Vec<ObjectMeta>,
    ) -> std::result::Result<(), String> {
        let Some(preflight) = &self.preflight.0 else {
            return Ok(());
        };
        let checking = crate::catch(|| preflight(objects))
            .map_err(|payload| format!("its file check panicked: {}", panic_message(&*payload)))?;
        AssertUnwindSafe(InRuntime::new(checking))
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| {
                Err(format!(
                    "its file check panicked: {}",
                    panic_message(&*payload)
                ))
            })
    }
}

impl GuardedProvider {
    /// Plans a scan of the plugin's own provider for the host to execute: in
    /// the plugin's runtime environment, with the host's settings, its errors
    /// explained and named, panics fenced. Unlike [`TableProvider::scan`], the
    /// plan is the provider's own, with no filter applied on this side and no
    /// wrapper: the host runs its own optimizer over it, as over a native scan.
    pub(crate) async fn plan_for_host(
        &self,
        config: SessionConfig,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut builder = SessionStateBuilder::new().with_config(config);
        if let Some(runtime_env) = &self.runtime_env {
            builder = builder.with_runtime_env(Arc::clone(runtime_env));
        }
        let state = builder.build();
        let planned = InRuntime::new(AssertUnwindSafe(
            self.inner.scan(&state, projection, filters, limit),
        ))
        .catch_unwind()
        .await;
        match planned {
            Ok(Ok(plan)) => Ok(plan),
            Ok(Err(error)) => Err(self.origin.explained(error).await),
            Err(payload) => Err(self.origin.error("planning a scan", &*payload)),
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
        let planned = InRuntime::new(AssertUnwindSafe(
            self.inner.scan(state, projection, filters, limit),
        ))
        .catch_unwind()
        .await;
        let plan = match planned {
            Ok(Ok(plan)) => plan,
            Ok(Err(error)) => return Err(self.origin.explained(error).await),
            Err(payload) => return Err(self.origin.error("planning a scan", &*payload)),
        };
        // Only an optimisation (the host filters again): on any error, the plain scan.
        let plan = crate::catch(|| filtered(Arc::clone(&plan), filters, state.config()))
            .map_err(|payload| self.origin.ignored::<()>("applying filters", &*payload))
            .ok()
            .and_then(Result::ok)
            .unwrap_or(plan);
        Ok(Arc::new(GuardedExec::new(
            plan,
            self.runtime_env.clone(),
            self.origin.clone(),
        )))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        crate::catch(|| self.inner.supports_filters_pushdown(filters))
            .unwrap_or_else(|payload| Err(self.origin.error("checking filters", &*payload)))
    }

    fn statistics(&self) -> Option<Statistics> {
        crate::catch(|| self.inner.statistics())
            .unwrap_or_else(|payload| self.origin.ignored("computing statistics", &*payload))
    }
}

/// `plan` with the host's `filters` applied on the plugin's side.
///
/// DataFusion gives a scan its predicate in a physical optimizer pass (filter
/// push-down), not through `TableProvider::scan`, and that pass cannot see
/// through the FFI boundary: without this, a plugin's Parquet scan had no
/// predicate, so no row group, page or bloom filter was ever pruned. Here the
/// filters become a `FilterExec` over the scan, pushed into it by the same
/// pass the host would run, so the scan prunes with them; rows that fail them
/// are dropped before they cross the boundary. The host still applies its own
/// filter (the provider reports push-down as inexact), so a filter left out
/// here, or an error, costs only the optimisation.
///
/// The predicate is planned in a session of the plugin's own, so it runs as
/// plugin code. Filters that call a function are left to the host: those
/// functions arrive as the host's, and calling them per batch from here would
/// cross the boundary again, where a panic could not be fenced.
fn filtered(
    plan: Arc<dyn ExecutionPlan>,
    filters: &[Expr],
    config: &SessionConfig,
) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = DFSchema::try_from(plan.schema())?;
    // The host qualifies columns with the table's name; the scan's schema does not.
    let unqualified = filters.iter().filter_map(|filter| {
        let filter = filter
            .clone()
            .transform(|expr| {
                Ok(match expr {
                    Expr::Column(column) => {
                        Transformed::yes(Expr::Column(Column::new_unqualified(column.name)))
                    }
                    other => Transformed::no(other),
                })
            })
            .ok()?
            .data;
        // A filter on a column the scan does not return (one the provider
        // answers exactly, like a Hive partition) stays with the host.
        let readable = filter
            .column_refs()
            .iter()
            .all(|column| schema.has_column_with_unqualified_name(&column.name));
        let calls_a_function = filter
            .exists(|expr| Ok(matches!(expr, Expr::ScalarFunction(_))))
            .unwrap_or(true);
        (readable && !calls_a_function).then_some(filter)
    });
    let Some(predicate) = conjunction(unqualified) else {
        return Ok(plan);
    };
    let local = SessionStateBuilder::new()
        .with_config(config.clone())
        .build();
    let predicate = local.create_physical_expr(predicate, &schema)?;
    let config = config.options();
    // Split the scan by byte ranges now: behind the filter, the host's
    // repartitioning can no longer reach it.
    let plan = match config.optimizer.repartition_file_scans {
        true => plan
            .repartitioned(config.execution.target_partitions, config)?
            .unwrap_or(plan),
        false => plan,
    };
    let filter: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(predicate, plan)?);
    FilterPushdown::new().optimize(filter, config)
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
///
/// It is dropped inside that runtime too: a query the host cancels (Ctrl-C, a
/// timeout, a client gone) drops the plugin's future or stream on the host's
/// thread, and I/O types (a reqwest timer, an object_store request) need the
/// runtime to drop. A destructor that panics is fenced like a poll.
struct InRuntime<T>(Option<T>);

impl<T> InRuntime<T> {
    fn new(inner: T) -> Self {
        Self(Some(inner))
    }

    fn inner(&mut self) -> &mut T {
        self.0
            .as_mut()
            .expect("an `InRuntime` is never polled after it is dropped")
    }
}

impl<T> Drop for InRuntime<T> {
    fn drop(&mut self) {
        let _entered = crate::runtime().enter();
        let inner = self.0.take();
        if crate::catch(move || drop(inner)).is_err() {
            eprintln!("warning: a plugin panicked while a query's reader was dropped; ignored");
        }
    }
}

impl<T: Future + Unpin> Future for InRuntime<T> {
    type Output = T::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Every `InRuntime` is polled inside `catch_unwind`.
        let _fence = crate::Fence::enter();
        let _entered = crate::runtime().enter();
        Pin::new(self.inner()).poll(cx)
    }
}

impl<T: Stream + Unpin> Stream for InRuntime<T> {
    type Item = T::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Every `InRuntime` is polled inside `catch_unwind`.
        let _fence = crate::Fence::enter();
        let _entered = crate::runtime().enter();
        Pin::new(self.inner()).poll_next(cx)
    }
}
