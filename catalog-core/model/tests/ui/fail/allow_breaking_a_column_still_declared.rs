use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(
    database = "shop",
    source = "csv",
    location = "orders.csv",
    allow_breaking = "column-removed:note"
)]
struct Order {
    /// Order key.
    id: i64,
    /// Still here.
    note: String,
}

fn main() {}
