//! The Arrow Flight SQL front end of `codelake serve`: a thin adapter that
//! turns Flight SQL calls into calls of the query service (`catalog-serve`),
//! which owns tokens, the read-only policy, limits and metrics.
//!
//! It serves statement queries and prepared statements (`GetFlightInfo`, then
//! `DoGet` on the ticket it returns; the ticket carries the SQL, so any server
//! of the same catalog can answer it), and the metadata clients ask for on
//! connect: `GetCatalogs`, `GetDbSchemas`, `GetTables` (with each table's
//! schema), `GetTableTypes` and `GetSqlInfo`. Writes, Substrait plans and
//! transactions are refused with a message that says so.
//!
//! Authentication is `authorization: Bearer <token>` on every call, or a
//! Basic handshake whose password is the token (for clients that only know
//! user and password); both end in the service's token check.
//!
//! It must not know HTTP's routes, the CLI, configuration files or the
//! `tables` crate: the catalog arrives through the service.

mod listen;
mod metadata;
mod planned;
mod refusals;
mod service;

pub use listen::serve;
pub use service::FlightFront;
