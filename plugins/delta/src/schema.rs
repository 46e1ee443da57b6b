//! Delta's types as Arrow's, and a file's statistics as DataFusion's.

use std::sync::Arc;

use codelake_plugin_sdk::datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use codelake_plugin_sdk::datafusion::common::stats::Precision;
use codelake_plugin_sdk::datafusion::common::{ColumnStatistics, ScalarValue, Statistics};

use crate::log::{DeltaField, Stats};

/// The Arrow type of a Delta type (`"long"`, `"decimal(15,2)"`, a struct…);
/// `Err` names a type this reader does not know.
pub(crate) fn arrow_type(delta: &serde_json::Value) -> Result<DataType, String> {
    if let Some(name) = delta.as_str() {
        return Ok(match name {
            "string" => DataType::Utf8,
            "long" => DataType::Int64,
            "integer" => DataType::Int32,
            "short" => DataType::Int16,
            "byte" => DataType::Int8,
            "float" => DataType::Float32,
            "double" => DataType::Float64,
            "boolean" => DataType::Boolean,
            "binary" => DataType::Binary,
            "date" => DataType::Date32,
            "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
            other => {
                let decimal = other
                    .strip_prefix("decimal(")
                    .and_then(|rest| rest.strip_suffix(')'))
                    .and_then(|rest| rest.split_once(','))
                    .and_then(|(precision, scale)| {
                        Some((precision.trim().parse().ok()?, scale.trim().parse().ok()?))
                    });
                match decimal {
                    Some((precision, scale)) => DataType::Decimal128(precision, scale),
                    None => return Err(format!("Delta type `{other}` is not known to codelake")),
                }
            }
        });
    }
    match delta.get("type").and_then(serde_json::Value::as_str) {
        Some("struct") => {
            let fields: Vec<DeltaField> = delta
                .get("fields")
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(|error| format!("a struct type does not parse: {error}"))?
                .unwrap_or_default();
            Ok(DataType::Struct(Fields::from(
                fields.iter().map(field).collect::<Result<Vec<_>, _>>()?,
            )))
        }
        Some("array") => {
            let element = arrow_type(&delta["elementType"])?;
            let nullable = delta["containsNull"].as_bool().unwrap_or(true);
            Ok(DataType::List(Arc::new(Field::new(
                "element", element, nullable,
            ))))
        }
        Some("map") => {
            let key = arrow_type(&delta["keyType"])?;
            let value = arrow_type(&delta["valueType"])?;
            let nullable = delta["valueContainsNull"].as_bool().unwrap_or(true);
            let entries = Field::new(
                "key_value",
                DataType::Struct(Fields::from(vec![
                    Field::new("key", key, false),
                    Field::new("value", value, nullable),
                ])),
                false,
            );
            Ok(DataType::Map(Arc::new(entries), false))
        }
        _ => Err(format!("Delta type {delta} is not known to codelake")),
    }
}

/// The Arrow field of a Delta column.
pub(crate) fn field(delta: &DeltaField) -> Result<Field, String> {
    let data_type = arrow_type(&delta.data_type)
        .map_err(|error| format!("column `{}`: {error}", delta.name))?;
    Ok(Field::new(&delta.name, data_type, delta.nullable))
}

/// A value as the log writes it (a partition value's text, or a statistic's
/// JSON) as a scalar of `data_type`; `None` when it does not convert.
pub(crate) fn scalar(text: Option<&str>, data_type: &DataType) -> Option<ScalarValue> {
    match text {
        None => ScalarValue::try_from(data_type).ok(),
        // Views are how strings are read: the value is the same text.
        Some(text) if data_type == &DataType::Utf8View => {
            Some(ScalarValue::Utf8View(Some(text.to_owned())))
        }
        Some(text) => ScalarValue::try_from_string(text.to_owned(), data_type).ok(),
    }
}

/// The text of a statistic, as `scalar` takes it.
fn stat_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A file's statistics over the table's columns: `file_fields` from the
/// log's statistics, then `partition_fields` from the file's partition
/// values (a null value counted as every row null). Minimums and maximums
/// count as exact only where writers keep them exactly: not for text and
/// binary (cut short), timestamps (kept to the millisecond), or decimals of
/// more than 15 digits (a JSON number read as a double).
pub(crate) fn statistics(
    stats: Option<&Stats>,
    file_fields: &[Arc<Field>],
    partition_fields: &[Arc<Field>],
    partition_values: &[ScalarValue],
    size: u64,
) -> Statistics {
    let rows = stats
        .and_then(|stats| stats.num_records)
        .map_or(Precision::Absent, |rows| Precision::Exact(rows as usize));
    let mut columns: Vec<ColumnStatistics> = file_fields
        .iter()
        .map(|field| {
            let Some(stats) = stats else {
                return ColumnStatistics::new_unknown();
            };
            let name = field.name();
            let exact = !matches!(
                field.data_type(),
                DataType::Utf8
                    | DataType::Utf8View
                    | DataType::LargeUtf8
                    | DataType::Binary
                    | DataType::BinaryView
                    | DataType::LargeBinary
                    | DataType::Timestamp(..)
            ) && !matches!(field.data_type(), DataType::Decimal128(precision, _) if *precision > 15);
            let bound = |values: &std::collections::HashMap<String, serde_json::Value>| {
                values
                    .get(name)
                    .and_then(stat_text)
                    .and_then(|text| scalar(Some(&text), field.data_type()))
                    .filter(|_| exact)
                    .map_or(Precision::Absent, Precision::Exact)
            };
            ColumnStatistics {
                null_count: stats
                    .null_count
                    .get(name)
                    .and_then(serde_json::Value::as_u64)
                    .map_or(Precision::Absent, |nulls| Precision::Exact(nulls as usize)),
                min_value: bound(&stats.min_values),
                max_value: bound(&stats.max_values),
                ..ColumnStatistics::new_unknown()
            }
        })
        .collect();
    for (_, value) in partition_fields.iter().zip(partition_values) {
        columns.push(if value.is_null() {
            ColumnStatistics {
                null_count: rows,
                ..ColumnStatistics::new_unknown()
            }
        } else {
            ColumnStatistics {
                null_count: Precision::Exact(0),
                min_value: Precision::Exact(value.clone()),
                max_value: Precision::Exact(value.clone()),
                distinct_count: Precision::Exact(1),
                ..ColumnStatistics::new_unknown()
            }
        });
    }
    Statistics {
        num_rows: rows,
        total_byte_size: Precision::Inexact(size as usize),
        column_statistics: columns,
    }
}
