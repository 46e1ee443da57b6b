//! The query service: what every front end of `codelake serve` shares, written
//! once. HTTP is the first front end (crate `catalog-http`); Flight SQL, the
//! Postgres wire and the agent interface follow, each a thin adapter over
//! [`QueryService`].
//!
//! The service owns:
//! - **authentication**: bearer tokens, several at once for rotation, compared
//!   in constant time and never logged ([`Tokens`]);
//! - **the statement policy**: the runtime's read-only policy, with `SET`
//!   limited to [`ALLOWED_SETTINGS`]; no URL tables;
//! - **limits**: concurrent queries (the rest queue, then are refused), a
//!   per-query timeout, and a memory pool for the whole server, so that a
//!   runaway query fails alone; queries execute on a runtime of their own,
//!   so that one computing for seconds never delays a deadline, `/health` or
//!   another client;
//! - **metrics and tracing**: counts, errors, a latency histogram and bytes
//!   out per front end ([`Metrics`]), and one `tracing` span per query;
//! - **TLS material**: the certificate and key, read once ([`server_config`]);
//!   each front end offers its own protocol on it by ALPN.
//!
//! It must not know any wire protocol, the CLI, or the `tables` crate: the
//! catalog arrives as data (`TableSpec`s) and as a DataFusion state with the
//! tables registered, so any process with the catalog and the plugins can
//! serve it.

mod auth;
mod error;
mod executor;
mod metrics;
mod service;
mod stream;
mod tls;

pub use auth::Tokens;
pub use catalog_runtime::CopyStatus;
pub use error::{ErrorCode, ServeError};
pub use metrics::Metrics;
pub use service::{ALLOWED_SETTINGS, Caller, Limits, MAX_PARAMETERS, Prepared, QueryService};
pub use stream::QueryStream;
pub use tls::{TlsError, server_config};
/// The rustls types a front end needs for TLS, at the version the service uses.
pub use tokio_rustls::rustls;
