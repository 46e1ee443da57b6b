//! The codelake catalog as code: one module per database.
//!
//! Each module declares its database's tables as Rust structs with
//! `#[derive(Table)]`: the fields are the schema, the doc comments the
//! documentation, the `#[table(..)]` attributes the source and expectations.
//! `cargo xtask gen-catalog` reads these modules and generates the registry of
//! every table, `catalog.json` and the reference docs from them.
//!
//! What it must not know: how tables are read or served. It holds declarations
//! only, so gen-catalog can read it as syntax without building it.

pub mod tpch;

mod catalog;

pub use catalog::{Catalog, REGISTRY, catalog, databases};

/// The tables' declared sample data, `<database>/<table>.csv` files that
/// `codelake data seed` installs (`catalog_core::fixture` has the rules, and
/// `cargo xtask gen-catalog` checks them against the declarations).
pub const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
