//! How a process calls a worker: one HTTP/2 connection per worker, reused,
//! with the catalog hash and the cluster token on every request, and every
//! error naming the worker.
//!
//! The connections are ours rather than datafusion-distributed's default
//! resolver's, which sets no timeouts: a connection attempt gives up after
//! [`CONNECT_TIMEOUT`], and keep-alive pings find a vanished host within
//! about [`KEEP_ALIVE`] + [`KEEP_ALIVE_TIMEOUT`] instead of a query waiting
//! for the kernel. A connection that broke is made again on the next call.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion_distributed::grpc::{BoxCloneSyncChannel, create_worker_client};
use datafusion_distributed::{
    ChannelResolver, CoordinatorToWorkerMsg, ExecuteTaskRequest, GetWorkerInfoRequest,
    GetWorkerInfoResponse, SetPlanRequest, WorkerChannel, WorkerToCoordinatorMsg,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;
use url::Url;

use crate::{CATALOG_HEADER, CatalogHash, ClusterToken, WorkerTrust};

/// How long connecting to a worker may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often an open connection is pinged (HTTP/2 and TCP keep-alive).
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a ping may go unanswered before the connection is dropped.
pub(crate) const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The channels of one process to the workers it calls.
#[derive(Clone)]
pub(crate) struct Channels {
    connections: Arc<Mutex<HashMap<Url, Channel>>>,
    headers: Arc<HeaderMap>,
    tasks: Arc<Mutex<BTreeMap<String, u64>>>,
    trust: Option<WorkerTrust>,
    /// These are a worker's channels to the other workers.
    in_worker: bool,
}

impl Channels {
    /// Channels presenting `catalog` and `token`, trusting `trust` for
    /// `https://` workers.
    pub(crate) fn new(
        catalog: &CatalogHash,
        token: Option<&ClusterToken>,
        trust: Option<WorkerTrust>,
    ) -> Self {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(catalog.as_str()) {
            headers.insert(HeaderName::from_static(CATALOG_HEADER), value);
        }
        if let Some(value) = token.and_then(ClusterToken::header) {
            headers.insert(http::header::AUTHORIZATION, value);
        }
        Self {
            connections: Arc::default(),
            headers: Arc::new(headers),
            tasks: Arc::default(),
            trust,
            in_worker: false,
        }
    }

    /// The same, as a worker's channels to the other workers (which changes
    /// what an error says to fix).
    pub(crate) fn in_worker(self) -> Self {
        Self {
            in_worker: true,
            ..self
        }
    }

    /// How many tasks each worker was sent, by URL.
    pub(crate) fn tasks(&self) -> BTreeMap<String, u64> {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The connection to `url`, made on its first use.
    fn channel(&self, url: &Url) -> Result<Channel> {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(channel) = connections.get(url) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(url.to_string()).map_err(|error| {
            DataFusionError::Configuration(format!("worker address {url}: {error}"))
        })?;
        let endpoint = endpoint
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_keepalive(Some(KEEP_ALIVE))
            .http2_keep_alive_interval(KEEP_ALIVE)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        // Over TLS, our own connector (with the same TCP settings).
        let channel = if url.scheme() == "https" {
            let Some(trust) = self.trust.clone() else {
                let fix = if self.in_worker {
                    "this worker was started without --worker-ca: start every worker with it"
                } else {
                    "call it with --worker-ca FILE"
                };
                return Err(DataFusionError::Configuration(format!(
                    "worker {url} speaks TLS; {fix}, the certificate of the CA that signed \
                     the workers' certificates"
                )));
            };
            endpoint.connect_with_connector_lazy(tower::service_fn(move |uri| {
                trust.clone().connect(uri)
            }))
        } else {
            endpoint.connect_lazy()
        };
        connections.insert(url.clone(), channel.clone());
        Ok(channel)
    }

    /// A client of the worker at `url`.
    pub(crate) fn client(&self, url: &Url) -> Result<Named> {
        let channel = self.channel(url).map_err(|error| named(url, error))?;
        let headers = Arc::clone(&self.headers);
        let channel = channel.map_request(move |mut request: http::Request<tonic::body::Body>| {
            for (name, value) in headers.iter() {
                request.headers_mut().insert(name.clone(), value.clone());
            }
            request
        });
        Ok(Named {
            url: url.clone(),
            inner: create_worker_client(BoxCloneSyncChannel::new(channel)),
            tasks: Arc::clone(&self.tasks),
        })
    }
}

#[async_trait]
impl ChannelResolver for Channels {
    async fn get_worker_client_for_url(&self, url: &Url) -> Result<Box<dyn WorkerChannel>> {
        Ok(Box::new(self.client(url)?))
    }
}

/// `error`, said to come from the worker at `url`.
pub(crate) fn named(url: &Url, error: DataFusionError) -> DataFusionError {
    let text = error.to_string();
    if text.contains(url.as_str()) || text.contains(url.as_str().trim_end_matches('/')) {
        return error;
    }
    DataFusionError::Context(format!("worker {url}"), Box::new(error))
}

/// A worker's client whose every error names the worker.
pub(crate) struct Named {
    url: Url,
    inner: Box<dyn WorkerChannel>,
    tasks: Arc<Mutex<BTreeMap<String, u64>>>,
}

#[async_trait]
impl WorkerChannel for Named {
    async fn coordinator_channel(
        &mut self,
        headers: HeaderMap,
        set_plan_request: SetPlanRequest,
        c2w_stream: BoxStream<'static, CoordinatorToWorkerMsg>,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> Result<BoxStream<'static, Result<WorkerToCoordinatorMsg>>> {
        let key = set_plan_request.task_key;
        tracing::info!(
            worker = %self.url,
            query = %key.query_id,
            stage = key.stage_id,
            task = key.task_number,
            tasks = set_plan_request.task_count,
            "task sent to worker"
        );
        *self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(self.url.to_string())
            .or_default() += 1;
        let url = self.url.clone();
        let stream = self
            .inner
            .coordinator_channel(headers, set_plan_request, c2w_stream, metrics, task_ctx)
            .await
            .map_err(|error| named(&url, error))?;
        Ok(stream.map_err(move |error| named(&url, error)).boxed())
    }

    async fn execute_task(
        &mut self,
        headers: HeaderMap,
        request: ExecuteTaskRequest,
        metrics: ExecutionPlanMetricsSet,
        task_ctx: &Arc<TaskContext>,
    ) -> Result<Vec<BoxStream<'static, Result<RecordBatch>>>> {
        let url = self.url.clone();
        let streams = self
            .inner
            .execute_task(headers, request, metrics, task_ctx)
            .await
            .map_err(|error| named(&url, error))?;
        Ok(streams
            .into_iter()
            .map(|stream| {
                let url = url.clone();
                stream.map_err(move |error| named(&url, error)).boxed()
            })
            .collect())
    }

    async fn get_worker_info(
        &mut self,
        request: GetWorkerInfoRequest,
    ) -> Result<GetWorkerInfoResponse> {
        self.inner
            .get_worker_info(request)
            .await
            .map_err(|error| named(&self.url, error))
    }
}
