//! The provider of a `delta` table: the declared schema, and scans planned
//! as DataFusion's Parquet scan over the live files of the version read,
//! pruned by partition values and file statistics.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use codelake_plugin_sdk::catalog_core::TableSpec;
use codelake_plugin_sdk::datafusion::arrow::datatypes::{Field, FieldRef, Schema, SchemaRef};
use codelake_plugin_sdk::datafusion::catalog::{Session, TableProvider};
use codelake_plugin_sdk::datafusion::common::pruning::PrunableStatistics;
use codelake_plugin_sdk::datafusion::common::{DFSchema, DataFusionError, Result};
use codelake_plugin_sdk::datafusion::datasource::file_format::FileFormat;
use codelake_plugin_sdk::datafusion::datasource::file_format::parquet::ParquetFormat;
use codelake_plugin_sdk::datafusion::datasource::listing::PartitionedFile;
use codelake_plugin_sdk::datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfigBuilder,
};
use codelake_plugin_sdk::datafusion::datasource::table_schema::TableSchema;
use codelake_plugin_sdk::datafusion::execution::object_store::ObjectStoreUrl;
use codelake_plugin_sdk::datafusion::logical_expr::utils::conjunction;
use codelake_plugin_sdk::datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use codelake_plugin_sdk::datafusion::physical_optimizer::pruning::PruningPredicateBuilder;
use codelake_plugin_sdk::datafusion::physical_plan::ExecutionPlan;
use codelake_plugin_sdk::datafusion::physical_plan::empty::EmptyExec;
use object_store::ObjectMeta;
use object_store::path::Path as ObjectPath;

use crate::log::{Log, Snapshot, Wanted};
use crate::schema;

/// A `delta` table.
pub(crate) struct DeltaTable {
    log: Log,
    url: ObjectStoreUrl,
    wanted: Wanted,
    /// How long a snapshot of the latest version is used before the log is read again.
    refresh: Option<Duration>,
    /// The declared columns, strings as views (as Parquet is read, and
    /// partition values are served).
    schema: SchemaRef,
    /// The snapshot read last, and when.
    current: Mutex<Option<(Instant, Arc<Snapshot>)>>,
}

impl std::fmt::Debug for DeltaTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaTable")
            .field("location", &self.log.location)
            .finish_non_exhaustive()
    }
}

impl DeltaTable {
    pub(crate) fn new(
        spec: &TableSpec,
        log: Log,
        url: ObjectStoreUrl,
        wanted: Wanted,
        refresh: Option<Duration>,
    ) -> Self {
        Self {
            log,
            url,
            wanted,
            refresh,
            schema: Arc::new(spec.query_schema_with_views()),
            current: Mutex::new(None),
        }
    }

    /// The snapshot to scan: the one read last while it may still be used
    /// (pinned, or within `refresh`), else the log read again (only the
    /// commits since, when there is a snapshot to catch up).
    async fn snapshot(&self) -> std::result::Result<Arc<Snapshot>, crate::DeltaError> {
        let last = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let next = match (last, &self.wanted) {
            (Some((_, snapshot)), Wanted::Version(_) | Wanted::AsOf { .. }) => return Ok(snapshot),
            (Some((read, snapshot)), Wanted::Latest)
                if self.refresh.is_some_and(|refresh| read.elapsed() < refresh) =>
            {
                return Ok(snapshot);
            }
            (Some((_, snapshot)), Wanted::Latest) => match self.log.catch_up(&snapshot).await? {
                Some(next) => next,
                None => {
                    // Nothing new: the same snapshot, read again later.
                    let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
                    if current
                        .as_ref()
                        .is_some_and(|(_, kept)| Arc::ptr_eq(kept, &snapshot))
                    {
                        *current = Some((Instant::now(), Arc::clone(&snapshot)));
                    }
                    return Ok(snapshot);
                }
            },
            (None, wanted) => self.log.snapshot(wanted).await?,
        };
        // Scans may catch up at once: the newest snapshot is kept, never an older one.
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        match current.as_ref() {
            Some((_, kept)) if kept.version > next.version => Ok(Arc::clone(kept)),
            _ => {
                let next = Arc::new(next);
                *current = Some((Instant::now(), Arc::clone(&next)));
                Ok(next)
            }
        }
    }
}

#[async_trait]
impl TableProvider for DeltaTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let snapshot = self
            .snapshot()
            .await
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        // The files hold the declared columns that are not partition columns;
        // the declared partition columns come from the log, typed as declared.
        let partitions = &snapshot.partition_columns;
        let file_fields: Vec<FieldRef> = self
            .schema
            .fields()
            .iter()
            .filter(|field| !partitions.contains(field.name()))
            .cloned()
            .collect();
        let partition_fields: Vec<FieldRef> = partitions
            .iter()
            .filter_map(|name| self.schema.field_with_name(name).ok())
            .map(|field| Arc::new(Field::clone(field)))
            .collect();
        let table_fields: Vec<FieldRef> = file_fields
            .iter()
            .chain(&partition_fields)
            .cloned()
            .collect();
        let table_schema = Arc::new(Schema::new(table_fields));
        let mut files = Vec::with_capacity(snapshot.files.len());
        for (path, add) in &snapshot.files {
            let values = partition_fields
                .iter()
                .map(|field| {
                    let text = add.partition_values.get(field.name()).cloned().flatten();
                    schema::scalar(text.as_deref(), field.data_type()).ok_or_else(|| {
                        DataFusionError::Execution(format!(
                            "{}{path}: partition value {text:?} of `{}` is not a {}",
                            self.log.location,
                            field.name(),
                            field.data_type()
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let statistics = schema::statistics(
                add.stats.as_ref(),
                &file_fields,
                &partition_fields,
                &values,
                add.size,
            );
            let object = ObjectMeta {
                location: self.path(path)?,
                last_modified: chrono_millis(add.modified),
                size: add.size,
                e_tag: None,
                version: None,
            };
            // The statistics cover the partition columns too (a null
            // partition value counted as nulls, which `with_statistics` would not).
            let mut file = PartitionedFile::new_from_meta(object).with_partition_values(values);
            file.statistics = Some(Arc::new(statistics));
            files.push(file);
        }
        let files = prune(state, files, filters, &table_schema);
        let output = |schema: &SchemaRef| match projection {
            Some(columns) => schema.project(columns).map(Arc::new),
            None => Ok(Arc::clone(schema)),
        };
        if files.is_empty() {
            return Ok(Arc::new(EmptyExec::new(output(&self.schema)?)));
        }
        // The declared order, as the table schema (files, then partitions) orders it.
        let wanted: Vec<usize> = match projection {
            Some(columns) => columns.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let mapped = wanted
            .iter()
            .map(|index| table_schema.index_of(self.schema.field(*index).name()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let groups = groups(files, state.config().target_partitions());
        let format = ParquetFormat::default();
        let source = format.file_source(
            TableSchema::builder(Arc::new(Schema::new(file_fields)))
                .with_table_partition_cols(partition_fields)
                .build(),
        );
        let config = FileScanConfigBuilder::new(self.url.clone(), source)
            .with_file_groups(groups)
            .with_projection_indices(Some(mapped))?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // They prune files here (and row groups in the host's scan, which
        // applies them again to the rows).
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }
}

impl DeltaTable {
    /// A file's path in the store, from its path relative to the table's root.
    fn path(&self, relative: &str) -> Result<ObjectPath> {
        let relative = ObjectPath::parse(relative)
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        Ok(ObjectPath::from_iter(
            self.log.root.parts().chain(relative.parts()),
        ))
    }
}

/// The files the filters may need: those whose partition values and
/// statistics do not rule every row out. All of them when the filters cannot
/// be turned into a pruning predicate over these columns.
fn prune(
    state: &dyn Session,
    files: Vec<PartitionedFile>,
    filters: &[Expr],
    table_schema: &SchemaRef,
) -> Vec<PartitionedFile> {
    let Some(predicate) = conjunction(filters.iter().cloned()) else {
        return files;
    };
    let Ok(expr) = DFSchema::try_from(Arc::clone(table_schema))
        .and_then(|schema| state.create_physical_expr(predicate, &schema))
    else {
        return files;
    };
    let Some(pruning) = PruningPredicateBuilder::new()
        .with_file_schema(Arc::clone(table_schema))
        .build(expr)
    else {
        return files;
    };
    let statistics = files
        .iter()
        .filter_map(|file| file.statistics.clone())
        .collect::<Vec<_>>();
    if statistics.len() != files.len() {
        return files;
    }
    let keep = pruning.prune(&PrunableStatistics::new(
        statistics,
        Arc::clone(table_schema),
    ));
    match keep {
        Ok(keep) => files
            .into_iter()
            .zip(keep)
            .filter_map(|(file, keep)| keep.then_some(file))
            .collect(),
        Err(_) => files,
    }
}

/// The files in up to `target` groups, by size, so each core reads about as much.
fn groups(mut files: Vec<PartitionedFile>, target: usize) -> Vec<FileGroup> {
    let count = target.clamp(1, files.len().max(1));
    files.sort_by_key(|file| std::cmp::Reverse(file.object_meta.size));
    let mut groups: Vec<(u64, Vec<PartitionedFile>)> =
        (0..count).map(|_| (0, Vec::new())).collect();
    for file in files {
        let smallest = groups
            .iter_mut()
            .min_by_key(|(bytes, _)| *bytes)
            .expect("at least one group");
        smallest.0 += file.object_meta.size;
        smallest.1.push(file);
    }
    groups
        .into_iter()
        .filter(|(_, files)| !files.is_empty())
        .map(|(_, files)| FileGroup::new(files))
        .collect()
}

/// Milliseconds since the Unix epoch, as an object's modification time.
fn chrono_millis(
    millis: i64,
) -> codelake_plugin_sdk::catalog_core::chrono::DateTime<
    codelake_plugin_sdk::catalog_core::chrono::Utc,
> {
    codelake_plugin_sdk::catalog_core::chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
}
