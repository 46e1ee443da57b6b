use catalog_core::chrono::{DateTime, FixedOffset};
use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    id: i64,
    /// When it was placed.
    placed_at: DateTime<FixedOffset>,
}

fn main() {}
