use catalog_core::Table as _;
use catalog_derive::Table;

/// Big orders, with the SQL inline.
#[derive(Table)]
#[table(
    database = "shop",
    sql = "SELECT id, placed_at FROM shop.orders WHERE total > 1000",
    materialize = "s3://lake/marts/big_orders.parquet",
    freshness = "1h"
)]
struct BigOrder {
    /// Order key.
    id: i64,
    /// When it was placed.
    placed_at: catalog_core::chrono::NaiveDateTime,
}

fn main() {
    let view = BigOrder::SPEC.view.as_ref().unwrap();
    assert_eq!(view.sql, "SELECT id, placed_at FROM shop.orders WHERE total > 1000");
    // A materialized view's freshness is its copy's age: no column needed.
    assert_eq!(view.materialize.as_deref(), Some("s3://lake/marts/big_orders.parquet"));
    let copy = BigOrder::SPEC.materialized_copy().unwrap();
    assert_eq!(copy.source, "s3-parquet");
    assert_eq!(copy.option("location"), Some("s3://lake/marts/big_orders.parquet"));
    assert!(BigOrder::SPEC.live().materialized_copy().is_none());
    assert!(view.file.ends_with("view_inline.rs"), "{}", view.file);
}
