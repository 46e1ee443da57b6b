//! The sample: one aggregate query over a `LIMIT`ed sample of a table, and
//! the `non_null`, `unique` and `range` checks read from it.

use catalog_core::{ColumnType, TableSpec};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::common::ScalarValue;

use super::checks::{plural, skipped, worst};
use super::report::{Check, CheckKind, Problem};

/// What the sample query measured: rows, and per column its non-null count,
/// distinct count (unique columns) and bounds (bounded columns).
pub(super) struct Sample {
    pub(super) rows: u64,
    columns: Vec<SampleColumn>,
}

struct SampleColumn {
    name: String,
    non_null: u64,
    distinct: Option<u64>,
    min: Option<f64>,
    max: Option<f64>,
}

/// One aggregate over a `LIMIT`ed sample: every column is read (so every
/// value is decoded), and the checks need nothing else.
pub(super) fn sample_query(spec: &TableSpec, table: &str, rows: u64) -> String {
    let mut select = vec!["count(*)".to_owned()];
    for column in spec.columns.iter() {
        let name = quoted(&column.name);
        select.push(format!("count({name})"));
        if column.unique {
            select.push(format!("count(DISTINCT {name})"));
        }
        if column.min.is_some() || column.max.is_some() {
            select.push(format!("min({name})"));
            select.push(format!("max({name})"));
        }
    }
    format!(
        "SELECT {} FROM (SELECT * FROM {table} LIMIT {rows})",
        select.join(", ")
    )
}

impl Sample {
    pub(super) fn new(spec: &TableSpec, batches: &[RecordBatch]) -> Self {
        let mut index = 0;
        let mut next = || {
            index += 1;
            first_value(batches, index)
        };
        let rows = first_value(batches, 0)
            .and_then(|value| value.as_i64())
            .unwrap_or_default() as u64;
        let columns = spec
            .columns
            .iter()
            .map(|column| {
                let non_null = next().and_then(|v| v.as_i64()).unwrap_or_default() as u64;
                let distinct = column
                    .unique
                    .then(|| next().and_then(|v| v.as_i64()).unwrap_or_default() as u64);
                let (min, max) = if column.min.is_some() || column.max.is_some() {
                    let min = next().and_then(|v| v.as_f64(column.ty));
                    let max = next().and_then(|v| v.as_f64(column.ty));
                    (min, max)
                } else {
                    (None, None)
                };
                SampleColumn {
                    name: column.name.to_string(),
                    non_null,
                    distinct,
                    min,
                    max,
                }
            })
            .collect();
        Self { rows, columns }
    }
}

pub(super) fn sample_checks(spec: &TableSpec, sample: Option<&Sample>) -> Vec<Check> {
    let Some(sample) = sample else {
        return [CheckKind::NonNull, CheckKind::Unique, CheckKind::Range]
            .into_iter()
            .map(|check| skipped(check, "the sample query failed"))
            .collect();
    };
    let rows = sample.rows;
    let mut non_null = Vec::new();
    let mut unique = Vec::new();
    let mut range = Vec::new();
    for (declared, found) in spec.columns.iter().zip(&sample.columns) {
        let name = &found.name;
        let nulls = rows - found.non_null.min(rows);
        if !declared.nullable && nulls > 0 {
            non_null.push(
                Problem::failure(
                    format!("`{name}` has {nulls} null{} in {rows} sampled rows", plural(nulls as usize)),
                    format!(
                        "make the field of `{name}` an `Option<..>` in {}, or fill the nulls in the source",
                        spec.rust_type
                    ),
                )
                .on(name),
            );
        }
        if let Some(distinct) = found.distinct {
            let repeated = found.non_null - distinct.min(found.non_null);
            if repeated > 0 {
                unique.push(
                    Problem::failure(
                        format!(
                            "`{name}` is declared unique, but {repeated} of {} sampled values repeat",
                            found.non_null
                        ),
                        format!(
                            "remove the duplicates in the source, or drop `unique` from the field of `{name}` in {}",
                            spec.rust_type
                        ),
                    )
                    .on(name),
                );
            }
        }
        let below = declared
            .min
            .zip(found.min)
            .filter(|(bound, seen)| seen < bound);
        let above = declared
            .max
            .zip(found.max)
            .filter(|(bound, seen)| seen > bound);
        for (side, (bound, seen)) in [("min", below), ("max", above)]
            .into_iter()
            .filter_map(|(side, pair)| Some((side, pair?)))
        {
            range.push(
                Problem::failure(
                    format!("`{name}` has {seen} in the sample, beyond `{side} = {bound}`"),
                    format!(
                        "fix the data, or widen `#[column({side} = …)]` on `{name}` in {}",
                        spec.rust_type
                    ),
                )
                .on(name),
            );
        }
    }
    let non_nullable = spec.columns.iter().filter(|c| !c.nullable).count();
    let uniques = spec.columns.iter().filter(|c| c.unique).count();
    let bounded = spec
        .columns
        .iter()
        .filter(|c| c.min.is_some() || c.max.is_some())
        .count();
    vec![
        sample_check(
            CheckKind::NonNull,
            non_nullable,
            "non-null column",
            rows,
            non_null,
        ),
        sample_check(CheckKind::Unique, uniques, "unique column", rows, unique),
        sample_check(CheckKind::Range, bounded, "bounded column", rows, range),
    ]
}

fn sample_check(
    check: CheckKind,
    declared: usize,
    what: &str,
    rows: u64,
    problems: Vec<Problem>,
) -> Check {
    if declared == 0 {
        return skipped(check, &format!("no {what}s declared"));
    }
    let status = worst(&problems);
    let message = if problems.is_empty() {
        let (noun, verb) = if declared == 1 { ("", "s") } else { ("s", "") };
        format!("{declared} {what}{noun} hold{verb} in {rows} sampled rows")
    } else {
        format!("{} of {declared} {what}s do not hold", problems.len())
    };
    Check {
        check,
        status,
        message,
        problems,
    }
}

/// A value of a one-row result.
pub(super) fn first_value(batches: &[RecordBatch], column: usize) -> Option<Value> {
    let batch = batches.iter().find(|batch| batch.num_rows() > 0)?;
    let array = batch.columns().get(column)?;
    if array.is_null(0) {
        return None;
    }
    if let Some(ints) = array.as_primitive_opt::<Int64Type>() {
        return Some(Value::Int(ints.value(0)));
    }
    ScalarValue::try_from_array(array, 0)
        .ok()
        .map(Value::Scalar)
}

pub(super) enum Value {
    Int(i64),
    Scalar(ScalarValue),
}

impl Value {
    pub(super) fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(value) => Some(*value),
            Self::Scalar(scalar) => match scalar {
                ScalarValue::Int64(value) => *value,
                ScalarValue::UInt64(value) => value.and_then(|v| i64::try_from(v).ok()),
                _ => None,
            },
        }
    }

    fn as_f64(&self, ty: ColumnType) -> Option<f64> {
        let scalar = match self {
            Self::Int(value) => return Some(*value as f64),
            Self::Scalar(scalar) => scalar,
        };
        Some(match (scalar, ty) {
            (ScalarValue::Decimal128(Some(value), _, scale), _) => {
                *value as f64 / 10f64.powi(i32::from(*scale))
            }
            (ScalarValue::Float64(Some(v)), _) => *v,
            (ScalarValue::Float32(Some(v)), _) => f64::from(*v),
            (ScalarValue::Int8(Some(v)), _) => f64::from(*v),
            (ScalarValue::Int16(Some(v)), _) => f64::from(*v),
            (ScalarValue::Int32(Some(v)), _) => f64::from(*v),
            (ScalarValue::Int64(Some(v)), _) => *v as f64,
            (ScalarValue::UInt8(Some(v)), _) => f64::from(*v),
            (ScalarValue::UInt16(Some(v)), _) => f64::from(*v),
            (ScalarValue::UInt32(Some(v)), _) => f64::from(*v),
            (ScalarValue::UInt64(Some(v)), _) => *v as f64,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(value) => write!(f, "{value}"),
            Self::Scalar(scalar) => write!(f, "{scalar}"),
        }
    }
}

/// A timestamp or date as seconds since the Unix epoch.
pub(super) fn epoch_seconds(value: &Value) -> Option<i64> {
    let Value::Scalar(scalar) = value else {
        return None;
    };
    match scalar {
        ScalarValue::TimestampSecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMillisecond(Some(v), _) => Some(v / 1_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(v / 1_000_000),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v / 1_000_000_000),
        // A date stands for its whole day: it is fresh until the day ends.
        ScalarValue::Date32(Some(days)) => Some((i64::from(*days) + 1) * 86_400),
        _ => None,
    }
}

/// An identifier for SQL: always quoted, so any column name works.
pub(super) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(super) fn quoted_table(spec: &TableSpec) -> String {
    format!("{}.{}", quoted(&spec.database), quoted(&spec.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_quotes_doubled() {
        assert_eq!(quoted("Order \"Date\""), "\"Order \"\"Date\"\"\"");
    }

    #[test]
    fn a_date_is_fresh_until_its_day_ends() {
        let day = Value::Scalar(ScalarValue::Date32(Some(1)));
        assert_eq!(epoch_seconds(&day), Some(2 * 86_400));
    }
}
