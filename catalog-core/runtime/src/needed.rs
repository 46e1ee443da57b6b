//! The tables a statement needs: what a one-query process registers, and so
//! which plugins it opens.

use std::collections::BTreeSet;

use catalog_core::TableSpec;
use datafusion::common::TableReference;
use datafusion::execution::SessionState;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast;

/// The specs of `specs` that `statements` read, with everything the views
/// among them read, in turn (a materialized view read from its copy reads
/// nothing more): what a session must register to run them, in `specs`'
/// order. Registering only these opens only their plugins.
///
/// `None` when a statement is not a query (or `EXPLAIN` of one), or reads a
/// name that is not one of `specs` (`information_schema`, a typo): register
/// every table then, so that the statement plans, or fails, as it would
/// with the whole catalog.
pub fn needed_by<'a>(
    state: &SessionState,
    statements: &[Statement],
    specs: &[&'a TableSpec],
) -> Option<Vec<&'a TableSpec>> {
    let mut needed = BTreeSet::new();
    let mut pending: Vec<TableReference> = Vec::new();
    for statement in statements {
        if !is_query(statement) {
            return None;
        }
        pending.extend(state.resolve_table_references(statement).ok()?);
    }
    let options = &state.config().options().catalog;
    let (default_catalog, default_schema) = (&options.default_catalog, &options.default_schema);
    while let Some(reference) = pending.pop() {
        let resolved = reference.resolve(default_catalog, default_schema);
        if *resolved.catalog != **default_catalog {
            return None;
        }
        let index = specs
            .iter()
            .position(|spec| *spec.database == *resolved.schema && *spec.name == *resolved.table)?;
        if !needed.insert(index) {
            continue;
        }
        let spec = specs[index];
        if spec.materialized_copy().is_some() {
            continue;
        }
        if let Some(view) = &spec.view {
            let dialect = state.config().options().sql_parser.dialect;
            let statement = state.sql_to_statement(&view.sql, &dialect).ok()?;
            pending.extend(state.resolve_table_references(&statement).ok()?);
        }
    }
    Some(needed.into_iter().map(|index| specs[index]).collect())
}

/// A query, or `EXPLAIN [ANALYZE]` of one: statements that only read.
fn is_query(statement: &Statement) -> bool {
    match statement {
        Statement::Statement(inner) => matches!(**inner, ast::Statement::Query(_)),
        Statement::Explain(explain) => is_query(&explain.statement),
        _ => false,
    }
}
