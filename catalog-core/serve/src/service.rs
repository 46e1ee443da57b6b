//! [`QueryService`]: one query, from a front end's caller to a stream of
//! batches, under the server's token, policy, limits and metrics.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use catalog_core::TableSpec;
use catalog_runtime::StatementPolicy;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::execution::TaskContext;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

mod planning;

use crate::executor::{Executor, YieldInJoins};
use crate::stream::Running;
use crate::{ErrorCode, Metrics, QueryStream, ServeError, Tokens};

/// The settings `SET` may change on a server. A setting lasts for the request
/// that sets it (`SET …; SELECT …` in one request), never for other clients.
/// None sizes memory: a client must not be able to make one allocation huge.
pub const ALLOWED_SETTINGS: &[&str] = &[
    "datafusion.execution.time_zone",
    "datafusion.sql_parser.enable_ident_normalization",
    "datafusion.catalog.default_schema",
    "datafusion.explain.format",
];

/// The most parameters a statement may have (Postgres's limit).
pub const MAX_PARAMETERS: usize = 65535;

/// What keeps a server up whatever its clients send.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Queries run at once; more wait for a slot.
    pub max_concurrent: usize,
    /// Queries that may wait for a slot; more are refused as `busy`.
    pub max_waiting: usize,
    /// How long one query may take, from its arrival to its last batch.
    pub query_timeout: Duration,
    /// Memory for all queries together, in bytes; `None` for no limit. With a
    /// limit, nothing spills to disk: a query that needs more fails alone.
    pub memory: Option<usize>,
    /// Largest JSON result, in bytes (JSON is a single document; the
    /// streaming formats have no cap).
    pub max_json_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_concurrent: 16,
            max_waiting: 64,
            query_timeout: Duration::from_secs(60),
            memory: None,
            max_json_bytes: 64 << 20,
        }
    }
}

/// Who asks: the front end, and the client's address if it has one.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// `http`, later `flight`, `postgres`, `mcp`.
    pub front_end: &'static str,
    /// The client's address.
    pub address: Option<SocketAddr>,
}

/// The query service of a server: every front end calls it.
pub struct QueryService {
    /// The state queries start from: the catalog's tables, the server's memory pool.
    state: SessionState,
    /// States of front ends that add system tables of their protocol
    /// (Postgres's `pg_catalog`), each seen by that front end alone.
    front_end_states: Vec<(&'static str, SessionState)>,
    catalog: Vec<TableSpec>,
    unavailable: Vec<(String, String)>,
    policy: StatementPolicy,
    tokens: Tokens,
    limits: Limits,
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    metrics: Arc<Metrics>,
    next_id: AtomicU64,
    shutting_down: AtomicBool,
    /// Where queries execute, apart from the front ends' runtime.
    executor: Executor,
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryService")
            .field("tables", &self.catalog.len())
            .field("unavailable", &self.unavailable.len())
            .field("tokens", &self.tokens)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl QueryService {
    /// A service over the tables registered in `ctx` (the catalog's, built
    /// from `catalog` and the environment), accepting `tokens`, within `limits`.
    /// `unavailable` names the tables that could not be registered, each with why.
    pub fn new(
        ctx: &SessionContext,
        catalog: Vec<TableSpec>,
        unavailable: Vec<(String, String)>,
        tokens: Tokens,
        limits: Limits,
    ) -> Result<Self, ServeError> {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(bytes) = limits.memory {
            runtime = runtime
                .with_memory_pool(Arc::new(FairSpillPool::new(bytes)))
                .with_disk_manager_builder(
                    DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
                );
        }
        let runtime = runtime
            .build_arc()
            .map_err(|error| ServeError::new(ErrorCode::Internal, error.to_string()))?;
        let state = SessionStateBuilder::new_from_existing(ctx.state())
            .with_runtime_env(runtime)
            .with_physical_optimizer_rule(Arc::new(YieldInJoins))
            .build();
        let databases: Vec<String> = catalog
            .iter()
            .map(|spec| spec.database.to_string())
            .collect();
        Ok(Self {
            state,
            front_end_states: Vec::new(),
            catalog,
            unavailable,
            policy: StatementPolicy::read_only(databases).allowing_settings(ALLOWED_SETTINGS),
            tokens,
            slots: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            limits,
            waiting: AtomicUsize::new(0),
            metrics: Arc::new(Metrics::default()),
            next_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            executor: Executor::new().map_err(|error| {
                ServeError::new(
                    ErrorCode::Internal,
                    format!("could not start the query runtime: {error}"),
                )
            })?,
        })
    }

    /// Gives the queries of `front_end` the state `extend` makes from the
    /// shared one: for a protocol whose clients expect system tables or
    /// functions of their own (Postgres's `pg_catalog`). Other front ends never
    /// see them; the catalog's tables, the policy, the limits and the memory
    /// pool stay the same.
    pub fn extend_for(
        &mut self,
        front_end: &'static str,
        extend: impl FnOnce(&SessionState) -> SessionState,
    ) {
        let state = extend(&self.state);
        self.front_end_states.retain(|(name, _)| *name != front_end);
        self.front_end_states.push((front_end, state));
    }

    /// The state queries from `front_end` start from.
    fn state_for(&self, front_end: &str) -> &SessionState {
        self.front_end_states
            .iter()
            .find(|(name, _)| *name == front_end)
            .map_or(&self.state, |(_, state)| state)
    }

    /// Checks the bearer token a client presented (`None` when it sent none).
    pub fn authenticate(&self, token: Option<&str>) -> Result<(), ServeError> {
        match token {
            Some(token) if self.tokens.accepts(token) => Ok(()),
            Some(_) => Err(ServeError::new(
                ErrorCode::Unauthenticated,
                "the token is not one this server accepts; send `Authorization: Bearer <token>` \
                 with a token the operator configured (CODELAKE_SERVE_TOKENS or `serve.tokens_file`)",
            )),
            None => Err(ServeError::new(
                ErrorCode::Unauthenticated,
                "no token: send `Authorization: Bearer <token>`",
            )),
        }
    }

    /// The catalog served: every declared table, available or not.
    pub fn catalog(&self) -> &[TableSpec] {
        &self.catalog
    }

    /// The catalog (in DataFusion's sense) the tables are in: `datafusion`
    /// unless configured otherwise. Protocols that name three levels
    /// (Flight SQL, Postgres) report it.
    pub fn catalog_name(&self) -> String {
        self.state.config_options().catalog.default_catalog.clone()
    }

    /// The schema `SELECT *` answers for `database.table`, as the table's
    /// source reads it (text may be `Utf8View` where the declaration says
    /// `Utf8`); `None` when the table is not served.
    pub async fn table_schema(&self, database: &str, table: &str) -> Option<SchemaRef> {
        let catalog = self.state.catalog_list().catalog(&self.catalog_name())?;
        let provider = catalog.schema(database)?.table(table).await.ok()??;
        Some(provider.schema())
    }

    /// The tables that could not be opened, each with why.
    pub fn unavailable(&self) -> &[(String, String)] {
        &self.unavailable
    }

    /// The server's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Keeps the tables `accelerator` holds in memory: their copies load in
    /// the background on the query runtime, after this service already
    /// answers (from the sources, until each copy is in), and refresh on their
    /// intervals. `/metrics` reports them. Install it in the session this
    /// service was made from ([`catalog_runtime::Accelerator::install`]).
    pub fn accelerate(&self, accelerator: catalog_runtime::Accelerator) {
        if accelerator.is_empty() {
            return;
        }
        accelerator.start(Arc::new(self.state.clone()), &self.executor.handle());
        self.metrics.watch(Arc::new(accelerator));
    }

    /// The copies of the accelerated tables now (none before [`Self::accelerate`]).
    pub fn accelerated(&self) -> Vec<catalog_runtime::CopyStatus> {
        self.metrics.accelerated()
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Stops taking queries: each new one is refused as `shutting_down`; the
    /// ones running finish.
    pub fn shut_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        // Wakes the queries waiting for a slot, which then give up; running ones keep theirs.
        self.slots.close();
    }

    /// Whether the service still takes queries.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Runs `sql` (one or more statements; all but the last may only `SET`
    /// an allowed setting) for `caller`: the last statement's batches, as
    /// they come. Waits for a slot if all are taken.
    pub async fn query(&self, sql: &str, caller: Caller) -> Result<QueryStream, ServeError> {
        self.begin(Work::Sql(sql, Vec::new()), caller).await
    }

    /// Runs `sql` as [`QueryService::query`] does, with `params` bound to the
    /// parameters `$1`, `$2`, … of its last statement as values, never as SQL
    /// text (for protocols with bound parameters: the Postgres wire's).
    pub async fn query_with(
        &self,
        sql: &str,
        params: Vec<ScalarValue>,
        caller: Caller,
    ) -> Result<QueryStream, ServeError> {
        self.begin(Work::Sql(sql, params), caller).await
    }

    /// Runs a statement [`QueryService::prepare`]d before, as
    /// [`QueryService::query`] runs SQL: in a slot, within the timeout,
    /// counted and traced. A `Prepared` runs once.
    pub async fn run(&self, prepared: Prepared, caller: Caller) -> Result<QueryStream, ServeError> {
        self.begin(Work::Planned(prepared), caller).await
    }

    async fn begin(&self, work: Work<'_>, caller: Caller) -> Result<QueryStream, ServeError> {
        let started = Instant::now();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!(
            "query",
            id,
            front_end = caller.front_end,
            client = caller.address.map(|address| address.to_string()),
        );
        let result = self.start(work, caller, started, id, span.clone()).await;
        if let Err(error) = &result {
            self.metrics
                .query(caller.front_end, started.elapsed(), Some(error.code));
            span.in_scope(|| {
                tracing::info!(
                    code = error.code.as_str(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "query refused or failed to start"
                );
            });
        }
        result
    }

    async fn start(
        &self,
        work: Work<'_>,
        caller: Caller,
        started: Instant,
        id: u64,
        span: tracing::Span,
    ) -> Result<QueryStream, ServeError> {
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(ServeError::new(
                ErrorCode::ShuttingDown,
                "the server is shutting down; retry against another one, or after it restarts",
            ));
        }
        let deadline = started + self.limits.query_timeout;
        // Waiting for a slot counts against the timeout too.
        let permit = tokio::time::timeout_at(deadline.into(), self.slot())
            .await
            .map_err(|_| self.timeout())??;
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(ServeError::new(
                ErrorCode::ShuttingDown,
                "the server is shutting down; retry against another one, or after it restarts",
            ));
        }
        self.metrics.running(1);
        // A client that stops reading stops the stream being polled, so its
        // own deadline never fires: the slot is given back at the deadline anyway.
        let permit = Arc::new(std::sync::Mutex::new(Some(permit)));
        let held = Arc::clone(&permit);
        let watchdog = tokio::spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            held.lock().unwrap_or_else(|e| e.into_inner()).take();
        });
        let running = Running {
            metrics: Arc::clone(&self.metrics),
            _permit: permit,
            watchdog,
        };
        let stream = async {
            match work {
                Work::Sql(sql, params) => self.plan(sql, caller.front_end, params).await,
                Work::Planned(prepared) => Ok(self.executor.execute(prepared.plan, prepared.task)),
            }
        };
        let planned = tokio::time::timeout_at(deadline.into(), stream).await;
        let stream = match planned {
            Ok(planned) => planned?,
            Err(_) => return Err(self.timeout()),
        };
        Ok(QueryStream {
            schema: stream.schema(),
            inner: stream,
            deadline: Box::pin(tokio::time::sleep_until(deadline.into())),
            timeout: self.timeout(),
            front_end: caller.front_end,
            started,
            id,
            span,
            rows: 0,
            error: None,
            done: false,
            _running: running,
        })
    }

    /// A slot to run in, waiting in line if all are taken and the line is not full.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, ServeError> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst);
        if waiting >= self.limits.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ServeError::new(
                ErrorCode::Busy,
                format!(
                    "the server runs {} queries and {} more wait; retry shortly",
                    self.limits.max_concurrent, self.limits.max_waiting
                ),
            ));
        }
        // Counted out however the wait ends: a slot, shutdown, or a client that went away.
        let _waiting = Waiting::new(self);
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(|_| ServeError::new(ErrorCode::ShuttingDown, "the server is shutting down"))
    }

    fn timeout(&self) -> ServeError {
        ServeError::new(
            ErrorCode::Timeout,
            format!(
                "the query ran longer than {:?}, the server's query timeout, and was cancelled; \
                 narrow it (fewer rows or columns, a filter), or ask the operator to raise the timeout",
                self.limits.query_timeout
            ),
        )
    }
}

/// A statement planned by [`QueryService::prepare`], ready to run once with
/// [`QueryService::run`].
pub struct Prepared {
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("schema", &self.plan.schema())
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// The schema the answer's batches will have.
    pub fn schema(&self) -> SchemaRef {
        self.plan.schema()
    }
}

/// What a query starts from: SQL to plan, or a plan.
enum Work<'a> {
    Sql(&'a str, Vec<ScalarValue>),
    Planned(Prepared),
}

/// A query waiting for a slot, counted in the service and its metrics until dropped.
struct Waiting<'a>(&'a QueryService);

impl<'a> Waiting<'a> {
    fn new(service: &'a QueryService) -> Self {
        service.metrics.waiting(1);
        Self(service)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.metrics.waiting(-1);
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allowed_settings_exist() {
        let options = datafusion::config::ConfigOptions::new();
        let known: Vec<String> = options
            .entries()
            .into_iter()
            .map(|entry| entry.key)
            .collect();
        for setting in ALLOWED_SETTINGS {
            assert!(known.iter().any(|key| key == setting), "{setting}");
        }
    }
}
