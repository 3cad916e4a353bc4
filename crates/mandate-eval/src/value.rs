//! Runtime values: Cedar's Bool, Long, String, Set, Record, Entity and the extension values.
//!
//! Sets and records are ordered collections (`BTreeSet`, `BTreeMap`) so that equality is Cedar's
//! structural equality (sets unordered, records by key) and printing is deterministic.

pub use crate::ext::ExtValue;
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// An entity's identity: its type (with namespace) and id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid {
    /// Type name, e.g. `Platform::Agent`.
    pub ty: SmolStr,
    /// The id.
    pub id: SmolStr,
}

impl Uid {
    /// A uid from type and id.
    pub fn new(ty: impl Into<SmolStr>, id: impl Into<SmolStr>) -> Self {
        Uid {
            ty: ty.into(),
            id: id.into(),
        }
    }
    /// From the syntax tree's uid.
    pub fn from_ast(uid: &mandate_syntax::ast::EntityUid) -> Self {
        Uid {
            ty: uid.ty.full.clone(),
            id: uid.id.clone(),
        }
    }
}

/// A 64-bit key for a uid, used by the decision index. Collisions only add candidates, which the
/// full scope check then rejects, so they never change a decision.
pub fn uid_key(uid: &Uid) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    uid.ty.as_str().hash(&mut h);
    uid.id.as_str().hash(&mut h);
    h.finish()
}

/// A 64-bit key for an entity type name, used by the decision index.
pub fn type_key(ty: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    0xA5u8.hash(&mut h);
    ty.hash(&mut h);
    h.finish()
}

impl Uid {
    /// The uid as Cedar prints it (`Type::"id"`, the id escaped), as a `SmolStr`: without a
    /// formatter round trip and with at most one allocation (none for short uids).
    pub fn to_smol_str(&self) -> SmolStr {
        const MAX: usize = 128;
        let len = self.ty.len() + self.id.len() + 4;
        if needs_escape(&self.id) {
            return SmolStr::new(self.to_string());
        }
        if len <= MAX {
            let mut buf = [0u8; MAX];
            let mut at = 0;
            for part in [self.ty.as_bytes(), b"::\"", self.id.as_bytes(), b"\""] {
                if let Some(dst) = buf.get_mut(at..at + part.len()) {
                    dst.copy_from_slice(part);
                }
                at += part.len();
            }
            if let Some(Ok(text)) = buf.get(..len).map(std::str::from_utf8) {
                return SmolStr::new(text);
            }
        }
        SmolStr::new(self.to_string())
    }
}

/// Whether printing `id` needs escapes (see `mandate_syntax::ast::escape_str`).
fn needs_escape(id: &str) -> bool {
    if id
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        return false;
    }
    id.chars().any(|c| {
        matches!(c, '"' | '\\') || c.is_control() || mandate_syntax::ast::is_bidi_control(c)
    })
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ty)?;
        f.write_str("::\"")?;
        if needs_escape(&self.id) {
            f.write_str(&mandate_syntax::ast::escape_str(&self.id))?;
        } else {
            f.write_str(&self.id)?;
        }
        f.write_str("\"")
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer.
    Long(i64),
    /// A string.
    String(SmolStr),
    /// A set.
    Set(Arc<BTreeSet<Value>>),
    /// A record.
    Record(Arc<BTreeMap<SmolStr, Value>>),
    /// An entity reference.
    Entity(Arc<Uid>),
    /// An extension value.
    Ext(ExtValue),
}

impl Value {
    /// The type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Long(_) => "long",
            Value::String(_) => "string",
            Value::Set(_) => "set",
            Value::Record(_) => "record",
            Value::Entity(_) => "entity",
            Value::Ext(e) => e.ext_type().name(),
        }
    }
    /// An entity value.
    pub fn entity(uid: Uid) -> Value {
        Value::Entity(Arc::new(uid))
    }
    /// A set value.
    pub fn set(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Set(Arc::new(items.into_iter().collect()))
    }
    /// A record value.
    pub fn record(fields: impl IntoIterator<Item = (SmolStr, Value)>) -> Value {
        Value::Record(Arc::new(fields.into_iter().collect()))
    }
    /// An empty record.
    pub fn empty_record() -> Value {
        Value::Record(Arc::new(BTreeMap::new()))
    }

    /// Cedar's JSON form (entity references as `{"__entity": …}`, extension values as `{"__extn": …}`).
    pub fn to_json(&self) -> serde_json::Value {
        crate::stack::guarded(|| self.to_json_at())
    }

    fn to_json_at(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Value::Bool(b) => json!(b),
            Value::Long(n) => json!(n),
            Value::String(s) => json!(s.as_str()),
            Value::Set(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Record(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect(),
            ),
            Value::Entity(uid) => {
                json!({"__entity": {"type": uid.ty.as_str(), "id": uid.id.as_str()}})
            }
            Value::Ext(e) => {
                let (func, arg) = match e {
                    ExtValue::Decimal(d) => ("decimal", d.to_string()),
                    ExtValue::IpAddr(ip) => ("ip", ip.to_string()),
                    ExtValue::DateTime(d) => ("datetime", datetime_text(d.millis())),
                    ExtValue::Duration(d) => ("duration", d.to_string()),
                };
                json!({"__extn": {"fn": func, "arg": arg}})
            }
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guarded(|| self.fmt_at(f))
    }
}

impl Value {
    fn fmt_at(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Long(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "\"{}\"", mandate_syntax::ast::escape_str(s)),
            Value::Set(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Record(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "\"{}\": {v}", mandate_syntax::ast::escape_str(k))?;
                }
                f.write_str("}")
            }
            Value::Entity(uid) => write!(f, "{uid}"),
            Value::Ext(e) => match e {
                ExtValue::Decimal(d) => write!(f, "decimal(\"{d}\")"),
                ExtValue::IpAddr(ip) => write!(f, "ip(\"{ip}\")"),
                ExtValue::DateTime(d) => write!(f, "datetime(\"{}\")", datetime_text(d.millis())),
                ExtValue::Duration(d) => write!(f, "duration(\"{d}\")"),
            },
        }
    }
}

/// A datetime as text that `datetime(…)` accepts: `YYYY-MM-DDThh:mm:ss.SSSZ` within years 0 to 9999,
/// else Cedar's `1970-01-01` plus an offset in milliseconds.
pub fn datetime_text(millis: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(millis) {
        Some(t) if (0..=9999).contains(&chrono::Datelike::year(&t)) => {
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        }
        _ => format!("{millis}ms after 1970-01-01"),
    }
}

#[cfg(test)]
mod tests {
    use super::Uid;

    /// The allocation-saving rendering agrees with `Display` for short, long and escaped ids.
    #[test]
    fn to_smol_str_matches_display() {
        let long = "x".repeat(200);
        for (ty, id) in [
            ("Agent", "a1"),
            ("Platform::Agent", "research-bot-0001"),
            ("A", ""),
            ("Agent", "quote\"and\\backslash"),
            ("Agent", "tab\there"),
            ("Agent", "bidi\u{202E}x"),
            ("Agent", "ünïcödé"),
            ("Agent", long.as_str()),
            ("Very::Long::Namespace::Agent", "exactly-twenty-three-ch"),
        ] {
            let uid = Uid::new(ty, id);
            assert_eq!(uid.to_smol_str().as_str(), uid.to_string(), "{ty} {id}");
        }
    }
}
