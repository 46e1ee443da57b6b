//! `catalog.json`: the machine-readable catalog, written by `cargo xtask gen-catalog`.

use serde::{Deserialize, Serialize};

use crate::lineage::ViewLineage;
use crate::spec::TableSpec;
use crate::{Error, Result};

/// The contents of `catalog.json`: every table's spec, for tools that read
/// the catalog without compiling it (verify, the server, the catalog site).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The format version; readers refuse versions they do not know.
    pub version: u32,
    /// Which command wrote the file.
    pub generated_by: String,
    /// Every table, sorted by database, then name.
    pub tables: Vec<TableSpec>,
    /// Every view's lineage, sorted by view, computed from its logical plan
    /// (see [`crate::lineage`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lineage: Vec<ViewLineage>,
}

impl Manifest {
    /// The format version this crate writes. Version 3 added each table's
    /// `contract`; an older codelake refuses it by its version, not by an
    /// unknown field.
    pub const VERSION: u32 = 3;

    /// The format versions this crate reads: version 2 is version 3 with no
    /// `contract`, so `codelake diff` reads catalogs committed before it.
    pub const READS: &[u32] = &[2, 3];

    /// A manifest of `tables` at the current version, with no lineage yet.
    pub fn new(tables: Vec<TableSpec>, generated_by: impl Into<String>) -> Self {
        Self {
            version: Self::VERSION,
            generated_by: generated_by.into(),
            tables,
            lineage: Vec::new(),
        }
    }

    /// Parses `catalog.json`, refusing a version this crate does not know.
    pub fn from_json(text: &str) -> Result<Self> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let invalid = |error: serde_json::Error| Error::Manifest {
            message: format!(
                "not a valid catalog manifest ({error}); regenerate it with `cargo xtask gen-catalog`"
            ),
        };
        let Version { version } = serde_json::from_str(text).map_err(invalid)?;
        if !Self::READS.contains(&version) {
            return Err(Error::Manifest {
                message: format!(
                    "format version {version}, but this build reads versions 2 and 3; regenerate it with `cargo xtask gen-catalog`"
                ),
            });
        }
        serde_json::from_str(text).map_err(invalid)
    }

    /// Pretty JSON with a trailing newline, as committed.
    pub fn to_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("specs serialise: all keys are strings");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_another_version_and_names_the_fix() {
        let error =
            Manifest::from_json(r#"{"version": 1, "generated_by": "", "tables": []}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "catalog.json: format version 1, but this build reads versions 2 and 3; regenerate it with `cargo xtask gen-catalog`"
        );
        assert!(
            Manifest::from_json("{")
                .unwrap_err()
                .to_string()
                .contains("regenerate it")
        );
        let empty = Manifest::new(Vec::new(), "test");
        assert_eq!(Manifest::from_json(&empty.to_json()).unwrap(), empty);
        let before_contracts =
            Manifest::from_json(r#"{"version": 2, "generated_by": "", "tables": []}"#);
        assert_eq!(before_contracts.unwrap().version, 2);
    }
}
