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

mod functions;

use std::sync::Arc;

use async_trait::async_trait;
use codelake_plugin_sdk::catalog_core::inspect::{InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::{Environment, TableSpec};
use codelake_plugin_sdk::datafusion::arrow::array::Array;
use codelake_plugin_sdk::datafusion::arrow::array::RecordBatch;
use codelake_plugin_sdk::datafusion::arrow::datatypes::SchemaRef;
use codelake_plugin_sdk::datafusion::catalog::TableProvider;
use codelake_plugin_sdk::{ComputedTable, Rows, Source, export_source};

/// One table function: its name and how to call it.
pub struct TableFunction {
    /// The name a table gives in `function = "…"`.
    pub name: &'static str,
    /// The rows of its table's struct, as one record batch.
    pub call: fn() -> Result<RecordBatch, String>,
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
) -> Result<RecordBatch, String> {
    T::to_record_batch(rows).map_err(|error| error.to_string())
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

    fn provider(spec: &TableSpec, _env: &Environment) -> Result<Arc<dyn TableProvider>, String> {
        let (name, function) = function(spec)?;
        // The function's rows must be the table's rows: same columns, by name and type.
        let returned = (function.schema)();
        let declared = spec.arrow_schema();
        for field in declared.fields() {
            match returned.field_with_name(field.name()) {
                Ok(found) if found.data_type() == field.data_type() => {}
                Ok(found) => {
                    return Err(format!(
                        "function `{name}` returns column `{}` as {}, but the table declares {}",
                        field.name(),
                        found.data_type(),
                        field.data_type()
                    ));
                }
                Err(_) => {
                    return Err(format!(
                        "function `{name}` returns no column `{}`",
                        field.name()
                    ));
                }
            }
        }
        Ok(Arc::new(ComputedTable::new(returned, Call(function.call))))
    }

    /// Calls the function: its output's columns, types and nulls.
    async fn inspect(
        spec: &TableSpec,
        _env: &Environment,
        _request: &InspectRequest,
    ) -> Result<Inspection, String> {
        let (_, function) = function(spec)?;
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

/// The function a table names, with its name.
fn function(spec: &TableSpec) -> Result<(&str, &'static TableFunction), String> {
    let name = spec.option("function").ok_or("no `function` option")?;
    let function = functions::FUNCTIONS
        .iter()
        .find(|function| function.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = functions::FUNCTIONS
                .iter()
                .map(|function| function.name)
                .collect();
            format!(
                "the function plugin has no function `{name}` (it has: {})",
                known.join(", ")
            )
        })?;
    Ok((name, function))
}

export_source!(Functions);

/// A table function, called at each scan.
#[derive(Debug)]
struct Call(fn() -> Result<RecordBatch, String>);

#[async_trait]
impl Rows for Call {
    async fn rows(&self) -> Result<RecordBatch, String> {
        (self.0)()
    }
}
