//! Helpers shared by the targets (each target includes this file with `mod common;`).

#![allow(dead_code, reason = "each target uses a different subset")]

use std::borrow::Cow;

/// Separates the parts of a multi-part input (policies, entities, request, ...). A NUL byte never
/// occurs in valid policy text or JSON, so a seed is its parts joined by it (`fuzz/smoke.sh`
/// builds them so).
pub const SEP: u8 = 0;

/// Splits `data` on [`SEP`] into exactly `N` parts (the last one keeps any further separators;
/// missing parts are empty), each decoded as UTF-8, lossily.
pub fn split<const N: usize>(data: &[u8]) -> [Cow<'_, str>; N] {
    let mut pieces = data.splitn(N, |&b| b == SEP);
    std::array::from_fn(|_| String::from_utf8_lossy(pieces.next().unwrap_or_default()))
}

/// Whether a schema text is in the JSON format (as `mandate` decides from its content when the
/// file name does not say).
pub fn looks_like_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}
