//! `codelake views`: every view planned against the declared tables it
//! reads, with no data and no server; its lineage, or every problem.
//!
//! `cargo xtask gen-catalog` runs `codelake views --catalog FILE --format json`
//! on the manifest it is about to write, and puts the lineage it prints into
//! `catalog.json`.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use catalog_core::lineage::ViewLineage;
use catalog_core::{Manifest, TableSpec};
use clap::Args;

use crate::ListFormat;
use crate::error::{CliError, EXIT_CONFIG, EXIT_FAILED};

/// `codelake views`.
#[derive(Debug, Args)]
pub struct ViewsArgs {
    /// Check the views of this catalog.json instead of the compiled catalog
    /// (`-`: read it from standard input).
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// `table`: each view and where each of its columns comes from; `json`:
    /// the lineage as `catalog.json` holds it.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
}

/// Runs `codelake views`.
pub async fn run(args: ViewsArgs) -> Result<(), CliError> {
    let owned;
    let specs: Vec<&TableSpec> = match &args.catalog {
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| {
                    CliError::msg(
                        EXIT_CONFIG,
                        format!("cannot read the catalog from standard input: {error}"),
                    )
                })?;
            owned = Manifest::from_json(&text)
                .map_err(|error| {
                    CliError::msg(
                        EXIT_CONFIG,
                        format!("the catalog on standard input: {error}"),
                    )
                })?
                .tables;
            owned.iter().collect()
        }
        Some(path) => {
            owned = crate::verify::read_catalog(path)?;
            owned.iter().collect()
        }
        None => tables::REGISTRY.tables().collect(),
    };
    let lineage = catalog_runtime::views::check(&specs)
        .await
        .map_err(|problems| {
            let count = problems.len();
            let mut message = format!(
                "{count} problem{} with the catalog's views:",
                if count == 1 { "" } else { "s" }
            );
            for problem in problems {
                message.push_str(&format!("\n  {problem}"));
            }
            CliError::msg(EXIT_FAILED, message)
        })?;
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        ListFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&lineage).expect("lineage serialises")
        ),
        ListFormat::Table => write!(out, "{}", human(&lineage)),
    };
    crate::describe::ignore_broken_pipe(written)
}

/// Each view, what it reads, and each column's sources.
pub fn human(lineage: &[ViewLineage]) -> String {
    if lineage.is_empty() {
        return "The catalog declares no views.\n".into();
    }
    let mut text = String::new();
    for view in lineage {
        text.push_str(&format!(
            "{}  (reads {})\n",
            view.view,
            view.reads.join(", ")
        ));
        let width = view
            .columns
            .iter()
            .map(|column| column.column.len())
            .max()
            .unwrap_or(0);
        for column in &view.columns {
            let from = if column.from.is_empty() {
                "(no column: a constant or a row count)".to_owned()
            } else {
                column.from.join(", ")
            };
            text.push_str(&format!("  {:width$}  ← {from}\n", column.column));
        }
    }
    text.push_str(&format!(
        "{} view{} checked against the declared tables: every one plans and matches its struct.\n",
        lineage.len(),
        if lineage.len() == 1 { "" } else { "s" }
    ));
    text
}
