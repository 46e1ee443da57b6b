//! [`Planned`]: the plans `GetFlightInfo` made, kept for their `DoGet`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use catalog_serve::Prepared;

/// How long a plan made for `GetFlightInfo` waits for its `DoGet`.
const PLAN_TTL: Duration = Duration::from_secs(60);

/// Plans kept at once; beyond them, a ticket carries its SQL only.
const MAX_PLANS: usize = 1024;

/// A ticket that names a kept plan starts with this, then `ID:`, then the SQL.
const PLANNED_TICKET: &str = "codelake-plan:";

/// The plans `GetFlightInfo` made, each taken once by its `DoGet`, so a
/// statement is planned once, not twice. A ticket also carries its SQL: when
/// its plan is gone (expired, taken, or made by another server), `DoGet`
/// plans the SQL again, so tickets stay valid on any server of the catalog.
pub(crate) struct Planned<P = Prepared> {
    next: AtomicU64,
    plans: Mutex<HashMap<u64, (String, P, Instant)>>,
}

impl<P> Default for Planned<P> {
    fn default() -> Self {
        Self {
            next: AtomicU64::new(0),
            plans: Mutex::new(HashMap::new()),
        }
    }
}

impl<P> Planned<P> {
    /// Keeps `prepared` for `sql`: the ticket's handle.
    pub(crate) fn keep(&self, sql: &str, prepared: P) -> String {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if plans.len() >= MAX_PLANS / 2 {
            plans.retain(|_, (_, _, at)| at.elapsed() < PLAN_TTL);
        }
        if plans.len() >= MAX_PLANS {
            return sql.to_owned();
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        plans.insert(id, (sql.to_owned(), prepared, Instant::now()));
        format!("{PLANNED_TICKET}{id}:{sql}")
    }

    /// The SQL of a ticket's handle, and its kept plan if this server still
    /// has it for that same SQL.
    pub(crate) fn take<'h>(&self, handle: &'h str) -> (&'h str, Option<P>) {
        let Some((id, sql)) = handle
            .strip_prefix(PLANNED_TICKET)
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(id, sql)| Some((id.parse::<u64>().ok()?, sql)))
        else {
            return (handle, None);
        };
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        let kept = match plans.remove(&id) {
            Some((kept_sql, prepared, at)) if kept_sql == sql && at.elapsed() < PLAN_TTL => {
                Some(prepared)
            }
            _ => None,
        };
        (sql, kept)
    }
}

#[cfg(test)]
mod tests {
    use super::Planned;

    #[test]
    fn a_kept_plan_is_taken_once_for_its_own_sql() {
        let planned = Planned::<u32>::default();
        let handle = planned.keep("SELECT 1", 7);
        assert_eq!(planned.take(&handle), ("SELECT 1", Some(7)));
        // Taken: the same ticket again plans its SQL anew.
        assert_eq!(planned.take(&handle), ("SELECT 1", None));
        // Another server's ticket, or one whose SQL does not match, is its SQL.
        let other = planned.keep("SELECT 2", 8);
        let forged = other.replace("SELECT 2", "SELECT 3");
        assert_eq!(planned.take(&forged), ("SELECT 3", None));
        assert_eq!(planned.take("SELECT 4"), ("SELECT 4", None));
        assert_eq!(
            planned.take("codelake-plan:x:SELECT 5"),
            ("codelake-plan:x:SELECT 5", None)
        );
    }
}
