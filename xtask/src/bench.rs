//! `cargo xtask bench`: measurements, reported as medians of several runs.
//!
//! Today it measures `gen-catalog` on a synthetic catalog of many tables, and
//! the `codelake` binary: a cold process to the first result of a small query
//! with every plugin loaded, and the resident memory of an idle shell. The
//! engine benchmarks against other tools come with issue 7.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::gen_catalog::{self, Layout};

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tables in the synthetic catalog for the gen-catalog benchmark.
    #[arg(long, default_value_t = 1000)]
    pub tables: usize,
    /// Timed runs after one warm-up.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Measure a debug build of `codelake` instead of a release build (quicker to build, slower to run).
    #[arg(long)]
    pub debug: bool,
}

/// Runs the benchmarks and prints their medians.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("codelake-bench-{}", std::process::id()));
    let result = gen_catalog_bench(&dir, args)
        .and_then(|()| cli_bench(&dir, args))
        .and_then(|()| verify_bench(&dir, args));
    let _ = fs::remove_dir_all(&dir);
    result
}

fn gen_catalog_bench(dir: &Path, args: &Args) -> anyhow::Result<()> {
    write_synthetic_catalog(dir, args.tables, 8)?;
    let layout = Layout::new();
    gen_catalog::generate(dir, &layout)?; // warm-up: page cache, rustfmt binary
    let mut times = Vec::with_capacity(args.runs);
    for _ in 0..args.runs.max(1) {
        let start = Instant::now();
        let outputs = gen_catalog::generate(dir, &layout)?;
        times.push(start.elapsed());
        anyhow::ensure!(
            outputs.iter().any(|output| output.path == layout.registry),
            "no registry generated"
        );
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "gen-catalog, {} tables x 8 columns: median {} over {} runs (min {}, max {})",
        args.tables,
        millis(median),
        times.len(),
        millis(times[0]),
        millis(times[times.len() - 1])
    );
    Ok(())
}

/// The query of the cold-start benchmark: small, through a plugin (CSV).
const COLD_QUERY: &str = "SELECT count(*) FROM tpch.region";

/// `codelake sql`: a cold process to its first result, and an idle shell's memory.
fn cli_bench(dir: &Path, args: &Args) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let (_, codelake) = seeded_project(&dir.join("cli"), args)?;

    // Cold start: spawn to the first line of the result (after a warm-up run).
    let mut first = Vec::new();
    let mut whole = Vec::new();
    for run in 0..=args.runs.max(1) {
        let start = Instant::now();
        let mut child = codelake()
            .args(["sql", "--format", "csv", COLD_QUERY])
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
            "`codelake sql \"{COLD_QUERY}\"` did not answer 5 ({header:?}, {value:?})"
        );
        if run > 0 {
            first.push(first_result);
            whole.push(exited);
        }
    }

    // Idle: a shell waiting for input, every plugin loaded, the local servers up.
    let mut shell = codelake()
        .arg("sql")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut banner = String::new();
    BufReader::new(shell.stderr.take().expect("piped")).read_line(&mut banner)?;
    std::thread::sleep(Duration::from_millis(500));
    let status = fs::read_to_string(format!("/proc/{}/status", shell.id())).unwrap_or_default();
    let kib = |name: &str| -> Option<f64> {
        let value: f64 = status
            .lines()
            .find(|line| line.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(value / 1024.0)
    };
    let (idle, peak) = (kib("VmRSS:"), kib("VmHWM:"));
    drop(shell.stdin.take()); // end of input: the shell exits
    shell.wait()?;

    let profile = if args.debug { "debug" } else { "release" };
    first.sort();
    whole.sort();
    println!(
        "codelake sql cold start ({profile} build; `{COLD_QUERY}`, 4 plugins loaded, local servers started): \
         first result median {} (min {}, max {}), process exit median {}, over {} runs",
        millis(first[first.len() / 2]),
        millis(first[0]),
        millis(first[first.len() - 1]),
        millis(whole[whole.len() / 2]),
        first.len()
    );
    match (idle, peak) {
        (Some(idle), Some(peak)) => println!(
            "codelake sql idle shell ({profile} build): RSS {idle:.1} MiB (peak so far {peak:.1} MiB)"
        ),
        _ => println!("codelake sql idle shell: RSS not measured (no /proc here)"),
    }
    Ok(())
}

/// A project directory whose local environment is seeded, and how to run
/// `codelake` in it (a release build unless `--debug`).
fn seeded_project(
    project: &Path,
    args: &Args,
) -> anyhow::Result<(PathBuf, impl Fn() -> std::process::Command + use<>)> {
    let binary = crate::run::build(true, !args.debug)?;
    fs::create_dir_all(project)?;
    let dir = project.to_owned();
    let codelake = move || {
        let mut command = std::process::Command::new(&binary);
        command.current_dir(&dir).env_remove("CODELAKE_ENV");
        command
    };
    let seeded = codelake().args(["data", "seed"]).output()?;
    anyhow::ensure!(
        seeded.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    Ok((project.to_owned(), codelake))
}

/// Tables in the `verify` benchmark.
const VERIFY_TABLES: usize = 100;

/// `codelake verify` of 100 Parquet tables on the local environment's S3, a
/// cold process each time (servers started, plugins loaded, every check run).
fn verify_bench(dir: &Path, args: &Args) -> anyhow::Result<()> {
    use catalog_core::{Manifest, SourceOption, TableSpec};

    let (project, codelake) = seeded_project(&dir.join("verify"), args)?;
    // The seeded part table, as 100 objects of 100 tables.
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
    for table in 0..VERIFY_TABLES {
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
    for run in 0..=args.runs.max(1) {
        let start = Instant::now();
        let output = codelake()
            .args(["verify", "--format", "json", "--catalog"])
            .arg(&manifest_path)
            .output()?;
        let elapsed = start.elapsed();
        let report = String::from_utf8_lossy(&output.stdout);
        anyhow::ensure!(
            output.status.success() && report.contains(&format!("\"passed\": {VERIFY_TABLES}")),
            "verify of the benchmark catalog did not pass: {}{report}",
            String::from_utf8_lossy(&output.stderr)
        );
        if run > 0 {
            times.push(elapsed);
        }
    }
    times.sort();
    let profile = if args.debug { "debug" } else { "release" };
    println!(
        "codelake verify, {VERIFY_TABLES} Parquet tables on the local S3 ({profile} build; a cold process: \
         servers started, plugins loaded, 9 checks a table): median {} (min {}, max {}) over {} runs",
        millis(times[times.len() / 2]),
        millis(times[0]),
        millis(times[times.len() - 1]),
        times.len()
    );
    Ok(())
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// A catalog crate layout under `dir` with `tables` tables over ten databases.
pub fn write_synthetic_catalog(dir: &Path, tables: usize, columns: usize) -> anyhow::Result<()> {
    let src = dir.join("tables/src");
    fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
    let databases = 10.min(tables.max(1));
    let mut lib = String::from("//! Synthetic catalog.\n");
    for db in 0..databases {
        let _ = writeln!(lib, "pub mod db{db};");
        let mut module = format!("//! Database db{db}.\nuse catalog_derive::Table;\n");
        for table in (0..tables).filter(|table| table % databases == db) {
            let _ = writeln!(
                module,
                "/// Table {table}.\n#[derive(Table)]\n#[table(database = \"db{db}\", name = \"t{table}\", source = \"s3-parquet\", \
                 location = \"s3://bench/t{table}.parquet\", owner = \"bench\", freshness = \"1h\")]\npub struct T{table} {{"
            );
            for column in 0..columns {
                let ty = [
                    "i64",
                    "String",
                    "Option<f64>",
                    "catalog_core::Decimal<15, 2>",
                ][column % 4];
                let _ = writeln!(module, "    /// Column {column}.\n    pub c{column}: {ty},");
            }
            module.push_str("}\n");
        }
        fs::write(src.join(format!("db{db}.rs")), module)?;
    }
    fs::write(src.join("lib.rs"), lib)?;
    Ok(())
}
