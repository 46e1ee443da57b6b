//! [`Target`]: where one table's sample data goes, and how it is written
//! there (Parquet through S3 or the local disk, a Delta table, CSV into the
//! data directory or through S3).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use catalog_core::source::{CsvOptions, ParquetOptions, S3ParquetOptions, SourceOptions};
use catalog_core::{Environment, TableSpec};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::cast;
use futures::StreamExt;
use indicatif::ProgressBar;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::delta::{DeltaTarget, FIRST_COMMIT};
use super::layout::Layout;
use super::{Batches, SPOOL_PREFIX, upload};

/// Where one table's data goes.
pub(super) enum Target {
    S3 {
        store: Arc<dyn ObjectStore>,
        location: String,
        path: ObjectPath,
        /// Where the Parquet file is written before it is uploaded: the data directory.
        spool: PathBuf,
    },
    /// The declared location (relative to the data directory), the path, and
    /// the table's CSV dialect.
    File(String, PathBuf, CsvOptions),
    /// A Delta table, and the location of its first commit (recorded in the marker).
    Delta(DeltaTarget, String),
    /// A CSV object on S3: written beside the data, then uploaded.
    CsvObject {
        store: Arc<dyn ObjectStore>,
        location: String,
        path: ObjectPath,
        spool: PathBuf,
        csv: CsvOptions,
    },
}

impl Target {
    pub(super) fn of(env: &Environment, spec: &TableSpec) -> anyhow::Result<Self> {
        let declared = match spec.source_options()? {
            SourceOptions::Csv(csv) if csv.on_s3() => {
                let location = env.s3_location(&csv.location);
                let (bucket, key) = location
                    .strip_prefix("s3://")
                    .and_then(|rest| rest.split_once('/'))
                    .unwrap_or_default();
                let s3 = env.s3.as_ref().ok_or_else(|| {
                    anyhow::anyhow!("environment `{}` has no S3 settings", env.name)
                })?;
                return Ok(Self::CsvObject {
                    store: Arc::new(catalog_s3::store(bucket, s3)?),
                    path: ObjectPath::from(key),
                    location,
                    spool: env.data_dir.clone(),
                    csv,
                });
            }
            SourceOptions::Csv(csv) => {
                let path = env.data_dir.join(&csv.location);
                return Ok(Self::File(csv.location.clone(), path, csv));
            }
            SourceOptions::S3Parquet(S3ParquetOptions { location, .. }) => location,
            // Local Parquet: written through object_store's local file system,
            // as S3 objects are through the S3 client.
            SourceOptions::Parquet(ParquetOptions { location, .. }) => {
                let mut path = env.local_path(&location);
                if location.ends_with('/') {
                    path.push("part-0.parquet");
                }
                let parent = path.parent().unwrap_or(&env.data_dir).to_path_buf();
                std::fs::create_dir_all(&parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
                let object = ObjectPath::from_absolute_path(&path).with_context(|| {
                    format!(
                        "table `{}`: `{location}` is not a path",
                        spec.qualified_name()
                    )
                })?;
                return Ok(Self::S3 {
                    store: Arc::new(object_store::local::LocalFileSystem::new()),
                    path: object,
                    location: path.display().to_string(),
                    spool: parent,
                });
            }
            SourceOptions::Delta(delta) => return Self::delta(env, spec, &delta),
            other => anyhow::bail!(
                "table `{}`: source `{}` is not seeded",
                spec.qualified_name(),
                other.kind()
            ),
        };
        let mut location = env.s3_location(&declared);
        // A prefix (a table of many files) gets one file of its own.
        if location.ends_with('/') {
            location.push_str("part-0.parquet");
        }
        let (bucket, key) = location
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "table `{}`: `{declared}` is not s3://bucket/key",
                    spec.qualified_name()
                )
            })?;
        let s3 = env
            .s3
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("environment `{}` has no S3 settings", env.name))?;
        let store = catalog_s3::store(bucket, s3)?;
        Ok(Self::S3 {
            store: Arc::new(store),
            path: ObjectPath::from(key),
            location,
            spool: env.data_dir.clone(),
        })
    }

    /// A Delta table's target: its root on S3 or on the local disk.
    fn delta(
        env: &Environment,
        spec: &TableSpec,
        delta: &catalog_core::source::DeltaOptions,
    ) -> anyhow::Result<Self> {
        if !delta.on_s3() {
            let path = env.local_path(&delta.location);
            std::fs::create_dir_all(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let root = ObjectPath::from_absolute_path(&path).with_context(|| {
                format!(
                    "table `{}`: `{}` is not a path",
                    spec.qualified_name(),
                    delta.location
                )
            })?;
            let commit = path.join(FIRST_COMMIT).display().to_string();
            let target = DeltaTarget {
                store: Arc::new(object_store::local::LocalFileSystem::new()),
                root,
                spool: env.data_dir.clone(),
            };
            return Ok(Self::Delta(target, commit));
        }
        let location = env.s3_location(&delta.location);
        let (bucket, key) = location
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "table `{}`: `{}` is not s3://bucket/prefix/",
                    spec.qualified_name(),
                    delta.location
                )
            })?;
        let s3 = env
            .s3
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("environment `{}` has no S3 settings", env.name))?;
        let key = key.trim_end_matches('/');
        // A seed replaces what is under the root: never a whole bucket.
        anyhow::ensure!(
            !key.is_empty(),
            "table `{}`: `data seed` writes a Delta table under a prefix of its own, not at the root of bucket `{bucket}`; give `location` a prefix",
            spec.qualified_name()
        );
        let target = DeltaTarget {
            store: Arc::new(catalog_s3::store(bucket, s3)?),
            root: ObjectPath::from(key),
            spool: env.data_dir.clone(),
        };
        Ok(Self::Delta(
            target,
            format!("s3://{bucket}/{key}/{FIRST_COMMIT}"),
        ))
    }

    /// Whether the data is written as Parquet (and so laid out by a [`Layout`]).
    pub(super) fn is_parquet(&self) -> bool {
        matches!(self, Self::S3 { .. } | Self::Delta(..))
    }

    /// The location recorded in the marker: `s3://bucket/key`, or the path under the data directory.
    pub(super) fn location(&self) -> String {
        match self {
            Self::S3 { location, .. }
            | Self::Delta(_, location)
            | Self::CsvObject { location, .. } => location.clone(),
            Self::File(declared, ..) => declared.clone(),
        }
    }

    pub(super) fn describe(&self) -> String {
        match self {
            Self::S3 { location, .. }
            | Self::Delta(_, location)
            | Self::CsvObject { location, .. } => location.clone(),
            Self::File(_, path, _) => path.display().to_string(),
        }
    }

    /// The size of what is there now, if anything.
    pub(super) async fn size(&self) -> anyhow::Result<Option<u64>> {
        match self {
            Self::S3 {
                store,
                path,
                location,
                ..
            }
            | Self::CsvObject {
                store,
                path,
                location,
                ..
            } => match store.head(path).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(error) => {
                    Err(anyhow::Error::new(error).context(format!("cannot check {location}")))
                }
            },
            Self::File(_, path, _) => Ok(std::fs::metadata(path).ok().map(|meta| meta.len())),
            Self::Delta(delta, location) => match delta.store.head(&delta.commit()).await {
                Ok(meta) => Ok(Some(meta.size)),
                // Files but no first commit: a table whose log was cleaned up,
                // or a seed that stopped before its commit (which the marker
                // then claims, with size 0). Either way, not nothing.
                Err(object_store::Error::NotFound { .. }) => {
                    let any = delta.store.list(Some(&delta.root)).next().await;
                    Ok(any.map(|_| 0))
                }
                Err(error) => {
                    Err(anyhow::Error::new(error).context(format!("cannot check {location}")))
                }
            },
        }
    }

    /// Writes a table's batches here, as its source's format: Parquet written
    /// whole beside the data, then sent to S3 as one multipart upload; or CSV
    /// with the declared delimiter and header (written aside, then renamed).
    /// Either way a reader never sees half a file. The rows written.
    pub(super) async fn write(
        &self,
        spec: &TableSpec,
        batches: Batches,
        layout: &Layout,
        progress: &ProgressBar,
    ) -> anyhow::Result<usize> {
        if let Self::Delta(delta, _) = self {
            return delta.write(spec, batches, layout, progress).await;
        }
        let table = spec.qualified_name();
        let declared = Arc::new(spec.arrow_schema());
        let mut rows = 0;
        let counted = progress.clone();
        let batches: Batches = Box::new(batches.inspect(move |batch| {
            if let Ok(batch) = batch {
                counted.inc(batch.num_rows() as u64);
            }
        }));
        // tpchgen's strings are views; the catalog's are `Utf8`: cast column by
        // column to the declared type, after checking the names line up.
        let mut conform = |batch: RecordBatch| -> anyhow::Result<RecordBatch> {
            let names: Vec<&String> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|f| f.name())
                .collect();
            let want: Vec<&String> = declared.fields().iter().map(|f| f.name()).collect();
            anyhow::ensure!(
                names == want,
                "table `{table}`: tpchgen generates columns {names:?}, but the catalog declares {want:?}; align the struct with the generator"
            );
            let columns = batch
                .columns()
                .iter()
                .zip(declared.fields())
                .map(|(column, field)| cast(column, field.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            rows += batch.num_rows();
            Ok(RecordBatch::try_new(Arc::clone(&declared), columns)?)
        };
        match self {
            Self::S3 {
                store,
                path,
                location,
                spool,
            } => {
                // Written whole to a file beside the data first: a batch that fails
                // never reaches S3, and the object is then one multipart upload.
                let cannot = |error: &dyn std::fmt::Display| {
                    anyhow::anyhow!("cannot write {location}: {error}")
                };
                let file = tempfile::Builder::new()
                    .prefix(SPOOL_PREFIX)
                    .suffix(".parquet")
                    .tempfile_in(spool)
                    .map_err(|error| cannot(&error))?;
                let spooled = async {
                    // A sorted table is written sorted first, then its row groups
                    // are interleaved into the file to upload.
                    let sorted = if layout.sorts() {
                        Some(
                            tempfile::Builder::new()
                                .prefix(SPOOL_PREFIX)
                                .suffix(".sorted.parquet")
                                .tempfile_in(spool)?,
                        )
                    } else {
                        None
                    };
                    let first = sorted.as_ref().map_or(file.as_file(), |f| f.as_file());
                    let mut writer = parquet::arrow::ArrowWriter::try_new(
                        std::io::BufWriter::new(first),
                        Arc::clone(&declared),
                        Some(layout.properties()),
                    )?;
                    // The sort's spill files go in a folder of the seed's own
                    // (removed when the sort ends, or by the next seed if this
                    // one is killed), not loose in the data directory.
                    let spill = tempfile::Builder::new()
                        .prefix(SPOOL_PREFIX)
                        .tempdir_in(spool)?;
                    let mut ordered = layout.order(batches, spill.path()).await?;
                    while let Some(batch) = ordered.next().await {
                        writer.write(&conform(batch?)?)?;
                    }
                    drop(ordered);
                    writer.close()?;
                    if let Some(sorted) = sorted {
                        layout.interleave(sorted.path(), file.as_file())?;
                    }
                    anyhow::Ok(())
                }
                .await;
                spooled.with_context(|| {
                    format!(
                        "cannot write {location} (spooled in {})",
                        file.path().display()
                    )
                })?;
                upload(store.as_ref(), path, file.path())
                    .await
                    .with_context(|| format!("cannot write {location}"))?;
            }
            Self::Delta(..) => unreachable!("written above"),
            Self::CsvObject {
                store,
                location,
                path,
                spool,
                csv,
            } => {
                let cannot = |error: &dyn std::fmt::Display| {
                    anyhow::anyhow!("cannot write {location}: {error}")
                };
                let file = tempfile::Builder::new()
                    .prefix(SPOOL_PREFIX)
                    .suffix(".csv")
                    .tempfile_in(spool)
                    .map_err(|error| cannot(&error))?;
                let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                    .with_delimiter(csv.delimiter)
                    .with_header(csv.header)
                    .build(std::io::BufWriter::new(file.reopen()?));
                for batch in batches {
                    writer.write(&conform(batch?)?)?;
                }
                writer
                    .into_inner()
                    .into_inner()
                    .map_err(|error| cannot(&error.into_error()))?;
                upload(store.as_ref(), path, file.path())
                    .await
                    .with_context(|| format!("cannot write {location}"))?;
            }
            Self::File(_, path, csv) => {
                let io = |error: std::io::Error| {
                    anyhow::anyhow!("cannot write {}: {error}", path.display())
                };
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let tmp = path.with_extension("seed-tmp");
                let file = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io)?);
                let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                    .with_delimiter(csv.delimiter)
                    .with_header(csv.header)
                    .build(file);
                for batch in batches {
                    writer.write(&conform(batch?)?)?;
                }
                writer
                    .into_inner()
                    .into_inner()
                    .map_err(|e| io(e.into_error()))?;
                std::fs::rename(&tmp, path).map_err(io)?;
            }
        }
        Ok(rows)
    }
}
