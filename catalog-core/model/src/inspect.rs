//! What a source really holds, and how that differs from its declaration.
//!
//! A plugin reads a table's source directly (a Parquet footer, a CSV header
//! and a sample parsed with the declared types, a page of JSON, a function's
//! output) and reports an [`Inspection`]. [`compare`] then names every
//! difference from the [`TableSpec`] as a [`Drift`], matching columns **by
//! name**, never by position. `verify` reports the drifts; `new-table` turns an
//! inspection of an undeclared source into a struct.

use std::fmt;

use arrow_schema::{DataType, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::spec::{ColumnType, TableSpec};

/// What the host asks of an inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectRequest {
    /// Rows to read at most where the schema comes from the data (CSV, JSON).
    pub sample_rows: u64,
    /// How long the inspection may take, in milliseconds, before it fails.
    pub timeout_ms: u64,
}

impl Default for InspectRequest {
    fn default() -> Self {
        Self {
            sample_rows: 10_000,
            timeout_ms: 30_000,
        }
    }
}

/// What a plugin found when it read a table's source directly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inspection {
    /// The source's columns, in the source's order.
    pub columns: Vec<LiveColumn>,
    /// Objects, files or pages read.
    pub objects: u64,
    /// Rows read to find the schema, when it came from the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_rows: Option<u64>,
    /// The newest object's last-modified time, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_modified: Option<i64>,
    /// Which object that is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_object: Option<String>,
    /// Differences only the plugin can see: a value that does not parse,
    /// files of one table that disagree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Drift>,
    /// The plugin cannot read its sources directly (it does not implement
    /// inspection): nothing above is known, and the table may still answer queries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsupported: bool,
}

/// One column as the source has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveColumn {
    /// The column's name in the source.
    pub name: String,
    /// The source's type, as Arrow renders it (`Int64`, `Timestamp(ns)`).
    pub arrow_type: String,
    /// The column type that reads this data without a cast, if there is one.
    pub column_type: Option<ColumnType>,
    /// Whether the source allows nulls here (for CSV and JSON: whether the sample had any).
    pub nullable: bool,
    /// Nulls found: exact for Parquet (from its statistics), else in the sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nulls: Option<u64>,
}

impl LiveColumn {
    /// A column of Arrow type `data_type`, with its column type if it has one.
    pub fn new(name: impl Into<String>, data_type: &DataType, nullable: bool) -> Self {
        Self {
            name: name.into(),
            arrow_type: data_type.to_string(),
            column_type: ColumnType::from_arrow(data_type),
            nullable,
            nulls: None,
        }
    }
}

impl ColumnType {
    /// The column type whose declared field reads `data_type` without a cast:
    /// the exact match, and for text and bytes also the large and view layouts
    /// (`from_record_batch` accepts those). `None` when no Rust field type
    /// maps to it, e.g. `Timestamp(ns)` or a list.
    ///
    /// ```
    /// use catalog_core::ColumnType;
    /// use catalog_core::arrow_schema::DataType;
    /// assert_eq!(ColumnType::from_arrow(&DataType::Utf8View), Some(ColumnType::Utf8));
    /// assert_eq!(ColumnType::from_arrow(&DataType::Float16), None);
    /// ```
    pub fn from_arrow(data_type: &DataType) -> Option<Self> {
        Some(match data_type {
            DataType::Boolean => Self::Boolean,
            DataType::Int8 => Self::Int8,
            DataType::Int16 => Self::Int16,
            DataType::Int32 => Self::Int32,
            DataType::Int64 => Self::Int64,
            DataType::UInt8 => Self::UInt8,
            DataType::UInt16 => Self::UInt16,
            DataType::UInt32 => Self::UInt32,
            DataType::UInt64 => Self::UInt64,
            DataType::Float32 => Self::Float32,
            DataType::Float64 => Self::Float64,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Self::Utf8,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Self::Binary,
            DataType::Date32 => Self::Date32,
            DataType::Timestamp(TimeUnit::Microsecond, None) => Self::Timestamp { utc: false },
            DataType::Timestamp(TimeUnit::Microsecond, Some(zone))
                if matches!(&**zone, "UTC" | "+00:00" | "Z") =>
            {
                Self::Timestamp { utc: true }
            }
            DataType::Decimal128(precision, scale) => Self::Decimal128 {
                precision: *precision,
                scale: *scale,
            },
            // Dictionary encoding is a layout; queries read the values.
            DataType::Dictionary(_, values) => return Self::from_arrow(values),
            _ => return None,
        })
    }
}

/// One difference between a declaration and its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Drift {
    /// A declared column the source does not have.
    MissingColumn {
        /// The declared column.
        column: String,
        /// Its declared type.
        declared: String,
        /// Whether it is declared `Option<..>` (then every value reads as null).
        nullable: bool,
        /// The source's column most like it, e.g. after a rename.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        closest: Option<String>,
    },
    /// A source column the declaration does not have.
    ExtraColumn {
        /// The source's column.
        column: String,
        /// Its type in the source.
        found: String,
        /// The Rust field type that would declare it, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rust_type: Option<String>,
    },
    /// A column whose source type is not the declared one.
    TypeMismatch {
        /// The column.
        column: String,
        /// The declared type.
        declared: String,
        /// The source's type.
        found: String,
        /// The Rust field type that reads the source's type, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rust_type: Option<String>,
    },
    /// Nulls in a column declared non-null.
    NullsInNonNull {
        /// The column.
        column: String,
        /// How many nulls were found.
        nulls: u64,
        /// Where: the whole source (Parquet statistics) or a sample.
        scope: String,
    },
    /// A value that does not parse as the declared type (CSV; for JSON,
    /// whose values are typed, a [`Drift::TypeMismatch`] instead).
    BadValue {
        /// The column.
        column: String,
        /// The declared type.
        declared: String,
        /// The value, shortened.
        value: String,
        /// Where it is, e.g. `data row 7 of /data/tpch/nation.csv`.
        at: String,
        /// The type the sample's values look like.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        looks_like: Option<String>,
    },
    /// One object of a multi-object table differs from the others.
    ObjectDiffers {
        /// The object.
        object: String,
        /// How it differs.
        message: String,
    },
    /// A change of the table's schema in its log (Delta) that the declaration
    /// does not follow: the commit that made the column what it is now.
    SchemaEvolved {
        /// The column.
        column: String,
        /// The commit version that changed it.
        version: u64,
        /// What changed, e.g. `added as Int64`, `retyped from Int32 to Int64`.
        change: String,
    },
}

/// How much a [`Drift`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Reported; fails only under `--strict`.
    Warning,
    /// The declaration is wrong for this data.
    Failure,
}

impl Drift {
    /// How much it matters: an undeclared extra column, or a missing column
    /// declared `Option<..>` (it reads as all nulls), is a warning.
    pub fn severity(&self) -> Severity {
        match self {
            // Where the schema changed: the column's own drift says how much it matters.
            Self::ExtraColumn { .. }
            | Self::MissingColumn { nullable: true, .. }
            | Self::SchemaEvolved { .. } => Severity::Warning,
            _ => Severity::Failure,
        }
    }

    /// The column it is about, if one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::MissingColumn { column, .. }
            | Self::ExtraColumn { column, .. }
            | Self::TypeMismatch { column, .. }
            | Self::NullsInNonNull { column, .. }
            | Self::BadValue { column, .. }
            | Self::SchemaEvolved { column, .. } => Some(column),
            Self::ObjectDiffers { .. } => None,
        }
    }

    /// What to do about it, naming the struct of `spec`.
    pub fn fix(&self, spec: &TableSpec) -> String {
        let rust_type = &spec.rust_type;
        match self {
            Self::MissingColumn {
                column,
                closest: Some(closest),
                ..
            } => format!(
                "if `{column}` was renamed to `{closest}`, rename the field in {rust_type} or add `#[column(name = \"{closest}\")]` to it; else restore the column in the source"
            ),
            Self::MissingColumn { column, .. } => format!(
                "remove the field of `{column}` from {rust_type}, or restore the column in the source"
            ),
            Self::ExtraColumn {
                column,
                rust_type: Some(field_type),
                ..
            } if !column.is_empty() => {
                let field = rust_field(column, 0);
                let attribute = if field.trim_start_matches("r#") == column {
                    String::new()
                } else {
                    format!("#[column(name = {column:?})] ")
                };
                format!(
                    "declare it: add a documented field `{attribute}{field}: {field_type}` to {rust_type}, or ignore it (it fails only under --strict)"
                )
            }
            Self::ExtraColumn { .. } => "no Rust field type reads this column; ignore it, or convert it in the source (it fails only under --strict)".to_owned(),
            Self::TypeMismatch {
                column,
                declared,
                rust_type: Some(field_type),
                ..
            } => format!(
                "in {rust_type}, change the field of `{column}` to `{field_type}`{}, or write the source as {declared}",
                nullable_hint(spec, column)
            ),
            Self::TypeMismatch { declared, .. } => {
                format!("no Rust field type reads this type; write the source as {declared}")
            }
            Self::NullsInNonNull { column, .. } => format!(
                "in {rust_type}, make the field of `{column}` an `Option<..>`, or fill the nulls in the source"
            ),
            Self::BadValue {
                column,
                looks_like: Some(looks_like),
                ..
            } => format!(
                "fix the value in the source, or, if the column now holds {looks_like}, change the field of `{column}` in {rust_type}"
            ),
            Self::BadValue { .. } => "fix the value in the source".to_owned(),
            Self::ObjectDiffers { object, .. } => {
                format!(
                    "rewrite {object} with the table's schema, or move it out of the table's location"
                )
            }
            Self::SchemaEvolved {
                column, version, ..
            } => format!(
                "follow the change in {rust_type} (the field of `{column}`), or read the table as it was before with `version = {}`",
                version.saturating_sub(1)
            ),
        }
    }
}

fn nullable_hint(spec: &TableSpec, column: &str) -> &'static str {
    match spec.column(column) {
        Some(declared) if declared.nullable => " (inside its `Option<..>`)",
        _ => "",
    }
}

/// The Rust field that declares column `column` (the `index`th of its table):
/// `Order Date` → `order_date`, `type` → `r#type`, `self` → `self_`, `#` → `column_1`.
/// It needs `#[column(name = …)]` when it differs from the column's name (bar `r#`).
pub fn rust_field(column: &str, index: usize) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern",
        "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "try", "type",
        "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
        "override", "priv", "typeof", "unsized", "virtual", "yield",
    ];
    let field = field_name(column);
    if field.chars().all(|c| c == '_') {
        format!("column_{}", index + 1)
    } else if matches!(field.as_str(), "crate" | "self" | "super" | "spec") {
        // Not allowed as raw identifiers; `SPEC` would shadow `Table::SPEC`.
        format!("{field}_")
    } else if KEYWORDS.contains(&field.as_str()) {
        format!("r#{field}")
    } else {
        field
    }
}

/// A column name as a Rust field name, for messages: `Order Date` → `order_date`.
pub fn field_name(column: &str) -> String {
    let mut name: String = column
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// A table name as a Rust type name: `tpch` → `Tpch`, `web_events` → `WebEvents`.
pub fn camel_case(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingColumn {
                column,
                declared,
                closest,
                nullable,
            } => {
                write!(f, "missing column `{column}` ({declared})")?;
                if let Some(closest) = closest {
                    write!(f, "; the source has `{closest}`")?;
                }
                if *nullable {
                    write!(f, "; it is declared `Option<..>`, so it reads as all nulls")?;
                }
                Ok(())
            }
            Self::ExtraColumn { column, found, .. } => {
                write!(f, "extra undeclared column `{column}` ({found})")
            }
            Self::TypeMismatch {
                column,
                declared,
                found,
                ..
            } => write!(
                f,
                "column `{column}`: declared {declared}, the source has {found}"
            ),
            Self::NullsInNonNull {
                column,
                nulls,
                scope,
            } => write!(
                f,
                "column `{column}` is declared non-null, but {scope} has {nulls} null{}",
                if *nulls == 1 { "" } else { "s" }
            ),
            Self::BadValue {
                column,
                declared,
                value,
                at,
                ..
            } => write!(
                f,
                "column `{column}`: `{value}` ({at}) is not a valid {declared}"
            ),
            Self::ObjectDiffers { object, message } => write!(f, "{object}: {message}"),
            Self::SchemaEvolved {
                column,
                version,
                change,
            } => write!(
                f,
                "column `{column}` was {change} by commit version {version} of the table's log"
            ),
        }
    }
}

/// Every difference between `spec` and what its source holds: columns by
/// name, types, nulls in non-null columns, then the plugin's own findings.
pub fn compare(spec: &TableSpec, live: &Inspection) -> Vec<Drift> {
    let mut drifts = Vec::new();
    let missing = spec
        .columns
        .iter()
        .filter(|declared| !live.columns.iter().any(|c| c.name == declared.name))
        .count();
    for declared in spec.columns.iter() {
        let Some(found) = live.columns.iter().find(|c| c.name == declared.name) else {
            drifts.push(Drift::MissingColumn {
                column: declared.name.to_string(),
                declared: declared.ty.to_string(),
                nullable: declared.nullable,
                closest: closest(
                    &declared.name,
                    live.columns
                        .iter()
                        .filter(|c| spec.column(&c.name).is_none())
                        .map(|c| c.name.as_str()),
                    missing == 1,
                ),
            });
            continue;
        };
        if found.column_type != Some(declared.ty) {
            drifts.push(Drift::TypeMismatch {
                column: declared.name.to_string(),
                declared: declared.ty.to_string(),
                found: found.arrow_type.clone(),
                rust_type: found.column_type.map(|ty| {
                    if declared.nullable {
                        format!("Option<{}>", ty.rust_type())
                    } else {
                        ty.rust_type()
                    }
                }),
            });
        }
        if !declared.nullable
            && let Some(nulls @ 1..) = found.nulls
        {
            drifts.push(Drift::NullsInNonNull {
                column: declared.name.to_string(),
                nulls,
                scope: match live.sampled_rows {
                    Some(rows) => format!("a sample of {rows} rows"),
                    None => "the source".to_owned(),
                },
            });
        }
    }
    for found in &live.columns {
        if spec.column(&found.name).is_none() {
            drifts.push(Drift::ExtraColumn {
                column: found.name.clone(),
                found: found.arrow_type.clone(),
                rust_type: found.column_type.map(|ty| {
                    if found.nullable {
                        format!("Option<{}>", ty.rust_type())
                    } else {
                        ty.rust_type()
                    }
                }),
            });
        }
    }
    drifts.extend(live.problems.iter().cloned());
    drifts
}

/// The candidate most like `name`: equal but for case, else within a third of
/// its length in edits, else, when `lone` (the only declared column missing)
/// and there is one candidate, that one: most likely a rename.
fn closest<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
    lone: bool,
) -> Option<String> {
    let candidates: Vec<&str> = candidates.collect();
    let mut best: Option<(usize, &str)> = None;
    for &candidate in &candidates {
        if candidate.eq_ignore_ascii_case(name) {
            return Some(candidate.to_owned());
        }
        let distance = edit_distance(name, candidate);
        if distance <= name.len().max(3) / 3 && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    match (best, candidates.as_slice()) {
        (Some((_, candidate)), _) => Some(candidate.to_owned()),
        // One declared column gone and one undeclared come: most likely a rename.
        (None, [only]) if lone => Some((*only).to_owned()),
        (None, _) => None,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}
