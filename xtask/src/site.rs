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
    /// Where to write the site; its `tables/` folder is replaced.
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
    // Pages of tables since removed must not linger in a published site.
    let tables = out.join("tables");
    if tables.is_dir() {
        std::fs::remove_dir_all(&tables)
            .with_context(|| format!("removing the old pages in {}", tables.display()))?;
    }
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
