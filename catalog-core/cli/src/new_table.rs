//! `codelake new-table`: a `#[derive(Table)]` struct written from a live source.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::Path;

use catalog_core::inspect::{
    InspectRequest, Inspection, LiveColumn, camel_case, field_name, rust_field,
};
use catalog_core::{ColumnType, Expectations, SourceOption, TableSpec};

use crate::Global;
use crate::describe::find;
use crate::error::{CliError, EXIT_USAGE};
use crate::session::{Seed, Session, Unavailable};

/// What `codelake new-table` was asked.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["from", "table"])))]
pub struct NewTableArgs {
    /// The source to read: `s3://bucket/key.parquet` or `s3://bucket/prefix/`, a CSV file
    /// (relative paths are under the environment's data directory), an `http(s)://` JSON
    /// URL or a `/path` on the environment's HTTP base URL, or a function's name with
    /// `--source function`.
    #[arg(long, value_name = "URI")]
    from: Option<String>,
    /// Read the source of a declared table instead, and print the struct it has now
    /// (to compare with the declaration after `verify` found drift).
    #[arg(long, value_name = "DB.NAME", conflicts_with_all = ["source", "database", "name", "option"])]
    table: Option<String>,
    /// The source kind, when the URI does not say it: s3-parquet, csv, http-api, function.
    #[arg(long, value_name = "KIND")]
    source: Option<String>,
    /// The database of the new table.
    #[arg(long, value_name = "DB", default_value = "sandbox")]
    database: String,
    /// The table's name [default: from the URI, e.g. `part` for `…/part.parquet`].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// A source option, `key=value`; repeat for several (e.g. `--option delimiter='|'`,
    /// `--option rows_path=/rates`). See docs/reference/source-options.md.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    option: Vec<String>,
    /// Rows read to infer types where the source has none (CSV, JSON).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    sample_rows: u64,
}

/// Runs `codelake new-table`: prints the struct on standard output.
pub async fn run(global: &Global, args: NewTableArgs) -> Result<(), CliError> {
    let (spec, from) = match &args.table {
        Some(table) => {
            let declared = find(table)?;
            let spec = TableSpec {
                columns: Cow::Borrowed(&[]),
                ..declared.clone()
            };
            let from = declared
                .source_options()
                .map_err(|error| CliError::msg(EXIT_USAGE, error.to_string()))?
                .target()
                .to_owned();
            (spec, from)
        }
        None => {
            let from = args.from.clone().unwrap_or_default();
            (undeclared(&args, &from)?, from)
        }
    };
    let session = Session::open(global, Seed::IfEmpty, Unavailable::Silent).await?;
    let request = InspectRequest {
        sample_rows: args.sample_rows.max(1),
        ..InspectRequest::default()
    };
    let plugins = session.plugins.clone();
    let env = session.env.clone();
    let inspected = spec.clone();
    let inspection = tokio::task::spawn_blocking(move || {
        catalog_runtime::inspect(&plugins, &inspected, &env, &request)
    })
    .await
    .map_err(CliError::failed)?
    .map_err(|error| {
        CliError::failed(error).hint(
            "check the URI, the source kind (--source) and its options (--option key=value); \
             see docs/reference/source-options.md",
        )
    })?;
    if inspection.unsupported {
        return Err(CliError::failed(anyhow::anyhow!(
            "the plugin serving source `{}` cannot read its sources directly",
            spec.source
        ))
        .hint("write the struct by hand; docs/reference/table-attributes.md lists the types"));
    }
    say!("{}", render(&spec, &inspection, &from));
    Ok(())
}

/// The spec of a table not declared yet: its source, options and name, no columns.
fn undeclared(args: &NewTableArgs, from: &str) -> Result<TableSpec, CliError> {
    let usage = |message: String| CliError::msg(EXIT_USAGE, message);
    let source = match &args.source {
        Some(source) => source.clone(),
        None => guess_source(from).ok_or_else(|| {
            usage(format!(
                "cannot tell the source kind of `{from}`; add --source s3-parquet, csv, http-api or function"
            ))
        })?,
    };
    let key = match catalog_core::source::source(&source) {
        Some(def) => def.target,
        None => {
            return Err(usage(format!(
                "unknown source kind `{source}`; use one of {}",
                catalog_core::source::kinds()
            )));
        }
    };
    let mut options = vec![SourceOption {
        key: key.into(),
        value: from.to_owned().into(),
    }];
    for option in &args.option {
        let (key, value) = option.split_once('=').ok_or_else(|| {
            usage(format!(
                "--option `{option}` is not `key=value` (e.g. --option delimiter='|')"
            ))
        })?;
        options.push(SourceOption {
            key: key.trim().to_owned().into(),
            value: value.to_owned().into(),
        });
    }
    options.sort_by(|a, b| a.key.cmp(&b.key));
    let name = match &args.name {
        Some(name) => name.clone(),
        None => default_name(from),
    };
    for (what, value) in [("--database", &args.database), ("--name", &name)] {
        if !is_identifier(value) {
            return Err(usage(format!(
                "{what} `{value}` is not a valid name: use lower-case letters, digits and `_`, starting with a letter"
            )));
        }
    }
    let spec = TableSpec {
        database: args.database.clone().into(),
        name: name.into(),
        doc: "".into(),
        rust_type: "new_table".into(),
        source: source.into(),
        options: options.into(),
        owner: None,
        expectations: Expectations::default(),
        columns: Cow::Borrowed(&[]),
    };
    let problems = catalog_core::source::validate(
        &spec.source,
        &spec
            .options
            .iter()
            .map(|o| (&*o.key, &*o.value))
            .collect::<Vec<_>>(),
    );
    if let Err(problems) = problems {
        let messages: Vec<String> = problems.into_iter().map(|p| p.message).collect();
        return Err(usage(messages.join("; ")));
    }
    Ok(spec)
}

fn guess_source(from: &str) -> Option<String> {
    let lower = from.to_ascii_lowercase();
    let kind =
        if lower.starts_with("s3://") && (lower.ends_with(".parquet") || lower.ends_with('/')) {
            "s3-parquet"
        } else if lower.starts_with("http://") || lower.starts_with("https://") {
            "http-api"
        } else if [".csv", ".tsv", ".txt", ".tbl"]
            .iter()
            .any(|extension| lower.ends_with(extension))
        {
            "csv"
        } else if lower.starts_with('/') && !Path::new(from).exists() {
            // A path on the environment's HTTP base URL.
            "http-api"
        } else {
            return None;
        };
    Some(kind.to_owned())
}

/// `s3://b/tpch/part.parquet` → `part`; `…/lineitem/` → `lineitem`; `/fx/rates?x=1` → `rates`.
fn default_name(from: &str) -> String {
    let path = from.split(['?', '#']).next().unwrap_or(from);
    let last = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let stem = last.split('.').next().unwrap_or_default();
    let mut name = field_name(stem);
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert(0, 't');
    }
    name
}

fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The struct, with the imports it needs.
pub fn render(spec: &TableSpec, inspection: &Inspection, from: &str) -> String {
    let struct_name = camel_case(&spec.name);
    let mut fields = String::new();
    let mut skipped = Vec::new();
    let mut taken = BTreeSet::new();
    let mut uses = BTreeSet::from(["use catalog_derive::Table;".to_owned()]);
    for (index, column) in inspection.columns.iter().enumerate() {
        let Some(ty) = column.column_type.filter(|_| !column.name.is_empty()) else {
            skipped.push(column);
            continue;
        };
        let mut field = rust_field(&column.name, index);
        while !taken.insert(field.clone()) {
            field.push('_');
        }
        let rust_type = ty.rust_type();
        match ty {
            ColumnType::Decimal128 { .. } => {
                uses.insert("use catalog_core::Decimal;".into());
            }
            ColumnType::Date32 | ColumnType::Timestamp { .. } => {
                uses.insert("use catalog_core::chrono;".into());
            }
            _ => {}
        }
        let rust_type = if nullable(column) {
            format!("Option<{rust_type}>")
        } else {
            rust_type
        };
        fields.push_str(&format!("    /// TODO: what `{}` holds.\n", column.name));
        if field.trim_start_matches("r#") != column.name {
            fields.push_str(&format!(
                "    #[column(name = {})]\n",
                string_literal(&column.name)
            ));
        }
        fields.push_str(&format!("    pub {field}: {rust_type},\n"));
    }
    for column in &skipped {
        let why = if column.name.is_empty() {
            "a column without a name cannot be declared"
        } else {
            "no Rust field type reads it"
        };
        fields.push_str(&format!(
            "    // `{}` ({}) is not declared: {why}.\n",
            column.name, column.arrow_type
        ));
    }
    let mut attributes = vec![
        match &spec.owner {
            Some(owner) => format!("owner = {}", string_literal(owner)),
            None => "// owner = \"team@example.com\",".into(),
        },
        format!("database = {}", string_literal(&spec.database)),
        format!("name = {}", string_literal(&spec.name)),
        format!("source = {}", string_literal(&spec.source)),
    ];
    for option in spec.options.iter() {
        attributes.push(format!(
            "{} = {}",
            option.key,
            option_literal(&option.value)
        ));
    }
    let sampled = inspection
        .sampled_rows
        .map(|rows| format!(", types inferred from {rows} sampled rows"))
        .unwrap_or_default();
    let unit = match &*spec.source {
        "http-api" => "page",
        "function" => "call",
        "csv" => "file",
        _ => "object",
    };
    let mut text = String::new();
    for line in &uses {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!(
        "\n/// TODO: one line on what one row of `{}.{}` is.\n///\n/// Written by `codelake new-table` from `{from}` ({} {unit}{}{sampled}).\n",
        spec.database,
        spec.name,
        inspection.objects,
        if inspection.objects == 1 { "" } else { "s" },
    ));
    text.push_str("#[derive(Table, Debug, Clone, PartialEq)]\n#[table(\n");
    let last = attributes.len() - 1;
    for (i, attribute) in attributes.iter().enumerate() {
        let comma = if i < last && !attribute.starts_with("//") {
            ","
        } else {
            ""
        };
        text.push_str(&format!("    {attribute}{comma}\n"));
    }
    text.push_str(&format!(")]\npub struct {struct_name} {{\n{fields}}}"));
    text
}

/// Whether the field must be `Option<..>`: the source allows nulls and has
/// some, or says nothing (a CSV or JSON column with nulls in the sample).
fn nullable(column: &LiveColumn) -> bool {
    match column.nulls {
        Some(nulls) => nulls > 0,
        None => column.nullable,
    }
}

fn string_literal(text: &str) -> String {
    format!("{text:?}")
}

/// Options keep their literal kind: `header = true`, `max_retries = 3`.
fn option_literal(value: &str) -> String {
    if value == "true"
        || value == "false"
        || (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()))
    {
        value.to_owned()
    } else {
        string_literal(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_name_becomes_a_field_the_derive_accepts() {
        let spec = TableSpec {
            database: "sandbox".into(),
            name: "odd".into(),
            doc: "".into(),
            rust_type: "new_table".into(),
            source: "csv".into(),
            options: vec![SourceOption {
                key: "location".into(),
                value: "odd.csv".into(),
            }]
            .into(),
            owner: None,
            expectations: Expectations::default(),
            columns: Cow::Borrowed(&[]),
        };
        let names = [
            "#",
            "type",
            "crate",
            "self",
            "",
            "Order Date",
            "spec",
            "order_date",
        ];
        let inspection = Inspection {
            columns: names
                .iter()
                .map(|name| {
                    LiveColumn::new(*name, &catalog_core::arrow_schema::DataType::Int64, false)
                })
                .collect(),
            objects: 1,
            ..Inspection::default()
        };
        let text = render(&spec, &inspection, "odd.csv");
        for expected in [
            "#[column(name = \"#\")]\n    pub column_1: i64,",
            "    pub r#type: i64,",
            "#[column(name = \"crate\")]\n    pub crate_: i64,",
            "#[column(name = \"self\")]\n    pub self_: i64,",
            "// `` (Int64) is not declared: a column without a name cannot be declared.",
            "#[column(name = \"Order Date\")]\n    pub order_date: i64,",
            "#[column(name = \"spec\")]\n    pub spec_: i64,",
            "    pub order_date_: i64,",
        ] {
            assert!(text.contains(expected), "{expected}\n{text}");
        }
    }
}
