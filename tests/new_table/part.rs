use catalog_core::Decimal;
use catalog_derive::Table;

/// TODO: one line on what one row of `tpch.part` is.
///
/// Written by `codelake new-table` from `s3://codelake/tpch/part.parquet` (1 object).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    // owner = "team@example.com",
    database = "tpch",
    name = "part",
    source = "s3-parquet",
    location = "s3://codelake/tpch/part.parquet"
)]
pub struct Part {
    /// TODO: what `p_partkey` holds.
    pub p_partkey: i64,
    /// TODO: what `p_name` holds.
    pub p_name: String,
    /// TODO: what `p_mfgr` holds.
    pub p_mfgr: String,
    /// TODO: what `p_brand` holds.
    pub p_brand: String,
    /// TODO: what `p_type` holds.
    pub p_type: String,
    /// TODO: what `p_size` holds.
    pub p_size: i32,
    /// TODO: what `p_container` holds.
    pub p_container: String,
    /// TODO: what `p_retailprice` holds.
    pub p_retailprice: Decimal<15, 2>,
    /// TODO: what `p_comment` holds.
    pub p_comment: String,
}
