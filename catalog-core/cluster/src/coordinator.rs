//! The coordinator's side: which workers are ready, and a session that plans
//! across them.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use datafusion::common::DataFusionError;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion_distributed::{
    DistributedExt, GetWorkerInfoRequest, SessionStateBuilderExt, WorkerChannel, WorkerResolver,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::channel::Channels;
use crate::explain::ExplainStages;
use crate::rebuild::Rebuild;
use crate::{CATALOG_HEADER, CatalogHash, ClusterToken, WorkerTrust};

/// How long a worker has to answer a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest join build side, by DataFusion's estimate, that a distributed
/// session collects whole and broadcasts to every task of the probe side,
/// instead of hash-shuffling both sides between the workers. DataFusion's own
/// thresholds (128 Ki rows, 1 MiB) are made for threads sharing memory, where
/// a partitioned join costs no copy; across processes every shuffled row is
/// encoded, sent and decoded. TPC-H Q3 at SF10 went from 0.98× to about 1.6×.
const BROADCAST_ROWS: usize = 1 << 20;
/// See [`BROADCAST_ROWS`].
const BROADCAST_BYTES: usize = 64 << 20;

/// What can go wrong across processes.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A worker address that is not an `http://host:port` URL.
    #[error("worker address `{address}`: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No worker can take tasks.
    #[error("none of the {} workers can run this catalog's plans:\n{}", .probes.len(), list(.probes))]
    NoWorkers {
        /// Every worker, with why it cannot.
        probes: Vec<WorkerProbe>,
    },
    /// The engine refused a setting.
    #[error(transparent)]
    Engine(DataFusionError),
    /// The worker's server stopped.
    #[error("the worker's server stopped: {0}")]
    Serve(String),
    /// A cluster token an HTTP header cannot carry.
    #[error(
        "CODELAKE_WORKER_TOKEN holds characters an HTTP header cannot carry (it is not shown here); \
         use letters and digits, for instance `openssl rand -hex 32`"
    )]
    BadToken,
}

fn list(probes: &[WorkerProbe]) -> String {
    probes
        .iter()
        .map(|probe| format!("  {probe}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One worker, as the coordinator last found it.
#[derive(Debug, Clone)]
pub struct WorkerProbe {
    /// Its address.
    pub url: Url,
    /// Whether it takes tasks.
    pub state: WorkerState,
}

/// Whether a worker takes this coordinator's tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    /// It answers, with the same catalog.
    Ready,
    /// It serves another catalog (its hash): it is refused.
    OtherCatalog(CatalogHash),
    /// It did not answer, or refused the call (why).
    Unreachable(String),
}

impl fmt::Display for WorkerProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            WorkerState::Ready => write!(f, "{}: ready", self.url),
            WorkerState::OtherCatalog(theirs) => {
                write!(f, "{}: refused, it serves catalog {theirs}", self.url)
            }
            WorkerState::Unreachable(why) => write!(f, "{}: unreachable: {why}", self.url),
        }
    }
}

/// A coordinator's workers: the ones that are ready take tasks, the others
/// are probed again by [`Cluster::watch`] and join when they answer.
pub struct Cluster {
    catalog: CatalogHash,
    channels: Channels,
    workers: Vec<Url>,
    probes: RwLock<Vec<WorkerProbe>>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("catalog", &self.catalog)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Parses worker addresses: `http://host:port` or `host:port`.
    pub fn parse_workers(addresses: &str) -> Result<Vec<Url>, ClusterError> {
        let mut urls = Vec::new();
        for address in addresses
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            let text = if address.contains("://") {
                address.to_owned()
            } else {
                format!("http://{address}")
            };
            // An address is shown in errors without what precedes an `@`:
            // a user name or password, which might be a secret.
            let shown = match (address.find("://"), address.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}…{}", &address[..scheme + 3], &address[at..])
                }
                (None, Some(at)) => format!("…{}", &address[at..]),
                _ => address.to_owned(),
            };
            let bad = |reason: &str| ClusterError::Address {
                address: shown.clone(),
                reason: reason.to_owned(),
            };
            let url = Url::parse(&text).map_err(|error| bad(&error.to_string()))?;
            if url.scheme() != "http" && url.scheme() != "https" {
                return Err(bad(
                    "give `host:port`, or `https://host:port` for a worker serving TLS",
                ));
            }
            // `https://host` is port 443, but a bare `host` names no port.
            let bare_port = address
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
            if url.port_or_known_default().is_none() || (!address.contains("://") && !bare_port) {
                return Err(bad("give the port the worker printed (`host:port`)"));
            }
            if !url.username().is_empty()
                || url.password().is_some()
                || url.path() != "/"
                || url.query().is_some()
            {
                return Err(bad(
                    "give `host:port` only: a token goes in CODELAKE_WORKER_TOKEN, never in the address",
                ));
            }
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        if urls.is_empty() {
            return Err(ClusterError::Address {
                address: addresses.to_owned(),
                reason: "no worker address given".to_owned(),
            });
        }
        Ok(urls)
    }

    /// Probes `workers` and keeps the ready ones. Fails only when none is.
    /// Every call presents `token`; `https://` workers are called over TLS,
    /// trusting `trust`.
    pub async fn connect(
        workers: Vec<Url>,
        catalog: CatalogHash,
        token: Option<ClusterToken>,
        trust: Option<WorkerTrust>,
    ) -> Result<Arc<Self>, ClusterError> {
        let cluster = Arc::new(Self {
            channels: Channels::new(&catalog, token.as_ref(), trust),
            catalog,
            workers,
            probes: RwLock::default(),
        });
        let probes = cluster.probe().await;
        if !probes.iter().any(|probe| probe.state == WorkerState::Ready) {
            return Err(ClusterError::NoWorkers { probes });
        }
        Ok(cluster)
    }

    /// Each worker as last probed.
    pub fn probes(&self) -> Vec<WorkerProbe> {
        self.probes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many tasks each worker was sent since the start, by URL.
    pub fn tasks_by_worker(&self) -> BTreeMap<String, u64> {
        self.channels.tasks()
    }

    /// The workers in the Prometheus text format: whether each takes tasks
    /// now (`codelake_worker_ready`) and the tasks sent to each
    /// (`codelake_worker_tasks_total`), labelled by URL.
    pub fn prometheus(&self, out: &mut String) {
        use std::fmt::Write as _;
        let label = |url: &str| url.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(
            out,
            "# HELP codelake_worker_ready 1 for a worker that takes tasks now; 0 for one left out (unreachable, or another catalog).\n\
             # TYPE codelake_worker_ready gauge"
        );
        for probe in self.probes() {
            let ready = u8::from(probe.state == WorkerState::Ready);
            let _ = writeln!(
                out,
                "codelake_worker_ready{{worker=\"{}\"}} {ready}",
                label(probe.url.as_str())
            );
        }
        let tasks = self.tasks_by_worker();
        let _ = writeln!(
            out,
            "# HELP codelake_worker_tasks_total Tasks sent to each worker since the start.\n\
             # TYPE codelake_worker_tasks_total counter"
        );
        for url in &self.workers {
            let sent = tasks.get(url.as_str()).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "codelake_worker_tasks_total{{worker=\"{}\"}} {sent}",
                label(url.as_str())
            );
        }
    }

    /// Probes every worker again, logs what changed, and returns the probes.
    pub async fn probe(&self) -> Vec<WorkerProbe> {
        let probes = futures::future::join_all(self.workers.iter().map(|url| async move {
            WorkerProbe {
                url: url.clone(),
                state: self.probe_one(url).await,
            }
        }))
        .await;
        let mut last = self.probes.write().unwrap_or_else(PoisonError::into_inner);
        for probe in &probes {
            let before = last.iter().find(|old| old.url == probe.url);
            if before.map(|old| &old.state) != Some(&probe.state) {
                match probe.state {
                    WorkerState::Ready => tracing::info!(worker = %probe.url, "worker ready"),
                    _ => tracing::warn!("worker {probe}"),
                }
            }
        }
        *last = probes.clone();
        probes
    }

    async fn probe_one(&self, url: &Url) -> WorkerState {
        let answer = tokio::time::timeout(PROBE_TIMEOUT, async {
            let mut client = self.channels.client(url)?;
            client.get_worker_info(GetWorkerInfoRequest {}).await
        })
        .await;
        match answer {
            Err(_) => {
                WorkerState::Unreachable(format!("no answer in {} s", PROBE_TIMEOUT.as_secs()))
            }
            Ok(Err(error)) => WorkerState::Unreachable(first_line(&error)),
            Ok(Ok(info)) if info.version == self.catalog.as_str() => WorkerState::Ready,
            Ok(Ok(info)) => WorkerState::OtherCatalog(CatalogHash::from_wire(&info.version)),
        }
    }

    /// Probes the workers every `every` until the cluster is dropped (with the
    /// last session planning across it), so a
    /// worker that went away stops taking tasks and one that came back takes them again.
    pub fn watch(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let cluster: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(cluster) = cluster.upgrade() else {
                    return;
                };
                cluster.probe().await;
            }
        })
    }

    /// `state`, planning across the ready workers. Its tables are wrapped
    /// first, so that a scan that is not DataFusion's own travels as the
    /// table's name (see the crate's docs). The one-task head stage of every
    /// query runs in this process.
    ///
    /// The plan gets at least one partition per worker: the engine splits a
    /// query where its plan repartitions, and a plan made for this process
    /// alone on one core (`target_partitions = 1`) never does. A join whose
    /// build side is estimated small (up to a million rows or 64 MiB)
    /// broadcasts it.
    pub async fn distribute(
        self: &Arc<Self>,
        mut state: SessionState,
    ) -> Result<SessionState, ClusterError> {
        let options = state.config_mut().options_mut();
        options.execution.target_partitions =
            options.execution.target_partitions.max(self.workers.len());
        // Broadcast small build sides (the engine does so for `CollectLeft`
        // joins while `distributed.broadcast_joins` is on, its default). A
        // higher setting is kept.
        let optimizer = &mut options.optimizer;
        optimizer.hash_join_single_partition_threshold_rows = optimizer
            .hash_join_single_partition_threshold_rows
            .max(BROADCAST_ROWS);
        optimizer.hash_join_single_partition_threshold = optimizer
            .hash_join_single_partition_threshold
            .max(BROADCAST_BYTES);
        crate::rebuild::name_tables(state.catalog_list())
            .await
            .map_err(ClusterError::Engine)?;
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(self.catalog.as_str()) {
            headers.insert(HeaderName::from_static(CATALOG_HEADER), value);
        }
        let mut builder = SessionStateBuilder::new_from_existing(state)
            .with_distributed_worker_resolver(Ready(Arc::clone(self)))
            .with_distributed_channel_resolver(self.channels.clone())
            .with_distributed_user_codec(Rebuild { tables: None })
            .with_distributed_passthrough_headers(headers)
            .map_err(ClusterError::Engine)?
            .with_distributed_planner();
        let Some(distributed) = builder.query_planner().clone() else {
            return Err(ClusterError::Engine(DataFusionError::Internal(
                "the distributed engine set no query planner".to_owned(),
            )));
        };
        Ok(builder
            .with_query_planner(Arc::new(ExplainStages { inner: distributed }))
            .build())
    }
}

fn first_line(error: &DataFusionError) -> String {
    let text = error.to_string();
    // A transport error is a chain of causes; the first lines say what happened.
    text.lines().take(3).collect::<Vec<_>>().join(" ")
}

/// The ready workers, as datafusion-distributed asks for them. With none
/// ready, the list is empty and the engine caps every stage at one task, so
/// a query runs in this process alone: a server keeps answering while its
/// workers are away (the probes log when they go and come back).
struct Ready(Arc<Cluster>);

impl WorkerResolver for Ready {
    fn get_urls(&self) -> Result<Vec<Url>, DataFusionError> {
        Ok(self
            .0
            .probes()
            .iter()
            .filter(|probe| probe.state == WorkerState::Ready)
            .map(|probe| probe.url.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::Cluster;

    #[test]
    fn worker_addresses_need_a_port_unless_their_scheme_implies_one() {
        let parsed = |text: &str| {
            Cluster::parse_workers(text)
                .map(|urls| urls.iter().map(|url| url.to_string()).collect::<Vec<_>>())
                .map_err(|error| error.to_string())
        };
        assert_eq!(
            parsed("127.0.0.1:7700, https://w2:443,https://w3").unwrap(),
            ["http://127.0.0.1:7700/", "https://w2/", "https://w3/"]
        );
        assert_eq!(parsed("w1:80").unwrap(), ["http://w1/"]);
        for bad in ["w1", "[::1]", "ftp://w1:1", "w1:1/path"] {
            let error = parsed(bad).unwrap_err();
            assert!(error.contains(bad), "{bad}: {error}");
        }
        for secret in ["http://user:secret@w1:1", "user:secret@w1:1"] {
            let error = parsed(secret).unwrap_err();
            assert!(
                error.contains("…@w1:1") && !error.contains("secret"),
                "{error}"
            );
        }
    }
}
