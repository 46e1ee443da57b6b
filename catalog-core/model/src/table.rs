//! The `Table` trait that `#[derive(Table)]` implements, and typed handles.

use std::fmt;
use std::marker::PhantomData;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use crate::Result;
use crate::spec::TableSpec;

/// A catalog table declared as a Rust struct: one value of the struct is one row.
///
/// Implement it with `#[derive(Table)]` (from `catalog-derive`), never by hand:
/// `cargo xtask gen-catalog` reads the derive's attributes, not this impl.
pub trait Table: Sized + 'static {
    /// The table's spec, a `static` built at compile time.
    const SPEC: &'static TableSpec;

    /// The Arrow schema, with docs as metadata; built once and shared.
    fn schema() -> SchemaRef;

    /// One record batch holding `rows`, columns in declaration order.
    fn to_record_batch(rows: &[Self]) -> Result<RecordBatch>;

    /// The rows of `batch`. Columns are found by name, so their order does not
    /// matter and extra columns are ignored; a missing column, another Arrow
    /// type, or a null in a non-`Option` field is an error naming the column.
    fn from_record_batch(batch: &RecordBatch) -> Result<Vec<Self>>;
}

/// A typed handle to table `T`, as the generated catalog hands it out
/// (`catalog().tpch().part()`): the compiler knows which struct its rows are.
pub struct TableRef<T: Table>(PhantomData<fn() -> T>);

impl<T: Table> TableRef<T> {
    /// The handle to `T`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }

    /// The table's spec.
    pub const fn spec(&self) -> &'static TableSpec {
        T::SPEC
    }

    /// `database.name`, as SQL names the table.
    pub fn qualified_name(&self) -> String {
        T::SPEC.qualified_name()
    }

    /// The Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        T::schema()
    }
}

impl<T: Table> Default for TableRef<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Table> Clone for TableRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Table> Copy for TableRef<T> {}

impl<T: Table> fmt::Debug for TableRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TableRef({}.{})", T::SPEC.database, T::SPEC.name)
    }
}
