use catalog_core::Table as _;
use catalog_derive::Table;

/// Orders, partitioned by day under a prefix.
#[derive(Table)]
#[table(
    database = "shop",
    name = "orders",
    source = "s3-parquet",
    location = "s3://lake/shop/orders/",
    owner = "data@shop.example",
    freshness = "1d",
    freshness_column = "order_date",
    min_rows = 1,
    max_rows = 1000000
)]
struct Order {
    /// Order key.
    #[column(unique)]
    id: i64,
    /// Day the order was placed; freshness is measured on it.
    #[column(name = "order_date")]
    placed_on: Option<catalog_core::chrono::NaiveDate>,
}

fn main() {
    let spec = Order::SPEC;
    assert_eq!(spec.qualified_name(), "shop.orders");
    assert_eq!(spec.option("location"), Some("s3://lake/shop/orders/"));
    assert_eq!(spec.owner.as_deref(), Some("data@shop.example"));
    assert_eq!(spec.expectations.min_rows, Some(1));
    assert_eq!(spec.expectations.max_rows, Some(1_000_000));
    assert_eq!(
        spec.expectations.freshness.as_ref().map(|f| f.seconds),
        Some(86_400)
    );
    assert_eq!(
        spec.expectations.freshness_column.as_deref(),
        Some(Order::PLACED_ON)
    );
}
