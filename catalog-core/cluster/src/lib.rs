//! codelake across processes, on [datafusion-distributed]: the worker that
//! `codelake worker` runs, and the coordinator's side of `--workers`.
//!
//! A coordinator plans a query as one process would, then
//! datafusion-distributed cuts the physical plan into stages at its shuffles
//! and sends each stage's tasks to workers as plans. Parquet and CSV scans
//! travel as DataFusion's own `DataSourceExec` (datafusion-proto), split by
//! file and byte range across tasks; each worker reads them through object
//! stores it builds from its own environment
//! ([`catalog_runtime::EnvironmentStores`]). A scan that is not a file scan (a
//! function, an HTTP API, an in-memory copy) travels as the table's name, and
//! the worker that runs it scans the table of that name in the catalog it
//! registered itself: a table's provider is built from its spec and the
//! environment alone. Such a scan is not split: its stage has one task.
//!
//! Because a worker executes whatever plan it is sent, it only runs plans of
//! the catalog it serves: a coordinator and a worker compare a
//! [`CatalogHash`] (of `catalog.json` and the plugins' versions) when the
//! coordinator starts and on every task, and a worker beyond loopback
//! requires the cluster's [`ClusterToken`], and TLS (a certificate, and a
//! [`WorkerTrust`] in the processes that call it) or an explicit opt-out.
//!
//! This crate must not know configuration files, profiles or the embedded
//! environment (`catalog-env`: the binary hands it an `Environment`), any
//! front end's protocol, or any plugin: it moves plans, not sources.
//!
//! [datafusion-distributed]: https://github.com/datafusion-contrib/datafusion-distributed

mod channel;
mod coordinator;
mod explain;
mod hash;
mod rebuild;
mod tls;
mod token;
mod worker;

pub use coordinator::{Cluster, ClusterError, WorkerProbe, WorkerState};
pub use hash::CatalogHash;
pub use tls::{TrustError, WorkerTrust};
pub use token::ClusterToken;
pub use worker::{WorkerOptions, serve_worker, worker_context};

/// The header that carries the coordinator's [`CatalogHash`] on every call.
pub const CATALOG_HEADER: &str = "x-codelake-catalog";
