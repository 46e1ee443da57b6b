//! The HTTP front end of `codelake serve`: a thin axum adapter over the query
//! service ([`catalog_serve::QueryService`]), which owns tokens, the statement
//! policy, limits and metrics. This crate only speaks HTTP: routes, the
//! `Authorization` header, `Accept` and the result formats.
//!
//! It must not know how queries are planned, the CLI, or the `tables` crate.
//!
//! Routes (see `docs/reference/serve.md`):
//! - `POST /v1/sql`: the body is the SQL; the answer is in the `Accept`ed
//!   format ([`Format`]), streamed as batches arrive;
//! - `GET /v1/tables`, `GET /v1/tables/{database}/{table}`: the declared catalog;
//! - `GET /health`, `GET /ready`: for load balancers, without a token;
//! - `GET /metrics`: Prometheus text, with a token;
//! - `GET /` and below: the catalog site (`catalog-site`), when the server was
//!   given one, with the token as a bearer or as a Basic password;
//! - `/mcp`: the agents' endpoint (MCP's streamable HTTP, from `catalog-mcp`),
//!   when the server was given one, behind the same token check.

mod format;
mod listen;
mod site;
mod tables;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use catalog_serve::{Caller, ErrorCode, QueryService, ServeError};
use futures::StreamExt;

pub use format::Format;
pub use listen::serve_tls;

/// The front end's name in metrics and traces.
const FRONT_END: &str = "http";

/// The largest SQL body a request may carry.
pub const MAX_SQL_BYTES: usize = 1 << 20;

/// What the HTTP front end serves beside its own routes.
#[derive(Debug, Default, Clone)]
pub struct Mounts {
    /// The catalog site, at `/` and below.
    pub site: Option<Arc<catalog_site::Site>>,
    /// Another front end's endpoint, at `/mcp`, behind the same token check
    /// (the agents' MCP endpoint). This crate only routes to it.
    pub mcp: Option<Router>,
}

/// The routes, over `service`, and what `mounts` adds. The token is checked
/// before a body is read.
pub fn router(service: Arc<QueryService>, mounts: Mounts) -> Router {
    let Mounts { site, mcp } = mounts;
    let mut guarded = Router::new()
        .route("/v1/sql", post(sql))
        .route("/v1/tables", get(tables::list))
        .route("/v1/tables/{database}/{table}", get(tables::one))
        .route("/metrics", get(metrics));
    if let Some(mcp) = mcp {
        guarded = guarded.nest_service("/mcp", mcp);
    }
    let guarded = guarded
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&service),
            require_token,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_SQL_BYTES));
    Router::new()
        .merge(guarded)
        .route("/health", get(health))
        .route("/ready", get(ready))
        .fallback(
            move |State(service): State<Arc<QueryService>>,
                  method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: HeaderMap| async move {
                site.as_deref()
                    .and_then(|site| site::answer(&service, site, &method, &uri, &headers))
                    .unwrap_or_else(|| not_found(&uri, site.is_some()))
            },
        )
        .with_state(service)
}

/// Refuses a request without an accepted token, before its body is read.
async fn require_token(
    State(service): State<Arc<QueryService>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match refused(&service, request.headers()) {
        Some(response) => response,
        None => next.run(request).await,
    }
}

/// Serves `service` on `listener` until `shutdown` resolves; then takes no
/// new connection and returns once the requests in flight are answered.
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: Arc<QueryService>,
    mounts: Mounts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::accept_loop(listener, service, mounts, None, shutdown).await
}

/// An error as JSON: `{"code": "...", "message": "..."}`, with its HTTP status.
pub(crate) fn error_response(error: &ServeError) -> Response {
    let status =
        StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(error).unwrap_or_default(),
    )
        .into_response();
    if matches!(error.code, ErrorCode::Busy | ErrorCode::ShuttingDown) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if error.code == ErrorCode::Unauthenticated {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"codelake\""),
        );
    }
    response
}

/// The bearer token of `headers`, if any. The token is never logged.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The 401 answer for a request whose token the service refuses, if it does.
fn refused(service: &QueryService, headers: &HeaderMap) -> Option<Response> {
    let error = service.authenticate(bearer(headers)).err()?;
    service.metrics().error(FRONT_END, error.code);
    Some(error_response(&error))
}

/// `POST /v1/sql` (the token is checked by [`require_token`]).
async fn sql(
    State(service): State<Arc<QueryService>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let fail = |error: ServeError| {
        service.metrics().error(FRONT_END, error.code);
        error_response(&error)
    };
    let format = match Format::negotiate(headers.get(header::ACCEPT)) {
        Ok(format) => format,
        Err(error) => return fail(error),
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            return fail(ServeError::new(
                ErrorCode::ResultTooLarge,
                format!(
                    "the request body cannot be read ({rejection}); send at most {MAX_SQL_BYTES} bytes of SQL"
                ),
            ));
        }
    };
    let Ok(sql) = std::str::from_utf8(&body) else {
        return fail(ServeError::new(
            ErrorCode::SyntaxError,
            "the request body is not UTF-8 text; send the SQL as the body",
        ));
    };
    let caller = Caller {
        front_end: FRONT_END,
        address: Some(address),
    };
    let started = Instant::now();
    let mut stream = match service.query(sql, caller).await {
        Ok(stream) => stream,
        Err(error) => return error_response(&error),
    };
    // The first batch decides the status: most failures (a source that cannot
    // be read) show there, while an error can still be an error response.
    let first = stream.next().await;
    let first = match first {
        Some(Err(error)) => return error_response(&error),
        other => other.map(|batch| batch.expect("errors are answered above")),
    };
    if format == Format::Json {
        return format::json(&service, stream, first).await;
    }
    // The first batch is also written before the status: a value the format
    // cannot hold (a list in CSV) is an error response, not a cut-short body.
    let (encoder, opening) = match format::open(format, &stream.schema(), first.as_ref()) {
        Ok(opened) => opened,
        Err(error) => return fail(error),
    };
    let metrics = Arc::clone(service.metrics());
    let body = format::stream(encoder, opening, stream).map(move |chunk| {
        if let Ok(bytes) = &chunk {
            metrics.bytes_out(FRONT_END, bytes.len() as u64);
        } else {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "a result stream failed after its status was sent; the response is cut short"
            );
        }
        chunk
    });
    (
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(body),
    )
        .into_response()
}

/// `GET /health`: the process answers.
async fn health() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// `GET /ready`: the catalog is loaded and queries are taken (503 while
/// draining). Counts only: which tables are unavailable, and why, is behind
/// the token (`GET /v1/tables`).
async fn ready(State(service): State<Arc<QueryService>>) -> Response {
    let draining = service.is_shutting_down();
    let body = serde_json::json!({
        "status": if draining { "shutting_down" } else { "ready" },
        "tables": service.catalog().len(),
        "unavailable": service.unavailable().len(),
    });
    let status = if draining {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text.
async fn metrics(State(service): State<Arc<QueryService>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        service.metrics().prometheus(),
    )
        .into_response()
}

fn not_found(uri: &axum::http::Uri, site: bool) -> Response {
    error_response(&ServeError::new(
        ErrorCode::NotFound,
        format!(
            "no route {}: the routes are POST /v1/sql, GET /v1/tables, GET /v1/tables/{{database}}/{{table}}, \
             GET /health, GET /ready and GET /metrics{}",
            uri.path(),
            if site {
                ", and the catalog site from GET /"
            } else {
                ""
            }
        ),
    ))
}

/// `Path` of `/v1/tables/{database}/{table}`.
type TablePath = Path<(String, String)>;
