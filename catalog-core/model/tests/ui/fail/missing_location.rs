use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "s3-parquet")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
