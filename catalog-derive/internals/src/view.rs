//! A view's SQL: found, read and parsed, with what can be checked of one
//! declaration alone. Whether the SQL plans against the tables it reads, and
//! gives the declared columns, needs the whole catalog and DataFusion: the
//! runtime's `views::check` does that.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use catalog_core::ViewSpec;
use sqlparser::ast::Statement;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use crate::Errors;
use crate::ast::Input;
use crate::attr::{self, Spanned};

/// Where a declaration is written, so that a view's `.sql` file can be found
/// beside it. The derive takes it from the compiler, gen-catalog from the
/// files it walks.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The declaring module's file, absolute.
    pub file: Option<PathBuf>,
    /// The workspace root: views name their SQL file relative to it.
    pub root: PathBuf,
}

impl Origin {
    /// The path shown for `path`: relative to the root when under it, with `/`.
    fn shown(&self, path: &Path) -> String {
        let relative = path.strip_prefix(&self.root).unwrap_or(path);
        relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// A checked view: its spec, and the SQL file the compiler must track.
pub(crate) struct View {
    /// The SQL, and where it was written.
    pub spec: ViewSpec,
    /// The `.sql` file, absolute, when the SQL is not inline.
    pub path: Option<PathBuf>,
}

/// The view `input` declares, if it declares one (`view = ".."` or
/// `sql = ".."`); `Ok(None)` for a table read by a plugin. Problems are
/// reported to `errors`, and give `Err(())`.
pub(crate) fn view(
    input: &Input<'_>,
    origin: &Origin,
    errors: &mut Errors,
) -> Result<Option<View>, ()> {
    let attrs = &input.attrs;
    let (sql, path) = match (&attrs.view, &attrs.sql) {
        (None, None) => {
            if let Some(materialize) = &attrs.materialize {
                errors.push(materialize.span, "`materialize` is for views: it says where `codelake materialize` writes a view's rows; add `view = \"name.sql\"`, or remove it".into());
                return Err(());
            }
            return Ok(None);
        }
        (Some(_), Some(sql)) => {
            errors.push(sql.span, "a view's SQL is either in a file (`view = \"name.sql\"`) or inline (`sql = \"SELECT …\"`), not both: remove one".into());
            return Err(());
        }
        (None, Some(sql)) => (sql.clone(), None),
        (Some(file), None) => {
            let path = read(file, origin, errors)?;
            (path.0, Some(path.1))
        }
    };
    let mut ok = true;
    // A view's rows are its SQL: a source or source options would say otherwise.
    if let Some(source) = &attrs.source {
        errors.push(source.span, format!("a view has no `source`: its rows are its SQL, run over other catalog tables; remove `source = \"{}\"`", source.value));
        ok = false;
    }
    for (key, _) in &attrs.options {
        errors.push(key.span, format!("unknown key `{}` for a view: a view takes {}, plus the expectations (owner, freshness, freshness_column, min_rows, max_rows)", key.value, [attr::DATABASE, attr::NAME, attr::VIEW, attr::SQL, attr::MATERIALIZE].join(", ")));
        ok = false;
    }
    let materialize = attrs.materialize.as_ref().and_then(|location| {
        let problem = materialize_problem(&location.value);
        if let Some(problem) = &problem {
            errors.push(location.span, problem.clone());
            ok = false;
        }
        problem
            .is_none()
            .then(|| Cow::Owned(location.value.clone()))
    });
    if let Err(message) = parse(&sql.value) {
        let at = path
            .as_deref()
            .map_or_else(|| "the inline `sql`".to_owned(), |path| origin.shown(path));
        errors.push(sql.span, format!("{at}: {message}"));
        ok = false;
    }
    if !ok {
        return Err(());
    }
    let file = match (&path, &origin.file) {
        (Some(path), _) => origin.shown(path),
        (None, Some(module)) => origin.shown(module),
        (None, None) => String::new(),
    };
    Ok(Some(View {
        spec: ViewSpec {
            sql: Cow::Owned(sql.value),
            file: Cow::Owned(file),
            materialize,
        },
        path,
    }))
}

/// Reads the `.sql` file that `view = ".."` names, relative to the declaring
/// module's directory; the text keeps the literal's span for errors.
fn read(
    file: &Spanned<String>,
    origin: &Origin,
    errors: &mut Errors,
) -> Result<(Spanned<String>, PathBuf), ()> {
    if !file.value.ends_with(".sql") {
        errors.push(file.span, format!("`view = \"{}\"` names the view's SQL file, which ends in `.sql`; for SQL written inline, use `sql = \"SELECT …\"`", file.value));
        return Err(());
    }
    let Some(module) = &origin.file else {
        errors.push(file.span, "the compiler did not say which file declares this view, so its SQL file cannot be found; write the SQL inline with `sql = \"…\"`".into());
        return Err(());
    };
    let dir = module.parent().unwrap_or(Path::new(""));
    let path = dir.join(&file.value);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((
            Spanned {
                value: text.trim().to_owned(),
                span: file.span,
            },
            path,
        )),
        Err(error) => {
            errors.push(
                file.span,
                format!(
                    "cannot read the view's SQL file {}: {error}; the path is relative to {}, the file that declares the view",
                    origin.shown(&path),
                    origin.shown(module)
                ),
            );
            Err(())
        }
    }
}

/// What is wrong with a `materialize` location, if anything: it is one
/// Parquet object on S3, which the `s3-parquet` plugin then reads.
fn materialize_problem(location: &str) -> Option<String> {
    let example = "e.g. `materialize = \"s3://codelake/marts/revenue_by_year.parquet\"`";
    let Some((bucket, key)) = location
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
    else {
        return Some(format!(
            "`materialize = \"{location}\"` is not an S3 object: write `s3://bucket/key.parquet`, {example}"
        ));
    };
    if bucket.is_empty() || key.is_empty() || !key.ends_with(".parquet") {
        return Some(format!(
            "`materialize = \"{location}\"` names no Parquet object: the key ends in `.parquet`, {example}"
        ));
    }
    None
}

/// Parses `sql` as DataFusion's parser would: one query, nothing else.
fn parse(sql: &str) -> Result<(), String> {
    let statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|error| format!("the SQL does not parse: {error}"))?;
    match statements.as_slice() {
        [Statement::Query(_)] => Ok(()),
        [] => Err("the SQL is empty: write the view's `SELECT`".into()),
        [_] => Err("a view's SQL is one query (`SELECT …` or `WITH … SELECT …`), not another kind of statement".into()),
        [..] => Err(format!(
            "the SQL has {} statements, but a view is one query: keep one `SELECT`",
            statements.len()
        )),
    }
}
