//! Every view's lineage, which only planning can compute.
//!
//! gen-catalog reads declarations with syn and links no DataFusion (linking
//! it would resolve its features apart from the workspace's and build it a
//! second time). Planning runs in the `codelake` binary, which links it
//! already: `codelake views --catalog - --format json` checks the views of the
//! manifest gen-catalog is about to write, and prints their lineage, or fails
//! naming each view, its SQL file and the column at fault.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use catalog_core::Manifest;
use catalog_core::lineage::ViewLineage;

use super::scan::Found;

/// The lineage of every view in `tables`, or nothing (and no build) when
/// there is no view.
pub fn compute(root: &Path, tables: &[Found]) -> anyhow::Result<Vec<ViewLineage>> {
    if !tables.iter().any(|found| found.spec.is_view()) {
        return Ok(Vec::new());
    }
    let specs = tables.iter().map(|found| found.spec.clone()).collect();
    let manifest = Manifest::new(specs, "gen-catalog, before lineage").to_json();
    eprintln!("Checking the catalog's views with `codelake views` (builds the workspace first)...");
    // As `cargo xtask test` builds it: a build of `codelake` alone would resolve
    // features apart from the test build's and compile DataFusion twice.
    let binary = crate::run::build_like_tests(false)?;
    let mut child = Command::new(&binary)
        .args(["views", "--catalog", "-", "--format", "json"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", binary.display()))?;
    child
        .stdin
        .take()
        .context("codelake's standard input")?
        .write_all(manifest.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "the catalog's views do not check; fix them, then run `{}` again:\n{}",
            super::COMMAND,
            String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .trim_start_matches("error: ")
        );
    }
    serde_json::from_slice(&output.stdout).context("reading the lineage `codelake views` printed")
}

/// The lineage in the committed `catalog.json`; none if it is missing or unreadable
/// (the staleness check then reports the file).
pub fn committed(root: &Path, layout: &super::Layout) -> Vec<ViewLineage> {
    std::fs::read_to_string(root.join(&layout.manifest))
        .ok()
        .and_then(|text| Manifest::from_json(&text).ok())
        .map(|manifest| manifest.lineage)
        .unwrap_or_default()
}
