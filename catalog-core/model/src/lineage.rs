//! Lineage: which tables a view reads, and which source columns each of its
//! columns is computed from.
//!
//! The runtime computes it from each view's logical plan (never from the SQL
//! text), and `cargo xtask gen-catalog` writes it into `catalog.json`, where the
//! reference docs, the catalog site and tools read it without DataFusion.
//! Lineage is one hop: a view that reads another view names that view, not
//! the tables beneath it; [`upstream`] and [`downstream`] walk the hops.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// One view's lineage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewLineage {
    /// The view, `database.name`.
    pub view: String,
    /// Every catalog table or view its SQL reads, `database.name`, sorted.
    pub reads: Vec<String>,
    /// One entry per output column, in declaration order.
    pub columns: Vec<ColumnLineage>,
}

/// Where one output column of a view comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnLineage {
    /// The view's column.
    pub column: String,
    /// The columns it is computed from, `database.table.column`, sorted. Empty
    /// for a column computed from no column (a literal, or `count(*)`).
    pub from: Vec<String>,
}

impl ViewLineage {
    /// The lineage of `column`, if the view has it.
    pub fn column(&self, column: &str) -> Option<&ColumnLineage> {
        self.columns.iter().find(|lineage| lineage.column == column)
    }
}

/// Every table or view that reads `table` directly, sorted.
pub fn downstream<'a>(lineage: &'a [ViewLineage], table: &str) -> Vec<&'a str> {
    let mut readers: Vec<&str> = lineage
        .iter()
        .filter(|view| view.reads.iter().any(|read| read == table))
        .map(|view| view.view.as_str())
        .collect();
    readers.sort_unstable();
    readers
}

/// Every table `table` reads directly (empty for a table that is not a view).
pub fn upstream<'a>(lineage: &'a [ViewLineage], table: &str) -> &'a [String] {
    lineage
        .iter()
        .find(|view| view.view == table)
        .map_or(&[], |view| view.reads.as_slice())
}

/// Every table downstream of `table`, through any number of views: what a
/// change to it can break. Sorted, without `table` itself.
pub fn downstream_all(lineage: &[ViewLineage], table: &str) -> Vec<String> {
    let mut readers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for view in lineage {
        for read in &view.reads {
            readers.entry(read).or_default().push(&view.view);
        }
    }
    let mut seen = BTreeSet::new();
    let mut next = vec![table];
    while let Some(current) = next.pop() {
        for &reader in readers.get(current).into_iter().flatten() {
            if reader != table && seen.insert(reader) {
                next.push(reader);
            }
        }
    }
    seen.into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, reads: &[&str]) -> ViewLineage {
        ViewLineage {
            view: name.into(),
            reads: reads.iter().map(|read| (*read).into()).collect(),
            columns: Vec::new(),
        }
    }

    #[test]
    fn walks_one_hop_and_every_hop() {
        let lineage = [
            view("db.a", &["db.t", "db.u"]),
            view("db.b", &["db.a"]),
            view("db.c", &["db.u"]),
        ];
        assert_eq!(downstream(&lineage, "db.u"), ["db.a", "db.c"]);
        assert_eq!(upstream(&lineage, "db.b"), ["db.a"]);
        assert!(upstream(&lineage, "db.t").is_empty());
        assert_eq!(downstream_all(&lineage, "db.t"), ["db.a", "db.b"]);
        assert!(downstream_all(&lineage, "db.b").is_empty());
    }
}
