//! Tables whose rows are computed at each scan.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{MemTable, Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;

/// Where a [`ComputedTable`] gets its rows: a function call, an API request.
#[async_trait]
pub trait Rows: Debug + Send + Sync + 'static {
    /// The table's rows now, with the table's schema; an error says what went wrong.
    async fn rows(&self) -> Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>>;
}

/// A table whose rows are computed at every scan and then scanned in memory,
/// so DataFusion applies the projection, filters and limit.
#[derive(Debug)]
pub struct ComputedTable<R> {
    schema: SchemaRef,
    rows: R,
}

impl<R: Rows> ComputedTable<R> {
    /// A table of `schema` whose rows come from `rows`. The schema's own
    /// metadata (a table doc) is dropped, as `TableSpec::query_schema` drops
    /// it: DataFusion cannot join two tables whose schema metadata differs.
    pub fn new(schema: SchemaRef, rows: R) -> Self {
        let schema = Arc::new(Schema::new(schema.fields().clone()));
        Self { schema, rows }
    }
}

#[async_trait]
impl<R: Rows> TableProvider for ComputedTable<R> {
    fn schema(&self) -> SchemaRef {
        SchemaRef::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self
            .rows
            .rows()
            .await
            .map_err(|error| DataFusionError::Execution(crate::error::chain(&*error)))?;
        // The rows' own schema may carry the table doc the table's does not.
        let batch = RecordBatch::try_new(self.schema(), batch.columns().to_vec())?;
        let table = MemTable::try_new(self.schema(), vec![vec![batch]])?;
        table.scan(state, projection, filters, limit).await
    }
}
