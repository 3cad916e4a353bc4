//! The Cedar `ipaddr` extension type.
//!
//! An `ipaddr` is an IPv4 or IPv6 address with a prefix length: `ip("a")` has
//! the full prefix (32 or 128), `ip("a/n")` has prefix `n`. The address is kept
//! as written, host bits included: `ip("10.0.0.5/24")` and `ip("10.0.0.0/24")`
//! are different values, both describing the range `10.0.0.0`–`10.0.0.255`.
//! Equality compares address and prefix.
//!
//! Cedar's acceptance rules, reproduced here:
//! - at most 43 bytes in all (`ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128`);
//! - a string with two or more `:` and two or more `.` is refused, which
//!   rules out IPv4 embedded in IPv6 text (`::ffff:1.2.3.4`, `::1.2.3.4`); the
//!   same addresses written in hexadecimal (`::ffff:102:304`) are accepted and
//!   are IPv6;
//! - the address is parsed by Rust's standard library, as Cedar does: IPv4 must
//!   be four decimal octets without leading zeros (`01.2.3.4` is refused),
//!   IPv6 groups have at most four hexadecimal digits, no zone (`%eth0`), no
//!   brackets, no whitespace;
//! - the prefix after the first `/` is decimal digits without leading zeros
//!   (`0` itself is allowed), at most 2 characters and 32 for IPv4, at most 3
//!   characters and 128 for IPv6.
//!
//! IPv4 and IPv6 values never contain each other, and an IPv4-mapped IPv6
//! address is IPv6 (`ip("::ffff:7f00:1").isLoopback()` is false).

use std::fmt;
use std::net::{IpAddr as StdIpAddr, Ipv4Addr, Ipv6Addr};

use super::ExtError;

/// The longest string `ip(..)` accepts, in bytes.
const MAX_INPUT_LEN: usize = 43;
/// The full prefix length of an IPv4 address.
const V4_BITS: u8 = 32;
/// The full prefix length of an IPv6 address.
const V6_BITS: u8 = 128;
/// The longest IPv4 prefix text (`32`).
const V4_PREFIX_MAX_CHARS: usize = 2;
/// The longest IPv6 prefix text (`128`).
const V6_PREFIX_MAX_CHARS: usize = 3;

/// Why a string is not accepted by `ip(..)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum IpAddrIssue {
    /// More than 43 bytes.
    #[error("string length is too large")]
    TooLong,
    /// IPv4 embedded in IPv6 notation (two or more `:` and two or more `.`).
    #[error("IPv4 embedded in IPv6 (e.g., `::ffff:127.0.0.1`) is not accepted")]
    EmbeddedIpv4,
    /// The address part is not an IPv4 or IPv6 address.
    #[error("invalid IP address syntax")]
    InvalidAddress,
    /// The prefix has more characters than the address family allows.
    #[error("prefix `{0}` is too long")]
    PrefixTooLong(String),
    /// The prefix is empty or contains a non-digit.
    #[error("prefix `{0}` is not a decimal number")]
    PrefixNotDigits(String),
    /// The prefix has a leading zero.
    #[error("prefix `{0}` has leading zero(s)")]
    PrefixLeadingZero(String),
    /// The prefix exceeds 32 (IPv4) or 128 (IPv6).
    #[error("prefix {prefix} is larger than the limit {max}")]
    PrefixTooLarge {
        /// The prefix given.
        prefix: u16,
        /// The largest prefix allowed for the address family.
        max: u8,
    },
}

/// A Cedar `ipaddr` value: an IP address and a prefix length.
///
/// The derived order (IPv4 before IPv6, then by address, then by prefix) is
/// the one Cedar uses internally; Cedar offers no comparison operators on
/// `ipaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpAddr {
    /// The address as written, host bits included.
    addr: StdIpAddr,
    /// The prefix length; at most 32 for IPv4 and 128 for IPv6.
    prefix: u8,
}

impl IpAddr {
    /// Parses the argument of Cedar's `ip(..)` constructor.
    ///
    /// # Errors
    ///
    /// [`ExtError::IpAddrFormat`] if Cedar would refuse `s`; the
    /// [`IpAddrIssue`] says why, checked in Cedar's order.
    pub fn parse(s: &str) -> Result<Self, ExtError> {
        Self::parse_inner(s).map_err(|issue| ExtError::IpAddrFormat {
            input: s.to_owned(),
            issue,
        })
    }

    /// [`Self::parse`] without the input in the error.
    fn parse_inner(s: &str) -> Result<Self, IpAddrIssue> {
        if s.len() > MAX_INPUT_LEN {
            return Err(IpAddrIssue::TooLong);
        }
        if s.matches(':').nth(1).is_some() && s.matches('.').nth(1).is_some() {
            return Err(IpAddrIssue::EmbeddedIpv4);
        }
        match s.split_once('/') {
            Some((addr_text, prefix_text)) => {
                let addr: StdIpAddr = addr_text.parse().map_err(|_| IpAddrIssue::InvalidAddress)?;
                let prefix = match addr {
                    StdIpAddr::V4(_) => parse_prefix(prefix_text, V4_BITS, V4_PREFIX_MAX_CHARS)?,
                    StdIpAddr::V6(_) => parse_prefix(prefix_text, V6_BITS, V6_PREFIX_MAX_CHARS)?,
                };
                Ok(Self { addr, prefix })
            }
            None => {
                let addr: StdIpAddr = s.parse().map_err(|_| IpAddrIssue::InvalidAddress)?;
                Ok(Self {
                    addr,
                    prefix: full_prefix(addr),
                })
            }
        }
    }

    /// The value with this address and prefix, or `None` if the prefix exceeds
    /// 32 (IPv4) or 128 (IPv6).
    #[must_use]
    pub fn from_parts(addr: StdIpAddr, prefix: u8) -> Option<Self> {
        (prefix <= full_prefix(addr)).then_some(Self { addr, prefix })
    }

    /// The address, host bits included.
    #[must_use]
    pub const fn addr(&self) -> StdIpAddr {
        self.addr
    }

    /// The prefix length (32 or 128 for a single address).
    #[must_use]
    pub const fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Cedar's `isIpv4`.
    #[must_use]
    pub const fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// Cedar's `isIpv6`.
    #[must_use]
    pub const fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }

    /// Cedar's `isLoopback`: the whole range lies in `127.0.0.0/8` (IPv4) or
    /// is exactly `::1/128` (IPv6).
    #[must_use]
    pub fn is_loopback(&self) -> bool {
        match self.addr {
            StdIpAddr::V4(a) => a.is_loopback() && self.prefix >= 8,
            StdIpAddr::V6(a) => a.is_loopback() && self.prefix >= V6_BITS,
        }
    }

    /// Cedar's `isMulticast`: the whole range lies in `224.0.0.0/4` (IPv4) or
    /// `ff00::/8` (IPv6).
    #[must_use]
    pub fn is_multicast(&self) -> bool {
        match self.addr {
            StdIpAddr::V4(a) => a.is_multicast() && self.prefix >= 4,
            StdIpAddr::V6(a) => a.is_multicast() && self.prefix >= 8,
        }
    }

    /// Cedar's `isInRange`: whether every address of `self`'s range lies in
    /// `range`'s range. Always false between IPv4 and IPv6.
    #[must_use]
    pub fn is_in_range(&self, range: &IpAddr) -> bool {
        let (inner, outer) = match (self.addr, range.addr) {
            (StdIpAddr::V4(a), StdIpAddr::V4(b)) => (
                bounds(u128::from(u32::from(a)), self.prefix, V4_BITS),
                bounds(u128::from(u32::from(b)), range.prefix, V4_BITS),
            ),
            (StdIpAddr::V6(a), StdIpAddr::V6(b)) => (
                bounds(u128::from(a), self.prefix, V6_BITS),
                bounds(u128::from(b), range.prefix, V6_BITS),
            ),
            _ => return false,
        };
        let ((inner_first, inner_last), (outer_first, outer_last)) = (inner, outer);
        outer_first <= inner_first && inner_last <= outer_last
    }
}

impl From<Ipv4Addr> for IpAddr {
    fn from(a: Ipv4Addr) -> Self {
        Self {
            addr: StdIpAddr::V4(a),
            prefix: V4_BITS,
        }
    }
}

impl From<Ipv6Addr> for IpAddr {
    fn from(a: Ipv6Addr) -> Self {
        Self {
            addr: StdIpAddr::V6(a),
            prefix: V6_BITS,
        }
    }
}

/// The prefix length of a single address of `addr`'s family.
const fn full_prefix(addr: StdIpAddr) -> u8 {
    match addr {
        StdIpAddr::V4(_) => V4_BITS,
        StdIpAddr::V6(_) => V6_BITS,
    }
}

/// The first and last address of the range `value/prefix` in a `bits`-bit
/// address space.
fn bounds(value: u128, prefix: u8, bits: u8) -> (u128, u128) {
    let host_bits = u32::from(bits.saturating_sub(prefix));
    let host_mask = 1_u128
        .checked_shl(host_bits)
        .map_or(u128::MAX, |block| block.wrapping_sub(1));
    (value & !host_mask, value | host_mask)
}

/// Parses a CIDR prefix as Cedar does.
fn parse_prefix(text: &str, max: u8, max_chars: usize) -> Result<u8, IpAddrIssue> {
    if text.len() > max_chars {
        return Err(IpAddrIssue::PrefixTooLong(text.to_owned()));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IpAddrIssue::PrefixNotDigits(text.to_owned()));
    }
    if text.starts_with('0') && text != "0" {
        return Err(IpAddrIssue::PrefixLeadingZero(text.to_owned()));
    }
    // At most three ASCII digits: the value fits a u16.
    let value = text.bytes().try_fold(0_u16, |acc, b| {
        acc.checked_mul(10)?
            .checked_add(u16::from(b.checked_sub(b'0')?))
    });
    let prefix = value.ok_or_else(|| IpAddrIssue::PrefixNotDigits(text.to_owned()))?;
    u8::try_from(prefix)
        .ok()
        .filter(|p| *p <= max)
        .ok_or(IpAddrIssue::PrefixTooLarge { prefix, max })
}

/// Cedar's textual form: the address as Rust's standard library writes it
/// (IPv6 compressed per RFC 5952, lowercase), `/`, and the prefix, which is
/// always present (`ip("10.0.0.1")` displays as `10.0.0.1/32`).
///
/// Like Cedar, an IPv4-mapped IPv6 address displays in mixed notation
/// (`::ffff:255.0.0.1/128`), which `ip(..)` itself refuses.
impl fmt::Display for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        IpAddr::parse(s).unwrap()
    }

    fn issue(s: &str) -> Option<IpAddrIssue> {
        match IpAddr::parse(s) {
            Err(ExtError::IpAddrFormat { input, issue }) => {
                assert_eq!(input, s);
                Some(issue)
            }
            _ => None,
        }
    }

    #[test]
    fn parses_single_addresses() {
        let a = ip("127.0.0.1");
        assert!(a.is_ipv4());
        assert!(!a.is_ipv6());
        assert_eq!(a.prefix(), 32);
        assert_eq!(a.addr(), StdIpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        let b = ip("::1");
        assert!(b.is_ipv6());
        assert!(!b.is_ipv4());
        assert_eq!(b.prefix(), 128);
        for s in [
            "0.0.0.0",
            "255.255.255.255",
            "192.168.1.100",
            "::",
            "::ffff:ff00:1",
            "ffee::",
            "FFEE::1",
            "0001:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "ABCD:EF01:2345:6789:ABCD:EF01:2345:6789",
        ] {
            assert!(IpAddr::parse(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn parses_ranges() {
        let r = ip("10.50.0.0/24");
        assert_eq!(r.prefix(), 24);
        assert_eq!(ip("1:2:3:4::/48").prefix(), 48);
        assert_eq!(ip("0.0.0.0/0").prefix(), 0);
        assert_eq!(ip("::/0").prefix(), 0);
        assert_eq!(ip("1.2.3.4/32").prefix(), 32);
        assert_eq!(ip("::1/128").prefix(), 128);
        assert_eq!(ip("::1/99").prefix(), 99);
        assert_eq!(
            ip("ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128").prefix(),
            128
        );
        // Host bits are kept.
        assert_eq!(
            ip("10.0.0.5/24").addr(),
            StdIpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))
        );
    }

    #[test]
    fn rejects_bad_addresses() {
        for s in [
            "",
            "/",
            "/24",
            "1.2.3",
            "1.2.3.4.5",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3.04",
            "1.2.3.4 ",
            " 1.2.3.4",
            "１.2.3.4",
            "1.2.3.-4",
            "1::2::3",
            "00001::",
            "fe80::1%eth0",
            "[::1]",
            ":::",
            "localhost",
            "1.2.3.4:80",
            "0x7f.0.0.1",
        ] {
            assert!(
                matches!(issue(s), Some(IpAddrIssue::InvalidAddress)),
                "{s:?}: {:?}",
                issue(s)
            );
        }
    }

    #[test]
    fn rejects_embedded_ipv4() {
        for s in [
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "::ffff:192.168.0.1/128",
            "64:ff9b::1.2.3.4",
            // Any two colons and two dots, even if otherwise invalid.
            "1.2.3.4::",
            "a:b:c.d.",
        ] {
            assert_eq!(issue(s), Some(IpAddrIssue::EmbeddedIpv4), "{s}");
        }
        // One colon or one dot is not caught by that rule.
        assert_eq!(issue("1.2.3.4:5"), Some(IpAddrIssue::InvalidAddress));
        assert_eq!(issue("::1.2"), Some(IpAddrIssue::InvalidAddress));
    }

    #[test]
    fn rejects_too_long() {
        // 44 bytes.
        let s = "ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/0128";
        assert_eq!(s.len(), 44);
        assert_eq!(issue(s), Some(IpAddrIssue::TooLong));
        // Length is counted in bytes.
        let s = "é".repeat(22);
        assert_eq!(issue(&s), Some(IpAddrIssue::TooLong));
        // The length check comes first.
        let s = format!("::ffff:1.2.3.4/{}", "1".repeat(40));
        assert_eq!(issue(&s), Some(IpAddrIssue::TooLong));
    }

    #[test]
    fn rejects_bad_prefixes() {
        assert_eq!(
            issue("1.2.3.4/33"),
            Some(IpAddrIssue::PrefixTooLarge {
                prefix: 33,
                max: 32
            })
        );
        assert_eq!(
            issue("1.2.3.4/99"),
            Some(IpAddrIssue::PrefixTooLarge {
                prefix: 99,
                max: 32
            })
        );
        assert_eq!(
            issue("::/129"),
            Some(IpAddrIssue::PrefixTooLarge {
                prefix: 129,
                max: 128
            })
        );
        assert_eq!(
            issue("::/255"),
            Some(IpAddrIssue::PrefixTooLarge {
                prefix: 255,
                max: 128
            })
        );
        assert_eq!(
            issue("::/256"),
            Some(IpAddrIssue::PrefixTooLarge {
                prefix: 256,
                max: 128
            })
        );
        assert_eq!(
            issue("::/999"),
            Some(IpAddrIssue::PrefixTooLarge {
                prefix: 999,
                max: 128
            })
        );
        assert!(matches!(
            issue("1.2.3.4/100"),
            Some(IpAddrIssue::PrefixTooLong(_))
        ));
        assert!(matches!(
            issue("1.2.3.4/032"),
            Some(IpAddrIssue::PrefixTooLong(_))
        ));
        assert!(matches!(
            issue("::/0128"),
            Some(IpAddrIssue::PrefixTooLong(_))
        ));
        assert!(matches!(
            issue("1.2.3.4/08"),
            Some(IpAddrIssue::PrefixLeadingZero(_))
        ));
        assert!(matches!(
            issue("1.2.3.4/00"),
            Some(IpAddrIssue::PrefixLeadingZero(_))
        ));
        assert!(matches!(
            issue("::/064"),
            Some(IpAddrIssue::PrefixLeadingZero(_))
        ));
        for s in [
            "1.2.3.4/",
            "1.2.3.4/+8",
            "1.2.3.4/-8",
            "1.2.3.4/ 8",
            "::/1a",
            "::/1/2",
            "1.2.3.4/8/",
        ] {
            assert!(
                matches!(issue(s), Some(IpAddrIssue::PrefixNotDigits(_))),
                "{s}: {:?}",
                issue(s)
            );
        }
        // A non-ASCII prefix: its byte length is over the limit.
        assert!(matches!(
            issue("1.2.3.4/８"),
            Some(IpAddrIssue::PrefixTooLong(_))
        ));
        // The address is checked before the prefix.
        assert_eq!(issue("1.2.3/99"), Some(IpAddrIssue::InvalidAddress));
        assert_eq!(issue("/32"), Some(IpAddrIssue::InvalidAddress));
    }

    #[test]
    fn equality_compares_address_and_prefix() {
        assert_eq!(ip("10.0.0.1"), ip("10.0.0.1/32"));
        assert_eq!(ip("::1"), ip("0:0:0:0:0:0:0:1/128"));
        assert_eq!(ip("FFEE::"), ip("ffee::"));
        assert_ne!(ip("10.0.0.5/24"), ip("10.0.0.0/24"));
        assert_ne!(ip("10.0.0.0/24"), ip("10.0.0.0/25"));
        assert_ne!(ip("::ffff:7f00:1"), ip("127.0.0.1"));
        assert_ne!(ip("0.0.0.0/0"), ip("::/0"));
        assert!(ip("255.255.255.255") < ip("::"));
    }

    #[test]
    fn loopback() {
        assert!(ip("127.0.0.1").is_loopback());
        assert!(ip("127.255.255.255").is_loopback());
        assert!(ip("127.0.0.0/8").is_loopback());
        assert!(ip("127.1.2.3/16").is_loopback());
        assert!(!ip("127.0.0.0/7").is_loopback());
        assert!(!ip("127.0.0.1/0").is_loopback());
        assert!(!ip("128.0.0.1").is_loopback());
        assert!(!ip("126.255.255.255").is_loopback());
        assert!(ip("::1").is_loopback());
        assert!(ip("::1/128").is_loopback());
        assert!(!ip("::1/127").is_loopback());
        assert!(!ip("::/128").is_loopback());
        assert!(!ip("::2").is_loopback());
        // IPv4-mapped loopback is IPv6, and not loopback.
        assert!(!ip("::ffff:7f00:1").is_loopback());
        assert!(!ip("::ffff:ff00:1").is_loopback());
    }

    #[test]
    fn multicast() {
        assert!(ip("224.0.0.1").is_multicast());
        assert!(ip("239.255.255.255").is_multicast());
        assert!(ip("224.0.0.0/4").is_multicast());
        assert!(ip("230.0.0.0/8").is_multicast());
        assert!(!ip("224.0.0.0/3").is_multicast());
        assert!(!ip("240.0.0.1").is_multicast());
        assert!(!ip("223.255.255.255").is_multicast());
        assert!(ip("ff00::").is_multicast());
        assert!(ip("ff02::1").is_multicast());
        assert!(ip("ff00::/8").is_multicast());
        assert!(ip("ffff::/16").is_multicast());
        assert!(!ip("ff00::/7").is_multicast());
        assert!(!ip("fe00::").is_multicast());
        assert!(!ip("::ffff:e000:1").is_multicast());
        assert!(!ip("127.0.0.1").is_multicast());
    }

    #[test]
    fn in_range_ipv4() {
        let r = ip("192.168.0.0/24");
        assert!(ip("192.168.0.1").is_in_range(&r));
        assert!(ip("192.168.0.0").is_in_range(&r));
        assert!(ip("192.168.0.255").is_in_range(&r));
        assert!(!ip("192.168.1.0").is_in_range(&r));
        assert!(!ip("192.167.255.255").is_in_range(&r));
        // Subranges and equal ranges.
        assert!(ip("192.168.0.128/25").is_in_range(&r));
        assert!(r.is_in_range(&r));
        assert!(!ip("192.168.0.0/23").is_in_range(&r));
        assert!(r.is_in_range(&ip("192.168.0.0/23")));
        // Host bits are ignored when computing the range.
        assert!(ip("192.168.0.7/24").is_in_range(&ip("192.168.0.200/24")));
        assert!(ip("192.168.0.1").is_in_range(&ip("192.168.0.99/24")));
        // Whole space and single addresses.
        assert!(ip("1.2.3.4").is_in_range(&ip("0.0.0.0/0")));
        assert!(ip("0.0.0.0/0").is_in_range(&ip("255.255.255.255/0")));
        assert!(ip("1.2.3.4").is_in_range(&ip("1.2.3.4")));
        assert!(!ip("1.2.3.4").is_in_range(&ip("1.2.3.5")));
        assert!(ip("255.255.255.255").is_in_range(&ip("255.255.255.254/31")));
        assert!(!ip("0.0.0.0/1").is_in_range(&ip("0.0.0.0/2")));
        assert!(ip("10.0.0.1").is_in_range(&ip("10.0.0.0/8")));
        assert!(!ip("11.0.0.1").is_in_range(&ip("10.0.0.0/8")));
    }

    #[test]
    fn in_range_ipv6() {
        let r = ip("1:2:3:4::/48");
        assert!(ip("1:2:3:ffff::1").is_in_range(&r));
        assert!(!ip("1:2:4::").is_in_range(&r));
        assert!(ip("::1").is_in_range(&ip("::/0")));
        assert!(ip("::/0").is_in_range(&ip("ffff::/0")));
        assert!(ip("::1").is_in_range(&ip("::1")));
        assert!(ip("::1").is_in_range(&ip("::/127")));
        assert!(!ip("::2").is_in_range(&ip("::/127")));
        assert!(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").is_in_range(&ip("ff00::/8")));
        assert!(!ip("ff00::/7").is_in_range(&ip("ff00::/8")));
        assert!(ip("::ffff:7f00:1").is_in_range(&ip("::ffff:0:0/96")));
    }

    #[test]
    fn in_range_never_mixes_families() {
        assert!(!ip("127.0.0.1").is_in_range(&ip("::/0")));
        assert!(!ip("::1").is_in_range(&ip("0.0.0.0/0")));
        assert!(!ip("::ffff:7f00:1").is_in_range(&ip("127.0.0.0/8")));
        assert!(!ip("127.0.0.1").is_in_range(&ip("::ffff:7f00:0/104")));
    }

    #[test]
    fn display() {
        let cases = [
            ("10.0.0.1", "10.0.0.1/32"),
            ("10.0.0.5/24", "10.0.0.5/24"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::1", "::1/128"),
            ("0:0:0:0:0:0:0:1", "::1/128"),
            ("FFEE::/64", "ffee::/64"),
            ("0001:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8/128"),
            ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0/128"),
            ("1:0:0:2::3", "1:0:0:2::3/128"),
            // Mixed notation, as Cedar (via std) shows it.
            ("::ffff:ff00:1", "::ffff:255.0.0.1/128"),
        ];
        for (input, shown) in cases {
            assert_eq!(ip(input).to_string(), shown, "{input}");
        }
        // Display re-parses, except for IPv4-mapped IPv6.
        for (input, _) in cases {
            let shown = ip(input).to_string();
            if input != "::ffff:ff00:1" {
                assert_eq!(ip(&shown), ip(input));
            }
        }
    }

    #[test]
    fn constructors() {
        let a = IpAddr::from(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(a, ip("10.0.0.1"));
        let b = IpAddr::from(Ipv6Addr::LOCALHOST);
        assert_eq!(b, ip("::1"));
        assert_eq!(
            IpAddr::from_parts(StdIpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8),
            Some(ip("10.0.0.0/8"))
        );
        assert_eq!(
            IpAddr::from_parts(StdIpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 33),
            None
        );
        assert_eq!(
            IpAddr::from_parts(StdIpAddr::V6(Ipv6Addr::UNSPECIFIED), 128),
            Some(ip("::"))
        );
        assert_eq!(
            IpAddr::from_parts(StdIpAddr::V6(Ipv6Addr::UNSPECIFIED), 129),
            None
        );
    }

    #[test]
    fn bounds_helper() {
        assert_eq!(bounds(0x0a00_0005, 24, 32), (0x0a00_0000, 0x0a00_00ff));
        assert_eq!(bounds(5, 0, 32), (0, 0xffff_ffff));
        assert_eq!(bounds(5, 32, 32), (5, 5));
        assert_eq!(bounds(5, 0, 128), (0, u128::MAX));
        assert_eq!(bounds(5, 128, 128), (5, 5));
        assert_eq!(bounds(u128::MAX, 1, 128), (1 << 127, u128::MAX));
    }
}
