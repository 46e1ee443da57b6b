use catalog_derive::Table;

/// Events.
#[derive(Table)]
#[table(database = "shop", source = "s3-parquet", location = "s3://lake/events/", partitions = "year,month")]
struct Event {
    /// Event id.
    id: i64,
    /// Year.
    year: i32,
}

fn main() {}
