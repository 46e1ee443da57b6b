//! `codelake verify`: prove the declared catalog against the environment.

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant, SystemTime};

use std::path::{Path, PathBuf};

use catalog_core::inspect::Severity;
use catalog_core::{Environment, Manifest, TableSpec};
use catalog_runtime::verify::{CheckKind, Report, Status, TableReport, Verifier, VerifyOptions};
use comfy_table::{ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Global;
use crate::describe::find;
use crate::error::{CliError, EXIT_CONFIG, EXIT_ENVIRONMENT, EXIT_FAILED};
use crate::session::{Seed, Session, Unavailable};

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A table for people, with each problem and its fix.
    Human,
    /// The versioned JSON report, for CI (docs/reference/verify-report.md).
    Json,
}

/// What `codelake verify` was asked.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Verify only this table (`database.name`); repeat for several. Default: every table.
    #[arg(long = "table", value_name = "DB.NAME")]
    tables: Vec<String>,
    /// Verify the tables of this catalog manifest (a `catalog.json` written by
    /// `cargo xtask gen-catalog`) instead of the catalog built into codelake.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Output: a human table, or the JSON report.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    format: ReportFormat,
    /// Fail on warnings too: an undeclared extra column, a missing owner, an unchecked freshness.
    #[arg(long)]
    strict: bool,
    /// Rows read for the sample checks (non-null, unique, ranges, CSV and JSON types).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    sample_rows: u64,
    /// Tables verified at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    jobs: usize,
    /// How long one table's source read or one query may take.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Load the copies of accelerated tables (`accelerate = "memory"`) first,
    /// within CODELAKE_ACCELERATE_MEMORY, as `serve` does: each gets an
    /// `accelerated` check, and the queries and freshness read the copy.
    #[arg(long)]
    accelerated: bool,
    /// Check the accelerated copies a running `codelake serve` holds, at this
    /// URL (e.g. `http://127.0.0.1:8080`), instead of loading copies here: a
    /// failed refresh or a copy still loading shows in each table's
    /// `accelerated` check, and `freshness` counts the served copy's age. The
    /// token: CODELAKE_TOKEN; for a server on loopback, else the configured
    /// serve tokens, else the one a local server made.
    #[arg(long, value_name = "URL", conflicts_with = "accelerated")]
    serve: Option<String>,
    /// With --serve, allow plain http:// to a host beyond loopback, so the
    /// token crosses the network in clear text: on a trusted network only.
    #[arg(long, requires = "serve")]
    insecure: bool,
}

/// Runs `codelake verify`; fails with exit code 1 when a table fails.
pub async fn run(global: &Global, args: VerifyArgs) -> Result<(), CliError> {
    for (zero, flag) in [
        (args.jobs == 0, "--jobs"),
        (args.sample_rows == 0, "--sample-rows"),
        (args.timeout.is_zero(), "--timeout"),
    ] {
        if zero {
            return Err(CliError::msg(
                crate::error::EXIT_USAGE,
                format!("{flag} must be above zero"),
            ));
        }
    }
    // Settings first: a bad URL or budget stops verify before it seeds or starts anything.
    let server = args
        .serve
        .as_deref()
        .map(|url| crate::copies::ServerUrl::parse(url, args.insecure))
        .transpose()?;
    let budget = match args.accelerated {
        true => Some(
            catalog_runtime::accelerate::budget_from_env()
                .map_err(|message| CliError::msg(crate::error::EXIT_CONFIG, message))?,
        ),
        false => None,
    };
    let catalog = args.catalog.as_deref().map(read_catalog).transpose()?;
    let specs: Vec<TableSpec> = match &catalog {
        Some(catalog) if args.tables.is_empty() => catalog.clone(),
        Some(catalog) => args
            .tables
            .iter()
            .map(|name| {
                catalog
                    .iter()
                    .find(|spec| spec.qualified_name() == *name)
                    .cloned()
                    .ok_or_else(|| {
                        CliError::msg(EXIT_FAILED, format!("the catalog has no table `{name}`"))
                    })
            })
            .collect::<Result<_, _>>()?,
        None if args.tables.is_empty() => tables::REGISTRY.tables().cloned().collect(),
        None => args
            .tables
            .iter()
            .map(|name| find(name).cloned())
            .collect::<Result<_, _>>()?,
    };
    // `--live`: a materialized view is verified as its SQL, not its written copy.
    let specs: Vec<TableSpec> = if global.live {
        specs.iter().map(TableSpec::live).collect()
    } else {
        specs
    };
    let mut seen = std::collections::BTreeSet::new();
    let specs: Vec<&TableSpec> = specs
        .iter()
        .filter(|spec| seen.insert(spec.qualified_name()))
        .collect();
    let session =
        Session::open_catalog(global, Seed::IfEmpty, Unavailable::Silent, catalog).await?;
    let copies = if let Some(server) = &server {
        crate::copies::served(&session, server, &specs).await?
    } else if let Some(budget) = budget {
        let owned: Vec<TableSpec> = specs.iter().map(|spec| (*spec).clone()).collect();
        let accelerator = catalog_runtime::Accelerator::install(&session.ctx, &owned, budget).await;
        accelerator.load_all(&session.ctx.state()).await
    } else {
        Vec::new()
    };
    let options = VerifyOptions {
        strict: args.strict,
        sample_rows: args.sample_rows,
        concurrency: args.jobs,
        timeout: args.timeout,
        copies,
        copies_from: server.map(|server| server.shown),
    };
    let progress = if args.format == ReportFormat::Human && std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(specs.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    progress.set_style(
        ProgressStyle::with_template("{spinner} verifying: [{bar:30}] {pos}/{len} tables {msg}")
            .expect("a valid template"),
    );
    progress.enable_steady_tick(Duration::from_millis(120));
    let verifier = Verifier::new(
        session.ctx.clone(),
        session.plugins.clone(),
        session.env.clone(),
        options.clone(),
        session.failures,
    );
    let started = SystemTime::now();
    let clock = Instant::now();
    let reports = verifier
        .run(&specs, |report| {
            progress.inc(1);
            progress.set_message(format!("{} {}", report.table, report.status.label()));
        })
        .await;
    progress.finish_and_clear();
    let mut reports = reports;
    if session.local.is_some() {
        for report in &mut reports {
            if let Some(spec) = specs
                .iter()
                .find(|spec| spec.qualified_name() == report.table)
            {
                name_missing_sample_data(&session.env, spec, report);
            }
        }
    }
    let report = Report::new(
        &session.config.profile,
        &options,
        started,
        clock.elapsed(),
        reports,
    );
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        ReportFormat::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        ReportFormat::Human => write!(out, "{}", human(&report)),
    };
    // A closed standard output (`| head`) is the reader's choice.
    drop(written);
    // Tables computed in-process (functions, views) prove nothing about the environment. A source
    // that was reached but holds bad data (a corrupt file) is not "down".
    let mut remote = report
        .tables
        .iter()
        .filter(|table| table.source != "function" && table.source != catalog_core::VIEW_SOURCE)
        .peekable();
    let environment_down = remote.peek().is_some() && remote.all(|table| table.unreachable);
    if report.passed() {
        Ok(())
    } else if environment_down {
        Err(CliError::msg(
            EXIT_ENVIRONMENT,
            format!(
                "no table whose data lives in environment `{}` could be reached",
                report.environment
            ),
        )
        .hint("check that the environment runs and its endpoints and credentials (docs/reference/configuration.md)"))
    } else {
        let failed: Vec<&str> = report
            .tables
            .iter()
            .filter(|table| table.status == Status::Fail)
            .map(|table| table.table.as_str())
            .collect();
        Err(CliError::msg(
            EXIT_FAILED,
            format!(
                "{} of {} failed verification in environment `{}`: {}",
                failed.len(),
                crate::names::counted(report.summary.tables as usize, "table"),
                report.environment,
                failed.join(", ")
            ),
        ))
    }
}

/// A table that cannot be read in the local environment because nothing gives
/// it sample data still fails `reachable`, and its message says how to give it some.
fn name_missing_sample_data(env: &Environment, spec: &TableSpec, report: &mut TableReport) {
    let Some(check) = report
        .checks
        .iter_mut()
        .find(|check| check.check == CheckKind::Reachable && check.status == Status::Fail)
    else {
        return;
    };
    let Some(hint) = crate::seed::missing_sample_data(env, spec) else {
        return;
    };
    check.message = format!("{}: {hint}", check.message);
    for problem in &mut check.problems {
        problem.fix = format!("{hint}; or {}", problem.fix);
    }
}

/// The tables of a `catalog.json` manifest.
pub fn read_catalog(path: &Path) -> Result<Vec<TableSpec>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        CliError::msg(
            EXIT_CONFIG,
            format!("cannot read catalog {}: {error}", path.display()),
        )
    })?;
    let manifest = Manifest::from_json(&text).map_err(|error| {
        CliError::msg(EXIT_CONFIG, format!("catalog {}: {error}", path.display()))
    })?;
    Ok(manifest.tables)
}

/// The report for people: one row a table, then each problem with its fix.
pub fn human(report: &Report) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["table", "status", "checks", "rows", "time", "first problem"]);
    for entry in &report.tables {
        let run: Vec<_> = entry
            .checks
            .iter()
            .filter(|check| check.status != Status::Skip)
            .collect();
        let passed = run.iter().filter(|c| c.status == Status::Pass).count();
        let problem = entry
            .first_problem()
            .map(|(check, problem)| {
                let text = problem.map_or(check.message.as_str(), |p| p.message.as_str());
                format!("{}: {}", check.check, shorten(text, 90))
            })
            .unwrap_or_default();
        table.add_row([
            entry.table.clone(),
            entry.status.label().to_owned(),
            format!("{passed}/{} pass", run.len()),
            entry.rows.map(|rows| rows.to_string()).unwrap_or_default(),
            format!("{} ms", entry.duration_ms),
            problem,
        ]);
    }
    let mut text = format!("{table}\n");
    for entry in report
        .tables
        .iter()
        .filter(|entry| entry.status > Status::Pass)
    {
        text.push_str(&details(entry, report.strict));
    }
    let summary = &report.summary;
    text.push_str(&format!(
        "\n{} table{} in environment `{}`: {} passed, {} passed with warnings, {} failed ({} ms{})\n",
        summary.tables,
        if summary.tables == 1 { "" } else { "s" },
        report.environment,
        summary.passed,
        summary.warned,
        summary.failed,
        report.duration_ms,
        if report.strict { ", strict" } else { "" }
    ));
    if let Some(server) = &report.copies_from {
        text.push_str(&format!(
            "Accelerated copies as `codelake serve` at {server} holds them.\n"
        ));
    }
    text
}

/// Every problem of one table, with its fix.
fn details(entry: &TableReport, report_strict: bool) -> String {
    let mut text = format!(
        "\n{} {} ({})\n",
        entry.status.label(),
        entry.table,
        entry.rust_type
    );
    for check in &entry.checks {
        if check.status <= Status::Pass {
            continue;
        }
        if check.problems.is_empty() {
            text.push_str(&format!(
                "  {} {}: {}\n",
                check.status.label(),
                check.check,
                check.message
            ));
        }
        for problem in &check.problems {
            // A warning inside a failed check is still a warning.
            let label = match problem.severity {
                Severity::Warning if !report_strict => "warn",
                _ => check.status.label(),
            };
            text.push_str(&format!(
                "  {label} {}: {}\n      fix: {}\n",
                check.check,
                indent(&problem.message),
                problem.fix
            ));
        }
        if check.check == CheckKind::Schema && check.status == Status::Fail {
            text.push_str(&format!(
                "      compare: `codelake new-table --table {}` prints the struct the source has now\n",
                entry.table
            ));
        }
    }
    text
}

/// Continuation lines of an engine's multi-line error, under the problem.
fn indent(text: &str) -> String {
    text.trim_end().replace('\n', "\n        ")
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
