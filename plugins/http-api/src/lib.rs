//! The `http-api` source plugin: rows from a JSON API over HTTP(S).
//!
//! Each scan fetches every page (following a next link, or counting a page
//! parameter), takes the array of rows at `rows_path` from each response, and
//! decodes the rows with Arrow's JSON decoder against the declared schema:
//! fields are matched by name, a missing nullable field is null, and a value of
//! the wrong type is an error naming the table. The credential for
//! `auth_header` is read from the environment variable `auth_env` at each scan
//! and never appears in a message. Failed requests are retried with backoff.
//! No filter is pushed to the API: DataFusion filters the fetched rows.
//!
//! What it must not know: the host (it meets it only through the SDK's C ABI)
//! and other source kinds; it reads its options only as the typed values the
//! SDK hands it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use codelake_plugin_sdk::catalog_core::inspect::{InspectRequest, Inspection, LiveColumn};
use codelake_plugin_sdk::catalog_core::source::{HttpApiOptions, HttpAuth, Pagination};
use codelake_plugin_sdk::catalog_core::{Environment, Secret};
use codelake_plugin_sdk::datafusion::arrow::array::RecordBatch;
use codelake_plugin_sdk::datafusion::arrow::array::{Array, StringArray};
use codelake_plugin_sdk::datafusion::arrow::compute::{CastOptions, cast_with_options};
use codelake_plugin_sdk::datafusion::arrow::datatypes::{
    DataType, Field, Schema, SchemaRef, TimeUnit,
};
use codelake_plugin_sdk::datafusion::arrow::error::ArrowError;
use codelake_plugin_sdk::{Built, ComputedTable, Rows, Source, TableSource, export_source};
use serde_json::Value;

/// Pages fetched at most per scan, so a server that always links onward cannot loop forever.
const MAX_PAGES: usize = 10_000;

/// Why an `http-api` table cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A path `url` in an environment without a base URL.
    #[error(
        "`url = \"{url}\"` is a path, but environment `{environment}` has no HTTP base URL; set one, or give a full URL"
    )]
    NoBaseUrl {
        /// The table's `url`.
        url: String,
        /// The environment's name.
        environment: String,
    },
    /// The HTTP client cannot be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The credential's variable is not set.
    #[error(
        "environment variable {var} is not set; it holds the credential sent in the `{header}` header"
    )]
    NoCredential {
        /// The variable (`auth_env`).
        var: String,
        /// The header (`auth_header`).
        header: String,
    },
    /// The server refused the request: retries will not help.
    #[error("{url} answered {status}; check the URL and the credential")]
    Refused {
        /// The page's URL.
        url: String,
        /// The answer.
        status: reqwest::StatusCode,
    },
    /// Every attempt failed.
    #[error("{failure} (after {})", attempts_text(*attempts))]
    Failed {
        /// The last failure, with its URL.
        failure: String,
        /// How many requests were sent.
        attempts: u32,
        /// Whether the last one could not connect at all.
        connect: bool,
    },
    /// The server took the connection and sent no answer in time.
    #[error(
        "{url} did not answer within {timeout:?} ({}), after {}; \
         check that the API answers, or raise {} if it is only slow",
        if *capped { "CODELAKE_HTTP_TIMEOUT" } else { "the table's `timeout`" },
        attempts_text(*attempts),
        if *capped { "CODELAKE_HTTP_TIMEOUT (or `http_timeout` of the profile)" } else { "`timeout` in the table's declaration" },
    )]
    Silent {
        /// The page's URL.
        url: String,
        /// The time each request had.
        timeout: Duration,
        /// Whether that was the environment's cap rather than the table's `timeout`.
        capped: bool,
        /// How many requests were sent.
        attempts: u32,
    },
    /// The body could not be read.
    #[error("reading {url}: {source}")]
    Body {
        /// The page's URL.
        url: String,
        /// Why.
        source: reqwest::Error,
    },
    /// The body is not JSON.
    #[error("{url} did not return JSON: {source}")]
    NotJson {
        /// The page's URL.
        url: String,
        /// Why.
        source: serde_json::Error,
    },
    /// Nothing at `rows_path`, or not an array.
    #[error("{0}")]
    Rows(String),
    /// Pagination that never ends.
    #[error("more than {MAX_PAGES} pages from {0}; is the pagination configured right?")]
    TooManyPages(String),
    /// Rows that are not JSON objects.
    #[error("the rows of {url} are not JSON objects: {source}")]
    NotObjects {
        /// The URL.
        url: String,
        /// Why.
        source: ArrowError,
    },
    /// Rows that do not fit the declared schema.
    #[error("the API's rows do not fit the declaration: {0}")]
    Decode(#[source] ArrowError),
    /// The declared schema cannot be decoded from JSON at all.
    #[error("{0}")]
    Schema(#[source] ArrowError),
}

/// Reads `http-api` tables.
pub struct HttpApi;

impl Source for HttpApi {
    const NAME: &'static str = "http-api";
    const KINDS: &'static [&'static str] = &["http-api"];
    type Options = HttpApiOptions;
    type Error = HttpError;

    /// No base URL or credential, a connection refused, a server that does
    /// not answer, a credential refused: the API was not reached. A server
    /// error or a body that does not fit is the API's answer.
    fn unreachable(error: &HttpError) -> bool {
        match error {
            HttpError::NoBaseUrl { .. }
            | HttpError::NoCredential { .. }
            | HttpError::Client(_)
            | HttpError::Silent { .. } => true,
            HttpError::Failed { connect, .. } => *connect,
            HttpError::Refused { status, .. } => matches!(
                *status,
                reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
            ),
            _ => false,
        }
    }

    fn build(
        table: &TableSource<'_, HttpApiOptions>,
        env: &Environment,
    ) -> Result<Built, HttpError> {
        let (config, client) = setup(table.options, env)?;
        let schema: SchemaRef = Arc::new(table.spec.query_schema());
        let fetch = Fetch {
            config,
            client,
            schema: SchemaRef::clone(&schema),
        };
        Ok(Built::provider(Arc::new(ComputedTable::new(schema, fetch))))
    }

    /// The first page's rows: field names and inferred JSON types, each
    /// declared field decoded with its declared type, nulls counted.
    async fn inspect(
        table: &TableSource<'_, HttpApiOptions>,
        env: &Environment,
        request: &InspectRequest,
    ) -> Result<Inspection, HttpError> {
        let spec = table.spec;
        let (config, client) = setup(table.options, env)?;
        let url = &config.url;
        let sample = usize::try_from(request.sample_rows).unwrap_or(usize::MAX);
        let (mut rows, pages) = fetch(&client, &config, sample).await?;
        rows.truncate(sample);
        let inferred = arrow_json::reader::infer_json_schema_from_iterator(rows.iter().map(Ok))
            .map_err(|source| HttpError::NotObjects {
                url: url.clone(),
                source,
            })?;
        let mut inspection = Inspection {
            objects: pages as u64,
            sampled_rows: Some(rows.len() as u64),
            ..Inspection::default()
        };
        // Declared fields first, in declared order; then the others, by name.
        let mut names: Vec<&str> = spec
            .columns
            .iter()
            .map(|column| &*column.name)
            .filter(|name| inferred.field_with_name(name).is_ok())
            .collect();
        let mut extra: Vec<&str> = inferred
            .fields()
            .iter()
            .map(|field| field.name().as_str())
            .filter(|name| spec.column(name).is_none())
            .collect();
        extra.sort_unstable();
        names.extend(extra);
        for name in names {
            let found = inferred
                .field_with_name(name)
                .expect("a field of the schema");
            let present = rows
                .iter()
                .filter(|row| row.get(name).is_some_and(|value| !value.is_null()))
                .count();
            let nulls = (rows.len() - present) as u64;
            let Some(declared) = spec.column(name) else {
                let data_type = match found.data_type() {
                    DataType::Utf8 => text_type(&rows, name),
                    other => other.clone(),
                };
                inspection.columns.push(LiveColumn {
                    nulls: Some(nulls),
                    ..LiveColumn::new(name, &data_type, nulls > 0)
                });
                continue;
            };
            // Decoded alone, so an error is this field's.
            let field = Field::new(name, declared.ty.to_arrow(), true);
            let fits = decode(&rows, &Arc::new(Schema::new(vec![field]))).is_ok()
                // The JSON decoder truncates `1.7` into an integer field: not a fit.
                && !(declared.ty.to_arrow().is_integer() && found.data_type().is_floating());
            let live = if fits {
                LiveColumn::new(name, &declared.ty.to_arrow(), nulls > 0)
            } else {
                LiveColumn::new(name, found.data_type(), nulls > 0)
            };
            inspection.columns.push(LiveColumn {
                nulls: Some(nulls),
                ..live
            });
        }
        Ok(inspection)
    }
}

export_source!(HttpApi);

/// The request settings and the client of a table.
fn setup(
    options: &HttpApiOptions,
    env: &Environment,
) -> Result<(Config, reqwest::Client), HttpError> {
    let url = &options.url;
    let url = if url.starts_with('/') {
        let base = env
            .http_base_url
            .as_deref()
            .ok_or_else(|| HttpError::NoBaseUrl {
                url: url.clone(),
                environment: env.name.clone(),
            })?;
        format!("{}{url}", base.trim_end_matches('/'))
    } else {
        url.clone()
    };
    let auth = options.auth.as_ref().map(
        |HttpAuth {
             header, env: var, ..
         }| Auth {
            header: header.clone(),
            var: var.clone(),
            given: env.secrets.get(var).cloned(),
        },
    );
    let config = Config {
        url,
        rows_path: options.rows_path.clone(),
        pagination: options.pagination.clone(),
        auth,
        max_retries: options.max_retries,
        timeout: env
            .http_timeout
            .map_or(options.timeout, |cap| cap.min(options.timeout)),
        capped: env.http_timeout.is_some_and(|cap| cap < options.timeout),
    };
    let client = reqwest::Client::builder()
        .timeout(config.timeout)
        .build()
        .map_err(HttpError::Client)?;
    Ok((config, client))
}

#[derive(Debug)]
struct Config {
    /// The full URL of the first page.
    url: String,
    rows_path: String,
    pagination: Pagination,
    auth: Option<Auth>,
    max_retries: u32,
    /// The client's timeout per request, for messages.
    timeout: Duration,
    /// Whether that is the environment's cap (`CODELAKE_HTTP_TIMEOUT`) rather than the table's own.
    capped: bool,
}

/// A credential sent in a header.
#[derive(Debug)]
struct Auth {
    header: String,
    /// The variable holding it (the table's `auth_env`).
    var: String,
    /// The environment's own value of `var`, if it gives one (`local` does);
    /// otherwise the process variable is read at each scan, so a rotated token is picked up.
    given: Option<Secret>,
}

/// Fetches and decodes every page, at each scan.
#[derive(Debug)]
struct Fetch {
    config: Config,
    client: reqwest::Client,
    schema: SchemaRef,
}

#[async_trait]
impl Rows for Fetch {
    async fn rows(&self) -> Result<RecordBatch, Box<dyn std::error::Error + Send + Sync>> {
        let (rows, _) = fetch(&self.client, &self.config, usize::MAX).await?;
        Ok(decode(&rows, &self.schema)?)
    }
}

/// The rows of every page, or of the pages holding the first `enough` rows;
/// and how many pages were read.
async fn fetch(
    client: &reqwest::Client,
    config: &Config,
    enough: usize,
) -> Result<(Vec<Value>, usize), HttpError> {
    let mut rows = Vec::new();
    let mut url = config.url.clone();
    for page in 1..=MAX_PAGES {
        let request_url = match &config.pagination {
            Pagination::Page { param } => with_query(&config.url, param, page),
            _ => url.clone(),
        };
        let body = get_json(client, config, &request_url).await?;
        let found = page_rows(&body, config, &request_url)?;
        let empty = found.is_empty();
        rows.extend(found.iter().cloned());
        if rows.len() >= enough {
            return Ok((rows, page));
        }
        match &config.pagination {
            Pagination::None => return Ok((rows, page)),
            Pagination::Page { .. } if empty => return Ok((rows, page)),
            Pagination::Page { .. } => {}
            Pagination::NextLink { path } => match body.pointer(path).and_then(Value::as_str) {
                Some(next) if !next.is_empty() => url = resolve(&request_url, next),
                _ => return Ok((rows, page)),
            },
        }
    }
    Err(HttpError::TooManyPages(config.url.clone()))
}

/// The type of a JSON text field: a timestamp or a date when every value
/// parses as one (JSON has no such types), else text.
fn text_type(rows: &[Value], name: &str) -> DataType {
    let texts: StringArray = rows
        .iter()
        .map(|row| row.get(name).and_then(Value::as_str))
        .collect();
    let options = CastOptions {
        safe: true,
        ..CastOptions::default()
    };
    let candidates = [
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Date32,
    ];
    candidates
        .into_iter()
        .find(|candidate| {
            texts.null_count() < texts.len()
                && cast_with_options(&texts, candidate, &options)
                    .is_ok_and(|parsed| parsed.null_count() == texts.null_count())
                // A date parses as a timestamp too; keep "1995-01-01" a date.
                && !(matches!(candidate, DataType::Timestamp(..))
                    && texts.iter().flatten().all(|text| text.len() == 10))
        })
        .unwrap_or(DataType::Utf8)
}

/// The array of rows at `rows_path` in one page.
fn page_rows<'a>(body: &'a Value, config: &Config, url: &str) -> Result<&'a Vec<Value>, HttpError> {
    let found = body.pointer(&config.rows_path).ok_or_else(|| {
        HttpError::Rows(format!(
            "the response of {url} has nothing at `rows_path = \"{}\"`",
            config.rows_path
        ))
    })?;
    found.as_array().ok_or_else(|| {
        HttpError::Rows(format!(
            "`rows_path = \"{}\"` in the response of {url} is not an array of rows",
            config.rows_path
        ))
    })
}

/// GETs a JSON document, retrying connection failures and server errors with backoff.
async fn get_json(
    client: &reqwest::Client,
    config: &Config,
    url: &str,
) -> Result<Value, HttpError> {
    let mut attempt = 0;
    loop {
        let mut request = client.get(url);
        if let Some(Auth { header, var, given }) = &config.auth {
            let secret = match given {
                Some(secret) => secret.expose().to_owned(),
                None => std::env::var(var).map_err(|_| HttpError::NoCredential {
                    var: var.clone(),
                    header: header.clone(),
                })?,
            };
            request = request.header(header, secret);
        }
        let mut silent = false;
        let mut connect = false;
        let failure = match request.send().await {
            // Server errors and rate limits may pass: retry them.
            Ok(response)
                if response.status().is_server_error()
                    || response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS =>
            {
                format!("{url} answered {}", response.status())
            }
            Ok(response) if !response.status().is_success() => {
                // A client error will not improve with retries: say so at once.
                return Err(HttpError::Refused {
                    url: url.to_owned(),
                    status: response.status(),
                });
            }
            Ok(response) => {
                let bytes = response.bytes().await.map_err(|source| HttpError::Body {
                    url: url.to_owned(),
                    source,
                })?;
                return serde_json::from_slice(&bytes).map_err(|source| HttpError::NotJson {
                    url: url.to_owned(),
                    source,
                });
            }
            // A server that takes the connection and never answers: its address
            // is right (no base-URL hint), though its data cannot be had.
            Err(error) if error.is_timeout() => {
                silent = true;
                String::new()
            }
            Err(error) => {
                connect = error.is_connect();
                format!("requesting {url}: {}", without_url(&error))
            }
        };
        if attempt >= config.max_retries {
            let attempts = attempt + 1;
            return Err(if silent {
                HttpError::Silent {
                    url: url.to_owned(),
                    timeout: config.timeout,
                    capped: config.capped,
                    attempts,
                }
            } else {
                HttpError::Failed {
                    failure,
                    attempts,
                    connect,
                }
            });
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(100 << attempt.min(6))).await;
    }
}

/// reqwest's error text, whose URL we already print, and its first cause
/// (`Connection refused`, a DNS error), which says what to fix.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
        text = text.replace(&format!(" ({url})"), "");
    }
    let mut cause = std::error::Error::source(error);
    let mut root = None;
    while let Some(error) = cause {
        root = Some(error.to_string());
        cause = error.source();
    }
    match root {
        Some(root) if !text.contains(&root) => format!("{text}: {root}"),
        _ => text,
    }
}

/// `1 attempt`, `4 attempts`.
fn attempts_text(attempts: u32) -> String {
    match attempts {
        1 => "1 attempt".to_owned(),
        n => format!("{n} attempts"),
    }
}

fn with_query(url: &str, param: &str, page: usize) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}={page}")
}

/// A next link may be absolute, or a path on the same server.
fn resolve(current: &str, next: &str) -> String {
    if next.starts_with("http://") || next.starts_with("https://") {
        return next.to_owned();
    }
    let after_scheme = current.find("://").map_or(0, |scheme| scheme + 3);
    let path_start = current[after_scheme..]
        .find('/')
        .map_or(current.len(), |i| after_scheme + i);
    let (origin, path) = current.split_at(path_start);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if next.starts_with('/') {
        format!("{origin}{next}")
    } else if next.starts_with('?') {
        // A new query on the same path.
        format!("{origin}{path}{next}")
    } else {
        // Relative to the current path's directory.
        let directory = path.rfind('/').map_or("/", |slash| &path[..=slash]);
        format!("{origin}{directory}{next}")
    }
}

/// Decodes JSON rows against the declared schema, by field name.
fn decode(rows: &[Value], schema: &SchemaRef) -> Result<RecordBatch, HttpError> {
    let mut decoder = arrow_json::ReaderBuilder::new(SchemaRef::clone(schema))
        .build_decoder()
        .map_err(HttpError::Schema)?;
    decoder.serialize(rows).map_err(HttpError::Decode)?;
    let batch = decoder.flush().map_err(HttpError::Decode)?;
    Ok(batch.unwrap_or_else(|| RecordBatch::new_empty(SchemaRef::clone(schema))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_links_resolve_like_a_browser() {
        let current = "http://127.0.0.1:8080/fx/rates?page=1";
        assert_eq!(
            super::resolve(current, "https://other.example/x"),
            "https://other.example/x"
        );
        assert_eq!(
            super::resolve(current, "/fx/rates/2"),
            "http://127.0.0.1:8080/fx/rates/2"
        );
        assert_eq!(
            super::resolve(current, "?page=2"),
            "http://127.0.0.1:8080/fx/rates?page=2"
        );
        assert_eq!(
            super::resolve(current, "more"),
            "http://127.0.0.1:8080/fx/more"
        );
        assert_eq!(super::resolve("http://h", "?page=2"), "http://h?page=2");
    }
}
