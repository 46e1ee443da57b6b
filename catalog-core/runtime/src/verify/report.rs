//! The report model: what `verify` found, as `--format json` prints it.

use std::time::{Duration, SystemTime};

use catalog_core::inspect::Severity;
use serde::{Deserialize, Serialize};

use super::options::VerifyOptions;

/// The version of the JSON report's layout; bumped on any incompatible change.
/// The layout is documented in `docs/reference/verify-report.md` and its JSON
/// Schema in `docs/reference/verify-report.schema.json`.
pub const REPORT_VERSION: u32 = 1;

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
    /// The `codelake serve` whose accelerated copies were checked
    /// (`verify --serve URL`); absent when none was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies_from: Option<String>,
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
            copies_from: options.copies_from.clone(),
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
    /// Whether its source could not be reached at all (its server down or
    /// silent, the connection or credentials refused, the bucket missing, no
    /// plugin for it), rather than reached and found wrong: what `verify`'s
    /// exit code 4 counts. Written only when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreachable: bool,
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
    /// Which check.
    pub check: CheckKind,
    /// Its outcome.
    pub status: Status,
    /// What was found, in one sentence.
    pub message: String,
    /// Each thing wrong, with its fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// Which check a [`Check`] is. It serialises as its snake_case name
/// (`reachable`, `row_count`, ...), the `check_name` of the report's JSON Schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The plugin loads, builds the table, and reads its source.
    Reachable,
    /// The source's columns match the declaration.
    Schema,
    /// A sample and a `COUNT(*)` run in the session users query.
    Answers,
    /// `COUNT(*)` is within `min_rows` / `max_rows`.
    RowCount,
    /// The newest data is within `freshness`.
    Freshness,
    /// Non-`Option` columns have no null in the sample.
    NonNull,
    /// `unique` columns have no repeated value in the sample.
    Unique,
    /// Bounded columns stay within bounds in the sample.
    Range,
    /// The table names an owner.
    Owner,
    /// An accelerated table's copy loads within the memory budget
    /// (`verify --accelerated` only).
    Accelerated,
}

impl CheckKind {
    /// Its name, as in the JSON report: `reachable`, `row_count`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reachable => "reachable",
            Self::Schema => "schema",
            Self::Answers => "answers",
            Self::RowCount => "row_count",
            Self::Freshness => "freshness",
            Self::NonNull => "non_null",
            Self::Unique => "unique",
            Self::Range => "range",
            Self::Owner => "owner",
            Self::Accelerated => "accelerated",
        }
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    pub(super) fn failure(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Failure,
            message: message.into(),
            fix: fix.into(),
            column: None,
            drift: None,
        }
    }

    pub(super) fn warning(message: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::failure(message, fix)
        }
    }

    pub(super) fn on(mut self, column: &str) -> Self {
        self.column = Some(column.to_owned());
        self
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_kind_is_written_as_its_name() {
        use CheckKind::*;
        for kind in [
            Reachable, Schema, Answers, RowCount, Freshness, NonNull, Unique, Range, Owner,
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<CheckKind>(&json).unwrap(), kind);
        }
    }
}
