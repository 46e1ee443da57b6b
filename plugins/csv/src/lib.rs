//! The `csv` source plugin: CSV files, on the local disk or on S3, read
//! through DataFusion's listing table, with the declared schema (never
//! inferred) and columns matched by name.
//!
//! DataFusion's CSV reader applies a schema by position. This plugin reads the
//! header line first and orders the declared types as the file orders its
//! columns, so a file whose columns were reordered still reads correctly, and
//! a declared column missing from the file is an error naming it.
//!
//! What it must not know: the host (it meets it only through the SDK's C ABI)
//! and other source kinds; it reads its options only as the typed values the
//! SDK hands it.

use std::path::Path;
use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::inspect::{Drift, InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::source::CsvOptions;
use codelake_plugin_sdk::catalog_core::{ColumnType, Environment};
use codelake_plugin_sdk::datafusion::arrow::array::{Array, AsArray};
use codelake_plugin_sdk::datafusion::arrow::compute::{CastOptions, cast_with_options};
use codelake_plugin_sdk::datafusion::arrow::csv::reader::{Format, ReaderBuilder};
use codelake_plugin_sdk::datafusion::arrow::datatypes::{DataType, Field, Schema};
use codelake_plugin_sdk::datafusion::arrow::error::ArrowError;
use codelake_plugin_sdk::datafusion::datasource::file_format::csv::CsvFormat;
use codelake_plugin_sdk::datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use codelake_plugin_sdk::datafusion::error::DataFusionError;
use codelake_plugin_sdk::{Built, Source, TableSource, export_source};

mod check;
mod error;
mod file;
mod present;

use check::FileCheck;
pub use error::CsvError;
use error::{fields_error, value_error};
use file::CsvFile;

/// Reads `csv` tables.
pub struct Csv;

impl Source for Csv {
    const NAME: &'static str = "csv";
    const KINDS: &'static [&'static str] = &["csv"];
    /// Its scans are DataFusion's own CSV scans, which the host executes:
    /// read in byte ranges on every core, with native metrics, and no row
    /// crossing the boundary. A file is first read once here, in full, to
    /// check that it reads as declared (`check.rs`); one that does not is
    /// streamed through this plugin, whose errors name the line.
    const HOST_EXECUTES: bool = true;
    type Options = CsvOptions;
    type Error = CsvError;

    /// No S3 settings or client, or a store error that says S3 itself was
    /// not reached: the source is unreachable. A missing or bad file is the data's fault.
    fn unreachable(error: &CsvError) -> bool {
        match error {
            CsvError::NoSettings { .. } | CsvError::Client(_) => true,
            CsvError::Store { error, .. } => catalog_s3::fault(error).is_some(),
            _ => false,
        }
    }

    fn build(table: &TableSource<'_, CsvOptions>, env: &Environment) -> Result<Built, CsvError> {
        let CsvOptions {
            delimiter, header, ..
        } = *table.options;
        let file = Arc::new(CsvFile::of(table.options, env)?);
        let runtime = codelake_plugin_sdk::runtime();
        let meta = runtime.block_on(file.existing(env))?;
        let path = file.name();
        let declared = table.spec.query_schema();
        let schema = if header {
            let start = runtime.block_on(file.head_bytes(HEADER_BYTES))?;
            schema_in_file_order(start, &path, meta.size == 0, delimiter, &declared)?
        } else {
            declared
        };

        // In the order the reader numbers them, for naming a bad value's column.
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let url = ListingTableUrl::parse(file.url()?)?;
        let format = CsvFormat::default()
            .with_has_header(header)
            .with_delimiter(delimiter);
        let extension = path
            .extension()
            .map(|extension| format!(".{}", extension.to_string_lossy()))
            .unwrap_or_default();
        let options = ListingOptions::new(Arc::new(format)).with_file_extension(extension);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(Arc::new(schema));
        let listing = ListingTable::try_new(config)?;
        let check = FileCheck {
            file: Arc::clone(&file),
            schema: codelake_plugin_sdk::datafusion::catalog::TableProvider::schema(&listing),
            header,
            delimiter,
            columns: columns.clone(),
            checked: Arc::default(),
        };
        // DataFusion reads a larger file in byte ranges, each counting its lines
        // from its own start: a line number is the file's only in a file read whole.
        let whole = meta.size <= DATAFUSION_REPARTITION_FILE_MIN_SIZE;
        let missing = file.missing(env).to_string();
        let present = present::Present::new(listing, Arc::clone(&file), missing);
        let mut built = Built::provider(Arc::new(present))
            .checking_files(move |objects| Box::pin(check.clone().run(objects)));
        if let Some(runtime_env) = file.runtime_env() {
            built = built
                .with_runtime_env(runtime_env)
                .reading(path.display().to_string());
        }
        Ok(built.explaining(move |error| {
            let text = error.to_string();
            let explained = fields_error(&path, &text, whole)
                .or_else(|| value_error(&path, &columns, &text, whole))
                .map(|explained| DataFusionError::Execution(explained.to_string()));
            Box::pin(async move { explained.unwrap_or(error) })
        }))
    }

    /// The header's names, and a sample read as text and then parsed with each
    /// declared column's type, so a value that does not parse is named with its
    /// row. Undeclared columns get the type the sample looks like.
    async fn inspect(
        table: &TableSource<'_, CsvOptions>,
        env: &Environment,
        request: &InspectRequest,
    ) -> Result<Inspection, CsvError> {
        let spec = table.spec;
        let CsvOptions {
            delimiter, header, ..
        } = *table.options;
        let file = CsvFile::of(table.options, env)?;
        let meta = file.existing(env).await?;
        let path = file.name();
        let sample = usize::try_from(request.sample_rows.max(1)).unwrap_or(usize::MAX);
        let format = Format::default()
            .with_header(header)
            .with_delimiter(delimiter);
        let unreadable = |source: ArrowError| {
            fields_error(&path, &source.to_string(), true).unwrap_or_else(|| CsvError::Read {
                path: path.clone(),
                source,
            })
        };
        let open = file.opener().await?;
        let (inferred, _) = format
            .infer_schema(open()?, Some(sample))
            .map_err(unreadable)?;
        let names: Vec<String> = inferred
            .fields()
            .iter()
            .enumerate()
            .map(|(i, field)| match (header, spec.columns.get(i)) {
                (false, Some(declared)) => declared.name.to_string(),
                // As the table reads them: surrounding spaces are not part of a name.
                _ => field.name().trim().to_owned(),
            })
            .collect();
        let text = Schema::new(
            names
                .iter()
                .map(|name| Field::new(name, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        );
        let batch = ReaderBuilder::new(Arc::new(text))
            .with_format(format)
            .with_batch_size(sample)
            .build(open()?)
            .map_err(unreadable)?
            .next()
            .transpose()
            .map_err(unreadable)?;
        let rows = batch.as_ref().map_or(0, |batch| batch.num_rows());
        let mut inspection = Inspection {
            objects: 1,
            sampled_rows: Some(rows as u64),
            newest_modified: meta.modified,
            newest_object: Some(path.display().to_string()),
            ..Inspection::default()
        };
        for (i, name) in names.iter().enumerate() {
            let looks_like = text_type(inferred.field(i).data_type());
            let Some(batch) = &batch else {
                inspection.columns.push(LiveColumn {
                    nulls: Some(0),
                    ..live(name, looks_like, false)
                });
                continue;
            };
            let values = batch.column(i);
            let nulls = values.null_count() as u64;
            let Some(declared) = spec.column(name) else {
                inspection.columns.push(LiveColumn {
                    nulls: Some(nulls),
                    ..live(name, looks_like, nulls > 0)
                });
                continue;
            };
            let target = declared.ty.to_arrow();
            let options = CastOptions {
                safe: true,
                ..CastOptions::default()
            };
            let parsed =
                cast_with_options(values, &target, &options).map_err(|source| CsvError::Cast {
                    column: name.clone(),
                    source,
                })?;
            let text = values.as_string::<i32>();
            let bad = (0..values.len()).find(|&row| {
                values.is_valid(row) && (parsed.is_null(row) || !reads_as(text.value(row), &target))
            });
            if let Some(row) = bad {
                inspection.problems.push(Drift::BadValue {
                    column: name.clone(),
                    declared: declared.ty.to_string(),
                    value: shorten(values.as_string::<i32>().value(row)),
                    at: format!("data row {} of {}", row + 1, path.display()),
                    looks_like: Some(looks_like.to_string()),
                });
            }
            inspection.columns.push(LiveColumn {
                nulls: Some(nulls),
                ..live(name, declared.ty, nulls > 0)
            });
        }
        Ok(inspection)
    }
}

export_source!(Csv);

/// How much of the file is read for its header line.
const HEADER_BYTES: u64 = 1 << 20;

/// DataFusion's default `repartition_file_min_size`: a file above it may be
/// read in several byte ranges.
const DATAFUSION_REPARTITION_FILE_MIN_SIZE: u64 = 10 * 1024 * 1024;

/// Whether the CSV reader reads `value` as `target`, where Arrow's cast is
/// laxer than the reader: a cast takes `yes`, `on` and `1` as booleans, the
/// reader only `true` and `false` (in any case), and a table is read by the
/// reader.
fn reads_as(value: &str, target: &DataType) -> bool {
    match target {
        DataType::Boolean => {
            value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")
        }
        _ => true,
    }
}

fn live(name: &str, ty: ColumnType, nullable: bool) -> LiveColumn {
    LiveColumn::new(name, &ty.to_arrow(), nullable)
}

/// The column type CSV text inferred as `data_type` parses into: text parses
/// into any timestamp unit, and a column of empty values is text.
fn text_type(data_type: &DataType) -> ColumnType {
    match data_type {
        DataType::Timestamp(_, zone) => ColumnType::Timestamp {
            utc: zone.is_some(),
        },
        DataType::Int8 | DataType::Int16 | DataType::Int32 => ColumnType::Int64,
        other => ColumnType::from_arrow(other).unwrap_or(ColumnType::Utf8),
    }
}

/// A value for a message: at most 40 characters.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// The declared fields, in the order the file's header names them. Columns the
/// declaration does not know are read as nullable text (and can be ignored).
fn schema_in_file_order(
    start: impl std::io::Read,
    path: &Path,
    empty: bool,
    delimiter: u8,
    declared: &Schema,
) -> Result<Schema, CsvError> {
    // The CSV reader's own header parsing: quoted names, delimiters in quotes.
    let (header, _) = Format::default()
        .with_header(true)
        .with_delimiter(delimiter)
        .infer_schema(start, Some(0))
        .map_err(|source| CsvError::Header {
            path: path.to_owned(),
            source,
        })?;
    let names: Vec<String> = header
        .fields()
        .iter()
        .map(|field| field.name().trim().to_owned())
        .collect();
    if names.is_empty() && empty {
        return Err(CsvError::Empty {
            path: path.to_owned(),
        });
    }
    let missing: Vec<&str> = declared
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .filter(|name| !names.iter().any(|header| header == name))
        .collect();
    if !missing.is_empty() {
        return Err(CsvError::MissingColumns {
            path: path.to_owned(),
            missing: missing
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", "),
            header: names.join(", "),
        });
    }
    let fields: Vec<Field> = names
        .iter()
        .map(|name| match declared.field_with_name(name) {
            Ok(field) => field.clone(),
            Err(_) => Field::new(name, DataType::Utf8, true),
        })
        .collect();
    Ok(Schema::new(fields).with_metadata(declared.metadata().clone()))
}
