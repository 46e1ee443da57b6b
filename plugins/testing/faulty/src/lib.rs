//! Test-only: a `function` plugin whose tables panic, to prove the SDK fences
//! panics on the plugin's side. `function = "…"` picks where it panics:
//! `panic_on_build`, `panic_on_scan` or `panic_on_read`. The variable
//! `FAULTY_PLUGIN_PANICS` (one of those three) overrides it, so that the fault
//! matrix can put this plugin in place of the real `function` plugin under the
//! real catalog.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use codelake_plugin_sdk::catalog_core::Environment;
use codelake_plugin_sdk::catalog_core::source::FunctionOptions;
use codelake_plugin_sdk::datafusion::arrow::datatypes::SchemaRef;
use codelake_plugin_sdk::datafusion::catalog::{Session, TableProvider};
use codelake_plugin_sdk::datafusion::common::Result;
use codelake_plugin_sdk::datafusion::common::tree_node::TreeNodeRecursion;
use codelake_plugin_sdk::datafusion::execution::{SendableRecordBatchStream, TaskContext};
use codelake_plugin_sdk::datafusion::logical_expr::{Expr, TableType};
use codelake_plugin_sdk::datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use codelake_plugin_sdk::datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use codelake_plugin_sdk::datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use codelake_plugin_sdk::datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use codelake_plugin_sdk::{Built, TableSource};
use codelake_plugin_sdk::{Source, export_source};

/// Panics on request.
pub struct Faulty;

impl Source for Faulty {
    const NAME: &'static str = "faulty";
    const KINDS: &'static [&'static str] = &["function"];

    type Options = FunctionOptions;
    type Error = NoSuchFunction;

    fn build(
        table: &TableSource<'_, FunctionOptions>,
        _env: &Environment,
    ) -> std::result::Result<Built, NoSuchFunction> {
        let schema = Arc::new(table.spec.query_schema());
        let stage = std::env::var("FAULTY_PLUGIN_PANICS")
            .unwrap_or_else(|_| table.options.function.clone());
        let on_scan = match stage.as_str() {
            "panic_on_build" => panic!("deliberate panic while building"),
            "panic_on_scan" => true,
            "panic_on_read" => false,
            other => return Err(NoSuchFunction(other.to_owned())),
        };
        Ok(Built::provider(Arc::new(PanickingTable {
            schema,
            on_scan,
        })))
    }
}

export_source!(Faulty);

/// A `function` this plugin does not know.
#[derive(Debug, thiserror::Error)]
#[error("no such test function: {0:?}")]
pub struct NoSuchFunction(String);

#[derive(Debug)]
struct PanickingTable {
    schema: SchemaRef,
    on_scan: bool,
}

#[async_trait]
impl TableProvider for PanickingTable {
    fn schema(&self) -> SchemaRef {
        SchemaRef::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        assert!(!self.on_scan, "deliberate panic while planning a scan");
        let properties = PlanProperties::new(
            EquivalenceProperties::new(self.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(PanickingExec {
            schema: self.schema(),
            properties: Arc::new(properties),
        }))
    }
}

#[derive(Debug)]
struct PanickingExec {
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl DisplayAs for PanickingExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PanickingExec")
    }
}

impl ExecutionPlan for PanickingExec {
    fn name(&self) -> &str {
        "PanickingExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
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

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let stream = futures::stream::once(async { panic!("deliberate panic while reading") });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            SchemaRef::clone(&self.schema),
            stream,
        )))
    }
}
