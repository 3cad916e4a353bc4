//! Cedar's extension functions as the validator sees them (`validator/extensions/*.rs` of
//! cedar-policy-core): argument and return types, which are constructors whose string literal
//! argument is checked, and the literal formats themselves.
//!
//! The format checks are independent of `mandate-eval` (which this crate must not depend on) and
//! accept exactly what Cedar's constructors accept:
//!
//! - `decimal`: `-?[0-9]+\.[0-9]{1,4}` whose value fits a 64-bit integer scaled by 10^4;
//! - `ip`: at most 43 bytes; not two `:` and two `.` together (no IPv4 embedded in IPv6); an
//!   address Rust's standard library parses, optionally `/prefix` with decimal digits, no leading
//!   zero, at most 2 characters and 32 (IPv4) or 3 characters and 128 (IPv6);
//! - `datetime`: `YYYY-MM-DD`, optionally `Thh:mm:ss`, optional `.SSS`, then `Z` or `(+|-)hhmm`;
//!   a real date, `hh < 24`, `mm < 60`, `ss < 60`, offset hours `< 24` and minutes `< 60`;
//! - `duration`: `-?` then one or more of `<n>d`, `<n>h`, `<n>m`, `<n>s`, `<n>ms` in that order,
//!   each at most once, with a total that fits 64 bits of milliseconds.

use super::types::Type;

/// One extension function.
#[derive(Debug)]
pub(crate) struct ExtFn {
    /// Its name.
    pub name: &'static str,
    /// Argument types (the receiver first for methods).
    pub args: &'static [Type],
    /// Return type.
    pub ret: Type,
    /// For constructors: the literal format check.
    pub check: Option<fn(&str) -> bool>,
}

const DECIMAL: Type = Type::Ext("decimal");
const IPADDR: Type = Type::Ext("ipaddr");
const DATETIME: Type = Type::Ext("datetime");
const DURATION: Type = Type::Ext("duration");

const STRING_ARG: &[Type] = &[Type::String];
const DECIMAL2: &[Type] = &[DECIMAL, DECIMAL];
const IP1: &[Type] = &[IPADDR];
const IP2: &[Type] = &[IPADDR, IPADDR];
const DT1: &[Type] = &[DATETIME];
const DT2: &[Type] = &[DATETIME, DATETIME];
const DT_DUR: &[Type] = &[DATETIME, DURATION];
const DUR1: &[Type] = &[DURATION];

/// Every extension function, by name.
pub(crate) fn lookup(name: &str) -> Option<ExtFn> {
    let f = |name, args, ret, check| ExtFn {
        name,
        args,
        ret,
        check,
    };
    Some(match name {
        "decimal" => f(
            "decimal",
            STRING_ARG,
            DECIMAL,
            Some(is_decimal as fn(&str) -> bool),
        ),
        "lessThan" => f("lessThan", DECIMAL2, Type::BOOL, None),
        "lessThanOrEqual" => f("lessThanOrEqual", DECIMAL2, Type::BOOL, None),
        "greaterThan" => f("greaterThan", DECIMAL2, Type::BOOL, None),
        "greaterThanOrEqual" => f("greaterThanOrEqual", DECIMAL2, Type::BOOL, None),
        "ip" => f("ip", STRING_ARG, IPADDR, Some(is_ip)),
        "isIpv4" => f("isIpv4", IP1, Type::BOOL, None),
        "isIpv6" => f("isIpv6", IP1, Type::BOOL, None),
        "isLoopback" => f("isLoopback", IP1, Type::BOOL, None),
        "isMulticast" => f("isMulticast", IP1, Type::BOOL, None),
        "isInRange" => f("isInRange", IP2, Type::BOOL, None),
        "datetime" => f("datetime", STRING_ARG, DATETIME, Some(is_datetime)),
        "duration" => f("duration", STRING_ARG, DURATION, Some(is_duration)),
        "offset" => f("offset", DT_DUR, DATETIME, None),
        "durationSince" => f("durationSince", DT2, DURATION, None),
        "toDate" => f("toDate", DT1, DATETIME, None),
        "toTime" => f("toTime", DT1, DURATION, None),
        "toMilliseconds" => f("toMilliseconds", DUR1, Type::Long, None),
        "toSeconds" => f("toSeconds", DUR1, Type::Long, None),
        "toMinutes" => f("toMinutes", DUR1, Type::Long, None),
        "toHours" => f("toHours", DUR1, Type::Long, None),
        "toDays" => f("toDays", DUR1, Type::Long, None),
        _ => return None,
    })
}

/// Extension types with `<` and `<=` (Cedar's operator overloading).
pub(crate) const COMPARABLE: &[&str] = &["datetime", "duration"];

/// What a constructor's argument must look like, for help text.
pub(crate) fn format_help(constructor: &str) -> &'static str {
    match constructor {
        "decimal" => {
            "a decimal has digits, a `.` and one to four digits, optionally negative, as in `\"-12.5\"`, within ±922337203685477.5807"
        }
        "ip" => {
            "write an IPv4 or IPv6 address, optionally with a prefix length, as in `\"10.0.0.0/24\"` or `\"::1\"`"
        }
        "datetime" => {
            "write `YYYY-MM-DD`, optionally followed by `Thh:mm:ss`, optional `.SSS` and `Z` or an offset `+hhmm`/`-hhmm`"
        }
        "duration" => {
            "write amounts with units `d`, `h`, `m`, `s`, `ms` in that order, each at most once, as in `\"1h30m\"`"
        }
        _ => "check the argument's format",
    }
}

const SCALE: i128 = 10_000;

/// Cedar's `decimal` format.
pub(crate) fn is_decimal(s: &str) -> bool {
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let Some((int, frac)) = body.split_once('.') else {
        return false;
    };
    if !all_digits(int) || !all_digits(frac) || frac.len() > 4 {
        return false;
    }
    let Some(int_value) = digits_value(int) else {
        return false;
    };
    let mut frac_value = digits_value(frac).unwrap_or(0);
    for _ in frac.len()..4 {
        frac_value = frac_value.saturating_mul(10);
    }
    let Some(magnitude) = int_value
        .checked_mul(SCALE as u128)
        .and_then(|v| v.checked_add(frac_value))
        .and_then(|v| i128::try_from(v).ok())
    else {
        return false;
    };
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).is_ok()
}

/// Cedar's `ip` format.
pub(crate) fn is_ip(s: &str) -> bool {
    if s.len() > 43 || (s.matches(':').nth(1).is_some() && s.matches('.').nth(1).is_some()) {
        return false;
    }
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let Ok(addr) = addr.parse::<std::net::IpAddr>() else {
        return false;
    };
    let Some(prefix) = prefix else {
        return true;
    };
    let (max, max_chars) = if addr.is_ipv4() { (32, 2) } else { (128, 3) };
    prefix.len() <= max_chars
        && all_digits(prefix)
        && (prefix == "0" || !prefix.starts_with('0'))
        && digits_value(prefix).is_some_and(|p| p <= max)
}

/// Cedar's `datetime` format.
pub(crate) fn is_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    let Some((date, rest)) = b.split_at_checked(10) else {
        return false;
    };
    if !fits(date, b"DDDD-DD-DD") {
        return false;
    }
    let (year, month, day) = (num(date, 0, 4), num(date, 5, 7), num(date, 8, 10));
    let date_ok = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
    if rest.is_empty() {
        return date_ok;
    }
    let Some((hms, rest)) = rest.split_at_checked(9) else {
        return false;
    };
    if !fits(hms, b"TDD:DD:DD") {
        return false;
    }
    let rest = match rest.strip_prefix(b".") {
        Some(after) => match after.split_at_checked(3) {
            Some((ms, rest)) if fits(ms, b"DDD") => rest,
            _ => return false,
        },
        None => rest,
    };
    let offset_ok = if rest == b"Z" {
        true
    } else {
        match rest.split_first() {
            Some((sign, digits)) if (*sign == b'+' || *sign == b'-') && fits(digits, b"DDDD") => {
                num(digits, 0, 2) < 24 && num(digits, 2, 4) < 60
            }
            _ => return false,
        }
    };
    date_ok && num(hms, 1, 3) < 24 && num(hms, 4, 6) < 60 && num(hms, 7, 9) < 60 && offset_ok
}

/// Cedar's `duration` format.
pub(crate) fn is_duration(s: &str) -> bool {
    let mut rest = s.strip_prefix('-').unwrap_or(s);
    let negative = rest.len() != s.len();
    if rest.is_empty() {
        return false;
    }
    let mut previous: Option<u8> = None;
    let mut total: Option<u128> = Some(0);
    while !rest.is_empty() {
        let count = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Some((digits, after)) = rest.split_at_checked(count) else {
            return false;
        };
        if digits.is_empty() {
            return false;
        }
        let (rank, unit, after): (u8, u128, &str) = if let Some(a) = after.strip_prefix("ms") {
            (4, 1, a)
        } else if let Some(a) = after.strip_prefix('d') {
            (0, 86_400_000, a)
        } else if let Some(a) = after.strip_prefix('h') {
            (1, 3_600_000, a)
        } else if let Some(a) = after.strip_prefix('m') {
            (2, 60_000, a)
        } else if let Some(a) = after.strip_prefix('s') {
            (3, 1_000, a)
        } else {
            return false;
        };
        if previous.is_some_and(|p| rank <= p) {
            return false;
        }
        previous = Some(rank);
        total = total.and_then(|t| t.checked_add(digits_value(digits)?.checked_mul(unit)?));
        rest = after;
    }
    let Some(magnitude) = total.and_then(|t| i128::try_from(t).ok()) else {
        return false;
    };
    i64::try_from(if negative { -magnitude } else { magnitude }).is_ok()
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn digits_value(s: &str) -> Option<u128> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0_u128, |acc, b| {
        acc.checked_mul(10)?
            .checked_add(u128::from(b.checked_sub(b'0')?))
    })
}

/// Whether `text` has `pattern`'s shape (`D` is a digit, anything else itself).
fn fits(text: &[u8], pattern: &[u8]) -> bool {
    text.len() == pattern.len()
        && text.iter().zip(pattern).all(|(t, p)| {
            if *p == b'D' {
                t.is_ascii_digit()
            } else {
                t == p
            }
        })
}

/// The value of the (pattern-checked) digits `text[start..end]`.
fn num(text: &[u8], start: usize, end: usize) -> u32 {
    text.get(start..end).map_or(0, |digits| {
        digits.iter().fold(0_u32, |acc, d| {
            acc.saturating_mul(10)
                .saturating_add(u32::from(d.saturating_sub(b'0')))
        })
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_literals() {
        for ok in [
            "1.0",
            "-1.0",
            "0.1234",
            "922337203685477.5807",
            "-922337203685477.5808",
        ] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in [
            "1",
            "1.",
            ".1",
            "1.23456",
            "922337203685477.5808",
            "+1.0",
            "1.0 ",
            "a.b",
        ] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn ip_literals() {
        for ok in [
            "10.0.0.1",
            "10.0.0.0/24",
            "::1",
            "::1/128",
            "0.0.0.0/0",
            "::ffff:102:304",
        ] {
            assert!(is_ip(ok), "{ok}");
        }
        for bad in [
            "10.0.0.256",
            "10.0.0.0/33",
            "10.0.0.0/024",
            "::ffff:1.2.3.4",
            "::1/129",
            "x",
        ] {
            assert!(!is_ip(bad), "{bad}");
        }
    }

    #[test]
    fn datetime_literals() {
        for ok in [
            "2024-02-29",
            "2024-01-01T00:00:00Z",
            "2024-01-01T23:59:59.999Z",
            "2024-01-01T00:00:00+0130",
            "0000-01-01",
        ] {
            assert!(is_datetime(ok), "{ok}");
        }
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.99Z",
            "2024-01-01T00:00:00+2400",
            "24-01-01",
        ] {
            assert!(!is_datetime(bad), "{bad}");
        }
    }

    #[test]
    fn duration_literals() {
        for ok in ["1d", "1h30m", "-5ms", "1d2h3m4s5ms", "0s"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "-", "1m1h", "1h1h", "1", "1y", "9223372036854775808ms"] {
            assert!(!is_duration(bad), "{bad}");
        }
    }
}
