//! The MCP front end of `codelake`: the catalog for AI agents, over the
//! Model Context Protocol (the official Rust SDK, `rmcp`).
//!
//! An agent gets, from the declared catalog rather than from guesses:
//! - **tools** (each with a JSON Schema for its input and a typed, structured
//!   output): `list_tables`, `describe_table` (docs, columns, owner,
//!   freshness, expectations, source, lineage both ways), `query` (read-only
//!   SQL with a row cap and a byte cap), `explain` (a plan, not run) and
//!   `verify_table` (one table's `verify` checks, live);
//! - **resources**: each table's documentation page (`codelake://tpch/part`),
//!   the lineage graph (`codelake://lineage`) and, when the server was given
//!   one, the last verify report (`codelake://verify-report`).
//!
//! Two transports carry the same server: stdio ([`serve_stdio`], for an
//! editor that launches `codelake mcp`) and streamable HTTP
//! ([`http_service`], mounted at `/mcp` by `codelake serve` behind its tokens).
//!
//! Queries go through the shared query service ([`catalog_serve::QueryService`]):
//! the read-only policy, limits, timeout and metrics are its, never re-written
//! here. A failed tool call is a tool result with `isError` and a message
//! naming the table and the fix, never a crash. Rows come back as structured
//! content, never spliced into instruction text, and no tool description
//! holds table data.
//!
//! This crate must not know the CLI, where the environment's settings come
//! from, the `tables` crate, or another wire protocol: the catalog arrives as
//! data, and HTTP only as the endpoint a front end mounts.

mod describe;
mod rows;
mod server;

use std::sync::Arc;

use catalog_core::lineage::ViewLineage;
use catalog_runtime::verify::Verifier;
use catalog_serve::QueryService;

pub use server::CatalogServer;

/// The front end's name in metrics and traces.
pub const FRONT_END: &str = "mcp";

/// The most rows and bytes a `query` result carries to an agent: an agent's
/// context is small, and a result past these is cut short with a note saying
/// how many rows were left out.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Rows a `query` returns when the agent does not ask for fewer.
    pub default_rows: usize,
    /// The most rows a `query` may return, whatever the agent asks.
    pub max_rows: usize,
    /// The most bytes of JSON a `query` result's rows may take.
    pub max_bytes: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Self {
            default_rows: 100,
            max_rows: 1_000,
            max_bytes: 256 << 10,
        }
    }
}

/// What the agents' server answers from: the query service, the catalog's
/// lineage, a verifier for live checks and the last verify report.
pub struct Agents {
    service: Arc<QueryService>,
    lineage: Vec<ViewLineage>,
    verifier: Option<Verifier>,
    /// `verify_table` calls that may run at once.
    verifying: tokio::sync::Semaphore,
    report: Option<String>,
    caps: Caps,
}

/// `verify_table` calls that run at once; more wait.
const VERIFYING_AT_ONCE: usize = 2;

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents")
            .field("service", &self.service)
            .field("views", &self.lineage.len())
            .field("verifier", &self.verifier.is_some())
            .field("report", &self.report.is_some())
            .field("caps", &self.caps)
            .finish()
    }
}

impl Agents {
    /// Answers from `service` (its catalog, policy and limits) and the
    /// catalog's `lineage`, within `caps`.
    pub fn new(service: Arc<QueryService>, lineage: Vec<ViewLineage>, caps: Caps) -> Self {
        Self {
            service,
            lineage,
            verifier: None,
            verifying: tokio::sync::Semaphore::new(VERIFYING_AT_ONCE),
            report: None,
            caps,
        }
    }

    /// Runs `verify_table` with `verifier` (built over the session the
    /// service was made from); without one, the tool says it is not offered.
    pub fn with_verifier(mut self, verifier: Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Offers `report` (`codelake verify --format json` output, already
    /// checked by the caller) as the `codelake://verify-report` resource.
    pub fn with_report(mut self, report: String) -> Self {
        self.report = Some(report);
        self
    }
}

/// Serves `agents` over standard input and output until the client closes
/// them. Standard output carries the protocol alone: everything else a
/// process prints must go to standard error.
pub async fn serve_stdio(agents: Arc<Agents>) -> std::io::Result<()> {
    use rmcp::ServiceExt;
    let running = CatalogServer::new(agents)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| {
            std::io::Error::other(format!("the MCP session did not start: {error}"))
        })?;
    running
        .waiting()
        .await
        .map_err(|error| std::io::Error::other(format!("the MCP session failed: {error}")))?;
    Ok(())
}

/// The streamable HTTP endpoint over `agents`, for a front end to mount
/// (`codelake serve` mounts it at `/mcp`, behind its token check). Stateless:
/// each request stands alone, so nothing is held per client between requests.
///
/// rmcp's `Host` check (loopback names only, against DNS rebinding) is off:
/// every request must carry a token, which a rebinding page does not have,
/// and the check would refuse a server reached through a proxy under its own name.
pub fn http_service(agents: Arc<Agents>) -> axum::Router {
    use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .disable_allowed_hosts();
    let service = StreamableHttpService::new(
        move || Ok(CatalogServer::new(Arc::clone(&agents))),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    axum::Router::new().fallback_service(service)
}
