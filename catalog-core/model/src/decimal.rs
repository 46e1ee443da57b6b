//! An exact decimal whose precision and scale are part of its type.

use std::fmt;
use std::str::FromStr;

/// An exact decimal of `P` digits, `S` of them after the point, stored as its
/// unscaled `i128` mantissa: `Decimal::<15, 2>` holds `901.00` as `90100`.
///
/// It maps to Arrow's `Decimal128(P, S)`, so money keeps the exactness the
/// source gave it (TPC-H declares prices as `decimal(15,2)`). Convert to
/// `f64` with [`Decimal::to_f64`] where exactness does not matter.
///
/// ```
/// use catalog_core::Decimal;
/// let price: Decimal<15, 2> = "901.5".parse().unwrap();
/// assert_eq!(price.mantissa(), 90150);
/// assert_eq!(price.to_string(), "901.50");
/// assert!("1.234".parse::<Decimal<15, 2>>().is_err()); // three places do not fit scale 2
/// ```
/// `P` and `S` must satisfy `1 <= P <= 38` and `0 <= S <= P`, as Arrow's
/// `Decimal128` requires; other values fail to compile where they are used.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal<const P: u8, const S: i8>(i128);

impl<const P: u8, const S: i8> Decimal<P, S> {
    /// Evaluated by every constructor: an impossible `P` or `S` fails the build,
    /// where the derive would have refused it too.
    const VALID: () = assert!(
        P >= 1 && P <= 38 && S >= 0 && S as u8 <= P,
        "Decimal<P, S> needs 1 <= P <= 38 and 0 <= S <= P"
    );

    /// The largest mantissa `P` digits can hold.
    pub const MAX_MANTISSA: i128 = 10i128.pow(P as u32) - 1;

    /// A decimal from its unscaled mantissa, or `None` if it has more than `P` digits.
    pub const fn from_mantissa(mantissa: i128) -> Option<Self> {
        let () = Self::VALID;
        if mantissa > Self::MAX_MANTISSA || mantissa < -Self::MAX_MANTISSA {
            None
        } else {
            Some(Self(mantissa))
        }
    }

    /// The unscaled mantissa: the value times 10^`S`.
    pub const fn mantissa(self) -> i128 {
        self.0
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 10f64.powi(i32::from(S))
    }
}

impl<const P: u8, const S: i8> fmt::Debug for Decimal<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<const P: u8, const S: i8> fmt::Display for Decimal<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let () = Self::VALID;
        let sign = if self.0 < 0 { "-" } else { "" };
        let digits = self.0.unsigned_abs();
        if S == 0 {
            return write!(f, "{sign}{digits}");
        }
        let scale = 10u128.pow(S as u32);
        let (int, frac) = (digits / scale, digits % scale);
        write!(f, "{sign}{int}.{frac:0width$}", width = S as usize)
    }
}

/// Why text did not parse as a [`Decimal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a decimal({precision}, {scale}): {reason}")]
pub struct ParseDecimalError {
    text: String,
    precision: u8,
    scale: i8,
    reason: &'static str,
}

impl<const P: u8, const S: i8> FromStr for Decimal<P, S> {
    type Err = ParseDecimalError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let () = Self::VALID;
        let fail = |reason| ParseDecimalError {
            text: text.to_owned(),
            precision: P,
            scale: S,
            reason,
        };
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !all_digits(int) || !all_digits(frac) {
            return Err(fail("expected digits with an optional `.`"));
        }
        let scale = S as usize; // `VALID`: 0 <= S <= 38
        if frac.len() > scale {
            return Err(fail("more digits after the point than the scale allows"));
        }
        let padded = format!("{int}{frac:0<scale$}");
        let mantissa: i128 = padded.parse().map_err(|_| fail("too many digits"))?;
        let mantissa = if negative { -mantissa } else { mantissa };
        Self::from_mantissa(mantissa).ok_or_else(|| fail("more digits than the precision allows"))
    }
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    fn check<const P: u8, const S: i8>(text: &str, mantissa: Option<i128>, shown: &str) {
        let parsed = text.parse::<Decimal<P, S>>().ok();
        assert_eq!(parsed.map(Decimal::mantissa), mantissa, "{text}");
        if let Some(parsed) = parsed {
            assert_eq!(parsed.to_string(), shown, "{text}");
            assert_eq!(
                parsed.to_string().parse::<Decimal<P, S>>(),
                Ok(parsed),
                "{text} round-trips"
            );
        }
    }

    #[test]
    fn parses_and_displays_edge_cases() {
        check::<15, 2>("0", Some(0), "0.00");
        check::<15, 2>("-0.5", Some(-50), "-0.50");
        check::<15, 2>("-.5", Some(-50), "-0.50");
        check::<15, 2>("1.", Some(100), "1.00");
        check::<15, 2>("+7", Some(700), "7.00");
        check::<15, 2>(
            "9999999999999.99",
            Some(999_999_999_999_999),
            "9999999999999.99",
        );
        check::<15, 2>("10000000000000", None, "");
        check::<15, 2>("+", None, "");
        check::<15, 2>(".", None, "");
        check::<15, 2>("1.234", None, "");
        check::<15, 2>("1e3", None, "");
        check::<5, 0>("12300", Some(12300), "12300");
        check::<38, 38>(
            "0.99999999999999999999999999999999999999",
            Some(10i128.pow(38) - 1),
            "0.99999999999999999999999999999999999999",
        );
        check::<38, 0>(
            "99999999999999999999999999999999999999",
            Some(10i128.pow(38) - 1),
            "99999999999999999999999999999999999999",
        );
        check::<38, 0>("999999999999999999999999999999999999999999", None, "");
    }
}
