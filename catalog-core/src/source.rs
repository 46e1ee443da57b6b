//! The source kinds codelake reads, and the options each one takes.
//!
//! This table is the one place a source's options are defined. The derive
//! checks declarations against it at compile time, plugins check specs against
//! it before any I/O, and the reference docs list it; a new source kind starts
//! with a new [`SourceDef`] here.

/// A source kind and the options it accepts.
#[derive(Debug)]
pub struct SourceDef {
    /// The name used in `source = "…"`.
    pub kind: &'static str,
    /// One line on what the source reads.
    pub doc: &'static str,
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
}

/// The shape of an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionValue {
    /// `s3://bucket/key` or `s3://bucket/prefix/`.
    S3Uri,
    /// `s3://bucket/key`, or a file path (relative paths resolve against the
    /// environment's data directory).
    Location,
    /// `http://…` or `https://…`, or a path starting with `/` that resolves
    /// against the environment's HTTP base URL.
    Url,
    /// A single ASCII character.
    Char,
    /// `true` or `false`.
    Bool,
    /// A non-negative integer.
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
    pub fn describe(self) -> String {
        match self {
            Self::S3Uri => "an S3 URI, `s3://bucket/key` or `s3://bucket/prefix/`".into(),
            Self::Location => "an S3 URI (`s3://bucket/key`) or a file path".into(),
            Self::Url => {
                "an `http(s)://` URL, or a `/path` on the environment's HTTP base URL".into()
            }
            Self::Char => {
                "a single ASCII character other than a quote or line break, e.g. \",\", \"|\" or \"\\t\"".into()
            }
            Self::Bool => "`true` or `false`".into(),
            Self::Count => "a non-negative integer".into(),
            Self::Duration => "a duration, e.g. \"10s\" or \"2m\"".into(),
            Self::JsonPointer => {
                "a JSON pointer such as \"/data/rows\" (empty for the root)".into()
            }
            Self::EnvVar => "an environment variable name such as \"FX_API_TOKEN\"".into(),
            Self::Token => "a name of letters, digits, `-` and `_`".into(),
            Self::Ident => "a Rust function name".into(),
            Self::Columns => "column names, comma-separated, e.g. \"year,month\"".into(),
            Self::OneOf(words) => {
                let words: Vec<String> = words.iter().map(|word| format!("\"{word}\"")).collect();
                format!("one of {}", words.join(", "))
            }
        }
    }

    fn accepts(self, value: &str) -> bool {
        let is_token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        match self {
            // `s3://bucket/` is the whole bucket as a prefix; `s3://bucket` names no object.
            Self::S3Uri => value
                .strip_prefix("s3://")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(bucket, _)| !bucket.is_empty()),
            Self::Location => {
                !value.is_empty() && (!value.starts_with("s3://") || Self::S3Uri.accepts(value))
            }
            Self::Url => {
                value.starts_with("http://") && value.len() > "http://".len()
                    || value.starts_with("https://") && value.len() > "https://".len()
                    // `//host/path` would leave the environment's host, credentials and all.
                    || value.starts_with('/') && !value.starts_with("//")
            }
            // A quote or line break cannot separate fields; a tab can.
            Self::Char => {
                let mut chars = value.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => c == '\t' || (c.is_ascii_graphic() || c == ' ') && c != '"',
                    _ => false,
                }
            }
            Self::Bool => value == "true" || value == "false",
            Self::Count => value.parse::<u64>().is_ok(),
            Self::Duration => crate::spec::parse_duration(value).is_ok(),
            Self::JsonPointer => value.is_empty() || value.starts_with('/'),
            Self::EnvVar => {
                value
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                    && value
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            }
            Self::Token => !value.is_empty() && value.chars().all(is_token_char),
            Self::Columns => value
                .split(',')
                .all(|column| Self::Ident.accepts(column.trim())),
            Self::Ident => {
                value
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
            Self::OneOf(words) => words.contains(&value),
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
    }
}

/// Every source kind codelake knows.
pub const SOURCES: &[SourceDef] = &[
    SourceDef {
        kind: "s3-parquet",
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
        kind: "csv",
        doc: "CSV files under the environment's data directory, read with the declared schema (never inferred), columns matched by the header's names.",
        options: &[
            required(
                "location",
                OptionValue::Location,
                "The file or object to read.",
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
            ),
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
        kind: "function",
        doc: "Rows computed by a Rust function compiled into the function plugin.",
        options: &[required(
            "function",
            OptionValue::Ident,
            "Name of the Rust function that returns the rows.",
        )],
    },
];

/// The definition of a source kind, if codelake knows it.
pub fn source(kind: &str) -> Option<&'static SourceDef> {
    SOURCES.iter().find(|source| source.kind == kind)
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
    let Some(def) = source(kind) else {
        return Err(vec![OptionProblem {
            kind: ProblemKind::UnknownSource,
            key: None,
            message: format!("unknown source `{kind}`; use one of {}", kinds()),
        }]);
    };
    let mut problems = Vec::new();
    for &(key, value) in options {
        match def.options.iter().find(|option| option.key == key) {
            None => problems.push(OptionProblem::at(
                ProblemKind::UnknownOption,
                key,
                unknown_option(def, key),
            )),
            Some(option) if !option.value.accepts(value) => problems.push(OptionProblem::at(
                ProblemKind::InvalidValue,
                key,
                format!(
                    "`{key} = \"{value}\"` is not valid: expected {}",
                    option.value.describe()
                ),
            )),
            Some(_) => {}
        }
    }
    for option in def.options.iter().filter(|option| option.required) {
        if !options.iter().any(|&(key, _)| key == option.key) {
            problems.push(OptionProblem {
                kind: ProblemKind::Missing,
                key: Some(option.key.to_owned()),
                message: format!(
                    "source `{kind}` needs `{} = \"…\"`, {}: {}",
                    option.key,
                    option.value.describe(),
                    lower_first(option.doc)
                ),
            });
        }
    }
    if kind == "http-api" {
        check_http(options, &mut problems);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
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

/// Options of the HTTP source that only make sense together.
fn check_http(options: &[(&str, &str)], problems: &mut Vec<OptionProblem>) {
    let get = |key: &str| options.iter().find(|&&(k, _)| k == key).map(|&(_, v)| v);
    let pagination = get("pagination").unwrap_or("none");
    // A pagination mode without its companion option could never find page 2.
    for (mode, companion, example) in [
        ("next_link", "next_link_path", "/links/next"),
        ("page", "page_param", "page"),
    ] {
        match (pagination == mode, get(companion).is_some()) {
            (true, false) => problems.push(OptionProblem::at(
                ProblemKind::Conflict,
                "pagination",
                format!(
                    "`pagination = \"{mode}\"` needs `{companion}` as well, e.g. `{companion} = \"{example}\"`"
                ),
            )),
            (false, true) => problems.push(OptionProblem::at(
                ProblemKind::Conflict,
                companion,
                format!(
                    "`{companion}` only applies with `pagination = \"{mode}\"`: add that, or remove `{companion}`"
                ),
            )),
            _ => {}
        }
    }
    // A header with no secret, or a secret with no header, is a half-configured credential.
    match (get("auth_header").is_some(), get("auth_env").is_some()) {
        (true, false) => problems.push(OptionProblem::at(
            ProblemKind::Conflict,
            "auth_header",
            "`auth_header` needs `auth_env` as well: the environment variable that holds the secret, e.g. `auth_env = \"API_TOKEN\"`".into(),
        )),
        (false, true) => problems.push(OptionProblem::at(
            ProblemKind::Conflict,
            "auth_env",
            "`auth_env` needs `auth_header` as well: the header that carries the secret, e.g. `auth_header = \"Authorization\"`".into(),
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::OptionValue::{self, *};

    fn check(shape: OptionValue, accepted: &[&str], refused: &[&str]) {
        for value in accepted {
            assert!(shape.accepts(value), "{shape:?} should accept {value:?}");
        }
        for value in refused {
            assert!(!shape.accepts(value), "{shape:?} should refuse {value:?}");
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
            Location,
            &["tpch/nation.csv", "/data/x.csv", "s3://b/x.csv"],
            &["", "s3://b"],
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
        check(Count, &["0", "3"], &["-1", "3.5", ""]);
        check(EnvVar, &["FX_TOKEN", "_X1"], &["fx", "1X", "X-Y", ""]);
        check(JsonPointer, &["", "/data/rows"], &["data"]);
    }
}
