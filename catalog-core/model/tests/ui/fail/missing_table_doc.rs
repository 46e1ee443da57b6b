use catalog_derive::Table;

#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
