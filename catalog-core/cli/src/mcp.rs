//! `codelake mcp`: the catalog for AI agents, over the Model Context Protocol
//! on standard input and output (an editor or agent launches it), through the
//! same query service, policy and limits as `codelake serve` (`catalog-mcp`).
//! `codelake serve` offers the same server at `/mcp`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use catalog_serve::{Limits, QueryService, Tokens};
use clap::Args;

use crate::Global;
use crate::error::{CliError, EXIT_ENVIRONMENT, EXIT_USAGE};
use crate::serve::parse_size;
use crate::session::{Seed, Session, Unavailable};

/// The caps on what one `query` returns to an agent (`mcp`, and `serve`'s `/mcp`).
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Rows a `query` tool call returns when the agent names no number.
    #[arg(long, default_value_t = catalog_mcp::Caps::default().default_rows, value_name = "N")]
    mcp_default_rows: usize,
    /// The most rows a `query` tool call returns, whatever the agent asks;
    /// a cut result says how many rows were left out.
    #[arg(long, default_value_t = catalog_mcp::Caps::default().max_rows, value_name = "N")]
    mcp_max_rows: usize,
    /// The most bytes of rows (as JSON) a `query` tool call returns, e.g. `256KiB`.
    #[arg(long, default_value = "256KiB", value_parser = parse_size, value_name = "SIZE")]
    mcp_max_bytes: usize,
}

impl AgentArgs {
    /// The caps, or a usage error for a zero.
    pub fn caps(&self) -> Result<catalog_mcp::Caps, CliError> {
        for (zero, flag) in [
            (self.mcp_default_rows == 0, "--mcp-default-rows"),
            (self.mcp_max_rows == 0, "--mcp-max-rows"),
        ] {
            if zero {
                return Err(CliError::msg(
                    EXIT_USAGE,
                    format!("{flag} must be above zero"),
                ));
            }
        }
        Ok(catalog_mcp::Caps {
            default_rows: self.mcp_default_rows.min(self.mcp_max_rows),
            max_rows: self.mcp_max_rows,
            max_bytes: self.mcp_max_bytes,
        })
    }
}

/// `codelake mcp`'s flags.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// A `codelake verify --format json` report, offered to agents as the
    /// `codelake://verify-report` resource.
    #[arg(long, value_name = "FILE")]
    verify_report: Option<PathBuf>,
    /// Serve the tables of this catalog manifest (a `catalog.json` written by
    /// `cargo xtask gen-catalog`) instead of the catalog built into codelake.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    #[command(flatten)]
    agents: AgentArgs,
    /// How long one query may take before it is cancelled.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    query_timeout: Duration,
    /// Memory for all queries together, e.g. `2GiB`; a query that needs more
    /// fails alone. Default: no limit.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    memory_limit: Option<usize>,
}

/// Runs the MCP server on standard input and output until the client closes them.
pub async fn run(global: &Global, args: McpArgs) -> Result<(), CliError> {
    let caps = args.agents.caps()?;
    // Settings first: a bad report stops the server before it loads anything.
    let report = args
        .verify_report
        .as_deref()
        .map(crate::serve::read_report)
        .transpose()?;
    let manifest = args
        .catalog
        .as_deref()
        .map(crate::verify::read_catalog)
        .transpose()?;
    let catalog: Vec<catalog_core::TableSpec> = match &manifest {
        Some(tables) => tables.clone(),
        None => tables::REGISTRY.tables().cloned().collect(),
    };
    // Standard output is the protocol's: every message of the session goes to standard error.
    let mut session =
        Session::open_catalog(global, Seed::IfEmpty, Unavailable::Summary, manifest).await?;
    let limits = Limits {
        query_timeout: args.query_timeout,
        memory: args.memory_limit,
        ..Limits::default()
    };
    let (service, verifier) = service(&mut session, catalog, Tokens::new([""; 0]), limits)?;
    let lineage = crate::serve::lineage(service.catalog(), "the agents get").await;
    let mut agents =
        catalog_mcp::Agents::new(Arc::new(service), lineage, caps).with_verifier(verifier);
    if let Some((text, _)) = report {
        agents = agents.with_report(text);
    }
    eprintln!(
        "codelake MCP server on standard input and output, environment `{}` (Ctrl-D or closing the pipe stops it).",
        session.config.profile
    );
    catalog_mcp::serve_stdio(Arc::new(agents))
        .await
        .map_err(|error| CliError::msg(EXIT_ENVIRONMENT, error.to_string()))
}

/// The query service over `session`, and a verifier for the agents' live
/// checks (it takes the session's registration failures, so a table that
/// could not open says why).
pub fn service(
    session: &mut Session,
    catalog: Vec<catalog_core::TableSpec>,
    tokens: Tokens,
    limits: Limits,
) -> Result<(QueryService, catalog_runtime::verify::Verifier), CliError> {
    let unavailable: Vec<(String, String)> = session
        .failures
        .iter()
        .map(|failure| {
            (
                failure.table().unwrap_or_default().to_owned(),
                failure.to_string(),
            )
        })
        .collect();
    let service = QueryService::new(&session.ctx, catalog, unavailable, tokens, limits)
        .map_err(|error| CliError::msg(EXIT_ENVIRONMENT, error.to_string()))?;
    let verifier = catalog_runtime::verify::Verifier::new(
        Arc::clone(&session.ctx),
        Arc::clone(&session.plugins),
        session.env.clone(),
        catalog_runtime::verify::VerifyOptions::default(),
        std::mem::take(&mut session.failures),
    );
    Ok((service, verifier))
}
