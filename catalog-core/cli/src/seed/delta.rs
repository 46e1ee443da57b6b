//! Writing a table's sample data as a Delta Lake table: Parquet files, one
//! per partition value (Hive-style directories, as Delta writers lay them
//! out), each with its statistics in the log, and one commit, version 0, that
//! adds them all. A seed that writes the table again removes what it wrote
//! before and writes version 0 again.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use catalog_core::TableSpec;
use datafusion::arrow::array::{Array, ArrayRef, Int32Array, RecordBatch};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::kernels::temporal::{DatePart, date_part};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::min_max::{MaxAccumulator, MinAccumulator};
use datafusion::logical_expr::Accumulator;
use futures::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::{Value, json};

use super::layout::Layout;
use super::{Batches, SPOOL_PREFIX, upload};

/// The commit a seed writes: the one version of a seeded table.
pub(super) const FIRST_COMMIT: &str = "_delta_log/00000000000000000000.json";

/// A Delta table to write.
pub(super) struct DeltaTarget {
    pub(super) store: Arc<dyn ObjectStore>,
    /// The table's root in the store.
    pub(super) root: ObjectPath,
    /// Where files are written before they are uploaded.
    pub(super) spool: std::path::PathBuf,
}

/// One data file being written: its rows, and each column's bounds and nulls.
struct DataFile {
    file: tempfile::NamedTempFile,
    writer: parquet::arrow::ArrowWriter<std::io::BufWriter<std::fs::File>>,
    rows: u64,
    bounds: Vec<(MinAccumulator, MaxAccumulator, u64)>,
}

impl DeltaTarget {
    /// The first commit's path: what a seed records and checks.
    pub(super) fn commit(&self) -> ObjectPath {
        ObjectPath::from(format!("{}/{FIRST_COMMIT}", self.root))
    }

    /// Writes `batches` as the table's version 0; the rows written.
    pub(super) async fn write(
        &self,
        spec: &TableSpec,
        batches: Batches,
        layout: &Layout,
        progress: &ProgressBar,
    ) -> anyhow::Result<usize> {
        let table = spec.qualified_name();
        let declared = Arc::new(spec.arrow_schema());
        // The partition column, and the date column it is the year of.
        let partition = layout
            .partition
            .filter(|(column, _)| declared.index_of(column).is_ok());
        let file_schema: SchemaRef = Arc::new(Schema::new(
            declared
                .fields()
                .iter()
                .filter(|field| Some(field.name().as_str()) != partition.map(|(c, _)| c))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        // What a seed wrote before goes first: a new version 0 replaces it.
        let old: Vec<ObjectPath> = self
            .store
            .list(Some(&self.root))
            .map_ok(|object| object.location)
            .try_collect()
            .await
            .with_context(|| format!("table `{table}`: cannot list {}", self.root))?;
        for path in old {
            self.store.delete(&path).await?;
        }
        let spill = tempfile::Builder::new()
            .prefix(SPOOL_PREFIX)
            .tempdir_in(&self.spool)?;
        let mut ordered = layout.order(batches, spill.path()).await?;
        let mut files: BTreeMap<Option<i32>, DataFile> = BTreeMap::new();
        let mut rows = 0;
        while let Some(batch) = ordered.next().await {
            let batch = batch?;
            progress.inc(batch.num_rows() as u64);
            rows += batch.num_rows();
            let years: Option<ArrayRef> = match partition {
                Some((_, date)) => {
                    let dates = batch.column_by_name(date).with_context(|| {
                        format!("table `{table}`: the generator has no `{date}` to partition by")
                    })?;
                    Some(date_part(dates.as_ref(), DatePart::Year)?)
                }
                None => None,
            };
            let conformed = conform(&table, &batch, &file_schema)?;
            let Some(years) = years else {
                self.append(&mut files, None, &conformed, &file_schema, layout)?;
                continue;
            };
            let years = years
                .as_any()
                .downcast_ref::<Int32Array>()
                .context("a year is an Int32")?;
            let mut distinct: Vec<i32> = years.iter().flatten().collect();
            distinct.sort_unstable();
            distinct.dedup();
            for year in distinct {
                let mask = eq(years, &Int32Array::new_scalar(year))?;
                let part = filter_record_batch(&conformed, &mask)?;
                self.append(&mut files, Some(year), &part, &file_schema, layout)?;
            }
        }
        drop(ordered);
        let mut adds = Vec::new();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64);
        for (value, data) in files {
            let DataFile {
                file,
                writer,
                rows,
                bounds,
            } = data;
            writer.close()?;
            // Named anew by each seed: a reader holding the last version's
            // files never finds other bytes under a name it knows.
            let name = format!("part-00000-{now}.parquet");
            let (relative, partition_values) = match (value, partition) {
                (Some(year), Some((column, _))) => (
                    format!("{column}={year}/{name}"),
                    json!({ column: year.to_string() }),
                ),
                _ => (name, json!({})),
            };
            let path = ObjectPath::from(format!("{}/{relative}", self.root));
            upload(self.store.as_ref(), &path, file.path())
                .await
                .with_context(|| format!("table `{table}`: cannot write {path}"))?;
            let size = std::fs::metadata(file.path())?.len();
            adds.push(json!({"add": {
                "path": relative,
                "partitionValues": partition_values,
                "size": size,
                "modificationTime": now,
                "dataChange": true,
                "stats": stats(&file_schema, rows, bounds)?.to_string(),
            }}));
        }
        let schema_string = json!({
            "type": "struct",
            "fields": declared
                .fields()
                .iter()
                .map(|field| Ok(json!({
                    "name": field.name(),
                    "type": delta_type(field.data_type())
                        .with_context(|| format!("table `{table}`: column `{}`", field.name()))?,
                    "nullable": field.is_nullable(),
                    "metadata": {},
                })))
                .collect::<anyhow::Result<Vec<_>>>()?,
        });
        let mut lines = vec![
            json!({"commitInfo": {"timestamp": now, "operation": "WRITE", "engineInfo": "codelake data seed"}}),
            json!({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}}),
            json!({"metaData": {
                "id": format!("codelake-seed-{}", spec.qualified_name()),
                "format": {"provider": "parquet", "options": {}},
                "schemaString": schema_string.to_string(),
                "partitionColumns": partition.map(|(column, _)| vec![column]).unwrap_or_default(),
                "configuration": {},
                "createdTime": now,
            }}),
        ];
        lines.extend(adds);
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        self.store
            .put(&self.commit(), PutPayload::from(text.into_bytes()))
            .await
            .with_context(|| format!("table `{table}`: cannot write its Delta log"))?;
        Ok(rows)
    }

    /// Appends `batch` to the file of partition value `value`, opening it first.
    fn append(
        &self,
        files: &mut BTreeMap<Option<i32>, DataFile>,
        value: Option<i32>,
        batch: &RecordBatch,
        schema: &SchemaRef,
        layout: &Layout,
    ) -> anyhow::Result<()> {
        let data = match files.entry(value) {
            std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::btree_map::Entry::Vacant(entry) => {
                let file = tempfile::Builder::new()
                    .prefix(SPOOL_PREFIX)
                    .suffix(".parquet")
                    .tempfile_in(&self.spool)?;
                let writer = parquet::arrow::ArrowWriter::try_new(
                    std::io::BufWriter::new(file.reopen()?),
                    Arc::clone(schema),
                    Some(layout.properties()),
                )?;
                let bounds = schema
                    .fields()
                    .iter()
                    .map(|field| {
                        Ok((
                            MinAccumulator::try_new(field.data_type())?,
                            MaxAccumulator::try_new(field.data_type())?,
                            0,
                        ))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                entry.insert(DataFile {
                    file,
                    writer,
                    rows: 0,
                    bounds,
                })
            }
        };
        data.writer.write(batch)?;
        data.rows += batch.num_rows() as u64;
        for ((min, max, nulls), column) in data.bounds.iter_mut().zip(batch.columns()) {
            min.update_batch(std::slice::from_ref(column))?;
            max.update_batch(std::slice::from_ref(column))?;
            *nulls += column.null_count() as u64;
        }
        Ok(())
    }
}

/// The generator's columns as the files hold them: by name, cast to the declared types.
fn conform(table: &str, batch: &RecordBatch, schema: &SchemaRef) -> anyhow::Result<RecordBatch> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = batch.column_by_name(field.name()).with_context(|| {
                format!(
                    "table `{table}`: the generator has no column `{}`; align the struct with the generator",
                    field.name()
                )
            })?;
            Ok(cast(column, field.data_type())?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// A file's statistics, as Delta's log keeps them.
fn stats(
    schema: &SchemaRef,
    rows: u64,
    bounds: Vec<(MinAccumulator, MaxAccumulator, u64)>,
) -> anyhow::Result<Value> {
    let (mut min_values, mut max_values, mut null_count) = (
        serde_json::Map::new(),
        serde_json::Map::new(),
        serde_json::Map::new(),
    );
    for (field, (mut min, mut max, nulls)) in schema.fields().iter().zip(bounds) {
        if let Some(value) = stat_value(&min.evaluate()?) {
            min_values.insert(field.name().clone(), value);
        }
        if let Some(value) = stat_value(&max.evaluate()?) {
            max_values.insert(field.name().clone(), value);
        }
        null_count.insert(field.name().clone(), json!(nulls));
    }
    Ok(json!({
        "numRecords": rows,
        "minValues": min_values,
        "maxValues": max_values,
        "nullCount": null_count,
    }))
}

/// A bound as JSON, as Delta writes it: numbers as numbers, the rest as text.
fn stat_value(value: &ScalarValue) -> Option<Value> {
    if value.is_null() {
        return None;
    }
    match value {
        ScalarValue::Int8(_)
        | ScalarValue::Int16(_)
        | ScalarValue::Int32(_)
        | ScalarValue::Int64(_)
        | ScalarValue::Float32(_)
        | ScalarValue::Float64(_)
        | ScalarValue::Decimal128(..) => serde_json::from_str(&value.to_string()).ok(),
        ScalarValue::Utf8(Some(text)) | ScalarValue::Utf8View(Some(text)) => {
            // Delta writers keep at most 32 characters of text.
            (text.chars().count() <= 32).then(|| json!(text))
        }
        ScalarValue::Date32(_) => Some(json!(value.to_string())),
        _ => None,
    }
}

/// The Delta type of a declared column.
fn delta_type(data_type: &DataType) -> anyhow::Result<String> {
    Ok(match data_type {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => "string".into(),
        DataType::Int64 => "long".into(),
        DataType::Int32 => "integer".into(),
        DataType::Int16 => "short".into(),
        DataType::Int8 => "byte".into(),
        DataType::Float32 => "float".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Binary => "binary".into(),
        DataType::Date32 => "date".into(),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) => "timestamp".into(),
        DataType::Timestamp(TimeUnit::Microsecond, None) => "timestamp_ntz".into(),
        DataType::Decimal128(precision, scale) => format!("decimal({precision},{scale})"),
        other => anyhow::bail!("{other} has no Delta type a seed writes"),
    })
}
