//! A query's result for an agent: a compact table (column names and types
//! once, then rows as arrays of JSON values), cut short at a row cap or a byte
//! cap, with a note saying how many rows were left out.

use std::sync::Arc;

use catalog_serve::{QueryStream, ServeError};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// `query`'s answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryResult {
    /// The result's columns, in order.
    pub columns: Vec<ResultColumn>,
    /// The rows returned, each an array of values in column order (numbers,
    /// strings, booleans or null; decimals and timestamps as strings).
    pub rows: Vec<Vec<Value>>,
    /// How many rows are in `rows`.
    pub returned_rows: usize,
    /// Whether the result was cut short by the row cap or the byte cap.
    pub truncated: bool,
    /// How many rows the query produced beyond those returned, when truncated
    /// (`null` when counting them failed or timed out).
    pub rows_left_out: Option<u64>,
    /// What the cut means and how to narrow the query, when truncated.
    pub note: Option<String>,
    /// Bytes of the rows as JSON, for the metrics.
    #[serde(skip)]
    #[schemars(skip)]
    pub bytes: usize,
}

/// One result column.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ResultColumn {
    /// Its name.
    pub name: String,
    /// Its Arrow type.
    #[serde(rename = "type")]
    pub ty: String,
}

/// Why a result was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    Rows,
    Bytes,
}

/// Reads `stream` into a [`QueryResult`] of at most `max_rows` rows and
/// `max_bytes` bytes of JSON rows; past either, the rest of the rows are
/// counted (under the service's query timeout), not returned.
pub async fn collect(
    mut stream: QueryStream,
    max_rows: usize,
    max_bytes: usize,
) -> Result<QueryResult, ServeError> {
    let schema = stream.schema();
    let columns = schema
        .fields()
        .iter()
        .map(|field| ResultColumn {
            name: field.name().clone(),
            ty: field.data_type().to_string(),
        })
        .collect();
    let mut rows: Vec<Vec<Value>> = Vec::new();
    let mut bytes = 0usize;
    let mut cut = None;
    let mut left_out = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        if cut.is_some() {
            left_out += batch.num_rows() as u64;
            continue;
        }
        let room = max_rows - rows.len();
        let taken = batch.num_rows().min(room);
        let values = to_rows(&batch.slice(0, taken))?;
        for (index, row) in values.into_iter().enumerate() {
            let size = serde_json::to_string(&row).map_or(0, |text| text.len() + 1);
            if bytes + size > max_bytes {
                cut = Some(Cut::Bytes);
                left_out += (batch.num_rows() - index) as u64;
                break;
            }
            bytes += size;
            rows.push(row);
        }
        if cut.is_none() && rows.len() == max_rows && taken < batch.num_rows() {
            cut = Some(Cut::Rows);
            left_out += (batch.num_rows() - taken) as u64;
        } else if cut.is_none() && rows.len() == max_rows {
            // The cap is reached exactly at a batch's end: the rows left out,
            // if any, are in the next batches.
            cut = Some(Cut::Rows);
        }
    }
    let truncated = left_out > 0;
    let note = truncated.then(|| {
        let why = match cut {
            Some(Cut::Bytes) => format!("the {max_bytes}-byte cap on a result"),
            _ => format!("the cap of {max_rows} rows"),
        };
        format!(
            "Only the first {} rows are returned: {left_out} more were left out by {why}. \
             Aggregate, filter or add a LIMIT to see the rest, or ask for up to the server's \
             row cap with `max_rows`.",
            rows.len()
        )
    });
    Ok(QueryResult {
        columns,
        returned_rows: rows.len(),
        rows,
        truncated,
        rows_left_out: truncated.then_some(left_out),
        note,
        bytes,
    })
}

/// A batch's rows as arrays of JSON values, in column order (Arrow's JSON
/// writer does the values; columns are renamed so that duplicate names, as in
/// `SELECT 1, 1`, keep their own values).
fn to_rows(batch: &RecordBatch) -> Result<Vec<Vec<Value>>, ServeError> {
    let internal = |message: String| ServeError::new(catalog_serve::ErrorCode::Internal, message);
    let fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| {
            Field::new(format!("c{index}"), field.data_type().clone(), true)
                .with_metadata(field.metadata().clone())
        })
        .collect();
    let renamed = RecordBatch::try_new(Arc::new(Schema::new(fields)), batch.columns().to_vec())
        .map_err(|error| internal(error.to_string()))?;
    let mut writer = arrow_json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow_json::writer::JsonArray>(Vec::new());
    writer
        .write(&renamed)
        .map_err(|error| internal(format!("a value could not be written as JSON: {error}")))?;
    writer
        .finish()
        .map_err(|error| internal(error.to_string()))?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let objects: Vec<serde_json::Map<String, Value>> =
        serde_json::from_slice(&bytes).map_err(|error| internal(error.to_string()))?;
    let width = batch.num_columns();
    Ok(objects
        .into_iter()
        .map(|mut object| {
            (0..width)
                .map(|index| object.remove(&format!("c{index}")).unwrap_or(Value::Null))
                .collect()
        })
        .collect())
}
