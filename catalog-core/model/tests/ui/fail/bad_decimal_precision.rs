use catalog_core::Decimal;
use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    id: i64,
    /// Total price.
    total: Decimal<39, 2>,
}

fn main() {}
