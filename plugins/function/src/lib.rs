//! The `function` source plugin: tables computed by Rust functions.
//!
//! A function table is an ordinary Rust function that returns the rows of its
//! table's struct, listed once in [`table_functions!`] in `functions.rs`:
//!
//! ```ignore
//! pub fn price_tiers() -> Vec<PriceTier> { vec![/* … */] }
//!
//! table_functions![price_tiers];
//! ```
//!
//! The function runs at every scan, so its rows are always current; the
//! plugin turns them into a record batch with the struct's derived conversion.
//!
//! What it must not know: the host (it meets it only through the SDK's C ABI)
//! and other source kinds. It is the one plugin that links the catalog
//! (`tables`), for the row structs its functions return.

mod functions;

use std::sync::Arc;

use async_trait::async_trait;
use codelake_plugin_sdk::catalog_core::Environment;
use codelake_plugin_sdk::catalog_core::inspect::{InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::source::FunctionOptions;
use codelake_plugin_sdk::datafusion::arrow::array::Array;
use codelake_plugin_sdk::datafusion::arrow::array::RecordBatch;
use codelake_plugin_sdk::datafusion::arrow::datatypes::DataType;
use codelake_plugin_sdk::datafusion::arrow::datatypes::SchemaRef;
use codelake_plugin_sdk::{Built, ComputedTable, Rows, Source, TableSource, export_source};

/// One table function: its name and how to call it.
pub struct TableFunction {
    /// The name a table gives in `function = "…"`.
    pub name: &'static str,
    /// The rows of its table's struct, as one record batch.
    pub call: fn() -> Result<RecordBatch, codelake_plugin_sdk::catalog_core::Error>,
    /// The schema the batch has.
    pub schema: fn() -> SchemaRef,
}

/// Lists the functions this plugin serves; each is a `fn() -> Vec<T>` where `T: Table`.
#[macro_export]
macro_rules! table_functions {
    ($($function:ident),* $(,)?) => {
        /// Every table function of this plugin.
        pub const FUNCTIONS: &[$crate::TableFunction] = &[$(
            $crate::TableFunction {
                name: ::std::stringify!($function),
                call: || $crate::rows_to_batch(&$function()),
                schema: || $crate::schema_of($function as fn() -> _),
            },
        )*];
    };
}

#[doc(hidden)]
pub fn rows_to_batch<T: codelake_plugin_sdk::catalog_core::Table>(
    rows: &[T],
) -> Result<RecordBatch, codelake_plugin_sdk::catalog_core::Error> {
    T::to_record_batch(rows)
}

/// Why a function table cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// No function of that name.
    #[error("the function plugin has no function `{name}` (it has: {known})")]
    Unknown {
        /// The table's `function`.
        name: String,
        /// The functions there are, comma-separated.
        known: String,
    },
    /// The function returns a declared column with another type.
    #[error(
        "function `{name}` returns column `{column}` as {found}, but the table declares {declared}"
    )]
    ColumnType {
        /// The function.
        name: String,
        /// The column.
        column: String,
        /// The type it returns.
        found: DataType,
        /// The declared type.
        declared: DataType,
    },
    /// The function does not return a declared column.
    #[error("function `{name}` returns no column `{column}`")]
    MissingColumn {
        /// The function.
        name: String,
        /// The column.
        column: String,
    },
    /// The function's rows cannot be turned into a batch.
    #[error(transparent)]
    Rows(#[from] codelake_plugin_sdk::catalog_core::Error),
}

#[doc(hidden)]
pub fn schema_of<T: codelake_plugin_sdk::catalog_core::Table>(
    _function: fn() -> Vec<T>,
) -> SchemaRef {
    T::schema()
}

/// Serves `function` tables.
pub struct Functions;

impl Source for Functions {
    const NAME: &'static str = "function";
    const KINDS: &'static [&'static str] = &["function"];

    type Options = FunctionOptions;
    type Error = FunctionError;

    fn build(
        table: &TableSource<'_, FunctionOptions>,
        _env: &Environment,
    ) -> Result<Built, FunctionError> {
        let name = &table.options.function;
        let function = function(name)?;
        // The function's rows must be the table's rows: same columns, by name and type.
        let returned = (function.schema)();
        let declared = table.spec.arrow_schema();
        for field in declared.fields() {
            match returned.field_with_name(field.name()) {
                Ok(found) if found.data_type() == field.data_type() => {}
                Ok(found) => {
                    return Err(FunctionError::ColumnType {
                        name: name.clone(),
                        column: field.name().clone(),
                        found: found.data_type().clone(),
                        declared: field.data_type().clone(),
                    });
                }
                Err(_) => {
                    return Err(FunctionError::MissingColumn {
                        name: name.clone(),
                        column: field.name().clone(),
                    });
                }
            }
        }
        Ok(Built::provider(Arc::new(ComputedTable::new(
            returned,
            Call(function.call),
        ))))
    }

    /// Calls the function: its output's columns, types and nulls.
    async fn inspect(
        table: &TableSource<'_, FunctionOptions>,
        _env: &Environment,
        _request: &InspectRequest,
    ) -> Result<Inspection, FunctionError> {
        let function = function(&table.options.function)?;
        let batch = (function.call)()?;
        let columns = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, values)| LiveColumn {
                nulls: Some(values.null_count() as u64),
                ..LiveColumn::new(field.name(), field.data_type(), field.is_nullable())
            })
            .collect();
        Ok(Inspection {
            columns,
            objects: 1,
            ..Inspection::default()
        })
    }
}

/// The function a table names.
fn function(name: &str) -> Result<&'static TableFunction, FunctionError> {
    functions::FUNCTIONS
        .iter()
        .find(|function| function.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = functions::FUNCTIONS
                .iter()
                .map(|function| function.name)
                .collect();
            FunctionError::Unknown {
                name: name.to_owned(),
                known: known.join(", "),
            }
        })
}

export_source!(Functions);

/// A table function, called at each scan.
#[derive(Debug)]
struct Call(fn() -> Result<RecordBatch, codelake_plugin_sdk::catalog_core::Error>);

#[async_trait]
impl Rows for Call {
    async fn rows(&self) -> Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>> {
        Ok((self.0)()?)
    }
}
