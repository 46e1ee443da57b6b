//! Typed results: a catalog table's or view's rows as its struct, so Rust
//! code that reads the catalog never names a column as a string.
//!
//! ```no_run
//! # async fn demo(ctx: &datafusion::prelude::SessionContext) -> catalog_runtime::Result<()> {
//! # use catalog_core::{Table, TableRef};
//! # fn handle<T: Table>() -> TableRef<T> { TableRef::new() }
//! # #[derive(Debug)] struct RevenueByYear;
//! # impl Table for RevenueByYear {
//! #     const SPEC: &'static catalog_core::TableSpec = &catalog_core::rows::__private::STUB_SPEC;
//! #     fn schema() -> catalog_core::arrow_schema::SchemaRef { unimplemented!() }
//! #     fn to_record_batch(_: &[Self]) -> catalog_core::Result<catalog_core::arrow_array::RecordBatch> { unimplemented!() }
//! #     fn from_record_batch(_: &catalog_core::arrow_array::RecordBatch) -> catalog_core::Result<Vec<Self>> { unimplemented!() }
//! # }
//! use catalog_runtime::Rows as _;
//! // With the catalog crate: `tables::catalog().tpch().revenue_by_year()`.
//! let years: Vec<RevenueByYear> = handle::<RevenueByYear>().rows(ctx).await?;
//! # Ok(()) }
//! ```

use catalog_core::{Table, TableRef};
use datafusion::prelude::SessionContext;

use crate::{Error, Result};

/// Reading a table's rows as its struct. Implemented for the typed handles
/// the registry hands out (`tables::catalog().tpch().part()`).
pub trait Rows<T: Table> {
    /// Every row of the table (or view), in the order the engine gives them.
    fn rows(self, ctx: &SessionContext) -> impl Future<Output = Result<Vec<T>>> + Send;

    /// The rows of `sql`, a query whose columns are the table's, matched by
    /// name: e.g. `SELECT * FROM tpch.part WHERE p_size > 40`.
    fn query(self, ctx: &SessionContext, sql: &str) -> impl Future<Output = Result<Vec<T>>> + Send;
}

impl<T: Table + Send> Rows<T> for TableRef<T> {
    async fn rows(self, ctx: &SessionContext) -> Result<Vec<T>> {
        let spec = T::SPEC;
        let columns: Vec<String> = spec
            .columns
            .iter()
            .map(|column| quoted(&column.name))
            .collect();
        let sql = format!(
            "SELECT {} FROM {}.{}",
            columns.join(", "),
            quoted(&spec.database),
            quoted(&spec.name)
        );
        self.query(ctx, &sql).await
    }

    async fn query(self, ctx: &SessionContext, sql: &str) -> Result<Vec<T>> {
        let table = T::SPEC.qualified_name();
        let failed = |error: datafusion::error::DataFusionError| Error::Query {
            table: table.clone(),
            message: crate::user_message(&error),
        };
        let batches = ctx
            .sql(sql)
            .await
            .map_err(failed)?
            .collect()
            .await
            .map_err(failed)?;
        let mut rows = Vec::new();
        for batch in &batches {
            rows.extend(T::from_record_batch(batch).map_err(|error| Error::Query {
                table: table.clone(),
                message: error.to_string(),
            })?);
        }
        Ok(rows)
    }
}

fn quoted(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}
