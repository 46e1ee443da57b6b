use catalog_derive::Table;

/// TODO: one line on what one row of `sandbox.nation` is.
///
/// Written by `codelake new-table` from `tpch/nation.csv` (1 file, types inferred from 25 sampled rows).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    // owner = "team@example.com",
    database = "sandbox",
    name = "nation",
    source = "csv",
    location = "tpch/nation.csv",
    delimiter = "|"
)]
pub struct Nation {
    /// TODO: what `n_nationkey` holds.
    pub n_nationkey: i64,
    /// TODO: what `n_name` holds.
    pub n_name: String,
    /// TODO: what `n_regionkey` holds.
    pub n_regionkey: i64,
    /// TODO: what `n_comment` holds.
    pub n_comment: String,
}
