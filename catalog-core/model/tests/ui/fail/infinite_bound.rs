use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// Quantity.
    #[column(max = 1e400)]
    quantity: f64,
}

fn main() {}
