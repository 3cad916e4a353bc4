//! The Cedar `datetime` and `duration` extension types.
//!
//! A `datetime` is a signed 64-bit count of milliseconds since the Unix epoch
//! (`1970-01-01T00:00:00Z`), leap seconds not counted. `datetime(s)` accepts
//! exactly these forms, all in ASCII:
//!
//! - `YYYY-MM-DD` (midnight UTC);
//! - `YYYY-MM-DDThh:mm:ssZ`;
//! - `YYYY-MM-DDThh:mm:ss.SSSZ`;
//! - `YYYY-MM-DDThh:mm:ss(+|-)hhmm`;
//! - `YYYY-MM-DDThh:mm:ss.SSS(+|-)hhmm`.
//!
//! Every field has exactly the digits shown (the year is `0000` to `9999`, the
//! milliseconds exactly three digits). The date must exist in the proleptic
//! Gregorian calendar; `hh < 24`, `mm < 60`, `ss < 60` (no leap second
//! `60`); the offset's hours are below 24 and its minutes below 60 (`-0000`
//! is allowed). An offset `+hhmm` means local time ahead of UTC, so it is
//! subtracted. Pattern errors are reported before range errors, each from
//! left to right, as Cedar does.
//!
//! A `duration` is a signed 64-bit count of milliseconds. `duration(s)`
//! accepts an optional `-` followed by at least one of `<n>d`, `<n>h`,
//! `<n>m`, `<n>s`, `<n>ms`, in that order and each at most once, where `<n>`
//! is one or more ASCII digits; the `-` applies to the whole. The total must
//! fit in 64 bits.
//!
//! Both types support Cedar's `<`, `<=`, `>`, `>=` (with a value of the same
//! type); equality is equality of the millisecond counts.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use super::{ExtError, ExtFunction};

/// Milliseconds in a second.
const MS_PER_SECOND: i64 = 1_000;
/// Milliseconds in a minute.
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
/// Milliseconds in an hour.
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
/// Milliseconds in a day.
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;
/// `NaiveDate::num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i64 = 719_163;

/// Why a string is not accepted by `datetime(..)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum DateTimeIssue {
    /// The string does not start with `YYYY-MM-DD`.
    #[error("invalid date pattern")]
    InvalidDatePattern,
    /// The date does not exist (month 13, February 30, ...).
    #[error("invalid date: {0}")]
    InvalidDate(String),
    /// The date is not followed by `Thh:mm:ss`.
    #[error("invalid hour/minute/second pattern")]
    InvalidHmsPattern,
    /// The time is out of range (hour 24, minute 60, second 60, ...).
    #[error("invalid hour/minute/second: {0}")]
    InvalidHms(String),
    /// The time is not followed by `Z`, `.SSSZ`, `(+|-)hhmm` or
    /// `.SSS(+|-)hhmm`, and nothing else.
    #[error("invalid millisecond and/or offset pattern")]
    InvalidMsOffsetPattern,
    /// The offset's hours are 24 or more, or its minutes 60 or more.
    #[error("invalid offset range: {hours:02}{minutes:02}")]
    InvalidOffset {
        /// The offset's hours.
        hours: u32,
        /// The offset's minutes.
        minutes: u32,
    },
}

/// A Cedar `datetime` value: milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(i64);

/// A Cedar `duration` value: a signed number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Duration(i64);

/// A UTC offset as written: sign, hours, minutes.
struct Offset {
    /// Whether the sign is `-`.
    negative: bool,
    /// Hours, two digits.
    hours: u32,
    /// Minutes, two digits.
    minutes: u32,
}

/// The fields of a datetime string that matched the pattern, before range checks.
struct DateTimeFields<'a> {
    /// `YYYY-MM-DD` as written.
    date_text: &'a str,
    /// Year, month, day.
    ymd: (u32, u32, u32),
    /// `hh:mm:ss` as written, and its values; absent for a date alone.
    time: Option<(&'a str, (u32, u32, u32))>,
    /// Milliseconds.
    millis: u32,
    /// The offset, absent for `Z` or a date alone.
    offset: Option<Offset>,
}

impl DateTime {
    /// The Unix epoch, `datetime("1970-01-01")`.
    pub const UNIX_EPOCH: Self = Self(0);

    /// Parses the argument of Cedar's `datetime(..)` constructor.
    ///
    /// # Errors
    ///
    /// [`ExtError::DateTimeFormat`] if Cedar would refuse `s`; the
    /// [`DateTimeIssue`] says why. (The arithmetic is checked too, but years
    /// 0000 to 9999 are far inside the 64-bit range, so
    /// [`ExtError::Overflow`] cannot occur here.)
    pub fn parse(s: &str) -> Result<Self, ExtError> {
        let format_err = |issue| ExtError::DateTimeFormat {
            input: s.to_owned(),
            issue,
        };
        let fields = match_datetime(s).map_err(format_err)?;

        let (year, month, day) = fields.ymd;
        let date = i32::try_from(year)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
            .ok_or_else(|| format_err(DateTimeIssue::InvalidDate(fields.date_text.to_owned())))?;
        let (hour, minute, second) = match fields.time {
            Some((text, hms @ (h, m, sec))) => {
                if h >= 24 || m >= 60 || sec >= 60 {
                    return Err(format_err(DateTimeIssue::InvalidHms(text.to_owned())));
                }
                hms
            }
            None => (0, 0, 0),
        };
        if let Some(o) = &fields.offset
            && (o.hours >= 24 || o.minutes >= 60)
        {
            return Err(format_err(DateTimeIssue::InvalidOffset {
                hours: o.hours,
                minutes: o.minutes,
            }));
        }

        let overflow = || ExtError::Overflow(ExtFunction::Datetime);
        let days = i64::from(date.num_days_from_ce())
            .checked_sub(UNIX_EPOCH_DAYS_FROM_CE)
            .ok_or_else(overflow)?;
        let local = [
            (days, MS_PER_DAY),
            (i64::from(hour), MS_PER_HOUR),
            (i64::from(minute), MS_PER_MINUTE),
            (i64::from(second), MS_PER_SECOND),
            (i64::from(fields.millis), 1),
        ]
        .into_iter()
        .try_fold(0_i64, |acc, (n, unit)| {
            acc.checked_add(n.checked_mul(unit)?)
        })
        .ok_or_else(overflow)?;
        let offset_ms = match fields.offset {
            Some(o) => {
                let magnitude = i64::from(o.hours)
                    .checked_mul(MS_PER_HOUR)
                    .and_then(|h| h.checked_add(i64::from(o.minutes).checked_mul(MS_PER_MINUTE)?))
                    .ok_or_else(overflow)?;
                if o.negative {
                    magnitude.checked_neg().ok_or_else(overflow)?
                } else {
                    magnitude
                }
            }
            None => 0,
        };
        local.checked_sub(offset_ms).map(Self).ok_or_else(overflow)
    }

    /// The datetime `millis` milliseconds after the Unix epoch.
    #[must_use]
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Cedar's `offset`: this datetime moved by `d`.
    ///
    /// # Errors
    ///
    /// [`ExtError::Overflow`] if the result is out of the 64-bit range.
    pub fn offset(self, d: Duration) -> Result<Self, ExtError> {
        self.0
            .checked_add(d.0)
            .map(Self)
            .ok_or(ExtError::Overflow(ExtFunction::Offset))
    }

    /// Cedar's `durationSince`: `self - other`.
    ///
    /// # Errors
    ///
    /// [`ExtError::Overflow`] if the result is out of the 64-bit range.
    pub fn duration_since(self, other: DateTime) -> Result<Duration, ExtError> {
        self.0
            .checked_sub(other.0)
            .map(Duration)
            .ok_or(ExtError::Overflow(ExtFunction::DurationSince))
    }

    /// Cedar's `toDate`: midnight UTC of this datetime's day, rounding down
    /// (toward the past) for datetimes before the epoch.
    ///
    /// # Errors
    ///
    /// [`ExtError::Overflow`] if that midnight is before the smallest datetime
    /// (only for datetimes in the first, partial day of the 64-bit range).
    pub fn to_date(self) -> Result<Self, ExtError> {
        self.0
            .checked_rem_euclid(MS_PER_DAY)
            .and_then(|since_midnight| self.0.checked_sub(since_midnight))
            .map(Self)
            .ok_or(ExtError::Overflow(ExtFunction::ToDate))
    }

    /// Cedar's `toTime`: the time elapsed since midnight UTC of this
    /// datetime's day, from 0 to one day minus 1 ms.
    #[must_use]
    pub fn to_time(self) -> Duration {
        Duration(self.0.rem_euclid(MS_PER_DAY))
    }
}

impl Duration {
    /// The duration of `millis` milliseconds.
    #[must_use]
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Parses the argument of Cedar's `duration(..)` constructor.
    ///
    /// # Errors
    ///
    /// [`ExtError::DurationFormat`] if `s` does not match the pattern,
    /// [`ExtError::DurationOverflow`] if it does but its total is out of the
    /// 64-bit range.
    pub fn parse(s: &str) -> Result<Self, ExtError> {
        let format_err = || ExtError::DurationFormat(s.to_owned());
        let overflow_err = || ExtError::DurationOverflow(s.to_owned());

        let (negative, mut rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s),
        };
        if rest.is_empty() {
            return Err(format_err());
        }
        // Units in their required order, `ms` tried before `m`.
        let mut previous_rank: Option<u8> = None;
        // `None` once the total exceeds `u128`; the pattern is still checked.
        let mut total: Option<u128> = Some(0);
        while !rest.is_empty() {
            let digit_count = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digit_count == 0 {
                return Err(format_err());
            }
            let (digits, after) = rest.split_at_checked(digit_count).ok_or_else(format_err)?;
            let (rank, unit_ms, after) = if let Some(a) = after.strip_prefix("ms") {
                (4, 1, a)
            } else if let Some(a) = after.strip_prefix('d') {
                (0, MS_PER_DAY, a)
            } else if let Some(a) = after.strip_prefix('h') {
                (1, MS_PER_HOUR, a)
            } else if let Some(a) = after.strip_prefix('m') {
                (2, MS_PER_MINUTE, a)
            } else if let Some(a) = after.strip_prefix('s') {
                (3, MS_PER_SECOND, a)
            } else {
                return Err(format_err());
            };
            if previous_rank.is_some_and(|p| rank <= p) {
                return Err(format_err());
            }
            previous_rank = Some(rank);
            total = total.and_then(|t| {
                let unit = u128::try_from(unit_ms).ok()?;
                t.checked_add(digits_value(digits)?.checked_mul(unit)?)
            });
            rest = after;
        }

        let magnitude = total
            .and_then(|t| i128::try_from(t).ok())
            .ok_or_else(overflow_err)?;
        let signed = if negative {
            magnitude.checked_neg().ok_or_else(overflow_err)?
        } else {
            magnitude
        };
        i64::try_from(signed).map(Self).map_err(|_| overflow_err())
    }

    /// The number of milliseconds.
    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Cedar's `toMilliseconds` (same as [`Self::millis`]).
    #[must_use]
    pub const fn to_milliseconds(self) -> i64 {
        self.0
    }

    /// Cedar's `toSeconds`: whole seconds, truncated toward zero.
    #[must_use]
    pub const fn to_seconds(self) -> i64 {
        self.0 / MS_PER_SECOND
    }

    /// Cedar's `toMinutes`: whole minutes, truncated toward zero.
    #[must_use]
    pub const fn to_minutes(self) -> i64 {
        self.0 / MS_PER_MINUTE
    }

    /// Cedar's `toHours`: whole hours, truncated toward zero.
    #[must_use]
    pub const fn to_hours(self) -> i64 {
        self.0 / MS_PER_HOUR
    }

    /// Cedar's `toDays`: whole days, truncated toward zero.
    #[must_use]
    pub const fn to_days(self) -> i64 {
        self.0 / MS_PER_DAY
    }
}

/// Cedar's textual form of a duration: the milliseconds and `ms`
/// (`duration("1h")` displays as `3600000ms`). The result is always accepted
/// by [`Duration::parse`].
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Matches `s` against Cedar's datetime patterns, without range checks.
fn match_datetime(s: &str) -> Result<DateTimeFields<'_>, DateTimeIssue> {
    let (date_text, rest) = s
        .split_at_checked(10)
        .filter(|(date, _)| fits(date, "DDDD-DD-DD"))
        .ok_or(DateTimeIssue::InvalidDatePattern)?;
    let ymd = (
        field(date_text, 0, 4)?,
        field(date_text, 5, 7)?,
        field(date_text, 8, 10)?,
    );
    if rest.is_empty() {
        return Ok(DateTimeFields {
            date_text,
            ymd,
            time: None,
            millis: 0,
            offset: None,
        });
    }

    let (t_hms, rest) = rest
        .split_at_checked(9)
        .filter(|(hms, _)| fits(hms, "TDD:DD:DD"))
        .ok_or(DateTimeIssue::InvalidHmsPattern)?;
    let hms_text = t_hms
        .strip_prefix('T')
        .ok_or(DateTimeIssue::InvalidHmsPattern)?;
    let hms = (
        field(hms_text, 0, 2)?,
        field(hms_text, 3, 5)?,
        field(hms_text, 6, 8)?,
    );

    let (millis, rest) = match rest.strip_prefix('.') {
        Some(after_point) => {
            let (ms_text, rest) = after_point
                .split_at_checked(3)
                .filter(|(ms, _)| fits(ms, "DDD"))
                .ok_or(DateTimeIssue::InvalidMsOffsetPattern)?;
            (field(ms_text, 0, 3)?, rest)
        }
        None => (0, rest),
    };
    let offset = if rest == "Z" {
        None
    } else {
        let (sign, digits) = rest
            .split_at_checked(1)
            .filter(|(sign, digits)| (*sign == "+" || *sign == "-") && fits(digits, "DDDD"))
            .ok_or(DateTimeIssue::InvalidMsOffsetPattern)?;
        Some(Offset {
            negative: sign == "-",
            hours: field(digits, 0, 2)?,
            minutes: field(digits, 2, 4)?,
        })
    };
    Ok(DateTimeFields {
        date_text,
        ymd,
        time: Some((hms_text, hms)),
        millis,
        offset,
    })
}

/// Whether `text` has `pattern`'s shape: `D` stands for an ASCII digit, any
/// other character for itself.
fn fits(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(t, p)| {
            if p == b'D' {
                t.is_ascii_digit()
            } else {
                t == p
            }
        })
}

/// The value of the ASCII digits `text[start..end]` (already pattern-checked).
fn field(text: &str, start: usize, end: usize) -> Result<u32, DateTimeIssue> {
    text.get(start..end)
        .and_then(|digits| u32::try_from(digits_value(digits)?).ok())
        .ok_or(DateTimeIssue::InvalidDatePattern)
}

/// The value of a non-empty run of ASCII digits, or `None` if it is empty,
/// has a non-digit, or exceeds `u128`.
fn digits_value(digits: &str) -> Option<u128> {
    if digits.is_empty() {
        return None;
    }
    digits.bytes().try_fold(0_u128, |acc, b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?
            .checked_add(u128::from(b.checked_sub(b'0')?))
    })
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    fn dt(s: &str) -> i64 {
        DateTime::parse(s).unwrap().millis()
    }

    fn dur(s: &str) -> i64 {
        Duration::parse(s).unwrap().millis()
    }

    fn dt_issue(s: &str) -> Option<DateTimeIssue> {
        match DateTime::parse(s) {
            Err(ExtError::DateTimeFormat { input, issue }) => {
                assert_eq!(input, s);
                Some(issue)
            }
            _ => None,
        }
    }

    /// A duration string `[-]<d>d<h>h<m>m<s>s<ms>ms` for `ms` milliseconds.
    fn duration_text(ms: i128) -> String {
        let sign = if ms < 0 { "-" } else { "" };
        let a = ms.abs();
        format!(
            "{sign}{}d{}h{}m{}s{}ms",
            a / 86_400_000,
            a / 3_600_000 % 24,
            a / 60_000 % 60,
            a / 1000 % 60,
            a % 1000
        )
    }

    #[test]
    fn parses_all_forms() {
        assert_eq!(dt("1970-01-01"), 0);
        assert_eq!(dt("1970-01-01T00:00:00Z"), 0);
        assert_eq!(dt("1970-01-01T00:00:00.000Z"), 0);
        assert_eq!(dt("1970-01-01T00:00:00+0000"), 0);
        assert_eq!(dt("1970-01-01T00:00:00-0000"), 0);
        assert_eq!(dt("1970-01-01T00:00:00.000-0000"), 0);
        assert_eq!(dt("1970-01-01T00:00:00.001Z"), 1);
        assert_eq!(dt("1970-01-02"), 86_400_000);
        assert_eq!(dt("1969-12-31"), -86_400_000);
        assert_eq!(dt("1969-12-31T23:59:59.999Z"), -1);
        // Cedar's own test vectors.
        assert_eq!(dt("2024-10-28"), 1_730_073_600_000);
        assert_eq!(dt("2024-10-28T01:22:33.456Z"), 1_730_078_553_456);
        assert_eq!(dt("2024-10-28T10:12:13.456-0700"), 1_730_135_533_456);
        assert_eq!(
            dt("2024-10-28T10:12:13.456-0700"),
            dt("2024-10-28T17:12:13.456Z")
        );
        assert_eq!(
            dt("2024-10-15T11:38:02.101+1134"),
            dt("2024-10-15T00:04:02.101Z")
        );
        assert_eq!(
            dt("2024-10-15T11:38:02.101-1134"),
            dt("2024-10-15T23:12:02.101Z")
        );
        assert_eq!(dt("2024-10-15T11:38:02+1134"), dt("2024-10-15T00:04:02Z"));
        assert_eq!(dt("2024-10-15T11:38:02-1134"), dt("2024-10-15T23:12:02Z"));
        assert_eq!(dt("2024-10-15T23:59:00+2359"), dt("2024-10-15"));
        assert_eq!(dt("2024-10-15T00:00:00-2359"), dt("2024-10-15T23:59:00Z"));
        // Offsets can move across the day, month and year.
        assert_eq!(dt("2024-01-01T00:00:00+0100"), dt("2023-12-31T23:00:00Z"));
        assert_eq!(dt("2023-12-31T23:30:00-0100"), dt("2024-01-01T00:30:00Z"));
    }

    #[test]
    fn year_range() {
        assert_eq!(dt("0000-01-01"), -62_167_219_200_000);
        assert_eq!(dt("9999-12-31T23:59:59.999Z"), 253_402_300_799_999);
        assert_eq!(
            dt("0000-01-01T00:00:00-2359"),
            -62_167_219_200_000 + 86_340_000
        );
        assert_eq!(
            dt("0000-01-01T00:00:00+2359"),
            -62_167_219_200_000 - 86_340_000
        );
        assert_eq!(
            dt("9999-12-31T23:59:59.999-2359"),
            253_402_300_799_999 + 86_340_000
        );
        assert_eq!(dt("0000-02-29"), dt("0000-03-01") - 86_400_000);
        assert_eq!(
            dt_issue("10000-01-01"),
            Some(DateTimeIssue::InvalidDatePattern)
        );
        assert_eq!(
            dt_issue("10000-01-01T00:00:00Z"),
            Some(DateTimeIssue::InvalidDatePattern)
        );
        assert_eq!(
            dt_issue("-001-01-01"),
            Some(DateTimeIssue::InvalidDatePattern)
        );
        assert_eq!(
            dt_issue("+2024-01-01"),
            Some(DateTimeIssue::InvalidDatePattern)
        );
    }

    #[test]
    fn calendar_matches_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        for year in (0..=9999)
            .step_by(7)
            .chain([0, 1, 4, 100, 400, 1900, 2000, 2024, 9999])
        {
            for month in 1..=13_u32 {
                for day in [0_u32, 1, 15, 28, 29, 30, 31, 32] {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    let expected = NaiveDate::from_ymd_opt(year, month, day)
                        .map(|d| d.signed_duration_since(epoch).num_milliseconds());
                    let got = DateTime::parse(&text).ok().map(DateTime::millis);
                    assert_eq!(got, expected, "{text}");
                    if expected.is_none() {
                        assert_eq!(
                            dt_issue(&text),
                            Some(DateTimeIssue::InvalidDate(text.clone()))
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_invalid_dates() {
        for s in [
            "2024-00-01",
            "2024-01-00",
            "2024-02-30",
            "2025-02-29",
            "1900-02-29",
            "2024-20-01",
            "2024-01-32",
            "2024-01-99",
            "2024-04-31",
            "2024-13-01",
        ] {
            assert_eq!(dt_issue(s), Some(DateTimeIssue::InvalidDate(s.to_owned())));
            let long = format!("{s}T00:00:00Z");
            assert_eq!(
                dt_issue(&long),
                Some(DateTimeIssue::InvalidDate(s.to_owned()))
            );
        }
        assert_eq!(dt("2024-02-29"), dt("2024-03-01") - 86_400_000);
        assert_eq!(dt("2000-02-29"), dt("2000-03-01") - 86_400_000);
    }

    #[test]
    fn rejects_bad_patterns() {
        for s in [
            "",
            "a",
            "-",
            "-1",
            "11-12-13",
            "1111-1x-20",
            "2024-1-01",
            "2024-01-1",
            "2024/01/01",
            "20240101",
            "２０２４-01-01",
            " 2024-01-01",
            "0000-0a-01",
        ] {
            assert_eq!(
                dt_issue(s),
                Some(DateTimeIssue::InvalidDatePattern),
                "{s:?}"
            );
        }
        for s in [
            "2024-10-15Z",
            "2024-01-01T",
            "2024-01-01Ta",
            "2024-01-01T01:",
            "2024-01-01T01:02",
            "2024-01-01T01:02:0b",
            "2024-01-01T01::02:03",
            "2024-01-01T01::02::03",
            "2024-01-01t00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T0:00:00Z",
            "2024-01-01T00:00:0Z",
            "2024-01-01é00:00:00Z",
            "2024-01-01x",
            "2024-01-01 ",
        ] {
            assert_eq!(dt_issue(s), Some(DateTimeIssue::InvalidHmsPattern), "{s:?}");
        }
        for s in [
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00T",
            "2024-01-01T00:00:00ZZ",
            "2024-10-15T11:38:02ZZ",
            "2024-01-01T00:00:00z",
            "2024-01-01T00:00:00x001Z",
            "2024-01-01T00:00:00.001ZZ",
            "2024-01-01T00:00:00➕0000",
            "2024-01-01T00:00:00➖0000",
            "2024-01-01T00:00:00.0001Z",
            "2024-01-01T00:00:00.01Z",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00.001",
            "2024-01-01T00:00:00.001➖0000",
            "2024-01-01T00:00:00.001+00000",
            "2024-01-01T00:00:00.001-00000",
            "2024-01-01T00:00:00+000",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T00:00:00+00",
            "2024-01-01T00:00:00.001Z+0000",
            "2024-01-01T00:00:00.é01Z",
            "2024-01-01T00:00:00+é000",
            "2024-01-01T00:00:00,001Z",
            "2024-01-01T00:00:00Z ",
            "2024-01-01T00:00:00Z\n",
        ] {
            assert_eq!(
                dt_issue(s),
                Some(DateTimeIssue::InvalidMsOffsetPattern),
                "{s:?}"
            );
        }
    }

    #[test]
    fn rejects_out_of_range_times_and_offsets() {
        let hms = |s: &str| Some(DateTimeIssue::InvalidHms(s.to_owned()));
        assert_eq!(dt_issue("2024-01-01T31:02:03Z"), hms("31:02:03"));
        assert_eq!(dt_issue("2024-01-01T24:00:00Z"), hms("24:00:00"));
        assert_eq!(dt_issue("2024-01-01T01:60:03Z"), hms("01:60:03"));
        // No leap seconds.
        assert_eq!(dt_issue("2016-12-31T23:59:60Z"), hms("23:59:60"));
        assert_eq!(dt_issue("2016-12-31T23:59:61Z"), hms("23:59:61"));
        assert_eq!(dt_issue("2016-12-31T23:59:60.000+0000"), hms("23:59:60"));
        let off = |hours, minutes| Some(DateTimeIssue::InvalidOffset { hours, minutes });
        assert_eq!(dt_issue("2016-12-31T00:00:00+1160"), off(11, 60));
        assert_eq!(dt_issue("2016-12-31T00:00:00+1199"), off(11, 99));
        assert_eq!(dt_issue("2016-12-31T00:00:00+2400"), off(24, 0));
        assert_eq!(dt_issue("2016-12-31T00:00:00.123-9999"), off(99, 99));
        assert_eq!(dt("2016-12-31T00:00:00+2359"), dt("2016-12-30T00:01:00Z"));
        // Order: patterns first, then date, time, offset.
        assert_eq!(
            dt_issue("2024-02-30T25:00:00"),
            Some(DateTimeIssue::InvalidMsOffsetPattern)
        );
        assert_eq!(
            dt_issue("2024-02-30T25:00:00+2400"),
            Some(DateTimeIssue::InvalidDate("2024-02-30".to_owned()))
        );
        assert_eq!(dt_issue("2024-02-01T25:00:00+2400"), hms("25:00:00"));
        assert_eq!(
            dt_issue("2024-02-30Tab"),
            Some(DateTimeIssue::InvalidHmsPattern)
        );
    }

    #[test]
    fn datetime_equality_and_order() {
        let a = DateTime::parse("2024-10-28T10:12:13.456-0700").unwrap();
        let b = DateTime::parse("2024-10-28T10:12:13.456Z").unwrap();
        let c = DateTime::parse("2024-10-28T17:12:13.456Z").unwrap();
        assert!(a > b);
        assert!(a >= b);
        assert_ne!(a, b);
        assert_eq!(a, c);
        assert!(DateTime::parse("1969-01-01").unwrap() < DateTime::UNIX_EPOCH);
        assert_eq!(DateTime::parse("1970-01-01").unwrap(), DateTime::UNIX_EPOCH);
    }

    #[test]
    fn offset() {
        let epoch = DateTime::UNIX_EPOCH;
        let day = Duration::parse("1d").unwrap();
        assert_eq!(
            epoch.offset(day).unwrap(),
            DateTime::parse("1970-01-02").unwrap()
        );
        assert_eq!(
            epoch.offset(Duration::parse("-1d").unwrap()).unwrap(),
            DateTime::parse("1969-12-31").unwrap()
        );
        let max = DateTime::from_millis(i64::MAX);
        let min = DateTime::from_millis(i64::MIN);
        assert_eq!(
            max.offset(Duration::from_millis(1)),
            Err(ExtError::Overflow(ExtFunction::Offset))
        );
        assert_eq!(
            min.offset(Duration::from_millis(-1)),
            Err(ExtError::Overflow(ExtFunction::Offset))
        );
        assert_eq!(
            max.offset(Duration::from_millis(-1)).unwrap().millis(),
            i64::MAX - 1
        );
        assert_eq!(
            min.offset(Duration::from_millis(1)).unwrap().millis(),
            i64::MIN + 1
        );
        assert_eq!(
            min.offset(Duration::from_millis(i64::MAX))
                .unwrap()
                .millis(),
            -1
        );
        assert_eq!(
            epoch.offset(Duration::parse(&duration_text(i64::MAX.into())).unwrap()),
            Ok(max)
        );
        assert_eq!(
            epoch.offset(Duration::parse(&duration_text(i64::MIN.into())).unwrap()),
            Ok(min)
        );
        assert_eq!(max.offset(Duration::from_millis(0)), Ok(max));
    }

    #[test]
    fn duration_since() {
        let today = DateTime::parse("2024-10-24").unwrap();
        let yesterday = DateTime::parse("2024-10-23").unwrap();
        assert_eq!(
            today.duration_since(yesterday),
            Ok(Duration::parse("1d").unwrap())
        );
        assert_eq!(
            yesterday.duration_since(today),
            Ok(Duration::parse("-1d").unwrap())
        );
        assert_eq!(today.duration_since(today), Ok(Duration::from_millis(0)));
        assert_eq!(
            DateTime::parse("2024-10-28T10:12:13.456-0700")
                .unwrap()
                .duration_since(DateTime::parse("2024-10-28T10:12:13.456Z").unwrap()),
            Ok(Duration::parse("7h").unwrap())
        );
        let min = DateTime::from_millis(i64::MIN);
        let max = DateTime::from_millis(i64::MAX);
        assert_eq!(
            today.duration_since(min),
            Err(ExtError::Overflow(ExtFunction::DurationSince))
        );
        assert_eq!(
            min.duration_since(today),
            Err(ExtError::Overflow(ExtFunction::DurationSince))
        );
        assert_eq!(
            max.duration_since(DateTime::from_millis(-1)),
            Err(ExtError::Overflow(ExtFunction::DurationSince))
        );
        assert_eq!(
            max.duration_since(DateTime::UNIX_EPOCH)
                .map(Duration::millis),
            Ok(i64::MAX)
        );
        assert_eq!(
            min.duration_since(DateTime::UNIX_EPOCH)
                .map(Duration::millis),
            Ok(i64::MIN)
        );
        assert_eq!(
            DateTime::from_millis(-1)
                .duration_since(max)
                .map(Duration::millis),
            Ok(i64::MIN)
        );
    }

    #[test]
    fn to_date() {
        let cases = [
            ("2024-10-28T10:12:13.456+0700", "2024-10-28"),
            ("2024-10-28T10:12:13.456-0700", "2024-10-28"),
            ("2024-10-28T03:00:00+0700", "2024-10-27"),
            ("2024-10-28T20:00:00-0700", "2024-10-29"),
            ("1970-01-01T00:00:00Z", "1970-01-01"),
            ("1969-12-31T23:59:59.999Z", "1969-12-31"),
            ("1969-12-31T00:00:00.001Z", "1969-12-31"),
            ("1969-12-31", "1969-12-31"),
            ("1900-01-01T12:00:00Z", "1900-01-01"),
            ("0000-01-01T00:00:00.001Z", "0000-01-01"),
        ];
        for (input, date) in cases {
            assert_eq!(
                DateTime::parse(input).unwrap().to_date(),
                Ok(DateTime::parse(date).unwrap()),
                "{input}"
            );
        }
        // Idempotent, and exact for midnights.
        for s in ["2024-10-28", "1969-01-01", "1900-01-01", "1970-01-01"] {
            let d = DateTime::parse(s).unwrap();
            assert_eq!(d.to_date(), Ok(d));
        }
        // The largest datetime's date is fine; the smallest's underflows.
        let max = DateTime::from_millis(i64::MAX);
        assert_eq!(
            max.to_date().map(DateTime::millis),
            Ok(i64::MAX - i64::MAX % 86_400_000)
        );
        let min = DateTime::from_millis(i64::MIN);
        assert_eq!(min.to_date(), Err(ExtError::Overflow(ExtFunction::ToDate)));
        // The first midnight at or after i64::MIN is its own date.
        let first_midnight = i64::MIN + (86_400_000 - i64::MIN.rem_euclid(86_400_000));
        let m = DateTime::from_millis(first_midnight);
        assert_eq!(m.to_date(), Ok(m));
        assert_eq!(
            DateTime::from_millis(first_midnight - 1).to_date(),
            Err(ExtError::Overflow(ExtFunction::ToDate))
        );
    }

    #[test]
    fn to_time() {
        assert_eq!(
            DateTime::parse("2024-10-28T10:12:13.456+0700")
                .unwrap()
                .to_time(),
            Duration::parse("3h12m13s456ms").unwrap()
        );
        assert_eq!(
            DateTime::parse("2024-10-28T10:12:13.456-0700")
                .unwrap()
                .to_time(),
            Duration::parse("17h12m13s456ms").unwrap()
        );
        assert_eq!(DateTime::UNIX_EPOCH.to_time(), Duration::from_millis(0));
        assert_eq!(
            DateTime::from_millis(-1).to_time(),
            Duration::parse("23h59m59s999ms").unwrap()
        );
        assert_eq!(
            DateTime::from_millis(-86_400_000).to_time(),
            Duration::from_millis(0)
        );
        assert_eq!(
            DateTime::from_millis(-86_400_001).to_time(),
            Duration::from_millis(86_399_999)
        );
        assert_eq!(
            DateTime::from_millis(i64::MIN).to_time().millis(),
            i64::MIN.rem_euclid(86_400_000)
        );
        assert_eq!(
            DateTime::from_millis(i64::MAX).to_time().millis(),
            i64::MAX % 86_400_000
        );
        // toDate + toTime recombine to the datetime.
        for ms in [
            i64::MAX,
            i64::MIN + 86_400_000,
            -1,
            0,
            1,
            -86_400_000,
            1_730_135_533_456,
            -62_167_219_200_001,
        ] {
            let d = DateTime::from_millis(ms);
            let t = d.to_time();
            assert!((0..86_400_000).contains(&t.millis()));
            assert_eq!(d.to_date().unwrap().offset(t), Ok(d));
        }
    }

    #[test]
    fn parses_durations() {
        assert_eq!(dur("1h"), 3_600_000);
        assert_eq!(dur("-10h"), -36_000_000);
        assert_eq!(dur("5d3ms"), 5 * 86_400_000 + 3);
        assert_eq!(dur("-3h5m"), -(3 * 3_600_000 + 5 * 60_000));
        assert_eq!(
            dur("1d2h3m4s5ms"),
            86_400_000 + 7_200_000 + 180_000 + 4_000 + 5
        );
        assert_eq!(
            dur("-1d2h3m4s5ms"),
            -(86_400_000 + 7_200_000 + 180_000 + 4_000 + 5)
        );
        assert_eq!(dur("0ms"), 0);
        assert_eq!(dur("-0ms"), 0);
        assert_eq!(dur("0d"), 0);
        assert_eq!(dur("1m"), 60_000);
        assert_eq!(dur("1ms"), 1);
        assert_eq!(dur("1m1ms"), 60_001);
        assert_eq!(dur("1s"), 1_000);
        assert_eq!(dur("1m1s"), 61_000);
        assert_eq!(dur("90m"), 5_400_000);
        assert_eq!(dur("25h"), 90_000_000);
        assert_eq!(dur("1000ms"), 1_000);
        assert_eq!(dur("007s"), 7_000);
        assert_eq!(dur("0000000000000000000000000000000000000000001ms"), 1);
        assert_eq!(dur("2h10ms"), 7_200_010);
        assert_eq!(dur("1d1s"), 86_401_000);
    }

    #[test]
    fn duration_range() {
        assert_eq!(dur("9223372036854775807ms"), i64::MAX);
        assert_eq!(dur("-9223372036854775808ms"), i64::MIN);
        assert_eq!(dur("-0s9223372036854775808ms"), i64::MIN);
        assert_eq!(dur(&duration_text(i64::MAX.into())), i64::MAX);
        assert_eq!(dur(&duration_text(i64::MIN.into())), i64::MIN);
        assert_eq!(dur("106751991167d"), 106_751_991_167 * 86_400_000);
        for s in [
            "9223372036854775808ms".to_owned(),
            "-9223372036854775809ms".to_owned(),
            "106751991168d".to_owned(),
            "-106751991168d".to_owned(),
            "1s9223372036854775807ms".to_owned(),
            "18446744073709551616ms".to_owned(),
            "99999999999999999999999999999999999999999999999999d".to_owned(),
            duration_text(i128::from(i64::MAX) + 1),
            duration_text(i128::from(i64::MIN) - 1),
        ] {
            assert_eq!(
                Duration::parse(&s),
                Err(ExtError::DurationOverflow(s.clone())),
                "{s}"
            );
        }
    }

    #[test]
    fn rejects_bad_durations() {
        for s in [
            "", "a", "-", "-1", "1", "➖1ms", "11dd", "00000mm", "-d", "-h", "-1hh", "-h2d", "-ms",
            "d", "ms", "1ms1s", "1ms1m", "1ms1h", "0ms1d", "1s1m", "1s1h", "0s0d", "0m0h", "0m0d",
            "1h1d", "1ms1m1d", "1d1d", "1h1h", "1m1m", "1s1s", "1ms1ms", "1d-1h", "+1d", "--1d",
            " 1d", "1d ", "1 d", "1D", "1H", "1M", "1S", "1MS", "1mS", "1w", "1y", "1us", "1ns",
            "1.5h", "1,5h", "-1d-", "1d2", "１d", "1 ms", "1m s", "1sm",
        ] {
            assert_eq!(
                Duration::parse(s),
                Err(ExtError::DurationFormat(s.to_owned())),
                "{s:?}"
            );
        }
        // The pattern is checked before the range.
        let s = "99999999999999999999999999999999999999999999999999dX";
        assert_eq!(
            Duration::parse(s),
            Err(ExtError::DurationFormat(s.to_owned()))
        );
    }

    #[test]
    fn duration_conversions() {
        let d = Duration::parse("10d23h59m58s999ms").unwrap();
        for o in [d, Duration::from_millis(-d.millis())] {
            assert_eq!(o.to_days().abs(), 10);
            assert_eq!(o.to_hours().abs(), 10 * 24 + 23);
            assert_eq!(o.to_minutes().abs(), (10 * 24 + 23) * 60 + 59);
            assert_eq!(o.to_seconds().abs(), ((10 * 24 + 23) * 60 + 59) * 60 + 58);
            assert_eq!(
                o.to_milliseconds().abs(),
                (((10 * 24 + 23) * 60 + 59) * 60 + 58) * 1000 + 999
            );
            assert_eq!(o.to_milliseconds(), o.millis());
        }
        // Truncation toward zero.
        let neg = Duration::parse("-1ms").unwrap();
        assert_eq!(neg.to_seconds(), 0);
        assert_eq!(neg.to_minutes(), 0);
        assert_eq!(neg.to_hours(), 0);
        assert_eq!(neg.to_days(), 0);
        let neg = Duration::parse("-1d23h").unwrap();
        assert_eq!(neg.to_days(), -1);
        assert_eq!(neg.to_hours(), -47);
        assert_eq!(Duration::parse("-59s999ms").unwrap().to_minutes(), 0);
        assert_eq!(Duration::parse("1999ms").unwrap().to_seconds(), 1);
        assert_eq!(Duration::parse("-1999ms").unwrap().to_seconds(), -1);
        // Extremes.
        let max = Duration::from_millis(i64::MAX);
        let min = Duration::from_millis(i64::MIN);
        assert_eq!(max.to_seconds(), i64::MAX / 1000);
        assert_eq!(min.to_seconds(), i64::MIN / 1000);
        assert_eq!(max.to_days(), 106_751_991_167);
        assert_eq!(min.to_days(), -106_751_991_167);
        assert_eq!(min.to_hours(), i64::MIN / 3_600_000);
        assert_eq!(min.to_minutes(), i64::MIN / 60_000);
        // Truncating step by step equals truncating once.
        for ms in [i64::MIN, -90_061_001, -1, 0, 1, 90_061_001, i64::MAX] {
            let d = Duration::from_millis(ms);
            assert_eq!(d.to_minutes(), d.to_seconds() / 60);
            assert_eq!(d.to_hours(), d.to_minutes() / 60);
            assert_eq!(d.to_days(), d.to_hours() / 24);
        }
    }

    #[test]
    fn duration_equality_order_display() {
        assert_eq!(
            Duration::parse("1h").unwrap(),
            Duration::parse("60m").unwrap()
        );
        assert_eq!(
            Duration::parse("1d").unwrap(),
            Duration::parse("24h").unwrap()
        );
        assert!(Duration::parse("-1ms").unwrap() < Duration::parse("0ms").unwrap());
        assert!(Duration::parse("1d").unwrap() > Duration::parse("23h59m59s999ms").unwrap());
        assert_eq!(Duration::parse("1h").unwrap().to_string(), "3600000ms");
        assert_eq!(Duration::parse("-1s").unwrap().to_string(), "-1000ms");
        for ms in [i64::MIN, -1, 0, 1, i64::MAX] {
            let d = Duration::from_millis(ms);
            assert_eq!(Duration::parse(&d.to_string()), Ok(d));
        }
    }
}
