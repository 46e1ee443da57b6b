//! A CSV table whose file (or object) must still be there at each scan.
//!
//! DataFusion's listing table lists its path at every scan, and a path that
//! lists nothing reads as an empty table. For a declared file, that would
//! turn a deleted file into a silent empty answer, and an accelerated copy
//! refreshed from it into an empty copy. So each scan looks for the file
//! first, and a missing one is an error naming it.

use std::sync::Arc;

use codelake_plugin_sdk::datafusion::arrow::datatypes::SchemaRef;
use codelake_plugin_sdk::datafusion::catalog::{Session, TableProvider};
use codelake_plugin_sdk::datafusion::common::{Result, Statistics};
use codelake_plugin_sdk::datafusion::datasource::TableType;
use codelake_plugin_sdk::datafusion::datasource::listing::ListingTable;
use codelake_plugin_sdk::datafusion::error::DataFusionError;
use codelake_plugin_sdk::datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use codelake_plugin_sdk::datafusion::physical_plan::ExecutionPlan;

use crate::file::CsvFile;

/// `inner`, the listing table of the file at `path`, checked for the file.
#[derive(Debug)]
pub(crate) struct Present {
    inner: ListingTable,
    file: Arc<CsvFile>,
    /// The error when the file is gone: the plugin's own words.
    missing: String,
}

impl Present {
    pub(crate) fn new(inner: ListingTable, file: Arc<CsvFile>, missing: String) -> Self {
        Self {
            inner,
            file,
            missing,
        }
    }
}

#[async_trait::async_trait]
impl TableProvider for Present {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
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
        match self.file.meta().await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(DataFusionError::Execution(self.missing.clone())),
            Err(error) => return Err(DataFusionError::Execution(error.to_string())),
        }
        self.inner.scan(state, projection, filters, limit).await
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
