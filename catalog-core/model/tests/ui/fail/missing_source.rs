use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
