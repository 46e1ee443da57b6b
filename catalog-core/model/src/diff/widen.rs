//! Which type changes keep every value a reader could see: widenings.

use crate::ColumnType;

/// Whether every value of `from` is a value of `to`, so a reader of the
/// column loses nothing: `Int32` → `Int64`, `Float32` → `Float64`,
/// `Decimal128(10, 2)` → `Decimal128(12, 2)`, `UInt16` → `Int32`.
///
/// Conversions that round (`Int64` → `Float64`) or change what a value means
/// (`Date32` → `Timestamp`, a time zone added) are not widenings.
pub fn widens(from: ColumnType, to: ColumnType) -> bool {
    use ColumnType::*;
    if from == to {
        return true;
    }
    match (from, to) {
        (Float32, Float64) => true,
        // A float's mantissa holds integers exactly up to 2^24 (f32) or 2^53 (f64).
        (_, Float32) => integer_bits(from).is_some_and(|bits| bits <= 16),
        (_, Float64) => integer_bits(from).is_some_and(|bits| bits <= 32),
        (
            Decimal128 { precision, scale },
            Decimal128 {
                precision: to_precision,
                scale: to_scale,
            },
        ) => {
            to_scale >= scale
                && i16::from(to_precision) - i16::from(to_scale)
                    >= i16::from(precision) - i16::from(scale)
        }
        (
            _,
            Decimal128 {
                precision, scale, ..
            },
        ) => integer_digits(from)
            .is_some_and(|digits| i16::from(precision) - i16::from(scale) >= i16::from(digits)),
        _ => match (signed_bits(from), signed_bits(to)) {
            // Same signedness: more bits.
            (Some((from_signed, from_bits)), Some((to_signed, to_bits)))
                if from_signed == to_signed =>
            {
                to_bits > from_bits
            }
            // Unsigned into signed: strictly more bits, for the sign.
            (Some((false, from_bits)), Some((true, to_bits))) => to_bits > from_bits,
            _ => false,
        },
    }
}

/// `(signed, bits)` of an integer type.
fn signed_bits(ty: ColumnType) -> Option<(bool, u8)> {
    use ColumnType::*;
    Some(match ty {
        Int8 => (true, 8),
        Int16 => (true, 16),
        Int32 => (true, 32),
        Int64 => (true, 64),
        UInt8 => (false, 8),
        UInt16 => (false, 16),
        UInt32 => (false, 32),
        UInt64 => (false, 64),
        _ => return None,
    })
}

fn integer_bits(ty: ColumnType) -> Option<u8> {
    signed_bits(ty).map(|(_, bits)| bits)
}

/// Decimal digits the largest value of an integer type has.
fn integer_digits(ty: ColumnType) -> Option<u8> {
    use ColumnType::*;
    Some(match ty {
        Int8 | UInt8 => 3,
        Int16 | UInt16 => 5,
        Int32 | UInt32 => 10,
        Int64 => 19,
        UInt64 => 20,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnType::*;

    fn decimal(precision: u8, scale: i8) -> ColumnType {
        Decimal128 { precision, scale }
    }

    #[test]
    fn widenings_keep_every_value_and_nothing_else_does() {
        for (from, to) in [
            (Int32, Int64),
            (Int8, Int16),
            (UInt16, Int32),
            (UInt32, UInt64),
            (Float32, Float64),
            (Int32, Float64),
            (Int16, Float32),
            (decimal(10, 2), decimal(12, 2)),
            (decimal(10, 2), decimal(11, 3)),
            (Int32, decimal(12, 2)),
        ] {
            assert!(widens(from, to), "{from} → {to} widens");
        }
        for (from, to) in [
            (Int64, Int32),
            (UInt32, Int32),
            (Int32, UInt64),
            (Int64, Float64),
            (Int32, Float32),
            (Float64, Float32),
            (decimal(12, 2), decimal(10, 2)),
            (decimal(10, 2), decimal(10, 3)),
            (Int64, decimal(18, 0)),
            (Utf8, Binary),
            (Date32, Timestamp { utc: false }),
            (Timestamp { utc: false }, Timestamp { utc: true }),
            (Int64, Utf8),
        ] {
            assert!(!widens(from, to), "{from} → {to} does not widen");
        }
    }
}
