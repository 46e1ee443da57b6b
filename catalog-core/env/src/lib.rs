//! Where codelake runs, resolved in one place.
//!
//! - [`config`]: which environment a command runs in, from built-in profiles
//!   (`local`, `production`), `codelake.toml`, environment variables and flags.
//! - [`local`]: the embedded `local` environment: a real S3-protocol server and
//!   an HTTP JSON API on loopback, the demo's fixtures (the `codelake` bucket,
//!   the exchange rates) and the demo's queries.
//!
//! What it must not know: DataFusion, the plugins, and any particular catalog.
//! It hands out an [`Environment`](catalog_core::Environment), the plain data a
//! plugin builds a table from; it never reads a table's source options.

pub mod config;
pub mod local;
mod s3_files;
