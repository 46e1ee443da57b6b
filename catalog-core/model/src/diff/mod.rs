//! Two catalogs compared: every change to a table, classified for the data's
//! readers, with the views downstream of it and whether the change is
//! acknowledged in code.
//!
//! The rule (also in `docs/how-to/review-catalog-changes.md`): a change is
//! **breaking** when a reader that worked before can fail or read wrong data
//! after it — a table removed, a column removed or narrowed, a column that may
//! now be null, the data moved to another location or source kind, an
//! expectation loosened, the contract version lowered. Everything else is
//! **compatible**: tables and columns added, types widened ([`widens`]),
//! expectations tightened, docs, owners, options and acceleration changed.
//!
//! A breaking change is acknowledged by the table that makes it (see
//! [`crate::contract`]); [`Diff::unacknowledged`] is what review must stop.
//!
//! ```
//! use catalog_core::Manifest;
//! use catalog_core::diff::Diff;
//! let empty = Manifest::new(Vec::new(), "test");
//! assert!(Diff::between(&empty, &empty).changes.is_empty());
//! ```

mod compare;
mod render;
#[cfg(test)]
mod tests;
mod widen;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::contract::{Allowance, ChangeKind, TABLE_EXPECTATIONS};
use crate::lineage::{ViewLineage, downstream_all};
use crate::{Manifest, TableSpec};

pub use render::{Labels, Report};
pub use widen::widens;

/// What a change does to the readers of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Impact {
    /// A reader that worked before can fail, or read wrong data.
    Breaking,
    /// Every reader keeps working.
    Compatible,
}

/// One change to one table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The table or view, `database.name`.
    pub table: String,
    /// What changed.
    pub kind: ChangeKind,
    /// The column, option or expectation it is about, if not the whole table.
    pub target: Option<String>,
    /// Breaking or compatible.
    pub impact: Impact,
    /// The change in words: ``column `o_comment` removed``.
    pub summary: String,
    /// The value before, in words, when there was one.
    pub before: Option<String>,
    /// The value after, in words, when there is one.
    pub after: Option<String>,
    /// Every view that reads the table, through any number of views, in
    /// either catalog: what the change can break.
    pub downstream: Vec<String>,
    /// For a change to a column, the view columns computed from it, through
    /// any number of views (`database.view.column`). A view can also read a
    /// column only to filter or join on it: [`Change::downstream`] names
    /// every view that may break.
    pub downstream_columns: Vec<String>,
    /// For a breaking change, what in code acknowledges it; `None` if nothing does.
    pub acknowledged_by: Option<String>,
    /// What to do, or what the change may really be (a rename).
    pub hint: Option<String>,
}

impl Change {
    /// The column the change is about, if it is about one.
    pub fn column(&self) -> Option<&str> {
        let about_a_column = match self.kind {
            ChangeKind::ColumnRemoved
            | ChangeKind::ColumnRetyped
            | ChangeKind::ColumnNullable
            | ChangeKind::ColumnAdded
            | ChangeKind::ColumnRequired
            | ChangeKind::ColumnDocChanged => true,
            // `freshness`, `min_rows` and `max_rows` are the table's; any other target is a column's checks.
            ChangeKind::ExpectationLoosened | ChangeKind::ExpectationTightened => {
                self.target.as_deref().is_some_and(|target| {
                    !TABLE_EXPECTATIONS.contains(&target) && target != "freshness_column"
                })
            }
            _ => false,
        };
        about_a_column.then_some(self.target.as_deref()).flatten()
    }

    /// A breaking change nothing acknowledges.
    pub fn is_unacknowledged(&self) -> bool {
        self.impact == Impact::Breaking && self.acknowledged_by.is_none()
    }
}

/// Every change between two catalogs, breaking changes first.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    /// The changes: breaking ones not acknowledged first, then breaking ones
    /// acknowledged, then compatible ones; each group by table, kind and target.
    pub changes: Vec<Change>,
    /// Things worth a look that are not changes: acknowledgements that
    /// acknowledge nothing, a `replaces` that names a table still there.
    pub notes: Vec<String>,
}

impl Diff {
    /// Compares `base` (before) with `head` (after).
    pub fn between(base: &Manifest, head: &Manifest) -> Self {
        let before = by_name(&base.tables);
        let after = by_name(&head.tables);
        let mut changes = Vec::new();
        for (name, old) in &before {
            match after.get(name) {
                Some(new) => compare::table(old, new, &mut changes),
                None => changes.push(compare::removed(old)),
            }
        }
        for (name, new) in &after {
            if !before.contains_key(name) {
                changes.push(compare::added(new));
            }
        }
        compare::hint_renames(&before, &after, &mut changes);
        for change in &mut changes {
            let mut downstream = downstream_all(&base.lineage, &change.table);
            downstream.extend(downstream_all(&head.lineage, &change.table));
            downstream.sort();
            downstream.dedup();
            change.downstream = downstream;
            if let Some(column) = change.column() {
                let column = format!("{}.{column}", change.table);
                let mut columns = columns_from(&base.lineage, &column);
                columns.extend(columns_from(&head.lineage, &column));
                columns.sort();
                columns.dedup();
                change.downstream_columns = columns;
            }
        }
        let mut diff = Self {
            changes,
            notes: Vec::new(),
        };
        diff.acknowledge(&before, &after);
        diff.sort();
        diff
    }

    /// What review must stop first: unacknowledged breaking changes, then
    /// acknowledged ones, then compatible ones.
    fn sort(&mut self) {
        self.changes.sort_by(|a, b| {
            let key = |c: &Change| {
                (
                    c.impact,
                    c.acknowledged_by.is_some(),
                    c.table.clone(),
                    c.kind,
                    c.target.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
    }

    /// Acknowledges breaking changes from the command line (`--allow`), for
    /// what no table in the catalog can carry, such as a table removed with no
    /// successor. Each entry is `KIND:DATABASE.TABLE` or
    /// `KIND:DATABASE.TABLE.TARGET`; an entry that matches no change is an error.
    pub fn allow(&mut self, entries: &[String]) -> Result<(), String> {
        for entry in entries {
            let (kind, rest) = entry.split_once(':').ok_or_else(|| {
                format!("`--allow {entry}`: write `KIND:DATABASE.TABLE[.TARGET]`, e.g. `table-removed:tpch.old_orders`")
            })?;
            let mut parts = rest.splitn(3, '.');
            let (Some(database), Some(table)) = (parts.next(), parts.next()) else {
                return Err(format!(
                    "`--allow {entry}`: name the table as `DATABASE.TABLE`, e.g. `{kind}:tpch.orders`"
                ));
            };
            let (table, target) = (format!("{database}.{table}"), parts.next());
            let mut matched = false;
            for change in &mut self.changes {
                if change.table == table
                    && change.kind.as_str() == kind
                    && change.target.as_deref() == target
                    && change.impact == Impact::Breaking
                {
                    matched = true;
                    change
                        .acknowledged_by
                        .get_or_insert_with(|| format!("--allow {entry}"));
                }
            }
            if !matched {
                return Err(format!(
                    "`--allow {entry}` matches no breaking change in this diff; the breaking changes are: {}",
                    self.breaking_names()
                ));
            }
        }
        self.sort();
        Ok(())
    }

    /// The breaking changes that nothing acknowledges.
    pub fn unacknowledged(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|change| change.is_unacknowledged())
    }

    /// How many changes have `impact`.
    pub fn count(&self, impact: Impact) -> usize {
        self.changes
            .iter()
            .filter(|change| change.impact == impact)
            .count()
    }

    fn breaking_names(&self) -> String {
        let names: Vec<String> = self
            .changes
            .iter()
            .filter(|change| change.impact == Impact::Breaking)
            .map(|change| match &change.target {
                Some(target) => format!("{}:{}.{target}", change.kind, change.table),
                None => format!("{}:{}", change.kind, change.table),
            })
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }

    /// Marks each breaking change its table acknowledges, and notes the
    /// acknowledgements that acknowledge nothing.
    fn acknowledge(
        &mut self,
        before: &BTreeMap<String, &TableSpec>,
        after: &BTreeMap<String, &TableSpec>,
    ) {
        // An entry counts in the change that adds it: one left in code from an
        // earlier change would otherwise approve every later change of its kind.
        let added = |table: &str| -> Vec<Allowance> {
            let Some(new) = after.get(table) else {
                return Vec::new();
            };
            let old: Vec<Allowance> = before
                .get(table)
                .map(|old| old.contract.allowances().collect())
                .unwrap_or_default();
            new.contract
                .allowances()
                .filter(|allowance| !old.contains(allowance))
                .collect()
        };
        let mut used: Vec<(String, String)> = Vec::new();
        for change in &mut self.changes {
            if change.impact != Impact::Breaking || change.kind == ChangeKind::VersionLowered {
                continue;
            }
            if change.kind == ChangeKind::TableRemoved {
                if let Some(successor) = after
                    .values()
                    .find(|table| table.contract.replaces.as_deref() == Some(change.table.as_str()))
                {
                    change.acknowledged_by = Some(format!(
                        "replaces = \"{}\" on {}",
                        change.table,
                        successor.qualified_name()
                    ));
                }
                continue;
            }
            let Some(new) = after.get(&change.table) else {
                continue;
            };
            let old_version = before
                .get(&change.table)
                .map_or(1, |old| old.contract.version);
            let allowance = added(&change.table)
                .into_iter()
                .find(|allowance| allowance.covers(change.kind, change.target.as_deref()));
            if let Some(allowance) = &allowance {
                used.push((change.table.clone(), allowance.to_string()));
            }
            if new.contract.version > old_version {
                change.acknowledged_by = Some(format!(
                    "version raised from {old_version} to {}",
                    new.contract.version
                ));
            } else if let Some(allowance) = allowance {
                change.acknowledged_by = Some(format!("allow_breaking = \"{allowance}\""));
            } else {
                let allowance = Allowance {
                    kind: change.kind,
                    target: change.target.clone(),
                };
                let how = format!(
                    "if it is meant, raise `contract_version` on `{}` (now {}), or add `allow_breaking = \"{allowance}\"`",
                    new.rust_type, new.contract.version
                );
                change.hint = Some(match change.hint.take() {
                    Some(hint) => format!("{hint}; {how}"),
                    None => how,
                });
            }
        }
        for (name, table) in after {
            let fresh = added(name);
            for allowance in table.contract.allowances() {
                let entry = allowance.to_string();
                if used.iter().any(|(t, e)| t == name && *e == entry) {
                    continue;
                }
                self.notes.push(if fresh.contains(&allowance) {
                    format!("`allow_breaking = \"{entry}\"` on {name} acknowledges no change in this diff")
                } else {
                    format!("`allow_breaking = \"{entry}\"` on {name} was declared before this change and acknowledges nothing in it: remove it")
                });
            }
            if let Some(replaced) = &table.contract.replaces
                && after.contains_key(replaced.as_ref())
            {
                self.notes.push(format!(
                    "{name} declares `replaces = \"{replaced}\"`, but {replaced} is still in the catalog"
                ));
            }
        }
    }
}

/// Every view column computed from `column` (`database.table.column`),
/// through any number of views.
fn columns_from(lineage: &[ViewLineage], column: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut next = vec![column.to_owned()];
    while let Some(current) = next.pop() {
        for view in lineage {
            for output in &view.columns {
                if output.from.contains(&current) {
                    let name = format!("{}.{}", view.view, output.column);
                    if !seen.contains(&name) {
                        seen.push(name.clone());
                        next.push(name);
                    }
                }
            }
        }
    }
    seen
}

fn by_name(tables: &[TableSpec]) -> BTreeMap<String, &TableSpec> {
    tables
        .iter()
        .map(|table| (table.qualified_name(), table))
        .collect()
}
