use catalog_derive::Table;

/// Exchange rates.
#[derive(Table)]
#[table(
    database = "fx",
    source = "http-api",
    url = "/rates",
    max_retries = "4294967296"
)]
struct Rate {
    /// Currency code.
    currency: String,
}

fn main() {}
