use catalog_derive::Table;

/// Orders: a view cannot also have a source or source options.
#[derive(Table)]
#[table(
    database = "shop",
    source = "csv",
    location = "orders.csv",
    sql = "SELECT 1 AS id"
)]
struct Order {
    /// Order key.
    id: i64,
}

/// A view whose file is not SQL.
#[derive(Table)]
#[table(database = "shop", view = "orders.txt")]
struct Other {
    /// Order key.
    id: i64,
}

/// A view whose freshness has no column to be measured on.
#[derive(Table)]
#[table(database = "shop", sql = "SELECT 1 AS id", freshness = "1h")]
struct Third {
    /// Order key.
    id: i64,
}

/// Both an inline and a file SQL.
#[derive(Table)]
#[table(database = "shop", view = "orders.sql", sql = "SELECT 1 AS id")]
struct Fourth {
    /// Order key.
    id: i64,
}

/// A copy that is not a Parquet object.
#[derive(Table)]
#[table(database = "shop", sql = "SELECT 1 AS id", materialize = "s3://lake/marts/orders.csv")]
struct Fifth {
    /// Order key.
    id: i64,
}

/// A table cannot be materialized: only a view's rows are computed.
#[derive(Table)]
#[table(database = "shop", source = "csv", location = "orders.csv", materialize = "s3://lake/o.parquet")]
struct Sixth {
    /// Order key.
    id: i64,
}

fn main() {}
