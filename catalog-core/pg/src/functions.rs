//! The Postgres functions that clients and psql's catalog queries call
//! (`format_type`, `pg_table_is_visible`, `obj_description`,
//! `pg_get_viewdef`, …), over the comments and view definitions that
//! `pg_catalog.rs` collects from the declared catalog.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::pg_catalog::{Comments, ROLE, SERVER_VERSION, TYPES, VIEW_DEFINITION};

/// What a function computes from its arguments (each as long as the batch).
type Body = Arc<dyn Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync>;

/// A Postgres function, as DataFusion calls it.
struct PgFunction {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    body: Body,
}

impl std::fmt::Debug for PgFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgFunction")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for PgFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for PgFunction {}

impl Hash for PgFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for PgFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        Ok(ColumnarValue::Array((self.body)(&arrays, rows)?))
    }
}

/// A function of `arity` arguments of any type (`None`: any number).
fn function(
    name: &'static str,
    arity: Option<usize>,
    returns: DataType,
    body: impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> + Send + Sync + 'static,
) -> Arc<ScalarUDF> {
    let signature = match arity {
        Some(0) => Signature::nullary(Volatility::Stable),
        Some(count) => Signature::any(count, Volatility::Stable),
        None => Signature::variadic_any(Volatility::Stable),
    };
    Arc::new(ScalarUDF::new_from_impl(PgFunction {
        name,
        signature,
        returns,
        body: Arc::new(body),
    }))
}

/// An argument as integers (oids, type modifiers, column numbers).
fn integers(array: &ArrayRef) -> Result<Int64Array> {
    let cast = datafusion::arrow::compute::cast(array, &DataType::Int64)?;
    Ok(cast.as_primitive::<Int64Type>().clone())
}

/// The same text on every row.
fn constant(value: &'static str) -> impl Fn(&[ArrayRef], usize) -> Result<ArrayRef> {
    move |_, rows| Ok(Arc::new(StringArray::from(vec![value; rows])) as ArrayRef)
}

/// `true` on every row where the first argument is not null.
fn always_true(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    Ok(Arc::new(match args.first() {
        Some(first) => {
            BooleanArray::from_iter((0..rows).map(|row| first.is_valid(row).then_some(true)))
        }
        None => BooleanArray::from(vec![true; rows]),
    }))
}

/// The functions Postgres clients call, over `comments`.
pub(crate) fn udfs(database: &str, comments: Arc<Comments>) -> Vec<Arc<ScalarUDF>> {
    let database: &'static str = Box::leak(database.to_owned().into_boxed_str());
    let version: &'static str = Box::leak(
        format!(
            "PostgreSQL {SERVER_VERSION} (codelake {}, Apache DataFusion {})",
            env!("CARGO_PKG_VERSION"),
            datafusion::DATAFUSION_VERSION
        )
        .into_boxed_str(),
    );
    let table_comments = Arc::clone(&comments);
    let definitions = Arc::clone(&comments);
    vec![
        function("format_type", Some(2), DataType::Utf8, |args, _| {
            let (types, modifiers) = (integers(&args[0])?, integers(&args[1])?);
            Ok(Arc::new(StringArray::from_iter(
                types
                    .iter()
                    .zip(modifiers.iter())
                    .map(|(oid, modifier)| oid.map(|oid| format_type(oid, modifier.unwrap_or(-1)))),
            )))
        }),
        function(
            "pg_table_is_visible",
            Some(1),
            DataType::Boolean,
            always_true,
        ),
        function(
            "pg_type_is_visible",
            Some(1),
            DataType::Boolean,
            always_true,
        ),
        function("has_table_privilege", None, DataType::Boolean, always_true),
        function("has_schema_privilege", None, DataType::Boolean, always_true),
        function(
            "has_database_privilege",
            None,
            DataType::Boolean,
            always_true,
        ),
        function("pg_has_role", None, DataType::Boolean, always_true),
        function("pg_get_userbyid", Some(1), DataType::Utf8, constant(ROLE)),
        function("current_user", Some(0), DataType::Utf8, constant(ROLE)),
        function("session_user", Some(0), DataType::Utf8, constant(ROLE)),
        function(
            "current_schema",
            Some(0),
            DataType::Utf8,
            constant("public"),
        ),
        function(
            "current_database",
            Some(0),
            DataType::Utf8,
            constant(database),
        ),
        function("version", Some(0), DataType::Utf8, constant(version)),
        function(
            "pg_encoding_to_char",
            Some(1),
            DataType::Utf8,
            constant("UTF8"),
        ),
        function("pg_get_expr", None, DataType::Utf8, |_, rows| {
            Ok(Arc::new(StringArray::from(vec![None::<&str>; rows])))
        }),
        // Sizes are the sources' business, unknown here.
        function("pg_size_pretty", Some(1), DataType::Utf8, |_, rows| {
            Ok(Arc::new(StringArray::from(vec![None::<&str>; rows])))
        }),
        function("pg_table_size", Some(1), DataType::Int64, |_, rows| {
            Ok(Arc::new(Int64Array::from(vec![None; rows])))
        }),
        function("pg_relation_size", None, DataType::Int64, |_, rows| {
            Ok(Arc::new(Int64Array::from(vec![None; rows])))
        }),
        function(
            "pg_total_relation_size",
            Some(1),
            DataType::Int64,
            |_, rows| Ok(Arc::new(Int64Array::from(vec![None; rows]))),
        ),
        function("shobj_description", Some(2), DataType::Utf8, |_, rows| {
            Ok(Arc::new(StringArray::from(vec![None::<&str>; rows])))
        }),
        function("obj_description", None, DataType::Utf8, move |args, _| {
            let objects = integers(&args[0])?;
            Ok(Arc::new(StringArray::from_iter(objects.iter().map(
                |object| object.and_then(|object| table_comments.get(&(object, 0)).cloned()),
            ))))
        }),
        // psql's `\\d+` of a view shows its SQL.
        function("pg_get_viewdef", None, DataType::Utf8, move |args, _| {
            let objects = integers(&args[0])?;
            Ok(Arc::new(StringArray::from_iter(objects.iter().map(
                |object| {
                    object.and_then(|object| definitions.get(&(object, VIEW_DEFINITION)).cloned())
                },
            ))))
        }),
        function(
            "col_description",
            Some(2),
            DataType::Utf8,
            move |args, _| {
                let (objects, columns) = (integers(&args[0])?, integers(&args[1])?);
                Ok(Arc::new(StringArray::from_iter(
                    objects
                        .iter()
                        .zip(columns.iter())
                        .map(|(object, column)| comments.get(&(object?, column?)).cloned()),
                )))
            },
        ),
    ]
}

/// Postgres's `format_type`: a type's name as SQL writes it.
fn format_type(oid: i64, modifier: i64) -> String {
    let name = TYPES
        .iter()
        .find(|(type_oid, _, _)| i64::from(*type_oid) == oid)
        .map_or("unknown", |(_, name, _)| name);
    match name {
        "numeric" if modifier >= 4 => {
            let packed = modifier - 4;
            format!("numeric({},{})", (packed >> 16) & 0xffff, packed & 0xffff)
        }
        "bool" => "boolean".to_owned(),
        "int2" => "smallint".to_owned(),
        "int4" => "integer".to_owned(),
        "int8" => "bigint".to_owned(),
        "float4" => "real".to_owned(),
        "float8" => "double precision".to_owned(),
        "timestamp" => "timestamp without time zone".to_owned(),
        "timestamptz" => "timestamp with time zone".to_owned(),
        "time" => "time without time zone".to_owned(),
        "varchar" => "character varying".to_owned(),
        "char" => "\"char\"".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_named_as_postgres_names_them() {
        assert_eq!(format_type(1700, (15 << 16 | 2) + 4), "numeric(15,2)");
        assert_eq!(format_type(1700, -1), "numeric");
        assert_eq!(format_type(20, -1), "bigint");
        assert_eq!(format_type(1184, -1), "timestamp with time zone");
        assert_eq!(format_type(99999, -1), "unknown");
    }
}
