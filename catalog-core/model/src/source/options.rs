//! A table's source options as typed values, parsed once from [`SOURCES`].
//!
//! Every reader of an option (the plugins, `data seed`, `new-table`, `verify`,
//! the benchmarks) takes these types; none reads the option strings or writes
//! a default of its own. The defaults are the ones [`SOURCES`] declares, so the
//! reference docs, the derive's checks and every reader agree.
//!
//! ```
//! use catalog_core::source::{Pagination, SourceOptions};
//!
//! let options = SourceOptions::parse("csv", &[("location", "nation.csv")]).unwrap();
//! let SourceOptions::Csv(csv) = options else { unreachable!() };
//! assert_eq!((csv.delimiter, csv.header), (b',', true)); // the declared defaults
//!
//! let http = SourceOptions::parse("http-api", &[("url", "/fx"), ("max_retries", "4294967296")]);
//! let problems = http.unwrap_err();
//! assert!(problems[0].message.contains("max_retries"), "{}", problems[0].message);
//! # let _ = Pagination::None;
//! ```
//!
//! [`SOURCES`]: super::SOURCES

use std::time::Duration;

use super::{OptionDef, OptionProblem, OptionValue, ProblemKind, SourceDef, kinds, source};
use crate::{Error, TableSpec};

/// A table's source options, typed, with the declared defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceOptions {
    /// `source = "s3-parquet"`.
    S3Parquet(S3ParquetOptions),
    /// `source = "parquet"`.
    Parquet(ParquetOptions),
    /// `source = "csv"`.
    Csv(CsvOptions),
    /// `source = "http-api"`.
    HttpApi(HttpApiOptions),
    /// `source = "function"`.
    Function(FunctionOptions),
    /// `source = "delta"`.
    Delta(DeltaOptions),
    /// `source = "jsonl"`.
    Jsonl(JsonlOptions),
    // new-plugin: variants
}

/// The options of a `delta` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeltaOptions {
    /// The table's root, the directory holding `_delta_log/`: `s3://bucket/prefix/`,
    /// or a local directory (absolute, relative to the data directory, `file://`).
    pub location: String,
    /// Which version of the table is read.
    pub version: DeltaVersion,
}

/// Which version of a Delta table is read. Exhaustive on purpose: a new way
/// of pinning must be a compile error wherever a snapshot is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaVersion {
    /// The latest commit, followed as the table changes.
    Latest,
    /// This commit version (`version = N`).
    At(u64),
    /// The last commit at or before this instant, in milliseconds since the
    /// Unix epoch (`timestamp = "…"`, kept as written in `text`).
    AsOf {
        /// Milliseconds since the Unix epoch.
        millis: i64,
        /// The instant as written.
        text: String,
    },
}

impl CsvOptions {
    /// Whether the file is an object on S3 (else a local file).
    pub fn on_s3(&self) -> bool {
        self.location.starts_with("s3://")
    }
}

impl DeltaOptions {
    /// Whether the table is read from S3 (else from the local disk).
    pub fn on_s3(&self) -> bool {
        self.location.starts_with("s3://")
    }
}

/// The options of an `s3-parquet` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3ParquetOptions {
    /// `s3://bucket/key`, or a prefix ending in `/`.
    pub location: String,
    /// Hive-style partition columns, outermost first; empty when not partitioned.
    pub partitions: Vec<String>,
}

/// The options of a `parquet` table: Parquet files on the local disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParquetOptions {
    /// The file, or a directory ending in `/`, absolute or relative to the
    /// environment's data directory (`file://` allowed).
    pub location: String,
    /// Hive-style partition columns, outermost first; empty when not partitioned.
    pub partitions: Vec<String>,
}

/// The options of a `csv` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CsvOptions {
    /// The file, absolute or relative to the environment's data directory,
    /// or an object on S3 (`s3://bucket/key.csv`).
    pub location: String,
    /// The field separator, one ASCII byte.
    pub delimiter: u8,
    /// Whether the first line names the columns.
    pub header: bool,
}

/// The options of an `http-api` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpApiOptions {
    /// A full URL, or a `/path` on the environment's HTTP base URL.
    pub url: String,
    /// JSON pointer to the array of rows in each response; empty for the root.
    pub rows_path: String,
    /// How further pages are reached.
    pub pagination: Pagination,
    /// The credential to send, if any.
    pub auth: Option<HttpAuth>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries of a failed request, with backoff.
    pub max_retries: u32,
}

/// How an `http-api` table reaches its further pages. Exhaustive on purpose:
/// a new mode must be a compile error wherever pages are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// One page.
    None,
    /// Follow the URL found at this JSON pointer in each response.
    NextLink {
        /// `next_link_path`.
        path: String,
    },
    /// Count pages from 1 in this query parameter.
    Page {
        /// `page_param`.
        param: String,
    },
}

/// A credential an `http-api` table sends in a header. Only the variable's
/// *name* is part of the catalog; its value is read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpAuth {
    /// The header, e.g. `Authorization`.
    pub header: String,
    /// The environment variable holding the credential.
    pub env: String,
}

/// The options of a `function` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionOptions {
    /// The Rust function that returns the rows.
    pub function: String,
}

/// The options of a `jsonl` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonlOptions {
    /// The file: relative to the environment's data directory, absolute, or `file://`.
    pub location: String,
}

// new-plugin: options

impl SourceOptions {
    /// Parses `options` of source `kind`; returns every problem at once.
    pub fn parse(kind: &str, options: &[(&str, &str)]) -> Result<Self, Vec<OptionProblem>> {
        let Some(def) = source(kind) else {
            return Err(vec![OptionProblem {
                kind: ProblemKind::UnknownSource,
                key: None,
                message: format!("unknown source `{kind}`; use one of {}", kinds()),
            }]);
        };
        let mut values = Values::read(def, options);
        let parsed = match def.kind {
            "s3-parquet" => Self::S3Parquet(S3ParquetOptions {
                location: values.text("location"),
                partitions: values.columns("partitions"),
            }),
            "parquet" => Self::Parquet(ParquetOptions {
                location: values.text("location"),
                partitions: values.columns("partitions"),
            }),
            "csv" => Self::Csv(CsvOptions {
                location: values.text("location"),
                delimiter: values.char("delimiter"),
                header: values.bool("header"),
            }),
            "http-api" => Self::HttpApi(http_api(&mut values)),
            "function" => Self::Function(FunctionOptions {
                function: values.text("function"),
            }),
            "delta" => Self::Delta(delta(&mut values)),
            "jsonl" => Self::Jsonl(JsonlOptions {
                location: values.text("location"),
            }),
            // new-plugin: parse
            other => {
                values.problem(None, format!("source `{other}` has no typed options yet"));
                return Err(values.problems);
            }
        };
        if values.problems.is_empty() {
            Ok(parsed)
        } else {
            Err(values.problems)
        }
    }

    /// The options of `spec`, or an error naming the table, each option at
    /// fault and the values it accepts.
    pub fn from_spec(spec: &TableSpec) -> Result<Self, Error> {
        let options: Vec<(&str, &str)> =
            spec.options.iter().map(|o| (&*o.key, &*o.value)).collect();
        Self::parse(&spec.source, &options).map_err(|problems| Error::Options {
            table: spec.qualified_name(),
            problems: problems
                .into_iter()
                .map(|problem| problem.message)
                .collect::<Vec<_>>()
                .join("; "),
        })
    }

    /// The source kind, as in `source = "…"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::S3Parquet(_) => "s3-parquet",
            Self::Parquet(_) => "parquet",
            Self::Csv(_) => "csv",
            Self::HttpApi(_) => "http-api",
            Self::Function(_) => "function",
            Self::Delta(_) => "delta",
            Self::Jsonl(_) => "jsonl",
            // new-plugin: kind
        }
    }

    /// Where the data is, for messages and reports: the `location` or `url`;
    /// `None` for rows computed by a function.
    pub fn location(&self) -> Option<&str> {
        match self {
            Self::S3Parquet(options) => Some(&options.location),
            Self::Parquet(options) => Some(&options.location),
            Self::Csv(options) => Some(&options.location),
            Self::HttpApi(options) => Some(&options.url),
            Self::Delta(options) => Some(&options.location),
            Self::Function(_) => None,
            Self::Jsonl(options) => Some(&options.location),
            // new-plugin: location
        }
    }

    /// What the table reads: its [`location`](Self::location), or the function.
    pub fn target(&self) -> &str {
        match self {
            Self::Function(options) => &options.function,
            _ => self.location().unwrap_or_default(),
        }
    }
}

macro_rules! kind_options {
    ($($variant:ident($options:ident)),* $(,)?) => {$(
        impl TryFrom<SourceOptions> for $options {
            type Error = SourceOptions;

            /// The options of this kind, or the options of another kind back.
            fn try_from(options: SourceOptions) -> Result<Self, SourceOptions> {
                match options {
                    SourceOptions::$variant(options) => Ok(options),
                    other => Err(other),
                }
            }
        }
    )*};
}

kind_options![
    S3Parquet(S3ParquetOptions),
    Parquet(ParquetOptions),
    Csv(CsvOptions),
    HttpApi(HttpApiOptions),
    Function(FunctionOptions),
    Delta(DeltaOptions),
    Jsonl(JsonlOptions),
    // new-plugin: kind_options
];

/// The `delta` options: a version and a timestamp pin the same thing, so not both.
fn delta(values: &mut Values<'_>) -> DeltaOptions {
    if values.is_given("version") && values.is_given("timestamp") {
        values.conflict(
            "timestamp",
            "`version` and `timestamp` both pin the version read: keep one".into(),
        );
    }
    let version = match (
        values.optional_count("version"),
        values.optional_text("timestamp"),
    ) {
        (Some(version), _) => DeltaVersion::At(u64::from(version)),
        (None, Some(text)) => match chrono::DateTime::parse_from_rfc3339(&text) {
            Ok(instant) => DeltaVersion::AsOf {
                millis: instant.timestamp_millis(),
                text,
            },
            // Refused by the shape already.
            Err(_) => DeltaVersion::Latest,
        },
        (None, None) => DeltaVersion::Latest,
    };
    DeltaOptions {
        location: values.text("location"),
        version,
    }
}

/// The `http-api` options, with the rules for options that only make sense together.
fn http_api(values: &mut Values<'_>) -> HttpApiOptions {
    let mode = values.text("pagination");
    // A pagination mode without its companion option could never find page 2.
    for (name, companion, example) in [
        ("next_link", "next_link_path", "/links/next"),
        ("page", "page_param", "page"),
    ] {
        match (mode == name, values.is_given(companion)) {
            (true, false) => values.conflict(
                "pagination",
                format!(
                    "`pagination = \"{name}\"` needs `{companion}` as well, e.g. `{companion} = \"{example}\"`"
                ),
            ),
            (false, true) => values.conflict(
                companion,
                format!(
                    "`{companion}` only applies with `pagination = \"{name}\"`: add that, or remove `{companion}`"
                ),
            ),
            _ => {}
        }
    }
    let next_link_path = values.optional_text("next_link_path");
    let page_param = values.optional_text("page_param");
    let pagination = match (mode.as_str(), next_link_path, page_param) {
        ("next_link", Some(path), _) => Pagination::NextLink { path },
        ("page", _, Some(param)) => Pagination::Page { param },
        // Any other combination was recorded as a problem above.
        _ => Pagination::None,
    };
    // A header with no secret, or a secret with no header, is a half-configured credential.
    let auth = match (values.is_given("auth_header"), values.is_given("auth_env")) {
        (true, true) => values
            .optional_text("auth_header")
            .zip(values.optional_text("auth_env"))
            .map(|(header, env)| HttpAuth { header, env }),
        (true, false) => {
            values.conflict(
                "auth_header",
                "`auth_header` needs `auth_env` as well: the environment variable that holds the secret, e.g. `auth_env = \"API_TOKEN\"`".into(),
            );
            None
        }
        (false, true) => {
            values.conflict(
                "auth_env",
                "`auth_env` needs `auth_header` as well: the header that carries the secret, e.g. `auth_header = \"Authorization\"`".into(),
            );
            None
        }
        (false, false) => None,
    };
    HttpApiOptions {
        url: values.text("url"),
        rows_path: values.text("rows_path"),
        pagination,
        auth,
        timeout: values.duration("timeout"),
        max_retries: values.count("max_retries"),
    }
}

/// An option's value, parsed by its [`OptionValue`] shape.
#[derive(Debug, Clone)]
pub(super) enum Parsed {
    Text(String),
    Char(u8),
    Bool(bool),
    Count(u32),
    Duration(Duration),
    Columns(Vec<String>),
}

/// The options of one table as given, checked against its kind's definition.
struct Values<'a> {
    def: &'static SourceDef,
    /// The options as written, valid or not.
    raw: &'a [(&'a str, &'a str)],
    given: Vec<(&'static OptionDef, &'a str, Parsed)>,
    problems: Vec<OptionProblem>,
}

impl<'a> Values<'a> {
    /// Parses every given option and records what is unknown, invalid or missing.
    fn read(def: &'static SourceDef, options: &'a [(&'a str, &'a str)]) -> Self {
        let mut values = Self {
            def,
            raw: options,
            given: Vec::new(),
            problems: Vec::new(),
        };
        for &(key, value) in options {
            match def.options.iter().find(|option| option.key == key) {
                None => values.problems.push(OptionProblem::at(
                    ProblemKind::UnknownOption,
                    key,
                    super::unknown_option(def, key),
                )),
                Some(option) => match option.value.parse(value) {
                    Some(parsed) => values.given.push((option, value, parsed)),
                    None => values.problems.push(OptionProblem::at(
                        ProblemKind::InvalidValue,
                        key,
                        format!(
                            "`{key} = \"{value}\"` is not valid: expected {}",
                            option.describe()
                        ),
                    )),
                },
            }
        }
        for option in def.options.iter().filter(|option| option.required) {
            if !options.iter().any(|&(key, _)| key == option.key) {
                values.problems.push(OptionProblem {
                    kind: ProblemKind::Missing,
                    key: Some(option.key.to_owned()),
                    message: format!(
                        "source `{}` needs `{} = \"…\"`, {}: {}",
                        def.kind,
                        option.key,
                        option.describe(),
                        super::lower_first(option.doc)
                    ),
                });
            }
        }
        values
    }

    /// Whether `key` was written, valid or not.
    fn is_given(&self, key: &str) -> bool {
        self.raw.iter().any(|&(given, _)| given == key)
    }

    fn problem(&mut self, key: Option<&str>, message: String) {
        self.problems.push(OptionProblem {
            kind: ProblemKind::InvalidValue,
            key: key.map(str::to_owned),
            message,
        });
    }

    fn conflict(&mut self, key: &str, message: String) {
        self.problems
            .push(OptionProblem::at(ProblemKind::Conflict, key, message));
    }

    /// The given value, else the declared default, parsed. `None` when the
    /// option is absent and has no default, or its given value was invalid
    /// (already recorded as a problem).
    fn get(&mut self, key: &str) -> Option<Parsed> {
        if let Some((_, _, parsed)) = self.given.iter().find(|(option, ..)| option.key == key) {
            return Some(parsed.clone());
        }
        let option = self.def.options.iter().find(|option| option.key == key)?;
        if self.problems.iter().any(|p| p.key.as_deref() == Some(key)) {
            return None;
        }
        let default = option.default?;
        let parsed = option.value.parse(default);
        if parsed.is_none() {
            // A mistake in `SOURCES` itself; a unit test keeps it from shipping.
            self.problem(
                Some(key),
                format!("the default of `{key}`, \"{default}\", does not parse"),
            );
        }
        parsed
    }

    fn optional_text(&mut self, key: &str) -> Option<String> {
        match self.get(key)? {
            Parsed::Text(text) => Some(text),
            other => self.wrong_shape(key, Some(other)),
        }
    }

    /// A required option, or one with a default. Absent only when a problem
    /// is recorded, and then the whole value is discarded.
    fn text(&mut self, key: &str) -> String {
        self.optional_text(key).unwrap_or_default()
    }

    fn char(&mut self, key: &str) -> u8 {
        match self.get(key) {
            Some(Parsed::Char(byte)) => byte,
            other => self.wrong_shape(key, other).unwrap_or_default(),
        }
    }

    fn bool(&mut self, key: &str) -> bool {
        match self.get(key) {
            Some(Parsed::Bool(value)) => value,
            other => self.wrong_shape(key, other).unwrap_or_default(),
        }
    }

    fn optional_count(&mut self, key: &str) -> Option<u32> {
        match self.get(key) {
            Some(Parsed::Count(value)) => Some(value),
            other => self.wrong_shape(key, other),
        }
    }

    fn count(&mut self, key: &str) -> u32 {
        match self.get(key) {
            Some(Parsed::Count(value)) => value,
            other => self.wrong_shape(key, other).unwrap_or_default(),
        }
    }

    fn duration(&mut self, key: &str) -> Duration {
        match self.get(key) {
            Some(Parsed::Duration(value)) => value,
            other => self.wrong_shape(key, other).unwrap_or_default(),
        }
    }

    fn columns(&mut self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Parsed::Columns(columns)) => columns,
            None => Vec::new(),
            other => self.wrong_shape(key, other).unwrap_or_default(),
        }
    }

    /// Records that `SOURCES` gives `key` another shape than its reader expects
    /// (a mistake in this file, kept from shipping by the unit tests).
    fn wrong_shape<T>(&mut self, key: &str, found: Option<Parsed>) -> Option<T> {
        if found.is_some() {
            self.problem(
                Some(key),
                format!("option `{key}` is read as another shape than `SOURCES` declares"),
            );
        }
        None
    }
}

impl OptionValue {
    /// The typed value of `value`, or `None` when this shape does not accept it.
    pub(super) fn parse(self, value: &str) -> Option<Parsed> {
        let is_token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let text = || Some(Parsed::Text(value.to_owned()));
        match self {
            // `s3://bucket/` is the whole bucket as a prefix; `s3://bucket` names no object.
            Self::S3Uri => value
                .strip_prefix("s3://")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(bucket, _)| !bucket.is_empty())
                .then(text)?,
            Self::FileOrObject => ((Self::S3Uri.parse(value).is_some() && !value.ends_with('/'))
                || Self::FilePath.parse(value).is_some())
            .then(text)?,
            Self::TableRoot => (Self::S3Uri.parse(value).is_some()
                || Self::FilePath.parse(value).is_some())
            .then(text)?,
            Self::Timestamp => chrono::DateTime::parse_from_rfc3339(value)
                .is_ok()
                .then(text)?,
            Self::FilePath => (!value.is_empty()
                && (!value.contains("://") || value.starts_with("file://")))
            .then(text)?,
            Self::Url => (value.starts_with("http://") && value.len() > "http://".len()
                || value.starts_with("https://") && value.len() > "https://".len()
                // `//host/path` would leave the environment's host, credentials and all.
                || value.starts_with('/') && !value.starts_with("//"))
            .then(text)?,
            // A quote or line break cannot separate fields; a tab can.
            Self::Char => {
                let mut chars = value.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None)
                        if c == '\t' || (c.is_ascii_graphic() || c == ' ') && c != '"' =>
                    {
                        Some(Parsed::Char(c as u8))
                    }
                    _ => None,
                }
            }
            Self::Bool => match value {
                "true" => Some(Parsed::Bool(true)),
                "false" => Some(Parsed::Bool(false)),
                _ => None,
            },
            Self::Count => value.parse::<u32>().ok().map(Parsed::Count),
            Self::Duration => crate::spec::parse_duration(value)
                .ok()
                .map(Parsed::Duration),
            Self::JsonPointer => (value.is_empty() || value.starts_with('/')).then(text)?,
            Self::EnvVar => (value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                && value
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .then(text)?,
            Self::Token => (!value.is_empty() && value.chars().all(is_token_char)).then(text)?,
            Self::Columns => {
                let columns: Vec<String> = value
                    .split(',')
                    .map(|column| column.trim().to_owned())
                    .collect();
                columns
                    .iter()
                    .all(|column| Self::Ident.parse(column).is_some())
                    .then_some(Parsed::Columns(columns))
            }
            Self::Ident => (value
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then(text)?,
            Self::OneOf(words) => words.contains(&value).then(text)?,
        }
    }
}

#[cfg(test)]
mod tests;
