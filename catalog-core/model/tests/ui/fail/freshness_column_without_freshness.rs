use catalog_core::chrono::{DateTime, Utc};
use catalog_derive::Table;

/// Exchange rates.
#[derive(Table)]
#[table(
    database = "fx",
    source = "csv",
    location = "rates.csv",
    freshness_column = "as_of"
)]
struct Rate {
    /// ISO currency code.
    currency: String,
    /// Instant the rate was observed.
    as_of: DateTime<Utc>,
}

fn main() {}
