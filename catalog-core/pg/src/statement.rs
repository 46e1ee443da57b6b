//! What a Postgres client sends, sorted before it reaches the query service:
//! the statements of a session that the adapter answers itself (`BEGIN`,
//! `COMMIT`, `SET application_name`, `SHOW`, `DISCARD`), and queries, with
//! the Postgres-only syntax of catalog queries rewritten into what DataFusion
//! plans (`OPERATOR(pg_catalog.~)`, `COLLATE pg_catalog.default`,
//! `pg_catalog.`-qualified functions, `::regclass` and other catalog casts).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, GroupByExpr, Ident, ObjectName, ObjectNamePart, Query,
    SelectItem, Set, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::pg_catalog::{EMPTY_TABLES, SCHEMA};

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
    /// `SET datafusion.… = value`: kept for the session, sent before each query.
    EngineSet(String),
    /// `SHOW name`.
    Show(String),
    /// A statement with nothing to do here (`DISCARD ALL`, `DEALLOCATE`,
    /// `RESET`, `LISTEN`): acknowledged with its tag.
    Ignored(&'static str),
}

/// The statements of `sql`, sorted. SQL that the Postgres dialect does not
/// parse goes to the service as it came, which parses it with its own
/// dialect and says what is wrong.
pub fn sort(sql: &str) -> Vec<Sorted> {
    let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return vec![Sorted::Query(sql.to_owned())];
    };
    let single = statements.len() == 1;
    statements
        .into_iter()
        .map(|statement| sort_one(statement, single.then_some(sql)))
        .collect()
}

/// One statement, sorted; `original` is the whole request when it is this statement alone.
fn sort_one(mut statement: Statement, original: Option<&str>) -> Sorted {
    match &statement {
        Statement::StartTransaction { .. } => return Sorted::Begin,
        Statement::Commit { .. } => return Sorted::End("COMMIT"),
        Statement::Rollback { .. } => return Sorted::End("ROLLBACK"),
        Statement::Discard { .. } => return Sorted::Ignored("DISCARD ALL"),
        Statement::Deallocate { .. } => return Sorted::Ignored("DEALLOCATE"),
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
        Sorted::Query(original.map_or_else(|| statement.to_string(), str::to_owned))
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
        return Some(Sorted::EngineSet(format!(
            "SET {name} = '{}'",
            value.replace('\'', "''")
        )));
    }
    Some(Sorted::Set(name.to_lowercase(), value))
}

fn unquote(text: &str) -> String {
    text.trim_matches('\'').to_owned()
}

/// Rewrites Postgres-only syntax into what DataFusion plans; whether anything changed.
pub fn rewrite(statement: &mut Statement) -> bool {
    // Some rewrites are for catalog queries only, where they match what
    // Postgres would answer; a query of the catalog's tables keeps its meaning.
    let mut catalog = false;
    let _ = datafusion::sql::sqlparser::ast::visit_relations(statement, |relation| {
        catalog |= relation.0.iter().any(|part| {
            part.as_ident().is_some_and(|ident| {
                ident.value.starts_with("pg_") || ident.value == "information_schema"
            })
        });
        ControlFlow::<()>::Continue(())
    });
    let mut rewriter = Rewriter {
        changed: false,
        catalog,
    };
    if catalog && let Statement::Query(query) = statement {
        rewriter.changed |= empty_selects(&mut query.body);
        if rewriter.changed {
            query.order_by = None;
        }
    }
    let _ = statement.visit(&mut rewriter);
    rewriter.changed
}

struct Rewriter {
    changed: bool,
    /// Whether the statement reads pg_catalog.
    catalog: bool,
}

/// `pg_catalog.name` → `name`, for functions and types.
fn unqualified(name: &ObjectName) -> Option<&Ident> {
    match name.0.as_slice() {
        [
            ObjectNamePart::Identifier(schema),
            ObjectNamePart::Identifier(name),
        ] if schema.value.eq_ignore_ascii_case(SCHEMA) => Some(name),
        [ObjectNamePart::Identifier(name)] => Some(name),
        _ => None,
    }
}

impl VisitorMut for Rewriter {
    type Break = ();

    fn post_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        // Postgres finds pg_catalog's tables without a schema.
        if let [ObjectNamePart::Identifier(name)] = relation.0.as_slice()
            && name.value.starts_with("pg_")
        {
            relation
                .0
                .insert(0, ObjectNamePart::Identifier(Ident::new(SCHEMA)));
            self.changed = true;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::BinaryOp { op, .. } => {
                if let BinaryOperator::PGCustomBinaryOperator(parts) = op
                    && let Some(plain) = parts.last().and_then(|last| operator(last))
                {
                    *op = plain;
                    self.changed = true;
                }
            }
            // Postgres fails a scalar subquery of several rows when it runs;
            // DataFusion refuses to plan one that is not aggregated. The
            // catalog's have at most one row: `max` plans and answers the same.
            // A scalar subquery of a catalog table codelake leaves empty
            // (defaults, collations, constraints) is null, as in Postgres.
            Expr::Subquery(query) if self.catalog && reads_empty_table(query) => {
                *expr = Expr::value(Value::Null);
                self.changed = true;
            }
            Expr::Subquery(query) if self.catalog => {
                if let SetExpr::Select(select) = query.body.as_mut()
                    && select.projection.len() == 1
                    && matches!(select.group_by, GroupByExpr::Expressions(ref e, _) if e.is_empty())
                    && query.limit_clause.is_none()
                    && let SelectItem::UnnamedExpr(inner)
                    | SelectItem::ExprWithAlias { expr: inner, .. } = &mut select.projection[0]
                    && !is_aggregate(inner)
                {
                    let value = std::mem::replace(inner, Expr::value(Value::Null));
                    *inner = call("max", vec![value]);
                    self.changed = true;
                }
            }
            Expr::Collate { expr: inner, .. } => {
                *expr = std::mem::replace(inner.as_mut(), Expr::value(Value::Null));
                self.changed = true;
            }
            // Arrays in the catalog (options, privileges) are always empty here.
            Expr::Function(function)
                if self.catalog
                    && unqualified(&function.name)
                        .is_some_and(|name| name.value.eq_ignore_ascii_case("array_to_string")) =>
            {
                *expr = Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(Expr::value(Value::Null)),
                    data_type: DataType::Text,
                    array: false,
                    format: None,
                };
                self.changed = true;
            }
            Expr::Function(function) => {
                if function.name.0.len() == 2
                    && let Some(name) = unqualified(&function.name).cloned()
                {
                    function.name = ObjectName(vec![ObjectNamePart::Identifier(name)]);
                    self.changed = true;
                }
            }
            Expr::Cast {
                kind, data_type, ..
            } => {
                if let Some(plain) = plain_type(data_type) {
                    *data_type = plain;
                    if *kind == CastKind::DoubleColon {
                        *kind = CastKind::Cast;
                    }
                    self.changed = true;
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Makes each `SELECT` of `body` that reads an empty catalog table answer
/// no rows with the same column names, without planning its expressions:
/// psql's queries of policies, publications or statistics objects use
/// functions and arrays that only matter when there are rows.
fn empty_selects(body: &mut SetExpr) -> bool {
    match body {
        SetExpr::SetOperation { left, right, .. } => {
            let left = empty_selects(left);
            empty_selects(right) | left
        }
        SetExpr::Select(select) if select_reads_empty_table(select) => {
            for (index, item) in select.projection.iter_mut().enumerate() {
                let name = match item {
                    SelectItem::ExprWithAlias { alias, .. } => alias.clone(),
                    SelectItem::UnnamedExpr(Expr::Identifier(ident)) => ident.clone(),
                    SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => parts
                        .last()
                        .cloned()
                        .unwrap_or_else(|| Ident::new(format!("column{index}"))),
                    _ => Ident::new(format!("column{}", index + 1)),
                };
                *item = SelectItem::ExprWithAlias {
                    expr: Expr::value(Value::Null),
                    alias: name,
                };
            }
            select.selection = Some(Expr::value(Value::Boolean(false)));
            select.from.truncate(1);
            if let Some(from) = select.from.first_mut() {
                from.joins.clear();
            }
            true
        }
        _ => false,
    }
}

/// Whether `query` is a plain `SELECT` over a join that starts from one of
/// the catalog tables that codelake leaves empty, so that it has no rows.
fn reads_empty_table(query: &Query) -> bool {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    select_reads_empty_table(select)
}

fn select_reads_empty_table(select: &datafusion::sql::sqlparser::ast::Select) -> bool {
    select.group_by == GroupByExpr::Expressions(Vec::new(), Vec::new())
        && !select.projection.iter().any(|item| match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => {
                is_aggregate(expr)
            }
            _ => false,
        })
        && select.from.iter().any(|from| match &from.relation {
            TableFactor::Table { name, .. } => name
                .0
                .last()
                .and_then(|part| part.as_ident())
                .is_some_and(|table| EMPTY_TABLES.contains(&table.value.as_str())),
            _ => false,
        })
}

/// Whether `expr` is a call of an aggregate function.
fn is_aggregate(expr: &Expr) -> bool {
    const AGGREGATES: &[&str] = &[
        "count",
        "sum",
        "min",
        "max",
        "avg",
        "bool_and",
        "bool_or",
        "every",
        "array_agg",
        "string_agg",
        "first_value",
        "last_value",
    ];
    matches!(expr, Expr::Function(function)
    if function.name.0.last().and_then(|part| part.as_ident()).is_some_and(|name| {
        AGGREGATES.contains(&name.value.to_lowercase().as_str())
    }))
}

/// `name(args)`.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|arg| FunctionArg::Unnamed(FunctionArgExpr::Expr(arg)))
                .collect(),
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

/// The operator `OPERATOR(pg_catalog.op)` names.
fn operator(name: &str) -> Option<BinaryOperator> {
    Some(match name {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "~~" => BinaryOperator::PGLikeMatch,
        "!~~" => BinaryOperator::PGNotLikeMatch,
        "=" => BinaryOperator::Eq,
        "<>" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        "<=" => BinaryOperator::LtEq,
        ">" => BinaryOperator::Gt,
        ">=" => BinaryOperator::GtEq,
        "||" => BinaryOperator::StringConcat,
        _ => return None,
    })
}

/// The type DataFusion knows for a Postgres catalog type: object ids are
/// integers, names and `"char"` are text.
fn plain_type(data_type: &DataType) -> Option<DataType> {
    let name = match data_type {
        DataType::Regclass => "regclass".to_owned(),
        DataType::Custom(name, modifiers) if modifiers.is_empty() => {
            unqualified(name)?.value.to_lowercase()
        }
        DataType::Text => return None,
        _ => return None,
    };
    Some(match name.as_str() {
        "oid" | "regclass" | "regtype" | "regproc" | "regprocedure" | "regnamespace"
        | "regrole" | "regoper" | "xid" | "cid" => DataType::BigInt(None),
        "name" | "char" | "text" | "bpchar" | "regconfig" => DataType::Text,
        _ => return None,
    })
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
                "SET datafusion.execution.time_zone = 'UTC'".into()
            )]
        );
        assert_eq!(
            sort("SHOW transaction_isolation"),
            vec![Sorted::Show("transaction_isolation".into())]
        );
        assert_eq!(sort("BEGIN; SELECT 1; COMMIT").len(), 3);
    }
}
