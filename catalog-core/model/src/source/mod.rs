//! The source kinds codelake reads, and the options each one takes.
//!
//! This table is the one place a source's options are defined. The derive
//! checks declarations against it at compile time, plugins check specs against
//! it before any I/O, and the reference docs list it; a new source kind starts
//! with a new [`SourceDef`] here, and its typed options in `options.rs`.
//!
//! Readers never read option strings: [`SourceOptions::parse`] (or
//! [`SourceOptions::from_spec`]) turns them into typed values, with the
//! defaults declared here, exactly once.

mod options;

// Every kind's typed options (`CsvOptions`, …) and `SourceOptions`: all that
// `options.rs` makes public, so a new kind's struct needs no line here.
pub use options::*;

/// A source kind and the options it accepts.
#[derive(Debug)]
pub struct SourceDef {
    /// The name used in `source = "…"`.
    pub kind: &'static str,
    /// The plugin that serves the kind: the library of crate
    /// `codelake-plugin-<plugin>`. The host finds it by its file name, so a
    /// query opens only the libraries of the kinds it reads. (Any library
    /// whose `KINDS` lists the kind serves it; when this one is not in the
    /// plugin directory, the host opens every library to find one.)
    pub plugin: &'static str,
    /// One line on what the source reads.
    pub doc: &'static str,
    /// The required option that says what a table reads: `location`, `url`, `function`.
    pub target: &'static str,
    /// What to check when a table of this kind cannot be reached, if there is
    /// more to say than the error itself (for `verify`'s report).
    pub unreachable: Option<&'static str>,
    /// Every option the kind accepts.
    pub options: &'static [OptionDef],
}

/// One option of a source kind.
#[derive(Debug)]
pub struct OptionDef {
    /// The key, as written in `#[table(..)]`.
    pub key: &'static str,
    /// What values it takes.
    pub value: OptionValue,
    /// Whether a declaration must give it.
    pub required: bool,
    /// The value used when it is not given, if any.
    pub default: Option<&'static str>,
    /// One line on what it does.
    pub doc: &'static str,
    /// A value to show for this option, in the docs and in errors, where its
    /// shape's own example would mislead: `rows_path` and `next_link_path`
    /// are both JSON pointers, but to different things.
    pub example: Option<&'static str>,
}

impl OptionDef {
    /// The values it accepts, with its own example: for docs and errors.
    pub fn describe(&self) -> String {
        self.value.describe_with(self.example)
    }

    /// The example value its description shows, if any.
    pub fn example(&self) -> Option<&'static str> {
        self.example.or(self.value.example())
    }

    const fn with_example(self, example: &'static str) -> Self {
        Self {
            example: Some(example),
            ..self
        }
    }
}

/// The shape of an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionValue {
    /// `s3://bucket/key` or `s3://bucket/prefix/`.
    S3Uri,
    /// One file: a local path (as [`OptionValue::FilePath`]), or an S3
    /// object `s3://bucket/key` (not a prefix).
    FileOrObject,
    /// A table's root: `s3://bucket/prefix/`, or a local directory
    /// (absolute, relative to the environment's data directory, or `file://`).
    TableRoot,
    /// An instant in RFC 3339, e.g. `2026-01-31T12:00:00Z`.
    Timestamp,
    /// A local file path, absolute or relative to the environment's data
    /// directory (`file://` allowed); no other scheme.
    FilePath,
    /// `http://…` or `https://…`, or a path starting with `/` that resolves
    /// against the environment's HTTP base URL.
    Url,
    /// A single ASCII character.
    Char,
    /// `true` or `false`.
    Bool,
    /// An integer from 0 to `u32::MAX`.
    Count,
    /// A duration such as `10s`.
    Duration,
    /// A JSON pointer (RFC 6901) such as `/data/rows`; empty means the root.
    JsonPointer,
    /// An environment variable name, `[A-Z_][A-Z0-9_]*`.
    EnvVar,
    /// An HTTP header or query parameter name.
    Token,
    /// A Rust identifier.
    Ident,
    /// Column names, comma-separated.
    Columns,
    /// One of the listed words.
    OneOf(&'static [&'static str]),
}

impl OptionValue {
    /// A short description of the accepted values, for docs and errors.
    /// An option with an example of its own is described by
    /// [`OptionDef::describe`].
    pub fn describe(self) -> String {
        self.describe_with(None)
    }

    /// The example value in the shape's description, for the shapes that
    /// show exactly one; an option may show its own instead.
    pub fn example(self) -> Option<&'static str> {
        match self {
            Self::JsonPointer => Some("/data/rows"),
            Self::EnvVar => Some("FX_API_TOKEN"),
            Self::Columns => Some("year,month"),
            _ => None,
        }
    }

    /// The description with `example` in place of the shape's own, or after
    /// it as `e.g.` for a shape that shows none.
    fn describe_with(self, example: Option<&str>) -> String {
        let shown = example.or(self.example()).unwrap_or_default();
        let text = match self {
            Self::S3Uri => "an S3 URI, `s3://bucket/key` or `s3://bucket/prefix/`".into(),
            Self::FileOrObject => {
                "a local file path, absolute or relative to the environment's data directory, or an S3 object `s3://bucket/key`".into()
            }
            Self::TableRoot => {
                "a table's root directory: an S3 prefix `s3://bucket/prefix/`, or a local directory, absolute or relative to the environment's data directory".into()
            }
            Self::Timestamp => {
                "an instant in RFC 3339, e.g. \"2026-01-31T12:00:00Z\"".into()
            }
            Self::FilePath => {
                "a local file path, absolute or relative to the environment's data directory (no `s3://` or other scheme)".into()
            }
            Self::Url => {
                "an `http(s)://` URL, or a `/path` on the environment's HTTP base URL".into()
            }
            Self::Char => {
                "a single ASCII character other than a quote or line break, e.g. \",\", \"|\" or \"\\t\"".into()
            }
            Self::Bool => "`true` or `false`".into(),
            Self::Count => format!("an integer from 0 to {}", u32::MAX),
            Self::Duration => "a duration, e.g. \"10s\" or \"2m\"".into(),
            Self::JsonPointer => format!("a JSON pointer such as {shown:?} (empty for the root)"),
            Self::EnvVar => format!("an environment variable name such as {shown:?}"),
            Self::Token => "a name of letters, digits, `-` and `_`".into(),
            Self::Ident => "a Rust function name".into(),
            Self::Columns => format!("column names, comma-separated, e.g. {shown:?}"),
            Self::OneOf(words) => {
                let words: Vec<String> = words.iter().map(|word| format!("\"{word}\"")).collect();
                format!("one of {}", words.join(", "))
            }
        };
        match example {
            Some(example) if self.example().is_none() => format!("{text}, e.g. {example:?}"),
            _ => text,
        }
    }
}

const fn required(key: &'static str, value: OptionValue, doc: &'static str) -> OptionDef {
    OptionDef {
        key,
        value,
        required: true,
        default: None,
        doc,
        example: None,
    }
}

const fn optional(
    key: &'static str,
    value: OptionValue,
    default: Option<&'static str>,
    doc: &'static str,
) -> OptionDef {
    OptionDef {
        key,
        value,
        required: false,
        default,
        doc,
        example: None,
    }
}

/// Every source kind codelake knows.
pub const SOURCES: &[SourceDef] = &[
    SourceDef {
        kind: "s3-parquet",
        plugin: "s3-parquet",
        target: "location",
        unreachable: Some(
            "check `location`, the S3 endpoint and credentials of the environment (docs/reference/configuration.md), and that the object exists",
        ),
        doc: "Parquet objects on any S3-compatible store: one key, or a prefix with Hive-style partitions.",
        options: &[
            required(
                "location",
                OptionValue::S3Uri,
                "The object, or a prefix ending in `/` for a partitioned dataset.",
            ),
            optional(
                "partitions",
                OptionValue::Columns,
                None,
                "With a prefix: the declared columns read from Hive-style `column=value` directories, outermost first.",
            ),
        ],
    },
    SourceDef {
        kind: "parquet",
        plugin: "s3-parquet",
        target: "location",
        unreachable: Some("check `location` and the environment's data directory"),
        doc: "Parquet files on the local disk, no S3 needed: one file, or a directory with Hive-style partitions.",
        options: &[
            required(
                "location",
                OptionValue::FilePath,
                "The file, or a directory ending in `/` (every `.parquet` file under it), absolute or relative to the environment's data directory; `file://` allowed.",
            ),
            optional(
                "partitions",
                OptionValue::Columns,
                None,
                "With a directory: the declared columns read from Hive-style `column=value` directories, outermost first.",
            ),
        ],
    },
    SourceDef {
        kind: "csv",
        plugin: "csv",
        target: "location",
        unreachable: Some(
            "check `location`, the environment's data directory, and for an S3 object the S3 endpoint and credentials of the environment",
        ),
        doc: "A CSV file on the local disk or an object on S3, read with the declared schema (never inferred), columns matched by the header's names.",
        options: &[
            required(
                "location",
                OptionValue::FileOrObject,
                "The file (absolute, or relative to the environment's data directory) or the S3 object (`s3://bucket/key.csv`) to read.",
            ),
            optional(
                "delimiter",
                OptionValue::Char,
                Some(","),
                "Field separator.",
            ),
            optional(
                "header",
                OptionValue::Bool,
                Some("true"),
                "Whether the first line names the columns.",
            ),
        ],
    },
    SourceDef {
        kind: "http-api",
        plugin: "http-api",
        target: "url",
        unreachable: Some(
            "check `url`, the HTTP base URL of the environment and the credential variable named by `auth_env`",
        ),
        doc: "A JSON API over HTTP(S): rows are an array found by a JSON pointer, optionally paginated.",
        options: &[
            required("url", OptionValue::Url, "Where to GET the rows."),
            optional(
                "rows_path",
                OptionValue::JsonPointer,
                Some(""),
                "JSON pointer to the array of rows in each response.",
            ),
            optional(
                "pagination",
                OptionValue::OneOf(&["none", "next_link", "page"]),
                Some("none"),
                "How to reach further pages: follow a link in the body, or count a page parameter.",
            ),
            optional(
                "next_link_path",
                OptionValue::JsonPointer,
                None,
                "With `pagination = \"next_link\"`: JSON pointer to the next page's URL.",
            )
            .with_example("/links/next"),
            optional(
                "page_param",
                OptionValue::Token,
                None,
                "With `pagination = \"page\"`: the query parameter holding the page number.",
            ),
            optional(
                "auth_header",
                OptionValue::Token,
                None,
                "Header that carries the credential, e.g. `Authorization`.",
            ),
            optional(
                "auth_env",
                OptionValue::EnvVar,
                None,
                "Environment variable holding the credential; the secret never appears in the catalog.",
            ),
            optional(
                "timeout",
                OptionValue::Duration,
                Some("30s"),
                "Per-request timeout.",
            ),
            optional(
                "max_retries",
                OptionValue::Count,
                Some("3"),
                "Retries of a failed request, with backoff.",
            ),
        ],
    },
    SourceDef {
        kind: "delta",
        plugin: "delta",
        target: "location",
        unreachable: Some(
            "check `location`, the S3 endpoint and credentials of the environment (docs/reference/configuration.md), and that the table's `_delta_log/` exists",
        ),
        doc: "A Delta Lake table on S3 or the local disk: its live files and partition values come from the Delta log, and the host scans them as Parquet.",
        options: &[
            required(
                "location",
                OptionValue::TableRoot,
                "The table's root, the directory that holds `_delta_log/`: `s3://bucket/prefix/`, or a local directory.",
            ),
            optional(
                "version",
                OptionValue::Count,
                None,
                "Time travel: read the table as of this commit version instead of the latest.",
            ),
            optional(
                "timestamp",
                OptionValue::Timestamp,
                None,
                "Time travel: read the table as of the last commit at or before this instant.",
            ),
        ],
    },
    SourceDef {
        kind: "function",
        plugin: "function",
        target: "function",
        unreachable: None,
        doc: "Rows computed by a Rust function compiled into the function plugin.",
        options: &[required(
            "function",
            OptionValue::Ident,
            "Name of the Rust function that returns the rows.",
        )],
    },
    SourceDef {
        kind: "jsonl",
        plugin: "jsonl",
        target: "location",
        unreachable: Some("check `location` and the environment's data directory"),
        doc: "Newline-delimited JSON files, one object per line, read with the declared columns.",
        options: &[required(
            "location",
            OptionValue::FilePath,
            "The file: relative to the environment's data directory, absolute, or a `file://` URL.",
        )],
    },
    // new-plugin: sources
];

/// The definition of a source kind, if codelake knows it.
pub fn source(kind: &str) -> Option<&'static SourceDef> {
    SOURCES.iter().find(|source| source.kind == kind)
}

/// Where `spec`'s data is, as written: its `location` or `url`, without
/// parsing the options (so a report can name it even when they are invalid);
/// `None` for rows computed by a function.
pub fn declared_location(spec: &crate::TableSpec) -> Option<&str> {
    let def = source(&spec.source)?;
    let target = def.options.iter().find(|option| option.key == def.target)?;
    let is_location = matches!(
        target.value,
        OptionValue::S3Uri
            | OptionValue::TableRoot
            | OptionValue::FileOrObject
            | OptionValue::FilePath
            | OptionValue::Url
    );
    is_location.then(|| spec.option(def.target)).flatten()
}

/// The names of every source kind, for error messages.
pub fn kinds() -> String {
    let kinds: Vec<String> = SOURCES
        .iter()
        .map(|source| format!("\"{}\"", source.kind))
        .collect();
    kinds.join(", ")
}

/// One problem with a table's source options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionProblem {
    /// What kind of problem it is.
    pub kind: ProblemKind,
    /// The option at fault (or missing); `None` when the source kind is unknown.
    pub key: Option<String>,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// The kinds of [`OptionProblem`], so callers can point at the right place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The source kind itself is unknown.
    UnknownSource,
    /// A key this source kind does not take.
    UnknownOption,
    /// A known key with a value of the wrong shape: the value is at fault.
    InvalidValue,
    /// A required option is absent.
    Missing,
    /// Options that only make sense together, given alone.
    Conflict,
}

impl OptionProblem {
    fn at(kind: ProblemKind, key: &str, message: String) -> Self {
        Self {
            kind,
            key: Some(key.to_owned()),
            message,
        }
    }
}

/// Checks a source kind and its options; returns every problem at once.
///
/// ```
/// use catalog_core::source::validate;
/// assert!(validate("csv", &[("location", "nation.csv"), ("delimiter", "|")]).is_ok());
/// let problems = validate("csv", &[("delimiter", "||")]).unwrap_err();
/// assert_eq!(problems.len(), 2); // bad delimiter, and `location` is missing
/// ```
pub fn validate(kind: &str, options: &[(&str, &str)]) -> Result<(), Vec<OptionProblem>> {
    SourceOptions::parse(kind, options).map(drop)
}

/// `"The file."` → `"the file."`, to continue a sentence.
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

fn unknown_option(def: &SourceDef, key: &str) -> String {
    let keys: Vec<&str> = def.options.iter().map(|option| option.key).collect();
    match SOURCES
        .iter()
        .find(|other| other.options.iter().any(|option| option.key == key))
    {
        Some(other) => format!(
            "`{key}` is an option of source `{}`, not of `{}` (whose options are: {})",
            other.kind,
            def.kind,
            keys.join(", ")
        ),
        None => format!(
            "unknown option `{key}` for source `{}`; its options are: {}",
            def.kind,
            keys.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::OptionValue::{self, *};

    fn check(shape: OptionValue, accepted: &[&str], refused: &[&str]) {
        for value in accepted {
            assert!(
                shape.parse(value).is_some(),
                "{shape:?} should accept {value:?}"
            );
        }
        for value in refused {
            assert!(
                shape.parse(value).is_none(),
                "{shape:?} should refuse {value:?}"
            );
        }
    }

    #[test]
    fn option_shapes() {
        check(
            S3Uri,
            &["s3://b/k.parquet", "s3://b/prefix/", "s3://b/"],
            &["s3://b", "s3:///k", "b/k", ""],
        );
        check(
            FilePath,
            &["tpch/nation.csv", "/data/x.csv", "file:///data/x.csv"],
            &["", "s3://b/x.csv", "https://h/x.csv"],
        );
        check(
            Url,
            &["https://api.example/x", "http://h", "/fx/rates"],
            &["//evil.example/x", "https://", "ftp://h/x", "fx"],
        );
        check(
            Char,
            &[",", "|", "\t", " ", ";"],
            &["\"", "\n", "\r", "||", "é", ""],
        );
        check(
            Count,
            &["0", "3", "4294967295"],
            &["-1", "3.5", "", "4294967296"],
        );
        check(EnvVar, &["FX_TOKEN", "_X1"], &["fx", "1X", "X-Y", ""]);
        check(
            FileOrObject,
            &["tpch/nation.csv", "/data/x.csv", "s3://b/nation.csv"],
            &["s3://b/prefix/", "s3://b", "https://h/x.csv", ""],
        );
        check(
            TableRoot,
            &[
                "s3://b/orders/",
                "s3://b/",
                "tpch/orders",
                "/data/orders/",
                "file:///d/",
            ],
            &["s3://b", "https://h/t/", ""],
        );
        check(
            Timestamp,
            &["2026-01-31T12:00:00Z", "2026-01-31T12:00:00.5+01:00"],
            &["2026-01-31", "yesterday", ""],
        );
        check(JsonPointer, &["", "/data/rows"], &["data"]);
    }

    /// Two options of one kind never show the same example: `rows_path` and
    /// `next_link_path` share a shape, but point at different things.
    #[test]
    fn each_option_shows_an_example_of_its_own() {
        for def in super::SOURCES {
            let mut seen = std::collections::BTreeMap::new();
            for option in def.options {
                let Some(example) = option.example() else {
                    continue;
                };
                let (key, description) = (option.key, option.describe());
                assert!(
                    option.value.parse(example).is_some(),
                    "{}.{key}: its example {example:?} is not {description}",
                    def.kind
                );
                assert!(
                    description.contains(&format!("{example:?}")),
                    "{}.{key}: {description}",
                    def.kind
                );
                if let Some(other) = seen.insert(example, key) {
                    panic!(
                        "source `{}`: `{other}` and `{key}` both show the example {example:?}",
                        def.kind
                    );
                }
            }
        }
        let next_link = super::source("http-api")
            .and_then(|def| def.options.iter().find(|o| o.key == "next_link_path"))
            .unwrap();
        assert!(
            next_link.describe().contains("\"/links/next\""),
            "{}",
            next_link.describe()
        );
    }
}
