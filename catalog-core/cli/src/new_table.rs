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
    /// The source to read: `s3://bucket/key.parquet` or `s3://bucket/prefix/`, a local
    /// Parquet file or directory, a local Delta table's directory (or one on S3 with
    /// `--source delta`), a CSV file (relative paths are under the
    /// environment's data directory), an `http(s)://` JSON
    /// URL or a `/path` on the environment's HTTP base URL, or a function's name with
    /// `--source function`.
    #[arg(long, value_name = "URI")]
    from: Option<String>,
    /// Read the source of a declared table instead, and print the struct it has now
    /// (to compare with the declaration after `verify` found drift).
    #[arg(long, value_name = "DB.NAME", conflicts_with_all = ["source", "database", "name", "option"])]
    table: Option<String>,
    /// The source kind, when the URI does not say it: s3-parquet, parquet, delta, csv, http-api, function.
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
    let (spec, from, declared) = match &args.table {
        Some(table) => {
            let declared = find(table)?;
            if declared.is_view() {
                return Err(CliError::msg(
                    EXIT_USAGE,
                    format!(
                        "`{table}` is a view: its columns are what its SQL computes, not a source's; \
                         `codelake views` checks them against {}",
                        declared.rust_type
                    ),
                ));
            }
            let spec = TableSpec {
                columns: Cow::Borrowed(&[]),
                ..declared.clone()
            };
            let from = declared
                .source_options()
                .map_err(|error| CliError::msg(EXIT_USAGE, error.to_string()))?
                .target()
                .to_owned();
            (spec, from, Some(declared))
        }
        None => {
            let from = args.from.clone().unwrap_or_default();
            (undeclared(&args, &from)?, from, None)
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
    match declared {
        // Standard output is the declaration as the source would now have
        // it, so a diff against `tables/src` shows only what changed.
        Some(declared) => {
            eprintln!(
                "{} as its source has it now: {}.",
                declared.rust_type,
                provenance(&spec, &inspection, &from)
            );
            say!("{}", render(&spec, &inspection, &from, Some(declared)));
        }
        None => say!("{}", render(&spec, &inspection, &from, None)),
    }
    Ok(())
}

/// The spec of a table not declared yet: its source, options and name, no columns.
fn undeclared(args: &NewTableArgs, from: &str) -> Result<TableSpec, CliError> {
    let usage = |message: String| CliError::msg(EXIT_USAGE, message);
    let source = match &args.source {
        Some(source) => source.clone(),
        None => guess_source(from).ok_or_else(|| {
            usage(format!(
                "cannot tell the source kind of `{from}`; add --source s3-parquet, parquet, delta, csv, http-api or function"
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
        view: None,
        accelerate: None,
        refresh: None,
        contract: ::catalog_core::Contract::NONE,
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
    let kind = if lower.starts_with("s3://")
        && (lower.ends_with(".parquet") || lower.ends_with('/'))
    {
        "s3-parquet"
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        "http-api"
    } else if Path::new(from).join("_delta_log").is_dir() {
        // A local Delta table (one on S3 needs `--source delta`: only a listing tells).
        "delta"
    } else if lower.ends_with(".parquet") || (lower.ends_with('/') && Path::new(from).is_dir()) {
        // A local Parquet file, or a directory of them.
        "parquet"
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

/// The struct, with the imports it needs. For a `declared` table it keeps
/// what the source cannot say, so that only real differences remain: the
/// struct's name, its docs and expectations, each still-present column's
/// doc and checks, and the declared order of the columns (every source
/// matches columns by name).
pub fn render(
    spec: &TableSpec,
    inspection: &Inspection,
    from: &str,
    declared: Option<&TableSpec>,
) -> String {
    let struct_name = match declared {
        Some(declared) => declared
            .rust_type
            .rsplit("::")
            .next()
            .unwrap_or_default()
            .to_owned(),
        None => camel_case(&spec.name),
    };
    let declared_column = |name: &str| {
        declared.and_then(|declared| declared.columns.iter().position(|c| c.name == name))
    };
    let mut columns: Vec<(usize, &LiveColumn)> = inspection.columns.iter().enumerate().collect();
    // Declared columns first, in their order; then the new ones, in the source's.
    columns.sort_by_key(|(index, column)| {
        declared_column(&column.name).map_or((1, *index), |position| (0, position))
    });
    let mut fields = String::new();
    let mut skipped = Vec::new();
    let mut taken = BTreeSet::new();
    let mut uses = BTreeSet::from(["use catalog_derive::Table;".to_owned()]);
    let mut chrono = BTreeSet::new();
    for (index, column) in columns {
        let Some(ty) = column.column_type.filter(|_| !column.name.is_empty()) else {
            skipped.push(column);
            continue;
        };
        let mut field = rust_field(&column.name, index);
        while !taken.insert(field.clone()) {
            field.push('_');
        }
        let rust_type = match ty {
            ColumnType::Decimal128 { .. } => {
                uses.insert("use catalog_core::Decimal;".into());
                ty.rust_type()
            }
            // As the catalog's modules write them: `NaiveDate`, `DateTime<Utc>`.
            ColumnType::Date32 | ColumnType::Timestamp { .. } => {
                let bare = ty.field_type();
                chrono.extend(
                    bare.split(['<', '>'])
                        .filter(|name| !name.is_empty())
                        .map(str::to_owned),
                );
                bare
            }
            _ => ty.rust_type(),
        };
        let rust_type = if nullable(column) {
            format!("Option<{rust_type}>")
        } else {
            rust_type
        };
        let known = declared_column(&column.name)
            .and_then(|position| declared.map(|declared| &declared.columns[position]));
        match known {
            Some(known) => {
                for line in known.doc.lines() {
                    fields.push_str(&doc_line("    ", line));
                }
            }
            None => fields.push_str(&format!("    /// TODO: what `{}` holds.\n", column.name)),
        }
        let mut keys = Vec::new();
        if field.trim_start_matches("r#") != column.name {
            keys.push(format!("name = {}", string_literal(&column.name)));
        }
        if let Some(known) = known {
            if known.unique {
                keys.push("unique".to_owned());
            }
            // A bound on a column that is no longer a number would not compile.
            if ty.is_numeric() {
                keys.extend(known.min.map(|min| format!("min = {min}")));
                keys.extend(known.max.map(|max| format!("max = {max}")));
            }
        }
        if !keys.is_empty() {
            fields.push_str(&format!("    #[column({})]\n", keys.join(", ")));
        }
        fields.push_str(&format!("    pub {field}: {rust_type},\n"));
    }
    match chrono.len() {
        0 => {}
        1 => {
            uses.insert(format!(
                "use catalog_core::chrono::{};",
                chrono.first().unwrap_or(&String::new())
            ));
        }
        _ => {
            let names: Vec<&str> = chrono.iter().map(String::as_str).collect();
            uses.insert(format!(
                "use catalog_core::chrono::{{{}}};",
                names.join(", ")
            ));
        }
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
        format!("database = {}", string_literal(&spec.database)),
        format!("name = {}", string_literal(&spec.name)),
        format!("source = {}", string_literal(&spec.source)),
    ];
    // In the order the source kind lists them (docs/reference/source-options.md).
    let listed = catalog_core::source::source(&spec.source).map_or(&[][..], |def| def.options);
    let mut options: Vec<_> = spec.options.iter().collect();
    options.sort_by_key(|option| {
        listed
            .iter()
            .position(|def| def.key == &*option.key)
            .unwrap_or(listed.len())
    });
    for option in options {
        attributes.push(format!(
            "{} = {}",
            option.key,
            option_literal(&option.value)
        ));
    }
    let owner = spec
        .owner
        .as_ref()
        .map(|owner| format!("owner = {}", string_literal(owner)));
    match declared {
        Some(_) => attributes.extend(owner),
        // A line to uncomment, first so that it is seen.
        None => attributes.insert(
            0,
            owner.unwrap_or_else(|| "// owner = \"team@example.com\",".into()),
        ),
    }
    let expectations = &spec.expectations;
    if let Some(freshness) = &expectations.freshness {
        attributes.push(format!("freshness = {}", string_literal(&freshness.text)));
    }
    if let Some(column) = &expectations.freshness_column {
        attributes.push(format!("freshness_column = {}", string_literal(column)));
    }
    attributes.extend(expectations.min_rows.map(|n| format!("min_rows = {n}")));
    attributes.extend(expectations.max_rows.map(|n| format!("max_rows = {n}")));
    if let Some(kind) = spec.accelerate {
        attributes.push(format!("accelerate = {}", string_literal(kind.as_str())));
    }
    if let Some(refresh) = &spec.refresh {
        attributes.push(format!("refresh = {}", string_literal(&refresh.text)));
    }
    let mut text = String::new();
    for line in &uses {
        text.push_str(line);
        text.push('\n');
    }
    text.push('\n');
    match declared {
        Some(declared) => {
            for line in declared.doc.lines() {
                text.push_str(&doc_line("", line));
            }
        }
        None => text.push_str(&format!(
            "/// TODO: one line on what one row of `{}.{}` is.\n///\n/// Written by `codelake new-table` from {}.\n",
            spec.database,
            spec.name,
            provenance(spec, inspection, from),
        )),
    }
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

/// Where the columns were read and how: `` `/fx/rates` (2 pages, types inferred from 25 sampled rows) ``.
fn provenance(spec: &TableSpec, inspection: &Inspection, from: &str) -> String {
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
    format!(
        "`{from}` ({} {unit}{}{sampled})",
        inspection.objects,
        if inspection.objects == 1 { "" } else { "s" },
    )
}

/// `/// line`, or `///` for an empty line, indented by `indent`.
fn doc_line(indent: &str, line: &str) -> String {
    if line.is_empty() {
        format!("{indent}///\n")
    } else {
        format!("{indent}/// {line}\n")
    }
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
            view: None,
            accelerate: None,
            refresh: None,
            contract: ::catalog_core::Contract::NONE,
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
        let text = render(&spec, &inspection, "odd.csv", None);
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
