//! A view's contract: the columns its SQL computes against the columns its
//! struct declares, by name, type and nullability, in order.
//!
//! Types compare as `verify` compares them: text is one type whatever its
//! layout (`Utf8`, `LargeUtf8`, `Utf8View`), and every other type must equal
//! the computed one, so a wider declared number needs a `CAST` in the SQL,
//! where readers of the SQL see it. A column declared non-null must be
//! provably non-null; one declared `Option` must be able to be null.

use catalog_core::{ColumnSpec, ColumnType, TableSpec};
use datafusion::arrow::datatypes::{Field, Schema};

use super::ViewProblem;

/// Every difference between a view's computed `schema` and `spec`'s columns:
/// by name, order, type (text as one type) and nullability.
pub fn compare(spec: &TableSpec, schema: &Schema) -> Vec<ViewProblem> {
    let mut problems = Vec::new();
    let computed: Vec<&str> = schema
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .collect();
    let declared: Vec<&str> = spec.columns.iter().map(|column| &*column.name).collect();
    for column in spec.columns.iter() {
        match schema.field_with_name(&column.name) {
            Ok(field) => problems.extend(column_problem(spec, column, field)),
            Err(_) => problems.push(ViewProblem::new(
                spec,
                Some(&column.name),
                format!(
                    "declared by field `{}`, but the SQL does not compute it (it computes: {}); add it to the SELECT, or alias the expression that computes it `AS {}`",
                    column.name,
                    computed.join(", "),
                    column.name
                ),
            )),
        }
    }
    // DataFusion lets `SELECT a.x, b.x` through; a view's columns are named once.
    let mut seen = std::collections::BTreeSet::new();
    for name in &computed {
        if !seen.insert(*name) {
            problems.push(ViewProblem::new(
                spec,
                Some(name),
                "the SQL computes it more than once (as from both sides of a join); give each an alias of its own",
            ));
        }
    }
    for name in &computed {
        if spec.column(name).is_none() {
            problems.push(ViewProblem::new(
                spec,
                Some(name),
                format!("the SQL computes it, but the struct declares no such field (it declares: {}); add a field for it, or drop it from the SELECT", declared.join(", ")),
            ));
        }
    }
    let same_set =
        computed.len() == declared.len() && computed.iter().all(|name| declared.contains(name));
    if problems.is_empty() && same_set && computed != declared {
        problems.push(ViewProblem::new(
            spec,
            None,
            format!(
                "the SQL computes the columns in another order ({}) than the struct declares them ({}); reorder the SELECT or the fields",
                computed.join(", "),
                declared.join(", ")
            ),
        ));
    }
    problems
}

fn column_problem(spec: &TableSpec, column: &ColumnSpec, field: &Field) -> Option<ViewProblem> {
    let found = ColumnType::from_arrow(field.data_type());
    if found != Some(column.ty) {
        let declare = match found {
            Some(found) => format!(
                ", or declare the field as `{}`",
                rust_type(found, column.nullable)
            ),
            None => String::new(),
        };
        return Some(ViewProblem::new(
            spec,
            Some(&column.name),
            format!(
                "the struct declares {} (`{}`), but the SQL computes {}; write `{}` in the SQL{declare}",
                column.ty,
                column.field_type(),
                field.data_type(),
                cast_to(column.ty)
            ),
        ));
    }
    match (column.nullable, field.is_nullable()) {
        (false, true) => Some(ViewProblem::new(
            spec,
            Some(&column.name),
            format!(
                "the struct declares it non-null (`{}`), but the SQL can compute NULL for it; wrap it in `COALESCE(…, default)`, or declare the field `{}`",
                column.field_type(),
                rust_type(column.ty, true)
            ),
        )),
        (true, false) => Some(ViewProblem::new(
            spec,
            Some(&column.name),
            format!(
                "the struct declares it nullable (`{}`), but the SQL never computes NULL for it; declare the field `{}`",
                column.field_type(),
                rust_type(column.ty, false)
            ),
        )),
        _ => None,
    }
}

fn rust_type(ty: ColumnType, nullable: bool) -> String {
    let inner = ty.field_type();
    if nullable {
        format!("Option<{inner}>")
    } else {
        inner
    }
}

/// The SQL that converts a value to `ty`: a `CAST`, or for timestamps (which
/// SQL's `TIMESTAMP` makes nanoseconds) DataFusion's `arrow_cast` to the exact type.
fn cast_to(ty: ColumnType) -> String {
    let sql = match ty {
        ColumnType::Boolean => "BOOLEAN".into(),
        ColumnType::Int8 => "TINYINT".into(),
        ColumnType::Int16 => "SMALLINT".into(),
        ColumnType::Int32 => "INT".into(),
        ColumnType::Int64 => "BIGINT".into(),
        ColumnType::UInt8 => "TINYINT UNSIGNED".into(),
        ColumnType::UInt16 => "SMALLINT UNSIGNED".into(),
        ColumnType::UInt32 => "INT UNSIGNED".into(),
        ColumnType::UInt64 => "BIGINT UNSIGNED".into(),
        ColumnType::Float32 => "REAL".into(),
        ColumnType::Float64 => "DOUBLE".into(),
        ColumnType::Utf8 => "VARCHAR".into(),
        ColumnType::Binary => "BYTEA".into(),
        ColumnType::Date32 => "DATE".into(),
        ColumnType::Decimal128 { precision, scale } => format!("DECIMAL({precision}, {scale})"),
        other => return format!("arrow_cast(…, '{}')", other.to_arrow()),
    };
    format!("CAST(… AS {sql})")
}
