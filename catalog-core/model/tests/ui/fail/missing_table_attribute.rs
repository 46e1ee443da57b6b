use catalog_derive::Table;

/// Orders.
#[derive(Table)]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
