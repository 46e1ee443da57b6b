//! `cargo xtask gen-catalog [--check]`: the catalog's generated files, from `tables/src`.
//!
//! It reads the `#[derive(Table)]` structs with syn, through the derive's own
//! parse-and-check functions, and writes the files below. Only the views'
//! lineage needs more than syntax: it is planned by `codelake views`, which
//! gen-catalog builds and runs when the catalog has views (`lineage.rs`).
//! It writes:
//! - `tables/src/catalog.rs`: the typed registry (`tables::catalog().tpch().part()`);
//! - `tables/catalog.json`: every spec, and every view's lineage, for tools
//!   that do not compile the catalog (the lineage comes from planning each
//!   view, which `codelake views` does: see `lineage.rs`);
//! - `docs/reference/catalog/`: one page per database, and an index;
//! - `docs/reference/source-options.md`: every source kind's options.
//!
//! It also checks the fixtures (`tables/fixtures/<database>/<table>.csv`)
//! against the declarations, and writes nothing when one is wrong.
//!
//! `--check` writes nothing and fails when any of them is stale.

mod fixtures;
mod lineage;
mod render;
mod scan;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub use scan::scan;

/// The command users run; named in every generated file and every staleness error.
pub const COMMAND: &str = "cargo xtask gen-catalog";

/// Arguments of `cargo xtask gen-catalog`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write nothing; fail if any generated file differs from what would be written.
    #[arg(long)]
    pub check: bool,
}

/// Where the catalog crate and its generated files live, relative to the root.
pub struct Layout {
    /// The catalog crate's `src/`.
    pub tables_src: PathBuf,
    /// The generated registry module.
    pub registry: PathBuf,
    /// The generated manifest.
    pub manifest: PathBuf,
    /// The directory of generated per-database pages.
    pub catalog_docs: PathBuf,
    /// The generated source-options reference.
    pub source_options: PathBuf,
    /// The tables' sample data, checked but not generated.
    pub fixtures: PathBuf,
}

impl Layout {
    /// The layout of this repository.
    pub fn new() -> Self {
        Self {
            tables_src: "tables/src".into(),
            registry: "tables/src/catalog.rs".into(),
            manifest: "tables/catalog.json".into(),
            catalog_docs: "docs/reference/catalog".into(),
            source_options: "docs/reference/source-options.md".into(),
            fixtures: "tables/fixtures".into(),
        }
    }
}

/// One generated file: where it goes and what it holds.
#[derive(Debug)]
pub struct Output {
    /// Path relative to the project root.
    pub path: PathBuf,
    /// Full contents.
    pub contents: String,
}

/// Where the views' lineage comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lineage {
    /// Planned now by `codelake views`, which is built first.
    Plan,
    /// Kept from the committed `catalog.json`: for checks that run beside
    /// other tests, where building `codelake` would relink binaries in use.
    /// `tests/e2e/views.rs` checks the committed lineage against a fresh plan.
    Committed,
}

/// Runs the subcommand.
pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    run_with(root, args, Lineage::Plan)
}

/// Runs the subcommand, with the lineage from `lineage`.
pub fn run_with(root: &Path, args: &Args, lineage: Lineage) -> anyhow::Result<()> {
    let layout = Layout::new();
    // Everything but the lineage comes from syntax alone. Planning the views
    // builds `codelake`, which compiles the registry: a registry naming a
    // struct since renamed or removed would stop that build, so it is brought
    // up to date first (or, with `--check`, reported without planning).
    let from_syntax = generate(root, &layout, Lineage::Committed)?;
    let registry = from_syntax
        .iter()
        .find(|output| output.path == layout.registry);
    let registry_stale = registry.is_some_and(|output| {
        fs::read_to_string(root.join(&output.path)).ok().as_deref()
            != Some(output.contents.as_str())
    });
    if lineage == Lineage::Committed || (args.check && registry_stale) {
        return if args.check {
            check(root, &layout, &from_syntax)
        } else {
            write(root, &layout, &from_syntax)
        };
    }
    if registry_stale && let Some(registry) = registry {
        let path = root.join(&registry.path);
        fs::write(&path, &registry.contents)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", registry.path.display());
    }
    let outputs = generate(root, &layout, lineage)?;
    if args.check {
        check(root, &layout, &outputs)
    } else {
        write(root, &layout, &outputs)
    }
}

/// Every generated file, computed from `tables/src`; writes nothing.
pub fn generate(root: &Path, layout: &Layout, from: Lineage) -> anyhow::Result<Vec<Output>> {
    let tables = scan(root, layout)?;
    fixtures::check(root, layout, &tables)?;
    let lineage = match from {
        Lineage::Plan => lineage::compute(root, &tables.tables)?,
        Lineage::Committed => lineage::committed(root, layout),
    };
    render::all(root, layout, &tables, &lineage)
}

fn write(root: &Path, layout: &Layout, outputs: &[Output]) -> anyhow::Result<()> {
    let mut changed = 0;
    for output in outputs {
        let path = root.join(&output.path);
        if fs::read_to_string(&path).ok().as_deref() == Some(output.contents.as_str()) {
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&path, &output.contents)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", output.path.display());
        changed += 1;
    }
    for orphan in orphans(root, layout, outputs)? {
        fs::remove_file(root.join(&orphan))
            .with_context(|| format!("removing {}", orphan.display()))?;
        println!(
            "removed {} (its database no longer exists)",
            orphan.display()
        );
        changed += 1;
    }
    if changed == 0 {
        println!("generated files are up to date");
    }
    Ok(())
}

/// Fails with a summary of every stale file and the command that fixes them.
pub fn check(root: &Path, layout: &Layout, outputs: &[Output]) -> anyhow::Result<()> {
    let mut report = String::new();
    for output in outputs {
        let current = fs::read_to_string(root.join(&output.path)).ok();
        match current {
            None => writeln!(report, "  {}: missing", output.path.display())?,
            Some(current) if current != output.contents => {
                writeln!(
                    report,
                    "  {}: {}",
                    output.path.display(),
                    diff_summary(&current, &output.contents)
                )?;
            }
            Some(_) => {}
        }
    }
    for orphan in orphans(root, layout, outputs)? {
        writeln!(
            report,
            "  {}: its database no longer exists",
            orphan.display()
        )?;
    }
    if !report.is_empty() {
        bail!("generated catalog files are stale:\n{report}run `{COMMAND}` and commit the result");
    }
    println!("generated files are up to date");
    Ok(())
}

/// Generated pages whose database is gone.
fn orphans(root: &Path, layout: &Layout, outputs: &[Output]) -> anyhow::Result<Vec<PathBuf>> {
    let dir = root.join(&layout.catalog_docs);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut orphans = Vec::new();
    for entry in entries {
        let path = layout.catalog_docs.join(entry?.file_name());
        let is_page = path.extension().is_some_and(|extension| extension == "md");
        if is_page && !outputs.iter().any(|output| output.path == path) {
            orphans.push(path);
        }
    }
    orphans.sort();
    Ok(orphans)
}

/// `+3 -1 lines, first difference at line 12: …`.
fn diff_summary(current: &str, wanted: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (current.lines().collect(), wanted.lines().collect());
    let removed = old.iter().filter(|line| !new.contains(line)).count();
    let added = new.iter().filter(|line| !old.contains(line)).count();
    let first = old
        .iter()
        .zip(&new)
        .position(|(a, b)| a != b)
        .unwrap_or(old.len().min(new.len()));
    let shown = new
        .get(first)
        .or(old.get(first))
        .map_or("", |line| line.trim());
    let shown: String = shown.chars().take(80).collect();
    format!(
        "+{added} -{removed} lines, first difference at line {}: `{shown}`",
        first + 1
    )
}

#[cfg(test)]
mod tests;
