//! `cargo xtask site`: the catalog site, generated from `tables/catalog.json`
//! by `catalog-site`, which links no query engine, so this builds in seconds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use catalog_core::Manifest;
use catalog_site::{Site, VerifyReport};

/// `cargo xtask site`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the site; pages of tables it no longer has are removed.
    #[arg(long, value_name = "DIR", default_value = "target/site")]
    pub out: PathBuf,
    /// The catalog to publish.
    #[arg(long, value_name = "FILE", default_value = "tables/catalog.json")]
    pub catalog: PathBuf,
    /// A `codelake verify --format json` report: each table then shows whether
    /// it passed, its failing checks, and when it was checked.
    #[arg(long, value_name = "FILE")]
    pub verify_report: Option<PathBuf>,
}

/// Builds and writes the site; relative paths are from the workspace root.
pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let site = build(root, args)?;
    let out = root.join(&args.out);
    site.write(&out)?;
    let index = std::path::absolute(out.join("index.html")).unwrap_or(out.join("index.html"));
    println!(
        "wrote the catalog site ({} files, {} KiB) to {} in {} ms\nopen file://{}",
        site.len(),
        site.bytes() / 1024,
        args.out.display(),
        started.elapsed().as_millis(),
        index.display()
    );
    Ok(())
}

/// The site of `args.catalog`, with `args.verify_report`'s statuses.
pub fn build(root: &Path, args: &Args) -> anyhow::Result<Site> {
    let catalog = root.join(&args.catalog);
    let text = std::fs::read_to_string(&catalog).with_context(|| {
        format!(
            "reading the catalog {} (write it with `cargo xtask gen-catalog`)",
            catalog.display()
        )
    })?;
    let manifest =
        Manifest::from_json(&text).with_context(|| format!("the catalog {}", catalog.display()))?;
    let report = match &args.verify_report {
        Some(path) => {
            let file = root.join(path);
            let text = std::fs::read_to_string(&file).with_context(|| {
                format!(
                    "reading the verify report {} (write one with `cargo xtask verify --format json > FILE`)",
                    file.display()
                )
            })?;
            Some(VerifyReport::from_json(&path.display().to_string(), &text)?)
        }
        None => None,
    };
    Ok(Site::build(&manifest, report.as_ref())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: &Path) -> Args {
        Args {
            out: out.to_path_buf(),
            catalog: "tables/catalog.json".into(),
            verify_report: None,
        }
    }

    #[test]
    fn writes_a_page_per_table_and_removes_pages_of_dropped_tables() {
        let root = crate::project_root();
        let out = tempfile::tempdir().unwrap();
        let stale = out.path().join("tables/tpch/dropped_table.html");
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(&stale, "old").unwrap();
        let gone = out.path().join("tables/olddb/t.html");
        std::fs::create_dir_all(gone.parent().unwrap()).unwrap();
        std::fs::write(&gone, "old").unwrap();
        run(&root, &args(out.path())).unwrap();
        let manifest = Manifest::from_json(
            &std::fs::read_to_string(root.join("tables/catalog.json")).unwrap(),
        )
        .unwrap();
        for spec in &manifest.tables {
            let page = out
                .path()
                .join(catalog_site::table_page(&spec.qualified_name()));
            assert!(page.is_file(), "{}", page.display());
        }
        assert!(out.path().join("index.html").is_file());
        assert!(!stale.exists() && !gone.exists() && !gone.parent().unwrap().exists());
    }

    #[test]
    fn a_bad_verify_report_is_named_with_its_fix() {
        let root = crate::project_root();
        let dir = tempfile::tempdir().unwrap();
        let mut args = args(dir.path());
        args.verify_report = Some(dir.path().join("missing.json"));
        let error = format!("{:#}", build(&root, &args).unwrap_err());
        assert!(
            error.contains("missing.json") && error.contains("--format json"),
            "{error}"
        );
        let report = dir.path().join("report.json");
        std::fs::write(&report, r#"{"tables": []}"#).unwrap();
        args.verify_report = Some(report);
        let error = format!("{:#}", build(&root, &args).unwrap_err());
        assert!(error.contains("not a verify report"), "{error}");
    }
}
