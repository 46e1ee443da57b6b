//! What the bench measures: the query cases (their SQL and the engines each
//! runs on), cold start and idle memory, gen-catalog, and verify.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::Plan;
use super::engines::{self, Engine, EngineKind, Setup};
use super::report::{Case, Checked, EngineResult, Measure, Report};
use super::setup::{
    LocalUp, codelake_in, millis, proc_status_mib, say, seeded_project, tables_json, tpch_project,
    write_synthetic_catalog,
};
use crate::gen_catalog::{self, Layout};

/// A query case: its name, title, SQL and the engines it runs on.
pub(super) struct QueryCase {
    name: &'static str,
    title: &'static str,
    group: &'static str,
    sql: &'static str,
    engines: &'static [EngineKind],
}

const FILE_ENGINES: &[EngineKind] = &EngineKind::ALL;
const CATALOG_ENGINES: &[EngineKind] = &[EngineKind::Codelake, EngineKind::CodelakeCli];

/// The cases that run queries.
const QUERY_CASES: &[QueryCase] = &[
    QueryCase {
        name: "q01",
        title: "TPC-H Q1: pricing summary (lineitem scan, aggregation)",
        group: "tpch",
        sql: include_str!("../../bench/queries/q01.sql"),
        engines: FILE_ENGINES,
    },
    QueryCase {
        name: "q03",
        title: "TPC-H Q3: shipping priority (3-way join, top 10)",
        group: "tpch",
        sql: include_str!("../../bench/queries/q03.sql"),
        engines: FILE_ENGINES,
    },
    QueryCase {
        name: "q05",
        title: "TPC-H Q5: local supplier volume (6-way join, CSV nation and region)",
        group: "tpch",
        sql: include_str!("../../bench/queries/q05.sql"),
        engines: FILE_ENGINES,
    },
    QueryCase {
        name: "q06",
        title: "TPC-H Q6: forecasting revenue change (selective lineitem scan)",
        group: "tpch",
        sql: include_str!("../../bench/queries/q06.sql"),
        engines: FILE_ENGINES,
    },
    QueryCase {
        name: "q10",
        title: "TPC-H Q10: returned items (4-way join, top 20)",
        group: "tpch",
        sql: include_str!("../../bench/queries/q10.sql"),
        engines: FILE_ENGINES,
    },
    QueryCase {
        name: "scan",
        title: "Full read of four lineitem columns: S3 vs disk",
        group: "read",
        sql: include_str!("../../bench/queries/scan.sql"),
        engines: FILE_ENGINES,
    },
    QueryCase {
        name: "part",
        title: "The seed's query: the first parts, as `codelake demo` prints them",
        group: "seed",
        sql: include_str!("../../../catalog-core/env/src/queries/part.sql"),
        engines: FILE_ENGINES,
    },
    QueryCase {
        name: "federated",
        title: "The federated join: Parquet on S3, CSV, an HTTP API and a Rust function",
        group: "seed",
        sql: include_str!("../../../catalog-core/env/src/queries/federated.sql"),
        engines: CATALOG_ENGINES,
    },
    QueryCase {
        name: "delta",
        title: "A Delta Lake table: orders by year, three partitions of seven read",
        group: "seed",
        sql: include_str!("../../bench/queries/delta.sql"),
        engines: CATALOG_ENGINES,
    },
];

/// A TPC-H query answered once by every file engine and cross-checked, not
/// timed: with the five timed ones, all 22.
struct CheckedCase {
    name: &'static str,
    title: &'static str,
    sql: &'static str,
}

/// The engines allowed to refuse a cross-checked query: Polars' SQL has no
/// correlated subqueries and no `EXISTS`. Every other engine answers all 22.
const MAY_REFUSE: &[EngineKind] = &[EngineKind::Polars];

/// The TPC-H queries that are cross-checked but not timed.
const CHECKED_CASES: &[CheckedCase] = &[
    CheckedCase {
        name: "q02",
        title: "TPC-H Q2: minimum cost supplier",
        sql: include_str!("../../bench/queries/q02.sql"),
    },
    CheckedCase {
        name: "q04",
        title: "TPC-H Q4: order priority checking",
        sql: include_str!("../../bench/queries/q04.sql"),
    },
    CheckedCase {
        name: "q07",
        title: "TPC-H Q7: volume shipping",
        sql: include_str!("../../bench/queries/q07.sql"),
    },
    CheckedCase {
        name: "q08",
        title: "TPC-H Q8: national market share",
        sql: include_str!("../../bench/queries/q08.sql"),
    },
    CheckedCase {
        name: "q09",
        title: "TPC-H Q9: product type profit measure",
        sql: include_str!("../../bench/queries/q09.sql"),
    },
    CheckedCase {
        name: "q11",
        title: "TPC-H Q11: important stock identification",
        sql: include_str!("../../bench/queries/q11.sql"),
    },
    CheckedCase {
        name: "q12",
        title: "TPC-H Q12: shipping modes and order priority",
        sql: include_str!("../../bench/queries/q12.sql"),
    },
    CheckedCase {
        name: "q13",
        title: "TPC-H Q13: customer distribution",
        sql: include_str!("../../bench/queries/q13.sql"),
    },
    CheckedCase {
        name: "q14",
        title: "TPC-H Q14: promotion effect",
        sql: include_str!("../../bench/queries/q14.sql"),
    },
    CheckedCase {
        name: "q15",
        title: "TPC-H Q15: top supplier",
        sql: include_str!("../../bench/queries/q15.sql"),
    },
    CheckedCase {
        name: "q16",
        title: "TPC-H Q16: parts/supplier relationship",
        sql: include_str!("../../bench/queries/q16.sql"),
    },
    CheckedCase {
        name: "q17",
        title: "TPC-H Q17: small-quantity-order revenue",
        sql: include_str!("../../bench/queries/q17.sql"),
    },
    CheckedCase {
        name: "q18",
        title: "TPC-H Q18: large volume customer",
        sql: include_str!("../../bench/queries/q18.sql"),
    },
    CheckedCase {
        name: "q19",
        title: "TPC-H Q19: discounted revenue",
        sql: include_str!("../../bench/queries/q19.sql"),
    },
    CheckedCase {
        name: "q20",
        title: "TPC-H Q20: potential part promotion",
        sql: include_str!("../../bench/queries/q20.sql"),
    },
    CheckedCase {
        name: "q21",
        title: "TPC-H Q21: suppliers who kept orders waiting",
        sql: include_str!("../../bench/queries/q21.sql"),
    },
    CheckedCase {
        name: "q22",
        title: "TPC-H Q22: global sales opportunity",
        sql: include_str!("../../bench/queries/q22.sql"),
    },
];

/// The query cases on every engine: warm-up and cross-check, then timed runs.
pub(super) fn engine_cases(
    plan: &Plan,
    codelake: &Path,
    python: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let project = tpch_project(plan, codelake)?;
    let data_dir = project.join(".codelake/local");
    let _local = LocalUp::start(codelake, &project)?;
    let tables_json = tables_json(&data_dir)?;
    let setup = Setup {
        codelake,
        project: &project,
        data_dir: &data_dir,
        python,
        tables_json: &tables_json,
    };
    let mut engines = Vec::new();
    for kind in EngineKind::ALL {
        let engine = Engine::start(kind, &setup)?;
        report
            .versions
            .push((kind.name().to_owned(), engine.version.clone()));
        engines.push(engine);
    }
    report.versions.sort();
    report.versions.dedup();

    for case in QUERY_CASES {
        let mut runs: Vec<Vec<f64>> = vec![Vec::new(); case.engines.len()];
        let picked: Vec<usize> = case
            .engines
            .iter()
            .map(|kind| {
                engines
                    .iter()
                    .position(|engine| engine.kind == *kind)
                    .expect("every engine started")
            })
            .collect();
        // Warm-up, and the answers cross-checked against the first engine's:
        // DataFusion on disk where it runs (the plain engine every path varies).
        let mut order = picked.clone();
        order.sort_by_key(|&index| engines[index].kind != EngineKind::DataFusion);
        let mut reference = None;
        let mut mismatches = Vec::new();
        for index in order {
            let engine = &mut engines[index];
            let answer = engine
                .query(case.sql)
                .with_context(|| format!("case {} ({})", case.name, case.title))?;
            match &reference {
                None => reference = Some((engine.kind, answer)),
                Some((reference_kind, expected)) => {
                    if let Err(difference) = engines::cross_check(expected, &answer) {
                        mismatches.push(format!(
                            "{} disagrees with {}: {difference}",
                            engine.kind.name(),
                            reference_kind.name()
                        ));
                    }
                }
            }
        }
        if !mismatches.is_empty() {
            bail!(
                "case {}: the engines' answers differ (the bench measures nothing until they agree):\n  {}",
                case.name,
                mismatches.join("\n  ")
            );
        }
        let rows = reference.map_or(0, |(_, answer)| answer.rows.len());
        // Timed runs, alternating engines, the order rotated each run.
        for run in 0..plan.runs {
            for turn in 0..picked.len() {
                let slot = (turn + run) % picked.len();
                let answer = engines[picked[slot]].query(case.sql)?;
                runs[slot].push(answer.ms);
            }
        }
        let results: Vec<EngineResult> = case
            .engines
            .iter()
            .zip(runs)
            .map(|(kind, runs)| EngineResult::new(kind.name(), runs))
            .collect();
        let line = results
            .iter()
            .map(|result| format!("{} {:.1} ms", result.engine, result.median_ms))
            .collect::<Vec<_>>()
            .join(", ");
        say(format!(
            "{}: {line} (medians; {rows} rows, answers agree)",
            case.name
        ));
        report.cases.push(Case {
            name: case.name.to_owned(),
            title: case.title.to_owned(),
            group: case.group.to_owned(),
            rows,
            results,
        });
    }
    for case in CHECKED_CASES {
        report.checked.push(cross_check_only(case, &mut engines)?);
    }
    for engine in &engines {
        if let Some(peak) = engine.peak_rss_mib() {
            report.measures.push(Measure::new(
                &format!("peak_rss_{}", engine.kind.name().replace('-', "_")),
                &format!(
                    "Peak RSS of the {} engine's process over every case",
                    engine.kind.name()
                ),
                peak,
                "MiB",
            ));
        }
    }
    Ok(())
}

/// One untimed query on every file engine: the answers agree, or the case
/// fails the bench; an engine of [`MAY_REFUSE`] that errs is recorded as unable.
fn cross_check_only(case: &CheckedCase, engines: &mut [Engine]) -> anyhow::Result<Checked> {
    let mut order: Vec<usize> = (0..engines.len())
        .filter(|&index| FILE_ENGINES.contains(&engines[index].kind))
        .collect();
    order.sort_by_key(|&index| engines[index].kind != EngineKind::DataFusion);
    let mut reference: Option<(EngineKind, engines::Answer)> = None;
    let mut agreed = Vec::new();
    let mut refused = Vec::new();
    let mut mismatches = Vec::new();
    for index in order {
        let engine = &mut engines[index];
        let answer = match engine.query(case.sql) {
            Ok(answer) => answer,
            Err(error) if MAY_REFUSE.contains(&engine.kind) => {
                let first = format!("{error:#}");
                let first = first.lines().next().unwrap_or_default().to_owned();
                refused.push((engine.kind.name().to_owned(), first));
                continue;
            }
            Err(error) => {
                return Err(error.context(format!("case {} ({})", case.name, case.title)));
            }
        };
        match &reference {
            None => {
                agreed.push(engine.kind.name().to_owned());
                reference = Some((engine.kind, answer));
            }
            Some((reference_kind, expected)) => match engines::cross_check(expected, &answer) {
                Ok(()) => agreed.push(engine.kind.name().to_owned()),
                Err(difference) => mismatches.push(format!(
                    "{} disagrees with {}: {difference}",
                    engine.kind.name(),
                    reference_kind.name()
                )),
            },
        }
    }
    if !mismatches.is_empty() {
        bail!(
            "case {}: the engines' answers differ:\n  {}",
            case.name,
            mismatches.join("\n  ")
        );
    }
    let rows = reference.map_or(0, |(_, answer)| answer.rows.len());
    say(format!(
        "{}: {rows} rows, answers agree ({}){}",
        case.name,
        agreed.join(", "),
        if refused.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = refused.iter().map(|(name, _)| name.as_str()).collect();
            format!("; cannot run it: {}", names.join(", "))
        }
    ));
    Ok(Checked {
        name: case.name.to_owned(),
        title: case.title.to_owned(),
        rows,
        agreed,
        refused,
    })
}

/// The query of the cold-start case: small, through a plugin (CSV). It reads
/// one table, so `codelake sql` registers that table and opens its plugin only.
const COLD_QUERY: &str = "SELECT count(*) FROM tpch.region";

/// The same answer from a query that also reads `information_schema`, which
/// lists every table: `codelake sql` registers them all and opens every
/// plugin, as it did before plugins were opened on demand.
const COLD_QUERY_EVERY_PLUGIN: &str = "SELECT count(*) FROM tpch.region \
     WHERE (SELECT count(*) FROM information_schema.schemata) > 0";

/// `codelake sql`: a cold process to its first result, and an idle shell's memory.
pub(super) fn cold_start(
    plan: &Plan,
    codelake: &Path,
    work: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let project = seeded_project(codelake, &work.join("cli"))?;
    // One cold process: spawn to the first line of the result, and to its exit.
    let cold = |query: &str| -> anyhow::Result<(f64, f64)> {
        let start = Instant::now();
        let mut child = codelake_in(codelake, &project)
            .args(["sql", "--format", "csv", query])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let header = lines.next().transpose()?;
        let value = lines.next().transpose()?;
        let first_result = start.elapsed();
        let status = child.wait()?;
        let exited = start.elapsed();
        anyhow::ensure!(
            status.success() && header.is_some() && value.as_deref() == Some("5"),
            "`codelake sql \"{query}\"` did not answer 5 ({header:?}, {value:?})"
        );
        Ok((millis(first_result), millis(exited)))
    };
    // The two queries take turns, after a warm-up run of each, so that both
    // see the same machine.
    let mut first = Vec::new();
    let mut whole = Vec::new();
    let mut every = Vec::new();
    for run in 0..=plan.runs {
        let (first_result, exited) = cold(COLD_QUERY)?;
        let (every_plugin, _) = cold(COLD_QUERY_EVERY_PLUGIN)?;
        if run > 0 {
            first.push(first_result);
            whole.push(exited);
            every.push(every_plugin);
        }
    }
    report.measures.push(Measure::from_runs(
        "cold_start_first_result",
        &format!(
            "`codelake sql` cold start to its first result (`{COLD_QUERY}`: its table registered and its plugin opened on demand, local servers started in-process)"
        ),
        first,
        "ms",
    ));
    report.measures.push(Measure::from_runs(
        "cold_start_every_plugin",
        "the same cold start with every table registered and every plugin opened (the query also reads `information_schema`)",
        every,
        "ms",
    ));
    report.measures.push(Measure::from_runs(
        "cold_start_exit",
        "`codelake sql` cold start to process exit (servers stopped)",
        whole,
        "ms",
    ));

    // Idle: a shell waiting for input, every plugin loaded, the local servers up.
    let mut shell = codelake_in(codelake, &project)
        .arg("sql")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut banner = String::new();
    BufReader::new(shell.stderr.take().expect("piped")).read_line(&mut banner)?;
    std::thread::sleep(Duration::from_millis(500));
    let idle = proc_status_mib(shell.id(), "VmRSS:");
    drop(shell.stdin.take()); // end of input: the shell exits
    shell.wait()?;
    if let Some(idle) = idle {
        report.measures.push(Measure::new(
            "idle_rss",
            "RSS of an idle `codelake sql` shell (every plugin loaded, local servers up)",
            idle,
            "MiB",
        ));
    }
    say("cold start and idle memory: measured");
    Ok(())
}

pub(super) fn gen_catalog_case(
    plan: &Plan,
    work: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let dir = work.join("gen-catalog");
    write_synthetic_catalog(&dir, plan.tables, 8)?;
    let layout = Layout::new();
    gen_catalog::generate(&dir, &layout, gen_catalog::Lineage::Committed)?; // warm-up: page cache, rustfmt binary
    let mut times = Vec::with_capacity(plan.runs);
    for _ in 0..plan.runs {
        let start = Instant::now();
        let outputs = gen_catalog::generate(&dir, &layout, gen_catalog::Lineage::Committed)?;
        times.push(millis(start.elapsed()));
        anyhow::ensure!(
            outputs.iter().any(|output| output.path == layout.registry),
            "no registry generated"
        );
    }
    report.measures.push(Measure::from_runs(
        "gen_catalog",
        &format!(
            "`gen-catalog` of {} tables × 8 columns (xtask's debug build, as `cargo xtask gen-catalog` runs)",
            plan.tables
        ),
        times,
        "ms",
    ));
    say("gen-catalog: measured");
    Ok(())
}

/// `codelake verify` of many Parquet tables on the local environment's S3, a
/// cold process each time (servers started, plugins loaded, every check run).
pub(super) fn verify_case(
    plan: &Plan,
    codelake: &Path,
    work: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    use catalog_core::{Manifest, SourceOption, TableSpec};

    let project = seeded_project(codelake, &work.join("verify"))?;
    let count = plan.verify_tables;
    // The seeded part table, as one object for each table.
    let bucket = project.join(".codelake/local/s3/codelake");
    fs::create_dir_all(bucket.join("bench"))?;
    let catalog = fs::read_to_string(crate::project_root().join("tables/catalog.json"))?;
    let manifest = Manifest::from_json(&catalog)?;
    let part = manifest
        .tables
        .iter()
        .find(|spec| spec.qualified_name() == "tpch.part")
        .context("tables/catalog.json has no tpch.part")?;
    let mut tables = Vec::new();
    for table in 0..count {
        fs::copy(
            bucket.join("tpch/part.parquet"),
            bucket.join(format!("bench/t{table}.parquet")),
        )?;
        let mut options: Vec<SourceOption> = part.options.to_vec();
        for option in &mut options {
            if option.key == "location" {
                option.value = format!("s3://codelake/bench/t{table}.parquet").into();
            }
        }
        tables.push(TableSpec {
            database: "bench".into(),
            name: format!("t{table}").into(),
            options: options.into(),
            ..part.clone()
        });
    }
    let manifest_path = project.join("bench-catalog.json");
    fs::write(
        &manifest_path,
        Manifest::new(tables, "cargo xtask bench").to_json(),
    )?;

    let mut times = Vec::new();
    for run in 0..=plan.runs {
        let start = Instant::now();
        let output = codelake_in(codelake, &project)
            .args(["verify", "--format", "json", "--catalog"])
            .arg(&manifest_path)
            .output()?;
        let elapsed = start.elapsed();
        let verified = String::from_utf8_lossy(&output.stdout);
        anyhow::ensure!(
            output.status.success() && verified.contains(&format!("\"passed\": {count}")),
            "verify of the benchmark catalog did not pass: {}{verified}",
            String::from_utf8_lossy(&output.stderr)
        );
        if run > 0 {
            times.push(millis(elapsed));
        }
    }
    report.measures.push(Measure::from_runs(
        "verify",
        &format!(
            "`codelake verify` of {count} Parquet tables on the local S3 (a cold process: servers started, plugins loaded, 9 checks a table)"
        ),
        times,
        "ms",
    ));
    say("verify: measured");
    Ok(())
}
