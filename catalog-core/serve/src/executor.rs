//! [`Executor`]: the runtime queries execute on, apart from the one the
//! front ends answer on.
//!
//! An operator may compute for seconds between two yields (a nested-loop
//! join's batch, a sort). On the front ends' runtime, that starves every task
//! queued behind it on the same worker: a query's deadline, `/health`, other
//! clients. On a runtime of its own, the operating system shares the cores
//! between the two, so a timeout fires on time and the server keeps answering
//! whatever a query computes.
//!
//! A cancelled query stops at its next yield. A join without equality keys
//! (nested loop, cross) may compute for seconds on one input batch and yields
//! nowhere in between, so [`YieldInJoins`] makes it count against tokio's
//! budget for each batch it emits, as DataFusion's scans do.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coop::CooperativeExec;
use datafusion::physical_plan::joins::{CrossJoinExec, NestedLoopJoinExec};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::{FutureExt, StreamExt};

/// Batches a query may have computed ahead of its client.
const AHEAD: usize = 2;

/// A multi-threaded tokio runtime for query execution, shut down in the
/// background when dropped (it may be dropped from inside another runtime).
pub(crate) struct Executor {
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").finish_non_exhaustive()
    }
}

impl Executor {
    /// A runtime with a worker per core.
    pub(crate) fn new() -> std::io::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("codelake-query")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// A handle to spawn background work on this runtime.
    pub(crate) fn handle(&self) -> tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("only taken on drop")
            .handle()
            .clone()
    }

    /// Executes `plan` on this runtime: the batches come back through a
    /// channel of [`AHEAD`] batches. Dropping the stream stops the query at
    /// its next yield.
    pub(crate) fn execute(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    ) -> SendableRecordBatchStream {
        let schema = plan.schema();
        let (sender, mut receiver) = tokio::sync::mpsc::channel(AHEAD);
        let runtime = self.runtime.as_ref().expect("only taken on drop");
        // A panic ends the query with an error, never with a stream that
        // merely stops early, as if the answer were complete.
        let on_panic = sender.clone();
        let drive = async move {
            // Executed here, so that the tasks operators spawn run here too.
            let mut stream = match datafusion::physical_plan::execute_stream(plan, task) {
                Ok(stream) => stream,
                Err(error) => {
                    let _ = sender.send(Err(error)).await;
                    return;
                }
            };
            while let Some(item) = stream.next().await {
                if sender.send(item).await.is_err() {
                    return;
                }
            }
        };
        let driver = runtime.spawn(async move {
            if let Err(payload) = AssertUnwindSafe(drive).catch_unwind().await {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_owned());
                let error = DataFusionError::Execution(format!(
                    "the query stopped on an internal error (a panic: {message}); the server \
                     keeps serving, and the server's log has the details"
                ));
                let _ = on_panic.send(Err(error)).await;
            }
        });
        let abort = AbortOnDrop(driver);
        let batches = futures::stream::poll_fn(move |cx| {
            let _keep = &abort;
            receiver.poll_recv(cx)
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, batches))
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Stops a query's driver when its stream is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wraps each nested-loop and cross join in a [`CooperativeExec`], so that
/// such a join yields to the runtime every so many batches it emits, and a
/// query cancelled in the middle of one stops there.
#[derive(Debug, Default)]
pub(crate) struct YieldInJoins;

impl PhysicalOptimizerRule for YieldInJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let unbounded = node.downcast_ref::<NestedLoopJoinExec>().is_some()
                || node.downcast_ref::<CrossJoinExec>().is_some();
            Ok(if unbounded {
                Transformed::yes(Arc::new(CooperativeExec::new(node)) as Arc<dyn ExecutionPlan>)
            } else {
                Transformed::no(node)
            })
        })
        .map(|transformed| transformed.data)
    }

    fn name(&self) -> &str {
        "YieldInJoins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    use datafusion::execution::{SendableRecordBatchStream, TaskContext};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
    use futures::StreamExt;

    use super::Executor;

    /// A partition whose stream panics when polled.
    #[derive(Debug)]
    struct Panics(SchemaRef);

    impl PartitionStream for Panics {
        fn schema(&self) -> &SchemaRef {
            &self.0
        }

        fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
            let stream = futures::stream::poll_fn(|_| -> std::task::Poll<Option<_>> {
                panic!("an operator's bug")
            });
            Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.0), stream))
        }
    }

    #[test]
    fn a_panic_ends_the_query_with_an_error_not_a_short_answer() {
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let partition = Arc::new(Panics(Arc::clone(&schema)));
        let plan =
            StreamingTableExec::try_new(schema, vec![partition], None, [], false, None).unwrap();
        let executor = Executor::new().unwrap();
        let mut stream = executor.execute(Arc::new(plan), Arc::new(TaskContext::default()));
        let first = futures::executor::block_on(stream.next());
        let error = first
            .expect("an item, not the end")
            .unwrap_err()
            .to_string();
        assert!(error.contains("an operator's bug"), "{error}");
        assert!(futures::executor::block_on(stream.next()).is_none());
    }
}
