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
//!
//! Tables are verified concurrently, at most [`VerifyOptions::concurrency`] at
//! a time, and independently: one unreachable source fails its own table only.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use catalog_core::inspect::{Drift, InspectRequest, Inspection, Severity, compare};
use catalog_core::{ColumnType, Environment, TableSpec};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::common::ScalarValue;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{Error, PluginSet};

/// The version of the JSON report's layout; bumped on any incompatible change.
/// The layout is documented in `docs/reference/verify-report.md` and its JSON
/// Schema in `docs/reference/verify-report.schema.json`.
pub const REPORT_VERSION: u32 = 1;

/// How to verify.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Warnings (an undeclared extra column, no owner, ...) fail the table too.
    pub strict: bool,
    /// Rows read for the sample checks (`non_null`, `unique`, `range`) and, for
    /// CSV and JSON sources, for the schema.
    pub sample_rows: u64,
    /// Tables verified at once.
    pub concurrency: usize,
    /// How long one table's source read or one query may take.
    pub timeout: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        Self {
            strict: false,
            sample_rows: 10_000,
            concurrency: 8,
            timeout: Duration::from_secs(30),
        }
    }
}

/// The outcome of one check or one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not run: it needs a check that failed, or there is nothing to check.
    Skip,
    /// Holds.
    Pass,
    /// Holds, with something to look at; fails under `--strict`.
    Warn,
    /// Does not hold.
    Fail,
}

impl Status {
    /// The word shown to people: `pass`, `warn`, `FAIL`, `skip`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
        }
    }
}

/// Everything `verify` found, as `--format json` prints it. Readers ignore
/// fields they do not know: fields added later keep [`REPORT_VERSION`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// The codelake version that verified.
    pub codelake_version: String,
    /// The environment (profile) verified, e.g. `local`.
    pub environment: String,
    /// Whether warnings failed.
    pub strict: bool,
    /// Rows per sample.
    pub sample_rows: u64,
    /// When verification started, RFC 3339 UTC.
    pub started_at: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// Counts of tables by status.
    pub summary: Summary,
    /// One entry per table, in catalog order.
    pub tables: Vec<TableReport>,
}

impl Report {
    /// A report of `tables`, verified from `started` for `duration`.
    pub fn new(
        environment: &str,
        options: &VerifyOptions,
        started: SystemTime,
        duration: Duration,
        tables: Vec<TableReport>,
    ) -> Self {
        let count = |status| tables.iter().filter(|t| t.status == status).count();
        Self {
            report_version: REPORT_VERSION,
            codelake_version: env!("CARGO_PKG_VERSION").to_owned(),
            environment: environment.to_owned(),
            strict: options.strict,
            sample_rows: options.sample_rows,
            started_at: humantime::format_rfc3339_seconds(started).to_string(),
            duration_ms: millis(duration),
            summary: Summary {
                tables: tables.len(),
                passed: count(Status::Pass),
                warned: count(Status::Warn),
                failed: count(Status::Fail),
            },
            tables,
        }
    }

    /// Whether every table passed (warnings included, unless strict made them failures).
    pub fn passed(&self) -> bool {
        self.summary.failed == 0
    }
}

/// Counts of tables by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Tables verified.
    pub tables: usize,
    /// Tables with every check passed.
    pub passed: usize,
    /// Tables that passed with warnings.
    pub warned: usize,
    /// Tables with a failed check.
    pub failed: usize,
}

/// One table's checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableReport {
    /// `database.name`.
    pub table: String,
    /// The Rust struct declaring it.
    pub rust_type: String,
    /// Its source kind.
    pub source: String,
    /// Where its data is, as declared (`location` or `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The worst status of its checks.
    pub status: Status,
    /// How long its checks took, in milliseconds.
    pub duration_ms: u64,
    /// `COUNT(*)`, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
}

impl TableReport {
    /// The first failure, else the first warning: what a one-line summary shows.
    pub fn first_problem(&self) -> Option<(&Check, Option<&Problem>)> {
        [Status::Fail, Status::Warn].into_iter().find_map(|status| {
            let check = self.checks.iter().find(|check| check.status == status)?;
            Some((check, check.problems.first()))
        })
    }
}

/// One check of one table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    /// Which check: `reachable`, `schema`, `answers`, `row_count`, `freshness`,
    /// `non_null`, `unique`, `range` or `owner`.
    pub check: String,
    /// Its outcome.
    pub status: Status,
    /// What was found, in one sentence.
    pub message: String,
    /// Each thing wrong, with its fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// One thing wrong, and what to do about it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Problem {
    /// `warning` or `failure`.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub fix: String,
    /// The column it is about, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// For schema drift: the difference, structured (`kind` and its fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<catalog_core::inspect::Drift>,
}

impl Problem {
    fn failure(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Failure,
            message: message.into(),
            fix: fix.into(),
            column: None,
            drift: None,
        }
    }

    fn warning(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::failure(message, fix)
        }
    }

    fn on(mut self, column: &str) -> Self {
        self.column = Some(column.to_owned());
        self
    }
}

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
        let started = Instant::now();
        let mut checks = Vec::new();
        let mut rows = None;
        let name = spec.qualified_name();
        let unregistered = self
            .unregistered
            .iter()
            .find(|error| error.table() == Some(name.as_str()));
        // The source is read even when the table could not be registered: a
        // plugin may refuse a drifted source outright, and the drift is what to name.
        let inspection = self.inspect(spec).await;
        match (inspection, unregistered) {
            (Err(message), unregistered) => {
                let mut problems = vec![Problem::failure(message, reachable_fix(spec))];
                if let Some(error) = unregistered
                    && !problems[0].message.contains(&error.to_string())
                {
                    problems.push(Problem::failure(error.to_string(), reachable_fix(spec)));
                }
                checks.push(Check {
                    check: "reachable".into(),
                    status: Status::Fail,
                    message: "the source cannot be read".into(),
                    problems,
                });
                for check in [
                    "schema",
                    "answers",
                    "row_count",
                    "freshness",
                    "non_null",
                    "unique",
                    "range",
                ] {
                    checks.push(skipped(check, "the source cannot be read"));
                }
            }
            (Ok(inspection), Some(error)) => {
                checks.push(reachable(&inspection));
                // The plugin cannot open the table as the source is: a missing
                // `Option` column does not read as nulls here, it stops the table.
                let mut schema = self.schema(spec, &inspection);
                for problem in &mut schema.problems {
                    if matches!(problem.drift, Some(Drift::MissingColumn { .. })) {
                        problem.severity = Severity::Failure;
                    }
                }
                schema.status = schema.status.max(worst(&schema.problems));
                checks.push(schema);
                checks.push(Check {
                    check: "answers".into(),
                    status: Status::Fail,
                    message: "the table cannot be opened for queries".into(),
                    problems: vec![Problem::failure(
                        error.to_string(),
                        if checks
                            .iter()
                            .any(|c| c.check == "schema" && c.status == Status::Fail)
                        {
                            "fix the differences the `schema` check names".to_owned()
                        } else {
                            reachable_fix(spec)
                        },
                    )],
                });
                for check in ["row_count", "freshness", "non_null", "unique", "range"] {
                    checks.push(skipped(check, "the table cannot be opened for queries"));
                }
            }
            (Ok(inspection), None) if inspection.unsupported => {
                checks.push(skipped(
                    "reachable",
                    "the plugin cannot read its source directly; `answers` shows whether the table can be read",
                ));
                checks.push(Check {
                    check: "schema".into(),
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
                checks.push(self.schema(spec, &inspection));
                rows = self.query_checks(spec, &inspection, &mut checks).await;
            }
        }
        checks.push(owner(spec));
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
            location: spec
                .option("location")
                .or_else(|| spec.option("url"))
                .map(str::to_owned),
            status,
            duration_ms: millis(started.elapsed()),
            rows,
            checks,
        }
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
    async fn inspect(&self, spec: &TableSpec) -> Result<Inspection, String> {
        let plugins = Arc::clone(&self.plugins);
        let owned = spec.clone();
        let env = self.env.clone();
        let request = InspectRequest {
            sample_rows: self.options.sample_rows,
            timeout_ms: millis(self.options.timeout),
        };
        tokio::task::spawn_blocking(move || crate::inspect(&plugins, &owned, &env, &request))
            .await
            .map_err(|error| format!("reading the source stopped: {error}"))?
            .map_err(|error| error.to_string())
    }

    fn schema(&self, spec: &TableSpec, inspection: &Inspection) -> Check {
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
            check: "schema".into(),
            status,
            message,
            problems,
        }
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
                check: "answers".into(),
                status: Status::Pass,
                message: format!(
                    "a sample of {} rows and COUNT(*) = {count} answered",
                    sample.rows
                ),
                problems,
            },
            _ => Check {
                check: "answers".into(),
                status: Status::Fail,
                message: "queries fail".into(),
                problems,
            },
        };
        (check, count.ok(), sample.ok())
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        let run = async {
            let frame = self.ctx.sql(sql).await.map_err(|e| e.to_string())?;
            frame.collect().await.map_err(|e| e.to_string())
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

    async fn freshness(&self, spec: &TableSpec, inspection: &Inspection) -> Check {
        let check = |status, message: String, problems| Check {
            check: "freshness".into(),
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
        let age = Duration::from_secs(now.saturating_sub(newest).max(0) as u64);
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
        let Some(unique) = checks.iter_mut().find(|check| check.check == "unique") else {
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

fn reachable(inspection: &Inspection) -> Check {
    Check {
        check: "reachable".into(),
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

fn reachable_fix(spec: &TableSpec) -> String {
    match &*spec.source {
        "s3-parquet" => "check `location`, the S3 endpoint and credentials of the environment (docs/reference/configuration.md), and that the object exists".into(),
        "csv" => "check `location` and the environment's data directory".into(),
        "http-api" => "check `url`, the HTTP base URL of the environment and the credential variable named by `auth_env`".into(),
        _ => format!("see the message, and {}'s declaration", spec.rust_type),
    }
}

fn row_count(spec: &TableSpec, count: Option<u64>) -> Check {
    let (min, max) = (spec.expectations.min_rows, spec.expectations.max_rows);
    let check = |status, message: String, problems| Check {
        check: "row_count".into(),
        status,
        message,
        problems,
    };
    let Some(count) = count else {
        return skipped("row_count", "COUNT(*) did not run");
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

fn owner(spec: &TableSpec) -> Check {
    match &spec.owner {
        Some(owner) => Check {
            check: "owner".into(),
            status: Status::Pass,
            message: format!("owned by {owner}"),
            problems: vec![],
        },
        None => Check {
            check: "owner".into(),
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

fn skipped(check: &str, why: &str) -> Check {
    Check {
        check: check.into(),
        status: Status::Skip,
        message: why.into(),
        problems: vec![],
    }
}

fn worst(problems: &[Problem]) -> Status {
    match problems.iter().map(|problem| problem.severity).max() {
        None => Status::Pass,
        Some(Severity::Warning) => Status::Warn,
        Some(Severity::Failure) => Status::Fail,
    }
}

/// What the sample query measured: rows, and per column its non-null count,
/// distinct count (unique columns) and bounds (bounded columns).
struct Sample {
    rows: u64,
    columns: Vec<SampleColumn>,
}

struct SampleColumn {
    name: String,
    non_null: u64,
    distinct: Option<u64>,
    min: Option<f64>,
    max: Option<f64>,
}

/// One aggregate over a `LIMIT`ed sample: every column is read (so every
/// value is decoded), and the checks need nothing else.
fn sample_query(spec: &TableSpec, table: &str, rows: u64) -> String {
    let mut select = vec!["count(*)".to_owned()];
    for column in spec.columns.iter() {
        let name = quoted(&column.name);
        select.push(format!("count({name})"));
        if column.unique {
            select.push(format!("count(DISTINCT {name})"));
        }
        if column.min.is_some() || column.max.is_some() {
            select.push(format!("min({name})"));
            select.push(format!("max({name})"));
        }
    }
    format!(
        "SELECT {} FROM (SELECT * FROM {table} LIMIT {rows})",
        select.join(", ")
    )
}

impl Sample {
    fn new(spec: &TableSpec, batches: &[RecordBatch]) -> Self {
        let mut index = 0;
        let mut next = || {
            index += 1;
            first_value(batches, index)
        };
        let rows = first_value(batches, 0)
            .and_then(|value| value.as_i64())
            .unwrap_or_default() as u64;
        let columns = spec
            .columns
            .iter()
            .map(|column| {
                let non_null = next().and_then(|v| v.as_i64()).unwrap_or_default() as u64;
                let distinct = column
                    .unique
                    .then(|| next().and_then(|v| v.as_i64()).unwrap_or_default() as u64);
                let (min, max) = if column.min.is_some() || column.max.is_some() {
                    let min = next().and_then(|v| v.as_f64(column.ty));
                    let max = next().and_then(|v| v.as_f64(column.ty));
                    (min, max)
                } else {
                    (None, None)
                };
                SampleColumn {
                    name: column.name.to_string(),
                    non_null,
                    distinct,
                    min,
                    max,
                }
            })
            .collect();
        Self { rows, columns }
    }
}

fn sample_checks(spec: &TableSpec, sample: Option<&Sample>) -> Vec<Check> {
    let Some(sample) = sample else {
        return ["non_null", "unique", "range"]
            .into_iter()
            .map(|check| skipped(check, "the sample query failed"))
            .collect();
    };
    let rows = sample.rows;
    let mut non_null = Vec::new();
    let mut unique = Vec::new();
    let mut range = Vec::new();
    for (declared, found) in spec.columns.iter().zip(&sample.columns) {
        let name = &found.name;
        let nulls = rows - found.non_null.min(rows);
        if !declared.nullable && nulls > 0 {
            non_null.push(
                Problem::failure(
                    format!("`{name}` has {nulls} null{} in {rows} sampled rows", plural(nulls as usize)),
                    format!(
                        "make the field of `{name}` an `Option<..>` in {}, or fill the nulls in the source",
                        spec.rust_type
                    ),
                )
                .on(name),
            );
        }
        if let Some(distinct) = found.distinct {
            let repeated = found.non_null - distinct.min(found.non_null);
            if repeated > 0 {
                unique.push(
                    Problem::failure(
                        format!(
                            "`{name}` is declared unique, but {repeated} of {} sampled values repeat",
                            found.non_null
                        ),
                        format!(
                            "remove the duplicates in the source, or drop `unique` from the field of `{name}` in {}",
                            spec.rust_type
                        ),
                    )
                    .on(name),
                );
            }
        }
        let below = declared
            .min
            .zip(found.min)
            .filter(|(bound, seen)| seen < bound);
        let above = declared
            .max
            .zip(found.max)
            .filter(|(bound, seen)| seen > bound);
        for (side, (bound, seen)) in [("min", below), ("max", above)]
            .into_iter()
            .filter_map(|(side, pair)| Some((side, pair?)))
        {
            range.push(
                Problem::failure(
                    format!("`{name}` has {seen} in the sample, beyond `{side} = {bound}`"),
                    format!(
                        "fix the data, or widen `#[column({side} = …)]` on `{name}` in {}",
                        spec.rust_type
                    ),
                )
                .on(name),
            );
        }
    }
    let non_nullable = spec.columns.iter().filter(|c| !c.nullable).count();
    let uniques = spec.columns.iter().filter(|c| c.unique).count();
    let bounded = spec
        .columns
        .iter()
        .filter(|c| c.min.is_some() || c.max.is_some())
        .count();
    vec![
        sample_check("non_null", non_nullable, "non-null column", rows, non_null),
        sample_check("unique", uniques, "unique column", rows, unique),
        sample_check("range", bounded, "bounded column", rows, range),
    ]
}

fn sample_check(
    check: &str,
    declared: usize,
    what: &str,
    rows: u64,
    problems: Vec<Problem>,
) -> Check {
    if declared == 0 {
        return skipped(check, &format!("no {what}s declared"));
    }
    let status = worst(&problems);
    let message = if problems.is_empty() {
        let (noun, verb) = if declared == 1 { ("", "s") } else { ("s", "") };
        format!("{declared} {what}{noun} hold{verb} in {rows} sampled rows")
    } else {
        format!("{} of {declared} {what}s do not hold", problems.len())
    };
    Check {
        check: check.into(),
        status,
        message,
        problems,
    }
}

/// A value of a one-row result.
fn first_value(batches: &[RecordBatch], column: usize) -> Option<Value> {
    let batch = batches.iter().find(|batch| batch.num_rows() > 0)?;
    let array = batch.columns().get(column)?;
    if array.is_null(0) {
        return None;
    }
    if let Some(ints) = array.as_primitive_opt::<Int64Type>() {
        return Some(Value::Int(ints.value(0)));
    }
    ScalarValue::try_from_array(array, 0)
        .ok()
        .map(Value::Scalar)
}

enum Value {
    Int(i64),
    Scalar(ScalarValue),
}

impl Value {
    fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(value) => Some(*value),
            Self::Scalar(scalar) => match scalar {
                ScalarValue::Int64(value) => *value,
                ScalarValue::UInt64(value) => value.and_then(|v| i64::try_from(v).ok()),
                _ => None,
            },
        }
    }

    fn as_f64(&self, ty: ColumnType) -> Option<f64> {
        let scalar = match self {
            Self::Int(value) => return Some(*value as f64),
            Self::Scalar(scalar) => scalar,
        };
        Some(match (scalar, ty) {
            (ScalarValue::Decimal128(Some(value), _, scale), _) => {
                *value as f64 / 10f64.powi(i32::from(*scale))
            }
            (ScalarValue::Float64(Some(v)), _) => *v,
            (ScalarValue::Float32(Some(v)), _) => f64::from(*v),
            (ScalarValue::Int8(Some(v)), _) => f64::from(*v),
            (ScalarValue::Int16(Some(v)), _) => f64::from(*v),
            (ScalarValue::Int32(Some(v)), _) => f64::from(*v),
            (ScalarValue::Int64(Some(v)), _) => *v as f64,
            (ScalarValue::UInt8(Some(v)), _) => f64::from(*v),
            (ScalarValue::UInt16(Some(v)), _) => f64::from(*v),
            (ScalarValue::UInt32(Some(v)), _) => f64::from(*v),
            (ScalarValue::UInt64(Some(v)), _) => *v as f64,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Int(value) => write!(f, "{value}"),
            Self::Scalar(scalar) => write!(f, "{scalar}"),
        }
    }
}

/// A timestamp or date as seconds since the Unix epoch.
fn epoch_seconds(value: &Value) -> Option<i64> {
    let Value::Scalar(scalar) = value else {
        return None;
    };
    match scalar {
        ScalarValue::TimestampSecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMillisecond(Some(v), _) => Some(v / 1_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(v / 1_000_000),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v / 1_000_000_000),
        // A date stands for its whole day: it is fresh until the day ends.
        ScalarValue::Date32(Some(days)) => Some((i64::from(*days) + 1) * 86_400),
        _ => None,
    }
}

/// An identifier for SQL: always quoted, so any column name works.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quoted_table(spec: &TableSpec) -> String {
    format!("{}.{}", quoted(&spec.database), quoted(&spec.name))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_quotes_doubled() {
        assert_eq!(quoted("Order \"Date\""), "\"Order \"\"Date\"\"\"");
    }

    #[test]
    fn a_date_is_fresh_until_its_day_ends() {
        let day = Value::Scalar(ScalarValue::Date32(Some(1)));
        assert_eq!(epoch_seconds(&day), Some(2 * 86_400));
    }
}
