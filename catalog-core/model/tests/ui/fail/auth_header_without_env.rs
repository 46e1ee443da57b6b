use catalog_derive::Table;

/// Exchange rates.
#[derive(Table)]
#[table(
    database = "fx",
    source = "http-api",
    url = "https://fx.example/rates",
    auth_header = "Authorization"
)]
struct Rate {
    /// Currency code.
    currency: String,
}

fn main() {}
