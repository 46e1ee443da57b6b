use catalog_core::Table as _;
use catalog_derive::Table;

/// Nations, from a pipe-separated file without a header line.
#[derive(Table)]
#[table(
    database = "tpch",
    source = "csv",
    location = "nation.tbl",
    delimiter = "|",
    header = false
)]
struct Nation {
    /// Nation key.
    n_nationkey: i32,
    /// Nation name.
    n_name: String,
}

fn main() {
    let spec = Nation::SPEC;
    assert_eq!(spec.qualified_name(), "tpch.nation");
    assert_eq!(spec.option("delimiter"), Some("|"));
    assert_eq!(spec.option("header"), Some("false"));
    assert_eq!(Nation::N_NAME, "n_name");
}
