//! The `csv` source plugin: CSV files read through DataFusion's listing table,
//! with the declared schema (never inferred) and columns matched by name.
//!
//! DataFusion's CSV reader applies a schema by position. This plugin reads the
//! header line first and orders the declared types as the file orders its
//! columns, so a file whose columns were reordered still reads correctly, and
//! a declared column missing from the file is an error naming it.
//!
//! What it must not know: the host (it meets it only through the SDK's C ABI)
//! and other source kinds; it reads its options only as the typed values the
//! SDK hands it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use codelake_plugin_sdk::catalog_core::inspect::{Drift, InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::source::CsvOptions;
use codelake_plugin_sdk::catalog_core::{ColumnType, Environment};
use codelake_plugin_sdk::datafusion::arrow::array::{Array, AsArray};
use codelake_plugin_sdk::datafusion::arrow::compute::{CastOptions, cast_with_options};
use codelake_plugin_sdk::datafusion::arrow::csv::reader::{Format, ReaderBuilder};
use codelake_plugin_sdk::datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use codelake_plugin_sdk::datafusion::arrow::error::ArrowError;
use codelake_plugin_sdk::datafusion::datasource::file_format::csv::CsvFormat;
use codelake_plugin_sdk::datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use codelake_plugin_sdk::datafusion::error::DataFusionError;
use codelake_plugin_sdk::datafusion::object_store::ObjectMeta;
use codelake_plugin_sdk::{Built, Source, TableSource, export_source};

/// Why a CSV table cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
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
    /// The path cannot be given to DataFusion.
    #[error("path {} is not UTF-8", .0.display())]
    NotUtf8(PathBuf),
    /// The file cannot be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file cannot be read as CSV.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ArrowError,
    },
    /// A line whose number of fields is not the table's: said in fields,
    /// where Arrow's reader says "records", with the file it left out.
    #[error(
        "{} has {found} fields where {expected} are expected; fix that line \
         (a value holding the delimiter must be quoted)",
        place(*line, path)
    )]
    Fields {
        /// The file.
        path: PathBuf,
        /// The line, counting the header; `None` when the reader read the file in
        /// byte ranges, each counting lines from its own start.
        line: Option<u64>,
        /// The fields found: `6`, or `more than 6`.
        found: String,
        /// The table's columns.
        expected: u64,
    },
    /// A value that does not parse as its column's declared type.
    #[error(
        "{}: `{value}` in column `{column}` is not a valid {ty}; fix the value, \
         or change the column's type in the declaration",
        place(*line, path)
    )]
    Value {
        /// The file.
        path: PathBuf,
        /// The line, counting the header; `None` when the reader read the file in
        /// byte ranges, each counting lines from its own start.
        line: Option<u64>,
        /// The value as written.
        value: String,
        /// The column.
        column: String,
        /// The declared type.
        ty: String,
    },
    /// The header line cannot be read.
    #[error("cannot read the header of {}: {source}", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ArrowError,
    },
    /// A file with a header declared and not even a header line.
    #[error(
        "{} is empty (0 bytes): the table declares a header line, and it has none; \
         write the data, or remove the file",
        path.display()
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Declared columns the header does not name.
    #[error(
        "{} has no column {missing} (its header is: {header}); fix the file or the declaration",
        path.display()
    )]
    MissingColumns {
        /// The file.
        path: PathBuf,
        /// The missing columns, quoted and comma-separated.
        missing: String,
        /// The header's names, comma-separated.
        header: String,
    },
    /// A sampled column cannot be parsed as its declared type.
    #[error("column `{column}`: {source}")]
    Cast {
        /// The column.
        column: String,
        /// Why.
        source: ArrowError,
    },
    /// DataFusion refused the listing table.
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

/// Reads `csv` tables.
pub struct Csv;

impl Source for Csv {
    const NAME: &'static str = "csv";
    const KINDS: &'static [&'static str] = &["csv"];
    /// Its scans are DataFusion's own CSV scans, which the host executes:
    /// read in byte ranges on every core, with native metrics, and no row
    /// crossing the boundary. A file is first read once here, in full, to
    /// check that it reads as declared ([`FileCheck`]); one that does not is
    /// streamed through this plugin, whose errors name the line.
    const HOST_EXECUTES: bool = true;
    type Options = CsvOptions;
    type Error = CsvError;

    fn build(table: &TableSource<'_, CsvOptions>, env: &Environment) -> Result<Built, CsvError> {
        let CsvOptions {
            delimiter, header, ..
        } = *table.options;
        let path = file(table.options, env)?;
        let declared = table.spec.query_schema();
        let schema = if header {
            schema_in_file_order(&path, delimiter, &declared)?
        } else {
            declared
        };

        // In the order the reader numbers them, for naming a bad value's column.
        let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let path_text = path
            .to_str()
            .ok_or_else(|| CsvError::NotUtf8(path.clone()))?;
        let url = ListingTableUrl::parse(path_text)?;
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
            path: path.clone(),
            schema: codelake_plugin_sdk::datafusion::catalog::TableProvider::schema(&listing),
            header,
            delimiter,
            columns: columns.clone(),
            checked: Arc::default(),
        };
        // DataFusion reads a larger file in byte ranges, each counting its lines
        // from its own start: a line number is the file's only in a file read whole.
        let whole = std::fs::metadata(&path)
            .is_ok_and(|meta| meta.len() <= DATAFUSION_REPARTITION_FILE_MIN_SIZE);
        let built = Built::provider(Arc::new(listing))
            .checking_files(move |objects| Box::pin(check.clone().run(objects)));
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
        let path = file(table.options, env)?;
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
        let open = || {
            File::open(&path).map_err(|source| CsvError::Open {
                path: path.clone(),
                source,
            })
        };
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

/// Before the host executes a scan: the file reads as declared, every line
/// of it, as DataFusion's reader will read it (the same Arrow reader, schema
/// and format). Arrow's errors do not say which file, and a scan executed by
/// the host never reaches [`Csv::build`]'s explanation; a file that fails
/// here is streamed through the plugin instead, whose error names its line.
/// Checked once per version of the file (size and modification time), so a
/// long-lived server reads a file twice only when it changes.
#[derive(Clone)]
struct FileCheck {
    path: PathBuf,
    /// The table's schema, in the file's column order.
    schema: SchemaRef,
    header: bool,
    delimiter: u8,
    /// The columns in the file's order, for naming a bad value's column.
    columns: Vec<String>,
    /// The version last checked (size and modification time, in
    /// nanoseconds) and what was found: a file found unreadable is not read
    /// again for each query that streams it.
    checked: Arc<std::sync::Mutex<Option<Checked>>>,
}

impl FileCheck {
    async fn run(self, objects: Vec<ObjectMeta>) -> Result<(), String> {
        for object in &objects {
            let version = (
                object.size,
                object
                    .last_modified
                    .timestamp_nanos_opt()
                    .unwrap_or_default(),
            );
            let known = self
                .checked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let found = match known {
                Some((checked, found)) if checked == version => found,
                _ => {
                    let found = self.read_all();
                    *self
                        .checked
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some((version, found.clone()));
                    found
                }
            };
            found?;
        }
        Ok(())
    }

    /// Reads every line, keeping nothing: `Err` says why the file does not
    /// read as declared, as the plugin's own error would.
    fn read_all(&self) -> Result<(), String> {
        let path = &self.path;
        let file = File::open(path).map_err(|source| {
            CsvError::Open {
                path: path.clone(),
                source,
            }
            .to_string()
        })?;
        let format = Format::default()
            .with_header(self.header)
            .with_delimiter(self.delimiter);
        let explained = |error: ArrowError| {
            let text = error.to_string();
            fields_error(path, &text, true)
                .or_else(|| value_error(path, &self.columns, &text, true))
                .unwrap_or(CsvError::Read {
                    path: path.clone(),
                    source: error,
                })
                .to_string()
        };
        let reader = ReaderBuilder::new(SchemaRef::clone(&self.schema))
            .with_format(format)
            .with_batch_size(CHECK_BATCH_ROWS)
            .build(std::io::BufReader::new(file))
            .map_err(explained)?;
        for batch in reader {
            batch.map_err(explained)?;
        }
        Ok(())
    }
}

/// A version of a file (size, modification time) and whether it reads as declared.
type Checked = ((u64, i64), Result<(), String>);

/// Rows per batch while checking a file: enough to amortise, small enough
/// that the check holds little memory.
const CHECK_BATCH_ROWS: usize = 8192;

/// Arrow's error about a line with the wrong number of fields, as
/// [`CsvError::Fields`]. The reader says "incorrect number of fields for line
/// 5, expected 4 got 6" (or "got more than 6"), its schema inference
/// "Expected 4 records, found 6 records at line 5".
fn fields_error(path: &Path, error: &str, line_known: bool) -> Option<CsvError> {
    let number = |text: &str| -> Option<u64> {
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let (line, expected, found) =
        if let Some((_, rest)) = error.split_once("incorrect number of fields for line ") {
            let (line, rest) = rest.split_once(", expected ")?;
            let (expected, found) = rest.split_once(" got ")?;
            let more = found.starts_with("more than ");
            let found = number(found.trim_start_matches("more than "))?;
            let found = match more {
                true => format!("more than {found}"),
                false => found.to_string(),
            };
            (number(line)?, number(expected)?, found)
        } else {
            let (_, rest) = error.split_once("Expected ")?;
            let (expected, rest) = rest.split_once(" records, found ")?;
            let (found, line) = rest.split_once(" records at line ")?;
            (number(line)?, number(expected)?, number(found)?.to_string())
        };
    Some(CsvError::Fields {
        path: path.to_owned(),
        line: line_known.then_some(line),
        found,
        expected,
    })
}

/// Arrow's error about a value that does not parse, as [`CsvError::Value`],
/// without the row it quotes (it may hold what the user never meant to
/// print). The reader says "Error while parsing value 'three' as type
/// 'Int64' for column 0 at line 4. Row data: '[…]'", its column counted in
/// the file's order and its line counted from 0 (the header, if any, is line
/// 0): one is added, so the line is the file's, as an editor shows it.
fn value_error(path: &Path, columns: &[String], error: &str, line_known: bool) -> Option<CsvError> {
    let (_, rest) = error.split_once("Error while parsing value '")?;
    let (value, rest) = rest.split_once("' as type '")?;
    let (ty, rest) = rest.split_once("' for column ")?;
    let (index, rest) = rest.split_once(" at line ")?;
    let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(CsvError::Value {
        path: path.to_owned(),
        line: line_known.then_some(line.parse::<u64>().ok()? + 1),
        value: value.to_owned(),
        column: columns.get(index.parse::<usize>().ok()?)?.clone(),
        ty: ty.to_owned(),
    })
}

/// DataFusion's default `repartition_file_min_size`: a file above it may be
/// read in several byte ranges.
const DATAFUSION_REPARTITION_FILE_MIN_SIZE: u64 = 10 * 1024 * 1024;

/// Where in the file: `line 5 of FILE`, or `a line of FILE` when the reader's
/// count is not the file's.
fn place(line: Option<u64>, path: &Path) -> String {
    match line {
        Some(line) => format!("line {line} of {}", path.display()),
        None => format!("a line of {}", path.display()),
    }
}

/// The table's file, which must exist.
fn file(options: &CsvOptions, env: &Environment) -> Result<PathBuf, CsvError> {
    // A local path: the typed options refuse any other scheme, as the derive does.
    let location = &options.location;
    let path = resolve(location, env);
    if !path.is_file() {
        return Err(CsvError::Missing {
            path,
            location: location.clone(),
            environment: env.name.clone(),
            data_dir: env.data_dir.clone(),
        });
    }
    Ok(path)
}

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
    env.local_path(location)
}

/// The declared fields, in the order the file's header names them. Columns the
/// declaration does not know are read as nullable text (and can be ignored).
fn schema_in_file_order(path: &Path, delimiter: u8, declared: &Schema) -> Result<Schema, CsvError> {
    let file = File::open(path).map_err(|source| CsvError::Open {
        path: path.to_owned(),
        source,
    })?;
    // The CSV reader's own header parsing: quoted names, delimiters in quotes.
    let (header, _) = Format::default()
        .with_header(true)
        .with_delimiter(delimiter)
        .infer_schema(file, Some(0))
        .map_err(|source| CsvError::Header {
            path: path.to_owned(),
            source,
        })?;
    let names: Vec<String> = header
        .fields()
        .iter()
        .map(|field| field.name().trim().to_owned())
        .collect();
    if names.is_empty() && std::fs::metadata(path).is_ok_and(|meta| meta.len() == 0) {
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
