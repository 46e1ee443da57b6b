//! Arrow to Postgres: each Arrow type's Postgres type, and the rows of a batch
//! as `DataRow`s, in text or binary as the client asked for each column.
//!
//! | Arrow | Postgres |
//! |---|---|
//! | Boolean | `bool` |
//! | Int8, Int16, UInt8 | `int2` |
//! | Int32, UInt16 | `int4` |
//! | Int64, UInt32 | `int8` |
//! | UInt64, Decimal128, Decimal256 | `numeric` (exact) |
//! | Float16, Float32 | `float4` |
//! | Float64 | `float8` |
//! | Utf8, LargeUtf8, Utf8View | `text` |
//! | Binary, LargeBinary, BinaryView, FixedSizeBinary | `bytea` |
//! | Date32, Date64 | `date` |
//! | Timestamp without a time zone | `timestamp` |
//! | Timestamp with a time zone | `timestamptz` |
//! | Time32, Time64 | `time` |
//! | anything else (lists, structs, intervals) | `text`, as Arrow displays it |

use std::error::Error;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Date64Array, Decimal128Array, Decimal256Array,
    Float16Array, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array,
    RecordBatch, Time32MillisecondArray, Time32SecondArray, Time64MicrosecondArray,
    Time64NanosecondArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array,
    UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions as ArrowFormat};
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::error::PgWireResult;
use pgwire::messages::data::DataRow;
use pgwire::types::ToSqlText;
use pgwire::types::format::FormatOptions;
use postgres_types::{IsNull, ToSql, to_sql_checked};

/// The Postgres type of an Arrow type.
pub fn pg_type(data_type: &DataType) -> Type {
    match data_type {
        DataType::Boolean => Type::BOOL,
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => Type::INT2,
        DataType::Int32 | DataType::UInt16 => Type::INT4,
        DataType::Int64 | DataType::UInt32 => Type::INT8,
        DataType::UInt64 | DataType::Decimal128(..) | DataType::Decimal256(..) => Type::NUMERIC,
        DataType::Float16 | DataType::Float32 => Type::FLOAT4,
        DataType::Float64 => Type::FLOAT8,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Type::TEXT,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Type::BYTEA,
        DataType::Date32 | DataType::Date64 => Type::DATE,
        DataType::Timestamp(_, None) => Type::TIMESTAMP,
        DataType::Timestamp(_, Some(_)) => Type::TIMESTAMPTZ,
        DataType::Time32(_) | DataType::Time64(_) => Type::TIME,
        _ => Type::TEXT,
    }
}

/// `pg_attribute.atttypmod` of an Arrow type: precision and scale for
/// `numeric`, `-1` (none) for the rest.
pub fn type_modifier(data_type: &DataType) -> i32 {
    match data_type {
        DataType::Decimal128(precision, scale) | DataType::Decimal256(precision, scale)
            if *scale >= 0 =>
        {
            ((i32::from(*precision) << 16) | i32::from(*scale as u8)) + 4
        }
        _ => -1,
    }
}

/// `pg_type.typlen` of a Postgres type: its width, or -1 for variable width.
pub fn type_size(pg_type: &Type) -> i16 {
    match *pg_type {
        Type::BOOL => 1,
        Type::INT2 => 2,
        Type::INT4 | Type::FLOAT4 | Type::DATE => 4,
        Type::INT8 | Type::FLOAT8 | Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::TIME => 8,
        _ => -1,
    }
}

/// The row description of `schema`, each column in the format `format` gives it.
pub fn fields(schema: &Schema, format: &Format, options: &Arc<FormatOptions>) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| field_info(field, format.format_for(index), options))
        .collect()
}

fn field_info(field: &Field, format: FieldFormat, options: &Arc<FormatOptions>) -> FieldInfo {
    let pg = pg_type(field.data_type());
    let size = type_size(&pg);
    FieldInfo::new(field.name().clone(), None, None, pg, format)
        .with_type_size(size)
        .with_type_modifier(type_modifier(field.data_type()))
        .with_format_options(Arc::clone(options))
}

/// The rows of `batch` as `DataRow`s described by `fields`.
pub fn rows(batch: &RecordBatch, fields: &Arc<Vec<FieldInfo>>) -> PgWireResult<Vec<DataRow>> {
    let columns: Vec<Column<'_>> = batch
        .columns()
        .iter()
        .map(Column::new)
        .collect::<Result<_, _>>()
        .map_err(|error| pgwire::error::PgWireError::ApiError(Box::new(error)))?;
    let mut encoder = DataRowEncoder::new(Arc::clone(fields));
    let mut rows = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        for column in &columns {
            column.encode(row, &mut encoder)?;
        }
        rows.push(encoder.take_row());
    }
    Ok(rows)
}

/// One column of a batch, downcast once.
enum Column<'a> {
    Null,
    Bool(&'a datafusion::arrow::array::BooleanArray),
    Int8(&'a Int8Array),
    Int16(&'a Int16Array),
    Int32(&'a Int32Array),
    Int64(&'a Int64Array),
    UInt8(&'a UInt8Array),
    UInt16(&'a UInt16Array),
    UInt32(&'a UInt32Array),
    UInt64(&'a UInt64Array),
    Float16(&'a Float16Array),
    Float32(&'a Float32Array),
    Float64(&'a Float64Array),
    Decimal(&'a Decimal128Array, i8),
    Decimal256(&'a Decimal256Array, i8),
    Text(&'a dyn Array),
    Bytes(&'a dyn Array),
    Date32(&'a Date32Array),
    Date64(&'a Date64Array),
    Timestamp(&'a dyn Array, TimeUnit, bool),
    Time(&'a dyn Array),
    /// Displayed by Arrow: lists, structs, intervals.
    Displayed(&'a dyn Array, ArrayFormatter<'a>),
}

impl<'a> Column<'a> {
    fn new(array: &'a ArrayRef) -> Result<Self, datafusion::arrow::error::ArrowError> {
        let array: &'a dyn Array = array.as_ref();
        Ok(match array.data_type() {
            DataType::Null => Self::Null,
            DataType::Boolean => Self::Bool(array.as_boolean()),
            DataType::Int8 => Self::Int8(array.as_primitive()),
            DataType::Int16 => Self::Int16(array.as_primitive()),
            DataType::Int32 => Self::Int32(array.as_primitive()),
            DataType::Int64 => Self::Int64(array.as_primitive()),
            DataType::UInt8 => Self::UInt8(array.as_primitive()),
            DataType::UInt16 => Self::UInt16(array.as_primitive()),
            DataType::UInt32 => Self::UInt32(array.as_primitive()),
            DataType::UInt64 => Self::UInt64(array.as_primitive()),
            DataType::Float16 => Self::Float16(array.as_primitive()),
            DataType::Float32 => Self::Float32(array.as_primitive()),
            DataType::Float64 => Self::Float64(array.as_primitive()),
            DataType::Decimal128(_, scale) => Self::Decimal(array.as_primitive(), *scale),
            DataType::Decimal256(_, scale) => Self::Decimal256(array.as_primitive(), *scale),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Self::Text(array),
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => Self::Bytes(array),
            DataType::Date32 => Self::Date32(array.as_primitive()),
            DataType::Date64 => Self::Date64(array.as_primitive()),
            DataType::Timestamp(unit, zone) => Self::Timestamp(array, *unit, zone.is_some()),
            DataType::Time32(_) | DataType::Time64(_) => Self::Time(array),
            _ => Self::Displayed(
                array,
                ArrayFormatter::try_new(array, &ArrowFormat::default().with_null(""))?,
            ),
        })
    }

    fn encode(&self, row: usize, encoder: &mut DataRowEncoder) -> PgWireResult<()> {
        macro_rules! value {
            ($array:expr, $convert:expr) => {{
                let array = $array;
                if array.is_null(row) {
                    encoder.encode_field(&None::<i16>)
                } else {
                    #[allow(clippy::redundant_closure_call)]
                    encoder.encode_field(&($convert)(array.value(row)))
                }
            }};
        }
        match self {
            Self::Null => encoder.encode_field(&None::<i16>),
            Self::Bool(array) => value!(array, |v: bool| v),
            Self::Int8(array) => value!(array, i16::from),
            Self::Int16(array) => value!(array, |v: i16| v),
            Self::Int32(array) => value!(array, |v: i32| v),
            Self::Int64(array) => value!(array, |v: i64| v),
            Self::UInt8(array) => value!(array, i16::from),
            Self::UInt16(array) => value!(array, i32::from),
            Self::UInt32(array) => value!(array, i64::from),
            Self::UInt64(array) => value!(array, |v: u64| Numeric::new(i128::from(v), 0)),
            Self::Float16(array) => value!(array, f32::from),
            Self::Float32(array) => value!(array, |v: f32| v),
            Self::Float64(array) => value!(array, |v: f64| v),
            Self::Decimal(array, scale) => value!(array, |v: i128| Numeric::new(v, *scale)),
            Self::Decimal256(array, scale) => value!(array, |v| Numeric::wide(v, *scale)),
            Self::Text(array) => {
                if array.is_null(row) {
                    return encoder.encode_field(&None::<&str>);
                }
                let text = match array.data_type() {
                    DataType::Utf8 => array.as_string::<i32>().value(row),
                    DataType::LargeUtf8 => array.as_string::<i64>().value(row),
                    _ => array.as_string_view().value(row),
                };
                encoder.encode_field(&text)
            }
            Self::Bytes(array) => {
                if array.is_null(row) {
                    return encoder.encode_field(&None::<&[u8]>);
                }
                let bytes: &[u8] = match array.data_type() {
                    DataType::Binary => array.as_binary::<i32>().value(row),
                    DataType::LargeBinary => array.as_binary::<i64>().value(row),
                    DataType::BinaryView => array.as_binary_view().value(row),
                    _ => array.as_fixed_size_binary().value(row),
                };
                encoder.encode_field(&bytes)
            }
            Self::Date32(array) => value!(array, |_| array.value_as_date(row)),
            Self::Date64(array) => value!(array, |_| array.value_as_date(row)),
            Self::Timestamp(array, unit, zoned) => {
                let naive = match unit {
                    TimeUnit::Second => array
                        .as_any()
                        .downcast_ref::<TimestampSecondArray>()
                        .and_then(|a| a.is_valid(row).then(|| a.value_as_datetime(row))),
                    TimeUnit::Millisecond => array
                        .as_any()
                        .downcast_ref::<TimestampMillisecondArray>()
                        .and_then(|a| a.is_valid(row).then(|| a.value_as_datetime(row))),
                    TimeUnit::Microsecond => array
                        .as_any()
                        .downcast_ref::<TimestampMicrosecondArray>()
                        .and_then(|a| a.is_valid(row).then(|| a.value_as_datetime(row))),
                    TimeUnit::Nanosecond => array
                        .as_any()
                        .downcast_ref::<TimestampNanosecondArray>()
                        .and_then(|a| a.is_valid(row).then(|| a.value_as_datetime(row))),
                }
                .flatten();
                // A zoned timestamp is stored in UTC; Postgres sends it as such.
                if *zoned {
                    encoder.encode_field(&naive.map(|naive| naive.and_utc()))
                } else {
                    encoder.encode_field(&naive)
                }
            }
            Self::Time(array) => {
                let any = array.as_any();
                let time = if array.is_null(row) {
                    None
                } else if let Some(a) = any.downcast_ref::<Time32SecondArray>() {
                    a.value_as_time(row)
                } else if let Some(a) = any.downcast_ref::<Time32MillisecondArray>() {
                    a.value_as_time(row)
                } else if let Some(a) = any.downcast_ref::<Time64MicrosecondArray>() {
                    a.value_as_time(row)
                } else if let Some(a) = any.downcast_ref::<Time64NanosecondArray>() {
                    a.value_as_time(row)
                } else {
                    None
                };
                encoder.encode_field(&time)
            }
            Self::Displayed(array, formatter) => {
                if array.is_null(row) {
                    return encoder.encode_field(&None::<&str>);
                }
                encoder.encode_field(&formatter.value(row).to_string())
            }
        }
    }
}

/// An exact decimal, `unscaled × 10^-scale`: Postgres's `numeric`, in text as
/// digits and in binary as base-10000 digits, never through a float.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numeric {
    negative: bool,
    magnitude: Magnitude,
    scale: i8,
}

/// The unscaled value's magnitude: an integer, or the digits of a wider one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Magnitude {
    Small(u128),
    Digits(String),
}

impl Numeric {
    /// `unscaled × 10^-scale`.
    pub fn new(unscaled: i128, scale: i8) -> Self {
        Self {
            negative: unscaled < 0,
            magnitude: Magnitude::Small(unscaled.unsigned_abs()),
            scale,
        }
    }

    /// `unscaled × 10^-scale`, for a 256-bit `unscaled`.
    pub fn wide(unscaled: datafusion::arrow::datatypes::i256, scale: i8) -> Self {
        let text = unscaled.to_string();
        let digits = text.trim_start_matches('-');
        Self {
            negative: text.starts_with('-') && digits.bytes().any(|digit| digit != b'0'),
            magnitude: Magnitude::Digits(digits.to_owned()),
            scale,
        }
    }

    /// The decimal digits of the magnitude, and the scale, made non-negative.
    fn digits(&self) -> (String, usize) {
        let mut digits = match &self.magnitude {
            Magnitude::Small(magnitude) => magnitude.to_string(),
            Magnitude::Digits(digits) => digits.clone(),
        };
        let scale = if self.scale < 0 {
            digits.extend(std::iter::repeat_n('0', self.scale.unsigned_abs().into()));
            0
        } else {
            usize::from(self.scale as u8)
        };
        if digits.len() <= scale {
            let zeros = scale + 1 - digits.len();
            digits.insert_str(0, &"0".repeat(zeros));
        }
        (digits, scale)
    }
}

impl std::fmt::Display for Numeric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (digits, scale) = self.digits();
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        if self.negative {
            f.write_str("-")?;
        }
        f.write_str(whole)?;
        if scale > 0 {
            write!(f, ".{fraction}")?;
        }
        Ok(())
    }
}

impl ToSqlText for Numeric {
    fn to_sql_text(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
        _format_options: &FormatOptions,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        use std::fmt::Write;
        write!(out, "{self}")?;
        Ok(IsNull::No)
    }
}

impl ToSql for Numeric {
    /// Postgres's binary `numeric`: the count of base-10000 digits, the
    /// weight of the first, the sign, the display scale, then the digits.
    fn to_sql(&self, _ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>>
    where
        Self: Sized,
    {
        let (digits, scale) = self.digits();
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        // Groups of four decimal digits, aligned on the decimal point.
        let whole_pad = (4 - whole.len() % 4) % 4;
        let fraction_pad = (4 - fraction.len() % 4) % 4;
        let aligned = format!(
            "{}{whole}{fraction}{}",
            "0".repeat(whole_pad),
            "0".repeat(fraction_pad)
        );
        let mut groups: Vec<i16> = aligned
            .as_bytes()
            .chunks(4)
            .map(|chunk| {
                chunk
                    .iter()
                    .fold(0i16, |group, digit| group * 10 + i16::from(digit - b'0'))
            })
            .collect();
        let mut weight = ((whole.len() + whole_pad) / 4) as i16 - 1;
        // Leading and trailing zero groups are implied by the weight and the scale.
        let leading = groups.iter().take_while(|group| **group == 0).count();
        groups.drain(..leading);
        weight -= leading as i16;
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        out.put_i16(groups.len() as i16);
        out.put_i16(weight);
        out.put_u16(if self.negative { 0x4000 } else { 0x0000 });
        out.put_u16(scale as u16);
        for group in groups {
            out.put_i16(group);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(numeric: Numeric) -> Vec<i16> {
        let mut out = BytesMut::new();
        numeric.to_sql(&Type::NUMERIC, &mut out).expect("encodes");
        out.chunks(2)
            .map(|pair| i16::from_be_bytes([pair[0], pair[1]]))
            .collect()
    }

    #[test]
    fn numerics_display_exactly() {
        assert_eq!(Numeric::new(12345, 2).to_string(), "123.45");
        assert_eq!(Numeric::new(-5, 3).to_string(), "-0.005");
        assert_eq!(Numeric::new(0, 2).to_string(), "0.00");
        assert_eq!(Numeric::new(7, -2).to_string(), "700");
        assert_eq!(
            Numeric::new(i128::MAX, 0).to_string(),
            "170141183460469231731687303715884105727"
        );
    }

    #[test]
    fn numerics_encode_as_postgres_does() {
        // Postgres: SELECT numeric_send(123.45) = 0002 0000 0000 0002 007b 1194.
        assert_eq!(binary(Numeric::new(12345, 2)), vec![2, 0, 0, 2, 123, 4500]);
        // -0.005: one digit 50 at weight -1, negative, scale 3.
        assert_eq!(binary(Numeric::new(-5, 3)), vec![1, -1, 0x4000, 3, 50]);
        // 10000: one digit 1 at weight 1, trailing zero group implied.
        assert_eq!(binary(Numeric::new(10000, 0)), vec![1, 1, 0, 0, 1]);
        // 0.00: no digits.
        assert_eq!(binary(Numeric::new(0, 2)), vec![0, 0, 0, 2]);
        // A 256-bit decimal encodes as the same digits would.
        let wide = datafusion::arrow::datatypes::i256::from_i128(-12345);
        assert_eq!(
            binary(Numeric::wide(wide, 2)),
            binary(Numeric::new(-12345, 2))
        );
        assert_eq!(Numeric::wide(wide, 2).to_string(), "-123.45");
        // 1234567.0100
        assert_eq!(
            binary(Numeric::new(12_345_670_100, 4)),
            vec![3, 1, 0, 4, 123, 4567, 100]
        );
    }

    #[test]
    fn types_map_to_their_postgres_types() {
        assert_eq!(pg_type(&DataType::Utf8View), Type::TEXT);
        assert_eq!(pg_type(&DataType::Decimal128(15, 2)), Type::NUMERIC);
        assert_eq!(
            type_modifier(&DataType::Decimal128(15, 2)),
            (15 << 16 | 2) + 4
        );
        assert_eq!(
            pg_type(&DataType::Timestamp(
                TimeUnit::Microsecond,
                Some("UTC".into())
            )),
            Type::TIMESTAMPTZ
        );
        assert_eq!(pg_type(&DataType::UInt64), Type::NUMERIC);
    }
}
