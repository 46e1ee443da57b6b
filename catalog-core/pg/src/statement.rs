//! What a Postgres client sends, sorted before it reaches the query service:
//! the statements of a session that the adapter answers itself (`BEGIN`,
//! `COMMIT`, `SET application_name`, `SHOW`, `DISCARD`), and queries, split as
//! the client wrote them, catalog queries rewritten (`rewrite.rs`).

use datafusion::sql::sqlparser::ast::{Expr, Set, Statement, Value};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::rewrite::rewrite;

/// One statement of a client's request, sorted.
#[derive(Debug, Clone, PartialEq)]
pub enum Sorted {
    /// A query for the service, in SQL it plans.
    Query(String),
    /// `BEGIN`, `START TRANSACTION`: reads need no transaction; acknowledged.
    Begin,
    /// `COMMIT`, `END`, `ROLLBACK`, `ABORT`: acknowledged.
    End(&'static str),
    /// `SET name = value` of a Postgres session setting, kept for the session.
    Set(String, String),
    /// `SET datafusion.name = value`: the name, and the statement to send
    /// before each query of the session.
    EngineSet(String, String),
    /// `SHOW name`.
    Show(String),
    /// `DISCARD`: the session's settings are forgotten.
    Discard,
    /// `DEALLOCATE name` (`None`: `ALL`): the prepared statement is dropped.
    Deallocate(Option<String>),
    /// A statement with nothing to do here (`SET TRANSACTION`): acknowledged
    /// with its tag.
    Ignored(&'static str),
}

/// The statements of `sql`, sorted. SQL that the Postgres dialect does not
/// parse goes to the service as it came, which parses it with its own
/// dialect and says what is wrong.
pub fn sort(sql: &str) -> Vec<Sorted> {
    let Some(pieces) = split(sql) else {
        return vec![Sorted::Query(sql.to_owned())];
    };
    pieces
        .into_iter()
        .map(
            |piece| match Parser::parse_sql(&PostgreSqlDialect {}, piece) {
                Ok(mut statements) if statements.len() == 1 => {
                    sort_one(statements.remove(0), piece)
                }
                _ => Sorted::Query(piece.to_owned()),
            },
        )
        .collect()
}

/// The statements of `sql` as the client wrote them, split at the semicolons
/// the tokenizer sees (not those in strings or comments), empty ones left out;
/// `None` when it does not tokenize.
fn split(sql: &str) -> Option<Vec<&str>> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(at, _)| at + 1))
        .collect();
    // A location is a 1-based line and a 1-based column in characters.
    let offset = |line: u64, column: u64| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(column).ok()?.checked_sub(1)?;
        sql[start..]
            .char_indices()
            .nth(column)
            .map(|(at, _)| start + at)
    };
    let mut pieces = Vec::new();
    let mut from = 0;
    for token in tokens {
        if token.token == Token::SemiColon {
            let at = offset(token.span.start.line, token.span.start.column)?;
            pieces.push(sql.get(from..at)?);
            from = at + 1;
        }
    }
    pieces.push(sql.get(from..)?);
    Some(
        pieces
            .into_iter()
            .filter(|piece| !piece.trim().is_empty())
            .collect(),
    )
}

/// Whether `sql` has parameters (`$1`, `$2`, …) outside its strings and comments.
pub fn has_parameters(sql: &str) -> bool {
    Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .is_ok_and(|tokens| {
            tokens.iter().any(|token| {
                matches!(token, Token::Placeholder(name)
                    if name.strip_prefix('$').is_some_and(|n| n.chars().all(|c| c.is_ascii_digit())))
            })
        })
}

/// One statement, sorted; `original` is its text as the client wrote it.
fn sort_one(mut statement: Statement, original: &str) -> Sorted {
    match &statement {
        Statement::StartTransaction { .. } => return Sorted::Begin,
        Statement::Commit { .. } => return Sorted::End("COMMIT"),
        Statement::Rollback { .. } => return Sorted::End("ROLLBACK"),
        Statement::Discard { .. } => return Sorted::Discard,
        Statement::Deallocate { name, .. } => {
            return Sorted::Deallocate(
                (!name.value.eq_ignore_ascii_case("all")).then(|| name.value.clone()),
            );
        }
        Statement::ShowVariable { variable } => {
            return Sorted::Show(
                variable
                    .iter()
                    .map(|ident| ident.value.to_lowercase())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        Statement::Set(set) => {
            if let Some(sorted) = sort_set(set) {
                return sorted;
            }
        }
        _ => {}
    }
    if rewrite(&mut statement) {
        Sorted::Query(statement.to_string())
    } else {
        Sorted::Query(original.to_owned())
    }
}

/// A `SET`: a Postgres session setting, or DataFusion's (sent on with each query).
fn sort_set(set: &Set) -> Option<Sorted> {
    let (name, value) = match set {
        Set::SingleAssignment {
            variable, values, ..
        } => (
            variable.to_string(),
            values
                .iter()
                .map(|value| match value {
                    Expr::Value(value) => match &value.value {
                        Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => {
                            text.clone()
                        }
                        other => other.to_string(),
                    },
                    Expr::Identifier(ident) => ident.value.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Set::SetTimeZone { value, .. } => ("timezone".to_owned(), unquote(&value.to_string())),
        Set::SetNames { charset_name, .. } => {
            ("client_encoding".to_owned(), charset_name.to_string())
        }
        Set::SetTransaction { .. } => return Some(Sorted::Ignored("SET")),
        _ => return None,
    };
    if name.to_lowercase().starts_with("datafusion.") {
        // The value is quoted here (the service's dialect has no backslash
        // escapes), and the name was parsed as an identifier.
        return Some(Sorted::EngineSet(
            name.to_lowercase(),
            format!("SET {name} = '{}'", value.replace('\'', "''")),
        ));
    }
    Some(Sorted::Set(name.to_lowercase(), value))
}

fn unquote(text: &str) -> String {
    text.trim_matches('\'').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(sql: &str) -> String {
        match sort(sql).remove(0) {
            Sorted::Query(query) => query,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn psql_describe_syntax_is_rewritten() {
        let sql = "SELECT c.oid FROM pg_catalog.pg_class c \
                   WHERE c.relname OPERATOR(pg_catalog.~) '^(part)$' COLLATE pg_catalog.default \
                   AND pg_catalog.pg_table_is_visible(c.oid)";
        assert_eq!(
            query(sql),
            "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname ~ '^(part)$' \
             AND pg_table_is_visible(c.oid)"
        );
        assert_eq!(
            query("SELECT typname FROM pg_type WHERE oid = '25'::oid"),
            "SELECT typname FROM pg_catalog.pg_type WHERE oid = CAST('25' AS BIGINT)"
        );
    }

    #[test]
    fn plain_queries_pass_as_sent() {
        let sql = "select  *   from tpch.part where p_size = 5";
        assert_eq!(query(sql), sql);
        // Only catalog queries are rewritten: a query of the catalog's tables
        // keeps its COLLATE, casts and names, even one called like pg_class.
        for sql in [
            "SELECT p_name COLLATE \"C\" FROM tpch.part",
            "SELECT '25'::oid FROM tpch.part",
            "WITH pg_class AS (SELECT 1 AS oid) SELECT oid FROM pg_class",
        ] {
            assert_eq!(query(sql), sql);
        }
        // The Postgres dialect cannot parse it: the service will say why.
        assert_eq!(query("SELEC 1"), "SELEC 1");
    }

    #[test]
    fn session_statements_are_answered_here() {
        assert_eq!(sort("BEGIN"), vec![Sorted::Begin]);
        assert_eq!(sort("commit"), vec![Sorted::End("COMMIT")]);
        assert_eq!(
            sort("SET extra_float_digits = 3"),
            vec![Sorted::Set("extra_float_digits".into(), "3".into())]
        );
        assert_eq!(
            sort("SET application_name = 'psql'"),
            vec![Sorted::Set("application_name".into(), "psql".into())]
        );
        assert_eq!(
            sort("SET datafusion.execution.time_zone = 'UTC'"),
            vec![Sorted::EngineSet(
                "datafusion.execution.time_zone".into(),
                "SET datafusion.execution.time_zone = 'UTC'".into()
            )]
        );
        assert_eq!(
            sort("SHOW transaction_isolation"),
            vec![Sorted::Show("transaction_isolation".into())]
        );
        assert_eq!(sort("BEGIN; SELECT 1; COMMIT").len(), 3);
        // Statements are split where the tokenizer sees a semicolon, and sent
        // as written, whatever their strings hold.
        assert_eq!(
            sort("SELECT 'a;b', 'it''s \\' ; -- c;\nSELECT 2;"),
            vec![
                Sorted::Query("SELECT 'a;b', 'it''s \\' ".into()),
                Sorted::Query(" -- c;\nSELECT 2".into())
            ]
        );
        assert_eq!(sort(" ; ;"), vec![]);
    }
}
