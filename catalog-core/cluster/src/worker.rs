//! The worker: datafusion-distributed's worker service, given object stores
//! built from the environment, refusing plans of another catalog, and behind
//! the cluster token.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use catalog_core::Environment;
use catalog_runtime::EnvironmentStores;
use catalog_serve::rustls::ServerConfig;
use datafusion::common::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionContext;
use datafusion_distributed::{DistributedExt, Worker, WorkerQueryContext, WorkerSessionBuilder};
use tokio::net::TcpListener;
use tonic::{Request, Status};

use crate::channel::Channels;
use crate::rebuild::Rebuild;
use crate::{CATALOG_HEADER, CatalogHash, ClusterError, ClusterToken, WorkerTrust};

/// What a worker serves with.
#[derive(Clone)]
pub struct WorkerOptions {
    /// The hash of the catalog and plugins this process loaded.
    pub catalog: CatalogHash,
    /// The token every call must carry; `None` on loopback only (the binary checks).
    pub token: Option<ClusterToken>,
    /// Serve over TLS with this certificate (`https://`).
    pub tls: Option<ServerConfig>,
    /// The certificates this worker trusts when it reads from `https://`
    /// workers (the stages before its own run there).
    pub trust: Option<WorkerTrust>,
    /// The catalog's tables, registered through the plugins in a context
    /// made by [`worker_context`]: where scans sent by name are rebuilt, and
    /// whose runtime environment every task runs in.
    pub tables: Arc<SessionContext>,
}

/// A context for a worker's tables: codelake's settings, and object stores
/// built from `environment` when a plan first reads them.
pub fn worker_context(environment: Arc<Environment>) -> Result<SessionContext, ClusterError> {
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::new(EnvironmentStores::new(environment)))
        .build_arc()
        .map_err(ClusterError::Engine)?;
    Ok(SessionContext::new_with_config_rt(
        catalog_runtime::session_config(),
        runtime,
    ))
}

/// Serves the worker protocol on `listener` (over TLS when `options.tls` is
/// given) until `shutdown` completes.
pub async fn serve_worker(
    listener: TcpListener,
    options: WorkerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ClusterError> {
    let worker = worker(&options);
    let token = options.token.clone();
    let check = move |request: Request<()>| -> Result<Request<()>, Status> {
        let Some(token) = &token else {
            return Ok(request);
        };
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if token.accepts(presented) {
            Ok(request)
        } else {
            Err(Status::unauthenticated(
                "codelake worker: this call carries no cluster token or the wrong one; \
                 give the coordinator the workers' token in CODELAKE_WORKER_TOKEN",
            ))
        }
    };
    let service =
        tonic::service::interceptor::InterceptedService::new(worker.into_worker_server(), check);
    // Keep-alive pings close connections whose caller vanished.
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(crate::channel::KEEP_ALIVE))
        .http2_keepalive_timeout(Some(crate::channel::KEEP_ALIVE_TIMEOUT))
        .add_service(service)
        .serve_with_incoming_shutdown(crate::tls::accept(listener, options.tls.as_ref()), shutdown)
        .await
        .map_err(|error| ClusterError::Serve(error.to_string()))
}

/// A datafusion-distributed worker of the options' catalog, rebuilding scans
/// sent by name from its tables, in their runtime environment.
fn worker(options: &WorkerOptions) -> Worker {
    let (catalog, tables) = (&options.catalog, &options.tables);
    Worker::from_session_builder(Sessions {
        catalog: catalog.clone(),
        channels: Channels::new(catalog, options.token.as_ref(), options.trust.clone()).in_worker(),
        codec: Rebuild {
            tables: Some(Arc::clone(tables)),
        },
    })
    .with_runtime_env(tables.runtime_env())
    .with_version(catalog.as_str().to_owned())
}

/// Builds each task's session: only for a coordinator of the same catalog,
/// and calling other workers with the same headers.
struct Sessions {
    catalog: CatalogHash,
    channels: Channels,
    codec: Rebuild,
}

#[async_trait]
impl WorkerSessionBuilder for Sessions {
    async fn build_session_state(
        &self,
        ctx: WorkerQueryContext,
    ) -> Result<SessionState, DataFusionError> {
        let presented = ctx
            .headers
            .get(CATALOG_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(CatalogHash::from_wire);
        match presented {
            Some(theirs) if theirs == self.catalog => {}
            Some(theirs) => {
                return Err(DataFusionError::Plan(format!(
                    "this worker serves catalog {} and the coordinator's is {theirs}: a worker runs \
                     the plans of its own catalog only; start both from the same build (the same \
                     catalog.json and plugins)",
                    self.catalog
                )));
            }
            None => {
                return Err(DataFusionError::Plan(format!(
                    "the coordinator sent no catalog hash (header `{CATALOG_HEADER}`); this worker \
                     serves catalog {} and runs the plans of codelake coordinators only",
                    self.catalog
                )));
            }
        }
        Ok(ctx
            .builder
            .with_distributed_channel_resolver(self.channels.clone())
            .with_distributed_user_codec(self.codec.clone())
            .build())
    }
}
