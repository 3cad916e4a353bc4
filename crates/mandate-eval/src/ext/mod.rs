//! Cedar extension value types: `decimal`, `ipaddr`, `datetime` and `duration`.
//!
//! Each type is a small, self-contained value with a parser that accepts exactly
//! the strings Cedar (cedar-policy 4.x) accepts, and methods that implement the
//! Cedar extension functions with Cedar's semantics. Every arithmetic operation
//! is checked: an overflow is reported as an [`ExtError`], never wrapped.
//!
//! The module also describes the extension functions themselves
//! ([`ExtFunction`]: name, call style, parameter and result types), for use by
//! the evaluator and the type checker, and offers [`ExtValue`], a sum of the
//! four extension value types.
//!
//! Cedar facts worth knowing when integrating:
//! - equality of extension values is value equality (`decimal("1.0") ==
//!   decimal("1.00")`, `datetime("2024-01-01") ==
//!   datetime("2024-01-01T00:00:00Z")`), and values of different extension
//!   types are never equal;
//! - only `datetime` and `duration` support the comparison operators `<`,
//!   `<=`, `>`, `>=` (both operands of the same type); `decimal` and `ipaddr`
//!   do not (see [`ExtType::supports_comparison_operators`]); `decimal` is
//!   compared with its methods `lessThan` etc. instead.

pub mod datetime;
pub mod decimal;
pub mod ipaddr;

use std::fmt;

pub use datetime::{DateTime, DateTimeIssue, Duration};
pub use decimal::Decimal;
pub use ipaddr::{IpAddr, IpAddrIssue};

/// An error raised by an extension constructor or method.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ExtError {
    /// The argument of `decimal` does not have the form `-?[0-9]+\.[0-9]+`.
    #[error("`{0}` is not a well-formed decimal value")]
    DecimalFormat(String),
    /// The argument of `decimal` has more than four fractional digits.
    #[error("too many digits after the decimal in `{0}`")]
    DecimalTooManyDigits(String),
    /// The argument of `decimal` is outside the range of a decimal value.
    #[error("overflow when converting `{0}` to decimal")]
    DecimalOverflow(String),
    /// The argument of `ip` is not an IP address or CIDR range Cedar accepts.
    #[error("`{input}` is not a valid IP address: {issue}")]
    IpAddrFormat {
        /// The string given to `ip`.
        input: String,
        /// What is wrong with it.
        issue: IpAddrIssue,
    },
    /// The argument of `datetime` is not a datetime Cedar accepts.
    #[error("`{input}` is not a valid datetime: {issue}")]
    DateTimeFormat {
        /// The string given to `datetime`.
        input: String,
        /// What is wrong with it.
        issue: DateTimeIssue,
    },
    /// The argument of `duration` does not match the duration pattern.
    #[error("`{0}` is not a valid duration: invalid duration pattern")]
    DurationFormat(String),
    /// The argument of `duration` is outside the range of a duration value.
    #[error("overflow when converting `{0}` to duration")]
    DurationOverflow(String),
    /// An extension method overflowed the 64-bit representation of its result.
    #[error("overflow in `{0}`")]
    Overflow(ExtFunction),
}

/// The Cedar type of an extension function's parameter or result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtType {
    /// Cedar `String`.
    String,
    /// Cedar `Bool`.
    Bool,
    /// Cedar `Long`.
    Long,
    /// The `decimal` extension type.
    Decimal,
    /// The `ipaddr` extension type.
    IpAddr,
    /// The `datetime` extension type.
    DateTime,
    /// The `duration` extension type.
    Duration,
}

impl ExtType {
    /// The type's name as Cedar writes it (`Long`, `decimal`, `ipaddr`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::Bool => "Bool",
            Self::Long => "Long",
            Self::Decimal => "decimal",
            Self::IpAddr => "ipaddr",
            Self::DateTime => "datetime",
            Self::Duration => "duration",
        }
    }

    /// Whether this is one of the four extension types (not a primitive).
    #[must_use]
    pub const fn is_extension(self) -> bool {
        matches!(
            self,
            Self::Decimal | Self::IpAddr | Self::DateTime | Self::Duration
        )
    }

    /// Whether Cedar's operators `<`, `<=`, `>`, `>=` accept two values of this
    /// extension type. True only for `datetime` and `duration` (Cedar's
    /// `supports_operator_overloading`); `Long` is not an extension type and
    /// gives `false` here.
    #[must_use]
    pub const fn supports_comparison_operators(self) -> bool {
        matches!(self, Self::DateTime | Self::Duration)
    }

    /// The extension type with this Cedar name (`decimal`, `ipaddr`,
    /// `datetime`, `duration`), if any.
    #[must_use]
    pub fn extension_from_name(name: &str) -> Option<Self> {
        match name {
            "decimal" => Some(Self::Decimal),
            "ipaddr" => Some(Self::IpAddr),
            "datetime" => Some(Self::DateTime),
            "duration" => Some(Self::Duration),
            _ => None,
        }
    }
}

impl fmt::Display for ExtType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an extension function is called in Cedar syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallStyle {
    /// `name(arg, ...)`: the constructors `decimal`, `ip`, `datetime`, `duration`.
    Function,
    /// `receiver.name(arg, ...)`: every other extension function; the receiver
    /// is the first parameter.
    Method,
}

/// The extension functions of Cedar 4 (constructors and methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtFunction {
    /// `decimal(String) -> decimal`.
    Decimal,
    /// `decimal.lessThan(decimal) -> Bool`.
    LessThan,
    /// `decimal.lessThanOrEqual(decimal) -> Bool`.
    LessThanOrEqual,
    /// `decimal.greaterThan(decimal) -> Bool`.
    GreaterThan,
    /// `decimal.greaterThanOrEqual(decimal) -> Bool`.
    GreaterThanOrEqual,
    /// `ip(String) -> ipaddr`.
    Ip,
    /// `ipaddr.isIpv4() -> Bool`.
    IsIpv4,
    /// `ipaddr.isIpv6() -> Bool`.
    IsIpv6,
    /// `ipaddr.isLoopback() -> Bool`.
    IsLoopback,
    /// `ipaddr.isMulticast() -> Bool`.
    IsMulticast,
    /// `ipaddr.isInRange(ipaddr) -> Bool`.
    IsInRange,
    /// `datetime(String) -> datetime`.
    Datetime,
    /// `duration(String) -> duration`.
    Duration,
    /// `datetime.offset(duration) -> datetime`.
    Offset,
    /// `datetime.durationSince(datetime) -> duration`.
    DurationSince,
    /// `datetime.toDate() -> datetime`.
    ToDate,
    /// `datetime.toTime() -> duration`.
    ToTime,
    /// `duration.toMilliseconds() -> Long`.
    ToMilliseconds,
    /// `duration.toSeconds() -> Long`.
    ToSeconds,
    /// `duration.toMinutes() -> Long`.
    ToMinutes,
    /// `duration.toHours() -> Long`.
    ToHours,
    /// `duration.toDays() -> Long`.
    ToDays,
}

impl ExtFunction {
    /// Every extension function.
    pub const ALL: [Self; 22] = [
        Self::Decimal,
        Self::LessThan,
        Self::LessThanOrEqual,
        Self::GreaterThan,
        Self::GreaterThanOrEqual,
        Self::Ip,
        Self::IsIpv4,
        Self::IsIpv6,
        Self::IsLoopback,
        Self::IsMulticast,
        Self::IsInRange,
        Self::Datetime,
        Self::Duration,
        Self::Offset,
        Self::DurationSince,
        Self::ToDate,
        Self::ToTime,
        Self::ToMilliseconds,
        Self::ToSeconds,
        Self::ToMinutes,
        Self::ToHours,
        Self::ToDays,
    ];

    /// The function's Cedar name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Decimal => "decimal",
            Self::LessThan => "lessThan",
            Self::LessThanOrEqual => "lessThanOrEqual",
            Self::GreaterThan => "greaterThan",
            Self::GreaterThanOrEqual => "greaterThanOrEqual",
            Self::Ip => "ip",
            Self::IsIpv4 => "isIpv4",
            Self::IsIpv6 => "isIpv6",
            Self::IsLoopback => "isLoopback",
            Self::IsMulticast => "isMulticast",
            Self::IsInRange => "isInRange",
            Self::Datetime => "datetime",
            Self::Duration => "duration",
            Self::Offset => "offset",
            Self::DurationSince => "durationSince",
            Self::ToDate => "toDate",
            Self::ToTime => "toTime",
            Self::ToMilliseconds => "toMilliseconds",
            Self::ToSeconds => "toSeconds",
            Self::ToMinutes => "toMinutes",
            Self::ToHours => "toHours",
            Self::ToDays => "toDays",
        }
    }

    /// The function with this Cedar name, if any. Names are unique across all
    /// extensions.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The extension that provides this function: `decimal`, `ipaddr` or
    /// `datetime` (the `datetime` extension also provides `duration`).
    #[must_use]
    pub const fn extension_name(self) -> &'static str {
        match self {
            Self::Decimal
            | Self::LessThan
            | Self::LessThanOrEqual
            | Self::GreaterThan
            | Self::GreaterThanOrEqual => "decimal",
            Self::Ip
            | Self::IsIpv4
            | Self::IsIpv6
            | Self::IsLoopback
            | Self::IsMulticast
            | Self::IsInRange => "ipaddr",
            Self::Datetime
            | Self::Duration
            | Self::Offset
            | Self::DurationSince
            | Self::ToDate
            | Self::ToTime
            | Self::ToMilliseconds
            | Self::ToSeconds
            | Self::ToMinutes
            | Self::ToHours
            | Self::ToDays => "datetime",
        }
    }

    /// Whether the function is called as `f(..)` or as `receiver.f(..)`.
    #[must_use]
    pub const fn call_style(self) -> CallStyle {
        if self.is_constructor() {
            CallStyle::Function
        } else {
            CallStyle::Method
        }
    }

    /// Whether the function is a constructor taking one `String` (`decimal`,
    /// `ip`, `datetime`, `duration`).
    #[must_use]
    pub const fn is_constructor(self) -> bool {
        matches!(
            self,
            Self::Decimal | Self::Ip | Self::Datetime | Self::Duration
        )
    }

    /// The parameter types, the receiver first for methods.
    #[must_use]
    pub const fn param_types(self) -> &'static [ExtType] {
        use ExtType as T;
        match self {
            Self::Decimal | Self::Ip | Self::Datetime | Self::Duration => &[T::String],
            Self::LessThan
            | Self::LessThanOrEqual
            | Self::GreaterThan
            | Self::GreaterThanOrEqual => &[T::Decimal, T::Decimal],
            Self::IsIpv4 | Self::IsIpv6 | Self::IsLoopback | Self::IsMulticast => &[T::IpAddr],
            Self::IsInRange => &[T::IpAddr, T::IpAddr],
            Self::Offset => &[T::DateTime, T::Duration],
            Self::DurationSince => &[T::DateTime, T::DateTime],
            Self::ToDate | Self::ToTime => &[T::DateTime],
            Self::ToMilliseconds
            | Self::ToSeconds
            | Self::ToMinutes
            | Self::ToHours
            | Self::ToDays => &[T::Duration],
        }
    }

    /// The number of arguments, the receiver included for methods.
    #[must_use]
    pub const fn arity(self) -> usize {
        self.param_types().len()
    }

    /// The result type.
    #[must_use]
    pub const fn return_type(self) -> ExtType {
        match self {
            Self::Decimal => ExtType::Decimal,
            Self::Ip => ExtType::IpAddr,
            Self::Datetime | Self::Offset | Self::ToDate => ExtType::DateTime,
            Self::Duration | Self::DurationSince | Self::ToTime => ExtType::Duration,
            Self::LessThan
            | Self::LessThanOrEqual
            | Self::GreaterThan
            | Self::GreaterThanOrEqual
            | Self::IsIpv4
            | Self::IsIpv6
            | Self::IsLoopback
            | Self::IsMulticast
            | Self::IsInRange => ExtType::Bool,
            Self::ToMilliseconds
            | Self::ToSeconds
            | Self::ToMinutes
            | Self::ToHours
            | Self::ToDays => ExtType::Long,
        }
    }
}

impl fmt::Display for ExtFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value of one of the four extension types.
///
/// Equality and hashing are value equality within a type; values of different
/// types are never equal. The derived order (by type, then value) is a total
/// order for use in sets and maps; Cedar's `<` etc. apply only to two values of
/// the same type whose [`ExtType::supports_comparison_operators`] is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtValue {
    /// A `decimal` value.
    Decimal(Decimal),
    /// An `ipaddr` value.
    IpAddr(IpAddr),
    /// A `datetime` value.
    DateTime(DateTime),
    /// A `duration` value.
    Duration(Duration),
}

impl ExtValue {
    /// The value's extension type.
    #[must_use]
    pub const fn ext_type(&self) -> ExtType {
        match self {
            Self::Decimal(_) => ExtType::Decimal,
            Self::IpAddr(_) => ExtType::IpAddr,
            Self::DateTime(_) => ExtType::DateTime,
            Self::Duration(_) => ExtType::Duration,
        }
    }
}

impl From<Decimal> for ExtValue {
    fn from(v: Decimal) -> Self {
        Self::Decimal(v)
    }
}

impl From<IpAddr> for ExtValue {
    fn from(v: IpAddr) -> Self {
        Self::IpAddr(v)
    }
}

impl From<DateTime> for ExtValue {
    fn from(v: DateTime) -> Self {
        Self::DateTime(v)
    }
}

impl From<Duration> for ExtValue {
    fn from(v: Duration) -> Self {
        Self::Duration(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_round_trip_and_are_unique() {
        for f in ExtFunction::ALL {
            assert_eq!(ExtFunction::from_name(f.name()), Some(f));
            assert_eq!(f.to_string(), f.name());
        }
        let mut names: Vec<&str> = ExtFunction::ALL.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ExtFunction::ALL.len());
        assert_eq!(ExtFunction::from_name("nope"), None);
        assert_eq!(ExtFunction::from_name("LessThan"), None);
    }

    #[test]
    fn constructors() {
        let ctors: Vec<ExtFunction> = ExtFunction::ALL
            .into_iter()
            .filter(|f| f.is_constructor())
            .collect();
        assert_eq!(
            ctors,
            [
                ExtFunction::Decimal,
                ExtFunction::Ip,
                ExtFunction::Datetime,
                ExtFunction::Duration
            ]
        );
        for f in ExtFunction::ALL {
            if f.is_constructor() {
                assert_eq!(f.call_style(), CallStyle::Function);
                assert_eq!(f.param_types(), [ExtType::String]);
                assert!(f.return_type().is_extension());
            } else {
                assert_eq!(f.call_style(), CallStyle::Method);
                assert!(f.param_types().iter().all(|t| t.is_extension()));
            }
        }
    }

    #[test]
    fn arities_and_types() {
        assert_eq!(ExtFunction::IsInRange.arity(), 2);
        assert_eq!(ExtFunction::IsIpv4.arity(), 1);
        assert_eq!(ExtFunction::LessThan.arity(), 2);
        assert_eq!(ExtFunction::Offset.arity(), 2);
        assert_eq!(
            ExtFunction::Offset.param_types(),
            [ExtType::DateTime, ExtType::Duration]
        );
        assert_eq!(ExtFunction::Offset.return_type(), ExtType::DateTime);
        assert_eq!(ExtFunction::DurationSince.return_type(), ExtType::Duration);
        assert_eq!(ExtFunction::ToTime.return_type(), ExtType::Duration);
        assert_eq!(ExtFunction::ToDate.return_type(), ExtType::DateTime);
        assert_eq!(ExtFunction::ToDays.return_type(), ExtType::Long);
        assert_eq!(ExtFunction::GreaterThan.return_type(), ExtType::Bool);
        assert_eq!(ExtFunction::ToHours.extension_name(), "datetime");
        assert_eq!(ExtFunction::Duration.extension_name(), "datetime");
        assert_eq!(ExtFunction::IsInRange.extension_name(), "ipaddr");
        assert_eq!(ExtFunction::LessThan.extension_name(), "decimal");
        // Methods take their receiver's type first.
        for f in ExtFunction::ALL {
            if let Some(first) = f.param_types().first()
                && !f.is_constructor()
            {
                let receiver_ext = match first {
                    ExtType::Decimal => "decimal",
                    ExtType::IpAddr => "ipaddr",
                    _ => "datetime",
                };
                assert_eq!(f.extension_name(), receiver_ext, "{f}");
            }
        }
    }

    #[test]
    fn ext_types() {
        assert!(ExtType::DateTime.supports_comparison_operators());
        assert!(ExtType::Duration.supports_comparison_operators());
        assert!(!ExtType::Decimal.supports_comparison_operators());
        assert!(!ExtType::IpAddr.supports_comparison_operators());
        assert!(!ExtType::Long.supports_comparison_operators());
        for t in [
            ExtType::Decimal,
            ExtType::IpAddr,
            ExtType::DateTime,
            ExtType::Duration,
        ] {
            assert_eq!(ExtType::extension_from_name(t.name()), Some(t));
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(ExtType::extension_from_name("Long"), None);
        assert_eq!(ExtType::extension_from_name("ip"), None);
    }

    #[test]
    fn ext_values() -> Result<(), ExtError> {
        let d = ExtValue::from(Decimal::parse("1.0")?);
        let i = ExtValue::from(IpAddr::parse("10.0.0.1")?);
        let t = ExtValue::from(DateTime::parse("1970-01-01")?);
        let u = ExtValue::from(Duration::parse("0ms")?);
        assert_eq!(d.ext_type(), ExtType::Decimal);
        assert_eq!(i.ext_type(), ExtType::IpAddr);
        assert_eq!(t.ext_type(), ExtType::DateTime);
        assert_eq!(u.ext_type(), ExtType::Duration);
        // Values of different types are never equal, even with equal raw parts.
        assert_ne!(t, u);
        assert_eq!(d, ExtValue::from(Decimal::parse("1.0000")?));
        assert_eq!(t, ExtValue::from(DateTime::parse("1970-01-01T00:00:00Z")?));
        Ok(())
    }

    #[test]
    fn error_messages() -> Result<(), ExtError> {
        let e = Decimal::parse("1.x").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("`1.x` is not a well-formed decimal value".to_owned())
        );
        let e = ExtError::Overflow(ExtFunction::Offset);
        assert_eq!(e.to_string(), "overflow in `offset`");
        let e = DateTime::parse("2024-02-30").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("`2024-02-30` is not a valid datetime: invalid date: 2024-02-30".to_owned())
        );
        let e = IpAddr::parse("1.2.3.4/33").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some(
                "`1.2.3.4/33` is not a valid IP address: prefix 33 is larger than the limit 32"
                    .to_owned()
            )
        );
        let e = Duration::parse("1x").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("`1x` is not a valid duration: invalid duration pattern".to_owned())
        );
        Ok(())
    }
}
