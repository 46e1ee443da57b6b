use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
union Order {
    id: i64,
    total: f64,
}

fn main() {}
