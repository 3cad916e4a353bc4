//! Canonical JSON (sorted keys, no whitespace) and lowercase hex.

use serde_json::Value;

/// Deepest nesting of arrays and objects accepted inside one record.
///
/// `serde_json` refuses to parse documents nested more than 128 levels deep; an entry line adds
/// one level around the record, so records are capped well below that, which guarantees that
/// every line the writer produces can be read back by [`crate::verify`].
pub const MAX_RECORD_DEPTH: usize = 100;

/// The record was nested more deeply than [`MAX_RECORD_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep;

/// Appends the canonical form of `value` to `out`.
///
/// Object keys are sorted by their UTF-8 bytes (the same as Unicode code point order), recursively;
/// no whitespace; strings are escaped as `serde_json` escapes them; numbers are printed as
/// `serde_json` prints them.
pub(crate) fn write_canonical(out: &mut Vec<u8>, value: &Value) -> Result<(), TooDeep> {
    write_value(out, value, 0)
}

/// As [`write_canonical`], for a value nested `depth` levels inside a record.
pub(crate) fn write_value_at(
    out: &mut Vec<u8>,
    value: &Value,
    depth: usize,
) -> Result<(), TooDeep> {
    write_value(out, value, depth)
}

fn write_value(out: &mut Vec<u8>, value: &Value, depth: usize) -> Result<(), TooDeep> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => out.extend_from_slice(number.to_string().as_bytes()),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            if depth >= MAX_RECORD_DEPTH {
                return Err(TooDeep);
            }
            out.push(b'[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push(b',');
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if depth >= MAX_RECORD_DEPTH {
                return Err(TooDeep);
            }
            // Sort explicitly: `serde_json/preserve_order` may be enabled by feature unification.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
            out.push(b'{');
            for (idx, (key, item)) in entries.into_iter().enumerate() {
                if idx > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_value(out, item, depth + 1)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Appends `text` as a JSON string, escaped exactly as `serde_json` (and Python's
/// `json.dumps(..., ensure_ascii=False)`) escape it.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    out.reserve(text.len().saturating_add(2));
    out.push(b'"');
    let bytes = text.as_bytes();
    // Runs of bytes that need no escape are copied at once; they are found eight bytes at a
    // time.
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        if let Some(word) = bytes
            .get(index..index.saturating_add(8))
            .and_then(|chunk| <[u8; 8]>::try_from(chunk).ok())
            && !may_need_escape(u64::from_le_bytes(word))
        {
            index += 8;
            continue;
        }
        let byte = bytes.get(index).copied().unwrap_or_default();
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => {
                index += 1;
                continue;
            }
        };
        out.extend_from_slice(bytes.get(start..index).unwrap_or_default());
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        } else {
            out.extend_from_slice(escape);
        }
        index += 1;
        start = index;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    out.push(b'"');
}

/// Whether any of the eight bytes of `word` may be a control character, `"` or `\\` (never
/// false when one is; the classic "has a byte less than n" and "has a zero byte" bit tricks).
const fn may_need_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    let quote = word ^ (ONES * b'"' as u64);
    let quote = quote.wrapping_sub(ONES) & !quote & HIGHS;
    let backslash = word ^ (ONES * b'\\' as u64);
    let backslash = backslash.wrapping_sub(ONES) & !backslash & HIGHS;
    (control | quote | backslash) != 0
}

/// Appends the decimal form of `number`.
pub(crate) fn write_u64(out: &mut Vec<u8>, number: u64) {
    out.extend_from_slice(number.to_string().as_bytes());
}

fn hex_digit(nibble: u8) -> u8 {
    match nibble {
        0..=9 => b'0' + nibble,
        _ => b'a' + (nibble & 0x0f) - 10,
    }
}

/// Appends the lowercase hex form of `bytes`.
pub(crate) fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for &byte in bytes {
        out.push(hex_digit(byte >> 4));
        out.push(hex_digit(byte & 0x0f));
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&byte| {
            [
                char::from(hex_digit(byte >> 4)),
                char::from(hex_digit(byte & 0x0f)),
            ]
        })
        .collect()
}

fn hex_value(digit: u8, allow_upper: bool) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' if allow_upper => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Decodes exactly `N` bytes from hex; `allow_upper` also accepts `A-F`.
pub(crate) fn from_hex<const N: usize>(text: &str, allow_upper: bool) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let [high, low] = pair else { return None };
        *slot = (hex_value(*high, allow_upper)? << 4) | hex_value(*low, allow_upper)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "test code")]
    use super::*;

    /// Every ASCII byte, at every offset of strings of every length up to 24 (so at both ends of
    /// the eight-byte words), and multi-byte characters, escape exactly as serde_json escapes.
    #[test]
    fn strings_escape_as_serde_json_does() {
        let mut texts: Vec<String> = Vec::new();
        for len in 0..24 {
            for at in 0..len {
                for byte in 0u8..0x80 {
                    let mut t: Vec<u8> = vec![b'a'; len];
                    if let Some(slot) = t.get_mut(at) {
                        *slot = byte;
                    }
                    texts.push(String::from_utf8(t).unwrap());
                }
            }
        }
        texts.push("é ß 𝔘 😀 \u{202e}\u{2028}\"\\\u{7f}\u{1}".repeat(5));
        for text in texts {
            let mut out = Vec::new();
            write_string(&mut out, &text);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&text).unwrap(),
                "{text:?}"
            );
        }
    }
}
