//! Acceleration: copies of the tables declared `accelerate = "memory"`, kept
//! in Arrow memory by a long-lived process and refreshed in the background.
//!
//! [`Accelerator::install`] puts an accelerated provider in front of each such
//! table registered in a session: it answers from the source until a copy is
//! loaded, then from the copy, and shows it in `EXPLAIN` (`AcceleratedExec`,
//! with the copy's age). [`Accelerator::start`] loads the copies one by one,
//! in catalog order, after the process already answers queries, then refreshes
//! each on its declared `refresh` interval. A refresh swaps the new copy in at
//! once; until then queries read the old one. A failed refresh keeps the old
//! copy, is counted in [`CopyStatus`] and retried sooner, backing off up to
//! the interval.
//!
//! The copies together stay within a memory budget ([`MEMORY_VAR`]): a table
//! whose copy would not fit is refused, with its size and the budget, and is
//! read from its source; the others stay accelerated. A refresh holds the old
//! copy until the new one is whole, so a process may briefly hold the budget
//! plus its largest copy.
//!
//! One-shot commands never install it: a cold start reads only what its query
//! reads.

mod table;

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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// failed to register is left out). Nothing is read yet.
    pub async fn install(ctx: &SessionContext, specs: &[TableSpec], budget: u64) -> Self {
        let mut tables = Vec::new();
        for spec in specs {
            let (Some(Accelerate::Memory), Some(refresh)) = (spec.accelerate, &spec.refresh) else {
                continue;
            };
            let reference =
                TableReference::partial(spec.database.to_string(), spec.name.to_string());
            let Ok(Some(source)) = ctx.deregister_table(reference.clone()) else {
                continue;
            };
            let table = Arc::new(AcceleratedTable::new(
                spec.qualified_name(),
                refresh.duration(),
                source,
            ));
            ctx.register_table(reference, Arc::clone(&table) as _)
                .expect("a table just deregistered registers again");
            tables.push(table);
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
    /// 2 s, 4 s … up to the interval), until the table is refused.
    async fn refresh_loop(&self, table: &AcceleratedTable, state: &dyn Session) {
        loop {
            let failing = {
                let history = table.history();
                if history.refused.is_some() {
                    return;
                }
                history.failing
            };
            tokio::time::sleep(retry_after(failing, table.refresh)).await;
            self.load(table, state).await;
        }
    }

    /// Reads `table`'s source into a new copy and swaps it in; or records why not.
    async fn load(&self, table: &AcceleratedTable, state: &dyn Session) {
        let _one_at_a_time = self.loading.lock().await;
        if table.history().refused.is_some() {
            return;
        }
        let others: u64 = self
            .tables
            .iter()
            .filter(|other| other.name != table.name)
            .filter_map(|other| other.copy())
            .map(|copy| copy.bytes)
            .sum();
        let room = self.budget.saturating_sub(others);
        let had_copy = table.copy().is_some();
        match table.read_source(state, room).await {
            Ok(copy) => {
                tracing::info!(
                    table = %table.name,
                    rows = copy.rows,
                    bytes = copy.bytes,
                    "accelerated copy loaded"
                );
                table.swap(copy);
                let mut history = table.history();
                history.loads += 1;
                history.failing = 0;
                history.last_error = None;
            }
            Err(Load::Over(bytes)) if !had_copy => {
                let message = over_budget(&table.name, bytes, self.budget, others);
                tracing::warn!("{message}");
                table.history().refused = Some(message);
            }
            Err(error) => {
                let message = match error {
                    Load::Over(bytes) => format!(
                        "its copy grew to {}, past the {} left of the acceleration budget ({MEMORY_VAR}); queries read the copy of {}",
                        size(bytes),
                        size(room),
                        loaded_at(table)
                    ),
                    Load::Failed(message) if had_copy => {
                        format!("{message}; queries read the copy of {}", loaded_at(table))
                    }
                    Load::Failed(message) => {
                        format!("{message}; queries read the source until a copy loads")
                    }
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

/// The refusal of a copy that does not fit.
fn over_budget(table: &str, bytes: u64, budget: u64, others: u64) -> String {
    let held = if others > 0 {
        format!(", of which other tables' copies hold {}", size(others))
    } else {
        String::new()
    };
    format!(
        "{table} is not accelerated: its copy takes {}, more than the acceleration budget of {}{held} \
         ({MEMORY_VAR}, or `codelake serve --accelerate-memory`); it is read from its source. \
         Raise the budget, or remove `accelerate` from the table",
        size(bytes),
        size(budget),
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
