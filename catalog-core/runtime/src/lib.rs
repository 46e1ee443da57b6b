//! codelake's runtime: loads source plugins and registers every catalog table
//! in one DataFusion session, so one SQL query can join them all.
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

mod error;
mod host;
pub mod local;
mod register;
mod s3_files;
pub mod verify;

pub use error::{Error, Result};
pub use host::{PLUGIN_DIR_VAR, Plugin, PluginSet, default_plugin_dir};
pub use register::{inspect, register_tables};
