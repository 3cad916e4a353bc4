//! [`Limits`]: every size and count limit of the engine in one public type, with documented
//! defaults.
//!
//! Each limit is checked before work proportional to the input is done (the source and request
//! sizes before parsing, the entity count before any entity is read, the ancestors while the
//! closure is computed), and each violation is an error diagnostic whose message names the limit
//! (`max_…`) and the observed value, with a location where there is one (a span in a policy
//! file, a JSON path in entity or request JSON). `docs/security.md` lists them with their reasons.
//!
//! Set them with `EngineBuilder::limits` (or `EngineOptions::limits`); the CLI takes
//! `--limit NAME=VALUE` ([`Limits::set_str`]), the Python package a `limits` dict
//! ([`Limits::set`]), the C library `limits_json` ([`Limits::apply_json`]).

use mandate_eval::entities::JsonLimits;
use mandate_syntax::ParseLimits;

/// The engine's limits. `Limits::default()` holds the documented defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// Largest policy or schema source (one file or text), in bytes. Default 16 MiB: ten
    /// thousand typical policies take about 3 MiB; bounds lexing and parsing.
    pub max_source_bytes: usize,
    /// Most lines in one policy or schema source. Default 1,000,000: far above any hand-written
    /// or generated file that fits the byte limit in sensible lines; bounds line tables.
    pub max_source_lines: usize,
    /// Deepest expression nesting in a policy. Default 128: hand-written policies rarely pass
    /// 10, and every recursive pass is safe well beyond it on a 256 KiB stack.
    pub max_nesting_depth: usize,
    /// Most policies (templates linked included) in a policy set. Default 1,000,000: bounds the
    /// decision index and the load time.
    pub max_policies: usize,
    /// Longest string, in bytes: string literals and entity ids in policies, strings, keys and
    /// ids in entity and request JSON. Default 4 MiB: a one-megabyte identifier passes with room
    /// to spare; bounds every copy and comparison of one value.
    pub max_string_bytes: usize,
    /// Most elements of one set: set literals in policies, arrays in entity and request JSON
    /// (an entity's `parents` included). Default 100,000: larger collections belong in the entity
    /// hierarchy; bounds set construction and comparison.
    pub max_set_elements: usize,
    /// Most entities in the entity data (the entity file or text). Default 1,000,000: bounds
    /// the memory of the entity store and the closure computation.
    pub max_entities: usize,
    /// Most ancestors of one entity after the transitive closure (its direct parents are
    /// checked first). Default 10,000: real hierarchies (teams, folders, roles) have tens; the
    /// closure's memory is at most entities × this, and its computation stops once exceeded.
    pub max_ancestors: usize,
    /// Largest request JSON text, in bytes. Default 8 MiB: a request with a few
    /// megabyte-long values passes; bounds parsing a request.
    pub max_request_bytes: usize,
    /// Longest `on_behalf_of` chain. Default 4: bounds the per-link lifecycle and policy
    /// checks of a decision; delegation deeper than this is rarely intended.
    pub max_delegation_depth: usize,
    /// Longest audit record, in bytes of its canonical JSON (the `record` of its log line), in
    /// the audit logs the engine, the CLI and the C library open. Default, and most, 16 MiB less
    /// 186 bytes (so every line fits the 16 MiB the verifier reads): a request at
    /// `max_request_bytes` fits with room for the rest of the record. A decision whose record would be longer is denied with an
    /// `audit` error (unless audit failures are set to allow).
    pub max_audit_record_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_bytes: 16 * 1024 * 1024,
            max_source_lines: 1_000_000,
            max_nesting_depth: 128,
            max_policies: 1_000_000,
            max_string_bytes: 4 * 1024 * 1024,
            max_set_elements: 100_000,
            max_entities: 1_000_000,
            max_ancestors: 10_000,
            max_request_bytes: 8 * 1024 * 1024,
            max_delegation_depth: 4,
            max_audit_record_bytes: mandate_audit::MAX_RECORD_BYTES,
        }
    }
}

/// Every limit's name, in the order of the fields.
pub const LIMIT_NAMES: [&str; 11] = [
    "max_source_bytes",
    "max_source_lines",
    "max_nesting_depth",
    "max_policies",
    "max_string_bytes",
    "max_set_elements",
    "max_entities",
    "max_ancestors",
    "max_request_bytes",
    "max_delegation_depth",
    "max_audit_record_bytes",
];

impl Limits {
    fn field(&mut self, name: &str) -> Option<&mut usize> {
        Some(match name {
            "max_source_bytes" => &mut self.max_source_bytes,
            "max_source_lines" => &mut self.max_source_lines,
            "max_nesting_depth" => &mut self.max_nesting_depth,
            "max_policies" => &mut self.max_policies,
            "max_string_bytes" => &mut self.max_string_bytes,
            "max_set_elements" => &mut self.max_set_elements,
            "max_entities" => &mut self.max_entities,
            "max_ancestors" => &mut self.max_ancestors,
            "max_request_bytes" => &mut self.max_request_bytes,
            "max_delegation_depth" => &mut self.max_delegation_depth,
            "max_audit_record_bytes" => &mut self.max_audit_record_bytes,
            _ => return None,
        })
    }

    /// The value of the limit called `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        let mut copy = *self;
        copy.field(name).map(|v| *v)
    }

    /// Sets the limit called `name` (one of [`LIMIT_NAMES`]).
    ///
    /// # Errors
    /// An unknown name, or `max_audit_record_bytes` above 16 MiB.
    pub fn set(&mut self, name: &str, value: usize) -> Result<(), String> {
        if name == "max_audit_record_bytes" && value > mandate_audit::MAX_RECORD_BYTES {
            return Err(format!(
                "`max_audit_record_bytes` can be at most {} (so that its line fits the 16 MiB the audit verifier reads), got {value}",
                mandate_audit::MAX_RECORD_BYTES
            ));
        }
        match self.field(name) {
            Some(f) => {
                *f = value;
                Ok(())
            }
            None => Err(format!(
                "unknown limit `{name}` (the limits are {})",
                LIMIT_NAMES.join(", ")
            )),
        }
    }

    /// Sets a limit from `NAME=VALUE` (the CLI's `--limit`); `_` separators are allowed in the
    /// value (`1_000_000`).
    ///
    /// # Errors
    /// No `=`, an unknown name or a value that is not a non-negative integer.
    pub fn set_str(&mut self, assignment: &str) -> Result<(), String> {
        let (name, value) = assignment
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=VALUE, got `{assignment}`"))?;
        let value: usize = value.trim().replace('_', "").parse().map_err(|_| {
            format!("the value of `{name}` must be a non-negative integer, got `{value}`")
        })?;
        self.set(name.trim(), value)
    }

    /// The defaults with the limits of a JSON object `{"max_policies": 10, …}` applied (the
    /// bindings' form).
    ///
    /// # Errors
    /// As [`Limits::apply_json`].
    pub fn from_json(text: &str) -> Result<Limits, String> {
        let mut limits = Limits::default();
        limits.apply_json(text)?;
        Ok(limits)
    }

    /// Sets the limits named in a JSON object `{"max_policies": 10, …}`; the others keep their
    /// values.
    ///
    /// # Errors
    /// Not an object, an unknown name or a value that is not a non-negative integer (nothing is
    /// changed then).
    pub fn apply_json(&mut self, text: &str) -> Result<(), String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("invalid limits JSON: {e}"))?;
        let obj = v
            .as_object()
            .ok_or("the limits must be a JSON object of names and integers")?;
        let mut limits = *self;
        for (name, value) in obj {
            let n = value
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    format!("the value of `{name}` must be a non-negative integer, got {value}")
                })?;
            limits.set(name, n)?;
        }
        *self = limits;
        Ok(())
    }

    /// The parser's limits.
    pub fn parse_limits(&self) -> ParseLimits {
        ParseLimits {
            max_source_bytes: self.max_source_bytes,
            max_nesting_depth: u32::try_from(self.max_nesting_depth).unwrap_or(u32::MAX),
            ..ParseLimits::default()
        }
    }

    /// Default audit log options with this `max_audit_record_bytes`.
    pub fn audit_options(&self) -> mandate_audit::AuditOptions {
        mandate_audit::AuditOptions {
            max_record_bytes: self.max_audit_record_bytes,
            ..mandate_audit::AuditOptions::default()
        }
    }

    /// The entity and request JSON limits.
    pub fn json_limits(&self) -> JsonLimits {
        JsonLimits {
            max_string_bytes: self.max_string_bytes,
            max_set_elements: self.max_set_elements,
            max_entities: self.max_entities,
            max_ancestors: self.max_ancestors,
        }
    }
}

/// The error diagnostic for a limit exceeded: `{what}: {seen} is more than the limit
/// `{name}` = {max}`.
pub(crate) fn exceeded(
    code: &'static str,
    what: &str,
    name: &str,
    seen: usize,
    max: usize,
) -> mandate_syntax::Diagnostic {
    mandate_syntax::Diagnostic::error(
        code,
        format!("{what}: {seen} is more than the limit `{name}` = {max}"),
    )
    .with_help(format!(
        "reduce the input, or raise `{name}` (see docs/security.md)"
    ))
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn every_name_sets_its_field() {
        for (i, name) in LIMIT_NAMES.iter().enumerate() {
            let mut l = Limits::default();
            l.set(name, 1000 + i).unwrap();
            assert_eq!(l.get(name), Some(1000 + i), "{name}");
        }
        assert!(Limits::default().set("max_nothing", 1).is_err());
    }

    #[test]
    fn from_json_and_set_str() {
        let l = Limits::from_json(r#"{"max_policies": 3, "max_ancestors": 7}"#).unwrap();
        assert_eq!((l.max_policies, l.max_ancestors), (3, 7));
        assert_eq!(l.max_entities, Limits::default().max_entities);
        assert!(Limits::from_json(r#"{"max_policies": -1}"#).is_err());
        assert!(Limits::from_json(r#"{"nope": 1}"#).is_err());
        let mut l = Limits::default();
        l.set_str("max_entities=1_000").unwrap();
        assert_eq!(l.max_entities, 1000);
        assert!(l.set_str("max_entities").is_err());
        assert!(l.set_str("max_entities=x").is_err());
    }
}
