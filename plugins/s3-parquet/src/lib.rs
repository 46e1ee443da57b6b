//! The `s3-parquet` source plugin: Parquet objects on any S3-compatible store
//! (`source = "s3-parquet"`), and Parquet files on the local disk
//! (`source = "parquet"`).
//!
//! The table is DataFusion's own listing table over Parquet, so projection,
//! filter and limit push-down and row-group and page pruning are DataFusion's;
//! the host executes its scans (`HOST_EXECUTES`). `location` is one object
//! (`s3://bucket/tpch/part.parquet`, `tpch/part.parquet` under the data
//! directory, `file:///data/part.parquet`) or a prefix or directory ending in
//! `/` (every `.parquet` file under it). Columns are matched by name with the
//! declared schema.
//!
//! The S3 store is built from the environment's [`S3Settings`](codelake_plugin_sdk::catalog_core::S3Settings) and registered
//! in the plugin's own runtime environment, which the SDK uses for planning and
//! reading: the host's cannot cross the FFI boundary.
//!
//! What it must not know: the host (it meets it only through the SDK's C ABI)
//! and other source kinds; it reads its options only as the typed values the
//! SDK hands it.

use std::sync::Arc;

use async_trait::async_trait;
use codelake_plugin_sdk::catalog_core::Environment;
use codelake_plugin_sdk::catalog_core::inspect::{Drift, InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::source::{ParquetOptions, S3ParquetOptions, SourceOptions};
use codelake_plugin_sdk::datafusion::arrow::datatypes::{Schema, SchemaRef};
use codelake_plugin_sdk::datafusion::catalog::{Session, TableProvider};
use codelake_plugin_sdk::datafusion::common::{DataFusionError, Result};
use codelake_plugin_sdk::datafusion::datasource::file_format::parquet::ParquetFormat;
use codelake_plugin_sdk::datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use codelake_plugin_sdk::datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use codelake_plugin_sdk::datafusion::physical_plan::ExecutionPlan;
use codelake_plugin_sdk::{Built, Source, TableSource, export_source};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

mod footers;
mod places;

use footers::{differs, explain, footer, footers_to_read, null_counts, partition_type, timed_out};
use places::{Place, base_of, bucket_and_key, place, target};

/// Why an `s3-parquet` table cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The location is not a URL DataFusion can list.
    #[error("`location = \"{location}\"`: {source}")]
    Location {
        /// The table's location, in this environment.
        location: String,
        /// Why.
        source: DataFusionError,
    },
    /// A local path that is not UTF-8, which a URL cannot hold.
    #[error("`{}` is not UTF-8: rename it, or move the data", .0.display())]
    NotUtf8(std::path::PathBuf),
    /// The location names no bucket.
    #[error("`location = \"{0}\"` names no bucket")]
    NoBucket(String),
    /// A Delta table's root read as plain Parquet, which would read the files
    /// its log removed.
    #[error(
        "{0} is a Delta Lake table (it holds `_delta_log/`): read as plain Parquet it would include files its log removed; declare it with `source = \"delta\"` (with `codelake new-table`, add `--source delta`)"
    )]
    IsDelta(String),
    /// Partition columns on a single object.
    #[error("`partitions` needs `location` to be a prefix ending in `/`, not `{0}`")]
    PartitionsNeedPrefix(String),
    /// A partition column that is not declared.
    #[error("`partitions` names `{0}`, which is not a declared column")]
    UndeclaredPartition(String),
    /// The environment cannot reach S3.
    #[error(
        "environment `{environment}` has no S3 settings, so `{location}` cannot be reached; configure the environment's S3 endpoint and credentials"
    )]
    NoSettings {
        /// The environment's name.
        environment: String,
        /// The table's location.
        location: String,
    },
    /// The S3 client cannot be built.
    #[error(transparent)]
    Client(#[from] catalog_s3::Error),
    /// Nothing to read; the message says whether the bucket or the data is missing.
    #[error("{message}")]
    NotFound {
        /// What is missing, and what to do.
        message: String,
        /// Whether the bucket itself is missing: then S3 was not reached as configured.
        bucket_missing: bool,
    },
    /// The store refused or failed a request. The store's error is not a
    /// `source`: its text already holds its causes, and the hint comes last.
    #[error("reading {location}: {error}{}", catalog_s3::hint(error))]
    Store {
        /// The table's location.
        location: String,
        /// The store's error.
        error: object_store::Error,
    },
    /// An object is not Parquet: truncated, or not written as Parquet.
    #[error("{object} is corrupt: it is not readable Parquet ({reason}); rewrite it or remove it")]
    NotParquet {
        /// The object.
        object: String,
        /// The Parquet reader's words, without its `Parquet error:` prefixes.
        reason: String,
    },
    /// DataFusion refused the table or its runtime environment.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// The options of the two kinds this plugin serves.
#[derive(Debug)]
pub enum ParquetKinds {
    /// `source = "s3-parquet"`: objects on S3.
    S3(S3ParquetOptions),
    /// `source = "parquet"`: files on the local disk.
    Local(ParquetOptions),
}

impl TryFrom<SourceOptions> for ParquetKinds {
    type Error = SourceOptions;

    fn try_from(options: SourceOptions) -> std::result::Result<Self, SourceOptions> {
        match options {
            SourceOptions::S3Parquet(options) => Ok(Self::S3(options)),
            SourceOptions::Parquet(options) => Ok(Self::Local(options)),
            other => Err(other),
        }
    }
}

/// Reads `s3-parquet` and `parquet` tables.
pub struct S3Parquet;

impl Source for S3Parquet {
    const NAME: &'static str = "s3-parquet";
    const KINDS: &'static [&'static str] = &["s3-parquet", "parquet"];
    type Options = ParquetKinds;
    type Error = S3Error;
    /// Its scans are DataFusion's Parquet scans: the host executes them.
    const HOST_EXECUTES: bool = true;

    /// No settings or client for S3, a missing bucket, a refused credential,
    /// an endpoint that refuses or does not answer: S3 itself was not reached.
    /// A missing or corrupt object is the data's fault.
    fn unreachable(error: &S3Error) -> bool {
        match error {
            S3Error::NoSettings { .. } | S3Error::Client(_) => true,
            S3Error::NotFound { bucket_missing, .. } => *bucket_missing,
            S3Error::Store { error, .. } => catalog_s3::fault(error).is_some(),
            _ => false,
        }
    }

    /// The listing table, and the runtime environment holding its bucket's store.
    fn build(
        table: &TableSource<'_, ParquetKinds>,
        env: &Environment,
    ) -> std::result::Result<Built, S3Error> {
        let spec = table.spec;
        let (location, partitions) = &target(table.options, env)?;
        let url = ListingTableUrl::parse(location).map_err(|source| S3Error::Location {
            location: location.clone(),
            source,
        })?;
        // Hive-style partition columns come from the path, the others from the files.
        if !partitions.is_empty() && !location.ends_with('/') {
            return Err(S3Error::PartitionsNeedPrefix(location.clone()));
        }
        let declared = spec.query_schema();
        let mut partition_cols = Vec::new();
        for column in partitions {
            let field = declared
                .field_with_name(column)
                .map_err(|_| S3Error::UndeclaredPartition(column.clone()))?;
            partition_cols.push((field.name().clone(), field.data_type().clone()));
        }
        // Strings read as views, as DataFusion reads Parquet by default: TPC-H Q1
        // (grouped on two text columns) runs in 0.8 of the time.
        let file_fields: Vec<_> = spec
            .query_schema_with_views()
            .fields()
            .iter()
            .filter(|field| !partitions.contains(field.name()))
            .cloned()
            .collect();
        let file_schema = Schema::new(file_fields).with_metadata(declared.metadata().clone());
        // The columns the files must hold, as declared, for naming a mismatch.
        let declared_in_files = Arc::new(Schema::new(
            declared
                .fields()
                .iter()
                .filter(|field| !partitions.contains(field.name()))
                .cloned()
                .collect::<Vec<_>>(),
        ));
        let rust_type = spec.rust_type.to_string();
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partition_cols);
        // The declared schema, not one inferred from a file: drift is for `verify` to report.
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(Arc::new(file_schema));
        let place = place(env, location)?;
        // Each file's statistics, read from its footer once per version of
        // the file, not at every scan.
        let statistics = place.runtime_env.cache_manager.get_file_statistic_cache();
        let listing = ListingTable::try_new(config)?.with_cache(statistics);
        let provider = Arc::new(S3Table {
            listing,
            store: Arc::clone(&place.store),
            location: location.to_owned(),
            key: place.key.clone(),
        });
        let check = FileCheck {
            store: Arc::clone(&place.store),
            base: place.base.clone(),
            declared: Arc::clone(&declared_in_files),
            checked: Arc::default(),
        };
        let (location, key, store) = (location.clone(), place.key.clone(), place.store);
        let timeout = place.s3.map(|s3| {
            let endpoint = s3.endpoint.clone().unwrap_or_else(|| "AWS".to_owned());
            (endpoint, s3.request_timeout())
        });
        let built = Built::provider(provider)
            .checking_files(move |objects| Box::pin(check.clone().run(objects)))
            // The bucket the environment reads, which may not be the declared one.
            .reading(location.clone())
            .with_runtime_env(place.runtime_env);
        Ok(built.explaining(move |error| {
            let (store, location, key) = (Arc::clone(&store), location.clone(), key.clone());
            let declared = Arc::clone(&declared_in_files);
            let rust_type = rust_type.clone();
            if let Some((endpoint, request_timeout)) = &timeout
                && timed_out(&error)
            {
                return Box::pin(std::future::ready(DataFusionError::Execution(format!(
                    "the S3 endpoint {endpoint} did not answer within {request_timeout:?}, \
                         the environment's S3 request timeout; check that it is up, or raise the \
                         timeout if it is only slow"
                ))));
            }
            Box::pin(
                async move { explain(store, &location, &key, &declared, &rust_type, error).await },
            )
        }))
    }

    /// Reads the footer of every object: the first one's schema is the live
    /// schema, each other one that differs is named, and null counts come from
    /// the row groups' statistics, so they are exact for the whole table.
    async fn inspect(
        table: &TableSource<'_, ParquetKinds>,
        env: &Environment,
        _request: &InspectRequest,
    ) -> std::result::Result<Inspection, S3Error> {
        let spec = table.spec;
        let (location, partitions) = &target(table.options, env)?;
        let Place {
            store, base, key, ..
        } = place(env, location)?;
        let listed = objects(&store, &key, location).await?;
        let objects = footers_to_read(&listed);
        // Owned values: a stream of futures borrowing from here would not be `Send`.
        let footers: Vec<_> = futures::stream::iter(objects.clone())
            .map(|object| footer(Arc::clone(&store), object, base.clone()))
            .buffered(8)
            .collect()
            .await;
        let mut inspection = Inspection {
            objects: listed.len() as u64,
            ..Inspection::default()
        };
        // The newest object of all, footer read or not.
        if let Some(newest) = listed.iter().max_by_key(|object| object.last_modified) {
            inspection.newest_modified = Some(newest.last_modified.timestamp());
            inspection.newest_object = Some(format!("{base}/{}", newest.location));
        }
        let mut first: Option<Schema> = None;
        for (object, footer) in objects.iter().zip(footers) {
            let (footer, schema) = footer?;
            let nulls = null_counts(&footer, &schema);
            match &first {
                None => {
                    inspection.columns = schema
                        .fields()
                        .iter()
                        .zip(&nulls)
                        .map(|(field, nulls)| LiveColumn {
                            nulls: *nulls,
                            ..LiveColumn::new(field.name(), field.data_type(), field.is_nullable())
                        })
                        .collect();
                    first = Some(schema);
                }
                Some(first) => {
                    if let Some(message) = differs(first, &schema) {
                        inspection.problems.push(Drift::ObjectDiffers {
                            object: format!("{base}/{}", object.location),
                            message,
                        });
                    }
                    // By name: another object may order its columns differently.
                    for column in &mut inspection.columns {
                        let here = schema
                            .index_of(&column.name)
                            .ok()
                            .and_then(|index| nulls[index]);
                        column.nulls = column.nulls.zip(here).map(|(a, b)| a + b);
                    }
                }
            }
        }
        // Hive partition columns live in the paths: typed as declared, or, for
        // `new-table`, `Int64` when every value is a number and `Utf8` otherwise.
        for name in partitions {
            let data_type = match spec.column(name) {
                Some(declared) => declared.ty.to_arrow(),
                None => partition_type(&listed, name),
            };
            inspection.columns.push(LiveColumn {
                nulls: Some(0),
                ..LiveColumn::new(name, &data_type, false)
            });
        }
        Ok(inspection)
    }
}

/// Before the host executes a scan: each object's footer holds every
/// declared column, typed as declared. Checked once per object version.
#[derive(Clone)]
struct FileCheck {
    store: Arc<dyn ObjectStore>,
    /// What object names start with: `s3://bucket` or `file://`.
    base: String,
    declared: SchemaRef,
    /// The objects already found readable: path, size, modification time.
    checked: Arc<std::sync::Mutex<std::collections::HashSet<(String, u64, i64)>>>,
}

impl FileCheck {
    async fn run(self, objects: Vec<ObjectMeta>) -> std::result::Result<(), String> {
        let version = |object: &ObjectMeta| {
            let modified = object
                .last_modified
                .timestamp_nanos_opt()
                .unwrap_or_default();
            (object.location.to_string(), object.size, modified)
        };
        let unchecked: Vec<ObjectMeta> = {
            let checked = self
                .checked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            objects
                .into_iter()
                .filter(|object| !checked.contains(&version(object)))
                .collect()
        };
        let mut footers = futures::stream::iter(unchecked)
            .map(|object| {
                let read = footer(Arc::clone(&self.store), object.clone(), self.base.clone());
                async move { (object, read.await) }
            })
            .buffer_unordered(8);
        while let Some((object, read)) = footers.next().await {
            let (_, schema) = read.map_err(|error| error.to_string())?;
            if let Some(difference) = footers::undeclared(&self.declared, &schema) {
                return Err(format!(
                    "s3://{}/{} {difference}",
                    self.base, object.location
                ));
            }
            self.checked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(version(&object));
        }
        Ok(())
    }
}

/// The table's objects: the one object, or every `.parquet` object under the prefix.
async fn objects(
    store: &Arc<dyn ObjectStore>,
    key: &str,
    location: &str,
) -> std::result::Result<Vec<ObjectMeta>, S3Error> {
    if key.is_empty() || key.ends_with('/') {
        let prefix = ObjectPath::from(key.trim_end_matches('/'));
        let mut listed: Vec<ObjectMeta> = store
            .list(Some(&prefix))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<object_store::Result<_>>()
            .map_err(|source| store_error(source, location))?;
        if holds_delta_log(&listed, key) {
            return Err(S3Error::IsDelta(location.to_owned()));
        }
        listed.retain(|object| object.location.as_ref().ends_with(".parquet"));
        listed.sort_by(|a, b| a.location.cmp(&b.location));
        if listed.is_empty() {
            let what = format!("no .parquet object under {location}");
            return Err(not_found(&**store, location, &what).await);
        }
        Ok(listed)
    } else {
        match store.head(&ObjectPath::from(key)).await {
            Ok(object) => Ok(vec![object]),
            Err(object_store::Error::NotFound { .. }) => {
                let what = format!("object {location} does not exist");
                Err(not_found(&**store, location, &what).await)
            }
            Err(error) => Err(store_error(error, location)),
        }
    }
}

/// Whether `objects`, listed under prefix `key`, include a Delta log at the
/// prefix itself (`key/_delta_log/…`).
fn holds_delta_log(objects: &[ObjectMeta], key: &str) -> bool {
    let prefix = key.trim_end_matches('/');
    let log = if prefix.is_empty() {
        "_delta_log/".to_owned()
    } else {
        format!("{prefix}/_delta_log/")
    };
    objects
        .iter()
        .any(|object| object.location.as_ref().starts_with(&log))
}

/// What is missing, said right: when the bucket itself does not exist, the
/// bucket (a missing bucket answers like a missing object); otherwise `what`.
/// Probed only on this error path, so a table that reads costs nothing more.
async fn not_found(store: &dyn ObjectStore, location: &str, what: &str) -> S3Error {
    if location.starts_with("file://") {
        return S3Error::NotFound {
            message: format!("{what}; write the data or fix `location`"),
            bucket_missing: false,
        };
    }
    let bucket = bucket_and_key(location)
        .map(|(bucket, _)| bucket)
        .unwrap_or_default();
    let bucket_missing = match store.list(None).next().await.transpose() {
        Err(error) => catalog_s3::bucket_missing(&error),
        Ok(_) => false,
    };
    let message = if bucket_missing {
        format!(
            "bucket `{bucket}` does not exist (reading {location}); create it, or fix the bucket \
             of `location` or the environment's (CODELAKE_S3_BUCKET)"
        )
    } else {
        format!("{what}; upload the data or fix `location`")
    };
    S3Error::NotFound {
        message,
        bucket_missing,
    }
}

fn store_error(error: object_store::Error, location: &str) -> S3Error {
    S3Error::Store {
        location: location.to_owned(),
        error,
    }
}

export_source!(S3Parquet);

/// The listing table, after a check that its data exists: a listing of a
/// missing key is merely empty, which would read as an empty table.
#[derive(Debug)]
struct S3Table {
    listing: ListingTable,
    store: Arc<dyn ObjectStore>,
    location: String,
    key: String,
}

impl S3Table {
    /// Checks that the table's data exists and that no object of it is empty:
    /// DataFusion's listing skips a zero-byte file, which would read as fewer
    /// rows (or none) instead of an error.
    async fn check_exists(&self) -> Result<()> {
        let missing = async |what: &str| {
            DataFusionError::Execution(
                not_found(&*self.store, &self.location, what)
                    .await
                    .to_string(),
            )
        };
        let empty = |object: &str| {
            DataFusionError::Execution(format!(
                "{object} is empty (0 bytes), so it is not Parquet; rewrite it or remove it"
            ))
        };
        if self.key.is_empty() || self.key.ends_with('/') {
            let prefix = ObjectPath::from(self.key.trim_end_matches('/'));
            let objects: Vec<ObjectMeta> = self.store.list(Some(&prefix)).try_collect().await?;
            if objects.is_empty() {
                return Err(missing(&format!("no object under {}", self.location)).await);
            }
            if holds_delta_log(&objects, &self.key) {
                return Err(DataFusionError::Execution(
                    S3Error::IsDelta(self.location.clone()).to_string(),
                ));
            }
            let zero = objects
                .iter()
                .find(|object| object.size == 0 && object.location.as_ref().ends_with(".parquet"));
            if let Some(object) = zero {
                let base = base_of(&self.location);
                return Err(empty(&format!("{base}/{}", object.location)));
            }
        } else {
            match self.store.head(&ObjectPath::from(self.key.as_str())).await {
                Ok(object) if object.size == 0 => return Err(empty(&self.location)),
                Ok(_) => {}
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(missing(&format!("object {} does not exist", self.location)).await);
                }
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl TableProvider for S3Table {
    fn schema(&self) -> SchemaRef {
        self.listing.schema()
    }

    fn table_type(&self) -> TableType {
        self.listing.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.check_exists().await?;
        self.listing.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.listing.supports_filters_pushdown(filters)
    }
}
