//! The `jsonl` source plugin: newline-delimited JSON files, one object per
//! line, read through DataFusion's listing table with the declared columns.
//!
//! Made by `cargo xtask new-plugin jsonl`. As generated it is a whole plugin:
//! it builds, loads, and passes the conformance suite. To read another format,
//! change `Jsonl::build` (the DataFusion provider that reads it),
//! `LocalFile::inspect` (what `codelake verify` compares with the
//! declaration) and [`JsonlError`]. The SDK does the rest: the C ABI, the
//! typed options, panic fences, the error chain, filters and `EXPLAIN`
//! (docs/how-to/add-a-source-plugin.md).
//!
//! JSON objects are decoded by key, so columns are matched by name: keys may
//! come in any order, a key the table does not declare is ignored, and a
//! missing key is null (an error for a column that is not an `Option`).
//!
//! What it must not know: the host (it meets it only through the SDK's C ABI)
//! and other source kinds.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::Environment;
use codelake_plugin_sdk::catalog_core::inspect::{InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::source::JsonlOptions;
use codelake_plugin_sdk::datafusion::arrow::array::{Array, RecordBatch};
use codelake_plugin_sdk::datafusion::arrow::datatypes::{FieldRef, Schema};
use codelake_plugin_sdk::datafusion::arrow::error::ArrowError;
use codelake_plugin_sdk::datafusion::arrow::json::ReaderBuilder;
use codelake_plugin_sdk::datafusion::arrow::json::reader::infer_json_schema;
use codelake_plugin_sdk::datafusion::datasource::file_format::json::JsonFormat;
use codelake_plugin_sdk::datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use codelake_plugin_sdk::datafusion::error::DataFusionError;
use codelake_plugin_sdk::{Built, Source, TableSource, export_source};

/// How many lines `verify` and `new-table` read to learn the file's keys.
const SAMPLE_LINES: usize = 1000;

/// Serves `jsonl` tables.
pub struct Jsonl;

impl Source for Jsonl {
    const NAME: &'static str = "jsonl";
    const KINDS: &'static [&'static str] = &["jsonl"];

    type Options = JsonlOptions;
    type Error = JsonlError;

    /// DataFusion's listing table over the file, with the declared schema
    /// (never one inferred from the data). A missing file is reported now,
    /// when the table is registered, rather than at its first query.
    fn build(
        table: &TableSource<'_, JsonlOptions>,
        env: &Environment,
    ) -> Result<Built, JsonlError> {
        let file = LocalFile::new(&table.options.location, env);
        file.open()?;
        let path = file
            .path
            .to_str()
            .ok_or_else(|| JsonlError::NotUtf8(file.path.clone()))?;
        let url = ListingTableUrl::parse(path)?;
        // A listing keeps only the files with its extension: the file's own.
        let extension = file
            .path
            .extension()
            .map(|extension| format!(".{}", extension.to_string_lossy()))
            .unwrap_or_default();
        let options =
            ListingOptions::new(Arc::new(JsonFormat::default())).with_file_extension(extension);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(Arc::new(table.spec.query_schema()));
        Ok(Built::provider(Arc::new(ListingTable::try_new(config)?)))
    }

    async fn inspect(
        table: &TableSource<'_, JsonlOptions>,
        env: &Environment,
        _request: &InspectRequest,
    ) -> Result<Inspection, JsonlError> {
        LocalFile::new(&table.options.location, env).inspect(&table.spec.query_schema())
    }
}

export_source!(Jsonl);

/// Why a `jsonl` table cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    /// The file is not there.
    #[error(
        "file {} does not exist (`location = \"{location}\"`, environment `{environment}`, data directory {}); \
         create it or fix `location`", path.display(), data_dir.display()
    )]
    Missing {
        /// The resolved path.
        path: PathBuf,
        /// The table's `location`.
        location: String,
        /// The environment's name.
        environment: String,
        /// The environment's data directory.
        data_dir: PathBuf,
    },
    /// The file is there but cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a JSON object whose values have the declared types.
    #[error("{} does not read as the table's declared columns; fix the file or the declaration", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        #[source]
        source: ArrowError,
    },
    /// DataFusion takes paths as UTF-8 text.
    #[error("path {} is not UTF-8; move the file to a UTF-8 path", .0.display())]
    NotUtf8(PathBuf),
    /// DataFusion refused the listing table.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// The file a table reads, in one environment.
#[derive(Debug)]
struct LocalFile {
    path: PathBuf,
    location: String,
    environment: String,
    data_dir: PathBuf,
}

impl LocalFile {
    /// An absolute path or `file://` URL as written, a relative one under the data directory.
    fn new(location: &str, env: &Environment) -> Self {
        Self {
            path: env.local_path(location),
            location: location.to_owned(),
            environment: env.name.clone(),
            data_dir: env.data_dir.clone(),
        }
    }

    fn open(&self) -> Result<File, JsonlError> {
        let file = File::open(&self.path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => self.missing(),
            _ => self.unreadable(source),
        })?;
        match file.metadata() {
            Ok(meta) if meta.is_file() => Ok(file),
            Ok(_) => Err(self.missing()),
            Err(source) => Err(self.unreadable(source)),
        }
    }

    fn missing(&self) -> JsonlError {
        JsonlError::Missing {
            path: self.path.clone(),
            location: self.location.clone(),
            environment: self.environment.clone(),
            data_dir: self.data_dir.clone(),
        }
    }

    fn unreadable(&self, source: std::io::Error) -> JsonlError {
        JsonlError::Read {
            path: self.path.clone(),
            source,
        }
    }

    fn undecodable(&self, source: ArrowError) -> JsonlError {
        JsonlError::Decode {
            path: self.path.clone(),
            source,
        }
    }

    /// The keys of the file's first lines, each typed as the table declares
    /// it (JSON itself knows only numbers, strings and booleans) and counted
    /// for nulls, and when the file last changed. A key the table does not
    /// declare keeps the type JSON gives it. A value that does not decode as
    /// declared is an error that names the file.
    fn inspect(&self, declared: &Schema) -> Result<Inspection, JsonlError> {
        let file = self.open()?;
        let modified = file
            .metadata()
            .and_then(|meta| meta.modified())
            .map_err(|source| self.unreadable(source))?;
        let (keys, _) = infer_json_schema(&mut BufReader::new(file), Some(SAMPLE_LINES))
            .map_err(|error| self.undecodable(error))?;
        let fields: Vec<FieldRef> = keys
            .fields()
            .iter()
            .map(|key| match declared.field_with_name(key.name()) {
                Ok(field) => Arc::new(field.clone().with_nullable(true)),
                Err(_) => Arc::clone(key),
            })
            .collect();
        let typed = Arc::new(Schema::new(fields));
        let sample = ReaderBuilder::new(Arc::clone(&typed))
            .with_batch_size(SAMPLE_LINES)
            .build(BufReader::new(self.open()?))
            .map_err(|error| self.undecodable(error))?
            .next()
            .transpose()
            .map_err(|error| self.undecodable(error))?
            .unwrap_or_else(|| RecordBatch::new_empty(Arc::clone(&typed)));
        let columns = typed
            .fields()
            .iter()
            .zip(sample.columns())
            .map(|(field, values)| LiveColumn {
                nulls: Some(values.null_count() as u64),
                ..LiveColumn::new(field.name(), field.data_type(), field.is_nullable())
            })
            .collect();
        let modified = modified
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64);
        Ok(Inspection {
            columns,
            objects: 1,
            sampled_rows: Some(sample.num_rows() as u64),
            newest_modified: Some(modified),
            newest_object: Some(self.path.display().to_string()),
            ..Inspection::default()
        })
    }
}
