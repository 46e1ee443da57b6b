use catalog_core::chrono;
use catalog_derive::Table;

/// TODO: one line on what one row of `sandbox.rates` is.
///
/// Written by `codelake new-table` from `/fx/rates` (2 pages, types inferred from 25 sampled rows).
#[derive(Table, Debug, Clone, PartialEq)]
#[table(
    // owner = "team@example.com",
    database = "sandbox",
    name = "rates",
    source = "http-api",
    auth_env = "CODELAKE_FX_TOKEN",
    auth_header = "Authorization",
    next_link_path = "/next",
    pagination = "next_link",
    rows_path = "/rates",
    url = "/fx/rates"
)]
pub struct Rates {
    /// TODO: what `as_of` holds.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// TODO: what `currency` holds.
    pub currency: String,
    /// TODO: what `n_nationkey` holds.
    pub n_nationkey: Option<i64>,
    /// TODO: what `rate_to_usd` holds.
    pub rate_to_usd: f64,
}
