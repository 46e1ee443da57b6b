//! Result formats: chosen by `Accept`, written batch by batch.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use catalog_serve::{ErrorCode, QueryService, QueryStream, ServeError};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::json::writer::{JsonArray, LineDelimited, WriterBuilder};
use futures::{Stream, StreamExt};
use parquet::arrow::ArrowWriter;

use crate::{FRONT_END, error_response};

/// A format `POST /v1/sql` answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`: one array of objects (capped in size).
    Json,
    /// `application/x-ndjson`: one object per line.
    Ndjson,
    /// `text/csv`: a header line, then the rows.
    Csv,
    /// `application/vnd.apache.arrow.stream`: the Arrow IPC stream format.
    Arrow,
    /// `application/vnd.apache.parquet`: a Parquet file.
    Parquet,
}

/// Media types by format: the first of each is the one answered with.
const MEDIA_TYPES: &[(&str, Format)] = &[
    ("application/json", Format::Json),
    ("application/x-ndjson", Format::Ndjson),
    ("application/jsonl", Format::Ndjson),
    ("text/csv", Format::Csv),
    ("application/vnd.apache.arrow.stream", Format::Arrow),
    ("application/vnd.apache.parquet", Format::Parquet),
    ("application/x-parquet", Format::Parquet),
];

impl Format {
    /// The format an `Accept` header asks for: the first media range in it that
    /// a format matches (`*/*`, or no header, is JSON). None matching is a
    /// `not_acceptable` error listing the formats.
    pub fn negotiate(accept: Option<&HeaderValue>) -> Result<Self, ServeError> {
        let Some(accept) = accept else {
            return Ok(Self::Json);
        };
        let text = accept.to_str().unwrap_or_default();
        for range in text.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let refused = parts.any(|param| {
                param
                    .trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            let found = match media.as_str() {
                "*/*" | "application/*" => Some(Self::Json),
                "text/*" => Some(Self::Csv),
                media => MEDIA_TYPES
                    .iter()
                    .find(|(name, _)| *name == media)
                    .map(|(_, format)| *format),
            };
            if let Some(format) = found {
                return Ok(format);
            }
        }
        Err(ServeError::new(
            ErrorCode::NotAcceptable,
            format!(
                "no format this server writes matches `Accept: {text}`; ask for one of: {}",
                MEDIA_TYPES
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        MEDIA_TYPES
            .iter()
            .find(|(_, format)| *format == self)
            .map(|(name, _)| *name)
            .unwrap_or("application/octet-stream")
    }
}

/// A streaming format's writer, turning batches into the bytes to send next.
pub(crate) enum Encoder {
    Ndjson,
    Csv { header: bool },
    Arrow(StreamWriter<Vec<u8>>),
    Parquet(ArrowWriter<Vec<u8>>),
}

impl Encoder {
    /// The writer, and the bytes that open the stream (Arrow's schema).
    fn start(format: Format, schema: &SchemaRef) -> Result<(Self, Bytes), ArrowError> {
        Ok(match format {
            Format::Json | Format::Ndjson => (Self::Ndjson, Bytes::new()),
            Format::Csv => (Self::Csv { header: true }, Bytes::new()),
            Format::Arrow => {
                let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
                let opening = std::mem::take(writer.get_mut());
                (Self::Arrow(writer), opening.into())
            }
            Format::Parquet => {
                // Row groups of a bounded size, so a large result is sent as it
                // comes rather than held (up to Parquet's default million rows).
                let properties = parquet::file::properties::WriterProperties::builder()
                    .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
                    .build();
                let writer = ArrowWriter::try_new(Vec::new(), Arc::clone(schema), Some(properties))
                    .map_err(|error| ArrowError::ExternalError(Box::new(error)))?;
                (Self::Parquet(writer), Bytes::new())
            }
        })
    }

    fn batch(&mut self, batch: &RecordBatch) -> Result<Bytes, ArrowError> {
        Ok(match self {
            Self::Ndjson => {
                let mut writer = WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, LineDelimited>(Vec::new());
                writer.write(batch)?;
                writer.finish()?;
                writer.into_inner().into()
            }
            Self::Csv { header } => {
                let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(*header)
                    .build(Vec::new());
                writer.write(batch)?;
                *header = false;
                writer.into_inner().into()
            }
            Self::Arrow(writer) => {
                writer.write(batch)?;
                std::mem::take(writer.get_mut()).into()
            }
            Self::Parquet(writer) => {
                writer
                    .write(batch)
                    .map_err(|error| ArrowError::ExternalError(Box::new(error)))?;
                std::mem::take(writer.inner_mut()).into()
            }
        })
    }

    /// The bytes that close the stream: Arrow's end marker, Parquet's footer,
    /// CSV's header when there were no rows.
    fn finish(self, schema: &SchemaRef) -> Result<Bytes, ArrowError> {
        Ok(match self {
            Self::Ndjson => Bytes::new(),
            Self::Csv { header: false } => Bytes::new(),
            mut csv @ Self::Csv { header: true } => {
                csv.batch(&RecordBatch::new_empty(Arc::clone(schema)))?
            }
            Self::Arrow(mut writer) => {
                writer.finish()?;
                writer.into_inner()?.into()
            }
            Self::Parquet(writer) => writer
                .into_inner()
                .map_err(|error| ArrowError::ExternalError(Box::new(error)))?
                .into(),
        })
    }
}

/// Rows per Parquet row group in an answer.
const PARQUET_ROW_GROUP_ROWS: usize = 64 * 1024;

/// The writer of `format` (any but JSON), and the bytes of its start with
/// `first` written: done before the status is sent, so that a failure here
/// is still an error response.
pub(crate) fn open(
    format: Format,
    schema: &SchemaRef,
    first: Option<&RecordBatch>,
) -> Result<(Encoder, Bytes), ServeError> {
    let unwritable = |error: ArrowError| {
        ServeError::new(
            ErrorCode::InvalidQuery,
            format!(
                "the result cannot be written as {}: {error}; ask for another format \
                 (`application/vnd.apache.arrow.stream` holds every type)",
                format.content_type()
            ),
        )
    };
    let (mut encoder, opening) = Encoder::start(format, schema).map_err(unwritable)?;
    let Some(first) = first else {
        return Ok((encoder, opening));
    };
    let written = encoder.batch(first).map_err(unwritable)?;
    let mut bytes = opening.to_vec();
    bytes.extend_from_slice(&written);
    Ok((encoder, bytes.into()))
}

/// The result as a stream of chunks: `opening` (from [`open`]), then the rest
/// of `stream`. An error after the status is sent ends the stream with an
/// error, which cuts the response short.
pub(crate) fn stream(
    encoder: Encoder,
    opening: Bytes,
    stream: QueryStream,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let schema = stream.schema();
    let io = |error: &dyn std::fmt::Display| std::io::Error::other(error.to_string());
    let state = Some((encoder, stream.boxed(), schema));
    let opening: Result<Bytes, std::io::Error> = Ok(opening);
    let rest = futures::stream::unfold(state, move |state| async move {
        let (mut encoder, mut batches, schema) = state?;
        match batches.next().await {
            Some(Ok(batch)) => match encoder.batch(&batch) {
                Ok(bytes) => Some((Ok(bytes), Some((encoder, batches, schema)))),
                Err(error) => Some((Err(io(&error)), None)),
            },
            Some(Err(error)) => Some((Err(io(&error)), None)),
            None => Some((encoder.finish(&schema).map_err(|error| io(&error)), None)),
        }
    });
    futures::stream::once(std::future::ready(opening))
        .chain(rest)
        .filter(|chunk| std::future::ready(!matches!(chunk, Ok(bytes) if bytes.is_empty())))
}

/// Rows written to JSON between two checks of the cap.
const JSON_SLICE_ROWS: usize = 1024;

/// The result as one JSON array, within the server's cap on JSON results.
pub(crate) async fn json(
    service: &QueryService,
    stream: QueryStream,
    first: Option<RecordBatch>,
) -> Response {
    let cap = service.limits().max_json_bytes;
    let mut writer = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, JsonArray>(Vec::new());
    let mut batches = futures::stream::iter(first.map(Ok)).chain(stream);
    let internal = |error: ArrowError| ServeError::new(ErrorCode::Internal, error.to_string());
    while let Some(batch) = batches.next().await {
        // The query's own errors are counted by its stream; only this writer's here.
        let batch = match batch {
            Ok(batch) => batch,
            Err(error) => return error_response(&error),
        };
        // A slice at a time, so that one large batch cannot overshoot the cap by much.
        let mut over = false;
        for offset in (0..batch.num_rows()).step_by(JSON_SLICE_ROWS) {
            let slice = batch.slice(offset, JSON_SLICE_ROWS.min(batch.num_rows() - offset));
            if let Err(error) = writer.write(&slice).map_err(internal) {
                service.metrics().error(FRONT_END, error.code);
                return error_response(&error);
            }
            if writer.get_ref().len() > cap {
                over = true;
                break;
            }
        }
        if over {
            let error = ServeError::new(
                ErrorCode::ResultTooLarge,
                format!(
                    "the result is larger than this server's JSON cap of {cap} bytes; ask for a \
                     streaming format (`Accept: application/x-ndjson`, `text/csv`, \
                     `application/vnd.apache.arrow.stream` or `application/vnd.apache.parquet`), \
                     or add a LIMIT"
                ),
            );
            service.metrics().error(FRONT_END, error.code);
            return error_response(&error);
        }
    }
    if let Err(error) = writer.finish() {
        return error_response(&internal(error));
    }
    let mut body = writer.into_inner();
    if body.is_empty() {
        body = b"[]".to_vec();
    }
    service.metrics().bytes_out(FRONT_END, body.len() as u64);
    ([(header::CONTENT_TYPE, Format::Json.content_type())], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: &str) -> Result<Format, ServeError> {
        Format::negotiate(Some(&HeaderValue::from_str(accept).unwrap()))
    }

    #[test]
    fn accept_picks_the_first_format_it_names() {
        assert_eq!(Format::negotiate(None).unwrap(), Format::Json);
        assert_eq!(negotiate("*/*").unwrap(), Format::Json);
        assert_eq!(negotiate("text/csv").unwrap(), Format::Csv);
        assert_eq!(
            negotiate("application/xml, application/vnd.apache.arrow.stream;q=0.9").unwrap(),
            Format::Arrow
        );
        assert_eq!(
            negotiate("text/csv;q=0, application/x-ndjson").unwrap(),
            Format::Ndjson
        );
        assert_eq!(
            negotiate("APPLICATION/VND.APACHE.PARQUET").unwrap(),
            Format::Parquet
        );
        let error = negotiate("application/xml").unwrap_err();
        assert_eq!(error.code, ErrorCode::NotAcceptable);
        assert!(error.message.contains("text/csv"), "{}", error.message);
    }
}
