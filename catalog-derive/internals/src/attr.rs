//! The `#[table(..)]` and `#[column(..)]` keys, read from syn attributes.
//!
//! This module only reads: it records every key with its span and leaves the
//! rules (what is required, what a value must look like) to `check.rs`.

use proc_macro2::Span;
use syn::spanned::Spanned as _;

use crate::Errors;

/// `#[table(..)]`: the struct-level attribute.
pub const TABLE: &str = "table";
/// `#[column(..)]`: the field-level attribute.
pub const COLUMN: &str = "column";

/// Database the table belongs to (required).
pub const DATABASE: &str = "database";
/// Table name; defaults to the struct's name in snake case.
pub const NAME: &str = "name";
/// Source kind (required).
pub const SOURCE: &str = "source";
/// Who answers for the data.
pub const OWNER: &str = "owner";
/// Maximum age of the newest data.
pub const FRESHNESS: &str = "freshness";
/// The timestamp or date column `freshness` is measured on.
pub const FRESHNESS_COLUMN: &str = "freshness_column";
/// Fewest rows expected.
pub const MIN_ROWS: &str = "min_rows";
/// Most rows expected.
pub const MAX_ROWS: &str = "max_rows";
/// A view's SQL file, relative to the declaring module's file (as `include_str!` reads).
pub const VIEW: &str = "view";
/// A view's SQL, inline.
pub const SQL: &str = "sql";
/// Where `codelake materialize` writes a view's rows.
pub const MATERIALIZE: &str = "materialize";
/// Where long-lived processes keep a copy of the table (`"memory"`).
pub const ACCELERATE: &str = "accelerate";
/// How often the table is read again from its source.
pub const REFRESH: &str = "refresh";
/// The version of the table's contract with its readers, raised with a
/// breaking change. Not `version`: that is a Delta table's pinned version.
pub const CONTRACT_VERSION: &str = "contract_version";
/// Breaking changes this change acknowledges, comma-separated (`column-removed:o_comment`).
pub const ALLOW_BREAKING: &str = "allow_breaking";
/// The table this one takes over from (`database.name`), whose removal it acknowledges.
pub const REPLACES: &str = "replaces";
/// Every table-level key that is not a source option.
pub const TABLE_KEYS: &[&str] = &[
    DATABASE,
    NAME,
    SOURCE,
    VIEW,
    SQL,
    MATERIALIZE,
    OWNER,
    FRESHNESS,
    FRESHNESS_COLUMN,
    MIN_ROWS,
    MAX_ROWS,
    ACCELERATE,
    REFRESH,
    CONTRACT_VERSION,
    ALLOW_BREAKING,
    REPLACES,
];

/// Column-level: the column's name when it differs from the field's.
pub const COLUMN_NAME: &str = "name";
/// Column-level flag: values are unique (a key).
pub const UNIQUE: &str = "unique";
/// Column-level: smallest accepted value.
pub const MIN: &str = "min";
/// Column-level: largest accepted value.
pub const MAX: &str = "max";
/// Every column-level key.
pub const COLUMN_KEYS: &[&str] = &[COLUMN_NAME, UNIQUE, MIN, MAX];

/// A value as written, with the span to point errors at.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

/// Every key of a struct's `#[table(..)]` attributes.
#[derive(Debug, Default)]
pub struct TableAttrs {
    /// `database = ".."`.
    pub database: Option<Spanned<String>>,
    /// `name = ".."`.
    pub name: Option<Spanned<String>>,
    /// `source = ".."`.
    pub source: Option<Spanned<String>>,
    /// `view = "file.sql"`.
    pub view: Option<Spanned<String>>,
    /// `sql = "SELECT .."`.
    pub sql: Option<Spanned<String>>,
    /// `materialize = "s3://.."`.
    pub materialize: Option<Spanned<String>>,
    /// `owner = ".."`.
    pub owner: Option<Spanned<String>>,
    /// `freshness = ".."`.
    pub freshness: Option<Spanned<String>>,
    /// `freshness_column = ".."`.
    pub freshness_column: Option<Spanned<String>>,
    /// `min_rows = N`.
    pub min_rows: Option<Spanned<u64>>,
    /// `max_rows = N`.
    pub max_rows: Option<Spanned<u64>>,
    /// `accelerate = ".."`.
    pub accelerate: Option<Spanned<String>>,
    /// `refresh = ".."`.
    pub refresh: Option<Spanned<String>>,
    /// `contract_version = N`.
    pub contract_version: Option<Spanned<u64>>,
    /// `allow_breaking = ".."`.
    pub allow_breaking: Option<Spanned<String>>,
    /// `replaces = "database.name"`.
    pub replaces: Option<Spanned<String>>,
    /// Every other `key = value`: source options, checked against the source kind.
    pub options: Vec<(Spanned<String>, Spanned<String>)>,
    /// Span of the first `#[table]` attribute, for "missing key" errors.
    pub span: Option<Span>,
    /// A `#[table(..)]` had a syntax error, so some keys may not have been read.
    pub malformed: bool,
    /// Keys given with a value that was rejected; they are not "missing".
    pub rejected: Vec<String>,
}

/// Every key of a field's `#[column(..)]` attributes.
#[derive(Debug, Default)]
pub struct ColumnAttrs {
    /// `name = ".."`.
    pub name: Option<Spanned<String>>,
    /// `unique`.
    pub unique: Option<Span>,
    /// `min = N`.
    pub min: Option<Spanned<f64>>,
    /// `max = N`.
    pub max: Option<Spanned<f64>>,
}

/// Reads the `#[table(..)]` attributes of a struct.
pub fn table_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> TableAttrs {
    let mut out = TableAttrs::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(TABLE)) {
        // The `table` of `#[table(..)]`: a clearer target than the `#` that starts it.
        out.span.get_or_insert(attr.path().span());
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta)?;
            let Some(lit) = value_lit(&meta, &key, errors)? else {
                out.rejected.push(key.value);
                return Ok(());
            };
            let before = errors.len();
            let result = table_key(&mut out, key.clone(), &lit, errors);
            if errors.len() > before {
                out.rejected.push(key.value);
            }
            result
        });
        if let Err(error) = result {
            // The rest of this attribute was not read: "missing key" errors would be noise.
            out.malformed = true;
            errors.push_error(error);
        }
    }
    out
}

/// Records one `key = literal` of `#[table(..)]`.
fn table_key(
    out: &mut TableAttrs,
    key: Spanned<String>,
    lit: &syn::Lit,
    errors: &mut Errors,
) -> syn::Result<()> {
    let slot = match key.value.as_str() {
        DATABASE => &mut out.database,
        NAME => &mut out.name,
        SOURCE => &mut out.source,
        VIEW => &mut out.view,
        SQL => &mut out.sql,
        MATERIALIZE => &mut out.materialize,
        OWNER => &mut out.owner,
        FRESHNESS => &mut out.freshness,
        FRESHNESS_COLUMN => &mut out.freshness_column,
        ACCELERATE => &mut out.accelerate,
        REFRESH => &mut out.refresh,
        ALLOW_BREAKING => &mut out.allow_breaking,
        REPLACES => &mut out.replaces,
        CONTRACT_VERSION => {
            return keep_set(&mut out.contract_version, &key, lit_u64(&key, lit), errors);
        }
        MIN_ROWS => return keep_set(&mut out.min_rows, &key, lit_u64(&key, lit), errors),
        MAX_ROWS => return keep_set(&mut out.max_rows, &key, lit_u64(&key, lit), errors),
        _ => {
            if out.options.iter().any(|(seen, _)| seen.value == key.value) {
                errors.push(key.span, duplicate(&key.value));
            } else if let Some(text) = keep(errors, lit_text(&key, lit)) {
                out.options.push((key, text));
            }
            return Ok(());
        }
    };
    keep_set(slot, &key, lit_string(&key, lit), errors)
}

/// Reads the `#[column(..)]` attributes of a field.
pub fn column_attrs(attrs: &[syn::Attribute], errors: &mut Errors) -> ColumnAttrs {
    let mut out = ColumnAttrs::default();
    for attr in attrs.iter().filter(|attr| attr.path().is_ident(COLUMN)) {
        let result = attr.parse_nested_meta(|meta| {
            let key = key_of(&meta)?;
            match key.value.as_str() {
                COLUMN_NAME => match value_lit(&meta, &key, errors)? {
                    Some(lit) => keep_set(&mut out.name, &key, lit_string(&key, &lit), errors),
                    None => Ok(()),
                },
                UNIQUE => {
                    if meta.input.peek(syn::Token![=]) {
                        return Err(meta.error("`unique` is a flag: write `#[column(unique)]`"));
                    }
                    if out.unique.replace(key.span).is_some() {
                        errors.push(key.span, duplicate(UNIQUE));
                    }
                    Ok(())
                }
                MIN | MAX => {
                    let Some(lit) = value_lit(&meta, &key, errors)? else {
                        return Ok(());
                    };
                    let slot = if key.value == MIN {
                        &mut out.min
                    } else {
                        &mut out.max
                    };
                    keep_set(slot, &key, lit_f64(&key, &lit), errors)
                }
                other => Err(meta.error(format!(
                    "unknown key `{other}` in `#[column(..)]`; {}expected one of: {}",
                    did_you_mean(other, COLUMN_KEYS.iter().copied()),
                    COLUMN_KEYS.join(", ")
                ))),
            }
        });
        if let Err(error) = result {
            errors.push_error(error);
        }
    }
    out
}

/// `"did you mean `unique`? "` when `written` is a likely typo of one of `keys`.
pub(crate) fn did_you_mean<'a>(written: &str, keys: impl IntoIterator<Item = &'a str>) -> String {
    keys.into_iter()
        .map(|key| (edit_distance(written, key), key))
        .filter(|&(distance, key)| distance <= 2 && distance < key.len())
        .min()
        .map(|(_, key)| format!("did you mean `{key}`? "))
        .unwrap_or_default()
}

/// Levenshtein distance, for typo suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

fn key_of(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Spanned<String>> {
    let ident = meta
        .path
        .get_ident()
        .ok_or_else(|| meta.error("expected a key such as `database = \"tpch\"`"))?;
    Ok(Spanned {
        value: ident.to_string(),
        span: ident.span(),
    })
}

fn set<T>(
    slot: &mut Option<Spanned<T>>,
    key: &Spanned<String>,
    value: Spanned<T>,
    errors: &mut Errors,
) -> syn::Result<()> {
    if slot.is_some() {
        errors.push(key.span, duplicate(&key.value));
    } else {
        *slot = Some(value);
    }
    Ok(())
}

/// Records a failed conversion and carries on, so later keys are still read.
fn keep<T>(errors: &mut Errors, result: syn::Result<T>) -> Option<T> {
    result.map_err(|error| errors.push_error(error)).ok()
}

fn keep_set<T>(
    slot: &mut Option<Spanned<T>>,
    key: &Spanned<String>,
    value: syn::Result<Spanned<T>>,
    errors: &mut Errors,
) -> syn::Result<()> {
    match keep(errors, value) {
        Some(value) => set(slot, key, value, errors),
        None => Ok(()),
    }
}

/// The literal after `key =`. A value that is not a literal (`database = tpch`)
/// is recorded as an error and skipped, so the keys after it are still read.
/// A negated number (`min = -1.5`) is one literal.
fn value_lit(
    meta: &syn::meta::ParseNestedMeta<'_>,
    key: &Spanned<String>,
    errors: &mut Errors,
) -> syn::Result<Option<syn::Lit>> {
    let expr: syn::Expr = meta.value()?.parse()?;
    let lit = match &expr {
        syn::Expr::Lit(lit) => Some(lit.lit.clone()),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(int),
                ..
            }) => Some(syn::Lit::Int(syn::LitInt::new(
                &format!("-{}", int.base10_digits()),
                expr.span(),
            ))),
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Float(float),
                ..
            }) => Some(syn::Lit::Float(syn::LitFloat::new(
                &format!("-{}", float.base10_digits()),
                expr.span(),
            ))),
            _ => None,
        },
        _ => None,
    };
    if lit.is_none() {
        let numeric = [MIN_ROWS, MAX_ROWS, MIN, MAX].contains(&key.value.as_str());
        let example = if numeric { "1" } else { "\"…\"" };
        errors.push(
            expr.span(),
            format!(
                "`{key}` takes a literal value: write e.g. `{key} = {example}`",
                key = key.value
            ),
        );
    }
    Ok(lit)
}

fn duplicate(key: &str) -> String {
    format!("duplicate key `{key}`: it is given twice; keep one")
}

fn lit_string(key: &Spanned<String>, lit: &syn::Lit) -> syn::Result<Spanned<String>> {
    match lit {
        syn::Lit::Str(s) => Ok(Spanned {
            value: s.value(),
            span: s.span(),
        }),
        other => Err(syn::Error::new(
            other.span(),
            format!(
                "`{key}` takes a string: write `{key} = \"…\"`",
                key = key.value
            ),
        )),
    }
}

/// The error for a number written in quotes (`min_rows = "10"`), else `None`.
fn quoted_number(key: &Spanned<String>, lit: &syn::Lit) -> Option<syn::Error> {
    let syn::Lit::Str(s) = lit else { return None };
    let text = s.value();
    text.trim().parse::<f64>().ok().map(|_| {
        syn::Error::new(
            s.span(),
            format!(
                "`{key}` takes a number, not a string: write `{key} = {}` without quotes",
                text.trim(),
                key = key.value
            ),
        )
    })
}

/// Source options accept strings, booleans, integers and characters; all are kept as text.
fn lit_text(key: &Spanned<String>, lit: &syn::Lit) -> syn::Result<Spanned<String>> {
    let value = match lit {
        syn::Lit::Str(s) => s.value(),
        syn::Lit::Bool(b) => b.value.to_string(),
        syn::Lit::Int(i) => i.base10_digits().to_owned(),
        syn::Lit::Char(c) => c.value().to_string(),
        other => {
            return Err(syn::Error::new(
                other.span(),
                format!(
                    "`{}` takes a string, boolean, integer or character, e.g. `{} = \"…\"`",
                    key.value, key.value
                ),
            ));
        }
    };
    Ok(Spanned {
        value,
        span: lit.span(),
    })
}

fn lit_u64(key: &Spanned<String>, lit: &syn::Lit) -> syn::Result<Spanned<u64>> {
    let expected = || {
        syn::Error::new(
            lit.span(),
            format!(
                "`{key}` takes a non-negative integer, e.g. `{key} = 1000`",
                key = key.value
            ),
        )
    };
    match lit {
        syn::Lit::Int(i) => Ok(Spanned {
            value: i.base10_parse().map_err(|_| expected())?,
            span: i.span(),
        }),
        other => Err(quoted_number(key, other).unwrap_or_else(expected)),
    }
}

fn lit_f64(key: &Spanned<String>, lit: &syn::Lit) -> syn::Result<Spanned<f64>> {
    let value: f64 = match lit {
        syn::Lit::Int(i) => i.base10_parse()?,
        syn::Lit::Float(f) => f.base10_parse()?,
        other => {
            return Err(quoted_number(key, other).unwrap_or_else(|| {
                syn::Error::new(
                    other.span(),
                    format!(
                        "`{key}` takes a number, e.g. `{key} = 0` or `{key} = 99.5`",
                        key = key.value
                    ),
                )
            }));
        }
    };
    // A bound must be a real number: `1e400` parses to infinity, which no value can be compared to.
    if !value.is_finite() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`{key}` must be a finite number, e.g. `{key} = 1e9`",
                key = key.value
            ),
        ));
    }
    Ok(Spanned {
        value,
        span: lit.span(),
    })
}
