//! `codelake tables` and `codelake describe`: the catalog as declared in code,
//! read from the generated registry (no environment needed).

use std::io::Write;

use catalog_core::TableSpec;
use comfy_table::{ContentArrangement, Table, presets};

use crate::ListFormat;
use crate::error::CliError;
use crate::names::close_names;

/// Lists every table: name, source, owner and the first line of its doc.
pub fn tables(format: ListFormat) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    let written = match format {
        ListFormat::Json => tables::REGISTRY.tables().try_for_each(|spec| {
            let line = serde_json::json!({
                "table": spec.qualified_name(),
                "source": spec.source,
                "owner": spec.owner,
                "accelerate": spec.accelerate,
                "refresh": spec.refresh.as_ref().map(|refresh| &refresh.text),
                "doc": first_line(&spec.doc),
            });
            writeln!(out, "{line}")
        }),
        ListFormat::Table => {
            let mut table = Table::new();
            table
                .load_preset(presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_header(["table", "source", "owner", "accelerated", "description"]);
            for spec in tables::REGISTRY.tables() {
                table.add_row([
                    spec.qualified_name(),
                    spec.source.to_string(),
                    spec.owner.as_deref().unwrap_or("-").to_owned(),
                    match (spec.accelerate, &spec.refresh) {
                        (Some(kind), Some(refresh)) => format!("{kind}, every {}", refresh.text),
                        (Some(kind), None) => kind.to_string(),
                        _ => "-".to_owned(),
                    },
                    first_line(&spec.doc).to_owned(),
                ]);
            }
            writeln!(out, "{table}")
        }
    };
    ignore_broken_pipe(written)
}

/// Describes one table.
pub fn describe(name: &str) -> Result<(), CliError> {
    let spec = find(name)?;
    let mut text = String::new();
    let mut line = |s: String| {
        text.push_str(&s);
        text.push('\n');
    };
    line(format!("{}  ({})", spec.qualified_name(), spec.rust_type));
    line(String::new());
    for doc_line in spec.doc.lines() {
        line(format!("  {doc_line}"));
    }
    line(String::new());
    line(format!("source:     {}", spec.source));
    for option in spec.options.iter() {
        line(format!("  {} = {:?}", option.key, option.value.as_ref()));
    }
    if let Some(view) = &spec.view {
        line(format!("  sql file:     {}", view.file));
        if let Some(location) = &view.materialize {
            line(format!(
                "  materialized: {location} (`codelake materialize`; `--live` runs the SQL)"
            ));
        }
        line("  lineage:      `codelake views`".to_owned());
    }
    line(format!(
        "owner:      {}",
        spec.owner.as_deref().unwrap_or("none declared")
    ));
    line(format!(
        "contract:   {} (`codelake diff` checks changes to it)",
        spec.contract.summary()
    ));
    if let Some(acceleration) = spec.acceleration() {
        line(format!(
            "accelerate: {acceleration} (by `codelake serve`; one-shot commands read the source)"
        ));
    }
    let expectations = &spec.expectations;
    line(format!(
        "freshness:  {}",
        expectations
            .freshness
            .as_ref()
            .map_or("none declared", |f| f.text.as_ref())
    ));
    match (expectations.min_rows, expectations.max_rows) {
        (None, None) => {}
        (min, max) => line(format!(
            "rows:       {} to {}",
            min.map_or("any".to_owned(), |n| n.to_string()),
            max.map_or("any".to_owned(), |n| n.to_string())
        )),
    }
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120)
        .set_header([
            "column",
            "type",
            "rust type",
            "null",
            "checks",
            "description",
        ]);
    for column in spec.columns.iter() {
        let checks = column.checks();
        table.add_row([
            column.name.to_string(),
            // The Arrow type, as SQL, verify and the reference docs name it.
            column.ty.to_string(),
            column.field_type(),
            if column.nullable { "yes" } else { "no" }.to_owned(),
            checks.join(", "),
            column.doc.to_string(),
        ]);
    }
    line(String::new());
    line(table.to_string());
    ignore_broken_pipe(std::io::stdout().lock().write_all(text.as_bytes()))
}

/// The table named `name`, or an error listing close names.
pub fn find(name: &str) -> Result<&'static TableSpec, CliError> {
    if let Some(spec) = tables::REGISTRY.get(name) {
        return Ok(spec);
    }
    // `part` alone, when only one database has it.
    let by_short: Vec<_> = tables::REGISTRY
        .tables()
        .filter(|spec| spec.name.as_ref() == name)
        .collect();
    if let [spec] = by_short.as_slice() {
        return Ok(spec);
    }
    let close = close_names(name);
    let hint = if close.is_empty() {
        "`codelake tables` lists every table".to_owned()
    } else {
        format!("did you mean {}?", close.join(" or "))
    };
    Err(CliError::msg(
        crate::error::EXIT_FAILED,
        format!("no table `{name}` in the catalog"),
    )
    .hint(hint))
}

fn first_line(doc: &str) -> &str {
    doc.lines().next().unwrap_or_default()
}

pub(crate) fn ignore_broken_pipe(result: std::io::Result<()>) -> Result<(), CliError> {
    match result {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::failed(error))
        }
        _ => Ok(()),
    }
}
