use catalog_derive::Table;

/// Orders. The unquoted database is one mistake: the keys after it are still read.
#[derive(Table)]
#[table(database = tpch, source = "csv", location = "orders.csv")]
struct Order {
    /// Order key.
    id: i64,
}

fn main() {}
