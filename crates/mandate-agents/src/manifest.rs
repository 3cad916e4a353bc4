//! Onboarding as code: a TOML manifest of agents, planned against a registry and applied.

use crate::error::RegistryError;
use crate::model::{AgentSpec, AgentState, EntityRef, uid_display};
use crate::registry::Registry;
use crate::rules::is_entity_type;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// A manifest: the agents an operator declares, in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Manifest {
    /// The declared agents.
    pub agents: Vec<AgentSpec>,
}

/// Why a manifest was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The file, when read from one.
    pub path: Option<PathBuf>,
    /// The 1-based position of the `[[agent]]` concerned, when the error is about one.
    pub agent: Option<usize>,
    /// That agent's id, when it could be read.
    pub id: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something to say.
    pub hint: Option<String>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        if let Some(n) = self.agent {
            write!(f, "agent #{n}")?;
            if let Some(id) = &self.id {
                // The id is shown escaped: it may hold quotes, newlines or bidi controls.
                let shown = uid_display("", id);
                write!(f, " (id {})", shown.trim_start_matches("::"))?;
            }
            f.write_str(": ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    agent: Vec<RawAgent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    #[serde(rename = "type")]
    entity_type: String,
    id: String,
    owner: RawRef,
    display_name: Option<String>,
    #[serde(default)]
    parents: Vec<RawRef>,
    expires: Option<toml::Value>,
    #[serde(default)]
    attributes: toml::Table,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRef {
    Text(String),
    Table {
        #[serde(rename = "type")]
        entity_type: String,
        id: String,
    },
}

const REF_HINT: &str = r#"write an entity reference as 'Type::"id"' (TOML literal string) or as { type = "Type", id = "id" }"#;

/// Parses an entity reference in Cedar syntax, `Namespace::Type::"id"`, with Cedar's string
/// escapes in the id (`\"`, `\\`, `\n`, `\r`, `\t`, `\0`, `\'`, `\u{...}`). Only this one form is
/// accepted: no whitespace, comments or other expressions.
pub fn parse_entity_ref(text: &str) -> Result<EntityRef, String> {
    let Some((entity_type, quoted)) = text.split_once("::\"") else {
        return Err(format!(
            "expected an entity reference `Type::\"id\"`, found {:?}",
            text.chars().take(64).collect::<String>()
        ));
    };
    if !is_entity_type(entity_type) {
        return Err(format!(
            "{:?} is not an entity type name such as `Platform::Agent`",
            entity_type.chars().take(64).collect::<String>()
        ));
    }
    let mut id = String::with_capacity(quoted.len());
    let mut chars = quoted.chars();
    loop {
        match chars.next() {
            None => return Err("unterminated string: the id has no closing `\"`".to_owned()),
            Some('"') => break,
            Some('\\') => match chars.next() {
                Some('"') => id.push('"'),
                Some('\'') => id.push('\''),
                Some('\\') => id.push('\\'),
                Some('n') => id.push('\n'),
                Some('r') => id.push('\r'),
                Some('t') => id.push('\t'),
                Some('0') => id.push('\0'),
                Some('u') => id.push(unicode_escape(&mut chars)?),
                Some(c) => return Err(format!("unknown escape `\\{}` in id", c.escape_debug())),
                None => return Err("unterminated escape at the end of the id".to_owned()),
            },
            Some(c) => id.push(c),
        }
    }
    let rest: String = chars.take(32).collect();
    if !rest.is_empty() {
        return Err(format!(
            "unexpected text {rest:?} after the closing quote of the id"
        ));
    }
    Ok(EntityRef::new(entity_type, id))
}

/// `{XXXX}` after `\u`: 1 to 6 hex digits naming a Unicode scalar value.
fn unicode_escape(chars: &mut std::str::Chars<'_>) -> Result<char, String> {
    if chars.next() != Some('{') {
        return Err("expected `{` after `\\u` (write `\\u{1F600}`)".to_owned());
    }
    let mut value: u32 = 0;
    let mut digits = 0;
    loop {
        match chars.next() {
            Some('}') if digits > 0 => break,
            Some(c) if digits < 6 && c.is_ascii_hexdigit() => {
                value = value * 16 + c.to_digit(16).unwrap_or(0);
                digits += 1;
            }
            _ => {
                return Err(
                    "malformed `\\u{...}` escape: expected 1 to 6 hex digits and `}`".to_owned(),
                );
            }
        }
    }
    char::from_u32(value).ok_or_else(|| format!("`\\u{{{value:x}}}` is not a Unicode scalar value"))
}

fn toml_to_json(
    value: toml::Value,
    path: &str,
) -> Result<serde_json::Value, (String, Option<String>)> {
    Ok(match value {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(n) => serde_json::Value::from(n),
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        toml::Value::Float(_) => {
            return Err((
                format!("attribute `{path}` is a float; Cedar has no floating-point values"),
                Some(
                    r#"use an integer, or a decimal: { __extn = { fn = "decimal", arg = "0.5" } }"#
                        .to_owned(),
                ),
            ));
        }
        toml::Value::Datetime(_) => {
            return Err((
                format!("attribute `{path}` is a TOML date-time"),
                Some(r#"use a string, or a datetime: { __extn = { fn = "datetime", arg = "2027-01-01T00:00:00Z" } }"#.to_owned()),
            ));
        }
        toml::Value::Array(items) => serde_json::Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(n, v)| toml_to_json(v, &format!("{path}[{n}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(table) => serde_json::Value::Object(
            table
                .into_iter()
                .map(|(k, v)| {
                    let inner = format!("{path}.{k}");
                    toml_to_json(v, &inner).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn parse_expires(value: toml::Value) -> Result<u64, (String, Option<String>)> {
    let hint = Some(
        "write an RFC 3339 time with an offset, e.g. expires = \"2027-06-30T00:00:00Z\"".to_owned(),
    );
    let text = match value {
        toml::Value::String(s) => s,
        toml::Value::Datetime(d) => d.to_string(),
        other => {
            return Err((
                format!(
                    "`expires` must be a date-time, found a {}",
                    other.type_str()
                ),
                hint,
            ));
        }
    };
    let parsed = chrono::DateTime::parse_from_rfc3339(&text).map_err(|e| {
        (
            format!("`expires` {text:?} is not an RFC 3339 time: {e}"),
            hint.clone(),
        )
    })?;
    u64::try_from(parsed.timestamp_millis())
        .map_err(|_| (format!("`expires` {text:?} is before 1970"), hint))
}

fn resolve_ref(raw: RawRef, what: &str) -> Result<EntityRef, (String, Option<String>)> {
    match raw {
        RawRef::Text(text) => {
            parse_entity_ref(&text).map_err(|e| (format!("{what}: {e}"), Some(REF_HINT.to_owned())))
        }
        RawRef::Table { entity_type, id } => {
            if is_entity_type(&entity_type) {
                Ok(EntityRef::new(entity_type, id))
            } else {
                Err((
                    format!(
                        "{what}: {:?} is not an entity type name such as `Platform::Human`",
                        entity_type.chars().take(64).collect::<String>()
                    ),
                    None,
                ))
            }
        }
    }
}

fn convert(raw: RawAgent) -> Result<AgentSpec, (String, Option<String>)> {
    if !is_entity_type(&raw.entity_type) {
        return Err((
            format!(
                "`type` {:?} is not an entity type name",
                raw.entity_type.chars().take(64).collect::<String>()
            ),
            Some(
                "write the agent's type as `Namespace::Type`, e.g. type = \"Platform::Agent\""
                    .to_owned(),
            ),
        ));
    }
    let owner = resolve_ref(raw.owner, "owner")?;
    let parents = raw
        .parents
        .into_iter()
        .enumerate()
        .map(|(n, p)| resolve_ref(p, &format!("parents[{n}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let expires_ms = raw.expires.map(parse_expires).transpose()?;
    let attributes = raw
        .attributes
        .into_iter()
        .map(|(k, v)| {
            let path = k.clone();
            toml_to_json(v, &path).map(|v| (k, v))
        })
        .collect::<Result<serde_json::Map<_, _>, _>>()?;
    Ok(AgentSpec {
        entity_type: raw.entity_type,
        id: raw.id,
        owner,
        display_name: raw.display_name,
        parents,
        attributes,
        expires_ms,
    })
}

impl Manifest {
    /// Parses a manifest from TOML text (format in the crate docs).
    pub fn from_toml_str(text: &str) -> Result<Self, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError {
            path: None,
            agent: None,
            id: None,
            message: e.to_string().trim_end().to_owned(),
            hint: Some("each agent is an [[agent]] table with `type`, `id` and `owner`; optional `display_name`, `parents`, `expires`, [agent.attributes]".to_owned()),
        })?;
        let mut agents = Vec::with_capacity(raw.agent.len());
        let mut seen = HashSet::new();
        for (n, raw_agent) in raw.agent.into_iter().enumerate() {
            let id = raw_agent.id.clone();
            let spec = convert(raw_agent).map_err(|(message, hint)| ManifestError {
                path: None,
                agent: Some(n + 1),
                id: Some(id.clone()),
                message,
                hint,
            })?;
            if !seen.insert((spec.entity_type.clone(), spec.id.clone())) {
                return Err(ManifestError {
                    path: None,
                    agent: Some(n + 1),
                    id: Some(id),
                    message: format!(
                        "{} is listed twice",
                        uid_display(&spec.entity_type, &spec.id)
                    ),
                    hint: Some("merge the two [[agent]] entries".to_owned()),
                });
            }
            agents.push(spec);
        }
        Ok(Manifest { agents })
    }

    /// Reads and parses a manifest file.
    pub fn from_path(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            path: Some(path.to_owned()),
            agent: None,
            id: None,
            message: e.to_string(),
            hint: None,
        })?;
        Self::from_toml_str(&text).map_err(|e| ManifestError {
            path: Some(path.to_owned()),
            ..e
        })
    }
}

/// What applying a manifest would change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// Agents to register.
    pub register: Vec<AgentSpec>,
    /// Agents to update, with the names of the changed fields.
    pub update: Vec<(AgentSpec, Vec<String>)>,
    /// Registered agents (not revoked) that the manifest does not list: `(entity_type, id)`.
    pub unlisted: Vec<(String, String)>,
    /// Listed agents already as declared.
    pub unchanged: usize,
}

impl Plan {
    /// Whether applying (without prune) would change nothing.
    pub fn is_empty(&self) -> bool {
        self.register.is_empty() && self.update.is_empty()
    }
}

/// Compares a manifest with a registry. Errors: [`RegistryError::Revoked`] when the manifest
/// lists a revoked id (identities are never reused), or the registry's errors.
pub fn plan(manifest: &Manifest, registry: &dyn Registry) -> Result<Plan, RegistryError> {
    let existing = registry.list()?;
    let by_uid: HashMap<(&str, &str), &crate::model::Agent> = existing
        .iter()
        .map(|a| ((a.entity_type.as_str(), a.id.as_str()), a))
        .collect();
    let mut out = Plan::default();
    let mut listed = HashSet::new();
    for spec in &manifest.agents {
        listed.insert((spec.entity_type.as_str(), spec.id.as_str()));
        match by_uid.get(&(spec.entity_type.as_str(), spec.id.as_str())) {
            None => out.register.push(spec.clone()),
            Some(agent) if matches!(agent.state, AgentState::Revoked { .. }) => {
                return Err(RegistryError::Revoked {
                    entity_type: spec.entity_type.clone(),
                    id: spec.id.clone(),
                });
            }
            Some(agent) => {
                let changed = agent.spec().changed_fields(spec);
                if changed.is_empty() {
                    out.unchanged += 1;
                } else {
                    out.update.push((spec.clone(), changed));
                }
            }
        }
    }
    out.unlisted = existing
        .iter()
        .filter(|a| !matches!(a.state, AgentState::Revoked { .. }))
        .filter(|a| !listed.contains(&(a.entity_type.as_str(), a.id.as_str())))
        .map(|a| (a.entity_type.clone(), a.id.clone()))
        .collect();
    Ok(out)
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplyReport {
    /// Agents registered.
    pub registered: Vec<EntityRef>,
    /// Agents updated.
    pub updated: Vec<EntityRef>,
    /// Unlisted agents revoked (with `prune`).
    pub revoked: Vec<EntityRef>,
    /// Unlisted agents left as they are (without `prune`).
    pub kept: Vec<EntityRef>,
}

/// Carries out a plan: registers, then updates, then (only with `prune`) revokes the unlisted
/// agents. Not atomic: on an error the changes made before it stay (each is a complete,
/// recorded transition) and planning again shows what remains.
pub fn apply(
    plan: Plan,
    registry: &dyn Registry,
    prune: bool,
    actor: &str,
    reason: &str,
    now_ms: u64,
) -> Result<ApplyReport, RegistryError> {
    let mut report = ApplyReport::default();
    for spec in plan.register {
        let uid = spec.uid();
        registry.register(spec, actor, reason, now_ms)?;
        report.registered.push(uid);
    }
    for (spec, _) in plan.update {
        let uid = spec.uid();
        registry.update(spec, actor, reason, now_ms)?;
        report.updated.push(uid);
    }
    for (entity_type, id) in plan.unlisted {
        if prune {
            registry.revoke(&entity_type, &id, actor, reason, now_ms)?;
            report.revoked.push(EntityRef::new(entity_type, id));
        } else {
            report.kept.push(EntityRef::new(entity_type, id));
        }
    }
    Ok(report)
}
