//! The check that comes before the host executes a CSV scan.

use std::sync::Arc;

use codelake_plugin_sdk::datafusion::arrow::csv::reader::{Format, ReaderBuilder};
use codelake_plugin_sdk::datafusion::arrow::datatypes::SchemaRef;
use codelake_plugin_sdk::datafusion::arrow::error::ArrowError;
use codelake_plugin_sdk::datafusion::object_store::ObjectMeta;

use crate::error::{CsvError, fields_error, value_error};
use crate::file::CsvFile;

/// Before the host executes a scan: the file reads as declared, every line
/// of it, as DataFusion's reader will read it (the same Arrow reader, schema
/// and format). Arrow's errors do not say which file, and a scan executed by
/// the host never reaches [`Csv::build`]'s explanation; a file that fails
/// here is streamed through the plugin instead, whose error names its line.
/// Checked once per version of the file (size and modification time), so a
/// long-lived server reads a file twice only when it changes.
#[derive(Clone)]
pub(crate) struct FileCheck {
    pub(crate) file: Arc<CsvFile>,
    /// The table's schema, in the file's column order.
    pub(crate) schema: SchemaRef,
    pub(crate) header: bool,
    pub(crate) delimiter: u8,
    /// The columns in the file's order, for naming a bad value's column.
    pub(crate) columns: Vec<String>,
    /// The version last checked (size and modification time, in
    /// nanoseconds) and what was found: a file found unreadable is not read
    /// again for each query that streams it.
    pub(crate) checked: Arc<std::sync::Mutex<Option<Checked>>>,
}

impl FileCheck {
    pub(crate) async fn run(self, objects: Vec<ObjectMeta>) -> Result<(), String> {
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
                    let found = self.read_all().await;
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
    async fn read_all(&self) -> Result<(), String> {
        let path = &self.file.name();
        let open = self
            .file
            .opener()
            .await
            .map_err(|error| error.to_string())?;
        let file = open().map_err(|error| error.to_string())?;
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
            .build(file)
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
