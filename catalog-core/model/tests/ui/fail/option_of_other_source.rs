use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(
    database = "shop",
    source = "s3-parquet",
    location = "s3://lake/orders/",
    delimiter = "|"
)]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
