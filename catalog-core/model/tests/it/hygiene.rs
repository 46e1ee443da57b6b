//! The expansion uses absolute paths only: shadowing the prelude changes nothing.

#![allow(
    dead_code,
    unused_macros,
    non_camel_case_types,
    clippy::disallowed_names
)]

struct Result;
struct Ok;
struct Err;
struct Vec;
struct String;
struct Option;
struct Some;
struct None;
struct Box;
struct Clone;
struct Arc;
struct Default;
struct Iterator;
struct IntoIterator;
mod std {}
mod core {}
mod arrow_array {}
mod arrow_schema {}
mod rows {}
trait Table {}
trait ColumnValue {}
macro_rules! vec {
    () => {};
}
macro_rules! concat {
    () => {};
}
macro_rules! module_path {
    () => {};
}

/// A table declared where the prelude names mean something else.
#[derive(catalog_derive::Table)]
#[table(
    database = "hygiene",
    source = "csv",
    location = "t.csv",
    freshness = "1h",
    owner = "me"
)]
struct Shadowed {
    /// A number.
    #[column(unique, min = 0)]
    id: i64,
    /// Maybe text.
    text: ::std::option::Option<::std::string::String>,
    /// Fields named like the expansion's locals and parameters.
    rows: i64,
    /// Likewise.
    row: i64,
    /// Likewise.
    batch: i64,
    /// Likewise.
    columns: i64,
    /// Likewise.
    schema: i64,
}

#[test]
fn expansion_compiles_with_the_prelude_shadowed() {
    let rows = [Shadowed {
        id: 1,
        text: ::std::option::Option::None,
        rows: 2,
        row: 3,
        batch: 4,
        columns: 5,
        schema: 6,
    }];
    let batch = <Shadowed as catalog_core::Table>::to_record_batch(&rows).unwrap();
    let back = <Shadowed as catalog_core::Table>::from_record_batch(&batch).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(
        (
            back[0].id,
            back[0].rows,
            back[0].row,
            back[0].batch,
            back[0].columns,
            back[0].schema
        ),
        (1, 2, 3, 4, 5, 6)
    );
    assert_eq!(Shadowed::TEXT, "text");
    assert_eq!(
        <Shadowed as catalog_core::Table>::SPEC.qualified_name(),
        "hygiene.shadowed"
    );
}
