use catalog_derive::Table;

/// Exchange rates.
#[derive(Table)]
#[table(
    database = "fx",
    source = "csv",
    location = "rates.csv",
    freshness = "15m",
    freshness_column = "rate"
)]
struct Rate {
    /// ISO currency code.
    currency: String,
    /// Units per US dollar.
    rate: Option<f64>,
}

fn main() {}
