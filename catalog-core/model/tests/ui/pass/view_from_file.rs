use catalog_core::Table as _;
use catalog_derive::Table;

/// Orders per day, from a `.sql` file beside this one.
#[derive(Table)]
#[table(database = "shop", view = "view_from_file.sql", owner = "shop@example.com")]
struct OrdersPerDay {
    /// The day.
    day: catalog_core::chrono::NaiveDate,
    /// Orders placed that day.
    orders: i64,
}

fn main() {
    let view = OrdersPerDay::SPEC.view.as_ref().unwrap();
    assert_eq!(OrdersPerDay::SPEC.source, catalog_core::VIEW_SOURCE);
    assert!(view.sql.starts_with("SELECT day, count(*) AS orders"), "{}", view.sql);
    assert!(view.file.ends_with("view_from_file.sql"), "{}", view.file);
    assert!(OrdersPerDay::SPEC.options.is_empty());
}
