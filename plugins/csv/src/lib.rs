//! The `csv` source plugin: CSV files read through DataFusion's listing table,
//! with the declared schema (never inferred) and columns matched by name.
//!
//! DataFusion's CSV reader applies a schema by position. This plugin reads the
//! header line first and orders the declared types as the file orders its
//! columns, so a file whose columns were reordered still reads correctly, and
//! a declared column missing from the file is an error naming it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::inspect::{Drift, InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::{ColumnType, Environment, TableSpec};
use codelake_plugin_sdk::datafusion::arrow::array::{Array, AsArray};
use codelake_plugin_sdk::datafusion::arrow::compute::{CastOptions, cast_with_options};
use codelake_plugin_sdk::datafusion::arrow::csv::reader::{Format, ReaderBuilder};
use codelake_plugin_sdk::datafusion::arrow::datatypes::{DataType, Field, Schema};
use codelake_plugin_sdk::datafusion::catalog::TableProvider;
use codelake_plugin_sdk::datafusion::datasource::file_format::csv::CsvFormat;
use codelake_plugin_sdk::datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use codelake_plugin_sdk::{Source, export_source};

/// Reads `csv` tables.
pub struct Csv;

impl Source for Csv {
    const NAME: &'static str = "csv";
    const KINDS: &'static [&'static str] = &["csv"];

    fn provider(spec: &TableSpec, env: &Environment) -> Result<Arc<dyn TableProvider>, String> {
        let path = file(spec, env)?;
        let (delimiter, header) = dialect(spec);
        let declared = spec.arrow_schema();
        let schema = if header {
            schema_in_file_order(&path, delimiter, &declared)?
        } else {
            declared
        };

        let path_text = path
            .to_str()
            .ok_or_else(|| format!("path {} is not UTF-8", path.display()))?;
        let url = ListingTableUrl::parse(path_text).map_err(|error| error.to_string())?;
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
        let table = ListingTable::try_new(config).map_err(|error| error.to_string())?;
        Ok(Arc::new(table))
    }

    /// The header's names, and a sample read as text and then parsed with each
    /// declared column's type, so a value that does not parse is named with its
    /// row. Undeclared columns get the type the sample looks like.
    async fn inspect(
        spec: &TableSpec,
        env: &Environment,
        request: &InspectRequest,
    ) -> Result<Inspection, String> {
        let path = file(spec, env)?;
        let (delimiter, header) = dialect(spec);
        let sample = usize::try_from(request.sample_rows.max(1)).unwrap_or(usize::MAX);
        let format = Format::default()
            .with_header(header)
            .with_delimiter(delimiter);
        let unreadable =
            |error: &dyn std::fmt::Display| format!("cannot read {}: {error}", path.display());
        let open = || File::open(&path).map_err(|error| unreadable(&error));
        let (inferred, _) = format
            .infer_schema(open()?, Some(sample))
            .map_err(|error| unreadable(&error))?;
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
            .map_err(|error| unreadable(&error))?
            .next()
            .transpose()
            .map_err(|error| unreadable(&error))?;
        let rows = batch.as_ref().map_or(0, |batch| batch.num_rows());
        let mut inspection = Inspection {
            objects: 1,
            sampled_rows: Some(rows as u64),
            newest_modified: modified(&path),
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
            let parsed = cast_with_options(values, &target, &options)
                .map_err(|error| format!("column `{name}`: {error}"))?;
            let bad = (0..values.len()).find(|&row| values.is_valid(row) && parsed.is_null(row));
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

/// The table's file, which must exist.
fn file(spec: &TableSpec, env: &Environment) -> Result<PathBuf, String> {
    let location = spec.option("location").ok_or("no `location` option")?;
    if location.starts_with("s3://") {
        return Err(format!(
            "`location = \"{location}\"`: CSV on S3 is not supported yet; copy the file under the data directory"
        ));
    }
    let path = resolve(location, env);
    if !path.is_file() {
        return Err(format!(
            "file {} does not exist (`location = \"{location}\"`, environment `{}`, data directory {}); \
             create it or fix `location`",
            path.display(),
            env.name,
            env.data_dir.display()
        ));
    }
    Ok(path)
}

/// The delimiter, and whether the first line is a header.
fn dialect(spec: &TableSpec) -> (u8, bool) {
    let delimiter = spec.option("delimiter").unwrap_or(",").as_bytes()[0];
    let header = spec.option("header") != Some("false");
    (delimiter, header)
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

/// The file's last-modified time, in seconds since the Unix epoch.
fn modified(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let seconds = modified
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    i64::try_from(seconds).ok()
}

/// A relative location lives under the environment's data directory.
fn resolve(location: &str, env: &Environment) -> PathBuf {
    let location = location.strip_prefix("file://").unwrap_or(location);
    let path = Path::new(location);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        env.data_dir.join(path)
    }
}

/// The declared fields, in the order the file's header names them. Columns the
/// declaration does not know are read as nullable text (and can be ignored).
fn schema_in_file_order(path: &Path, delimiter: u8, declared: &Schema) -> Result<Schema, String> {
    let file =
        File::open(path).map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    // The CSV reader's own header parsing: quoted names, delimiters in quotes.
    let (header, _) = Format::default()
        .with_header(true)
        .with_delimiter(delimiter)
        .infer_schema(file, Some(0))
        .map_err(|error| format!("cannot read the header of {}: {error}", path.display()))?;
    let names: Vec<String> = header
        .fields()
        .iter()
        .map(|field| field.name().trim().to_owned())
        .collect();
    let missing: Vec<&str> = declared
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .filter(|name| !names.iter().any(|header| header == name))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} has no column {} (its header is: {}); fix the file or the declaration",
            path.display(),
            missing
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", "),
            names.join(", ")
        ));
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
