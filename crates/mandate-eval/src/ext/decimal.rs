//! The Cedar `decimal` extension type.
//!
//! A decimal is a 64-bit signed integer scaled by 10^4, so it ranges from
//! `-922337203685477.5808` to `922337203685477.5807`. The constructor
//! `decimal(s)` accepts exactly the strings matching `-?[0-9]+\.[0-9]{1,4}`
//! whose value is in range: a point with at least one digit on each side, at
//! most four fractional digits, no `+`, no exponent, no whitespace; leading
//! zeros are allowed. Equality and order are those of the represented number.
//!
//! Cedar's `<`, `<=`, `>`, `>=` operators do not accept decimals; the methods
//! `lessThan`, `lessThanOrEqual`, `greaterThan` and `greaterThanOrEqual` do.

use std::fmt;

use super::ExtError;

/// The number of fractional digits a decimal keeps.
const FRACTION_DIGITS: usize = 4;

/// `10^FRACTION_DIGITS`.
const SCALE: i64 = 10_000;

/// A Cedar `decimal` value: the number `raw / 10^4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Decimal(i64);

impl Decimal {
    /// The smallest decimal, `-922337203685477.5808`.
    pub const MIN: Self = Self(i64::MIN);
    /// The largest decimal, `922337203685477.5807`.
    pub const MAX: Self = Self(i64::MAX);

    /// Parses the argument of Cedar's `decimal(..)` constructor.
    ///
    /// # Errors
    ///
    /// [`ExtError::DecimalFormat`] if `s` does not match
    /// `-?[0-9]+\.[0-9]+`, [`ExtError::DecimalTooManyDigits`] if it has more
    /// than four fractional digits, [`ExtError::DecimalOverflow`] if the value
    /// is out of range. When several apply, the error is the one Cedar reports:
    /// a too-large integer part is an overflow even with too many fractional
    /// digits.
    pub fn parse(s: &str) -> Result<Self, ExtError> {
        let format_err = || ExtError::DecimalFormat(s.to_owned());
        let overflow_err = || ExtError::DecimalOverflow(s.to_owned());

        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int_digits, frac_digits) = body.split_once('.').ok_or_else(format_err)?;
        if !is_ascii_digits(int_digits) || !is_ascii_digits(frac_digits) {
            return Err(format_err());
        }

        // The integer part, scaled, must be representable on its own.
        let int_value = digits_value(int_digits).ok_or_else(overflow_err)?;
        let scaled_int = int_value
            .checked_mul(i128::from(SCALE))
            .ok_or_else(overflow_err)?;
        let signed_int = if negative {
            scaled_int.checked_neg().ok_or_else(overflow_err)?
        } else {
            scaled_int
        };
        i64::try_from(signed_int).map_err(|_| overflow_err())?;

        if frac_digits.len() > FRACTION_DIGITS {
            return Err(ExtError::DecimalTooManyDigits(s.to_owned()));
        }
        let mut frac_value = digits_value(frac_digits).ok_or_else(overflow_err)?;
        for _ in frac_digits.len()..FRACTION_DIGITS {
            frac_value = frac_value.checked_mul(10).ok_or_else(overflow_err)?;
        }

        let magnitude = scaled_int
            .checked_add(frac_value)
            .ok_or_else(overflow_err)?;
        let value = if negative {
            magnitude.checked_neg().ok_or_else(overflow_err)?
        } else {
            magnitude
        };
        i64::try_from(value).map(Self).map_err(|_| overflow_err())
    }

    /// The decimal whose value is `raw / 10^4`.
    #[must_use]
    pub const fn from_raw(raw: i64) -> Self {
        Self(raw)
    }

    /// The underlying integer: the value times 10^4.
    #[must_use]
    pub const fn raw(self) -> i64 {
        self.0
    }

    /// Cedar's `lessThan`.
    #[must_use]
    pub fn less_than(self, other: Self) -> bool {
        self < other
    }

    /// Cedar's `lessThanOrEqual`.
    #[must_use]
    pub fn less_than_or_equal(self, other: Self) -> bool {
        self <= other
    }

    /// Cedar's `greaterThan`.
    #[must_use]
    pub fn greater_than(self, other: Self) -> bool {
        self > other
    }

    /// Cedar's `greaterThanOrEqual`.
    #[must_use]
    pub fn greater_than_or_equal(self, other: Self) -> bool {
        self >= other
    }
}

/// Whether `s` is a non-empty run of ASCII digits.
fn is_ascii_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The value of a run of ASCII digits, or `None` if it does not fit an `i128`.
fn digits_value(digits: &str) -> Option<i128> {
    digits.bytes().try_fold(0_i128, |acc, b| {
        acc.checked_mul(10)?
            .checked_add(i128::from(b.checked_sub(b'0')?))
    })
}

/// Cedar's textual form: optional `-`, the integer part, a point and exactly
/// four fractional digits (`decimal("1.5")` displays as `1.5000`). The result
/// is always accepted by [`Decimal::parse`].
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.0.unsigned_abs();
        let scale = SCALE.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:04}", magnitude / scale, magnitude % scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Option<i64> {
        Decimal::parse(s).ok().map(Decimal::raw)
    }

    fn err(s: &str) -> Option<ExtError> {
        Decimal::parse(s).err()
    }

    #[test]
    fn parses_valid_literals() {
        assert_eq!(raw("0.0"), Some(0));
        assert_eq!(raw("-0.0"), Some(0));
        assert_eq!(raw("1.0"), Some(10_000));
        assert_eq!(raw("1.5"), Some(15_000));
        assert_eq!(raw("1.05"), Some(10_500));
        assert_eq!(raw("1.005"), Some(10_050));
        assert_eq!(raw("1.0005"), Some(10_005));
        assert_eq!(raw("1.2345"), Some(12_345));
        assert_eq!(raw("-1.2345"), Some(-12_345));
        assert_eq!(raw("-0.5"), Some(-5_000));
        assert_eq!(raw("-0.0001"), Some(-1));
        assert_eq!(raw("0.0001"), Some(1));
        assert_eq!(raw("12345.1234"), Some(123_451_234));
        assert_eq!(raw("007.10"), Some(71_000));
        assert_eq!(raw("1.0000"), Some(10_000));
        assert_eq!(
            raw("00000000000000000000000000000000000001.0"),
            Some(10_000)
        );
    }

    #[test]
    fn range_boundaries() {
        assert_eq!(raw("922337203685477.5807"), Some(i64::MAX));
        assert_eq!(raw("-922337203685477.5808"), Some(i64::MIN));
        assert_eq!(raw("922337203685477.5"), Some(9_223_372_036_854_775_000));
        assert_eq!(raw("-922337203685477.0"), Some(-9_223_372_036_854_770_000));
        assert!(matches!(
            err("922337203685477.5808"),
            Some(ExtError::DecimalOverflow(_))
        ));
        assert!(matches!(
            err("-922337203685477.5809"),
            Some(ExtError::DecimalOverflow(_))
        ));
        assert!(matches!(
            err("922337203685478.0"),
            Some(ExtError::DecimalOverflow(_))
        ));
        assert!(matches!(
            err("-922337203685478.0"),
            Some(ExtError::DecimalOverflow(_))
        ));
        assert!(matches!(
            err("9223372036854775807.0"),
            Some(ExtError::DecimalOverflow(_))
        ));
        assert!(matches!(
            err("1000000000000000000000000000000000000000000000000.0"),
            Some(ExtError::DecimalOverflow(_))
        ));
        assert_eq!(Decimal::MAX.raw(), i64::MAX);
        assert_eq!(Decimal::MIN.raw(), i64::MIN);
    }

    #[test]
    fn rejects_malformed_literals() {
        for s in [
            "", ".", "-", "-.", "1", "-1", "1.", ".1", "-.1", "+1.0", "1.0.0", "1..0", "--1.0",
            "1.-0", "1.+0", " 1.0", "1.0 ", "1 .0", "1. 0", "1,0", "1e3.0", "1.0e3", "0x1.0",
            "a.b", "1.a", "a.1", "1.0-", "-1.0-", "١.٠", "1.٠", "１.0", "1.0\n", "NaN", "inf",
        ] {
            assert!(
                matches!(err(s), Some(ExtError::DecimalFormat(ref x)) if x == s),
                "{s:?} gave {:?}",
                err(s)
            );
        }
    }

    #[test]
    fn too_many_digits() {
        for s in ["1.23456", "0.00000", "-1.00001", "922337203685477.58079"] {
            assert!(
                matches!(err(s), Some(ExtError::DecimalTooManyDigits(ref x)) if x == s),
                "{s}"
            );
        }
        // Cedar checks the integer part's range before the fraction's length.
        assert!(matches!(
            err("922337203685478.12345"),
            Some(ExtError::DecimalOverflow(_))
        ));
        // A very long fraction is "too many digits", not an overflow.
        let long = format!("1.{}", "9".repeat(60));
        assert!(matches!(
            err(&long),
            Some(ExtError::DecimalTooManyDigits(_))
        ));
    }

    #[test]
    fn value_equality() -> Result<(), ExtError> {
        assert_eq!(Decimal::parse("1.0")?, Decimal::parse("1.00")?);
        assert_eq!(Decimal::parse("1.0")?, Decimal::parse("1.0000")?);
        assert_eq!(Decimal::parse("01.10")?, Decimal::parse("1.1")?);
        assert_eq!(Decimal::parse("-0.0")?, Decimal::parse("0.0")?);
        assert_ne!(Decimal::parse("1.0")?, Decimal::parse("-1.0")?);
        let mut set = std::collections::HashSet::new();
        set.insert(Decimal::parse("2.5")?);
        assert!(set.contains(&Decimal::parse("2.5000")?));
        Ok(())
    }

    #[test]
    fn comparison_methods() -> Result<(), ExtError> {
        let a = Decimal::parse("1.23")?;
        let b = Decimal::parse("1.24")?;
        let n = Decimal::parse("-5.0")?;
        assert!(a.less_than(b));
        assert!(!b.less_than(a));
        assert!(!a.less_than(a));
        assert!(a.less_than_or_equal(a));
        assert!(a.less_than_or_equal(b));
        assert!(!b.less_than_or_equal(a));
        assert!(b.greater_than(a));
        assert!(!a.greater_than(a));
        assert!(!a.greater_than(b));
        assert!(a.greater_than_or_equal(a));
        assert!(b.greater_than_or_equal(a));
        assert!(!a.greater_than_or_equal(b));
        assert!(n.less_than(a));
        assert!(Decimal::MIN.less_than(n));
        assert!(Decimal::MAX.greater_than(b));
        assert!(Decimal::parse("-1.5")?.less_than(Decimal::parse("-1.4999")?));
        Ok(())
    }

    #[test]
    fn display() -> Result<(), ExtError> {
        let cases = [
            ("0.0", "0.0000"),
            ("-0.0", "0.0000"),
            ("1.5", "1.5000"),
            ("-1.5", "-1.5000"),
            ("-0.5", "-0.5000"),
            ("-0.0001", "-0.0001"),
            ("12.34", "12.3400"),
            ("007.1", "7.1000"),
            ("922337203685477.5807", "922337203685477.5807"),
            ("-922337203685477.5808", "-922337203685477.5808"),
        ];
        for (input, shown) in cases {
            let d = Decimal::parse(input)?;
            assert_eq!(d.to_string(), shown);
            assert_eq!(Decimal::parse(&d.to_string())?, d);
        }
        Ok(())
    }

    #[test]
    fn display_round_trips_raw_values() -> Result<(), ExtError> {
        for r in [
            i64::MIN,
            i64::MIN + 1,
            -10_001,
            -10_000,
            -9_999,
            -1,
            0,
            1,
            9_999,
            10_000,
            i64::MAX - 1,
            i64::MAX,
        ] {
            let d = Decimal::from_raw(r);
            assert_eq!(Decimal::parse(&d.to_string())?.raw(), r);
        }
        Ok(())
    }
}
