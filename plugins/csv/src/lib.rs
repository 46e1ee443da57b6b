//! The `csv` source plugin: CSV files read through DataFusion's listing table,
//! with the declared schema (never inferred) and columns matched by name.
//!
//! DataFusion's CSV reader applies a schema by position. This plugin reads the
//! header line first and orders the declared types as the file orders its
//! columns, so a file whose columns were reordered still reads correctly, and
//! a declared column missing from the file is an error naming it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::{Environment, TableSpec};
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
        let delimiter = spec.option("delimiter").unwrap_or(",").as_bytes()[0];
        let header = spec.option("header") != Some("false");
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
}

export_source!(Csv);

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
    let mut line = String::new();
    BufReader::new(file)
        .read_line(&mut line)
        .map_err(|error| format!("cannot read the header of {}: {error}", path.display()))?;
    let names: Vec<String> = line
        .trim_end_matches(['\r', '\n'])
        .split(char::from(delimiter))
        .map(|name| name.trim().trim_matches('"').to_owned())
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
