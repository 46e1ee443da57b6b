//! Why a CSV table cannot be read, in the user's terms: Arrow's reader
//! errors rewritten with the file, the line and the column by name.

use std::path::{Path, PathBuf};

use codelake_plugin_sdk::datafusion::arrow::error::ArrowError;
use codelake_plugin_sdk::datafusion::error::DataFusionError;

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
    /// The object is not on S3.
    #[error(
        "object {url} does not exist (`location = \"{location}\"`, environment `{environment}`); \
         upload it or fix `location`"
    )]
    MissingObject {
        /// The object, in this environment.
        url: String,
        /// The table's `location`.
        location: String,
        /// The environment's name.
        environment: String,
    },
    /// The environment cannot reach S3.
    #[error(
        "environment `{environment}` has no S3 settings, so `{url}` cannot be reached; configure the environment's S3 endpoint and credentials"
    )]
    NoSettings {
        /// The environment's name.
        environment: String,
        /// The object.
        url: String,
    },
    /// The S3 client cannot be built.
    #[error(transparent)]
    Client(#[from] catalog_s3::Error),
    /// The store refused or failed a request.
    #[error("reading {url}: {error}{}", catalog_s3::hint(error))]
    Store {
        /// The object.
        url: String,
        /// The store's error.
        error: object_store::Error,
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

/// Arrow's error about a line with the wrong number of fields, as
/// [`CsvError::Fields`]. The reader says "incorrect number of fields for line
/// 5, expected 4 got 6" (or "got more than 6"), its schema inference
/// "Expected 4 records, found 6 records at line 5".
pub(crate) fn fields_error(path: &Path, error: &str, line_known: bool) -> Option<CsvError> {
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
pub(crate) fn value_error(
    path: &Path,
    columns: &[String],
    error: &str,
    line_known: bool,
) -> Option<CsvError> {
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

/// Where in the file: `line 5 of FILE`, or `a line of FILE` when the reader's
/// count is not the file's.
fn place(line: Option<u64>, path: &Path) -> String {
    match line {
        Some(line) => format!("line {line} of {}", path.display()),
        None => format!("a line of {}", path.display()),
    }
}
