//! `cargo xtask bench`: measurements, reported as medians of several runs.
//!
//! Today it measures `gen-catalog` on a synthetic catalog of many tables; the
//! engine benchmarks arrive with the query runtime.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
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
}

/// Runs the benchmarks and prints their medians.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("codelake-bench-{}", std::process::id()));
    let result = gen_catalog_bench(&dir, args);
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
