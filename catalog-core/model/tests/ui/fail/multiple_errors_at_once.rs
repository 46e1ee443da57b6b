use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(
    database = "shop",
    source = "csv",
    location = "orders.csv",
    freshness = "daily"
)]
struct Order {
    /// Order key.
    id: i64,
    /// Line count.
    lines: Option<Option<u32>>,
    /// Order status.
    #[column(max = 10)]
    status: String,
}

fn main() {}
