//! `codelake serve`: the catalog over HTTP, Arrow Flight SQL, the Postgres
//! wire and MCP for agents (at `/mcp`), read-only, behind bearer tokens.
//!
//! The process loads the environment, the plugins and the catalog once (no
//! table data), then hands every request to the query service
//! (`catalog-serve`) through its front ends (`catalog-http`, `catalog-flight`,
//! `catalog-pg`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog_serve::Limits;
use clap::Args;

use crate::Global;
use crate::error::{CliError, EXIT_CONFIG, EXIT_ENVIRONMENT, EXIT_FAILED};
use crate::session::{Seed, Session, Unavailable};

mod tokens;

pub(crate) use tokens::{token_file, write_private};
use tokens::{token_shell, tokens};

/// `codelake serve`'s flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address HTTP listens on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,
    /// Address Arrow Flight SQL listens on (gRPC; ADBC, pyarrow, JDBC), or
    /// `off`. The same tokens and TLS as HTTP.
    #[arg(long, default_value = "127.0.0.1:32010", value_parser = parse_listen, value_name = "ADDR|off")]
    flight_listen: Listen,
    /// Address the Postgres wire listens on (psql, psycopg, JDBC, BI tools),
    /// or `off`. The password is the token; TLS when the client asks for it.
    #[arg(long, default_value = "127.0.0.1:5433", value_parser = parse_listen, value_name = "ADDR|off")]
    pg_listen: Listen,
    /// The server's TLS certificate (PEM: the certificate, then its chain).
    /// With --tls-key, every protocol speaks TLS (HTTPS, gRPC over TLS, and
    /// Postgres's SSL, required of clients beyond loopback).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Listen beyond loopback without TLS, so tokens and results cross the
    /// network in clear text: on a trusted network only. Warned about at every start.
    #[arg(long)]
    insecure: bool,
    /// Print the token a server made for itself, instead of the file that holds it.
    #[arg(long)]
    show_token: bool,
    /// Queries that run at once; more wait for a slot.
    #[arg(long, default_value_t = 16, value_name = "N")]
    max_concurrent: usize,
    /// Queries that may wait for a slot; more are refused (HTTP 503).
    #[arg(long, default_value_t = 64, value_name = "N")]
    max_waiting: usize,
    /// How long one query may take before it is cancelled (HTTP 504).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    query_timeout: Duration,
    /// Memory for all queries together, e.g. `2GiB`. A query that needs more
    /// fails alone (HTTP 507); nothing spills to disk. Default: no limit.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    memory_limit: Option<usize>,
    /// Memory the copies of accelerated tables (`accelerate = "memory"`) may
    /// take together, e.g. `4GiB`; a table whose copy does not fit is read
    /// from its source. Default: CODELAKE_ACCELERATE_MEMORY, or 1GiB.
    #[arg(long, value_parser = parse_size, value_name = "SIZE")]
    accelerate_memory: Option<usize>,
    /// Largest result answered as JSON, e.g. `64MiB`; the streaming formats have no cap.
    #[arg(long, default_value = "64MiB", value_parser = parse_size, value_name = "SIZE")]
    max_json: usize,
    /// A `codelake verify --format json` report: the catalog site at `/` then
    /// shows each table's status, its failing checks, and when it was checked.
    #[arg(long, value_name = "FILE")]
    verify_report: Option<PathBuf>,
    /// Serve the tables of this catalog manifest (a `catalog.json` written by
    /// `cargo xtask gen-catalog`) instead of the catalog built into codelake.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Turn off the agents' MCP endpoint (`/mcp`, streamable HTTP, behind the
    /// same tokens; docs/how-to/give-agents-the-catalog.md).
    #[arg(long)]
    no_mcp: bool,
    #[command(flatten)]
    agents: crate::mcp::AgentArgs,
    /// Workers are probed every 2 s: one that goes away stops taking tasks,
    /// one that comes back takes them again.
    #[command(flatten)]
    workers: crate::cluster::WorkersArgs,
    /// Time the queries in flight get to finish after SIGTERM or Ctrl-C.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    grace: Duration,
}

/// Where a protocol listens: an address, or nowhere.
#[derive(Debug, Clone, Copy)]
enum Listen {
    On(SocketAddr),
    Off,
}

impl Listen {
    fn address(self) -> Option<SocketAddr> {
        match self {
            Self::On(address) => Some(address),
            Self::Off => None,
        }
    }
}

/// `ADDR` or `off`.
fn parse_listen(text: &str) -> Result<Listen, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(Listen::Off);
    }
    text.parse().map(Listen::On).map_err(|_| {
        format!(
            "`{text}` is not an address HOST:PORT such as `127.0.0.1:0` (port 0 picks a free one), nor `off`"
        )
    })
}

/// A size such as `512MiB`, `2GiB`, `1GB` or `1048576` (bytes).
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as `512MiB` or `2GiB`"))?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "kib" | "k" => 1024.0,
        "mb" => 1e6,
        "mib" | "m" => 1024.0 * 1024.0,
        "gb" => 1e9,
        "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use B, KiB, MiB, GiB (or kB, MB, GB)"
            ));
        }
    };
    let bytes = number * factor;
    if bytes < 1.0 {
        return Err(format!("`{text}` is less than a byte"));
    }
    Ok(bytes as usize)
}

/// Binds `address` for `flag`, or says which flag to change.
async fn bind(flag: &str, address: SocketAddr) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| {
            CliError::msg(
                EXIT_ENVIRONMENT,
                format!("cannot listen on {address} ({flag}): {error}"),
            )
            .hint(if flag != "--listen" {
                format!(
                    "choose another address or port with {flag} (port 0 picks a free one), \
                     or turn that protocol off with {flag} off"
                )
            } else {
                format!("choose another address or port with {flag} (port 0 picks a free one)")
            })
        })
}

/// A front end running until it has drained.
type Served = std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// Runs the server until SIGTERM or Ctrl-C.
pub async fn run(global: &Global, args: ServeArgs) -> Result<(), CliError> {
    let binds: Vec<(&str, SocketAddr)> = [
        ("--listen", Some(args.listen)),
        ("--flight-listen", args.flight_listen.address()),
        ("--pg-listen", args.pg_listen.address()),
    ]
    .into_iter()
    .filter_map(|(flag, address)| Some((flag, address?)))
    .collect();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            catalog_serve::server_config(cert, key)
                .map_err(|error| CliError::msg(EXIT_CONFIG, error.to_string()))?,
        ),
        _ => None,
    };
    let exposed: Vec<String> = binds
        .iter()
        .filter(|(_, address)| !address.ip().is_loopback())
        .map(|(flag, address)| format!("{flag} {address}"))
        .collect();
    if !exposed.is_empty() && tls.is_none() && !args.insecure {
        return Err(CliError::msg(
            EXIT_CONFIG,
            format!(
                "{}: a server beyond loopback needs TLS, so that its tokens and results \
                 do not cross the network in clear text",
                exposed.join(", ")
            ),
        )
        .hint(
            "give --tls-cert FILE and --tls-key FILE (PEM), and set CODELAKE_SERVE_TOKENS; or \
             listen on 127.0.0.1 behind a TLS proxy; or, on a trusted network only, pass --insecure",
        ));
    }
    // One line a query on standard error (RUST_LOG changes what is logged).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(
            "catalog_serve=info,catalog_http=info,catalog_cluster=info,warn",
        )
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let caps = args.agents.caps()?;
    let report = match &args.verify_report {
        Some(path) => Some(read_report(path)?),
        None => None,
    };
    // Settings first: a bad budget stops serve before it seeds or loads anything.
    let budget = match args.accelerate_memory {
        Some(bytes) => bytes as u64,
        None => catalog_runtime::accelerate::budget_from_env().map_err(|message| {
            CliError::msg(EXIT_CONFIG, message)
                .hint("or give the budget as `--accelerate-memory SIZE`")
        })?,
    };
    let manifest = args
        .catalog
        .as_deref()
        .map(crate::verify::read_catalog)
        .transpose()?;
    let catalog: Vec<catalog_core::TableSpec> = match &manifest {
        Some(tables) => tables.clone(),
        None => tables::REGISTRY.tables().cloned().collect(),
    };
    let workers = args.workers.urls(global)?;
    let mut session =
        Session::open_catalog(global, Seed::IfEmpty, Unavailable::Each, manifest).await?;
    let (tokens, token_note) = tokens(&session, args.show_token)?;
    let limits = Limits {
        max_concurrent: args.max_concurrent,
        max_waiting: args.max_waiting,
        query_timeout: args.query_timeout,
        memory: args.memory_limit,
        max_json_bytes: args.max_json,
    };
    // Wrapped before the service copies the session; loaded once it answers.
    let accelerator = catalog_runtime::Accelerator::install(&session.ctx, &catalog, budget).await;
    // After the accelerator, so that a copy's scan is wrapped too and travels
    // to a worker by its table's name; before the service copies the session.
    let cluster = match workers {
        Some(urls) => Some(args.workers.distribute(&mut session, urls, true).await?),
        None => None,
    };
    let lineage = lineage(&catalog, "the catalog site and the agents get").await;
    let site = Arc::new(site(
        &catalog,
        &lineage,
        report.as_ref().map(|(_, report)| report),
    )?);
    let (mut service, verifier) = crate::mcp::service(&mut session, catalog, tokens, limits)?;
    if args.pg_listen.address().is_some() {
        catalog_pg::install(&mut service);
    }
    let accelerated = accelerator.statuses().len();
    service.accelerate(accelerator);
    if let Some(cluster) = &cluster {
        let cluster = Arc::clone(cluster);
        service.metrics().report(move |out| cluster.prometheus(out));
    }
    let service = Arc::new(service);
    let mcp = (!args.no_mcp).then(|| {
        let mut agents =
            catalog_mcp::Agents::new(Arc::clone(&service), lineage, caps).with_verifier(verifier);
        if let Some((text, _)) = report {
            agents = agents.with_report(text);
        }
        catalog_mcp::http_service(Arc::new(agents))
    });
    let mounts = catalog_http::Mounts {
        site: Some(site),
        mcp,
    };
    let http = bind("--listen", args.listen).await?;
    let flight = match args.flight_listen.address() {
        Some(address) => Some(bind("--flight-listen", address).await?),
        None => None,
    };
    let pg = match args.pg_listen.address() {
        Some(address) => Some(bind("--pg-listen", address).await?),
        None => None,
    };
    let address = http.local_addr().map_err(CliError::environment)?;
    if !exposed.is_empty() && tls.is_none() {
        eprintln!(
            "warning: serving {} without TLS (--insecure): tokens and results cross the network in clear text",
            exposed.join(", ")
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{address}");
    let token = token_shell(&session, args.show_token);
    println!(
        "Serving {} ({} available) in environment `{}` on {url}",
        crate::names::counted(service.catalog().len(), "table"),
        service.catalog().len() - service.unavailable().len(),
        session.config.profile,
    );
    let flight_url = match &flight {
        Some(listener) => {
            let address = listener.local_addr().map_err(CliError::environment)?;
            let scheme = if tls.is_some() { "grpc+tls" } else { "grpc" };
            let flight_url = format!("{scheme}://{address}");
            println!("Flight SQL on {flight_url}");
            Some(flight_url)
        }
        None => None,
    };
    let pg_address = match &pg {
        Some(listener) => {
            let address = listener.local_addr().map_err(CliError::environment)?;
            println!(
                "Postgres on postgres://{address} (user and database: any; password: the token)"
            );
            Some(address)
        }
        None => None,
    };
    if let Some(cluster) = &cluster {
        let probes = cluster.probes();
        let ready = probes
            .iter()
            .filter(|probe| probe.state == catalog_cluster::WorkerState::Ready)
            .count();
        println!(
            "Planning across {ready} of {} (one-task stages, and tables that are not files, run here)",
            crate::names::counted(probes.len(), "worker"),
        );
    }
    if accelerated > 0 {
        println!(
            "Loading {} into memory in the background (budget {}); they answer from their sources until then (GET /metrics: codelake_accelerated_*)",
            crate::names::counted(accelerated, "accelerated table"),
            catalog_runtime::accelerate::size(budget),
        );
    }
    println!("{token_note}");
    println!("The catalog site: {url}/ (in a browser: any user name, the token as password)");
    if mounts.mcp.is_some() {
        println!(
            "Agents (MCP, streamable HTTP): {url}/mcp with `Authorization: Bearer <token>` \
             (docs/how-to/give-agents-the-catalog.md)"
        );
    }
    println!("Try:");
    println!(
        "  curl -s -H \"Authorization: Bearer {token}\" --data-binary 'SELECT * FROM tpch.region' {url}/v1/sql",
    );
    if let Some(flight_url) = &flight_url {
        // The shell expands the token (`$TOKEN`, `$(cat FILE)`) inside the double quotes.
        println!(
            "  python -c \"import adbc_driver_flightsql.dbapi as f; c = f.connect('{flight_url}', autocommit=True, \
             db_kwargs={{'adbc.flight.sql.authorization_header': 'Bearer {token}'}}); \
             print(c.cursor().execute('SELECT * FROM tpch.region').fetch_arrow_table())\"",
        );
    }
    if let Some(address) = pg_address {
        let ssl = if tls.is_some() { "require" } else { "disable" };
        println!(
            "  PGPASSWORD=\"{token}\" psql \"host={} port={} user=codelake dbname=codelake sslmode={ssl}\" \
             -c 'SELECT * FROM tpch.region'",
            address.ip(),
            address.port(),
        );
    }
    println!(
        "Endpoints: POST /v1/sql, GET /v1/tables, GET /health, GET /ready, GET /metrics; \
         Flight SQL statements, prepared statements and metadata; Postgres simple and extended \
         queries, psql's \\dt and \\d (docs/reference/serve.md)."
    );
    println!(
        "Stop with Ctrl-C; queries in flight get {:?} to finish.",
        args.grace
    );

    // On SIGTERM or Ctrl-C: the service refuses new queries, and every
    // front end stops accepting and drains.
    let (stop, stopping) = tokio::sync::watch::channel(None::<Instant>);
    let draining = Arc::clone(&service);
    tokio::spawn(async move {
        signal().await;
        draining.shut_down();
        eprintln!("Shutting down: no new queries; those in flight are finishing.");
        let _ = stop.send(Some(Instant::now()));
    });
    let stopped = |mut stopping: tokio::sync::watch::Receiver<Option<Instant>>| async move {
        let _ = stopping.wait_for(Option::is_some).await;
    };
    let mut servers: Vec<Served> = Vec::new();
    let shutdown = stopped(stopping.clone());
    servers.push(match &tls {
        Some(config) => {
            let (service, config) = (Arc::clone(&service), config.clone());
            Box::pin(async move {
                catalog_http::serve_tls(http, service, mounts, &config, shutdown).await
            })
        }
        None => Box::pin(catalog_http::serve(
            http,
            Arc::clone(&service),
            mounts,
            shutdown,
        )),
    });
    if let Some(listener) = flight {
        let (service, config, shutdown) =
            (Arc::clone(&service), tls.clone(), stopped(stopping.clone()));
        servers.push(Box::pin(async move {
            catalog_flight::serve(listener, service, config.as_ref(), shutdown).await
        }));
    }
    if let Some(listener) = pg {
        let (service, config, shutdown) =
            (Arc::clone(&service), tls.clone(), stopped(stopping.clone()));
        servers.push(Box::pin(async move {
            catalog_pg::serve(listener, service, config.as_ref(), shutdown).await
        }));
    }
    let grace = args.grace;
    let mut since = stopping.clone();
    let deadline = async move {
        // The time is copied out, so the channel is not held during the grace.
        let at = since
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|at| *at);
        match at {
            Some(at) => tokio::time::sleep_until((at + grace).into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        served = futures::future::try_join_all(servers) => {
            served.map_err(CliError::environment)?;
        }
        () = deadline => eprintln!("The grace period ({grace:?}) is over: the queries still running are cut short."),
    }
    // The token made for this run is of no use after it.
    if session.config.serve_tokens.is_empty() {
        let _ = std::fs::remove_file(token_file(&session));
    }
    eprintln!("Stopped.");
    Ok(())
}

/// Reads `codelake verify --format json` output for the site and the agents:
/// its text, and the report it holds.
pub(crate) fn read_report(path: &Path) -> Result<(String, catalog_site::VerifyReport), CliError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        CliError::msg(
            EXIT_CONFIG,
            format!("cannot read the verify report {}: {error}", path.display()),
        )
        .hint("write one with `codelake verify --format json > FILE` (`cargo xtask verify --format json > FILE` in a checkout)")
    })?;
    let report = catalog_site::VerifyReport::from_json(&path.display().to_string(), &text)
        .map_err(|error| CliError::msg(EXIT_CONFIG, error.to_string()))?;
    Ok((text, report))
}

/// The lineage of the served catalog's views, computed from their plans. A
/// broken view is reported by the session already; then there is no
/// lineage, and a warning says so (`who` gets none) rather than showing
/// views that read nothing.
pub(crate) async fn lineage(
    catalog: &[catalog_core::TableSpec],
    who: &str,
) -> Vec<catalog_core::lineage::ViewLineage> {
    let specs: Vec<&catalog_core::TableSpec> = catalog.iter().collect();
    match catalog_runtime::views::check(&specs).await {
        Ok(lineage) => lineage,
        Err(problems) => {
            eprintln!(
                "warning: no lineage for {who}: {} problem{} with the catalog's views (`codelake views` lists them)",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
            Vec::new()
        }
    }
}

/// The catalog site of the served catalog, lineage included, as
/// `cargo xtask site` writes it from catalog.json.
fn site(
    catalog: &[catalog_core::TableSpec],
    lineage: &[catalog_core::lineage::ViewLineage],
    report: Option<&catalog_site::VerifyReport>,
) -> Result<catalog_site::Site, CliError> {
    let mut manifest = catalog_core::Manifest::new(catalog.to_vec(), "codelake serve");
    manifest.lineage = lineage.to_vec();
    catalog_site::Site::build(&manifest, report)
        .map_err(|error| CliError::msg(EXIT_FAILED, error.to_string()))
}

/// SIGTERM or Ctrl-C.
async fn signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(terminate) => terminate,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_the_usual_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(
            parse_size("3 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
    }
}
