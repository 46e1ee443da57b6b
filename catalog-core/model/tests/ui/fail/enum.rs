use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
enum Order {
    Open { id: i64 },
    Closed { id: i64 },
}

fn main() {}
