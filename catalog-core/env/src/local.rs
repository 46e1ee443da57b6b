//! The `local` environment: real servers on loopback, started in-process, so
//! codelake runs on a fresh machine with nothing installed.
//!
//! - An S3-protocol server (s3s over s3s-fs) whose buckets are directories
//!   under `DATA_DIR/s3/`; the catalog's bucket `codelake` is created on start.
//! - An HTTP JSON API serving the exchange rates of `tpch.exchange_rates` at
//!   `/fx/rates`, in two pages linked by `next`, behind a bearer token that
//!   the environment hands to the plugin (never printed).
//!
//! Both bind port 0 and stop when the [`LocalEnvironment`] is dropped.
//! `codelake local up` keeps one running for other tools and records it in
//! `DATA_DIR/local.json`; later processes [`attach`](LocalEnvironment::attach) to it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use catalog_core::{Environment, S3Settings, Secret};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The access key id of the local S3 server: a fixed development credential
/// (like MinIO's `minioadmin`), not a secret, so S3 tools can be pointed at it.
pub const LOCAL_ACCESS_KEY_ID: &str = "codelake-local";
/// The secret key of the local S3 server, public like [`LOCAL_ACCESS_KEY_ID`].
pub const LOCAL_SECRET_ACCESS_KEY: &str = "codelake-local-secret";
/// The region the local S3 server answers for.
pub const LOCAL_REGION: &str = "us-east-1";
/// The bucket the catalog's `s3://` locations name, created on start.
pub const LOCAL_BUCKET: &str = "codelake";
/// The variable `tpch.exchange_rates` reads its token from (`auth_env`).
pub const FX_TOKEN_VAR: &str = "CODELAKE_FX_TOKEN";

/// The exchange rates the local HTTP API serves: currency, US dollars per
/// unit, and the TPC-H nation key whose currency it is (one nation per
/// currency: the euro is France's here; the Swiss franc has no TPC-H nation).
pub const FX_RATES: &[(&str, f64, Option<i64>)] = &[
    ("DZD", 0.0075, Some(0)),
    ("ARS", 0.001, Some(1)),
    ("BRL", 0.2, Some(2)),
    ("CAD", 0.72, Some(3)),
    ("EGP", 0.02, Some(4)),
    ("ETB", 0.0081, Some(5)),
    ("EUR", 1.08, Some(6)),
    ("INR", 0.012, Some(8)),
    ("IDR", 0.000063, Some(9)),
    ("IRR", 0.000024, Some(10)),
    ("IQD", 0.00076, Some(11)),
    ("JPY", 0.0066, Some(12)),
    ("JOD", 1.41, Some(13)),
    ("KES", 0.0077, Some(14)),
    ("MAD", 0.1, Some(15)),
    ("MZN", 0.016, Some(16)),
    ("PEN", 0.27, Some(17)),
    ("CNY", 0.14, Some(18)),
    ("RON", 0.22, Some(19)),
    ("SAR", 0.27, Some(20)),
    ("VND", 0.000039, Some(21)),
    ("RUB", 0.011, Some(22)),
    ("GBP", 1.27, Some(23)),
    ("USD", 1.0, Some(24)),
    ("CHF", 1.13, None),
];

/// The seed project's query: the first parts, by key (`codelake demo` prints it).
pub const PART_QUERY: &str = include_str!("queries/part.sql");

/// One query over every source kind, as `codelake demo` runs it: parts and
/// suppliers (Parquet on S3), nations and regions (CSV), exchange rates (HTTP
/// JSON API) and price tiers (a Rust function). European suppliers' parts,
/// by price tier, priced in the supplier's currency.
pub const FEDERATED_QUERY: &str = include_str!("queries/federated.sql");

/// Rates per page of the local HTTP API, so pagination is exercised.
const FX_PAGE_SIZE: usize = 13;

/// Why the local environment cannot start or be reached.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// A directory or file of the local environment.
    #[error("local environment: {path}: {source}; check that the directory is writable")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No loopback port could be bound.
    #[error("local environment: cannot listen on 127.0.0.1: {0}")]
    Bind(std::io::Error),
}

/// Where a running local environment is, as `codelake local up` records it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalState {
    /// The process serving it.
    pub pid: u32,
    /// `http://127.0.0.1:PORT` of the S3 server.
    pub s3_endpoint: String,
    /// `http://127.0.0.1:PORT` of the HTTP API.
    pub http_base_url: String,
    /// The HTTP API's token.
    pub fx_token: Secret,
}

impl std::fmt::Debug for LocalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalState")
            .field("pid", &self.pid)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("http_base_url", &self.http_base_url)
            .field("fx_token", &self.fx_token)
            .finish()
    }
}

/// The embedded servers of the `local` environment, or a handle on ones
/// another process runs. Dropping it stops servers it started.
#[derive(Debug)]
pub struct LocalEnvironment {
    data_dir: PathBuf,
    state: LocalState,
    tasks: Vec<JoinHandle<()>>,
}

impl LocalEnvironment {
    /// Starts both servers on free loopback ports, with data under `data_dir`.
    /// Needs a multi-threaded tokio runtime.
    pub async fn start(data_dir: &Path) -> Result<Self, LocalError> {
        let s3_root = s3_root(data_dir);
        let bucket = s3_root.join(LOCAL_BUCKET);
        std::fs::create_dir_all(&bucket).map_err(|source| LocalError::Io {
            path: bucket.clone(),
            source,
        })?;
        let (s3_endpoint, s3_task) =
            serve_s3(&s3_root, LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY).await?;

        let token = format!(
            "local-{:016x}",
            RandomState::new().hash_one(std::process::id())
        );
        let http_listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(LocalError::Bind)?;
        let http_base_url = format!(
            "http://{}",
            http_listener.local_addr().map_err(LocalError::Bind)?
        );
        let fx = Arc::new(FxApi::new(format!("Bearer {token}")));
        let http_task = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = http_listener.accept().await {
                let _ = socket.set_nodelay(true);
                let fx = Arc::clone(&fx);
                let service = service_fn(move |request: Request<Incoming>| {
                    let response = fx.answer(&request);
                    async move { Ok::<_, Infallible>(response) }
                });
                tokio::spawn(
                    http.serve_connection(TokioIo::new(socket), service)
                        .into_owned(),
                );
            }
        });
        Ok(Self {
            data_dir: data_dir.to_owned(),
            state: LocalState {
                pid: std::process::id(),
                s3_endpoint,
                http_base_url,
                fx_token: Secret::new(format!("Bearer {token}")),
            },
            tasks: vec![s3_task, http_task],
        })
    }

    /// A handle on the environment `codelake local up` runs for `data_dir`,
    /// if its process is alive; it is left running when the handle drops.
    pub fn attach(data_dir: &Path) -> Option<Self> {
        let state = read_state(data_dir)?;
        // The process must be alive and still serving: a pid can be reused.
        let serving = process_alive(state.pid)
            && state
                .s3_endpoint
                .trim_start_matches("http://")
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|addr| {
                    std::net::TcpStream::connect_timeout(
                        &addr,
                        std::time::Duration::from_millis(500),
                    )
                    .is_ok()
                });
        serving.then(|| Self {
            data_dir: data_dir.to_owned(),
            state,
            tasks: Vec::new(),
        })
    }

    /// Attaches to a running `codelake local up`, or starts servers in this process.
    pub async fn attach_or_start(data_dir: &Path) -> Result<Self, LocalError> {
        match Self::attach(data_dir) {
            Some(running) => Ok(running),
            None => Self::start(data_dir).await,
        }
    }

    /// Whether this handle started the servers (rather than attaching to another process's).
    pub fn owns_servers(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// Where the servers are.
    pub fn state(&self) -> &LocalState {
        &self.state
    }

    /// The directory of S3 buckets: `DATA_DIR/s3`.
    pub fn s3_root(&self) -> PathBuf {
        s3_root(&self.data_dir)
    }

    /// The environment the plugins read tables in.
    pub fn environment(&self) -> Environment {
        let mut env = Environment::new("local", &self.data_dir).with_s3(S3Settings {
            endpoint: Some(self.state.s3_endpoint.clone()),
            region: LOCAL_REGION.into(),
            bucket: None,
            access_key_id: Some(LOCAL_ACCESS_KEY_ID.into()),
            secret_access_key: Some(Secret::new(LOCAL_SECRET_ACCESS_KEY)),
            session_token: None,
            connect_timeout: None,
            request_timeout: None,
        });
        env.http_base_url = Some(self.state.http_base_url.clone());
        env.secrets = BTreeMap::from([(FX_TOKEN_VAR.to_owned(), self.state.fx_token.clone())]);
        env
    }

    /// Records this environment in `DATA_DIR/local.json` (readable by the owner only),
    /// for `codelake local status` and for other processes to attach.
    pub fn publish(&self) -> Result<PathBuf, LocalError> {
        let path = state_path(&self.data_dir);
        let io = |source| LocalError::Io {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_string_pretty(&self.state).expect("the state serialises");
        let tmp = path.with_extension("json.tmp");
        write_private(&tmp, json.as_bytes()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(path)
    }

    /// Removes `DATA_DIR/local.json` if it is this process's.
    pub fn unpublish(&self) {
        if read_state(&self.data_dir).is_some_and(|state| state.pid == self.state.pid) {
            let _ = std::fs::remove_file(state_path(&self.data_dir));
        }
    }
}

impl Drop for LocalEnvironment {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Serves the S3 protocol (s3s over s3s-fs, objects read in large chunks: each
/// directory under `root` is a bucket) on a free loopback port, for requests signed with this one key.
/// Returns the endpoint, `http://127.0.0.1:PORT`, and the serving task: abort
/// it to stop. Needs a multi-threaded tokio runtime.
pub async fn serve_s3(
    root: &Path,
    access_key_id: &str,
    secret_access_key: &str,
) -> Result<(String, JoinHandle<()>), LocalError> {
    serve_s3_counting(root, access_key_id, secret_access_key, Arc::default()).await
}

/// [`serve_s3`], counting the `GetObject` requests it answers in `gets`: a
/// test proves with it that a read was (or was not) made.
pub async fn serve_s3_counting(
    root: &Path,
    access_key_id: &str,
    secret_access_key: &str,
    gets: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(String, JoinHandle<()>), LocalError> {
    let fs = s3s_fs::FileSystem::new(root).map_err(|error| LocalError::Io {
        path: root.to_owned(),
        source: std::io::Error::other(format!("{error:?}")),
    })?;
    let mut builder =
        S3ServiceBuilder::new(crate::s3_files::LocalS3::new(fs, root.to_owned(), gets));
    builder.set_auth(SimpleAuth::from_single(access_key_id, secret_access_key));
    let service = builder.build();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(LocalError::Bind)?;
    let endpoint = format!(
        "http://{}",
        listener.local_addr().map_err(LocalError::Bind)?
    );
    let task = tokio::spawn(async move {
        let http = ConnBuilder::new(TokioExecutor::new());
        while let Ok((socket, _)) = listener.accept().await {
            // Small responses (a footer, a page index) go out at once: with
            // Nagle's algorithm on, each waited for the client's delayed ACK, 40 ms.
            let _ = socket.set_nodelay(true);
            let connection = http
                .serve_connection(TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(connection);
        }
    });
    Ok((endpoint, task))
}

/// The directory of the local S3 server's buckets.
pub fn s3_root(data_dir: &Path) -> PathBuf {
    data_dir.join("s3")
}

/// The file `codelake local up` records its servers in.
pub fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join("local.json")
}

/// The recorded state, if any; a stale record (its process gone) is returned too.
pub fn read_state(data_dir: &Path) -> Option<LocalState> {
    let text = std::fs::read_to_string(state_path(data_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether process `pid` is alive.
pub fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The local exchange-rate API.
struct FxApi {
    authorization: String,
    pages: Vec<String>,
}

impl FxApi {
    fn new(authorization: String) -> Self {
        let as_of = now_rfc3339();
        let chunks: Vec<_> = FX_RATES.chunks(FX_PAGE_SIZE).collect();
        let pages = chunks
            .iter()
            .enumerate()
            .map(|(page, rates)| {
                let rates: Vec<serde_json::Value> = rates
                    .iter()
                    .map(|(currency, rate, nation)| {
                        serde_json::json!({
                            "currency": currency,
                            "rate_to_usd": rate,
                            "as_of": as_of,
                            "n_nationkey": nation,
                        })
                    })
                    .collect();
                let next =
                    (page + 1 < chunks.len()).then(|| format!("/fx/rates?page={}", page + 2));
                serde_json::json!({ "rates": rates, "next": next }).to_string()
            })
            .collect();
        Self {
            authorization,
            pages,
        }
    }

    fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let respond = |status: u16, body: String| {
            Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .expect("a valid response")
        };
        if request.uri().path() != "/fx/rates" {
            return respond(
                404,
                r#"{"error": "not found; the rates are at /fx/rates"}"#.into(),
            );
        }
        let authorized = request
            .headers()
            .get("authorization")
            .is_some_and(|value| value.as_bytes() == self.authorization.as_bytes());
        if !authorized {
            return respond(401, r#"{"error": "missing or wrong bearer token"}"#.into());
        }
        let page = request
            .uri()
            .query()
            .and_then(|query| query.strip_prefix("page="))
            .and_then(|page| page.parse::<usize>().ok())
            .unwrap_or(1);
        match self.pages.get(page.wrapping_sub(1)) {
            Some(body) => respond(200, body.clone()),
            None => respond(404, format!(r#"{{"error": "no page {page}"}}"#)),
        }
    }
}

/// Now, as RFC 3339 in UTC to the second.
fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}
