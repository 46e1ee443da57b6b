//! The catalog as an agent reads it: table summaries, full descriptions and
//! documentation pages, from the declared specs and their lineage (no source
//! is read).

use catalog_core::TableSpec;
use catalog_core::lineage::{self, ViewLineage};
use schemars::JsonSchema;
use serde::Serialize;

/// `list_tables`' answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableList {
    /// The tables and views that match, by name.
    pub tables: Vec<TableSummary>,
    /// How many tables the catalog declares in all.
    pub catalog_tables: usize,
}

/// One table in a list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableSummary {
    /// `database.table`, as SQL names it.
    pub name: String,
    /// `table` (read by a source plugin) or `view` (SQL over other tables).
    pub kind: &'static str,
    /// The source kind: `s3-parquet`, `csv`, `http-api`, `function` or `view`.
    pub source: String,
    /// The first line of the table's documentation.
    pub summary: String,
    /// Who answers for the data.
    pub owner: Option<String>,
    /// How many columns it has.
    pub columns: usize,
    /// Whether this server could open it (see `describe_table` for why not).
    pub available: bool,
}

/// `describe_table`'s answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TableDescription {
    /// `database.table`, as SQL names it.
    pub name: String,
    /// `table` or `view`.
    pub kind: &'static str,
    /// The table's documentation, as declared in code.
    pub doc: String,
    /// Who answers for the data.
    pub owner: Option<String>,
    /// Where the rows come from.
    pub source: Source,
    /// What the data must satisfy beyond its schema (checked by `verify_table`).
    pub expectations: Expectations,
    /// The columns, in order.
    pub columns: Vec<Column>,
    /// The tables and views this view reads directly (empty for a table).
    pub upstream: Vec<String>,
    /// The views that read this table directly.
    pub downstream: Vec<String>,
    /// Every view downstream, through any number of views: what a change to
    /// this table can break.
    pub downstream_all: Vec<String>,
    /// Whether this server could open it.
    pub available: bool,
    /// Why it could not, and what to do.
    pub unavailable_reason: Option<String>,
    /// The table's documentation page, as an MCP resource.
    pub resource: String,
}

/// A table's source.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Source {
    /// `s3-parquet`, `csv`, `http-api`, `function` or `view`.
    pub kind: String,
    /// The source's options as declared (a location, a delimiter...). They
    /// hold no secret: credentials come from the environment.
    pub options: Vec<SourceOption>,
    /// A view's SQL.
    pub sql: Option<String>,
    /// Where a materialized view's rows are written.
    pub materialized: Option<String>,
    /// `memory` when long-lived servers keep a copy in memory.
    pub accelerate: Option<String>,
    /// How often the source (or the copy) is read again.
    pub refresh: Option<String>,
}

/// One declared source option.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SourceOption {
    /// The option's name, e.g. `location`.
    pub key: String,
    /// Its value as declared.
    pub value: String,
}

/// A table's expectations.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Expectations {
    /// The newest data must be at most this old (`24h`).
    pub freshness: Option<String>,
    /// The column whose largest value says how new the data is.
    pub freshness_column: Option<String>,
    /// The row count's bounds in words (`exactly 25`, `at least 1`).
    pub rows: Option<String>,
}

/// One column.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Column {
    /// The name SQL uses.
    pub name: String,
    /// The Arrow type SQL sees (`Int64`, `Utf8`, `Decimal128(15, 2)`).
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether it may be null.
    pub nullable: bool,
    /// Its documentation.
    pub doc: String,
    /// Its checks in words (`unique`, `0 ≤ x ≤ 24`).
    pub checks: Vec<String>,
    /// For a view's column: the columns it is computed from, `database.table.column`.
    pub computed_from: Option<Vec<String>>,
}

/// The resource URI of a table's documentation page.
pub fn resource_uri(spec: &TableSpec) -> String {
    format!("codelake://{}/{}", spec.database, spec.name)
}

fn kind(spec: &TableSpec) -> &'static str {
    if spec.is_view() { "view" } else { "table" }
}

/// The first line of a doc comment.
pub fn summary(doc: &str) -> String {
    doc.lines().next().unwrap_or_default().trim().to_owned()
}

/// Whether `spec` matches every word of `search`, in its name, its columns'
/// names or its docs (case-insensitive).
pub fn matches(spec: &TableSpec, search: &str) -> bool {
    let mut text = format!("{}\n{}", spec.qualified_name(), spec.doc);
    for column in spec.columns.iter() {
        text.push('\n');
        text.push_str(&column.name);
        text.push('\n');
        text.push_str(&column.doc);
    }
    let text = text.to_lowercase();
    search
        .split_whitespace()
        .all(|word| text.contains(&word.to_lowercase()))
}

/// A table in a list.
pub fn summarize(spec: &TableSpec, available: bool) -> TableSummary {
    TableSummary {
        name: spec.qualified_name(),
        kind: kind(spec),
        source: spec.source.to_string(),
        summary: summary(&spec.doc),
        owner: spec.owner.as_deref().map(str::to_owned),
        columns: spec.columns.len(),
        available,
    }
}

/// Everything declared about `spec`, with its lineage.
pub fn describe(
    spec: &TableSpec,
    lineage: &[ViewLineage],
    unavailable: Option<&str>,
) -> TableDescription {
    let name = spec.qualified_name();
    let own = lineage.iter().find(|view| view.view == name);
    TableDescription {
        kind: kind(spec),
        doc: spec.doc.to_string(),
        owner: spec.owner.as_deref().map(str::to_owned),
        source: Source {
            kind: spec.source.to_string(),
            options: spec
                .options
                .iter()
                .map(|option| SourceOption {
                    key: option.key.to_string(),
                    value: option.value.to_string(),
                })
                .collect(),
            sql: spec.view.as_ref().map(|view| view.sql.to_string()),
            materialized: spec
                .view
                .as_ref()
                .and_then(|view| view.materialize.as_deref().map(str::to_owned)),
            accelerate: spec.accelerate.map(|kind| kind.to_string()),
            refresh: spec
                .refresh
                .as_ref()
                .map(|refresh| refresh.text.to_string()),
        },
        expectations: Expectations {
            freshness: spec
                .expectations
                .freshness
                .as_ref()
                .map(|bound| bound.text.to_string()),
            freshness_column: spec
                .expectations
                .freshness_column
                .as_deref()
                .map(str::to_owned),
            rows: spec.expectations.row_bounds(),
        },
        columns: spec
            .columns
            .iter()
            .map(|column| Column {
                name: column.name.to_string(),
                ty: column.ty.to_string(),
                nullable: column.nullable,
                doc: column.doc.to_string(),
                checks: column.checks(),
                computed_from: own
                    .and_then(|view| view.column(&column.name))
                    .map(|lineage| lineage.from.clone()),
            })
            .collect(),
        upstream: lineage::upstream(lineage, &name).to_vec(),
        downstream: lineage::downstream(lineage, &name)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        downstream_all: lineage::downstream_all(lineage, &name),
        available: unavailable.is_none(),
        unavailable_reason: unavailable.map(str::to_owned),
        resource: resource_uri(spec),
        name,
    }
}

/// A table's documentation page, in Markdown.
pub fn page(description: &TableDescription) -> String {
    let mut out = format!("# {} ({})\n\n", description.name, description.kind);
    if !description.doc.is_empty() {
        out.push_str(&description.doc);
        out.push_str("\n\n");
    }
    let source = &description.source;
    out.push_str(&format!("- Source: `{}`\n", source.kind));
    for option in &source.options {
        out.push_str(&format!("  - {}: `{}`\n", option.key, option.value));
    }
    if let Some(owner) = &description.owner {
        out.push_str(&format!("- Owner: {owner}\n"));
    }
    let expectations = &description.expectations;
    if let Some(freshness) = &expectations.freshness {
        match &expectations.freshness_column {
            Some(column) => out.push_str(&format!(
                "- Freshness: at most {freshness} old, by `{column}`\n"
            )),
            None => out.push_str(&format!("- Freshness: at most {freshness} old\n")),
        }
    }
    if let Some(rows) = &expectations.rows {
        out.push_str(&format!("- Rows: {rows}\n"));
    }
    if let Some(accelerate) = &source.accelerate {
        out.push_str(&format!("- Accelerated: {accelerate}\n"));
    }
    if let Some(refresh) = &source.refresh {
        out.push_str(&format!("- Refreshed every {refresh}\n"));
    }
    if let Some(reason) = &description.unavailable_reason {
        out.push_str(&format!("- Unavailable on this server: {reason}\n"));
    }
    out.push_str(
        "\n## Columns\n\n| column | type | nullable | checks | doc |\n|---|---|---|---|---|\n",
    );
    for column in &description.columns {
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            column.name,
            column.ty,
            if column.nullable { "yes" } else { "no" },
            column.checks.join(", "),
            cell(&column.doc),
        ));
    }
    if let Some(sql) = &source.sql {
        out.push_str(&format!("\n## SQL\n\n```sql\n{}\n```\n", sql.trim()));
    }
    if !description.upstream.is_empty() || !description.downstream.is_empty() {
        out.push_str("\n## Lineage\n\n");
        if !description.upstream.is_empty() {
            out.push_str(&format!("- Reads: {}\n", names(&description.upstream)));
        }
        if !description.downstream.is_empty() {
            out.push_str(&format!("- Read by: {}\n", names(&description.downstream)));
        }
        for column in &description.columns {
            if let Some(from) = &column.computed_from {
                out.push_str(&format!(
                    "- `{}` from {}\n",
                    column.name,
                    if from.is_empty() {
                        "no column".to_owned()
                    } else {
                        names(from)
                    }
                ));
            }
        }
    }
    out
}

fn names(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text for one Markdown table cell: on one line, with `|` escaped.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// Up to three declared names close to `name`, for "did you mean".
pub fn close_names<'a>(name: &str, catalog: impl Iterator<Item = &'a TableSpec>) -> Vec<String> {
    let short = name.rsplit('.').next().unwrap_or(name);
    let mut close: Vec<(f64, String)> = catalog
        .map(|spec| {
            (
                strsim::jaro_winkler(short, &spec.name),
                spec.qualified_name(),
            )
        })
        .filter(|(score, _)| *score > 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    close.into_iter().take(3).map(|(_, name)| name).collect()
}
