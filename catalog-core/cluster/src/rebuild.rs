//! Scans that travel as a table's name: what a worker rebuilds from the
//! catalog and its environment instead of receiving as a plan.
//!
//! A Parquet or CSV scan the host executes is DataFusion's own
//! `DataSourceExec`, which datafusion-proto encodes: it travels as it is, and
//! is split across tasks by file and byte range. Any other scan (a function,
//! an HTTP API, an in-memory copy, a plugin's streamed scan) is a node only
//! its process can run. In a session that plans across workers, every table
//! is wrapped ([`name_tables`]) so that such a scan becomes a
//! [`TableScanExec`]: the table's name, the projection, the filters and the
//! limit. Its codec ([`Rebuild`]) sends exactly that, and a worker, which
//! registered the same catalog through the same plugins, scans the table of
//! that name itself. This is the scale-out invariant: a table's provider is
//! built from its spec and the environment alone. Such a scan is not split
//! (datafusion-distributed gives a leaf it does not know one task).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{CatalogProviderList, Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Constraints, DataFusionError, Result, Statistics};
use datafusion::datasource::{TableType, ViewTable};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, StatisticsArgs, StatisticsContext,
};
use datafusion::prelude::SessionContext;
use datafusion_proto::logical_plan::DefaultLogicalExtensionCodec;
use datafusion_proto::logical_plan::from_proto::parse_exprs;
use datafusion_proto::logical_plan::to_proto::serialize_exprs;
use datafusion_proto::physical_plan::{
    AsExecutionPlan, DefaultPhysicalExtensionCodec, PhysicalExtensionCodec,
    PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::{LogicalExprList, PhysicalPlanNode};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use tokio::sync::OnceCell;

/// Wraps every table of `ctx` (not its plain views, which are planned from
/// the tables they read) so that a scan no other process can decode travels
/// by name. A view planned before this still reads the unwrapped tables: plan
/// it again afterwards (`catalog_runtime::views::replan_live_views`).
pub(crate) async fn name_tables(catalogs: &Arc<dyn CatalogProviderList>) -> Result<()> {
    for catalog_name in catalogs.catalog_names() {
        let Some(catalog) = catalogs.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            for table_name in schema.table_names() {
                let Some(table) = schema.table(&table_name).await? else {
                    continue;
                };
                if table.is::<ViewTable>() || table.is::<Named>() {
                    continue;
                }
                let name = [
                    catalog_name.clone(),
                    schema_name.clone(),
                    table_name.clone(),
                ];
                let named: Arc<dyn TableProvider> = Arc::new(Named { name, inner: table });
                schema.deregister_table(&table_name)?;
                schema.register_table(table_name, named)?;
            }
        }
    }
    Ok(())
}

/// A table whose scans that cannot travel as plans travel as its name.
struct Named {
    /// Catalog, schema and table, kept apart: a name may hold dots or capitals.
    name: [String; 3],
    inner: Arc<dyn TableProvider>,
}

impl fmt::Debug for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Named")
            .field("name", &self.name.join("."))
            .finish()
    }
}

#[async_trait]
impl TableProvider for Named {
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
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        if travels(&plan) {
            return Ok(plan);
        }
        Ok(Arc::new(TableScanExec::planned(
            self.name.clone(),
            projection.cloned(),
            filters.to_vec(),
            limit,
            plan,
        )))
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

/// Whether datafusion-proto encodes `plan` with DataFusion's own nodes only.
fn travels(plan: &Arc<dyn ExecutionPlan>) -> bool {
    PhysicalPlanNode::try_from_physical_plan(Arc::clone(plan), &DefaultPhysicalExtensionCodec {})
        .is_ok()
}

/// Where a [`TableScanExec`] gets its rows.
enum Source {
    /// In the process that planned it: the table's own scan.
    Planned(Arc<dyn ExecutionPlan>),
    /// On a worker: the scan of the table of that name in `tables`, planned
    /// once, when the first partition runs.
    Rebuilt {
        tables: Arc<SessionContext>,
        built: Arc<OnceCell<Arc<dyn ExecutionPlan>>>,
    },
}

/// What a worker needs to scan a table as its coordinator did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Recipe {
    /// `catalog.schema.table`, for messages.
    table: String,
    /// The same three parts, as the table is looked up.
    path: [String; 3],
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
    partitions: usize,
}

impl Recipe {
    /// The scan, planned in `tables` as the coordinator planned it, with the
    /// partitions the coordinator's plan had.
    async fn build(
        &self,
        filters: &[Expr],
        expected: &Schema,
        tables: &SessionContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [catalog, schema, table] = self.path.clone();
        let reference = datafusion::common::TableReference::full(catalog, schema, table);
        let provider = tables.table_provider(reference).await.map_err(|error| {
            DataFusionError::Plan(format!(
                "this worker cannot rebuild table `{}`: {error}",
                self.table
            ))
        })?;
        // Only the filters this provider takes: the coordinator's table may
        // have taken more (an in-memory copy takes all), and DataFusion keeps
        // a filter above any scan that may not apply it exactly.
        let offered: Vec<&Expr> = filters.iter().collect();
        let taken: Vec<Expr> = provider
            .supports_filters_pushdown(&offered)?
            .into_iter()
            .zip(filters)
            .filter(|(support, _)| *support != TableProviderFilterPushDown::Unsupported)
            .map(|(_, filter)| filter.clone())
            .collect();
        let state = tables.state();
        let plan = provider
            .scan(&state, self.projection.as_ref(), &taken, self.limit)
            .await?;
        let columns = |schema: &Schema| -> Vec<String> {
            schema
                .fields()
                .iter()
                .map(|field| format!("{} {}", field.name(), field.data_type()))
                .collect()
        };
        let (theirs, ours) = (columns(expected), columns(&plan.schema()));
        if theirs != ours {
            return Err(DataFusionError::Plan(format!(
                "table `{}` has other columns on this worker ({}) than on the coordinator ({}): \
                 start both from the same build",
                self.table,
                ours.join(", "),
                theirs.join(", ")
            )));
        }
        let had = plan.output_partitioning().partition_count();
        Ok(match (had == self.partitions, self.partitions) {
            (true, _) => plan,
            (false, 1) => Arc::new(CoalescePartitionsExec::new(plan)),
            (false, n) => Arc::new(RepartitionExec::try_new(
                plan,
                Partitioning::RoundRobinBatch(n),
            )?),
        })
    }
}

/// A scan of a catalog table that travels between processes as its name.
pub(crate) struct TableScanExec {
    recipe: Recipe,
    filters: Arc<Vec<Expr>>,
    properties: Arc<PlanProperties>,
    source: Source,
}

impl fmt::Debug for TableScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableScanExec")
            .field("table", &self.recipe.table)
            .finish_non_exhaustive()
    }
}

impl TableScanExec {
    fn planned(
        path: [String; 3],
        projection: Option<Vec<usize>>,
        filters: Vec<Expr>,
        limit: Option<usize>,
        plan: Arc<dyn ExecutionPlan>,
    ) -> Self {
        // Unordered and unknown partitioning, whatever the scan here says: a
        // worker's rebuilt scan can promise no more (its partitions are
        // redealt to this count), so no plan above may count on an ordering
        // or a hash partitioning the worker would not keep.
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(plan.schema()),
            Partitioning::UnknownPartitioning(plan.output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            recipe: Recipe {
                table: path.join("."),
                path,
                projection,
                limit,
                partitions: properties.output_partitioning().partition_count(),
            },
            filters: Arc::new(filters),
            properties,
            source: Source::Planned(plan),
        }
    }
}

impl DisplayAs for TableScanExec {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Planned(plan) => write!(
                f,
                "TableScanExec: table={}, sent to workers by name, here {}",
                self.recipe.table,
                plan.name()
            ),
            Source::Rebuilt { .. } => write!(
                f,
                "TableScanExec: table={}, rebuilt by name on this worker",
                self.recipe.table
            ),
        }
    }
}

impl ExecutionPlan for TableScanExec {
    fn name(&self) -> &str {
        "TableScanExec"
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

    /// The table's own statistics where it was planned: the optimizer picks
    /// join sides from them.
    fn statistics_from_inputs(
        &self,
        _inputs: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        match &self.source {
            Source::Planned(plan) => StatisticsContext::new().compute(plan.as_ref(), args),
            Source::Rebuilt { .. } => Ok(Arc::new(Statistics::new_unknown(
                self.properties.eq_properties.schema(),
            ))),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (tables, built) = match &self.source {
            Source::Planned(plan) => return plan.execute(partition, context),
            Source::Rebuilt { tables, built } => (Arc::clone(tables), Arc::clone(built)),
        };
        // Planning is async and `execute` is not: the stream plans first.
        let (recipe, filters) = (self.recipe.clone(), Arc::clone(&self.filters));
        let schema = Arc::clone(self.properties.eq_properties.schema());
        let stream = futures::stream::once(async move {
            let plan = built
                .get_or_try_init(|| recipe.build(&filters, &schema, &tables))
                .await?;
            // The engine's task context carries its `distributed.*` settings,
            // which a plugin's scan must not be given.
            plan.execute(partition, catalog_runtime::plain_task_context(context))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(self.properties.eq_properties.schema()),
            stream.boxed(),
        )))
    }
}

/// The codec of [`TableScanExec`]: the table's name, projection, filters,
/// limit, schema and partition count. `tables` is where a worker rebuilds
/// scans; a coordinator, which only encodes, has none.
#[derive(Clone)]
pub(crate) struct Rebuild {
    pub(crate) tables: Option<Arc<SessionContext>>,
}

impl fmt::Debug for Rebuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rebuild")
    }
}

/// What travels: the recipe, with its filters and schema as datafusion-proto bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Wire {
    recipe: Recipe,
    filters: Vec<u8>,
    schema: Vec<u8>,
}

impl PhysicalExtensionCodec for Rebuild {
    fn try_decode(
        &self,
        buf: &[u8],
        _inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let wire: Wire = serde_json::from_slice(buf)
            .map_err(|error| DataFusionError::Internal(format!("a scan by name: {error}")))?;
        let Some(tables) = &self.tables else {
            return Err(DataFusionError::Plan(format!(
                "table `{}` reached a process that has no tables to rebuild it from",
                wire.recipe.table
            )));
        };
        let table = wire.recipe.table.clone();
        let decode = |error: &dyn fmt::Display| {
            DataFusionError::Internal(format!("table `{table}`'s scan: {error}"))
        };
        let schema = datafusion_proto::protobuf::Schema::decode(wire.schema.as_slice())
            .map_err(|error| decode(&error))?;
        let schema: Schema = (&schema).try_into().map_err(|error| decode(&error))?;
        let filters =
            LogicalExprList::decode(wire.filters.as_slice()).map_err(|error| decode(&error))?;
        let filters = parse_exprs(&filters.expr, ctx, &DefaultLogicalExtensionCodec {})
            .map_err(|error| decode(&error))?;
        let mut recipe = wire.recipe;
        recipe.partitions = recipe.partitions.max(1);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::new(schema)),
            Partitioning::UnknownPartitioning(recipe.partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Arc::new(TableScanExec {
            recipe,
            filters: Arc::new(filters),
            properties: Arc::new(properties),
            source: Source::Rebuilt {
                tables: Arc::clone(tables),
                built: Arc::default(),
            },
        }))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(scan) = node.downcast_ref::<TableScanExec>() else {
            return Err(DataFusionError::NotImplemented(format!(
                "{} cannot be sent to a worker: it is neither DataFusion's own nor a catalog table's scan",
                node.name()
            )));
        };
        let encode = |error: &dyn fmt::Display| {
            DataFusionError::Internal(format!("table `{}`'s scan: {error}", scan.recipe.table))
        };
        let filters = serialize_exprs(scan.filters.iter(), &DefaultLogicalExtensionCodec {})
            .map_err(|error| encode(&error))?;
        let schema: datafusion_proto::protobuf::Schema = scan
            .properties
            .eq_properties
            .schema()
            .as_ref()
            .try_into()
            .map_err(|error| encode(&error))?;
        let wire = Wire {
            recipe: scan.recipe.clone(),
            filters: LogicalExprList { expr: filters }.encode_to_vec(),
            schema: schema.encode_to_vec(),
        };
        serde_json::to_writer(buf, &wire).map_err(|error| encode(&error))
    }
}
