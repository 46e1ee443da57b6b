//! The catalog's data model: what a table is, independent of how it is read.
//!
//! Specs are built two ways from the same declaration: as `static`s by
//! `#[derive(Table)]` (borrowed [`Cow`]s, no allocation, no start-up cost) and
//! as owned values by `cargo xtask gen-catalog`, which serialises them to
//! `catalog.json`. Later processes deserialise that file back into the same
//! types, so every consumer shares one vocabulary.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::contract::Contract;

/// A string that is `&'static str` in generated code and owned when decoded.
pub type Str = Cow<'static, str>;

/// Schema metadata key under which table and column docs are carried in Arrow.
pub const DOC_METADATA_KEY: &str = "doc";

/// One table of the catalog: its identity, documentation, source and schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Database (DataFusion schema) the table lives in, e.g. `tpch`.
    pub database: Str,
    /// Table name within its database, e.g. `part`.
    pub name: Str,
    /// The struct's `///` doc comment.
    pub doc: Str,
    /// Rust path of the declaring struct, crate name first (`tables::tpch::Part`).
    pub rust_type: Str,
    /// Source kind, one of [`crate::source::SOURCES`] (`s3-parquet`, `csv`, ...).
    pub source: Str,
    /// Source options, sorted by key; validated by [`crate::source::validate`].
    pub options: Cow<'static, [SourceOption]>,
    /// Team or person answerable for the data.
    pub owner: Option<Str>,
    /// What the data must satisfy beyond its schema.
    pub expectations: Expectations,
    /// Columns in declaration order.
    pub columns: Cow<'static, [ColumnSpec]>,
    /// For a view ([`VIEW_SOURCE`]), its SQL; `None` for a table read by a plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<ViewSpec>,
    /// Where long-lived processes keep a copy of the table for queries
    /// (`accelerate = "memory"`); `None`: every query reads the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerate: Option<Accelerate>,
    /// How often the table is read again from its source: for an accelerated
    /// table, its copy. One key for every table kind, with one meaning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Interval>,
    /// The contract version and the breaking changes acknowledged with it
    /// (`contract_version`, `allow_breaking`, `replaces`), which `codelake diff` reads.
    #[serde(default, skip_serializing_if = "Contract::is_none")]
    pub contract: Contract,
}

/// Where an accelerated table's copy is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accelerate {
    /// In Arrow memory, in the process that serves queries.
    Memory,
}

impl Accelerate {
    /// Every kind, as written in `accelerate = ".."`.
    pub const ALL: &[Accelerate] = &[Accelerate::Memory];

    /// The kind as written in `accelerate = ".."`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
        }
    }

    /// The kind written as `text`, or an error listing the kinds.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                let kinds: Vec<String> = Self::ALL
                    .iter()
                    .map(|kind| format!("\"{}\"", kind.as_str()))
                    .collect();
                format!(
                    "`{text}` is not a place to keep a copy: use {}",
                    kinds.join(", ")
                )
            })
    }
}

impl fmt::Display for Accelerate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The source kind of a view: a table whose rows are a SQL query over other
/// catalog tables, run by the host rather than read by a plugin.
pub const VIEW_SOURCE: &str = "view";

/// A view's query, as declared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSpec {
    /// The SQL text: one `SELECT` (or `WITH … SELECT`) over catalog tables,
    /// which name them as `database.table`.
    pub sql: Str,
    /// Where the SQL was written, for messages: the `.sql` file relative to
    /// the workspace root (`tables/src/tpch/revenue_by_nation.sql`), or the
    /// declaring module's file when the SQL is inline.
    pub file: Str,
    /// Where `codelake materialize` writes the view's rows, one Parquet object
    /// (`s3://bucket/key.parquet`); queries then read that copy, unless asked
    /// to run the SQL (`--live`). `None`: the view is always run live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materialize: Option<Str>,
}

impl TableSpec {
    /// `database.name`, the name SQL uses.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    /// Whether this is a view: rows computed by SQL over other catalog tables.
    pub fn is_view(&self) -> bool {
        self.view.is_some()
    }

    /// For a view with a `materialize` location, the table its written copy
    /// is: the same name, columns and expectations, read by the `s3-parquet`
    /// plugin from that location. Queries and `verify` use it in place of the
    /// view, so freshness is the copy's age.
    pub fn materialized_copy(&self) -> Option<TableSpec> {
        let location = self.view.as_ref()?.materialize.clone()?;
        Some(TableSpec {
            source: Cow::Borrowed("s3-parquet"),
            options: Cow::Owned(vec![SourceOption {
                key: Cow::Borrowed("location"),
                value: location,
            }]),
            view: None,
            ..self.clone()
        })
    }

    /// This spec, but a view reads its SQL even when it declares a
    /// `materialize` location: what `--live` serves.
    pub fn live(&self) -> TableSpec {
        let mut live = self.clone();
        if let Some(view) = &mut live.view {
            view.materialize = None;
        }
        live
    }

    /// How the table is accelerated, in words (`memory, refreshed every
    /// 15m`); `None` when every query reads its source.
    pub fn acceleration(&self) -> Option<String> {
        let kind = self.accelerate?;
        Some(match &self.refresh {
            Some(refresh) => format!("{kind}, refreshed every {}", refresh.text),
            None => kind.to_string(),
        })
    }

    /// The source options, typed, with their declared defaults; an error names
    /// the table, each option at fault and the values it accepts.
    pub fn source_options(&self) -> crate::Result<crate::source::SourceOptions> {
        crate::source::SourceOptions::from_spec(self)
    }

    /// The text of a source option as written, if it was given. To read an
    /// option's value, use [`source_options`](Self::source_options): it applies
    /// the defaults and the types.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|option| option.key == key)
            .map(|option| &*option.value)
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|column| column.name == name)
    }

    /// The Arrow schema, with table and column docs as metadata under
    /// [`DOC_METADATA_KEY`].
    pub fn arrow_schema(&self) -> Schema {
        let fields: Vec<Field> = self.columns.iter().map(ColumnSpec::arrow_field).collect();
        Schema::new(fields).with_metadata(
            [(DOC_METADATA_KEY.to_owned(), self.doc.to_string())]
                .into_iter()
                .collect(),
        )
    }

    /// The schema a table's provider answers queries with: [`Self::arrow_schema`]
    /// with the column docs but without the table's. DataFusion merges
    /// schema-level metadata when it joins two tables, and its logical and
    /// physical plans merge it differently, so a cross join of two tables that
    /// each carry a table doc failed ("schema metadata differs").
    pub fn query_schema(&self) -> Schema {
        let fields: Vec<Field> = self.columns.iter().map(ColumnSpec::arrow_field).collect();
        Schema::new(fields)
    }

    /// [`Self::query_schema`] with text and binary columns in Arrow's view
    /// layouts, as [`Self::arrow_schema_with_views`] has them.
    pub fn query_schema_with_views(&self) -> Schema {
        let schema = self.arrow_schema_with_views();
        Schema::new(schema.fields().clone())
    }

    /// [`Self::arrow_schema`] with text and binary columns in Arrow's view
    /// layouts (`Utf8View`, `BinaryView`): what DataFusion reads Parquet into
    /// by default (`datafusion.execution.parquet.schema_force_view_types`).
    /// Filters, joins and groupings then move 16-byte views, not the bytes
    /// themselves; declared types are unchanged, as a view holds the same values.
    pub fn arrow_schema_with_views(&self) -> Schema {
        let schema = self.arrow_schema();
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|field| {
                let viewed = match field.data_type() {
                    DataType::Utf8 => DataType::Utf8View,
                    DataType::Binary => DataType::BinaryView,
                    other => other.clone(),
                };
                field.as_ref().clone().with_data_type(viewed)
            })
            .collect();
        Schema::new(fields).with_metadata(schema.metadata().clone())
    }
}

/// One `key = value` source option. Values are kept as text, exactly as
/// declared; [`crate::source::validate`] checks them against their kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceOption {
    /// Option name, e.g. `delimiter`.
    pub key: Str,
    /// Option value as text, e.g. `|`.
    pub value: Str,
}

/// One column: name, type, nullability, documentation and checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// Column name as stored and queried.
    pub name: Str,
    /// Arrow type, from the field's Rust type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// True when the field is an `Option<..>`.
    pub nullable: bool,
    /// The field's `///` doc comment.
    pub doc: Str,
    /// Declared unique (a key): checked on a sample by `verify`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unique: bool,
    /// Smallest accepted value, for numeric columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest accepted value, for numeric columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ColumnSpec {
    /// The Arrow field, with the doc as metadata.
    pub fn arrow_field(&self) -> Field {
        Field::new(self.name.to_string(), self.ty.to_arrow(), self.nullable).with_metadata(
            [(DOC_METADATA_KEY.to_owned(), self.doc.to_string())]
                .into_iter()
                .collect(),
        )
    }

    /// The Rust type of the field that declares it: [`ColumnType::field_type`],
    /// in `Option<..>` when the column is nullable. Shown beside the Arrow
    /// type (the type SQL sees) by `codelake describe` and the reference docs.
    pub fn field_type(&self) -> String {
        let rust_type = self.ty.field_type();
        if self.nullable {
            format!("Option<{rust_type}>")
        } else {
            rust_type
        }
    }

    /// The column's checks in words, as `codelake describe`, the reference
    /// docs and the catalog site show them: `unique`, `0 ≤ x ≤ 24`, `≥ 1`.
    ///
    /// ```
    /// use catalog_core::{ColumnSpec, ColumnType};
    /// let column = ColumnSpec {
    ///     name: "n".into(), ty: ColumnType::Int64, nullable: false, doc: "".into(),
    ///     unique: true, min: Some(0.0), max: Some(24.0),
    /// };
    /// assert_eq!(column.checks(), ["unique", "0 ≤ x ≤ 24"]);
    /// ```
    pub fn checks(&self) -> Vec<String> {
        let mut checks = Vec::new();
        if self.unique {
            checks.push("unique".to_owned());
        }
        match (self.min, self.max) {
            (Some(min), Some(max)) => checks.push(format!("{min} ≤ x ≤ {max}")),
            (Some(min), None) => checks.push(format!("≥ {min}")),
            (None, Some(max)) => checks.push(format!("≤ {max}")),
            (None, None) => {}
        }
        checks
    }
}

/// The Arrow types a column can have: exactly those a supported Rust field
/// type maps to. A closed set keeps specs `const`-constructible and their JSON
/// stable; [`ColumnType::to_arrow`] gives the Arrow type itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ColumnType {
    /// `bool`
    Boolean,
    /// `i8`
    Int8,
    /// `i16`
    Int16,
    /// `i32`
    Int32,
    /// `i64`
    Int64,
    /// `u8`
    UInt8,
    /// `u16`
    UInt16,
    /// `u32`
    UInt32,
    /// `u64`
    UInt64,
    /// `f32`
    Float32,
    /// `f64`
    Float64,
    /// `String`
    Utf8,
    /// `Vec<u8>`
    Binary,
    /// `chrono::NaiveDate`: days since the Unix epoch.
    Date32,
    /// `chrono::NaiveDateTime` (`utc: false`) or `chrono::DateTime<Utc>`
    /// (`utc: true`), in microseconds.
    Timestamp {
        /// Whether the timestamp carries the `UTC` time zone.
        utc: bool,
    },
    /// `catalog_core::Decimal<P, S>`: exact decimal of `precision` digits,
    /// `scale` of them after the point.
    Decimal128 {
        /// Total number of digits, 1 to 38.
        precision: u8,
        /// Digits after the decimal point, 0 to `precision`.
        scale: i8,
    },
}

/// The time zone name used for [`ColumnType::Timestamp`] with `utc: true`.
pub const UTC: &str = "UTC";

impl ColumnType {
    /// The Arrow type this column has in record batches and files.
    pub fn to_arrow(self) -> DataType {
        match self {
            Self::Boolean => DataType::Boolean,
            Self::Int8 => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::UInt8 => DataType::UInt8,
            Self::UInt16 => DataType::UInt16,
            Self::UInt32 => DataType::UInt32,
            Self::UInt64 => DataType::UInt64,
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Utf8 => DataType::Utf8,
            Self::Binary => DataType::Binary,
            Self::Date32 => DataType::Date32,
            Self::Timestamp { utc } => {
                DataType::Timestamp(TimeUnit::Microsecond, utc.then(|| Arc::from(UTC)))
            }
            Self::Decimal128 { precision, scale } => DataType::Decimal128(precision, scale),
        }
    }

    /// The Rust field type that declares this column type.
    pub fn rust_type(self) -> String {
        match self {
            Self::Boolean => "bool".into(),
            Self::Int8 => "i8".into(),
            Self::Int16 => "i16".into(),
            Self::Int32 => "i32".into(),
            Self::Int64 => "i64".into(),
            Self::UInt8 => "u8".into(),
            Self::UInt16 => "u16".into(),
            Self::UInt32 => "u32".into(),
            Self::UInt64 => "u64".into(),
            Self::Float32 => "f32".into(),
            Self::Float64 => "f64".into(),
            Self::Utf8 => "String".into(),
            Self::Binary => "Vec<u8>".into(),
            Self::Date32 => "chrono::NaiveDate".into(),
            Self::Timestamp { utc: false } => "chrono::NaiveDateTime".into(),
            Self::Timestamp { utc: true } => "chrono::DateTime<chrono::Utc>".into(),
            Self::Decimal128 { precision, scale } => format!("Decimal<{precision}, {scale}>"),
        }
    }

    /// [`ColumnType::rust_type`] as the catalog's modules write it, with
    /// `chrono`'s types imported: `NaiveDate`, `DateTime<Utc>`.
    pub fn field_type(self) -> String {
        self.rust_type().replace("chrono::", "")
    }

    /// Whether `min`/`max` bounds make sense for this type.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Self::Int8
                | Self::Int16
                | Self::Int32
                | Self::Int64
                | Self::UInt8
                | Self::UInt16
                | Self::UInt32
                | Self::UInt64
                | Self::Float32
                | Self::Float64
                | Self::Decimal128 { .. }
        )
    }
}

impl fmt::Display for ColumnType {
    /// Arrow's own rendering of the type, e.g. `Decimal128(15, 2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_arrow(), f)
    }
}

/// What a table's data must satisfy beyond its schema; `verify` checks these.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// The newest data must be at most this old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
    /// The timestamp or date column whose largest value says how new the data
    /// is, for [`Expectations::freshness`]; when `None`, the newest object's
    /// last-modified time does. Only set together with `freshness`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness_column: Option<Str>,
    /// Fewest rows the table may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rows: Option<u64>,
    /// Most rows the table may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
}

/// A freshness bound as declared (`"24h"`) and in seconds.
pub type Freshness = Interval;

/// A positive whole number of seconds, as declared (`"24h"`, `"15m"`) and in
/// seconds: a freshness bound, or a refresh interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// The text as declared, kept for docs and messages.
    pub text: Str,
    /// The same bound in whole seconds.
    pub seconds: u64,
}

impl Expectations {
    /// The row bounds in words (`exactly 25`, `1 to 10`, `at least 1`, `at
    /// most 5`), or `None` when neither is declared.
    pub fn row_bounds(&self) -> Option<String> {
        match (self.min_rows, self.max_rows) {
            (Some(min), Some(max)) if min == max => Some(format!("exactly {min}")),
            (Some(min), Some(max)) => Some(format!("{min} to {max}")),
            (Some(min), None) => Some(format!("at least {min}")),
            (None, Some(max)) => Some(format!("at most {max}")),
            (None, None) => None,
        }
    }
}

impl Interval {
    /// Parses a duration such as `30m`, `24h`, `7d` or `1h 30m`.
    ///
    /// ```
    /// let fresh = catalog_core::Freshness::parse("1h 30m").unwrap();
    /// assert_eq!(fresh.seconds, 5400);
    /// assert!(catalog_core::Freshness::parse("daily").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let duration = parse_duration(text)?;
        // Intervals are compared with object timestamps in whole seconds; `1500ms` would be silently rounded.
        if duration.subsec_nanos() != 0 {
            return Err(format!(
                "`{text}` has a fraction of a second; use whole seconds, e.g. \"2s\""
            ));
        }
        let seconds = duration.as_secs();
        if seconds == 0 {
            return Err(format!(
                "`{text}` is zero; use a positive duration such as \"24h\""
            ));
        }
        Ok(Self {
            text: Cow::Owned(text.to_owned()),
            seconds,
        })
    }

    /// The interval as a [`Duration`].
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }
}

/// Parses a human duration (`10s`, `15m`, `24h`, `7d`, `1h 30m`), with an
/// error that shows valid examples.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    // humantime's own wording ("expected number at 0") says where, not what to write.
    humantime::parse_duration(text).map_err(|_| {
        format!("`{text}` is not a duration: write a number and a unit, e.g. \"30s\", \"15m\", \"24h\", \"7d\" or \"1h 30m\"")
    })
}
