//! `codelake`: SQL over the catalog, the local environment, sample data and the demo.
//!
//! Exit codes (also in `docs/reference/cli.md`):
//! 0 success; 1 a query or command failed; 2 bad usage (flags, arguments);
//! 3 the configuration is invalid (`codelake.toml`, variables, flags);
//! 4 the environment cannot be reached or started (servers, plugins);
//! 130 interrupted by Ctrl-C.
//!
//! What it must not know: how a source kind is read. It links the catalog
//! (`tables`), the runtime and the local environment, and reaches sources only
//! through the plugins; it is, with xtask and the tests, the one place that
//! links a particular catalog.

/// `println!` that never panics: a closed standard output (`codelake … | head`)
/// is the reader's choice, not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod cluster;
mod copies;
mod demo;
mod describe;
mod diff;
mod error;
mod local;
mod materialize;
mod mcp;
mod names;
mod new_table;
mod output;
mod seed;
mod serve;
mod session;
mod shell;
mod verify;
mod views;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::error::CliError;
use crate::output::Format;

/// codelake: a data catalog that is code. Query every table of the catalog
/// with SQL, whatever its source (Parquet on S3 or on disk, Delta Lake, CSV, HTTP JSON API, Rust function).
#[derive(Debug, Parser)]
#[command(name = "codelake", version, propagate_version = true)]
#[command(
    after_help = "Environment: CODELAKE_ENV=local|production picks the profile \
    (default local: embedded S3 and HTTP servers, nothing to install).\n\
    Every variable and codelake.toml key: docs/reference/configuration.md.\n\
    Exit codes: 0 ok, 1 failed, 2 bad usage, 3 bad configuration, 4 environment unreachable."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command takes; they override `codelake.toml` and the variables.
#[derive(Debug, Args)]
struct Global {
    /// Profile to run in: `local`, `production` or one of codelake.toml [env: CODELAKE_ENV]
    #[arg(long = "env", global = true, value_name = "PROFILE")]
    profile: Option<String>,
    /// Profiles file to read [env: CODELAKE_CONFIG] [default: nearest codelake.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the environment's files [env: CODELAKE_DATA_DIR]
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Directory of the source plugins [env: CODELAKE_PLUGIN_DIR] [default: beside this program]
    #[arg(long, global = true, value_name = "DIR")]
    plugin_dir: Option<PathBuf>,
    /// Run materialized views' SQL instead of reading their written copies
    #[arg(long, global = true)]
    live: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run SQL: one query, or an interactive shell when none is given.
    Sql(SqlArgs),
    /// List the catalog's tables.
    Tables {
        /// Output as a table or as JSON lines.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Describe a table: columns, types, docs, source, owner, freshness.
    Describe {
        /// The table, `database.name` (e.g. `tpch.part`).
        table: String,
    },
    /// Run the embedded local environment for other tools (S3 and HTTP on loopback).
    Local {
        #[command(subcommand)]
        command: LocalCommand,
    },
    /// Manage sample data.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Prove the catalog against the environment: every table reachable, its schema as
    /// declared (by column name), its queries answered, its expectations met.
    ///
    /// Exit code 0 when every table passes, 1 when one fails, 4 when none can be reached.
    Verify(verify::VerifyArgs),
    /// Check every view against the declared tables it reads (no data, no
    /// server) and print its column lineage.
    Views(views::ViewsArgs),
    /// Compare the catalog at two git revisions (or a revision and the working
    /// tree) from its catalog.json, with no build: each change classified
    /// breaking or compatible for the data's readers, with the views downstream.
    ///
    /// Exit code 0 when every breaking change is acknowledged in code, 1 when one is not.
    Diff(diff::DiffArgs),
    /// Write a view's rows to its declared `materialize` location (Parquet on
    /// S3), streamed to a temporary key, then moved into place.
    ///
    /// Queries and `verify` then read the written copy; `--live` runs the SQL instead.
    Materialize(materialize::MaterializeArgs),
    /// Print a `#[derive(Table)]` struct read from a live source (Parquet on S3 or on
    /// disk, a Delta table, CSV, HTTP JSON, a function), with the types it really has, ready for `tables/`.
    NewTable(new_table::NewTableArgs),
    /// Serve the catalog over HTTP, Arrow Flight SQL and the Postgres wire,
    /// read-only, behind bearer tokens: SQL in; JSON, NDJSON, CSV, Arrow or
    /// Parquet out over HTTP, Arrow over Flight SQL for ADBC and pyarrow, rows
    /// for psql and psycopg over Postgres (docs/reference/serve.md).
    Serve(Box<serve::ServeArgs>),
    /// Run a worker: execute the stages of queries a coordinator (`sql` or
    /// `serve` with `--workers`) plans across processes, reading the same
    /// catalog through the same plugins and environment.
    ///
    /// It runs only the plans of its own catalog (compared by a hash of the
    /// catalog and the plugins' versions) and, beyond loopback, only with the
    /// cluster token (CODELAKE_WORKER_TOKEN) and over TLS (--tls-cert,
    /// --tls-key), unless --insecure. Stops on Ctrl-C or SIGTERM.
    Worker(cluster::WorkerArgs),
    /// Serve the catalog to AI agents (MCP) on standard input and output.
    ///
    /// For an editor or agent to launch: tools to list, describe, query (read-only,
    /// capped), explain and verify tables, and each table's docs, the lineage graph
    /// and a verify report as resources (docs/how-to/give-agents-the-catalog.md).
    /// `codelake serve` offers the same at `/mcp`, behind its tokens.
    Mcp(mcp::McpArgs),
    /// Start the local environment, seed it if empty, and run the seed query, a federated join and a view declared in code.
    Demo {
        /// TPC-H scale factor of the sample data: regenerate at this scale unless already so.
        /// Without it, any complete sample data is kept, and 0.01 generated if there is none.
        #[arg(long)]
        scale: Option<f64>,
    },
}

#[derive(Debug, Args)]
struct SqlArgs {
    /// The query; omit it for an interactive shell.
    query: Option<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the result to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print the time the query took (on standard error; the shell always does).
    #[arg(long)]
    timing: bool,
    /// Query the tables of this catalog.json instead of the compiled catalog
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    #[command(flatten)]
    workers: cluster::WorkersArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum LocalCommand {
    /// Start the local environment in the background and print how to reach it.
    Up {
        /// Stay in the foreground until Ctrl-C instead.
        #[arg(long, conflicts_with = "workers")]
        foreground: bool,
        /// Also start N local workers (`codelake worker` on loopback), for
        /// `codelake sql --workers local` and `serve --workers local`.
        #[arg(long, value_name = "N", default_value_t = 0)]
        workers: usize,
    },
    /// Stop the local environment started by `codelake local up`.
    Down,
    /// Say whether the local environment runs, and where.
    Status,
}

#[derive(Debug, Subcommand)]
enum DataCommand {
    /// Write sample data into the local environment, in each table's own format
    /// (Parquet in its S3 bucket, CSV where the catalog declares CSV): a table's
    /// fixture if it has one, else the TPC-H generator's data.
    /// Idempotent: data already seeded from the same fixture or scale is left alone.
    /// A bad fixture fails the command (exit 1) after the other tables are written.
    Seed {
        /// TPC-H scale factor: 0.01 is instant, 1 is the benchmark size (8.7 million rows).
        /// Without it, complete sample data at any scale is kept, and 0.01 generated if there is none.
        #[arg(long)]
        scale: Option<f64>,
        /// Write the sample data again even when it is complete (at its scale, unless
        /// --scale): fresh files, for `verify`'s freshness checks.
        #[arg(long)]
        refresh: bool,
        /// Directory of the tables' declared sample data, `<database>/<table>.csv`
        /// (a header naming the columns, `,`, RFC 3339 instants, empty for null);
        /// a fixture replaces generated data. [default: the catalog's tables/fixtures]
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        /// Seed the tables of this catalog manifest (a `catalog.json` written by
        /// `cargo xtask gen-catalog`) instead of the catalog built into codelake.
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
    },
}

/// `args`, with a query that starts with a `--` comment moved after a `--`.
///
/// clap reads any argument starting with `--` as a flag, so
/// `codelake sql "-- top parts\nSELECT …"` would be refused as an unknown
/// argument. No flag has whitespace right after its dashes, so such an argument
/// is SQL; after `--` clap takes it as the query, wherever the flags are.
fn comment_queries_last(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let is_comment = |arg: &OsString| {
        arg.to_str().is_some_and(|arg| {
            arg.strip_prefix("--")
                .is_some_and(|rest| rest.starts_with(char::is_whitespace))
        })
    };
    if args.iter().any(|arg| arg == "--") {
        return args;
    }
    if let Some(at) = args.iter().position(is_comment) {
        let query = args.remove(at);
        args.push("--".into());
        args.push(query);
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(comment_queries_last(std::env::args_os()));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(error::EXIT_ENVIRONMENT);
        }
    };
    let result = runtime.block_on(run(cli));
    // Servers and plugin work stop with the runtime; do not wait for idle connections.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => error.report(),
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    match cli.command {
        Command::Sql(args) => {
            if args.query.is_none() && args.output.is_some() {
                return Err(CliError::msg(
                    error::EXIT_USAGE,
                    "--output needs a query; the shell writes to the terminal",
                ));
            }
            // One query: unavailable tables in one line; the shell says why for each.
            let unavailable = match args.query {
                Some(_) => session::Unavailable::Summary,
                None => session::Unavailable::Each,
            };
            let catalog = args
                .catalog
                .as_deref()
                .map(verify::read_catalog)
                .transpose()?;
            let workers = args.workers.urls(&global)?;
            let mut session = match (&args.query, &workers) {
                // One query on this process: only the tables it reads, and their plugins.
                (Some(query), None) => {
                    session::Session::open_for_query(&global, catalog, query).await?
                }
                _ => {
                    session::Session::open_catalog(
                        &global,
                        session::Seed::IfEmpty,
                        unavailable,
                        catalog,
                    )
                    .await?
                }
            };
            if let Some(urls) = workers {
                args.workers
                    .distribute(&mut session, urls, args.query.is_none())
                    .await?;
            }
            match args.query {
                Some(query) => {
                    output::run_query(
                        &session,
                        &query,
                        args.format,
                        args.output.as_deref(),
                        args.timing,
                    )
                    .await
                }
                None => shell::run(&session, args.format).await,
            }
        }
        Command::Tables { format } => describe::tables(format),
        Command::Views(args) => views::run(args).await,
        Command::Diff(args) => diff::run(args),
        Command::Materialize(args) => materialize::run(&global, args).await,
        Command::Serve(args) => serve::run(&global, *args).await,
        Command::Describe { table } => describe::describe(&table),
        Command::Local { command } => match command {
            LocalCommand::Up {
                foreground,
                workers,
            } => local::up(&global, foreground, workers).await,
            LocalCommand::Down => local::down(&global),
            LocalCommand::Status => local::status(&global),
        },
        Command::Data {
            command:
                DataCommand::Seed {
                    scale,
                    refresh,
                    fixtures,
                    catalog,
                },
        } => {
            let catalog = catalog.as_deref().map(verify::read_catalog).transpose()?;
            let session = session::Session::open_catalog(
                &global,
                session::Seed::Skip,
                session::Unavailable::Silent,
                catalog,
            )
            .await?;
            let seeded = session.seed(scale, refresh, fixtures.as_deref()).await?;
            if seeded.problems.is_empty() {
                Ok(())
            } else {
                Err(CliError::msg(
                    error::EXIT_FAILED,
                    format!(
                        "{} not installed; the other tables were seeded:\n  {}",
                        match seeded.problems.len() {
                            1 => "1 fixture was".to_owned(),
                            n => format!("{n} fixtures were"),
                        },
                        seeded.problems.join("\n  ")
                    ),
                )
                .hint("fix each fixture as its line says and run `codelake data seed` again (docs/reference/cli.md)"))
            }
        }
        Command::Verify(args) => verify::run(&global, args).await,
        Command::NewTable(args) => new_table::run(&global, args).await,
        Command::Demo { scale } => demo::run(&global, scale).await,
        Command::Worker(args) => cluster::run_worker(&global, args).await,
        Command::Mcp(args) => mcp::run(&global, args).await,
    }
}
