use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    id: i64,
    /// Specification sheet.
    spec: String,
}

fn main() {}
