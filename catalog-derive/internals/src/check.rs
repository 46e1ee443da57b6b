//! The rules a table declaration must follow. Each says why it exists.

use std::borrow::Cow;
use std::collections::BTreeMap;

use catalog_core::source::ProblemKind;
use catalog_core::{
    Accelerate, ColumnSpec, Expectations, Freshness, Interval, SourceOption, TableSpec,
};
use proc_macro2::Span;

use crate::ast::{Field, FieldDef, Input, TableDef};
use crate::attr::{self, Spanned as At};
use crate::view::{self, Origin};
use crate::{Errors, types};

/// Checks every rule, reporting all failures; `None` if any failed.
pub fn check(input: Input<'_>, origin: &Origin, errors: &mut Errors) -> Option<TableDef> {
    let before = errors.len();

    // A table is one concrete schema; a type parameter would make its columns unknowable.
    if !input.generics.params.is_empty() {
        errors.push_error(syn::Error::new_spanned(
            input.generics,
            format!(
                "`{}` is generic, but a table has one fixed schema: remove the type parameters",
                input.ident
            ),
        ));
    }
    // The doc comment is the catalog's documentation; an undocumented table is a gap in it.
    if input.doc.is_empty() {
        errors.push(input.ident.span(), format!("table `{}` has no doc comment: add `/// What one row is.` above the struct; it becomes the catalog's documentation", input.ident));
    }

    // Without any `#[table(..)]`, one error naming the whole attribute beats one per missing key.
    if input.attrs.span.is_none() {
        errors.push(
            input.ident.span(),
            format!(
                "`#[derive(Table)]` needs a `#[table(..)]` attribute on `{}`, e.g. `#[table(database = \"tpch\", source = \"csv\", location = \"orders.csv\")]`",
                input.ident
            ),
        );
    }
    let database = identifier(&input.attrs.database, attr::DATABASE, &input, errors);
    let name = match &input.attrs.name {
        Some(name) => valid_identifier(name, attr::NAME, errors),
        // The default is the struct's name in snake case: `LineItem` → `line_item`.
        None => {
            let derived = suggested_name(&syn::ext::IdentExt::unraw(input.ident).to_string());
            if derived.is_none() {
                errors.push(input.ident.span(), format!("no table name can be derived from `{}`: set `name = \"…\"` in `#[table(..)]`", input.ident));
            }
            derived
        }
    };
    // A view's rows are its SQL: it has no source kind of its own to check.
    let view = view::view(&input, origin, errors);
    let source = match &view {
        Ok(Some(_)) => Some((catalog_core::VIEW_SOURCE.to_owned(), Vec::new())),
        Ok(None) => source_and_options(&input, errors),
        Err(()) => None,
    };
    // A view has no files whose age could stand for its data's: its freshness
    // is measured on a column, or not at all.
    if matches!(view, Ok(Some(_)))
        && input.attrs.materialize.is_none()
        && input.attrs.freshness_column.is_none()
        && let Some(freshness) = &input.attrs.freshness
    {
        errors.push(freshness.span, format!("a view's `{}` is measured on a column, as it has no files whose age to read: add `{} = \"…\"` naming a timestamp or date column, or a `materialize` location (whose copy's age is measured), or remove `{}`", attr::FRESHNESS, attr::FRESHNESS_COLUMN, attr::FRESHNESS));
    }
    let owner = input.attrs.owner.as_ref().and_then(|owner| {
        // An owner is who to ask when data looks wrong; blank would answer nobody.
        if owner.value.trim().is_empty() {
            errors.push(owner.span, "`owner` is empty: name a team or person, e.g. owner = \"data-platform@example.com\"".into());
            return None;
        }
        Some(Cow::Owned(owner.value.clone()))
    });
    let expectations = expectations(&input, errors);
    let (accelerate, refresh) = acceleration(&input, &expectations, errors);
    // A generic struct's field types are unknowable; checking them would only repeat that error.
    let fields = if input.generics.params.is_empty() {
        fields(&input, errors)
    } else {
        Vec::new()
    };

    partition_columns(&input, &fields, errors);
    let freshness_column = freshness_column(&input, &fields, errors);
    let own_name = database
        .as_ref()
        .zip(name.as_ref())
        .map(|(database, name)| format!("{database}.{name}"));
    let contract = crate::contract::contract(&input, &fields, own_name, errors);

    if errors.len() > before {
        return None;
    }
    let (source, options) = source?;
    let view = view.ok()?;
    let sql_path = view.as_ref().and_then(|view| view.path.clone());
    let spec = TableSpec {
        database: Cow::Owned(database?),
        name: Cow::Owned(name?),
        doc: Cow::Owned(input.doc.clone()),
        rust_type: Cow::Owned(syn::ext::IdentExt::unraw(input.ident).to_string()),
        source: Cow::Owned(source),
        options: Cow::Owned(options),
        owner,
        expectations: Expectations {
            freshness_column,
            ..expectations
        },
        columns: Cow::Owned(fields.iter().map(|field| field.column.clone()).collect()),
        view: view.map(|view| view.spec),
        accelerate,
        refresh,
        contract,
    };
    Some(TableDef {
        ident: input.ident.clone(),
        spec,
        fields,
        sql_path,
    })
}

fn identifier(
    value: &Option<At<String>>,
    key: &str,
    input: &Input<'_>,
    errors: &mut Errors,
) -> Option<String> {
    match value {
        Some(value) => valid_identifier(value, key, errors),
        // With no `#[table(..)]` at all, `check` already reported the whole attribute.
        // After a syntax error in it, the key may be there but unread.
        // A key whose value was rejected is reported already; it is not missing.
        None if input.attrs.span.is_none()
            || input.attrs.malformed
            || input.attrs.rejected.iter().any(|rejected| rejected == key) =>
        {
            None
        }
        None => {
            errors.push(input.table_span(), format!("missing `{key} = \"…\"` in `#[table(..)]`: every table belongs to a database, e.g. `#[table({key} = \"tpch\", ..)]`"));
            None
        }
    }
}

/// Database and table names become SQL identifiers (`tpch.part`): lower-case
/// ASCII keeps them unquoted in every engine and file system.
fn valid_identifier(value: &At<String>, key: &str, errors: &mut Errors) -> Option<String> {
    let text = &value.value;
    let mut chars = text.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Some(text.clone())
    } else {
        let example = suggested_name(text)
            .map(|name| format!(", e.g. `{key} = \"{name}\"`"))
            .unwrap_or_default();
        errors.push(value.span, format!("`{key} = \"{text}\"` is not a valid name: use lower-case letters, digits and `_`, starting with a letter{example}"));
        None
    }
}

/// A valid name close to `text`, for the default table name and error messages: `TPCH` → `tpch`,
/// `HTTPLogs` → `http_logs`, `Sales-DB` → `sales_db`; `None` if nothing fits.
fn suggested_name(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|i| chars[i]);
            let next = chars.get(i + 1);
            // A word starts at `aB`, `1B`, or the last capital of `ABc`.
            let boundary = prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || p.is_ascii_uppercase() && next.is_some_and(char::is_ascii_lowercase)
            });
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_');
    let valid = out.starts_with(|c: char| c.is_ascii_lowercase());
    valid.then(|| out.to_owned())
}

fn source_and_options(
    input: &Input<'_>,
    errors: &mut Errors,
) -> Option<(String, Vec<SourceOption>)> {
    let attrs = &input.attrs;
    // Keys that belong to no source at all are typos; say so before anything else.
    let mut unknown = false;
    for (key, _) in &attrs.options {
        let known = catalog_core::source::SOURCES
            .iter()
            .any(|source| source.options.iter().any(|option| option.key == key.value));
        if !known {
            unknown = true;
            let options = attrs
                .source
                .as_ref()
                .and_then(|source| catalog_core::source::source(&source.value))
                .map(|source| {
                    let keys: Vec<&str> = source.options.iter().map(|option| option.key).collect();
                    format!(
                        ", or an option of source `{}`: {}",
                        source.kind,
                        keys.join(", ")
                    )
                });
            let every_key = attr::TABLE_KEYS.iter().copied().chain(
                catalog_core::source::SOURCES
                    .iter()
                    .flat_map(|source| source.options.iter().map(|option| option.key)),
            );
            errors.push(
                key.span,
                format!(
                    "unknown key `{}` in `#[table(..)]`; {}expected one of: {}{}",
                    key.value,
                    attr::did_you_mean(&key.value, every_key),
                    attr::TABLE_KEYS.join(", "),
                    options.unwrap_or_default()
                ),
            );
        }
    }
    let Some(source) = &attrs.source else {
        // With no `#[table(..)]` at all, the missing attribute is already reported.
        // After a syntax error in it, `source` may be there but unread.
        attrs.span?;
        if attrs.malformed
            || attrs
                .rejected
                .iter()
                .any(|rejected| rejected == attr::SOURCE)
        {
            return None;
        }
        errors.push(
            input.table_span(),
            format!(
                "missing `source = \"…\"` in `#[table(..)]`: say how the table is read, one of {}; or make it a view over other tables with `view = \"name.sql\"`",
                catalog_core::source::kinds()
            ),
        );
        return None;
    };
    let pairs: Vec<(&str, &str)> = attrs
        .options
        .iter()
        .map(|(key, value)| (key.value.as_str(), value.value.as_str()))
        .collect();
    // Options are checked now, against the table the plugins use, so a bad
    // option is a compile error rather than a failed query in production.
    if let Err(problems) = catalog_core::source::validate(&source.value, &pairs) {
        for problem in problems {
            if unknown && problem.kind == ProblemKind::UnknownOption {
                continue; // already reported above, with the table keys listed
            }
            let rejected = problem
                .key
                .as_ref()
                .is_some_and(|key| attrs.rejected.contains(key));
            if problem.kind == ProblemKind::Missing && rejected {
                continue; // given, with a value already reported as wrong
            }
            let option = problem
                .key
                .as_ref()
                .and_then(|key| attrs.options.iter().find(|(k, _)| &k.value == key));
            // Point at the value when it is the value that is wrong, else at the key.
            let span = match (problem.kind, option) {
                (ProblemKind::InvalidValue, Some((_, value))) => value.span,
                (_, Some((key, _))) => key.span,
                (ProblemKind::UnknownSource, None) => source.span,
                (_, None) => input.table_span(),
            };
            errors.push(span, problem.message);
        }
        return None;
    }
    let sorted: BTreeMap<&str, &str> = pairs.into_iter().collect();
    let options = sorted
        .into_iter()
        .map(|(key, value)| SourceOption {
            key: Cow::Owned(key.to_owned()),
            value: Cow::Owned(value.to_owned()),
        })
        .collect();
    Some((source.value.clone(), options))
}

fn expectations(input: &Input<'_>, errors: &mut Errors) -> Expectations {
    let attrs = &input.attrs;
    let freshness =
        attrs
            .freshness
            .as_ref()
            .and_then(|freshness| match Freshness::parse(&freshness.value) {
                Ok(parsed) => Some(parsed),
                Err(message) => {
                    errors.push(freshness.span, format!("invalid `freshness`: {message}"));
                    None
                }
            });
    // Bounds that no row count satisfies would make verify fail forever.
    if let (Some(min), Some(max)) = (&attrs.min_rows, &attrs.max_rows)
        && min.value > max.value
    {
        errors.push(
            max.span,
            format!(
                "`max_rows = {}` is below `min_rows = {}`: no row count satisfies both; raise `max_rows` or lower `min_rows`",
                max.value, min.value
            ),
        );
    }
    Expectations {
        freshness,
        // Set by `freshness_column`, which needs the checked columns.
        freshness_column: None,
        min_rows: attrs.min_rows.as_ref().map(|min| min.value),
        max_rows: attrs.max_rows.as_ref().map(|max| max.value),
    }
}

/// `accelerate` and `refresh`, which go together: a copy without a refresh
/// would be served stale for as long as the process lives, and a refresh
/// without a copy would refresh nothing.
fn acceleration(
    input: &Input<'_>,
    expectations: &Expectations,
    errors: &mut Errors,
) -> (Option<Accelerate>, Option<Interval>) {
    let attrs = &input.attrs;
    let accelerate =
        attrs
            .accelerate
            .as_ref()
            .and_then(|kind| match Accelerate::parse(&kind.value) {
                Ok(kind) => Some(kind),
                Err(message) => {
                    errors.push(
                        kind.span,
                        format!("invalid `{}`: {message}", attr::ACCELERATE),
                    );
                    None
                }
            });
    let refresh =
        attrs
            .refresh
            .as_ref()
            .and_then(|refresh| match Interval::parse(&refresh.value) {
                Ok(interval) => Some(interval),
                Err(message) => {
                    errors.push(
                        refresh.span,
                        format!("invalid `{}`: {message}", attr::REFRESH),
                    );
                    None
                }
            });
    match (&attrs.accelerate, &attrs.refresh) {
        (Some(kind), None) => errors.push(
            kind.span,
            format!(
                "an accelerated table needs `{refresh} = \"…\"`: how often its copy is read again from the source, e.g. `{refresh} = \"15m\"`",
                refresh = attr::REFRESH
            ),
        ),
        // A Delta table's log is read again on `refresh`, copy or not.
        (None, Some(_)) if reads_a_log(attrs) => {}
        (None, Some(refresh)) => errors.push(
            refresh.span,
            format!(
                "`{}` says how often a table's copy is read again, and this table keeps none: add `{} = \"memory\"`, or remove `{}`",
                attr::REFRESH,
                attr::ACCELERATE,
                attr::REFRESH
            ),
        ),
        _ => {}
    }
    // A copy refreshed less often than the data must be fresh would be stale by design.
    if let (Some(interval), Some(freshness), Some(at)) =
        (&refresh, &expectations.freshness, &attrs.refresh)
        && interval.seconds >= freshness.seconds
    {
        errors.push(
            at.span,
            format!(
                "`{} = \"{}\"` is not shorter than `{} = \"{}\"`: the copy would be older than the data may be; refresh more often than the freshness bound",
                attr::REFRESH,
                interval.text,
                attr::FRESHNESS,
                freshness.text
            ),
        );
    }
    (accelerate, refresh)
}

/// Whether the table is read through a log that `refresh` reads again: a Delta table's.
fn reads_a_log(attrs: &attr::TableAttrs) -> bool {
    attrs
        .source
        .as_ref()
        .is_some_and(|source| source.value == "delta")
}

fn fields(input: &Input<'_>, errors: &mut Errors) -> Vec<FieldDef> {
    if input.fields.is_empty() {
        errors.push(
            input.ident.span(),
            format!(
                "table `{}` has no fields: add one field per column",
                input.ident
            ),
        );
    }
    let mut names: BTreeMap<String, Span> = BTreeMap::new();
    let mut constants: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for field in &input.fields {
        let name = column_name(field);
        let name_span = field
            .attrs
            .name
            .as_ref()
            .map_or(field.ident.span(), |name| name.span);
        // Columns are matched by name everywhere (files, batches, SQL); two of one name would be ambiguous.
        if name.is_empty() {
            errors.push(
                name_span,
                "empty column name: give `#[column(name = \"…\")]` a name, or remove it".into(),
            );
        } else if let Some(first) = names.insert(name.clone(), name_span) {
            let mut error = syn::Error::new(
                name_span,
                format!(
                    "duplicate column name `{name}`: rename the field or set `#[column(name = \"…\")]`"
                ),
            );
            error.combine(syn::Error::new(
                first,
                format!("`{name}` is first declared here"),
            ));
            errors.push_error(error);
        }
        let constant = crate::ast::column_constant(field.ident);
        // `SPEC` is the `Table` trait's constant; a column constant of that name would shadow it.
        if constant == "SPEC" {
            errors.push(field.ident.span(), "a field named `spec` would shadow `Table::SPEC`: rename the field and keep the column name with `#[column(name = \"spec\")]`".into());
        } else if let Some(other) = constants.insert(constant.clone(), field.ident.to_string()) {
            errors.push(field.ident.span(), format!("fields `{other}` and `{}` both give the column constant `{constant}`: rename one", field.ident));
        }
        // Every column is documented: the docs are generated from these comments.
        if field.doc.is_empty() {
            errors.push(
                field.ident.span(),
                format!(
                    "column `{name}` has no doc comment: add `/// What it holds.` above the field"
                ),
            );
        }
        let column_type = match types::column_type(field.ty) {
            Ok(column_type) => Some(column_type),
            Err(error) => {
                errors.push_error(error);
                None
            }
        };
        let (min, max) = bounds(field, column_type.map(|(ty, _)| ty), errors);
        if let Some((ty, nullable)) = column_type {
            out.push(FieldDef {
                ident: field.ident.clone(),
                ty: field.ty.clone(),
                constant: syn::Ident::new(&constant, field.ident.span()),
                column: ColumnSpec {
                    name: Cow::Owned(name),
                    ty,
                    nullable,
                    doc: Cow::Owned(field.doc.clone()),
                    unique: field.attrs.unique.is_some(),
                    min,
                    max,
                },
            });
        }
    }
    out
}

/// A field's column name: `#[column(name = ..)]`, else the field's name without `r#`.
fn column_name(field: &Field<'_>) -> String {
    field.attrs.name.as_ref().map_or_else(
        || syn::ext::IdentExt::unraw(field.ident).to_string(),
        |name| name.value.clone(),
    )
}

/// `freshness_column` says which column's largest value is the data's age, so
/// it must name a declared timestamp or date column: any other type has no
/// age, and a name that is not a column could never be read. It refines
/// `freshness`, so without a bound it would be checked against nothing.
fn freshness_column(
    input: &Input<'_>,
    fields: &[FieldDef],
    errors: &mut Errors,
) -> Option<Cow<'static, str>> {
    let attrs = &input.attrs;
    let column = attrs.freshness_column.as_ref()?;
    // A `freshness` that was given but rejected, or not read after a syntax error, is not missing.
    let freshness_given = attrs.freshness.is_some()
        || attrs.malformed
        || attrs
            .rejected
            .iter()
            .any(|rejected| rejected == attr::FRESHNESS);
    if !freshness_given {
        errors.push(
            column.span,
            format!(
                "`{}` needs `{} = \"…\"`: it names the column the freshness bound is checked on; add the bound, e.g. `{} = \"24h\"`, or remove `{}`",
                attr::FRESHNESS_COLUMN,
                attr::FRESHNESS,
                attr::FRESHNESS,
                attr::FRESHNESS_COLUMN
            ),
        );
    }
    let allowed = "`chrono::DateTime<Utc>`, `chrono::NaiveDateTime` or `chrono::NaiveDate`, or an `Option` of one";
    let is_time = |ty: catalog_core::ColumnType| {
        matches!(
            ty,
            catalog_core::ColumnType::Timestamp { .. } | catalog_core::ColumnType::Date32
        )
    };
    let written = &column.value;
    let Some(field) = input
        .fields
        .iter()
        .find(|field| column_name(field) == *written)
    else {
        // Writing the field's name where its column is renamed is the likeliest slip.
        let renamed = input
            .fields
            .iter()
            .find(|field| syn::ext::IdentExt::unraw(field.ident) == written.as_str())
            .map(|field| {
                format!(
                    "field `{}` is the column `{}`: write `{} = \"{}\"`",
                    field.ident,
                    column_name(field),
                    attr::FRESHNESS_COLUMN,
                    column_name(field)
                )
            });
        let candidates: Vec<&str> = fields
            .iter()
            .filter(|field| is_time(field.column.ty))
            .map(|field| &*field.column.name)
            .collect();
        let hint = renamed.unwrap_or_else(|| {
            if candidates.is_empty() {
                format!("it has no timestamp or date column: declare a field of type {allowed}")
            } else {
                format!(
                    "{}the timestamp and date columns are: {}",
                    attr::did_you_mean(written, candidates.iter().copied()),
                    candidates.join(", ")
                )
            }
        });
        errors.push(
            column.span,
            format!(
                "`{}` names `{written}`, which is not a column of this table; {hint}",
                attr::FRESHNESS_COLUMN
            ),
        );
        return None;
    };
    // A field whose type was rejected is reported already; its column has no type to check.
    let checked = fields
        .iter()
        .find(|checked| checked.column.name == *written)?;
    let ty = checked.column.ty;
    if !is_time(ty) {
        let rust_type = if checked.column.nullable {
            format!("Option<{}>", ty.rust_type())
        } else {
            ty.rust_type()
        };
        errors.push(
            column.span,
            format!(
                "`{}` names `{written}`, but field `{}` is `{rust_type}`: the data's age is read from a timestamp or date column, so its type must be {allowed}",
                attr::FRESHNESS_COLUMN,
                field.ident
            ),
        );
        return None;
    }
    Some(Cow::Owned(written.clone()))
}

/// Partition columns come from the declaration: a name that is not a column
/// could never be read.
fn partition_columns(input: &Input<'_>, fields: &[FieldDef], errors: &mut Errors) {
    let Some((_, value)) = input
        .attrs
        .options
        .iter()
        .find(|(key, _)| key.value == "partitions")
    else {
        return;
    };
    for column in value
        .value
        .split(',')
        .map(str::trim)
        .filter(|column| !column.is_empty())
    {
        if !fields.iter().any(|field| field.column.name == column) {
            errors.push(value.span, format!("`partitions` names `{column}`, which is not a column of this table; declare a field for it"));
        }
    }
}

/// `min`/`max` bound numbers; on other types they would have no meaning.
fn bounds(
    field: &Field<'_>,
    ty: Option<catalog_core::ColumnType>,
    errors: &mut Errors,
) -> (Option<f64>, Option<f64>) {
    let (min, max) = (&field.attrs.min, &field.attrs.max);
    if let Some(ty) = ty.filter(|ty| !ty.is_numeric()) {
        for (key, bound) in [(attr::MIN, min), (attr::MAX, max)] {
            if let Some(bound) = bound {
                errors.push(
                    bound.span,
                    format!(
                        "`{key} = {}` applies only to numeric columns, but `{}` is `{}`: remove it",
                        bound.value,
                        field.ident,
                        ty.rust_type()
                    ),
                );
            }
        }
        return (None, None);
    }
    if let (Some(min), Some(max)) = (min, max)
        && min.value > max.value
    {
        errors.push(
            max.span,
            format!(
                "`max = {}` is below `min = {}`: no value satisfies both; raise `max` or lower `min`",
                max.value, min.value
            ),
        );
    }
    (
        min.as_ref().map(|min| min.value),
        max.as_ref().map(|max| max.value),
    )
}
