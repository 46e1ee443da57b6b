//! Typed rows to Arrow record batches and back.
//!
//! `#[derive(Table)]` implements [`crate::Table::to_record_batch`] and
//! [`crate::Table::from_record_batch`] by calling [`ColumnValue`] once per
//! field, so each supported Rust type knows its own Arrow array.

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BinaryViewArray, BooleanArray, Decimal128Array, LargeBinaryArray,
    LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_schema::{DataType, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::spec::{ColumnType, TableSpec};
use crate::{Decimal, Error, Result};

/// Where a column is being read, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct ColumnContext<'a> {
    /// The table being read.
    pub table: &'a TableSpec,
    /// The column being read.
    pub column: &'a str,
}

impl ColumnContext<'_> {
    fn type_error(&self, expected: ColumnType, found: &arrow_schema::DataType) -> Error {
        Error::ColumnType {
            table: self.table.qualified_name(),
            column: self.column.to_owned(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }

    fn invalid(&self, message: String) -> Error {
        Error::InvalidValue {
            table: self.table.qualified_name(),
            column: self.column.to_owned(),
            message,
        }
    }
}

/// A Rust type that can be a table column: it knows its Arrow type and how to
/// move a column of its values into and out of an Arrow array.
pub trait ColumnValue: Sized {
    /// The Arrow type of the column.
    const COLUMN_TYPE: ColumnType;
    /// Whether the column may hold nulls (the type is an `Option`).
    const NULLABLE: bool;

    /// An array holding `values`, in order.
    fn to_array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef
    where
        Self: 'a;

    /// The values of `array`, or an error naming the column if it has another
    /// type or, for a non-`Option` type, a null.
    fn from_array(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Self>>;
}

/// A non-null column type; [`ColumnValue`] is implemented for it and for
/// `Option` of it.
trait Scalar: Sized {
    const COLUMN_TYPE: ColumnType;
    fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef
    where
        Self: 'a;
    fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>>;
}

macro_rules! column_value {
    ($([$($generics:tt)*] $ty:ty),* $(,)?) => {$(
        impl<$($generics)*> ColumnValue for $ty {
            const COLUMN_TYPE: ColumnType = <$ty as Scalar>::COLUMN_TYPE;
            const NULLABLE: bool = false;
            fn to_array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef
            where
                Self: 'a,
            {
                <$ty as Scalar>::build(values.map(Some))
            }
            fn from_array(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Self>> {
                <$ty as Scalar>::read(array, context)?
                    .into_iter()
                    .enumerate()
                    .map(|(row, value)| {
                        value.ok_or_else(|| Error::UnexpectedNull {
                            table: context.table.qualified_name(),
                            column: context.column.to_owned(),
                            row,
                        })
                    })
                    .collect()
            }
        }

        impl<$($generics)*> ColumnValue for Option<$ty> {
            const COLUMN_TYPE: ColumnType = <$ty as Scalar>::COLUMN_TYPE;
            const NULLABLE: bool = true;
            fn to_array<'a>(values: impl Iterator<Item = &'a Self>) -> ArrayRef
            where
                Self: 'a,
            {
                <$ty as Scalar>::build(values.map(Option::as_ref))
            }
            fn from_array(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Self>> {
                <$ty as Scalar>::read(array, context)
            }
        }
    )*};
}

column_value!(
    [] bool, [] i8, [] i16, [] i32, [] i64, [] u8, [] u16, [] u32, [] u64, [] f32, [] f64,
    [] String, [] Vec<u8>, [] NaiveDate, [] NaiveDateTime, [] DateTime<Utc>,
    [const P: u8, const S: i8] Decimal<P, S>,
);

/// Downcasts `array` to `A`, or fails naming the column and both types.
fn downcast<'a, A: Array + 'static>(
    array: &'a dyn Array,
    expected: ColumnType,
    context: ColumnContext<'_>,
) -> Result<&'a A> {
    if !same_type(array.data_type(), expected) {
        return Err(context.type_error(expected, array.data_type()));
    }
    array
        .as_any()
        .downcast_ref::<A>()
        .ok_or_else(|| context.type_error(expected, array.data_type()))
}

/// Zone names that mean UTC; writers differ in which one they put in a schema.
const UTC_NAMES: &[&str] = &["UTC", "+00:00", "+0000", "Z", "Etc/UTC", "GMT"];

/// Whether an array of `found` type holds `expected` values exactly.
fn same_type(found: &DataType, expected: ColumnType) -> bool {
    match (found, expected) {
        (
            DataType::Timestamp(TimeUnit::Microsecond, Some(zone)),
            ColumnType::Timestamp { utc: true },
        ) => UTC_NAMES.contains(&zone.as_ref()),
        _ => found == &expected.to_arrow(),
    }
}

macro_rules! primitive_scalar {
    ($($ty:ty => $arrow:ty, $column:ident;)*) => {$(
        impl Scalar for $ty {
            const COLUMN_TYPE: ColumnType = ColumnType::$column;
            fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
                Arc::new(values.map(|value| value.copied()).collect::<PrimitiveArray<$arrow>>())
            }
            fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>> {
                let array = downcast::<PrimitiveArray<$arrow>>(array, <Self as Scalar>::COLUMN_TYPE, context)?;
                Ok(array.iter().collect())
            }
        }
    )*};
}

primitive_scalar! {
    i8 => Int8Type, Int8;
    i16 => Int16Type, Int16;
    i32 => Int32Type, Int32;
    i64 => Int64Type, Int64;
    u8 => UInt8Type, UInt8;
    u16 => UInt16Type, UInt16;
    u32 => UInt32Type, UInt32;
    u64 => UInt64Type, UInt64;
    f32 => Float32Type, Float32;
    f64 => Float64Type, Float64;
}

impl Scalar for bool {
    const COLUMN_TYPE: ColumnType = ColumnType::Boolean;
    fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(values.map(|value| value.copied()).collect::<BooleanArray>())
    }
    fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>> {
        Ok(
            downcast::<BooleanArray>(array, <Self as Scalar>::COLUMN_TYPE, context)?
                .iter()
                .collect(),
        )
    }
}

/// Reads any of Arrow's three layouts of one logical type (`Utf8`,
/// `LargeUtf8`, `Utf8View`; likewise binary): query engines pick the layout,
/// the declaration only says "string".
macro_rules! read_any_layout {
    ($array:expr, $context:expr, $expected:expr, $convert:expr, [$($layout:ty),*]) => {{
        let any = $array.as_any();
        $(
            if let Some(array) = any.downcast_ref::<$layout>() {
                return Ok(array.iter().map(|value| value.map($convert)).collect());
            }
        )*
        Err($context.type_error($expected, $array.data_type()))
    }};
}

impl Scalar for String {
    const COLUMN_TYPE: ColumnType = ColumnType::Utf8;
    fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(values.collect::<StringArray>())
    }
    fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>> {
        read_any_layout!(
            array,
            context,
            <Self as Scalar>::COLUMN_TYPE,
            str::to_owned,
            [StringArray, LargeStringArray, StringViewArray]
        )
    }
}

impl Scalar for Vec<u8> {
    const COLUMN_TYPE: ColumnType = ColumnType::Binary;
    fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        Arc::new(
            values
                .map(|value| value.map(Vec::as_slice))
                .collect::<BinaryArray>(),
        )
    }
    fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>> {
        read_any_layout!(
            array,
            context,
            <Self as Scalar>::COLUMN_TYPE,
            <[u8]>::to_vec,
            [BinaryArray, LargeBinaryArray, BinaryViewArray]
        )
    }
}

const UNIX_EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

impl Scalar for NaiveDate {
    const COLUMN_TYPE: ColumnType = ColumnType::Date32;
    fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        // Dates beyond ±5.8 million years from 1970 do not exist in chrono, so the cast is exact.
        let days = |date: &NaiveDate| date.signed_duration_since(UNIX_EPOCH).num_days() as i32;
        Arc::new(
            values
                .map(|value| value.map(days))
                .collect::<PrimitiveArray<Date32Type>>(),
        )
    }
    fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>> {
        let array =
            downcast::<PrimitiveArray<Date32Type>>(array, <Self as Scalar>::COLUMN_TYPE, context)?;
        array
            .iter()
            .map(|days| {
                days.map(|days| {
                    UNIX_EPOCH
                        .checked_add_signed(chrono::TimeDelta::days(days.into()))
                        .ok_or_else(|| {
                            context.invalid(format!("{days} days from 1970 is out of range"))
                        })
                })
                .transpose()
            })
            .collect()
    }
}

fn read_micros(
    array: &dyn Array,
    expected: ColumnType,
    context: ColumnContext<'_>,
) -> Result<Vec<Option<DateTime<Utc>>>> {
    let array = downcast::<PrimitiveArray<TimestampMicrosecondType>>(array, expected, context)?;
    array
        .iter()
        .map(|micros| {
            micros
                .map(|micros| {
                    DateTime::from_timestamp_micros(micros).ok_or_else(|| {
                        context.invalid(format!("timestamp {micros}µs is out of range"))
                    })
                })
                .transpose()
        })
        .collect()
}

impl Scalar for NaiveDateTime {
    const COLUMN_TYPE: ColumnType = ColumnType::Timestamp { utc: false };
    fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        let micros = |value: &NaiveDateTime| value.and_utc().timestamp_micros();
        Arc::new(
            values
                .map(|value| value.map(micros))
                .collect::<PrimitiveArray<TimestampMicrosecondType>>(),
        )
    }
    fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>> {
        let values = read_micros(array, <Self as Scalar>::COLUMN_TYPE, context)?;
        Ok(values
            .into_iter()
            .map(|value| value.map(|value| value.naive_utc()))
            .collect())
    }
}

impl Scalar for DateTime<Utc> {
    const COLUMN_TYPE: ColumnType = ColumnType::Timestamp { utc: true };
    fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        let micros = |value: &DateTime<Utc>| value.timestamp_micros();
        let array: PrimitiveArray<TimestampMicrosecondType> =
            values.map(|value| value.map(micros)).collect();
        Arc::new(array.with_timezone(crate::spec::UTC))
    }
    fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>> {
        read_micros(array, <Self as Scalar>::COLUMN_TYPE, context)
    }
}

impl<const P: u8, const S: i8> Scalar for Decimal<P, S> {
    const COLUMN_TYPE: ColumnType = ColumnType::Decimal128 {
        precision: P,
        scale: S,
    };
    fn build<'a>(values: impl Iterator<Item = Option<&'a Self>>) -> ArrayRef {
        let array: Decimal128Array = values
            .map(|value| value.map(|value| value.mantissa()))
            .collect();
        // `Decimal` only holds mantissas that fit `P`, so the precision is valid by construction.
        Arc::new(
            array
                .with_precision_and_scale(P, S)
                .expect("Decimal<P, S> has a valid precision and scale"),
        )
    }
    fn read(array: &dyn Array, context: ColumnContext<'_>) -> Result<Vec<Option<Self>>> {
        let array = downcast::<Decimal128Array>(array, <Self as Scalar>::COLUMN_TYPE, context)?;
        array
            .iter()
            .map(|mantissa| {
                mantissa
                    .map(|mantissa| {
                        Self::from_mantissa(mantissa).ok_or_else(|| {
                            context.invalid(format!("mantissa {mantissa} has more than {P} digits"))
                        })
                    })
                    .transpose()
            })
            .collect()
    }
}

/// Helpers called by `#[derive(Table)]`'s expansion; not a public API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    /// Reads declared column `index` of `spec` from `batch`, by name.
    pub fn read_column<T: ColumnValue>(
        batch: &RecordBatch,
        spec: &TableSpec,
        index: usize,
    ) -> Result<Vec<T>> {
        let column = &*spec.columns[index].name;
        let Some(array) = batch.column_by_name(column) else {
            let available: Vec<&str> = batch
                .schema_ref()
                .fields()
                .iter()
                .map(|field| field.name().as_str())
                .collect();
            return Err(Error::MissingColumn {
                table: spec.qualified_name(),
                column: column.to_owned(),
                available: available.join(", "),
            });
        };
        T::from_array(
            array.as_ref(),
            ColumnContext {
                table: spec,
                column,
            },
        )
    }

    /// The spec of a table whose derive failed to compile; never read.
    pub static STUB_SPEC: TableSpec = TableSpec {
        database: std::borrow::Cow::Borrowed(""),
        name: std::borrow::Cow::Borrowed(""),
        doc: std::borrow::Cow::Borrowed(""),
        rust_type: std::borrow::Cow::Borrowed(""),
        source: std::borrow::Cow::Borrowed(""),
        options: std::borrow::Cow::Borrowed(&[]),
        owner: None,
        expectations: crate::Expectations {
            freshness: None,
            freshness_column: None,
            min_rows: None,
            max_rows: None,
        },
        columns: std::borrow::Cow::Borrowed(&[]),
        view: None,
        accelerate: None,
        refresh: None,
        contract: crate::Contract::NONE,
    };

    /// Assembles a batch from one array per declared column.
    pub fn build_batch(
        spec: &TableSpec,
        schema: SchemaRef,
        columns: Vec<ArrayRef>,
    ) -> Result<RecordBatch> {
        RecordBatch::try_new(schema, columns).map_err(|source| Error::Arrow {
            table: spec.qualified_name(),
            source,
        })
    }
}
