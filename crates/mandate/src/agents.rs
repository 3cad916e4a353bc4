//! Registered agents as entities: the engine overlays the registry on the entity data, so
//! policies can read `principal.owner`, `principal.status`, `principal.created` and
//! `principal.expires` of a registered agent, and its registered parents (teams, roles).
//!
//! The overlay is rebuilt when the policy version or the registry version changes, never per
//! decision.

use crate::version::PolicyVersion;
use mandate_agents::{Agent, AgentSpec, AgentState, EntityRef, Registry};
use mandate_eval::{Entities, Uid};
use mandate_syntax::Diagnostic;
use mandate_validate::schema::Schema;
use serde_json::{Map, Value as J, json};
use std::sync::{Arc, Mutex};

/// The uid of an agent.
pub fn agent_uid(agent: &Agent) -> Uid {
    Uid::new(agent.entity_type.as_str(), agent.id.as_str())
}

/// The uid of a registry entity reference.
pub fn ref_uid(r: &EntityRef) -> Uid {
    Uid::new(r.entity_type.as_str(), r.id.as_str())
}

fn uid_json(ty: &str, id: &str) -> J {
    json!({"type": ty, "id": id})
}

fn declared(schema: Option<&Schema>, ty: &str, attr: &str) -> bool {
    match schema {
        None => true,
        Some(s) => s
            .entity_types
            .get(ty)
            .is_some_and(|def| def.shape.attrs.contains_key(attr)),
    }
}

/// The Cedar entity JSON of an agent. The registry's attributes `status`, `owner`, `created` and
/// `expires` are added when the schema declares them for the agent's type (always without a
/// schema).
pub fn agent_json(
    spec: &AgentSpec,
    state: AgentState,
    created_ms: u64,
    schema: Option<&Schema>,
) -> J {
    let ty = spec.entity_type.as_str();
    let mut attrs: Map<String, J> = spec.attributes.clone();
    let status = match state {
        AgentState::Active => "active",
        AgentState::Suspended { .. } => "suspended",
        AgentState::Revoked { .. } => "revoked",
    };
    if declared(schema, ty, "status") {
        attrs.insert("status".into(), J::String(status.into()));
    }
    if declared(schema, ty, "owner") {
        attrs.insert(
            "owner".into(),
            json!({"__entity": uid_json(&spec.owner.entity_type, &spec.owner.id)}),
        );
    }
    let datetime = |ms: u64| {
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        json!({"__extn": {"fn": "datetime", "arg": mandate_eval::value::datetime_text(ms)}})
    };
    if declared(schema, ty, "created") {
        attrs.insert("created".into(), datetime(created_ms));
    }
    if let (Some(exp), true) = (spec.expires_ms, declared(schema, ty, "expires")) {
        attrs.insert("expires".into(), datetime(exp));
    }
    json!({
        "uid": uid_json(ty, &spec.id),
        "attrs": attrs,
        "parents": spec.parents.iter().map(|p| uid_json(&p.entity_type, &p.id)).collect::<Vec<_>>(),
    })
}

struct Cached {
    version: Arc<str>,
    registry_version: u64,
    entities: Arc<Entities>,
}

/// The entity data with the registry overlaid, cached per (policy version, registry version).
pub(crate) struct AgentEntities {
    base: Option<Arc<J>>,
    limits: mandate_eval::entities::JsonLimits,
    cache: arc_swap::ArcSwapOption<Cached>,
    rebuild: Mutex<()>,
}

impl std::fmt::Debug for AgentEntities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentEntities").finish_non_exhaustive()
    }
}

fn diag(message: String) -> Diagnostic {
    Diagnostic::error("MD0050", message)
}

impl AgentEntities {
    pub(crate) fn new(base: Option<Arc<J>>, limits: mandate_eval::entities::JsonLimits) -> Self {
        AgentEntities {
            base,
            limits,
            cache: arc_swap::ArcSwapOption::empty(),
            rebuild: Mutex::new(()),
        }
    }

    /// The entities for `version`, with the registry's agents.
    pub(crate) fn current(
        &self,
        version: &PolicyVersion,
        registry: &dyn Registry,
    ) -> Result<Arc<Entities>, Diagnostic> {
        let rv = registry
            .version()
            .map_err(|e| diag(format!("agent registry: {e}")))?;
        let fresh = |c: &Cached| Arc::ptr_eq(&c.version, &version.id) && c.registry_version == rv;
        if let Some(c) = self.cache.load().as_ref().filter(|c| fresh(c)) {
            return Ok(Arc::clone(&c.entities));
        }
        let _guard = self
            .rebuild
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = self.cache.load().as_ref().filter(|c| fresh(c)) {
            return Ok(Arc::clone(&c.entities));
        }
        let agents = registry
            .list()
            .map_err(|e| diag(format!("agent registry: {e}")))?;
        let entities = Arc::new(self.build(&agents, version.schema.as_deref())?);
        self.cache.store(Some(Arc::new(Cached {
            version: Arc::clone(&version.id),
            registry_version: rv,
            entities: Arc::clone(&entities),
        })));
        Ok(entities)
    }

    fn build(&self, agents: &[Agent], schema: Option<&Schema>) -> Result<Entities, Diagnostic> {
        if agents.is_empty()
            && let Some(base @ J::Array(_)) = self.base.as_deref()
        {
            return Entities::from_json_value_limited(base, schema, &self.limits)
                .map_err(|e| diag(format!("entity data: {e}")));
        }
        let mut items: Vec<J> = match self.base.as_deref() {
            Some(J::Array(a)) => a.iter().map(clone_json).collect(),
            Some(_) => return Err(diag("entity data must be a JSON array".into())),
            None => Vec::new(),
        };
        if !agents.is_empty() {
            let mut at: std::collections::HashMap<(String, String), usize> = items
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    let uid = e.get("uid")?;
                    let ty = uid.get("type")?.as_str()?;
                    let id = uid.get("id")?.as_str()?;
                    Some(((ty.to_string(), id.to_string()), i))
                })
                .collect();
            for a in agents {
                let overlay = agent_json(&a.spec(), a.state.clone(), a.created_ms, schema);
                let key = (a.entity_type.clone(), a.id.clone());
                match at.get(&key).and_then(|&i| items.get_mut(i)) {
                    Some(existing) => merge(existing, overlay),
                    None => {
                        at.insert(key, items.len());
                        items.push(overlay);
                    }
                }
            }
        }
        Entities::from_json_value_limited(&J::Array(items), schema, &self.limits)
            .map_err(|e| diag(format!("entity data with the registered agents: {e}")))
    }
}

/// A deep copy of a JSON value that continues on a new stack segment when a small stack runs
/// low (serde_json's own `clone` recurses once per level; R3).
fn clone_json(v: &J) -> J {
    match v {
        J::Array(a) => J::Array(
            a.iter()
                .map(|x| mandate_syntax::stack::guarded(|| clone_json(x)))
                .collect(),
        ),
        J::Object(o) => J::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), mandate_syntax::stack::guarded(|| clone_json(x))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Registry attributes override the file's; parents are the union.
fn merge(existing: &mut J, overlay: J) {
    let J::Object(overlay) = overlay else { return };
    let Some(obj) = existing.as_object_mut() else {
        return;
    };
    if let Some(J::Object(attrs)) = overlay.get("attrs") {
        let target = obj.entry("attrs").or_insert_with(|| J::Object(Map::new()));
        if let Some(t) = target.as_object_mut() {
            for (k, v) in attrs {
                t.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(J::Array(parents)) = overlay.get("parents") {
        let target = obj.entry("parents").or_insert_with(|| J::Array(Vec::new()));
        if let Some(t) = target.as_array_mut() {
            for p in parents {
                if !t.contains(p) {
                    t.push(p.clone());
                }
            }
        }
    }
}

/// Checks an agent against the schema: its attributes, the registry attributes the schema
/// declares, and its parents' types (parents and the owner need not exist).
///
/// # Errors
/// What does not fit, as Cedar's entity-JSON error with its path.
pub fn check_agent(spec: &AgentSpec, schema: &Schema) -> Result<(), String> {
    let arr = J::Array(vec![agent_json(spec, AgentState::Active, 0, Some(schema))]);
    Entities::from_json_value(&arr, Some(schema))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The agents manifests under `paths`: files named `agents.toml` (or ending in `.agents.toml`)
/// in the given directories (recursively) or given directly.
pub fn manifest_files(paths: &[std::path::PathBuf]) -> Vec<std::path::PathBuf> {
    fn is_manifest(p: &std::path::Path) -> bool {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "agents.toml" || n.ends_with(".agents.toml"))
    }
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>, depth: usize) {
        if depth > 32 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out, depth + 1);
            } else if is_manifest(&p) {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out, 0);
        } else if is_manifest(p) {
            out.push(p.clone());
        }
    }
    out
}
