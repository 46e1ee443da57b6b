//! The `delta` source plugin: Delta Lake tables on S3 or the local disk
//! (`source = "delta"`).
//!
//! The plugin replays the table's Delta log (`log.rs`: checkpoints, then
//! commits) to learn which Parquet files make up the version it reads, their
//! partition values and statistics; prunes those files with the query's
//! filters; and plans DataFusion's own Parquet scan over the rest, which the
//! host executes (`HOST_EXECUTES`), so no row crosses the plugin boundary.
//! `EXPLAIN` shows it as a `DataSourceExec` naming the live files.
//!
//! The log is replayed once per table and process. Afterwards a table that
//! follows the latest version reads only the commits made since, at most once
//! per `refresh` interval when the table declares one (else at each scan); a
//! table pinned with `version` or `timestamp` is never read again.
//!
//! What it must not know: the host (it meets it only through the SDK's C ABI)
//! and other source kinds; it reads its options only as the typed values the
//! SDK hands it. It implements Delta's reader protocol for tables without
//! column mapping or deletion vectors in use, and refuses the others by name.

use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::Environment;
use codelake_plugin_sdk::catalog_core::inspect::{Drift, InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::source::{DeltaOptions, DeltaVersion};
use codelake_plugin_sdk::datafusion::common::DataFusionError;
use codelake_plugin_sdk::datafusion::execution::object_store::ObjectStoreUrl;
use codelake_plugin_sdk::{Built, Source, TableSource, export_source};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

mod log;
mod schema;
mod table;

use log::{Log, Snapshot, Wanted};
use table::DeltaTable;

/// Why a `delta` table cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    /// The location names no bucket.
    #[error("`location = \"{0}\"` names no bucket")]
    NoBucket(String),
    /// A local path that is not UTF-8.
    #[error("`{}` is not UTF-8: rename it, or move the table", .0.display())]
    NotUtf8(std::path::PathBuf),
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
    /// No Delta table there; the message says whether the bucket or the log is missing.
    #[error("{message}")]
    NotFound {
        /// What is missing, and what to do.
        message: String,
        /// Whether the bucket itself is missing: then S3 was not reached as configured.
        bucket_missing: bool,
    },
    /// The store refused or failed a request.
    #[error("reading {location}: {error}{}", catalog_s3::hint(error))]
    Store {
        /// The table's root.
        location: String,
        /// The store's error.
        error: object_store::Error,
    },
    /// The log cannot be read as Delta's.
    #[error("the Delta log of {location}: {message}")]
    Log {
        /// The table's root, or the log file at fault.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The pinned version is not in the log.
    #[error(
        "{location} has no {wanted}: its versions end at {latest}; fix `version` or `timestamp`, or remove it to read the latest"
    )]
    NoSuchVersion {
        /// The table's root.
        location: String,
        /// The version or instant asked for.
        wanted: String,
        /// The newest version in the log.
        latest: u64,
    },
    /// A feature of the table this reader does not implement.
    #[error("{location} (version {version}) needs Delta feature `{feature}`: {why}")]
    Unsupported {
        /// The table's root.
        location: String,
        /// The version read.
        version: u64,
        /// The feature.
        feature: String,
        /// Why it is refused, and what to do.
        why: String,
    },
    /// A column type of the log that has no Arrow type here.
    #[error("the schema of {location} at version {version}: {message}")]
    Schema {
        /// The table's root.
        location: String,
        /// The version read.
        version: u64,
        /// Which column and type.
        message: String,
    },
    /// DataFusion refused the runtime environment.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// Reads `delta` tables.
pub struct Delta;

impl Source for Delta {
    const NAME: &'static str = "delta";
    const KINDS: &'static [&'static str] = &["delta"];
    type Options = DeltaOptions;
    type Error = DeltaError;
    /// Its scans are DataFusion's Parquet scans over the live files: the host executes them.
    const HOST_EXECUTES: bool = true;

    fn unreachable(error: &DeltaError) -> bool {
        match error {
            DeltaError::NoSettings { .. } | DeltaError::Client(_) => true,
            DeltaError::NotFound { bucket_missing, .. } => *bucket_missing,
            DeltaError::Store { error, .. } => catalog_s3::fault(error).is_some(),
            _ => false,
        }
    }

    /// The table, with no I/O: its log is first read when a scan is planned.
    fn build(
        table: &TableSource<'_, DeltaOptions>,
        env: &Environment,
    ) -> Result<Built, DeltaError> {
        let place = place(table.options, env)?;
        let reads = place.log.location.clone();
        let runtime_env = place.runtime_env.clone();
        let provider = DeltaTable::new(
            table.spec,
            place.log,
            place.url,
            wanted(&table.options.version),
            table
                .spec
                .refresh
                .as_ref()
                .map(|refresh| refresh.duration()),
        );
        Ok(Built::provider(Arc::new(provider))
            .reading(reads)
            .with_runtime_env(runtime_env))
    }

    /// The schema the log declares at the version read, the last commit's
    /// time as freshness, null counts from the files' statistics, and each
    /// change of the schema in the log that the declaration does not follow,
    /// named with the commit version that made it.
    async fn inspect(
        table: &TableSource<'_, DeltaOptions>,
        env: &Environment,
        _request: &InspectRequest,
    ) -> Result<Inspection, DeltaError> {
        let place = place(table.options, env)?;
        let snapshot = place.log.snapshot(&wanted(&table.options.version)).await?;
        let mut inspection = Inspection {
            objects: snapshot.files.len() as u64,
            newest_modified: Some(snapshot.committed_at.div_euclid(1000)),
            newest_object: Some(snapshot.commit_file.clone()),
            ..Inspection::default()
        };
        let nulls = null_counts(&snapshot);
        for delta in &snapshot.schema {
            let field = schema::field(delta).map_err(|message| DeltaError::Schema {
                location: place.log.location.clone(),
                version: snapshot.version,
                message,
            })?;
            let partition = snapshot.partition_columns.contains(&delta.name);
            inspection.columns.push(LiveColumn {
                nulls: nulls(&delta.name, partition),
                ..LiveColumn::new(field.name(), field.data_type(), field.is_nullable())
            });
        }
        inspection.problems = evolutions(table, &snapshot);
        Ok(inspection)
    }
}

/// How `DeltaVersion` is asked of the log.
fn wanted(version: &DeltaVersion) -> Wanted {
    match version {
        DeltaVersion::Latest => Wanted::Latest,
        DeltaVersion::At(version) => Wanted::Version(*version),
        DeltaVersion::AsOf { millis, text } => Wanted::AsOf {
            millis: *millis,
            text: text.clone(),
        },
    }
}

/// Nulls in a column over every live file, when every file's statistics count them.
fn null_counts(snapshot: &Snapshot) -> impl Fn(&str, bool) -> Option<u64> + '_ {
    move |column, partition| {
        snapshot.files.values().try_fold(0u64, |total, file| {
            let nulls = if partition {
                u64::from(file.partition_values.get(column)?.is_none())
                    * file.stats.as_ref()?.num_records?
            } else {
                file.stats.as_ref()?.null_count.get(column)?.as_u64()?
            };
            Some(total + nulls)
        })
    }
}

/// The changes of the schema in the log that the declaration does not follow:
/// for each column whose type in the log is not the declared one (or that
/// the declaration lacks, or the log dropped), the commit version that made it so.
fn evolutions(table: &TableSource<'_, DeltaOptions>, snapshot: &Snapshot) -> Vec<Drift> {
    // An undeclared table (`new-table`) has nothing to follow the log.
    let Some((first, _)) = snapshot
        .schemas
        .first()
        .filter(|_| !table.spec.columns.is_empty())
    else {
        return Vec::new();
    };
    let type_in = |fields: &[log::DeltaField], column: &str| {
        fields
            .iter()
            .find(|field| field.name == column)
            .map(|field| schema::arrow_type(&field.data_type).map_or_else(|e| e, |t| t.to_string()))
    };
    let mut names: Vec<&str> = snapshot.schema.iter().map(|f| f.name.as_str()).collect();
    for column in table.spec.columns.iter() {
        if !names.contains(&&*column.name) {
            names.push(&column.name);
        }
    }
    let mut drifts = Vec::new();
    for column in names {
        let now = type_in(&snapshot.schema, column);
        let declared = table
            .spec
            .column(column)
            .map(|c| c.ty.to_arrow().to_string());
        if now == declared || (now.is_some() && declared.is_some() && same_text(&now, &declared)) {
            continue;
        }
        // The last commit whose schema changed this column to what it is now.
        let mut since = None;
        let mut before = None;
        for window in snapshot.schemas.windows(2) {
            let (old, new) = (&window[0].1, &window[1]);
            let (then, after) = (type_in(old, column), type_in(&new.1, column));
            if then != after {
                since = Some(new.0);
                before = then;
            }
        }
        let Some(version) = since.filter(|version| version > first) else {
            continue;
        };
        let change = match (&before, &now) {
            (None, Some(now)) => format!("added as {now}"),
            (Some(before), Some(now)) => format!("retyped from {before} to {now}"),
            (Some(before), None) => format!("dropped (it was {before})"),
            (None, None) => continue,
        };
        drifts.push(Drift::SchemaEvolved {
            column: column.to_owned(),
            version,
            change,
        });
    }
    drifts
}

/// Whether two type names are the same but for how strings are read.
fn same_text(a: &Option<String>, b: &Option<String>) -> bool {
    let plain = |text: &Option<String>| text.as_deref().map(|t| t.replace("Utf8View", "Utf8"));
    plain(a) == plain(b)
}

/// Where a table's log and files are, and how to reach them.
struct Place {
    log: Log,
    /// The URL of the store the scans read from: `s3://bucket` or `file://`.
    url: ObjectStoreUrl,
    runtime_env: Arc<codelake_plugin_sdk::datafusion::execution::runtime_env::RuntimeEnv>,
}

fn place(options: &DeltaOptions, env: &Environment) -> Result<Place, DeltaError> {
    let runtime_env = codelake_plugin_sdk::runtime_env_builder().build_arc()?;
    if options.on_s3() {
        let location = env.s3_location(&options.location);
        let (bucket, key) = location
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .filter(|(bucket, _)| !bucket.is_empty())
            .ok_or_else(|| DeltaError::NoBucket(location.clone()))?;
        let settings = env.s3.as_ref().ok_or_else(|| DeltaError::NoSettings {
            environment: env.name.clone(),
            location: location.clone(),
        })?;
        let store: Arc<dyn ObjectStore> = catalog_s3::shared_store(bucket, settings)?;
        let url = ObjectStoreUrl::parse(format!("s3://{bucket}"))?;
        runtime_env.register_object_store(url.as_ref(), Arc::clone(&store));
        let key = key.trim_end_matches('/');
        let root = ObjectPath::parse(key).unwrap_or_else(|_| ObjectPath::from(key));
        return Ok(Place {
            log: Log {
                store,
                root,
                location: format!("s3://{bucket}/{key}/"),
            },
            url,
            runtime_env,
        });
    }
    let path = env.local_path(&options.location);
    let text = path
        .to_str()
        .ok_or_else(|| DeltaError::NotUtf8(path.clone()))?;
    let store: Arc<dyn ObjectStore> = Arc::new(catalog_s3::LocalFiles::new());
    Ok(Place {
        log: Log {
            store,
            root: ObjectPath::from_absolute_path(text.trim_end_matches('/')).map_err(|error| {
                DeltaError::Log {
                    location: text.to_owned(),
                    message: format!("not a path the store can read: {error}"),
                }
            })?,
            location: format!("{}/", text.trim_end_matches('/')),
        },
        url: ObjectStoreUrl::local_filesystem(),
        runtime_env,
    })
}

export_source!(Delta);
