//! Reading objects' Parquet footers: for `inspect`, and to name the object
//! or column at fault when a scan fails (only on that error path).

use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::ColumnType;
use codelake_plugin_sdk::datafusion::arrow::datatypes::{DataType, Schema};
use codelake_plugin_sdk::datafusion::common::DataFusionError;
use codelake_plugin_sdk::datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use codelake_plugin_sdk::datafusion::parquet::arrow::parquet_to_arrow_schema;
use codelake_plugin_sdk::datafusion::parquet::file::metadata::ParquetMetaData;
use futures::StreamExt;
use object_store::{ObjectMeta, ObjectStore};

use crate::{S3Error, objects};

/// A scan's error, with the object at fault named when the Parquet reader
/// failed (its errors, a corrupt footer say, never say which object it was
/// reading), or when a file's column cannot be read as declared (a failed
/// cast, or nulls where a column is missing). Only on this error path are the
/// footers read again.
pub(super) async fn explain(
    store: Arc<dyn ObjectStore>,
    location: &str,
    key: &str,
    declared: &Schema,
    rust_type: &str,
    error: DataFusionError,
) -> DataFusionError {
    let text = error.to_string();
    let corrupt = text.contains("Parquet error");
    let mismatch = text.contains("Cast error")
        || text.contains("is declared as non-nullable but contains null");
    if !(corrupt || mismatch) {
        return error;
    }
    let Ok(listed) = objects(&store, key, location).await else {
        return error;
    };
    let base = crate::base_of(location);
    // As `inspect` reads them: at most `MAX_FOOTERS`, the newest first after the first.
    let mut footers = futures::stream::iter(footers_to_read(&listed))
        .map(|object| {
            let name = format!("{base}/{}", object.location);
            futures::FutureExt::map(
                footer(Arc::clone(&store), object, base.clone()),
                move |read| read.map(|(_, schema)| (name, schema)),
            )
        })
        .buffered(8);
    while let Some(read) = footers.next().await {
        match read {
            Err(corrupt @ S3Error::NotParquet { .. }) => {
                return DataFusionError::Execution(corrupt.to_string());
            }
            Ok((object, schema)) if mismatch => {
                if let Some(difference) = undeclared(declared, &schema) {
                    return DataFusionError::Execution(format!(
                        "{object} {difference}, as {rust_type} declares it; rewrite the object, \
                         or change the declaration (`codelake verify` lists every difference)"
                    ));
                }
            }
            Ok(_) | Err(_) => {}
        }
    }
    error
}

/// Whether `error`'s causes include a request to S3 that timed out: the
/// endpoint took the connection and did not answer in time.
pub(super) fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error
            .downcast_ref::<HttpError>()
            .is_some_and(|http| http.kind() == HttpErrorKind::Timeout)
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// How a file's schema fails the declared one: a declared column missing, or
/// stored as another type (text in any encoding is one type).
pub(super) fn undeclared(declared: &Schema, file: &Schema) -> Option<String> {
    declared.fields().iter().find_map(|field| {
        let Ok(found) = file.field_with_name(field.name()) else {
            return Some(format!("has no column `{}`", field.name()));
        };
        let same = found.data_type() == field.data_type()
            || ColumnType::from_arrow(found.data_type())
                .zip(ColumnType::from_arrow(field.data_type()))
                .is_some_and(|(a, b)| a == b);
        (!same).then(|| {
            format!(
                "stores `{}` as {}, not {}",
                field.name(),
                found.data_type(),
                field.data_type()
            )
        })
    })
}

/// Footers read at most for one table: a prefix may hold thousands of objects.
pub(super) const MAX_FOOTERS: usize = 32;

/// The objects whose footers are read: all of them up to [`MAX_FOOTERS`],
/// else the first by name (the reference schema) and the newest others,
/// where a change of schema shows first.
pub(super) fn footers_to_read(listed: &[ObjectMeta]) -> Vec<ObjectMeta> {
    if listed.len() <= MAX_FOOTERS {
        return listed.to_vec();
    }
    let mut newest: Vec<&ObjectMeta> = listed[1..].iter().collect();
    newest.sort_by_key(|object| std::cmp::Reverse(object.last_modified));
    std::iter::once(&listed[0])
        .chain(newest.into_iter().take(MAX_FOOTERS - 1))
        .cloned()
        .collect()
}

/// The type of Hive partition column `name` from the paths' `name=value` parts.
pub(super) fn partition_type(listed: &[ObjectMeta], name: &str) -> DataType {
    let prefix = format!("{name}=");
    let numbers = listed
        .iter()
        .filter_map(|object| {
            object
                .location
                .parts()
                .find_map(|part| part.as_ref().strip_prefix(&prefix).map(str::to_owned))
        })
        .all(|value| value.parse::<i64>().is_ok());
    if numbers {
        DataType::Int64
    } else {
        DataType::Utf8
    }
}

/// An object's Parquet footer and the Arrow schema it gives.
pub(super) async fn footer(
    store: Arc<dyn ObjectStore>,
    object: ObjectMeta,
    base: String,
) -> std::result::Result<(Arc<ParquetMetaData>, Schema), S3Error> {
    // Parquet's errors and DataFusion's wrapping of them each say "Parquet error".
    let unreadable = |error: &dyn std::fmt::Display| S3Error::NotParquet {
        object: format!("{base}/{}", object.location),
        reason: error.to_string().replace("Parquet error: ", ""),
    };
    // Reaching the object is the store's business; only what it holds can be corrupt.
    let footer = DFParquetMetadata::new(&*store, &object)
        .fetch_metadata()
        .await
        .map_err(|error| match error {
            DataFusionError::ObjectStore(error) => S3Error::Store {
                location: format!("{base}/{}", object.location),
                error: *error,
            },
            error => unreadable(&error),
        })?;
    let file = footer.file_metadata();
    let schema = parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
        .map_err(|error| unreadable(&error))?;
    Ok((footer, schema))
}

/// Each field's null count over every row group, when every row group has it.
pub(super) fn null_counts(footer: &ParquetMetaData, schema: &Schema) -> Vec<Option<u64>> {
    let descriptor = footer.file_metadata().schema_descr();
    schema
        .fields()
        .iter()
        .map(|field| {
            let leaf = (0..descriptor.num_columns()).find(|&i| {
                let column = descriptor.column(i);
                let path = column.path().parts();
                path.len() == 1 && path[0] == *field.name()
            })?;
            footer
                .row_groups()
                .iter()
                .map(|group| group.column(leaf).statistics()?.null_count_opt())
                .sum()
        })
        .collect()
}

/// How `other` differs from `first`, by column name and declared type: text
/// in `Utf8`, `LargeUtf8` or `Utf8View` (tpchgen writes one, DuckDB another)
/// is one declared type, as every reader treats it.
pub(super) fn differs(first: &Schema, other: &Schema) -> Option<String> {
    let same = |a: &DataType, b: &DataType| {
        a == b
            || ColumnType::from_arrow(a)
                .zip(ColumnType::from_arrow(b))
                .is_some_and(|(a, b)| a == b)
    };
    let mut differences = Vec::new();
    for field in first.fields() {
        match other.field_with_name(field.name()) {
            Err(_) => differences.push(format!("has no column `{}`", field.name())),
            Ok(found) if !same(found.data_type(), field.data_type()) => differences.push(format!(
                "has `{}` as {}, the first object as {}",
                field.name(),
                found.data_type(),
                field.data_type()
            )),
            Ok(_) => {}
        }
    }
    for field in other.fields() {
        if first.field_with_name(field.name()).is_err() {
            differences.push(format!("has an extra column `{}`", field.name()));
        }
    }
    (!differences.is_empty()).then(|| differences.join(", "))
}
