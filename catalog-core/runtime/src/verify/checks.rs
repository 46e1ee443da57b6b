//! The checks that need no query: each builds one [`Check`] from the
//! declaration, the plugin's inspection, or numbers already measured.

use std::time::Duration;

use catalog_core::TableSpec;
use catalog_core::inspect::{Inspection, Severity, compare};

use super::report::{Check, CheckKind, Problem, Status};

pub(super) fn reachable(inspection: &Inspection) -> Check {
    Check {
        check: CheckKind::Reachable,
        status: Status::Pass,
        message: format!(
            "read {} object{}{}",
            inspection.objects,
            plural(inspection.objects as usize),
            inspection
                .sampled_rows
                .map(|rows| format!(", {rows} sample rows"))
                .unwrap_or_default()
        ),
        problems: vec![],
    }
}

pub(super) fn reachable_fix(spec: &TableSpec) -> String {
    catalog_core::source::source(&spec.source)
        .and_then(|source| source.unreachable)
        .map_or_else(
            || format!("see the message, and {}'s declaration", spec.rust_type),
            str::to_owned,
        )
}

/// The `schema` check: the source's columns against the declaration.
pub(super) fn schema(spec: &TableSpec, inspection: &Inspection) -> Check {
    let drifts = compare(spec, inspection);
    let problems: Vec<Problem> = drifts
        .iter()
        .map(|drift| Problem {
            severity: drift.severity(),
            message: drift.to_string(),
            fix: drift.fix(spec),
            column: drift
                .column()
                .filter(|column| !column.is_empty())
                .map(str::to_owned),
            drift: Some(drift.clone()),
        })
        .collect();
    let status = worst(&problems);
    let message = match status {
        Status::Pass => format!(
            "{} columns match by name, type and nullability",
            spec.columns.len()
        ),
        _ => format!(
            "{} difference{} from the declaration",
            problems.len(),
            plural(problems.len())
        ),
    };
    Check {
        check: CheckKind::Schema,
        status,
        message,
        problems,
    }
}

pub(super) fn row_count(spec: &TableSpec, count: Option<u64>) -> Check {
    let (min, max) = (spec.expectations.min_rows, spec.expectations.max_rows);
    let check = |status, message: String, problems| Check {
        check: CheckKind::RowCount,
        status,
        message,
        problems,
    };
    let Some(count) = count else {
        return skipped(CheckKind::RowCount, "COUNT(*) did not run");
    };
    if min.is_none() && max.is_none() {
        return check(
            Status::Skip,
            format!("{count} rows; no `min_rows` or `max_rows` declared"),
            vec![],
        );
    }
    let bounds = match (min, max) {
        (Some(min), Some(max)) if min == max => format!("exactly {min}"),
        (Some(min), Some(max)) => format!("{min} to {max}"),
        (Some(min), None) => format!("at least {min}"),
        (None, Some(max)) => format!("at most {max}"),
        (None, None) => unreachable!("checked above"),
    };
    if min.is_some_and(|min| count < min) || max.is_some_and(|max| count > max) {
        check(
            Status::Fail,
            format!("{count} rows, expected {bounds}"),
            vec![Problem::failure(
                format!("the table has {count} rows; {bounds} are declared"),
                format!(
                    "find why rows are missing or extra, or change `min_rows`/`max_rows` in {}",
                    spec.rust_type
                ),
            )],
        )
    } else {
        check(Status::Pass, format!("{count} rows ({bounds})"), vec![])
    }
}

pub(super) fn owner(spec: &TableSpec) -> Check {
    match &spec.owner {
        Some(owner) => Check {
            check: CheckKind::Owner,
            status: Status::Pass,
            message: format!("owned by {owner}"),
            problems: vec![],
        },
        None => Check {
            check: CheckKind::Owner,
            status: Status::Warn,
            message: "no owner".into(),
            problems: vec![Problem::warning(
                "nobody is named to answer for this data",
                format!(
                    "add `owner = \"team@…\"` to the `#[table]` of {}",
                    spec.rust_type
                ),
            )],
        },
    }
}

pub(super) fn skipped(check: CheckKind, why: &str) -> Check {
    Check {
        check,
        status: Status::Skip,
        message: why.into(),
        problems: vec![],
    }
}

pub(super) fn worst(problems: &[Problem]) -> Status {
    match problems.iter().map(|problem| problem.severity).max() {
        None => Status::Pass,
        Some(Severity::Warning) => Status::Warn,
        Some(Severity::Failure) => Status::Fail,
    }
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Whether an accelerated table's copy loaded, within the budget, and is kept
/// fresh: a copy older than its refresh interval plus `queue` (the longest
/// every copy's load may take, one after another, as the accelerator runs
/// them) warns, and fails once a refresh failed too. `served_by` is the
/// `codelake serve` whose copy it is (`verify --serve`), if any.
pub(super) fn accelerated(
    copy: &crate::CopyStatus,
    served_by: Option<&str>,
    queue: Duration,
) -> Check {
    let check = |status, message: String, problems| Check {
        check: CheckKind::Accelerated,
        status,
        message,
        problems,
    };
    if let Some(refused) = &copy.refused {
        return check(
            Status::Fail,
            "its copy does not fit in the acceleration budget".into(),
            vec![Problem::failure(
                refused.clone(),
                format!(
                    "raise {} (or `codelake serve --accelerate-memory`), or remove `accelerate` from the table",
                    crate::accelerate::MEMORY_VAR
                ),
            )],
        );
    }
    // A refresh starts an interval after the last load, may wait for the
    // other copies' loads (one runs at a time), and may take the interval (at
    // least five minutes) before it is stopped.
    let due = copy.refresh + queue;
    let words =
        |age: Duration| humantime::format_duration(Duration::from_secs(age.as_secs())).to_string();
    let every = words(copy.refresh);
    let retried = match served_by {
        Some(server) => format!(
            "the server at {server} retries on its own, backing off up to the `refresh` interval; \
             its log and `GET /metrics` (codelake_accelerated_refresh_failures_total) say more"
        ),
        None => "mend the source (see the `reachable` and `answers` checks)".to_owned(),
    };
    match (copy.age(), &copy.last_error) {
        (Some(age), None) if age <= due => check(
            Status::Pass,
            format!(
                "its copy holds {} rows in {} of memory (refreshed every {every})",
                copy.rows,
                crate::accelerate::size(copy.bytes),
            ),
            vec![],
        ),
        (Some(age), None) => check(
            Status::Warn,
            format!("its copy is {} old, refreshed every {every}", words(age)),
            vec![Problem::warning(
                format!(
                    "no refresh has replaced the copy for {}, though none failed",
                    words(age)
                ),
                retried,
            )],
        ),
        (Some(age), Some(error)) => {
            let problem = format!(
                "{} of its loads and refreshes failed; the last: {error}",
                copy.failures
            );
            let (status, problem) = match age <= due {
                true => (Status::Warn, Problem::warning(problem, retried)),
                false => (Status::Fail, Problem::failure(problem, retried)),
            };
            check(
                status,
                format!(
                    "its last refresh failed; queries read a copy {} old (refreshed every {every})",
                    words(age)
                ),
                vec![problem],
            )
        }
        (None, None) if copy.failures == 0 => check(
            Status::Warn,
            "its copy is still loading; queries read the source until it is in".into(),
            vec![Problem::warning(
                "no copy is loaded yet",
                "verify again once the server has loaded it (`GET /metrics`: \
                 codelake_accelerated_copy_bytes)",
            )],
        ),
        (None, error) => check(
            Status::Fail,
            "it has no copy: queries read its source".into(),
            vec![Problem::failure(
                error.clone().unwrap_or_else(|| "no copy was loaded".into()),
                match served_by {
                    Some(_) => retried,
                    None => "see the `answers` check: the copy is read as queries read the source"
                        .to_owned(),
                },
            )],
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::{Status, accelerated};
    use crate::CopyStatus;

    const MINUTE: Duration = Duration::from_secs(60);

    /// A copy refreshed every minute, loaded `age` ago, with `error` from its last try.
    fn copy(age: Option<Duration>, failures: u64, error: Option<&str>) -> CopyStatus {
        CopyStatus {
            table: "tpch.nation".into(),
            refresh: MINUTE,
            loaded_at: age.map(|age| SystemTime::now() - age),
            bytes: 1024,
            rows: 25,
            loads: 1,
            failures,
            last_error: error.map(str::to_owned),
            refused: None,
        }
    }

    #[test]
    fn a_copy_is_judged_by_its_age_against_its_refresh_and_the_load_queue() {
        let queue = 5 * MINUTE;
        let server = Some("http://127.0.0.1:8080");
        let status = |copy: &CopyStatus| accelerated(copy, server, queue).status;
        // Fresh, or young with a failed refresh: pass, then warn.
        assert_eq!(status(&copy(Some(MINUTE), 0, None)), Status::Pass);
        assert_eq!(status(&copy(Some(MINUTE), 1, Some("down"))), Status::Warn);
        // Past the interval and the queue: unrefreshed warns, failing fails.
        let old = Some(7 * MINUTE);
        assert_eq!(status(&copy(old, 0, None)), Status::Warn);
        let failing = accelerated(&copy(old, 3, Some("down")), server, queue);
        assert_eq!(failing.status, Status::Fail);
        assert!(
            failing.problems[0].message.contains("3 of its loads")
                && failing.problems[0].fix.contains("http://127.0.0.1:8080"),
            "{failing:?}"
        );
        // Still loading, then a first load that failed.
        assert_eq!(status(&copy(None, 0, None)), Status::Warn);
        assert_eq!(status(&copy(None, 1, Some("down"))), Status::Fail);
    }
}
