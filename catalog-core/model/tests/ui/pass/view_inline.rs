use catalog_core::Table as _;
use catalog_derive::Table;

/// Big orders, with the SQL inline.
#[derive(Table)]
#[table(
    database = "shop",
    sql = "SELECT id FROM shop.orders WHERE total > 1000",
    freshness = "1h",
    freshness_column = "placed_at"
)]
struct BigOrder {
    /// Order key.
    id: i64,
    /// When it was placed.
    placed_at: catalog_core::chrono::NaiveDateTime,
}

fn main() {
    let view = BigOrder::SPEC.view.as_ref().unwrap();
    assert_eq!(view.sql, "SELECT id FROM shop.orders WHERE total > 1000");
    assert!(view.file.ends_with("view_inline.rs"), "{}", view.file);
}
