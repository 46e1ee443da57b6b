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
    /// Where to write the site [default: target/site in the checkout]: a new or empty folder,
    /// or one an earlier site was written to, whose pages of tables since
    /// dropped are removed.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The catalog to publish [default: tables/catalog.json in the checkout].
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// A `codelake verify --format json` report: each table then shows whether
    /// it passed, its failing checks, and when it was checked.
    #[arg(long, value_name = "FILE")]
    pub verify_report: Option<PathBuf>,
}

/// Builds and writes the site. Paths given are relative to the current
/// directory, as a shell has them; the defaults are in the workspace `root`.
pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let site = build(root, args)?;
    let out = args.out.clone().unwrap_or(root.join("target/site"));
    site.write(&out)?;
    let index = std::path::absolute(out.join("index.html")).unwrap_or(out.join("index.html"));
    println!(
        "wrote the catalog site ({} files, {} KiB) to {} in {} ms\nopen file://{}",
        site.len(),
        site.bytes() / 1024,
        out.display(),
        started.elapsed().as_millis(),
        index.display()
    );
    Ok(())
}

/// The site of `args.catalog` (relative to the current directory, or
/// `root`'s catalog), with `args.verify_report`'s statuses.
pub fn build(root: &Path, args: &Args) -> anyhow::Result<Site> {
    let catalog = (args.catalog.clone()).unwrap_or(root.join("tables/catalog.json"));
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
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "reading the verify report {} (write one with `cargo xtask verify --format json > FILE`)",
                    path.display()
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
            out: Some(out.to_path_buf()),
            catalog: None,
            verify_report: None,
        }
    }

    #[test]
    fn writes_a_page_per_table_and_removes_only_pages_it_wrote_before() {
        let root = crate::project_root();
        let out = tempfile::tempdir().unwrap();
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

        // A page of a table since dropped goes; a file the site never wrote stays.
        let dropped = out.path().join("tables/olddb/t.html");
        std::fs::create_dir_all(dropped.parent().unwrap()).unwrap();
        std::fs::write(&dropped, "old").unwrap();
        let marker = out.path().join(catalog_site::MARKER);
        let list = std::fs::read_to_string(&marker).unwrap();
        std::fs::write(
            &marker,
            format!("{list}tables/olddb/t.html\n../outside.txt\n"),
        )
        .unwrap();
        let mine = out.path().join("tables/tpch/notes.txt");
        std::fs::write(&mine, "mine").unwrap();
        run(&root, &args(out.path())).unwrap();
        assert!(!dropped.exists() && !dropped.parent().unwrap().exists());
        assert!(mine.is_file());
    }

    #[test]
    fn a_folder_with_other_files_is_refused_untouched() {
        let root = crate::project_root();
        let out = tempfile::tempdir().unwrap();
        let src = out.path().join("tables/src/lib.rs");
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, "// mine").unwrap();
        let error = format!("{:#}", run(&root, &args(out.path())).unwrap_err());
        assert!(
            error.contains("holds other files and no catalog site"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&src).unwrap(), "// mine");
        assert!(!out.path().join("index.html").exists());
    }

    #[test]
    fn a_bad_verify_report_is_named_with_its_fix() {
        let root = crate::project_root();
        let dir = tempfile::tempdir().unwrap();
        let mut args = args(&dir.path().join("site"));
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
