//! Column lineage from a logical plan: which scanned columns each output
//! column is computed from, through projections, aggregates, joins, unions,
//! window functions and scalar subqueries.
//!
//! DataFusion's SQL planner inlines a view it reads, under a `SubqueryAlias`
//! named for the view: lineage stops there, so it names the view read, one
//! hop, not the tables beneath it.

use std::collections::BTreeSet;

use catalog_core::lineage::{ColumnLineage, ViewLineage};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, JoinType};
use datafusion::logical_expr::utils::grouping_set_to_exprlist;
use datafusion::logical_expr::{Distinct, Expr, LogicalPlan};

/// The lineage of `view`, whose output columns are `plan`'s; `views` names
/// every view of the catalog, `tables` every table and view. A scan of
/// anything else (a recursive CTE's work table) is no read of the catalog.
pub fn of(
    view: &str,
    plan: &LogicalPlan,
    views: &BTreeSet<String>,
    tables: &BTreeSet<String>,
) -> ViewLineage {
    let walk = Walk { views };
    let mut reads = BTreeSet::new();
    // Every scan, in subqueries too: a table read only in `WHERE x IN (…)` is still read.
    let _ = plan.apply_with_subqueries(|node| {
        if let Some(view) = walk.view(node) {
            reads.insert(view);
            return Ok(TreeNodeRecursion::Jump);
        }
        if let LogicalPlan::TableScan(scan) = node
            && tables.contains(&scan.table_name.to_string())
        {
            reads.insert(scan.table_name.to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    let columns = plan
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| ColumnLineage {
            column: field.name().clone(),
            from: walk
                .sources(plan, index)
                .into_iter()
                .map(|(table, column)| format!("{table}.{column}"))
                .collect(),
        })
        .collect();
    ViewLineage {
        view: view.to_owned(),
        reads: reads.into_iter().collect(),
        columns,
    }
}

/// The plan walk, which knows where views begin.
struct Walk<'a> {
    views: &'a BTreeSet<String>,
}

impl Walk<'_> {
    /// The view `node` is the inlined plan of, if it is one.
    fn view(&self, node: &LogicalPlan) -> Option<String> {
        match node {
            LogicalPlan::SubqueryAlias(alias) => {
                let name = alias.alias.to_string();
                self.views.contains(&name).then_some(name)
            }
            _ => None,
        }
    }

    /// `(table, column)` pairs that output column `index` of `plan` is computed from.
    fn sources(&self, plan: &LogicalPlan, index: usize) -> BTreeSet<(String, String)> {
        if let Some(view) = self.view(plan) {
            return plan
                .schema()
                .fields()
                .get(index)
                .map(|field| (view, field.name().clone()))
                .into_iter()
                .collect();
        }
        match plan {
            LogicalPlan::TableScan(scan) => scan
                .projected_schema
                .fields()
                .get(index)
                .map(|field| (scan.table_name.to_string(), field.name().clone()))
                .into_iter()
                .collect(),
            LogicalPlan::Projection(projection) => projection
                .expr
                .get(index)
                .map(|expr| self.expr_sources(expr, &projection.input))
                .unwrap_or_default(),
            LogicalPlan::Aggregate(aggregate) => {
                // Output: the grouping expressions, the grouping id when there
                // are grouping sets (computed from no column), then the aggregates.
                let groups = grouping_set_to_exprlist(&aggregate.group_expr).unwrap_or_default();
                let aggregates_from = aggregate.group_expr_len().unwrap_or(groups.len());
                if let Some(expr) = groups.get(index) {
                    self.expr_sources(expr, &aggregate.input)
                } else {
                    index
                        .checked_sub(aggregates_from)
                        .and_then(|at| aggregate.aggr_expr.get(at))
                        .map(|expr| self.expr_sources(expr, &aggregate.input))
                        .unwrap_or_default()
                }
            }
            LogicalPlan::Window(window) => {
                let passed = window.input.schema().fields().len();
                if index < passed {
                    self.sources(&window.input, index)
                } else {
                    window
                        .window_expr
                        .get(index - passed)
                        .map(|expr| self.expr_sources(expr, &window.input))
                        .unwrap_or_default()
                }
            }
            LogicalPlan::Join(join) => {
                let left = join.left.schema().fields().len();
                match join.join_type {
                    JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
                        self.sources(&join.right, index)
                    }
                    _ if index < left => self.sources(&join.left, index),
                    JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => BTreeSet::new(),
                    _ => self.sources(&join.right, index - left),
                }
            }
            LogicalPlan::Union(union) => union
                .inputs
                .iter()
                .flat_map(|input| self.sources(input, index))
                .collect(),
            // A recursive CTE: its first term, and what its recursive term adds
            // (the work table's own columns lead nowhere further).
            LogicalPlan::RecursiveQuery(recursive) => {
                [&recursive.static_term, &recursive.recursive_term]
                    .into_iter()
                    .flat_map(|input| self.sources(input, index))
                    .collect()
            }
            LogicalPlan::Distinct(Distinct::On(on)) => on
                .select_expr
                .get(index)
                .map(|expr| self.expr_sources(expr, &on.input))
                .unwrap_or_default(),
            // Filters, sorts, limits, aliases, DISTINCT and the like pass their
            // input's columns through unchanged.
            other => match other.inputs().as_slice() {
                [input] if input.schema().fields().len() == other.schema().fields().len() => {
                    self.sources(input, index)
                }
                _ => BTreeSet::new(),
            },
        }
    }

    /// What `expr`, evaluated over `input`, is computed from: its columns, and
    /// the output of any scalar subquery in it.
    fn expr_sources(&self, expr: &Expr, input: &LogicalPlan) -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        let _ = expr.apply(|node| {
            match node {
                Expr::Column(column) => found.extend(self.column_sources(column, input)),
                Expr::ScalarSubquery(subquery) => found.extend(self.sources(&subquery.subquery, 0)),
                // `x IN (SELECT y …)` depends on `y` too.
                Expr::InSubquery(in_subquery) => {
                    found.extend(self.sources(&in_subquery.subquery.subquery, 0));
                }
                _ => {}
            }
            Ok(TreeNodeRecursion::Continue)
        });
        found
    }

    fn column_sources(&self, column: &Column, input: &LogicalPlan) -> BTreeSet<(String, String)> {
        match input.schema().index_of_column(column) {
            Ok(index) => self.sources(input, index),
            // An outer reference of a correlated subquery: not this input's.
            Err(_) => BTreeSet::new(),
        }
    }
}
