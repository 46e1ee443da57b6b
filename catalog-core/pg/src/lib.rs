//! The Postgres wire front end of `codelake serve`: a thin adapter, on
//! `pgwire`, that turns Postgres messages into calls of the query service
//! (`catalog-serve`), which owns tokens, the read-only policy, limits and
//! metrics.
//!
//! - **Authentication:** the password is the service's token, asked for in
//!   clear text over TLS or loopback only (a client beyond loopback that did
//!   not negotiate TLS is refused before it sends it); a wrong one is
//!   SQLSTATE 28P01.
//! - **Queries:** the simple protocol (several statements at once) and the
//!   extended one (parse, bind, describe, execute, with `$n` parameters, as
//!   psycopg and JDBC send them); results stream as they come, in text or
//!   binary per column ([`encode`] maps Arrow types to Postgres's).
//! - **Sessions:** `BEGIN`/`COMMIT`/`ROLLBACK`, `SET` and `SHOW` of Postgres
//!   settings are answered here; `SET datafusion.…` lasts for the session.
//! - **Catalog queries:** psql's `\dt`, `\d TABLE`, `\dn`, `\l` and the
//!   catalog queries of drivers read [`pg_catalog`], built from the declared
//!   catalog, and [`statement`] rewrites their Postgres-only syntax.
//!
//! It must not know HTTP's routes, Flight SQL, the CLI, configuration files or
//! the `tables` crate: the catalog arrives through the service, as data.

mod auth;
pub mod encode;
mod extended;
mod front;
mod functions;
mod listen;
mod params;
pub mod pg_catalog;
mod rewrite;
pub mod statement;

pub use front::PgFront;
pub use listen::serve;

use catalog_serve::QueryService;

/// The service's name for this front end, in metrics and logs.
pub const FRONT_END: &str = "postgres";

/// Gives `service`'s Postgres clients `pg_catalog` and `information_schema`,
/// built from the catalog it serves. Call once, before the service is shared.
pub fn install(service: &mut QueryService) {
    let catalog = service.catalog().to_vec();
    service.extend_for(FRONT_END, |state| pg_catalog::extend(state, &catalog));
}
