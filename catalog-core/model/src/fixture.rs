//! Fixtures: a table's declared sample data, `tables/fixtures/<database>/<table>.csv`.
//!
//! `codelake data seed` installs each fixture into the local environment in the
//! table's own format, and `cargo xtask gen-catalog` checks every fixture
//! against the declarations without compiling them. Both take the rules from
//! here, so they cannot disagree on what a fixture is.
//!
//! ```
//! use catalog_core::fixture;
//! use std::path::Path;
//!
//! let path = fixture::relative_path("web", "page_views");
//! assert_eq!(path, Path::new("web/page_views.csv"));
//! assert_eq!(fixture::table_of(&path), Some(("web".into(), "page_views".into())));
//! assert!(fixture::seedable("csv") && !fixture::seedable("http-api"));
//! ```

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::TableSpec;

/// The field separator of every fixture, whatever the table's own dialect.
pub const DELIMITER: u8 = b',';

/// What a fixture holds, for messages and docs.
pub const FORMAT: &str = "a header naming every declared column (in any order), then one row a line, \
     fields separated by `,`, instants in RFC 3339, an empty field for null";

/// Whether `data seed` can install sample data for a table of source `kind`:
/// it writes files (Parquet or a Delta table through S3 or into the data directory, CSV into
/// the data directory), and an HTTP API or a function is not its to write.
pub fn seedable(kind: &str) -> bool {
    matches!(kind, "s3-parquet" | "parquet" | "csv" | "delta")
}

/// `<database>/<table>.csv`: where a table's fixture is, under the fixtures directory.
pub fn relative_path(database: &str, name: &str) -> PathBuf {
    Path::new(database).join(format!("{name}.csv"))
}

/// The `(database, table)` a path under the fixtures directory names, if it is
/// `<database>/<table>.csv`.
pub fn table_of(relative: &Path) -> Option<(String, String)> {
    let parts: Vec<&str> = relative
        .components()
        .map(|part| match part {
            Component::Normal(part) => part.to_str(),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let [database, file] = parts.as_slice() else {
        return None;
    };
    let table = file.strip_suffix(".csv")?;
    (!table.is_empty()).then(|| ((*database).to_owned(), table.to_owned()))
}

/// Checks a fixture's header against `spec`'s columns: it must name each
/// declared column exactly once, in any order, and nothing else. The error
/// says what is wrong and what to write.
pub fn check_header(spec: &TableSpec, header: &[&str]) -> Result<(), String> {
    let declared: Vec<&str> = spec.columns.iter().map(|column| &*column.name).collect();
    let mut seen = BTreeSet::new();
    let twice: Vec<String> = header
        .iter()
        .filter(|name| !seen.insert(**name))
        .map(|name| format!("`{name}`"))
        .collect();
    let missing: Vec<String> = declared
        .iter()
        .filter(|name| !header.contains(name))
        .map(|name| format!("`{name}`"))
        .collect();
    let mut listed = BTreeSet::new();
    let extra: Vec<String> = header
        .iter()
        .filter(|name| !declared.contains(name) && listed.insert(**name))
        .map(|name| format!("`{name}`"))
        .collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("misses {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        problems.push(format!(
            "has {}, which `{}` does not declare",
            extra.join(", "),
            spec.qualified_name()
        ));
    }
    if !twice.is_empty() {
        problems.push(format!("names {} twice", twice.join(", ")));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the header {}; name exactly the declared columns, in any order: {}",
        problems.join(", "),
        declared.join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TableSpec {
        serde_json::from_value(serde_json::json!({
            "database": "db", "name": "t", "doc": "T.", "rust_type": "x::T", "source": "csv",
            "options": [], "owner": null, "expectations": {},
            "columns": [
                {"name": "a", "type": "Int64", "nullable": false, "doc": "A."},
                {"name": "b", "type": "Int64", "nullable": false, "doc": "B."},
            ],
        }))
        .unwrap()
    }

    #[test]
    fn paths_name_a_database_and_a_table() {
        assert_eq!(
            table_of(Path::new("db/t.csv")),
            Some(("db".into(), "t".into()))
        );
        for path in ["t.csv", "db/t.tsv", "db/x/t.csv", "db/.csv", "../t.csv"] {
            assert_eq!(table_of(Path::new(path)), None, "{path}");
        }
    }

    #[test]
    fn a_header_names_each_declared_column_once_in_any_order() {
        assert_eq!(check_header(&spec(), &["b", "a"]), Ok(()));
        assert_eq!(
            check_header(&spec(), &["a", "c", "c"]).unwrap_err(),
            "the header misses `b`, has `c`, which `db.t` does not declare, names `c` twice; \
             name exactly the declared columns, in any order: a,b"
        );
    }
}
