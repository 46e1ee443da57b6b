//! `EXPLAIN` of a distributed query: its stages and their task counts.
//!
//! DataFusion plans an `EXPLAIN` inside its default physical planner, which
//! never calls the session's query planner, so it would show the plan of one
//! process. This planner plans the explained query as it would run (across
//! the workers) and shows it as datafusion-distributed draws it: the stages,
//! each with its tasks and partitions, and the network boundaries between
//! them. `EXPLAIN ANALYZE` is the engine's own, with each task's metrics.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::{LogicalPlan, PlanType, StringifiedPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::explain::ExplainExec;
use datafusion_distributed::display_plan_ascii;

/// `inner` (the distributed planner), with `EXPLAIN` showing stages.
#[derive(Debug)]
pub(crate) struct ExplainStages {
    pub(crate) inner: Arc<dyn QueryPlanner + Send + Sync>,
}

#[async_trait]
impl QueryPlanner for ExplainStages {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let LogicalPlan::Explain(explain) = logical_plan else {
            return self.inner.create_physical_plan(logical_plan, session).await;
        };
        let physical = self
            .inner
            .create_physical_plan(&explain.plan, session)
            .await?;
        let mut plans: Vec<StringifiedPlan> = explain
            .stringified_plans
            .iter()
            .filter(|plan| {
                plan.should_display(explain.verbose)
                    || matches!(plan.plan_type, PlanType::FinalLogicalPlan)
            })
            .cloned()
            .collect();
        plans.push(StringifiedPlan::new(
            PlanType::FinalPhysicalPlan,
            display_plan_ascii(physical.as_ref(), false),
        ));
        Ok(Arc::new(ExplainExec::new(
            Arc::clone(explain.schema.inner()),
            plans,
            explain.verbose,
        )))
    }
}
