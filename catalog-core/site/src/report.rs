//! The verify report, as `codelake verify --format json` writes it
//! (`docs/reference/verify-report.md`), read as data: only the fields the
//! site shows, and every other field ignored, as the report's readers must.

use std::collections::HashMap;

use serde::Deserialize;

use crate::Error;

/// The report layout this site reads (`report_version`).
const REPORT_VERSION: u32 = 1;

/// One run of `codelake verify`: when, where, and each table's checks.
#[derive(Debug, Clone, Deserialize)]
pub struct VerifyReport {
    /// The environment verified, e.g. `production`.
    pub environment: String,
    /// When verification started, RFC 3339 UTC.
    pub started_at: String,
    tables: Vec<TableStatus>,
    #[serde(skip)]
    by_name: HashMap<String, usize>,
}

/// The outcome of one table or check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Not run.
    Skip,
    /// Holds.
    Pass,
    /// Holds, with something to look at.
    Warn,
    /// Does not hold.
    Fail,
}

impl CheckStatus {
    /// The word shown on the site.
    pub fn label(self) -> &'static str {
        match self {
            Self::Skip => "skipped",
            Self::Pass => "passed",
            Self::Warn => "warning",
            Self::Fail => "failed",
        }
    }

    /// The CSS class of a badge.
    pub fn class(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
        }
    }
}

/// One table's result.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TableStatus {
    pub table: String,
    pub status: CheckStatus,
    #[serde(default)]
    pub unreachable: bool,
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// One check of one table.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Check {
    pub check: String,
    pub status: CheckStatus,
    pub message: String,
    #[serde(default)]
    pub problems: Vec<Problem>,
}

/// One thing wrong, and its fix.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Problem {
    pub message: String,
    #[serde(default)]
    pub fix: String,
}

impl VerifyReport {
    /// Parses a report; `path` names it in errors.
    pub fn from_json(path: &str, text: &str) -> Result<Self, Error> {
        let error = |message: String| Error::Report {
            path: path.to_owned(),
            message,
        };
        let invalid = |e: serde_json::Error| {
            error(format!(
                "not a verify report ({e}); write one with `codelake verify --format json > FILE` \
                 (`cargo xtask verify --format json > FILE` in a checkout)"
            ))
        };
        #[derive(Deserialize)]
        struct Version {
            report_version: u32,
        }
        if text.trim().is_empty() {
            return Err(error(
                "the file is empty; `codelake verify --format json > FILE` (`cargo xtask verify …` \
                 in a checkout) writes a report even when tables fail, so verify stopped before \
                 verifying: see its error"
                    .into(),
            ));
        }
        let Version { report_version } = serde_json::from_str(text).map_err(invalid)?;
        if report_version != REPORT_VERSION {
            return Err(error(format!(
                "report_version {report_version}, but this site reads version {REPORT_VERSION}; write it again with this codelake's `codelake verify --format json`"
            )));
        }
        let mut report: Self = serde_json::from_str(text).map_err(invalid)?;
        report.by_name = (report.tables.iter().enumerate())
            .map(|(index, table)| (table.table.clone(), index))
            .collect();
        Ok(report)
    }

    /// The result of `table` (`database.name`), if the report has it.
    pub(crate) fn table(&self, table: &str) -> Option<&TableStatus> {
        self.by_name.get(table).map(|&index| &self.tables[index])
    }

    /// Tables the report names that `known` does not: a report of another catalog.
    pub(crate) fn unknown_tables<'a>(
        &'a self,
        known: &'a std::collections::HashSet<String>,
    ) -> impl Iterator<Item = &'a str> {
        (self.tables.iter())
            .map(|table| table.table.as_str())
            .filter(|table| !known.contains(*table))
    }

    /// How many tables of `known` have each status: passed, warned, failed.
    pub(crate) fn counts(
        &self,
        known: &std::collections::HashSet<String>,
    ) -> (usize, usize, usize) {
        let count = |status| {
            (self.tables.iter())
                .filter(|t| t.status == status && known.contains(&t.table))
                .count()
        };
        (
            count(CheckStatus::Pass),
            count(CheckStatus::Warn),
            count(CheckStatus::Fail),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_report_and_refuses_another_layout() {
        let report = VerifyReport::from_json(
            "v.json",
            r#"{"report_version": 1, "environment": "local", "started_at": "2026-11-30T10:00:00Z",
                "summary": {}, "tables": [{"table": "db.t", "status": "fail", "duration_ms": 3,
                "checks": [{"check": "row_count", "status": "fail", "message": "3 rows",
                "problems": [{"severity": "failure", "message": "too few", "fix": "load more"}]}]}]}"#,
        )
        .unwrap();
        let table = report.table("db.t").unwrap();
        assert_eq!(table.status, CheckStatus::Fail);
        assert_eq!(table.checks[0].problems[0].fix, "load more");
        assert!(report.table("db.u").is_none());

        let error = VerifyReport::from_json("v.json", r#"{"report_version": 2}"#).unwrap_err();
        assert!(error.to_string().contains("report_version 2"), "{error}");
        let error = VerifyReport::from_json("v.json", "[]").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("the verify report v.json: not a verify report"),
            "{error}"
        );
    }
}
