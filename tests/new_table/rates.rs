use catalog_core::chrono::{DateTime, Utc};
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
    url = "/fx/rates",
    rows_path = "/rates",
    pagination = "next_link",
    next_link_path = "/next",
    auth_header = "Authorization",
    auth_env = "CODELAKE_FX_TOKEN"
)]
pub struct Rates {
    /// TODO: what `as_of` holds.
    pub as_of: DateTime<Utc>,
    /// TODO: what `currency` holds.
    pub currency: String,
    /// TODO: what `n_nationkey` holds.
    pub n_nationkey: Option<i64>,
    /// TODO: what `rate_to_usd` holds.
    pub rate_to_usd: f64,
}
