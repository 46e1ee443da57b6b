//! `codelake worker`, and `--workers` for `sql` and `serve`: the same catalog
//! across processes (catalog-cluster, on datafusion-distributed).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use catalog_cluster::{
    CatalogHash, Cluster, ClusterToken, WorkerOptions, WorkerState, WorkerTrust,
};
use catalog_core::{Environment, TableSpec};
use catalog_env::config::Config;
use catalog_env::local::LocalEnvironment;
use catalog_runtime::{PluginSet, default_plugin_dir, register_tables};

use crate::Global;
use crate::error::{CliError, EXIT_CONFIG, EXIT_ENVIRONMENT, EXIT_USAGE};
use crate::session::{self, Session};

/// `codelake worker`'s flags.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Address the worker listens on; port 0 picks a free port (the address is printed).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: SocketAddr,
    /// The worker's certificate (PEM, then its chain): with --tls-key, it
    /// serves TLS (`https://`), as a worker beyond loopback must.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The CA certificate (PEM) that signed the workers' certificates: this
    /// worker reads from `https://` workers trusting it and no other.
    #[arg(long, value_name = "FILE")]
    worker_ca: Option<PathBuf>,
    /// Listen beyond loopback without TLS, on a private network you trust: the
    /// cluster token (CODELAKE_WORKER_TOKEN) is still required, but plans, rows
    /// and the token cross the network in clear text.
    #[arg(long, conflicts_with = "tls_cert")]
    insecure: bool,
    /// Serve the tables of this catalog manifest (a `catalog.json` written by
    /// `cargo xtask gen-catalog`) instead of the catalog built into codelake.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Also write the worker's URL to this file once it listens (for scripts).
    #[arg(long, value_name = "FILE")]
    address_file: Option<PathBuf>,
}

/// `--workers` and how a query is spread over them (`sql`, `serve`).
#[derive(Debug, clap::Args)]
pub struct WorkersArgs {
    /// Plan across these workers (`host:port,…` as `codelake worker` printed
    /// them, or `local` for the ones `codelake local up --workers N` started).
    /// Without it, everything runs in this process.
    #[arg(long, value_name = "ADDR,…|local")]
    workers: Option<String>,
    /// With --workers: the bytes of files each partition of a scan reads,
    /// which sets how many workers a scan is split over (smaller: more).
    /// Also `SET distributed.file_scan_config_bytes_per_partition`.
    #[arg(long, value_parser = crate::serve::parse_size, value_name = "SIZE", default_value = "16MiB", requires = "workers")]
    bytes_per_partition: usize,
    /// With --workers: the CA certificate (PEM) that signed the certificates
    /// of `https://` workers, trusted for them and nothing else.
    #[arg(long, value_name = "FILE", requires = "workers")]
    worker_ca: Option<PathBuf>,
}

impl WorkersArgs {
    /// The workers named, if any.
    pub fn urls(&self, global: &Global) -> Result<Option<Vec<url::Url>>, CliError> {
        self.workers
            .as_deref()
            .map(|workers| worker_urls(global, workers))
            .transpose()
    }

    /// [`distribute`] with these settings.
    pub async fn distribute(
        &self,
        session: &mut Session,
        urls: Vec<url::Url>,
        watch: bool,
    ) -> Result<Arc<Cluster>, CliError> {
        let local = self.workers.as_deref().map(str::trim) == Some("local");
        let trust = trust(self.worker_ca.as_deref())?;
        let settings = Settings {
            bytes_per_partition: self.bytes_per_partition.max(1),
            local,
            trust,
        };
        distribute(session, urls, watch, settings).await
    }
}

/// The hash a coordinator and its workers compare: the catalog's specs as
/// `catalog.json` holds them, each loaded plugin's name and version, and the
/// environment's name.
pub fn catalog_hash(specs: &[&TableSpec], plugins: &PluginSet, environment: &str) -> CatalogHash {
    CatalogHash::of(
        specs,
        plugins
            .plugins
            .iter()
            .map(|plugin| (plugin.name.as_str(), plugin.version.as_str())),
        environment,
    )
}

/// The certificates `--worker-ca FILE` trusts.
fn trust(ca: Option<&Path>) -> Result<Option<WorkerTrust>, CliError> {
    ca.map(|file| {
        WorkerTrust::from_pem_file(file)
            .map_err(|error| CliError::msg(EXIT_CONFIG, error.to_string()))
    })
    .transpose()
}

fn token(config: &Config) -> Result<Option<ClusterToken>, CliError> {
    match &config.worker_token {
        None => Ok(None),
        Some(secret) => ClusterToken::new(secret.expose())
            .map_err(|error| CliError::msg(EXIT_CONFIG, error.to_string())),
    }
}

/// Runs a worker until Ctrl-C or SIGTERM.
pub async fn run_worker(global: &Global, args: WorkerArgs) -> Result<(), CliError> {
    let config = session::config(global)?;
    let token = token(&config)?;
    // The probes and refusals on standard error (RUST_LOG changes what is logged).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("catalog_cluster=info,warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    if !args.listen.ip().is_loopback() {
        if token.is_none() {
            return Err(CliError::msg(
                EXIT_CONFIG,
                format!(
                    "--listen {}: a worker beyond loopback runs any plan it is sent, so it needs the cluster token",
                    args.listen
                ),
            )
            .hint("set CODELAKE_WORKER_TOKEN to the same secret on the workers and the coordinator (`openssl rand -hex 32`)"));
        }
        if args.tls_cert.is_none() && !args.insecure {
            return Err(CliError::msg(
                EXIT_CONFIG,
                format!(
                    "--listen {}: beyond loopback, a worker's plans, rows and token would cross the network in clear text",
                    args.listen
                ),
            )
            .hint("serve TLS with --tls-cert FILE --tls-key FILE (callers trust it with --worker-ca); on a private network you trust, add --insecure instead (docs/how-to/run-across-machines.md)"));
        }
        if args.tls_cert.is_none() {
            eprintln!(
                "warning: worker on {} without TLS (--insecure): plans, rows and the token cross the network in clear text",
                args.listen
            );
        }
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            catalog_serve::server_config(cert, key)
                .map_err(|error| CliError::msg(EXIT_CONFIG, error.to_string()))?,
        ),
        _ => None,
    };
    let trust = trust(args.worker_ca.as_deref())?;
    if tls.is_some() && trust.is_none() {
        eprintln!(
            "warning: this worker serves TLS but trusts no CA (--worker-ca): it cannot read from other \
             https:// workers, so a query whose stages span workers fails; start every worker with \
             --worker-ca FILE"
        );
    }
    let environment = worker_environment(&config)?;
    let specs: Vec<TableSpec> = match &args.catalog {
        Some(file) => crate::verify::read_catalog(file)?,
        None => tables::REGISTRY.tables().cloned().collect(),
    };
    let plugin_dir = global.plugin_dir.clone().unwrap_or_else(default_plugin_dir);
    let plugins = PluginSet::load_dir(&plugin_dir).map_err(CliError::environment)?;
    for error in &plugins.errors {
        eprintln!("warning: {error}");
    }
    let catalog = catalog_hash(
        &specs.iter().collect::<Vec<_>>(),
        &plugins,
        &environment.name,
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| {
            CliError::msg(
                EXIT_ENVIRONMENT,
                format!("cannot listen on {}: {error}", args.listen),
            )
            .hint("pick another address, or port 0 for any free port")
        })?;
    let address = listener.local_addr().map_err(CliError::environment)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{address}");
    say!(
        "Worker on {url}: catalog {catalog} ({}, {}), environment `{}`",
        crate::names::counted(specs.len(), "table"),
        crate::names::counted(plugins.plugins.len(), "plugin"),
        config.profile
    );
    if let Some(file) = &args.address_file {
        std::fs::write(file, format!("{url}\n")).map_err(|error| {
            CliError::environment(error).hint(format!("cannot write {}", file.display()))
        })?;
    }
    // The catalog's tables, as `serve` registers them: scans sent by name
    // (functions, HTTP APIs) are rebuilt from them.
    let environment = Arc::new(environment);
    let tables = Arc::new(
        catalog_cluster::worker_context(Arc::clone(&environment))
            .map_err(|error| CliError::msg(EXIT_ENVIRONMENT, error.to_string()))?,
    );
    let failures = register_tables(&tables, &plugins, specs.iter(), &environment);
    for failure in &failures {
        eprintln!("warning: {failure}");
    }
    let options = WorkerOptions {
        catalog,
        token,
        tls,
        trust,
        tables,
    };
    catalog_cluster::serve_worker(listener, options, crate::local::wait_for_stop())
        .await
        .map_err(|error| CliError::msg(EXIT_ENVIRONMENT, error.to_string()))?;
    eprintln!("Worker on {url} stopped.");
    Ok(())
}

/// The environment a worker reads in: the running local environment for an
/// embedded profile (a worker never starts servers of its own, which its
/// coordinator would not see), else the configured one.
fn worker_environment(config: &Config) -> Result<Environment, CliError> {
    let mut environment = if config.embedded {
        let local = LocalEnvironment::attach(&config.data_dir).ok_or_else(|| {
            CliError::msg(
                EXIT_ENVIRONMENT,
                format!(
                    "the local environment of {} is not running, and a worker reads the data its coordinator reads",
                    config.data_dir.display()
                ),
            )
            .hint("start it first with `codelake local up` (or `codelake local up --workers 2`, which starts workers too)")
        })?;
        local.environment()
    } else {
        config.environment()
    };
    environment.http_timeout = config.http_timeout;
    Ok(environment)
}

/// The workers `--workers` names: addresses, or `local` for the ones `codelake
/// local up --workers N` started.
fn worker_urls(global: &Global, workers: &str) -> Result<Vec<url::Url>, CliError> {
    if workers.trim() == "local" {
        let config = session::config(global)?;
        let running = crate::local::running_workers(&config.data_dir);
        if running.is_empty() {
            return Err(CliError::msg(
                EXIT_ENVIRONMENT,
                format!(
                    "--workers local: no local workers run for {}",
                    config.data_dir.display()
                ),
            )
            .hint("start them with `codelake local up --workers 2`"));
        }
        let addresses: Vec<String> = running.into_iter().map(|worker| worker.url).collect();
        return Cluster::parse_workers(&addresses.join(","))
            .map_err(|error| CliError::msg(EXIT_USAGE, error.to_string()));
    }
    Cluster::parse_workers(workers).map_err(|error| {
        CliError::msg(EXIT_USAGE, format!("--workers: {error}"))
            .hint("give `host:port,host:port` as the workers printed, or `local`")
    })
}

/// How [`distribute`] spreads a query.
struct Settings {
    /// `distributed.file_scan_config_bytes_per_partition`.
    bytes_per_partition: usize,
    /// The workers are `codelake local up --workers N`'s.
    local: bool,
    /// The certificates trusted for `https://` workers.
    trust: Option<WorkerTrust>,
}

/// Plans `session`'s queries across `workers` from now on. Workers that
/// cannot take tasks are reported; the others are used. `watch` re-probes
/// them every few seconds (a server); a one-off query probes once. `local`
/// workers (`local up --workers N`) are sent the token kept beside them,
/// unless CODELAKE_WORKER_TOKEN is set.
async fn distribute(
    session: &mut Session,
    urls: Vec<url::Url>,
    watch: bool,
    settings: Settings,
) -> Result<Arc<Cluster>, CliError> {
    let Settings {
        bytes_per_partition,
        local,
        trust,
    } = settings;
    let catalog = catalog_hash(&session.specs(), &session.plugins, &session.env.name);
    let mut token = token(&session.config)?;
    if token.is_none() && local {
        let path = crate::local::worker_token_path(&session.config.data_dir);
        let kept = std::fs::read_to_string(&path).map_err(|error| {
            CliError::environment(error).hint(format!(
                "cannot read the local workers' token {}: start them again with `codelake local up --workers 2`",
                path.display()
            ))
        })?;
        token = ClusterToken::new(&kept)
            .map_err(|error| CliError::msg(EXIT_CONFIG, format!("{}: {error}", path.display())))?;
    }
    if token.is_some() {
        for url in urls.iter().filter(|url| url.scheme() == "http") {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(name)) => name == "localhost",
                None => false,
            };
            if !loopback {
                eprintln!(
                    "warning: worker {url} is beyond loopback without TLS: the cluster token crosses the \
                     network in clear text (serve the workers with --tls-cert and call them at https://, or \
                     use a private network)"
                );
            }
        }
    }
    let tls = urls.iter().any(|url| url.scheme() == "https");
    let cluster = Cluster::connect(urls, catalog.clone(), token, trust)
        .await
        .map_err(|error| {
            let hint = "start workers with `codelake worker` (or `codelake local up --workers 2`) from the same build, \
                        with the same CODELAKE_WORKER_TOKEN";
            let hint = if tls {
                format!("{hint}; for https:// workers, give the CA that signed their certificates with --worker-ca")
            } else {
                hint.to_owned()
            };
            CliError::msg(EXIT_ENVIRONMENT, error.to_string()).hint(hint)
        })?;
    for probe in cluster.probes() {
        match &probe.state {
            WorkerState::Ready => {}
            WorkerState::OtherCatalog(theirs) => eprintln!(
                "warning: worker {} refused: it serves catalog {theirs} and this process catalog {catalog}; \
                 start it from the same build (the same catalog.json and plugins)",
                probe.url
            ),
            WorkerState::Unreachable(why) => eprintln!(
                "warning: worker {} unreachable, the query runs on the others: {why}",
                probe.url
            ),
        }
    }
    let mut state = cluster
        .distribute(session.ctx.state())
        .await
        .map_err(|error| CliError::msg(EXIT_ENVIRONMENT, error.to_string()))?;
    state
        .config_mut()
        .options_mut()
        .set(
            "distributed.file_scan_config_bytes_per_partition",
            &bytes_per_partition.to_string(),
        )
        .map_err(|error| CliError::msg(EXIT_CONFIG, error.to_string()))?;
    // The same context, planning differently: the plugins' tables hold on
    // to it (datafusion-ffi's task context provider), so it must stay the one.
    *session.ctx.state_ref().write() = state;
    // The views were planned over the tables as they were: plan them again
    // over the wrapped ones, or a view's scan could not travel.
    catalog_runtime::views::replan_live_views(&session.ctx, &session.specs()).await;
    if watch {
        cluster.watch(Duration::from_secs(2));
    }
    Ok(cluster)
}

/// Where `local up --workers N` records worker `index`.
pub fn record_path(data_dir: &Path, index: usize) -> PathBuf {
    data_dir.join("workers").join(format!("{index}.url"))
}
