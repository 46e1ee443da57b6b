use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "TPCH", source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
