//! A query's result for an agent: a compact table (column names and types
//! once, then rows as arrays of JSON values), cut short at a row cap or a byte
//! cap, with a note saying how many rows were left out.

use std::sync::Arc;

use catalog_serve::ServeError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use futures::{Stream, StreamExt};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// `query`'s answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryResult {
    /// The result's columns, in order.
    pub columns: Vec<ResultColumn>,
    /// The rows returned, each an array of values in column order (numbers,
    /// strings, booleans or null; decimals, dates and timestamps as strings,
    /// decimals exactly).
    pub rows: Vec<Vec<Value>>,
    /// How many rows are in `rows`.
    pub returned_rows: usize,
    /// Whether the result was cut short by the row cap or the byte cap.
    pub truncated: bool,
    /// How many rows the query produced beyond those returned, when truncated
    /// (`null` when counting them stopped early, at the query timeout or an
    /// error: the note says how many at least).
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

/// Rows encoded at a time, so that the byte cap is checked before much more
/// than it is held.
const SLICE_ROWS: usize = 64;

/// Reads `batches` (of `schema`) into a [`QueryResult`] of at most `max_rows`
/// rows and `max_bytes` bytes of JSON rows. Past either, the rest of the rows
/// are counted, not returned (under the service's query timeout); an error
/// while counting stops the count, never loses the rows already read.
pub async fn collect(
    schema: SchemaRef,
    mut batches: impl Stream<Item = Result<RecordBatch, ServeError>> + Unpin,
    max_rows: usize,
    max_bytes: usize,
) -> Result<QueryResult, ServeError> {
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
    let mut counting_stopped = None;
    while let Some(batch) = batches.next().await {
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) if cut.is_some() => {
                counting_stopped = Some(error.message);
                break;
            }
            Err(error) => return Err(error),
        };
        if cut.is_some() {
            left_out += batch.num_rows() as u64;
            continue;
        }
        let mut offset = 0;
        while offset < batch.num_rows() && cut.is_none() {
            if rows.len() == max_rows {
                cut = Some(Cut::Rows);
                break;
            }
            let length = SLICE_ROWS
                .min(batch.num_rows() - offset)
                .min(max_rows - rows.len());
            for row in to_rows(&batch.slice(offset, length))? {
                let size = serde_json::to_string(&row).map_or(0, |text| text.len() + 1);
                if bytes + size > max_bytes {
                    cut = Some(Cut::Bytes);
                    break;
                }
                bytes += size;
                rows.push(row);
                offset += 1;
            }
        }
        if cut.is_some() {
            left_out += (batch.num_rows() - offset) as u64;
        } else if rows.len() == max_rows {
            // The cap is reached at a batch's end: the rows left out, if any,
            // are in the next batches.
            cut = Some(Cut::Rows);
        }
    }
    let truncated = left_out > 0 || counting_stopped.is_some();
    let note = truncated.then(|| {
        let mut note = match cut {
            Some(Cut::Bytes) => format!(
                "Only the first {} rows are returned: the rest would pass the {max_bytes}-byte \
                 cap on a result. Select fewer or narrower columns, aggregate or filter.",
                rows.len()
            ),
            _ => format!(
                "Only the first {} rows are returned (the cap is {max_rows}). Aggregate, filter \
                 or add a LIMIT to see the rest, or ask for more rows with `max_rows`, up to \
                 the server's cap.",
                rows.len()
            ),
        };
        match &counting_stopped {
            Some(why) => note.push_str(&format!(
                " At least {left_out} more rows were left out; counting them stopped: {why}"
            )),
            None => note.push_str(&format!(" {left_out} more rows were left out.")),
        }
        note
    });
    Ok(QueryResult {
        columns,
        returned_rows: rows.len(),
        rows,
        truncated,
        rows_left_out: (truncated && counting_stopped.is_none()).then_some(left_out),
        note,
        bytes,
    })
}

/// A batch's rows as arrays of JSON values, in column order (Arrow's JSON
/// writer does the values; columns are renamed so that duplicate names, as in
/// `SELECT 1, 1`, keep their own values).
fn to_rows(batch: &RecordBatch) -> Result<Vec<Vec<Value>>, ServeError> {
    let internal = |message: String| ServeError::new(catalog_serve::ErrorCode::Internal, message);
    // Decimals as exact text: Arrow writes them as JSON numbers, which a
    // reader (serde_json too) rounds to a double.
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (index, (field, column)) in batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .enumerate()
    {
        let column = match field.data_type() {
            DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => datafusion::arrow::compute::cast(column, &DataType::Utf8)
                .map_err(|error| internal(error.to_string()))?,
            _ => Arc::clone(column),
        };
        fields.push(Field::new(
            format!("c{index}"),
            column.data_type().clone(),
            true,
        ));
        columns.push(column);
    }
    let renamed = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
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

#[cfg(test)]
mod tests {
    use super::*;
    use catalog_serve::ErrorCode;
    use datafusion::arrow::array::{Decimal128Array, Int64Array};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
    }

    /// Batches of consecutive numbers from 0, one batch per size.
    fn batches(sizes: &[usize]) -> Vec<Result<RecordBatch, ServeError>> {
        let mut next = 0i64;
        sizes
            .iter()
            .map(|&size| {
                let values: Vec<i64> = (next..next + size as i64).collect();
                next += size as i64;
                Ok(
                    RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(values))])
                        .unwrap(),
                )
            })
            .collect()
    }

    /// `collect` over `items` with the caps: (rows returned, rows left out, truncated).
    fn check(
        items: Vec<Result<RecordBatch, ServeError>>,
        max_rows: usize,
        max_bytes: usize,
    ) -> QueryResult {
        futures::executor::block_on(collect(
            schema(),
            futures::stream::iter(items),
            max_rows,
            max_bytes,
        ))
        .unwrap()
    }

    fn firsts(result: &QueryResult) -> Vec<i64> {
        result
            .rows
            .iter()
            .map(|row| row[0].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn a_result_within_the_caps_is_whole() {
        let result = check(batches(&[3, 4]), 7, 1 << 20);
        assert_eq!(firsts(&result), (0..7).collect::<Vec<_>>());
        assert!(!result.truncated);
        assert_eq!(result.rows_left_out, None);
        assert_eq!(result.note, None);
        // "[0]\n" … "[6]\n": the bytes are the rows' JSON.
        assert_eq!(result.bytes, 7 * 4);
    }

    #[test]
    fn the_row_cap_counts_what_it_leaves_out_mid_batch_at_a_batch_end_and_beyond() {
        for (sizes, max_rows, left_out) in [
            (vec![10], 4, 6),
            (vec![4, 5], 4, 5),
            (vec![2, 200, 3], 100, 105),
            (vec![70, 70], 100, 40),
        ] {
            let result = check(batches(&sizes), max_rows, 1 << 20);
            assert_eq!(
                firsts(&result),
                (0..max_rows as i64).collect::<Vec<_>>(),
                "{sizes:?}"
            );
            assert!(result.truncated, "{sizes:?}");
            assert_eq!(result.rows_left_out, Some(left_out), "{sizes:?}");
            let note = result.note.unwrap();
            assert!(note.contains(&format!("{left_out} more rows")), "{note}");
            assert!(note.contains(&format!("the cap is {max_rows}")), "{note}");
        }
    }

    #[test]
    fn the_byte_cap_stops_at_the_row_that_would_pass_it() {
        // Rows "[0]\n" to "[9]\n" are 4 bytes each, "[10]\n" and on 5.
        let result = check(batches(&[8, 8]), 100, 4 * 10 + 5 * 2);
        assert_eq!(firsts(&result), (0..12).collect::<Vec<_>>());
        assert_eq!(result.rows_left_out, Some(4));
        assert!(result.note.unwrap().contains("byte cap"));
    }

    #[test]
    fn an_error_before_the_cap_fails_and_after_it_only_stops_the_count() {
        let error = || Err(ServeError::new(ErrorCode::Timeout, "too slow"));
        let mut items = batches(&[3]);
        items.push(error());
        let failed = futures::executor::block_on(collect(
            schema(),
            futures::stream::iter(items),
            10,
            1 << 20,
        ));
        assert_eq!(failed.unwrap_err().code, ErrorCode::Timeout);

        let mut items = batches(&[3, 5]);
        items.push(error());
        let result = check(items, 2, 1 << 20);
        assert_eq!(firsts(&result), [0, 1]);
        assert!(result.truncated);
        assert_eq!(result.rows_left_out, None);
        let note = result.note.unwrap();
        assert!(note.contains("At least 6 more rows"), "{note}");
        assert!(note.contains("too slow"), "{note}");
    }

    #[test]
    fn decimals_are_exact_text_and_duplicate_names_keep_their_values() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("d", DataType::Decimal128(38, 2), true),
            Field::new("d", DataType::Decimal128(38, 2), true),
        ]));
        let big = Decimal128Array::from(vec![Some(1_234_567_890_123_456_789_012i128), None])
            .with_precision_and_scale(38, 2)
            .unwrap();
        let small = Decimal128Array::from(vec![Some(1250i128), Some(-5)])
            .with_precision_and_scale(38, 2)
            .unwrap();
        let batch = RecordBatch::try_new(schema, vec![Arc::new(big), Arc::new(small)]).unwrap();
        assert_eq!(
            to_rows(&batch).unwrap(),
            [
                vec![Value::from("12345678901234567890.12"), Value::from("12.50")],
                vec![Value::Null, Value::from("-0.05")],
            ]
        );
    }
}
