use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(
    database = "shop",
    source = "csv",
    location = "orders.csv",
    min_rows = "1000"
)]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
