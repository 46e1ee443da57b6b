//! Proving declared tables against a live environment: `codelake verify`.
//!
//! Each table gets the same checks, in this order, and a [`TableReport`]:
//!
//! | check | what it proves |
//! |---|---|
//! | `reachable` | the plugin loads, builds the table, and reads its source with the configured credentials |
//! | `schema` | the source's columns match the declaration by name, type and nullability |
//! | `answers` | a `SELECT … LIMIT` sample and a `COUNT(*)` run in the session users query |
//! | `row_count` | `COUNT(*)` is within `min_rows` / `max_rows` |
//! | `freshness` | the newest object (or the newest `freshness_column` value) is within `freshness` |
//! | `non_null` | non-`Option` columns have no null in the sample |
//! | `unique` | `#[column(unique)]` columns have no repeated value in the sample |
//! | `range` | `#[column(min, max)]` columns stay within bounds in the sample |
//! | `owner` | the table names an owner |
//! | `accelerated` | with `--accelerated`, for a table declared `accelerate`: its copy loads within the memory budget (and `freshness` counts the copy's age) |
//!
//! Tables are verified concurrently, at most [`VerifyOptions::concurrency`] at
//! a time, and independently: one unreachable source fails its own table only.

mod checks;
mod options;
mod report;
mod sample;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::user_message;
use catalog_core::inspect::{Drift, InspectRequest, Inspection, Severity};
use catalog_core::{Environment, TableSpec};
use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use self::checks::{
    accelerated, owner, reachable, reachable_fix, row_count, schema, skipped, worst,
};
pub use self::options::VerifyOptions;
use self::report::millis;
pub use self::report::{
    Check, CheckKind, Problem, REPORT_VERSION, Report, Status, Summary, TableReport,
};
use self::sample::{
    Sample, epoch_seconds, first_value, quoted, quoted_table, sample_checks, sample_query,
};
use crate::{Error, PluginSet};

/// Why the plugin could not read a table's source directly.
struct Unread {
    message: String,
    /// Not reached at all (see [`Error::unreachable`]).
    unreachable: bool,
}

/// The checks after `reachable`, in report order: all skipped when the
/// table (or view) cannot be read at all.
const AFTER_REACHABLE: [CheckKind; 7] = [
    CheckKind::Schema,
    CheckKind::Answers,
    CheckKind::RowCount,
    CheckKind::Freshness,
    CheckKind::NonNull,
    CheckKind::Unique,
    CheckKind::Range,
];

/// Verifies tables registered in a session.
pub struct Verifier {
    ctx: Arc<SessionContext>,
    plugins: Arc<PluginSet>,
    env: Environment,
    options: VerifyOptions,
    /// Tables that could not be registered, each with why.
    unregistered: Vec<Error>,
}

impl Verifier {
    /// A verifier of the tables registered in `ctx` (by
    /// [`crate::register_tables`], with `plugins` and `env`); `unregistered`
    /// are the tables that failed to register, as it returned them.
    pub fn new(
        ctx: Arc<SessionContext>,
        plugins: Arc<PluginSet>,
        env: Environment,
        options: VerifyOptions,
        unregistered: Vec<Error>,
    ) -> Self {
        Self {
            ctx,
            plugins,
            env,
            options,
            unregistered,
        }
    }

    /// Verifies each table, calling `done` as each finishes; the reports come
    /// back in the order of `specs`.
    pub async fn run(&self, specs: &[&TableSpec], done: impl Fn(&TableReport)) -> Vec<TableReport> {
        let mut reports: Vec<(usize, TableReport)> =
            futures::stream::iter(specs.iter().enumerate())
                .map(|(index, spec)| async move { (index, self.table(spec).await) })
                .buffer_unordered(self.options.concurrency.max(1))
                .inspect(|(_, report)| done(report))
                .collect()
                .await;
        reports.sort_by_key(|(index, _)| *index);
        reports.into_iter().map(|(_, report)| report).collect()
    }

    async fn table(&self, spec: &TableSpec) -> TableReport {
        // A materialized view is verified as its written copy: reachable where
        // it was written, fresh by the copy's age.
        match spec.materialized_copy() {
            Some(copy) => self.checks(&copy).await,
            None => self.checks(spec).await,
        }
    }

    async fn checks(&self, spec: &TableSpec) -> TableReport {
        let started = Instant::now();
        let mut checks = Vec::new();
        let mut rows = None;
        let mut unreachable = false;
        let name = spec.qualified_name();
        let unregistered = self
            .unregistered
            .iter()
            .find(|error| error.table() == Some(name.as_str()));
        if spec.is_view() {
            rows = self.view(spec, unregistered, &mut checks).await;
        } else {
            // The source is read even when the table could not be registered: a
            // plugin may refuse a drifted source outright, and the drift is what to name.
            let inspection = self.inspect(spec).await;
            match (inspection, unregistered) {
                (Err(unread), unregistered) => {
                    // Only a source not reached at all gets the endpoint and
                    // credentials to check; one reached with bad data, the data.
                    unreachable = unread.unreachable;
                    let (message, fix) = if unreachable {
                        ("the source cannot be reached", reachable_fix(spec))
                    } else {
                        (
                        "the source's data cannot be read",
                        "do what the message says: the data at the source is at fault, not the way to it"
                            .to_owned(),
                    )
                    };
                    let mut problems = vec![Problem::failure(unread.message, fix.clone())];
                    if let Some(error) = unregistered
                        && !problems[0].message.contains(&error.to_string())
                    {
                        problems.push(Problem::failure(error.to_string(), fix));
                    }
                    checks.push(Check {
                        check: CheckKind::Reachable,
                        status: Status::Fail,
                        message: message.into(),
                        problems,
                    });
                    for check in AFTER_REACHABLE {
                        checks.push(skipped(check, "the source cannot be read"));
                    }
                }
                (Ok(inspection), Some(error)) => {
                    checks.push(reachable(&inspection));
                    // The plugin cannot open the table as the source is: a missing
                    // `Option` column does not read as nulls here, it stops the table.
                    let mut schema = schema(spec, &inspection);
                    for problem in &mut schema.problems {
                        if matches!(problem.drift, Some(Drift::MissingColumn { .. })) {
                            problem.severity = Severity::Failure;
                        }
                    }
                    schema.status = schema.status.max(worst(&schema.problems));
                    checks.push(schema);
                    checks.push(Check {
                        check: CheckKind::Answers,
                        status: Status::Fail,
                        message: "the table cannot be opened for queries".into(),
                        problems: vec![Problem::failure(
                            error.to_string(),
                            if checks
                                .iter()
                                .any(|c| c.check == CheckKind::Schema && c.status == Status::Fail)
                            {
                                "fix the differences the `schema` check names".to_owned()
                            } else {
                                reachable_fix(spec)
                            },
                        )],
                    });
                    for check in [
                        CheckKind::RowCount,
                        CheckKind::Freshness,
                        CheckKind::NonNull,
                        CheckKind::Unique,
                        CheckKind::Range,
                    ] {
                        checks.push(skipped(check, "the table cannot be opened for queries"));
                    }
                }
                (Ok(inspection), None) if inspection.unsupported => {
                    checks.push(skipped(
                    CheckKind::Reachable,
                    "the plugin cannot read its source directly; `answers` shows whether the table can be read",
                ));
                    checks.push(Check {
                    check: CheckKind::Schema,
                    status: Status::Warn,
                    message: "the live schema is unknown".into(),
                    problems: vec![Problem::warning(
                        format!(
                            "the plugin serving source `{}` cannot read its sources directly, so the live schema is unknown",
                            spec.source
                        ),
                        "implement `Source::inspect` in the plugin (docs/how-to/add-a-source-plugin.md)",
                    )],
                });
                    rows = self.query_checks(spec, &inspection, &mut checks).await;
                }
                (Ok(inspection), None) => {
                    checks.push(reachable(&inspection));
                    checks.push(schema(spec, &inspection));
                    rows = self.query_checks(spec, &inspection, &mut checks).await;
                }
            }
        }
        checks.push(owner(spec));
        if let Some(copy) = self.copy(&name) {
            // Loads run one at a time: a copy may wait for every other's.
            let queue = self
                .options
                .copies
                .iter()
                .map(|copy| copy.refresh.max(Duration::from_secs(300)))
                .sum();
            checks.push(accelerated(
                copy,
                self.options.copies_from.as_deref(),
                queue,
            ));
        }
        if self.options.strict {
            for check in &mut checks {
                if check.status == Status::Warn {
                    check.status = Status::Fail;
                }
            }
        }
        let status = checks
            .iter()
            .map(|check| check.status)
            .max()
            .unwrap_or(Status::Pass)
            .max(Status::Pass);
        TableReport {
            table: name,
            rust_type: spec.rust_type.to_string(),
            source: spec.source.to_string(),
            location: match &spec.view {
                Some(view) => Some(view.file.to_string()),
                None => catalog_core::source::declared_location(spec).map(str::to_owned),
            },
            status,
            duration_ms: millis(started.elapsed()),
            rows,
            unreachable,
            checks,
        }
    }

    /// A view's checks: it has no source of its own to read, so `reachable`
    /// says whether it plans over the tables it reads, and `schema` whether
    /// its SQL computes the declared columns (both decided when it was
    /// registered); then the same query checks as any table.
    async fn view(
        &self,
        spec: &TableSpec,
        unregistered: Option<&Error>,
        checks: &mut Vec<Check>,
    ) -> Option<u64> {
        if let Some(error) = unregistered {
            checks.push(Check {
                check: CheckKind::Reachable,
                status: Status::Fail,
                message: "the view cannot be planned".into(),
                problems: vec![Problem::failure(
                    error.to_string(),
                    "fix what the message names; `codelake views` checks every view against the declarations, with no data",
                )],
            });
            for check in AFTER_REACHABLE {
                checks.push(skipped(check, "the view cannot be planned"));
            }
            return None;
        }
        checks.push(Check {
            check: CheckKind::Reachable,
            status: Status::Pass,
            message: "the view plans over the tables it reads".into(),
            problems: vec![],
        });
        checks.push(Check {
            check: CheckKind::Schema,
            status: Status::Pass,
            message: format!(
                "its SQL computes the {} declared columns, by name, type and nullability",
                spec.columns.len()
            ),
            problems: vec![],
        });
        self.query_checks(spec, &Inspection::default(), checks)
            .await
    }

    /// The checks through queries, from `answers` on; the row count, if counted.
    async fn query_checks(
        &self,
        spec: &TableSpec,
        inspection: &Inspection,
        checks: &mut Vec<Check>,
    ) -> Option<u64> {
        let (answers, count, sample) = self.answers(spec).await;
        checks.push(answers);
        checks.push(row_count(spec, count));
        checks.push(self.freshness(spec, inspection).await);
        checks.extend(sample_checks(spec, sample.as_ref()));
        if let Some(sample) = &sample {
            self.example_duplicates(spec, sample, checks).await;
        }
        count
    }

    /// The plugin's direct read of the source, on a blocking thread.
    async fn inspect(&self, spec: &TableSpec) -> Result<Inspection, Unread> {
        let plugins = Arc::clone(&self.plugins);
        let owned = spec.clone();
        let env = self.env.clone();
        let request = InspectRequest {
            sample_rows: self.options.sample_rows,
            timeout_ms: millis(self.options.timeout),
        };
        tokio::task::spawn_blocking(move || crate::inspect(&plugins, &owned, &env, &request))
            .await
            .map_err(|error| Unread {
                message: format!("reading the source stopped: {error}"),
                unreachable: false,
            })?
            .map_err(|error| Unread {
                message: error.to_string(),
                unreachable: error.unreachable(),
            })
    }

    /// The sample query and `COUNT(*)`: the check, the count, the sample's aggregates.
    async fn answers(&self, spec: &TableSpec) -> (Check, Option<u64>, Option<Sample>) {
        let table = quoted_table(spec);
        let sample_sql = sample_query(spec, &table, self.options.sample_rows);
        let count_sql = format!("SELECT COUNT(*) FROM {table}");
        let sample = self.query(&sample_sql).await;
        let count = self.query(&count_sql).await;
        let count = count.and_then(|batches| {
            first_value(&batches, 0)
                .and_then(|value| value.as_i64())
                .map(|n| n as u64)
                .ok_or_else(|| "COUNT(*) returned no value".to_owned())
        });
        let sample = sample.map(|batches| Sample::new(spec, &batches));
        let mut problems = Vec::new();
        let fix = "see the `reachable` and `schema` checks; run the query with `codelake sql` for the whole error";
        if let Err(error) = &sample {
            problems.push(Problem::failure(
                format!(
                    "`SELECT … LIMIT {}` failed: {error}",
                    self.options.sample_rows
                ),
                fix,
            ));
        }
        if let Err(error) = &count {
            problems.push(Problem::failure(format!("`COUNT(*)` failed: {error}"), fix));
        }
        let check = match (&sample, &count) {
            (Ok(sample), Ok(count)) => Check {
                check: CheckKind::Answers,
                status: Status::Pass,
                message: format!(
                    "a sample of {} rows and COUNT(*) = {count} answered",
                    sample.rows
                ),
                problems,
            },
            _ => Check {
                check: CheckKind::Answers,
                status: Status::Fail,
                message: "queries fail".into(),
                problems,
            },
        };
        (check, count.ok(), sample.ok())
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        let run = async {
            let frame = self.ctx.sql(sql).await.map_err(|e| user_message(&e))?;
            frame.collect().await.map_err(|e| user_message(&e))
        };
        tokio::time::timeout(self.options.timeout, run)
            .await
            .map_err(|_| {
                format!(
                    "took longer than {}",
                    humantime::format_duration(self.options.timeout)
                )
            })?
    }

    /// The accelerated copy of `table`, when `--accelerated` loaded one.
    fn copy(&self, table: &str) -> Option<&crate::CopyStatus> {
        self.options.copies.iter().find(|copy| copy.table == table)
    }

    async fn freshness(&self, spec: &TableSpec, inspection: &Inspection) -> Check {
        let check = |status, message: String, problems| Check {
            check: CheckKind::Freshness,
            status,
            message,
            problems,
        };
        let Some(freshness) = &spec.expectations.freshness else {
            return check(Status::Skip, "no `freshness` declared".into(), vec![]);
        };
        let (newest, what) = match &spec.expectations.freshness_column {
            Some(column) => {
                let sql = format!("SELECT max({}) FROM {}", quoted(column), quoted_table(spec));
                let newest = match self.query(&sql).await {
                    Ok(batches) => first_value(&batches, 0).and_then(|value| epoch_seconds(&value)),
                    Err(error) => {
                        return check(
                            Status::Fail,
                            format!("cannot read the newest `{column}`"),
                            vec![
                                Problem::failure(
                                    format!("`max({column})` failed: {error}"),
                                    "see the `answers` check",
                                )
                                .on(column),
                            ],
                        );
                    }
                };
                (newest, format!("the newest `{column}`"))
            }
            None => (
                inspection.newest_modified,
                inspection
                    .newest_object
                    .as_ref()
                    .map_or("the newest object".to_owned(), |object| {
                        format!("the newest object ({object})")
                    }),
            ),
        };
        let Some(newest) = newest else {
            return check(
                Status::Warn,
                format!("cannot check `freshness = \"{}\"`", freshness.text),
                vec![Problem::warning(
                    format!("{what} has no time to compare"),
                    match &spec.expectations.freshness_column {
                        Some(column) => format!("`{column}` has no value: fill it in the source"),
                        None => format!(
                            "declare `freshness_column = \"…\"` (a timestamp column) in {}",
                            spec.rust_type
                        ),
                    },
                )],
            );
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| now.as_secs() as i64);
        let mut age = Duration::from_secs(now.saturating_sub(newest).max(0) as u64);
        // A copy holds no newer data than its source had when it was read.
        let mut what = what;
        if let Some(copy_age) = self
            .copy(&spec.qualified_name())
            .and_then(crate::CopyStatus::age)
            && copy_age > age
        {
            age = copy_age;
            what = "the accelerated copy".to_owned();
        }
        let age_text = humantime::format_duration(Duration::from_secs(age.as_secs()));
        if age > freshness.duration() {
            check(
                Status::Fail,
                format!("stale: {what} is {age_text} old"),
                vec![Problem::failure(
                    format!(
                        "{what} is {age_text} old, older than `freshness = \"{}\"`",
                        freshness.text
                    ),
                    if self.env.name == "local" {
                        format!(
                            "the local sample data is as old as its last seed: `codelake data seed --refresh` writes it again; or relax `freshness` in {}",
                            spec.rust_type
                        )
                    } else {
                        format!(
                            "refresh the data, or relax `freshness` in {} if it is updated less often",
                            spec.rust_type
                        )
                    },
                )],
            )
        } else {
            check(
                Status::Pass,
                format!("{what} is {age_text} old (limit {})", freshness.text),
                vec![],
            )
        }
    }

    /// Adds an example repeated value to each failed `unique` problem.
    async fn example_duplicates(&self, spec: &TableSpec, sample: &Sample, checks: &mut [Check]) {
        let Some(unique) = checks
            .iter_mut()
            .find(|check| check.check == CheckKind::Unique)
        else {
            return;
        };
        for problem in &mut unique.problems {
            let Some(column) = problem.column.clone() else {
                continue;
            };
            let sql = format!(
                "SELECT CAST(c AS VARCHAR), n FROM (SELECT {col} AS c, count(*) AS n FROM (SELECT {col} FROM {table} LIMIT {rows}) GROUP BY {col} HAVING count(*) > 1) LIMIT 1",
                col = quoted(&column),
                table = quoted_table(spec),
                rows = sample.rows,
            );
            if let Ok(batches) = self.query(&sql).await
                && let (Some(value), Some(times)) =
                    (first_value(&batches, 0), first_value(&batches, 1))
            {
                problem.message.push_str(&format!(
                    "; e.g. `{}` appears {} times",
                    value.to_string().trim_matches('"'),
                    times.as_i64().unwrap_or_default()
                ));
            }
        }
    }
}
