//! Masking of sensitive fields before a record is appended.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::canonical::{to_hex, write_canonical};

/// How [`mask`] replaces a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// Replace with the string `"[redacted]"`.
    Redact,
    /// Replace with `"sha256:<hex>"`, the SHA-256 of the value's canonical JSON (as in the entry
    /// hash: sorted keys, no whitespace). Equal values stay correlatable across records; a
    /// low-entropy value (a short PIN, a name from a known list) can be recovered by guessing,
    /// so use `Redact` for those.
    Hash,
}

/// The replacement text of [`Mask::Redact`].
pub const REDACTED: &str = "[redacted]";

/// Replaces the values at dotted `paths` (such as `context.api_key`; a segment that is a
/// decimal number also indexes an array, as in `items.0.secret`) in `record` according to
/// `mode`, and returns how many values were replaced. Paths that do not exist are skipped.
///
/// A value nested too deeply to canonicalize (over [`crate::MAX_RECORD_DEPTH`] levels) is
/// redacted even in `Hash` mode.
pub fn mask(record: &mut Value, paths: &[&str], mode: Mask) -> usize {
    let mut replaced = 0;
    for path in paths {
        if let Some(target) = find_mut(record, path) {
            *target = Value::String(masked(target, mode));
            replaced += 1;
        }
    }
    replaced
}

fn find_mut<'a>(record: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut current = record;
    for segment in path.split('.') {
        current = match current {
            Value::Object(map) => map.get_mut(segment)?,
            Value::Array(items) => items.get_mut(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn masked(value: &Value, mode: Mask) -> String {
    match mode {
        Mask::Redact => REDACTED.to_owned(),
        Mask::Hash => {
            let mut canonical = Vec::new();
            if write_canonical(&mut canonical, value).is_err() {
                return REDACTED.to_owned();
            }
            format!("sha256:{}", to_hex(&Sha256::digest(&canonical)))
        }
    }
}
