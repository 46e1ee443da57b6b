//! Typed rows to record batches and back, through the derived impl.

use std::sync::Arc;

use catalog_core::arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, StringViewArray,
};
use catalog_core::arrow_schema::{DataType, Field, Schema};
use catalog_core::chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use catalog_core::{ColumnType, Decimal, Error, Table};
use catalog_derive::Table;

/// Every supported field type, plain and optional.
#[derive(Table, Debug, Clone, PartialEq)]
#[table(database = "test", source = "function", function = "every_type")]
struct EveryType {
    /// A flag.
    flag: bool,
    /// i8.
    tiny: i8,
    /// i16.
    small: i16,
    /// i32.
    int: i32,
    /// i64.
    #[column(unique)]
    big: i64,
    /// u8.
    utiny: u8,
    /// u16.
    usmall: u16,
    /// u32.
    uint: u32,
    /// u64.
    ubig: u64,
    /// f32.
    single: f32,
    /// f64.
    double: f64,
    /// Text.
    text: String,
    /// Bytes.
    bytes: Vec<u8>,
    /// A date.
    day: NaiveDate,
    /// Wall-clock time.
    local: NaiveDateTime,
    /// An instant.
    instant: DateTime<Utc>,
    /// Money.
    #[column(name = "price_usd", min = 0, max = 1000000)]
    price: Decimal<15, 2>,
    /// Optional i64.
    maybe_big: Option<i64>,
    /// Optional text.
    maybe_text: Option<String>,
    /// Optional bytes.
    maybe_bytes: Option<Vec<u8>>,
    /// Optional date.
    maybe_day: Option<NaiveDate>,
    /// Optional instant.
    maybe_instant: Option<DateTime<Utc>>,
    /// Optional money.
    maybe_price: Option<Decimal<38, 10>>,
    /// Optional flag.
    maybe_flag: Option<bool>,
    /// Optional float.
    maybe_double: Option<f64>,
}

fn sample(i: i64) -> EveryType {
    let day =
        NaiveDate::from_ymd_opt(1992, 1, 1).unwrap() + catalog_core::chrono::TimeDelta::days(i);
    let local = day.and_hms_micro_opt(12, 34, 56, 789_012).unwrap();
    let some = i % 2 == 0;
    EveryType {
        flag: some,
        tiny: -(i as i8),
        small: 1000 + i as i16,
        int: -70_000 * i as i32,
        big: i64::MAX - i,
        utiny: 200 + i as u8,
        usmall: 60_000,
        uint: 4_000_000_000,
        ubig: u64::MAX - i as u64,
        single: 1.5 * i as f32,
        double: -0.25 * i as f64,
        text: format!("row #{i} ünïcode"),
        bytes: vec![0, 255, i as u8],
        day,
        local,
        instant: local.and_utc(),
        price: Decimal::from_mantissa(90_100 + i128::from(i)).unwrap(),
        maybe_big: some.then_some(i),
        maybe_text: some.then(|| "present".to_owned()),
        maybe_bytes: (!some).then(Vec::new),
        maybe_day: some.then_some(day),
        maybe_instant: (!some).then(|| DateTime::<Utc>::from_timestamp(0, 0).unwrap()),
        maybe_price: some.then(|| "-12345678.0123456789".parse().unwrap()),
        maybe_flag: (!some).then_some(false),
        maybe_double: some.then_some(f64::MIN_POSITIVE),
    }
}

#[test]
fn rows_survive_a_round_trip_nulls_included() {
    let rows: Vec<EveryType> = (0..5).map(sample).collect();
    let batch = EveryType::to_record_batch(&rows).unwrap();
    assert_eq!(batch.num_rows(), 5);
    assert_eq!(batch.num_columns(), EveryType::SPEC.columns.len());
    assert_eq!(batch.column_by_name("maybe_text").unwrap().null_count(), 2);
    assert_eq!(batch.column_by_name("maybe_bytes").unwrap().null_count(), 3);
    assert_eq!(EveryType::from_record_batch(&batch).unwrap(), rows);
}

#[test]
fn empty_input_gives_an_empty_batch() {
    let batch = EveryType::to_record_batch(&[]).unwrap();
    assert_eq!(batch.num_rows(), 0);
    assert_eq!(batch.schema(), EveryType::schema());
    assert!(EveryType::from_record_batch(&batch).unwrap().is_empty());
}

#[test]
fn spec_follows_the_declaration() {
    let spec = EveryType::SPEC;
    assert_eq!(spec.qualified_name(), "test.every_type");
    assert_eq!(spec.rust_type, "it::rows::EveryType");
    assert_eq!(spec.doc, "Every supported field type, plain and optional.");
    assert_eq!(spec.option("function"), Some("every_type"));
    let price = spec.column("price_usd").unwrap();
    assert_eq!(
        price.ty,
        ColumnType::Decimal128 {
            precision: 15,
            scale: 2
        }
    );
    assert_eq!(
        (price.min, price.max, price.nullable),
        (Some(0.0), Some(1_000_000.0), false)
    );
    assert!(spec.column("big").unwrap().unique);
    assert!(spec.column("maybe_day").unwrap().nullable);
    assert_eq!(EveryType::PRICE, "price_usd");
    assert_eq!(EveryType::MAYBE_INSTANT, "maybe_instant");
    // The schema carries the docs, and each column's Arrow type is the spec's.
    let schema = EveryType::schema();
    assert_eq!(schema.metadata()["doc"], spec.doc);
    for (field, column) in schema.fields().iter().zip(spec.columns.iter()) {
        assert_eq!(field.data_type(), &column.ty.to_arrow(), "{}", column.name);
        assert_eq!(field.metadata()["doc"], column.doc);
    }
    assert!(
        Arc::ptr_eq(&schema, &EveryType::schema()),
        "the schema is built once"
    );
}

/// Columns keyed by id.
#[derive(Table, Debug, PartialEq)]
#[table(database = "test", source = "csv", location = "pairs.csv")]
struct Pair {
    /// Key.
    id: i64,
    /// Label.
    label: Option<String>,
}

fn batch(fields: Vec<(&str, ArrayRef)>) -> RecordBatch {
    let schema = Schema::new(
        fields
            .iter()
            .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(
        Arc::new(schema),
        fields.into_iter().map(|(_, array)| array).collect(),
    )
    .unwrap()
}

#[test]
fn columns_are_matched_by_name_not_position() {
    let batch = batch(vec![
        ("extra", Arc::new(Int32Array::from(vec![7, 8]))),
        (
            "label",
            Arc::new(StringViewArray::from(vec![Some("a"), None])),
        ),
        ("id", Arc::new(Int64Array::from(vec![1, 2]))),
    ]);
    let rows = Pair::from_record_batch(&batch).unwrap();
    assert_eq!(
        rows,
        vec![
            Pair {
                id: 1,
                label: Some("a".into())
            },
            Pair { id: 2, label: None }
        ]
    );
}

#[test]
fn a_missing_column_is_named() {
    let batch = batch(vec![("label", Arc::new(StringArray::from(vec!["a"])))]);
    let error = Pair::from_record_batch(&batch).unwrap_err();
    assert!(
        matches!(&error, Error::MissingColumn { column, .. } if column == "id"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "table `test.pair`: the batch has no column `id` (it has: label)"
    );
}

#[test]
fn a_mistyped_column_is_named_with_both_types() {
    let batch = batch(vec![
        ("id", Arc::new(Int32Array::from(vec![1]))),
        ("label", Arc::new(StringArray::from(vec!["a"]))),
    ]);
    let error = Pair::from_record_batch(&batch).unwrap_err();
    assert!(
        matches!(&error, Error::ColumnType { column, .. } if column == "id"),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("column `id`: expected Arrow type Int64, found Int32"),
        "{message}"
    );
}

#[test]
fn a_null_in_a_required_column_is_named_with_its_row() {
    let batch = batch(vec![
        ("id", Arc::new(Int64Array::from(vec![Some(1), None]))),
        ("label", Arc::new(StringArray::from(vec!["a", "b"]))),
    ]);
    let error = Pair::from_record_batch(&batch).unwrap_err();
    assert!(
        matches!(&error, Error::UnexpectedNull { column, row: 1, .. } if column == "id"),
        "{error:?}"
    );
}

#[test]
fn a_decimal_of_another_scale_is_refused_not_misread() {
    /// Prices.
    #[derive(Table, Debug)]
    #[table(database = "test", source = "function", function = "prices")]
    struct Price {
        /// Price.
        amount: Decimal<15, 2>,
    }
    let array = catalog_core::arrow_array::Decimal128Array::from(vec![12345])
        .with_precision_and_scale(15, 3)
        .unwrap();
    let batch = batch(vec![("amount", Arc::new(array))]);
    let error = Price::from_record_batch(&batch).unwrap_err().to_string();
    assert!(
        error.contains("expected Arrow type Decimal128(15, 2), found Decimal128(15, 3)"),
        "{error}"
    );
    assert_eq!(
        DataType::Decimal128(15, 2),
        ColumnType::Decimal128 {
            precision: 15,
            scale: 2
        }
        .to_arrow()
    );
}

#[test]
fn utc_timestamps_are_read_whatever_the_zone_is_called() {
    /// Events.
    #[derive(Table, Debug, PartialEq)]
    #[table(database = "test", source = "function", function = "events")]
    struct Event {
        /// When.
        at: DateTime<Utc>,
    }
    let micros =
        catalog_core::arrow_array::TimestampMicrosecondArray::from(vec![1_700_000_000_000_000]);
    for zone in ["UTC", "+00:00", "Etc/UTC"] {
        let batch = batch(vec![("at", Arc::new(micros.clone().with_timezone(zone)))]);
        let rows = Event::from_record_batch(&batch).unwrap();
        assert_eq!(rows[0].at.timestamp(), 1_700_000_000, "{zone}");
    }
    // Another zone is another type: its wall-clock reading would differ.
    let batch = batch(vec![("at", Arc::new(micros.with_timezone("+01:00")))]);
    let error = Event::from_record_batch(&batch).unwrap_err().to_string();
    assert!(error.contains("found Timestamp(µs, \"+01:00\")"), "{error}");
}
