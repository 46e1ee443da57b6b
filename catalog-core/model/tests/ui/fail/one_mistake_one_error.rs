use catalog_core::Table as _;
use catalog_derive::Table;

/// Orders.
#[derive(Table)]
#[table(
    database = "shop",
    source = "csv",
    location = "orders.csv",
    freshness = "daily"
)]
struct Bad {
    /// Order key.
    id: i64,
}

fn main() {
    let _ = Bad::to_record_batch(&[]);
    let _ = <Bad as catalog_core::Table>::SPEC;
    let _ = Bad::ID;
    let _ = Bad { id: 1 }.id;
}
