//! The bench's harness: building codelake, the Python environment, the
//! seeded projects and their local environments, the synthetic catalog, and
//! small helpers shared by the cases and engines.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::Plan;

/// The directory of the bench's queries, Python engine and requirements.
pub(super) fn resources() -> PathBuf {
    crate::project_root().join("xtask/bench")
}

pub(super) fn say(line: impl AsRef<str>) {
    eprintln!("{}", line.as_ref());
}

/// Builds `codelake`, the plugins and the bench engine; the path of `codelake`.
pub(super) fn build(plan: &Plan) -> anyhow::Result<PathBuf> {
    say(format!(
        "Building codelake, its plugins and codelake-bench-engine ({})...",
        plan.profile()
    ));
    if plan.release {
        return crate::run::build_packages(&["codelake-bench-engine"], false, true);
    }
    // The debug build of the test suite, exactly: nothing is rebuilt after `cargo xtask test`'s build.
    crate::run::build_like_tests(true)
}

/// The virtual environment's Python, with the pinned DuckDB, Polars and ROAPI
/// installed (once; again when `requirements.txt` changes).
pub(super) fn python_env() -> anyhow::Result<PathBuf> {
    crate::venv::ensure(
        &crate::project_root().join(".codelake/bench/venv"),
        &resources().join("requirements.txt"),
        "DuckDB, Polars and ROAPI",
    )
}

/// A command's standard output, trimmed; an error if it fails.
pub(super) fn capture(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The local environment of the bench project, running in the background
/// until dropped.
pub(super) struct LocalUp<'a> {
    codelake: &'a Path,
    project: &'a Path,
}

impl<'a> LocalUp<'a> {
    pub(super) fn start(codelake: &'a Path, project: &'a Path) -> anyhow::Result<Self> {
        capture(codelake_in(codelake, project).args(["local", "up"]))?;
        Ok(Self { codelake, project })
    }
}

impl Drop for LocalUp<'_> {
    fn drop(&mut self) {
        let _ = codelake_in(self.codelake, self.project)
            .args(["local", "down"])
            .output();
    }
}

/// Makes `dir` a project of its own: its `codelake.toml` (the built-in local
/// profile) stops codelake from finding the checkout's, so the data stays in
/// `dir/.codelake/local`.
pub(super) fn new_project(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    fs::write(
        dir.join("codelake.toml"),
        "# A project of `cargo xtask bench`.\ndefault_profile = \"local\"\n\n\
         [profiles.local]\nembedded = true\ndata_dir = \".codelake/local\"\n",
    )?;
    Ok(())
}

pub(super) fn codelake_in(codelake: &Path, project: &Path) -> Command {
    let mut command = Command::new(codelake);
    command.current_dir(project).env_remove("CODELAKE_ENV");
    command
}

/// The TPC-H project at `plan.scale`: seeded once, kept for later runs.
pub(super) fn tpch_project(plan: &Plan, codelake: &Path) -> anyhow::Result<PathBuf> {
    let project = crate::project_root()
        .join(".codelake/bench")
        .join(format!("tpch-sf{}", plan.scale));
    new_project(&project)?;
    say(format!(
        "Seeding TPC-H at scale {} in {} (kept for later runs)...",
        plan.scale,
        project.display()
    ));
    let seeded = codelake_in(codelake, &project)
        .args(["data", "seed", "--scale", &plan.scale.to_string()])
        .output()?;
    if !seeded.status.success() {
        bail!(
            "seeding TPC-H failed: {}",
            String::from_utf8_lossy(&seeded.stderr)
        );
    }
    Ok(project)
}

/// The catalog's file tables as the Python engines read them: name, format, path.
pub(super) fn tables_json(data_dir: &Path) -> anyhow::Result<String> {
    Ok(serde_json::Value::Object(file_tables(data_dir)?).to_string())
}

/// The catalog's file tables in `data_dir`, by qualified name: `format`
/// (`parquet` or `csv`), `path` (a file, or a directory of Parquet files) and,
/// for CSV, `delimiter`.
pub(super) fn file_tables(
    data_dir: &Path,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    use catalog_core::Manifest;
    use catalog_core::source::{S3ParquetOptions, SourceOptions};
    let catalog = fs::read_to_string(crate::project_root().join("tables/catalog.json"))?;
    let manifest = Manifest::from_json(&catalog)?;
    let mut tables = serde_json::Map::new();
    for spec in manifest.tables.iter().filter(|spec| !spec.is_view()) {
        let table = match spec.source_options()? {
            SourceOptions::S3Parquet(S3ParquetOptions { location, .. }) => {
                let key = location
                    .strip_prefix("s3://")
                    .with_context(|| format!("{}: not s3://", spec.qualified_name()))?;
                let path = data_dir.join("s3").join(key.trim_end_matches('/'));
                serde_json::json!({"format": "parquet", "path": path})
            }
            SourceOptions::Csv(csv) => serde_json::json!({
                "format": "csv",
                "path": data_dir.join(&csv.location),
                "delimiter": char::from(csv.delimiter).to_string(),
            }),
            _ => continue,
        };
        tables.insert(spec.qualified_name(), table);
    }
    Ok(tables)
}

/// A `/proc/PID/status` field in MiB (Linux only).
pub(super) fn proc_status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|line| line.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// A new project directory whose local environment is seeded at the default scale.
pub(super) fn seeded_project(codelake: &Path, project: &Path) -> anyhow::Result<PathBuf> {
    new_project(project)?;
    let seeded = codelake_in(codelake, project)
        .args(["data", "seed"])
        .output()?;
    anyhow::ensure!(
        seeded.status.success(),
        "seeding failed: {}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    Ok(project.to_owned())
}

pub(super) fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
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
