use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    #[column(name = "key")]
    id: i64,
    /// Customer key.
    #[column(name = "key")]
    customer: i64,
}

fn main() {}
