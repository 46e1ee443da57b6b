//! codelake's catalog model, shared by every other crate.
//!
//! A table is a Rust struct with `#[derive(Table)]` (from `catalog-derive`):
//! its fields are the schema, its doc comments the documentation, its
//! attributes the source. The derive turns that into a [`TableSpec`] — a
//! `static`, built at compile time — and typed row conversion to and from
//! Arrow [`RecordBatch`](arrow_array::RecordBatch)es.
//!
//! What it must not know: query execution (it depends on Arrow's array and
//! schema crates only, never on DataFusion), configuration files, servers, and
//! any particular catalog. Everything here is plain data that any process can
//! rebuild a table from.
//!
//! ```
//! use catalog_core::{Decimal, Table};
//! use catalog_derive::Table;
//!
//! /// Parts sold by suppliers.
//! #[derive(Table, Debug, PartialEq)]
//! #[table(database = "shop", source = "csv", location = "parts.csv", owner = "data@shop.example")]
//! struct Part {
//!     /// Part key.
//!     #[column(unique)]
//!     id: i64,
//!     /// Price in dollars.
//!     price: Decimal<15, 2>,
//!     /// Shelf, when known.
//!     shelf: Option<String>,
//! }
//!
//! assert_eq!(Part::SPEC.qualified_name(), "shop.part");
//! assert_eq!(Part::PRICE, "price");
//!
//! let rows = vec![Part { id: 1, price: "9.99".parse().unwrap(), shelf: None }];
//! let batch = Part::to_record_batch(&rows).unwrap();
//! assert_eq!(Part::from_record_batch(&batch).unwrap(), rows);
//! ```

pub mod contract;
mod decimal;
pub mod diff;
mod environment;
mod error;
pub mod fixture;
pub mod inspect;
pub mod lineage;
mod manifest;
mod registry;
pub mod rows;
pub mod source;
mod spec;
mod table;

pub use contract::Contract;
pub use decimal::{Decimal, ParseDecimalError};
pub use environment::{Environment, S3Settings, Secret};
pub use error::{Error, Result};
pub use manifest::Manifest;
pub use registry::Registry;
pub use spec::{
    Accelerate, ColumnSpec, ColumnType, DOC_METADATA_KEY, Expectations, Freshness, Interval,
    SourceOption, Str, TableSpec, UTC, VIEW_SOURCE, ViewSpec, parse_duration,
};
pub use table::{Table, TableRef};

/// Re-exported so generated code and users name the same Arrow version.
pub use arrow_array;
/// Re-exported so generated code and users name the same Arrow version.
pub use arrow_schema;
/// Re-exported so `chrono::NaiveDate` fields name the version this crate converts.
pub use chrono;
