use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
#[table(owner = "sales@shop.example", owner = "data@shop.example")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
