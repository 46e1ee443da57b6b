use catalog_core::Table as _;
use catalog_derive::Table;

/// Orders, from a spreadsheet export.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv")]
struct Order {
    /// When the order was placed.
    #[column(name = "Order Date")]
    order_date: catalog_core::chrono::NaiveDate,
}

fn main() {
    assert_eq!(Order::ORDER_DATE, "Order Date");
    assert!(Order::SPEC.column("Order Date").is_some());
    assert_eq!(Order::schema().field(0).name(), "Order Date");
}
