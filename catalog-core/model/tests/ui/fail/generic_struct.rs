use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order<T> {
    /// Order key.
    id: T,
}

fn main() {}
