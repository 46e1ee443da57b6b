//! Views: catalog tables whose rows are a SQL query over other catalog tables.
//!
//! A view is planned, never read by a plugin. [`check`] plans every view
//! against the declared schemas of the tables it reads, with no data and no
//! server, and returns each view's lineage or every problem found;
//! [`crate::register_tables`] registers the views of a session after its
//! plugin tables, in the order they read each other, as DataFusion views, so
//! projections and filters reach the sources.

mod contract;
mod lineage;

pub use contract::compare;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use catalog_core::lineage::ViewLineage;
use catalog_core::{TableSpec, ViewSpec};
use datafusion::common::TableReference;
use datafusion::datasource::ViewTable;
use datafusion::datasource::empty::EmptyTable;
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;

/// What is wrong with one view: it names the view, the file its SQL is in,
/// and the column when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewProblem {
    /// The view, `database.name`.
    pub view: String,
    /// The view's SQL file (or the module declaring inline SQL).
    pub file: String,
    /// The column at fault, if the problem is one column's.
    pub column: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for ViewProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "view `{}` ({})", self.view, self.file)?;
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ViewProblem {
    fn new(spec: &TableSpec, column: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            view: spec.qualified_name(),
            file: spec
                .view
                .as_ref()
                .map_or_else(String::new, |view| view.file.to_string()),
            column: column.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// Plans every view of `specs` against the declared schemas of the tables it
/// reads (no data, no plugin, no server). On success, every view's lineage,
/// sorted by view; otherwise every problem, views in dependency order.
pub async fn check(specs: &[&TableSpec]) -> Result<Vec<ViewLineage>, Vec<ViewProblem>> {
    let ctx = SessionContext::new();
    let mut problems = Vec::new();
    for spec in specs.iter().filter(|spec| !spec.is_view()) {
        let table = Arc::new(EmptyTable::new(Arc::new(spec.query_schema())));
        if let Err(error) = crate::register::register_provider(&ctx, spec, table) {
            problems.push(ViewProblem::new(spec, None, error.to_string()));
        }
    }
    let (ordered, mut unordered) = order(&ctx.state(), specs, &BTreeSet::new());
    let broken: BTreeSet<String> = unordered
        .iter()
        .map(|problem| problem.view.clone())
        .collect();
    problems.append(&mut unordered);
    let names: BTreeSet<String> = specs
        .iter()
        .filter(|spec| spec.is_view())
        .map(|spec| spec.qualified_name())
        .collect();
    let tables: BTreeSet<String> = specs.iter().map(|spec| spec.qualified_name()).collect();
    let planned = plan_in_order(&ctx, ordered, broken, &mut problems, |upstream| {
        format!("it reads view `{upstream}`, which has problems of its own (above)")
    })
    .await;
    let mut lineage: Vec<ViewLineage> = planned
        .iter()
        .map(|(view, plan)| lineage::of(view, plan, &names, &tables))
        .collect();
    if problems.is_empty() {
        lineage.sort_by(|a, b| a.view.cmp(&b.view));
        Ok(lineage)
    } else {
        Err(problems)
    }
}

/// Registers `views` in `ctx`, whose plugin tables are registered already,
/// each after the views it reads. A view whose SQL no longer plans, whose
/// columns differ from its struct, or that reads a table in `unavailable` is
/// returned as a problem; the others answer queries.
pub async fn register_views(
    ctx: &SessionContext,
    views: &[&TableSpec],
    unavailable: &BTreeSet<String>,
) -> Vec<ViewProblem> {
    let (ordered, mut problems) = order(&ctx.state(), views, unavailable);
    let mut broken = unavailable.clone();
    broken.extend(problems.iter().map(|problem| problem.view.clone()));
    plan_in_order(ctx, ordered, broken, &mut problems, |upstream| {
        format!("it reads `{upstream}`, which is unavailable (see its own error)")
    })
    .await;
    problems
}

/// Plans the views of `specs` that `ctx` runs as SQL again (each registered as
/// a `ViewTable`: a live view, or a materialized one under `--live`), so that
/// they read the providers their tables have now: after a wrapper replaced
/// those tables, as the cluster's does so that a scan can travel to a worker
/// by the table's name. A view whose name holds another provider (an
/// accelerated view's copy, a materialized view's stored table) is left as it is.
pub async fn replan_live_views(ctx: &SessionContext, specs: &[&TableSpec]) {
    let mut live = Vec::new();
    for spec in specs.iter().filter(|spec| spec.is_view()) {
        let reference = TableReference::partial(spec.database.to_string(), spec.name.to_string());
        let registered = ctx.table_provider(reference).await;
        if registered.is_ok_and(|provider| provider.is::<ViewTable>()) {
            live.push(spec.live());
        }
    }
    if !live.is_empty() {
        replan_views(ctx, &live.iter().collect::<Vec<_>>(), |_| {}).await;
    }
}

/// Plans the views of `views` registered in `ctx` again, each after the views
/// it reads, so that they read the providers their tables have now (an
/// accelerated table's, put in after the views were planned). `then` is
/// called after each view is planned again. A view that no longer plans keeps
/// the plan it had.
pub(crate) async fn replan_views(
    ctx: &SessionContext,
    views: &[&TableSpec],
    mut then: impl FnMut(&TableSpec),
) {
    let (ordered, _) = order(&ctx.state(), views, &BTreeSet::new());
    for view in ordered {
        let reference =
            TableReference::partial(view.spec.database.to_string(), view.spec.name.to_string());
        let Ok(Some(planned)) = ctx.deregister_table(reference.clone()) else {
            continue;
        };
        if plan_and_register(ctx, &view).await.is_err() {
            let _ = ctx.register_table(reference, planned);
        }
        then(view.spec);
    }
}

/// Plans and registers `ordered` views in turn: a view reading one in
/// `broken` (or one that failed before it) is a problem worded by
/// `unavailable`, not planned. The views planned, each with its plan.
async fn plan_in_order(
    ctx: &SessionContext,
    ordered: Vec<Parsed<'_>>,
    mut broken: BTreeSet<String>,
    problems: &mut Vec<ViewProblem>,
    unavailable: impl Fn(&str) -> String,
) -> Vec<(String, LogicalPlan)> {
    let mut planned = Vec::new();
    for view in ordered {
        let name = view.spec.qualified_name();
        if let Some(upstream) = view.reads.iter().find(|read| broken.contains(*read)) {
            problems.push(ViewProblem::new(view.spec, None, unavailable(upstream)));
            broken.insert(name);
            continue;
        }
        match plan_and_register(ctx, &view).await {
            Ok(plan) => planned.push((name, plan)),
            Err(mut found) => {
                problems.append(&mut found);
                broken.insert(name);
            }
        }
    }
    planned
}

/// A view, its parsed SQL and the tables it reads.
struct Parsed<'a> {
    spec: &'a TableSpec,
    statement: Statement,
    reads: Vec<String>,
}

/// The views of `specs`, each after every view it reads; the views that
/// cannot be ordered (bad SQL, a bare or unknown table name, a cycle) as
/// problems. A table is known if it is registered in `state`, is one of
/// `specs`, or is declared but `unavailable`.
fn order<'a>(
    state: &SessionState,
    specs: &[&'a TableSpec],
    unavailable: &BTreeSet<String>,
) -> (Vec<Parsed<'a>>, Vec<ViewProblem>) {
    let views: BTreeMap<String, &TableSpec> = specs
        .iter()
        .filter(|spec| spec.is_view())
        .map(|spec| (spec.qualified_name(), *spec))
        .collect();
    let mut problems = Vec::new();
    let mut parsed = BTreeMap::new();
    for (name, spec) in &views {
        match parse(state, spec, &views, unavailable) {
            Ok(view) => {
                parsed.insert(name.clone(), view);
            }
            Err(problem) => problems.push(problem),
        }
    }
    // A view that can reach itself through what it reads is on a cycle: every
    // such view is refused, each with the cycle read from itself.
    let cycles: BTreeMap<String, Vec<String>> = parsed
        .keys()
        .filter_map(|name| cycle_from(name, &parsed).map(|cycle| (name.clone(), cycle)))
        .collect();
    for (name, cycle) in &cycles {
        problems.push(ViewProblem::new(
            views[name],
            None,
            format!(
                "views read each other in a cycle: {}; a view can only read tables and views that do not read it back",
                cycle.join(" → ")
            ),
        ));
        parsed.remove(name);
    }
    // Depth-first, in name order: a view comes after the views it reads.
    let mut ordered = Vec::new();
    let names: Vec<String> = parsed.keys().cloned().collect();
    for name in names {
        visit(&name, &mut parsed, &mut ordered);
    }
    (ordered, problems)
}

/// The shortest path from view `start` back to itself through the views it
/// reads (`start → … → start`), if there is one.
fn cycle_from(start: &str, parsed: &BTreeMap<String, Parsed<'_>>) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(current) = queue.pop_front() {
        for read in parsed
            .get(current)
            .map_or(&[][..], |view| view.reads.as_slice())
        {
            if read == start {
                // Walked back from `current` to `start`, then read forwards.
                let mut chain = Vec::new();
                let mut at = current;
                while at != start {
                    chain.push(at.to_owned());
                    at = came_from[at];
                }
                chain.reverse();
                let mut path = vec![start.to_owned()];
                path.extend(chain);
                path.push(start.to_owned());
                return Some(path);
            }
            if parsed.contains_key(read.as_str())
                && !came_from.contains_key(read.as_str())
                && read != start
            {
                came_from.insert(read, current);
                queue.push_back(read);
            }
        }
    }
    None
}

/// Moves `name`'s view to `ordered` after the views it reads (none of them on a cycle).
fn visit<'a>(name: &str, parsed: &mut BTreeMap<String, Parsed<'a>>, ordered: &mut Vec<Parsed<'a>>) {
    let Some(view) = parsed.remove(name) else {
        return; // a plugin table, a view already ordered, or one refused above
    };
    for read in &view.reads {
        visit(read, parsed, ordered);
    }
    ordered.push(view);
}

/// Parses a view's SQL and names the tables it reads, each as `database.name`.
fn parse<'a>(
    state: &SessionState,
    spec: &'a TableSpec,
    views: &BTreeMap<String, &TableSpec>,
    unavailable: &BTreeSet<String>,
) -> Result<Parsed<'a>, ViewProblem> {
    let ViewSpec { sql, .. } = spec.view.as_ref().expect("only views are parsed");
    let dialect = state.config().options().sql_parser.dialect;
    let statement = state.sql_to_statement(sql, &dialect).map_err(|error| {
        ViewProblem::new(
            spec,
            None,
            format!("the SQL does not parse: {}", crate::user_message(&error)),
        )
    })?;
    // A view is one query: anything else (DDL, `COPY … TO`, `SET`) would run
    // as a side effect of reading it. The derive refuses it at compile time; a
    // catalog.json read at run time is checked here.
    let is_query = matches!(
        &statement,
        Statement::Statement(inner) if matches!(**inner, datafusion::sql::sqlparser::ast::Statement::Query(_))
    );
    if !is_query {
        return Err(ViewProblem::new(
            spec,
            None,
            "its SQL is not a query: a view is one `SELECT` (or `WITH … SELECT`)",
        ));
    }
    let references = state
        .resolve_table_references(&statement)
        .map_err(|error| ViewProblem::new(spec, None, crate::user_message(&error)))?;
    let mut reads = BTreeSet::new();
    for reference in references {
        let TableReference::Partial { schema, table } = &reference else {
            let example = format!("{}.{}", spec.database, reference.table());
            let message = match reference {
                TableReference::Bare { .. } => format!(
                    "it reads `{reference}`, which names no database: write it as `database.table`, e.g. `{example}`"
                ),
                _ => format!(
                    "it reads `{reference}`: name catalog tables as `database.table`, e.g. `{example}`"
                ),
            };
            return Err(ViewProblem::new(spec, None, message));
        };
        let name = format!("{schema}.{table}");
        let known = views.contains_key(&name)
            || unavailable.contains(&name)
            || state
                .schema_for_ref(reference.clone())
                .is_ok_and(|schema| schema.table_exist(table));
        if !known {
            return Err(ViewProblem::new(
                spec,
                None,
                format!(
                    "it reads `{name}`, which the catalog does not declare: declare it with `#[derive(Table)]`, or fix the name"
                ),
            ));
        }
        reads.insert(name);
    }
    Ok(Parsed {
        spec,
        statement,
        reads: reads.into_iter().collect(),
    })
}

/// Plans a view whose reads are all registered, checks its columns against
/// its struct, and registers it.
async fn plan_and_register(
    ctx: &SessionContext,
    view: &Parsed<'_>,
) -> Result<LogicalPlan, Vec<ViewProblem>> {
    let spec = view.spec;
    let plan = ctx
        .state()
        .statement_to_plan(view.statement.clone())
        .await
        .map_err(|error| {
            vec![ViewProblem::new(
                spec,
                None,
                format!(
                    "the SQL does not plan against the declared tables: {}",
                    crate::user_message(&error)
                ),
            )]
        })?;
    let problems = contract::compare(spec, plan.schema().as_arrow());
    if !problems.is_empty() {
        return Err(problems);
    }
    let sql = spec.view.as_ref().map(|view| view.sql.to_string());
    crate::register::register_provider(ctx, spec, Arc::new(ViewTable::new(plan.clone(), sql)))
        .map_err(|error| vec![ViewProblem::new(spec, None, error.to_string())])?;
    Ok(plan)
}
