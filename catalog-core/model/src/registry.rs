//! The registry: every table of a catalog, looked up by name.

use std::collections::BTreeSet;

use crate::spec::TableSpec;

/// Every table of a catalog. The generated catalog (`tables::REGISTRY`) is one;
/// the runtime registers each of its specs in the query engine.
#[derive(Debug, Clone, Copy)]
pub struct Registry {
    tables: &'static [&'static TableSpec],
}

impl Registry {
    /// A registry over `tables`, whose names `cargo xtask gen-catalog` has
    /// checked to be unique.
    pub const fn new(tables: &'static [&'static TableSpec]) -> Self {
        Self { tables }
    }

    /// Every table, grouped by database in the order the generator wrote them.
    pub fn tables(&self) -> impl ExactSizeIterator<Item = &'static TableSpec> + use<> {
        self.tables.iter().copied()
    }

    /// The table `database.name`, or `None`.
    ///
    /// ```
    /// # use catalog_core::Registry;
    /// let registry = Registry::new(&[]);
    /// assert!(registry.get("tpch.part").is_none());
    /// ```
    pub fn get(&self, qualified_name: &str) -> Option<&'static TableSpec> {
        let (database, name) = qualified_name.split_once('.')?;
        self.tables()
            .find(|spec| spec.database == database && spec.name == name)
    }

    /// The database names, sorted and without repeats.
    pub fn databases(&self) -> Vec<&'static str> {
        let names: BTreeSet<&'static str> = self.tables().map(|spec| &*spec.database).collect();
        names.into_iter().collect()
    }

    /// The tables of one database.
    pub fn database<'a>(
        &self,
        database: &'a str,
    ) -> impl Iterator<Item = &'static TableSpec> + use<'_, 'a> {
        self.tables().filter(move |spec| spec.database == database)
    }

    /// The number of tables.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// Whether the registry has no table.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}
