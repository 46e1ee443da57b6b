use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", sql = "SELECT id FROM shop.orders WHERE")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
