use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    #[column(unique = true)]
    id: i64,
}

fn main() {}
