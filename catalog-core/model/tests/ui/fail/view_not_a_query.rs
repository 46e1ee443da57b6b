use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", sql = "DROP TABLE shop.orders")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
