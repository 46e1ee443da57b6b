use std::collections::HashMap;

use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    id: i64,
    /// Free-form tags.
    tags: HashMap<String, i64>,
}

fn main() {}
