use catalog_core::chrono::{DateTime, NaiveDate, Utc};
use catalog_derive::Table;

/// Exchange rates.
#[derive(Table)]
#[table(
    database = "fx",
    source = "csv",
    location = "rates.csv",
    freshness = "15m",
    freshness_column = "asof"
)]
struct Rate {
    /// ISO currency code.
    currency: String,
    /// Instant the rate was observed.
    as_of: DateTime<Utc>,
    /// Day the rate applies to.
    day: NaiveDate,
}

fn main() {}
