//! Catalog queries, rewritten: the Postgres-only syntax of the queries psql
//! and drivers send to `pg_catalog` and `information_schema`, turned into what
//! DataFusion plans (`OPERATOR(pg_catalog.~)`, `COLLATE pg_catalog.default`,
//! `pg_catalog.`-qualified functions, `::regclass` and other catalog casts,
//! subqueries of the catalog tables that are always empty here). A statement
//! that reads neither is never touched.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, GroupByExpr, Ident, ObjectName, ObjectNamePart, Query,
    SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut, VisitorMut,
};

use crate::pg_catalog::{EMPTY_TABLES, FILLED_TABLES, SCHEMA};

/// Whether `name` is one of the pg_catalog tables served.
fn is_catalog_table(name: &str) -> bool {
    FILLED_TABLES.contains(&name) || EMPTY_TABLES.contains(&name)
}

/// Rewrites Postgres-only syntax into what DataFusion plans; whether anything changed.
pub fn rewrite(statement: &mut Statement) -> bool {
    // Rewrites are for catalog queries only, where they match what Postgres
    // would answer: a query of the catalog's tables goes as it was written.
    let ctes = cte_names(statement);
    let mut catalog = false;
    let _ = datafusion::sql::sqlparser::ast::visit_relations(statement, |relation| {
        catalog |= is_catalog_relation(relation, &ctes);
        ControlFlow::<()>::Continue(())
    });
    // A call of a `pg_catalog.` function reads the catalog too, with no table
    // (psql's `SELECT pg_catalog.pg_get_viewdef('16400'::pg_catalog.oid, true)`).
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(statement, |expr| {
        if let Expr::Function(function) = expr
            && let [schema, _] = function.name.0.as_slice()
        {
            catalog |= schema
                .as_ident()
                .is_some_and(|schema| schema.value == SCHEMA);
        }
        ControlFlow::<()>::Continue(())
    });
    if !catalog {
        return false;
    }
    let mut rewriter = Rewriter {
        changed: false,
        ctes,
    };
    if let Statement::Query(query) = statement {
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
    /// The names of the statement's common table expressions, which are never
    /// pg_catalog's tables.
    ctes: Vec<String>,
}

/// The names the statement's `WITH` clauses define.
fn cte_names(statement: &Statement) -> Vec<String> {
    let mut names = Vec::new();
    let _ = datafusion::sql::sqlparser::ast::visit_statements(statement, |statement| {
        if let Statement::Query(query) = statement
            && let Some(with) = &query.with
        {
            names.extend(
                with.cte_tables
                    .iter()
                    .map(|cte| cte.alias.name.value.clone()),
            );
        }
        ControlFlow::<()>::Continue(())
    });
    names
}

/// Whether `relation` is one of pg_catalog's tables (written with its schema or
/// without, unless a CTE has the name) or in `information_schema`.
fn is_catalog_relation(relation: &ObjectName, ctes: &[String]) -> bool {
    let parts: Vec<&str> = relation
        .0
        .iter()
        .filter_map(|part| part.as_ident().map(|ident| ident.value.as_str()))
        .collect();
    match parts.as_slice() {
        [schema, _] => *schema == SCHEMA || *schema == "information_schema",
        [name] => is_catalog_table(name) && !ctes.iter().any(|cte| cte == name),
        _ => false,
    }
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
            && is_catalog_table(&name.value)
            && !self.ctes.contains(&name.value)
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
            Expr::Subquery(query) if reads_empty_table(query) => {
                *expr = Expr::value(Value::Null);
                self.changed = true;
            }
            Expr::Subquery(query) => {
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
            // `ARRAY(SELECT …)` of a catalog table that is always empty here
            // (role memberships): an empty array, which psql prints as nothing.
            Expr::Function(function) if matches!(&function.args, FunctionArguments::Subquery(query) if reads_empty_table(query)) =>
            {
                *expr = null_text();
                self.changed = true;
            }
            // Arrays in the catalog (options, privileges) are always empty here.
            Expr::Function(function)
                if unqualified(&function.name)
                    .is_some_and(|name| name.value.eq_ignore_ascii_case("array_to_string")) =>
            {
                *expr = null_text();
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

/// `CAST(NULL AS TEXT)`: an empty array as psql prints it.
fn null_text() -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(Expr::value(Value::Null)),
        data_type: DataType::Text,
        array: false,
        format: None,
    }
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
