//! Acceleration: copies of the tables declared `accelerate = "memory"`, kept
//! in Arrow memory by a long-lived process and refreshed in the background.
//!
//! [`Accelerator::install`] puts an accelerated provider in front of each such
//! table registered in a session: it answers from the source until a copy is
//! loaded, then from the copy, and shows it in `EXPLAIN` (`AcceleratedExec`,
//! with the copy's age). A copy keeps each batch's minimum, maximum and null
//! count per column (its zone maps), so a filtered scan skips the batches that
//! cannot match, as a Parquet scan skips row groups; `EXPLAIN` shows how many
//! it kept (`batches=K of T`). [`Accelerator::start`] loads the copies one by one,
//! in catalog order, after the process already answers queries, then refreshes
//! each on its declared `refresh` interval. A refresh swaps the new copy in at
//! once; until then queries read the old one. A failed refresh keeps the old
//! copy, is counted in [`CopyStatus`] and retried sooner, backing off up to
//! the interval; a load that takes longer than the interval (and five
//! minutes) is stopped and counted as failed.
//!
//! The copies together stay within a memory budget ([`MEMORY_VAR`]): a table
//! whose copy would not fit is refused, with its size and the budget, and is
//! read from its source; the others stay accelerated. The read stops as soon
//! as the copy passes the room left. A copy that grows past it on a refresh
//! is dropped (queries read the source, fresh) and the table is tried again on
//! its interval, as a refused one is. A refresh holds the old copy until the
//! new one is whole, so a process may briefly hold the budget plus its largest
//! copy.
//!
//! One-shot commands never install it: a cold start reads only what its query
//! reads.

mod table;
mod wire;
mod zones;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use catalog_core::{Accelerate, TableSpec};
use datafusion::catalog::Session;
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;

pub use table::AcceleratedExec;
use table::{AcceleratedTable, Load};

/// The environment variable that sets the memory all copies may take together:
/// bytes, or a size such as `512MiB` or `4GiB`.
pub const MEMORY_VAR: &str = "CODELAKE_ACCELERATE_MEMORY";

/// The budget when [`MEMORY_VAR`] is not set: 1 GiB.
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// The budget [`MEMORY_VAR`] sets, or [`DEFAULT_BUDGET`]; an error says what
/// to write instead of a value that is not a size.
pub fn budget_from_env() -> Result<u64, String> {
    match std::env::var(MEMORY_VAR) {
        Ok(value) => crate::scan::parse_size(&value).ok_or_else(|| {
            format!(
                "{MEMORY_VAR}={value:?} is not a size: write bytes or a size such as 512MiB or 4GiB"
            )
        }),
        Err(_) => Ok(DEFAULT_BUDGET),
    }
}

/// An accelerated table's copy now: for metrics, `verify` and `tables`.
///
/// As JSON (`GET /v1/tables` of `codelake serve`, read back by
/// `codelake verify --serve`): the interval as a duration (`"5m"`), the load
/// time in RFC 3339 (UTC) and the copy's age in seconds, which is only written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "wire::CopyStatusJson", try_from = "wire::CopyStatusJson")]
pub struct CopyStatus {
    /// `database.name`.
    pub table: String,
    /// The declared refresh interval.
    pub refresh: Duration,
    /// When the copy queries read now was read from the source; `None` while
    /// there is none (not loaded yet, refused, or every load failed).
    pub loaded_at: Option<SystemTime>,
    /// The copy's size in memory.
    pub bytes: u64,
    /// The copy's rows.
    pub rows: u64,
    /// Loads and refreshes that succeeded.
    pub loads: u64,
    /// Loads and refreshes that failed.
    pub failures: u64,
    /// Why the last load or refresh failed, until one succeeds.
    pub last_error: Option<String>,
    /// Why the table is read from its source instead: its copy is over the budget.
    pub refused: Option<String>,
}

impl CopyStatus {
    /// How old the copy is, if there is one.
    pub fn age(&self) -> Option<Duration> {
        self.loaded_at
            .map(|at| SystemTime::now().duration_since(at).unwrap_or_default())
    }
}

/// The accelerated tables of one session, their copies and their budget.
/// Dropping it stops the loads and refreshes; the copies already loaded stay
/// with their tables.
#[derive(Debug)]
pub struct Accelerator {
    shared: Arc<Shared>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

#[derive(Debug)]
struct Shared {
    tables: Vec<Arc<AcceleratedTable>>,
    budget: u64,
    /// One load at a time: each checks the budget against the copies loaded.
    loading: tokio::sync::Mutex<()>,
}

impl Accelerator {
    /// Puts an accelerated provider in front of every table of `specs`
    /// declared `accelerate = "memory"` and registered in `ctx` (a table that
    /// failed to register is left out), then plans the views run live again,
    /// so that a view reading an accelerated table reads its copy. Nothing is
    /// read yet.
    pub async fn install(ctx: &SessionContext, specs: &[TableSpec], budget: u64) -> Self {
        let live_view = |spec: &TableSpec| spec.is_view() && spec.materialized_copy().is_none();
        let mut tables = Vec::new();
        for spec in specs.iter().filter(|spec| !live_view(spec)) {
            tables.extend(wrap(ctx, spec));
        }
        let views: Vec<&TableSpec> = specs.iter().filter(|spec| live_view(spec)).collect();
        if !views.is_empty() {
            crate::views::replan_views(ctx, &views, |view| tables.extend(wrap(ctx, view))).await;
        }
        Self {
            shared: Arc::new(Shared {
                tables,
                budget,
                loading: tokio::sync::Mutex::new(()),
            }),
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Whether no table is accelerated.
    pub fn is_empty(&self) -> bool {
        self.shared.tables.is_empty()
    }

    /// The memory all copies may take together.
    pub fn budget(&self) -> u64 {
        self.shared.budget
    }

    /// Every accelerated table's copy now, in catalog order.
    pub fn statuses(&self) -> Vec<CopyStatus> {
        self.shared
            .tables
            .iter()
            .map(|table| status(table))
            .collect()
    }

    /// Loads every copy once, in catalog order, and returns their statuses:
    /// what `verify --accelerated` checks.
    pub async fn load_all(&self, state: &dyn Session) -> Vec<CopyStatus> {
        for table in &self.shared.tables {
            self.shared.load(table, state).await;
        }
        self.statuses()
    }

    /// Loads the copies in the background on `runtime`, one by one in catalog
    /// order, then refreshes each on its interval, until this is dropped.
    /// `state` is what the loads scan the sources with.
    pub fn start(&self, state: Arc<dyn Session>, runtime: &tokio::runtime::Handle) {
        if self.is_empty() {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let task = runtime.spawn(async move {
            for table in &shared.tables {
                shared.load(table, state.as_ref()).await;
            }
            let loops = shared
                .tables
                .iter()
                .map(|table| shared.refresh_loop(table, state.as_ref()));
            futures::future::join_all(loops).await;
        });
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(task.abort_handle());
    }
}

impl Drop for Accelerator {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
    }
}

impl Shared {
    /// Refreshes `table` on its interval, and sooner after a failure (1 s,
    /// 2 s, 4 s … up to the interval). A refused table is tried again on its
    /// interval: it is accelerated again once it fits.
    async fn refresh_loop(&self, table: &AcceleratedTable, state: &dyn Session) {
        loop {
            let failing = table.history().failing;
            tokio::time::sleep(retry_after(failing, table.refresh)).await;
            self.load(table, state).await;
        }
    }

    /// Reads `table`'s source into a new copy and swaps it in; or records why not.
    async fn load(&self, table: &AcceleratedTable, state: &dyn Session) {
        let _one_at_a_time = self.loading.lock().await;
        let others: u64 = self
            .tables
            .iter()
            .filter(|other| other.name != table.name)
            .filter_map(|other| other.copy())
            .map(|copy| copy.bytes)
            .sum();
        let room = self.budget.saturating_sub(others);
        let had_copy = table.copy().is_some();
        let limit = load_timeout(table.refresh);
        let read = tokio::time::timeout(limit, table.read_source(state, room))
            .await
            .unwrap_or_else(|_| {
                Err(Load::Failed(format!(
                    "reading the source took longer than {}, and was stopped",
                    humantime::format_duration(limit)
                )))
            });
        match read {
            Ok(copy) => {
                tracing::info!(
                    table = %table.name,
                    rows = copy.rows,
                    bytes = copy.bytes,
                    "accelerated copy loaded"
                );
                table.swap(Some(copy));
                let mut history = table.history();
                history.loads += 1;
                history.failing = 0;
                history.last_error = None;
                history.refused = None;
            }
            Err(Load::Over(bytes)) => {
                // A copy that no longer fits is dropped, not kept: queries read
                // the source, fresh, rather than a copy that can only grow older.
                table.swap(None);
                let message = over_budget(&table.name, bytes, self.budget, others);
                tracing::warn!("{message}");
                let mut history = table.history();
                history.failing = 0;
                history.last_error = None;
                history.refused = Some(message);
            }
            Err(Load::Failed(message)) => {
                let message = if had_copy {
                    format!("{message}; queries read the copy of {}", loaded_at(table))
                } else {
                    format!("{message}; queries read the source until a copy loads")
                };
                tracing::warn!(table = %table.name, "accelerated copy not refreshed: {message}");
                let mut history = table.history();
                history.failures += 1;
                history.failing = history.failing.saturating_add(1);
                history.last_error = Some(message);
            }
        }
    }
}

/// The longest a load may read its source: the refresh interval, and at
/// least five minutes. A source that hangs does not hold up the others for
/// longer.
fn load_timeout(refresh: Duration) -> Duration {
    refresh.max(Duration::from_secs(300))
}

/// Puts an accelerated provider in front of `spec`'s table in `ctx`, if it is
/// declared accelerated and registered.
fn wrap(ctx: &SessionContext, spec: &TableSpec) -> Option<Arc<AcceleratedTable>> {
    let (Some(Accelerate::Memory), Some(refresh)) = (spec.accelerate, &spec.refresh) else {
        return None;
    };
    let reference = TableReference::partial(spec.database.to_string(), spec.name.to_string());
    let source = ctx.deregister_table(reference.clone()).ok()??;
    let table = Arc::new(AcceleratedTable::new(
        spec.qualified_name(),
        refresh.duration(),
        source,
    ));
    ctx.register_table(reference, Arc::clone(&table) as _)
        .expect("a table just deregistered registers again");
    Some(table)
}

/// How long to wait before the next load: the interval after a success;
/// 1 s, 2 s, 4 s … after failures, never longer than the interval.
fn retry_after(failing: u32, refresh: Duration) -> Duration {
    if failing == 0 {
        return refresh;
    }
    let backoff = Duration::from_secs(1u64 << failing.saturating_sub(1).min(20));
    backoff.min(refresh)
}

fn status(table: &AcceleratedTable) -> CopyStatus {
    let copy = table.copy();
    let history = table.history().clone();
    CopyStatus {
        table: table.name.clone(),
        refresh: table.refresh,
        loaded_at: copy.as_ref().map(|copy| copy.loaded_at),
        bytes: copy.as_ref().map_or(0, |copy| copy.bytes),
        rows: copy.as_ref().map_or(0, |copy| copy.rows),
        loads: history.loads,
        failures: history.failures,
        last_error: history.last_error,
        refused: history.refused,
    }
}

/// When `table`'s copy was loaded, as `2026-12-01T18:20:00Z`.
fn loaded_at(table: &AcceleratedTable) -> String {
    table.copy().map_or_else(
        || "none".to_owned(),
        |copy| humantime::format_rfc3339_seconds(copy.loaded_at).to_string(),
    )
}

/// The refusal of a copy that does not fit: it takes at least `bytes`, and
/// other tables' copies hold `others` of the budget.
fn over_budget(table: &str, bytes: u64, budget: u64, others: u64) -> String {
    let room = if others > 0 {
        format!(
            "the {} left of the acceleration budget of {} (other tables' copies hold {})",
            size(budget.saturating_sub(others)),
            size(budget),
            size(others)
        )
    } else {
        format!("the acceleration budget of {}", size(budget))
    };
    format!(
        "{table} is not accelerated: its copy takes at least {}, more than {room}; it is read \
         from its source, and tried again every refresh. Raise {MEMORY_VAR} (or `codelake serve \
         --accelerate-memory`), or remove `accelerate` from the table",
        size(bytes),
    )
}

/// `1.5 GiB`, `320 KiB`, `12 B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_the_interval() {
        let hour = Duration::from_secs(3600);
        assert_eq!(retry_after(0, hour), hour);
        assert_eq!(retry_after(1, hour), Duration::from_secs(1));
        assert_eq!(retry_after(3, hour), Duration::from_secs(4));
        assert_eq!(retry_after(30, hour), hour);
        assert_eq!(
            retry_after(5, Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(12), "12 B");
        assert_eq!(size(320 * 1024), "320.0 KiB");
        assert_eq!(size(3 << 29), "1.5 GiB");
    }
}
