use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(
    database = "shop",
    source = "parquet",
    location = "s3://bucket/orders.parquet"
)]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
