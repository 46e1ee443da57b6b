use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "s3://lake/orders.csv")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
