//! codelake's runtime: loads source plugins and registers every catalog table
//! in one DataFusion session, so one SQL query can join them all; and
//! [`verify`], which checks the declared catalog against a live environment.
//!
//! What it must not know: any source kind (it reads `spec.source` only to pick a
//! plugin, and never interprets options, locations or credentials), any
//! particular catalog (it takes specs, never links `tables`), and where the
//! environment comes from (`catalog-env` builds it). It meets plugins only at
//! the C ABI of `codelake-plugin-abi`.
//!
//! ```no_run
//! # async fn demo(registry: catalog_core::Registry) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use catalog_core::Environment;
//! use catalog_runtime::{PluginSet, default_plugin_dir, register_tables};
//!
//! let ctx = Arc::new(datafusion::prelude::SessionContext::new());
//! let plugins = PluginSet::load_dir(&default_plugin_dir())?;
//! let env = Environment::new("local", "data");
//! let failures = register_tables(&ctx, &plugins, registry.tables(), &env);
//! for failure in &failures {
//!     eprintln!("{failure}"); // one broken table never stops the others
//! }
//! ctx.sql("SELECT count(*) FROM tpch.nation").await?.show().await?;
//! # Ok(()) }
//! ```

pub mod accelerate;
mod error;
mod host;
mod message;
mod needed;
pub mod policy;
mod register;
mod scan;
mod settings;
mod typed;
pub mod verify;
pub mod views;

pub use accelerate::{Accelerator, CopyStatus};
pub use error::{Error, Result};
pub use host::{PLUGIN_DIR_VAR, Plugin, PluginSet, default_plugin_dir};
pub use message::user_message;
pub use needed::needed_by;
pub use policy::StatementPolicy;
pub use register::{inspect, register_tables};
pub use scan::{
    CACHE_VAR, EnvironmentStores, HOST_SCANS_VAR, RangeCacheStats, plain_task_context,
    range_cache_stats,
};
pub use settings::{
    HASH_JOIN_SINGLE_PARTITION_BYTES, HASH_JOIN_SINGLE_PARTITION_ROWS, session_config,
};
pub use typed::Rows;
