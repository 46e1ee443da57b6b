use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(
    database = "shop",
    source = "orc",
    location = "s3://bucket/orders.parquet"
)]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
