//! The entity store: entities with attributes, tags and the transitive closure of their parents,
//! loaded from Cedar's entity JSON (optionally schema-based), and Cedar's JSON value encoding.
//!
//! INVARIANT: `Entity::ancestors` is the full transitive closure, computed once at load; `in` at
//! decision time is a set lookup, never a graph walk.

use crate::ext::{DateTime, Decimal, Duration, IpAddr};
use crate::value::{ExtValue, Uid, Value};
use mandate_validate::schema::{ActionId, RecordType, Schema, Type};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// Deepest JSON nesting accepted in entity data, context and requests.
pub const MAX_JSON_DEPTH: usize = 128;

/// How deeply a request's context may nest (the context record is level 1). Lower than
/// [`MAX_JSON_DEPTH`] so that every request the engine accepts also fits in its audit record:
/// the audit trail caps records at 100 levels (`mandate_audit::MAX_RECORD_DEPTH`, below
/// serde_json's recursion limit so every line reads back) and nests the context a few levels
/// inside the record. Without this, a deeper context would be accepted and then always denied
/// for want of an audit record.
pub const MAX_CONTEXT_DEPTH: usize = 64;

/// Size limits for entity and request JSON (set by `mandate::Limits`). Every violation is a
/// [`JsonError`] whose message names the limit and the observed value, at the JSON path where it
/// was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonLimits {
    /// Longest string (bytes, decoded), ids included.
    pub max_string_bytes: usize,
    /// Most elements of one array (a set, or an entity's `parents`).
    pub max_set_elements: usize,
    /// Most entities in one entity list.
    pub max_entities: usize,
    /// Most ancestors of one entity after the transitive closure.
    pub max_ancestors: usize,
}

impl JsonLimits {
    /// No limits (beyond the nesting depth, which is always enforced).
    pub const UNLIMITED: JsonLimits = JsonLimits {
        max_string_bytes: usize::MAX,
        max_set_elements: usize::MAX,
        max_entities: usize::MAX,
        max_ancestors: usize::MAX,
    };
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits::UNLIMITED
    }
}

fn limit_error(
    path: impl fmt::Display,
    what: &str,
    name: &str,
    seen: usize,
    max: usize,
) -> JsonError {
    JsonError::new(
        path,
        format!("{what}: {seen} is more than the limit `{name}` = {max}"),
    )
    .help(format!(
        "reduce the input, or raise `{name}` (see docs/security.md)"
    ))
}

/// Checks every string (bytes) and array (elements) under `v` against `limits`, iteratively.
///
/// # Errors
/// The first string or array over its limit, with its JSON path.
pub fn check_json_sizes(
    v: &serde_json::Value,
    path: &str,
    limits: &JsonLimits,
) -> Result<(), JsonError> {
    if limits.max_string_bytes == usize::MAX && limits.max_set_elements == usize::MAX
        || within_sizes(v, limits)
    {
        return Ok(());
    }
    // Over a limit: walk again, building JSON paths, to say where (the common case above builds
    // none).
    let mut stack: Vec<(&serde_json::Value, String)> = vec![(v, path.to_string())];
    while let Some((v, path)) = stack.pop() {
        match v {
            serde_json::Value::String(s) if s.len() > limits.max_string_bytes => {
                return Err(limit_error(
                    path,
                    "string too long (bytes)",
                    "max_string_bytes",
                    s.len(),
                    limits.max_string_bytes,
                ));
            }
            serde_json::Value::Array(a) => {
                if a.len() > limits.max_set_elements {
                    return Err(limit_error(
                        path,
                        "too many elements in an array",
                        "max_set_elements",
                        a.len(),
                        limits.max_set_elements,
                    ));
                }
                for (i, e) in a.iter().enumerate() {
                    stack.push((e, format!("{path}[{i}]")));
                }
            }
            serde_json::Value::Object(o) => {
                for (k, e) in o {
                    if k.len() > limits.max_string_bytes {
                        return Err(limit_error(
                            &path,
                            "key too long (bytes)",
                            "max_string_bytes",
                            k.len(),
                            limits.max_string_bytes,
                        ));
                    }
                    stack.push((e, format!("{path}.{k}")));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether every string, key and array under `v` is within `limits` (no allocation but the
/// work stack).
fn within_sizes(v: &serde_json::Value, limits: &JsonLimits) -> bool {
    let mut stack: Vec<&serde_json::Value> = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(s) if s.len() > limits.max_string_bytes => return false,
            serde_json::Value::Array(a) => {
                if a.len() > limits.max_set_elements {
                    return false;
                }
                stack.extend(a);
            }
            serde_json::Value::Object(o) => {
                for (k, e) in o {
                    if k.len() > limits.max_string_bytes {
                        return false;
                    }
                    stack.push(e);
                }
            }
            _ => {}
        }
    }
    true
}

/// Checks entity JSON (an array of entities) against `limits` before any entity is read: the
/// entity count, then each entity's direct parents (against `max_ancestors`), strings and arrays.
/// The ancestors after the closure are checked by `Entities::from_json_value_limited`.
///
/// # Errors
/// The first limit exceeded, with its JSON path.
pub fn check_entity_limits(json: &serde_json::Value, limits: &JsonLimits) -> Result<(), JsonError> {
    let Some(arr) = json.as_array() else {
        return Ok(());
    };
    if arr.len() > limits.max_entities {
        return Err(limit_error(
            "$",
            "too many entities",
            "max_entities",
            arr.len(),
            limits.max_entities,
        ));
    }
    for (i, item) in arr.iter().enumerate() {
        let path = format!("$[{i}]");
        if let Some(parents) = item.get("parents").and_then(serde_json::Value::as_array)
            && parents.len() > limits.max_ancestors
        {
            return Err(limit_error(
                format!("{path}.parents"),
                "too many ancestors",
                "max_ancestors",
                parents.len(),
                limits.max_ancestors,
            ));
        }
        check_json_sizes(item, &path, limits)?;
    }
    Ok(())
}

/// An entity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entity {
    /// Attributes.
    pub attrs: BTreeMap<SmolStr, Value>,
    /// Tags.
    pub tags: BTreeMap<SmolStr, Value>,
    /// Direct parents.
    pub parents: BTreeSet<Uid>,
    /// Every ancestor (transitive closure of `parents`).
    pub ancestors: HashSet<Uid>,
    /// `uid_key` of this entity followed by those of its ancestors (for the decision index).
    pub index_keys: Vec<u64>,
}

/// A loaded set of entities.
#[derive(Clone, Debug, Default)]
pub struct Entities {
    map: HashMap<Uid, Arc<Entity>>,
}

/// A JSON path written only when an error needs it: `{parent}{suffix}`, e.g. `$[3]` + `.uid`.
struct Sub<'a>(&'a dyn fmt::Display, &'static str);

impl fmt::Display for Sub<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0, self.1)
    }
}

/// `{parent}.{key}`.
struct Key<'a>(&'a dyn fmt::Display, &'a str);

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// `{parent}[{index}]`.
struct Idx<'a>(&'a dyn fmt::Display, usize);

impl fmt::Display for Idx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.0, self.1)
    }
}

/// A problem in JSON input, with the JSON path where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct JsonError {
    /// Where, e.g. `$[3].attrs.level`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl JsonError {
    /// An error at `path` (a JSON path such as `$[3].attrs.level`).
    pub fn new(path: impl fmt::Display, message: impl Into<String>) -> Self {
        JsonError {
            path: path.to_string(),
            message: message.into(),
            help: None,
        }
    }
    /// With a hint on how to fix it.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl Entities {
    /// No entities.
    pub fn new() -> Self {
        Entities::default()
    }

    /// The entity with this uid.
    pub fn get(&self, uid: &Uid) -> Option<&Arc<Entity>> {
        self.map.get(uid)
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Iterates over all entities.
    pub fn iter(&self) -> impl Iterator<Item = (&Uid, &Arc<Entity>)> {
        self.map.iter()
    }

    /// Builds a store from entities with direct parents, computing the closure.
    ///
    /// # Errors
    /// When the parent graph has a cycle (the error names an entity on it).
    pub fn from_entities(
        entities: impl IntoIterator<Item = (Uid, Entity)>,
    ) -> Result<Self, JsonError> {
        let mut map: HashMap<Uid, Entity> = HashMap::default();
        for (uid, e) in entities {
            map.insert(uid, e);
        }
        compute_closure(&mut map, usize::MAX)?;
        Ok(Entities {
            map: map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        })
    }

    /// Parses Cedar's entity JSON (an array of `{uid, attrs, parents, tags}`), schema-based when a
    /// schema is given: attribute values are read with their declared types, entities are checked
    /// against their declared shape, and the schema's action entities are added.
    ///
    /// # Errors
    /// Malformed JSON, a value that does not match the schema, an entity listed twice with
    /// different contents, a cycle.
    pub fn from_json_str(text: &str, schema: Option<&Schema>) -> Result<Self, JsonError> {
        let json: serde_json::Value = parse_json_bounded(text)?;
        Self::from_json_value(&json, schema)
    }

    /// As `from_json_str`, from a parsed JSON value.
    ///
    /// # Errors
    /// As `from_json_str`.
    pub fn from_json_value(
        json: &serde_json::Value,
        schema: Option<&Schema>,
    ) -> Result<Self, JsonError> {
        Self::from_json_value_limited(json, schema, &JsonLimits::UNLIMITED)
    }

    /// As `from_json_value`, refusing input over `limits`: the entity count before any entity
    /// is read, each entity's strings, sets and direct parents before it is read, and the
    /// ancestors of each entity while the closure is computed (which stops at the first entity
    /// over the limit).
    ///
    /// # Errors
    /// As `from_json_str`, and a limit exceeded (the message names the limit and the value).
    pub fn from_json_value_limited(
        json: &serde_json::Value,
        schema: Option<&Schema>,
        limits: &JsonLimits,
    ) -> Result<Self, JsonError> {
        let arr = json.as_array().ok_or_else(|| {
            JsonError::new("$", "expected an array of entities")
                .help("entity files hold `[{\"uid\": …, \"attrs\": …, \"parents\": […]}, …]`")
        })?;
        check_entity_limits(json, limits)?;
        let mut map: HashMap<Uid, Entity> = HashMap::default();
        for (i, item) in arr.iter().enumerate() {
            let path = format!("$[{i}]");
            let obj = item
                .as_object()
                .ok_or_else(|| JsonError::new(&path, "expected an entity object"))?;
            for key in obj.keys() {
                if !matches!(key.as_str(), "uid" | "attrs" | "parents" | "tags") {
                    return Err(JsonError::new(
                        &path,
                        format!("unexpected field `{key}` in entity"),
                    )
                    .help("an entity has `uid`, `attrs`, `parents` and optionally `tags`"));
                }
            }
            let uid_json = obj
                .get("uid")
                .ok_or_else(|| JsonError::new(&path, "entity has no `uid`"))?;
            let uid = uid_at(uid_json, &Sub(&path, ".uid"))?;
            let entity_def = match schema {
                Some(s) if !is_action_type(&uid.ty) => {
                    Some(s.entity_types.get(uid.ty.as_str()).ok_or_else(|| {
                        JsonError::new(
                            Sub(&path, ".uid"),
                            format!("entity type `{}` is not declared in the schema", uid.ty),
                        )
                    })?)
                }
                _ => None,
            };
            if let Some(def) = entity_def
                && let Some(ids) = &def.enum_ids
                && !ids.contains(&uid.id)
            {
                return Err(JsonError::new(
                    Sub(&path, ".uid"),
                    format!("`{uid}` is not one of the enumerated ids of `{}`", uid.ty),
                ));
            }
            let mut entity = Entity::default();
            if let Some(attrs) = obj.get("attrs") {
                let apath = Sub(&path, ".attrs");
                let attrs_obj = attrs
                    .as_object()
                    .ok_or_else(|| JsonError::new(&apath, "expected an object of attributes"))?;
                let shape = entity_def.map(|d| &d.shape);
                entity.attrs =
                    record_fields_from_json(attrs_obj, shape, &apath, 1, MAX_JSON_DEPTH)?;
            } else if let Some(def) = entity_def {
                check_required(&BTreeMap::new(), &def.shape, &Sub(&path, ".attrs"))?;
            }
            if let Some(parents) = obj.get("parents") {
                let ppath = Sub(&path, ".parents");
                let arr = parents.as_array().ok_or_else(|| {
                    JsonError::new(&ppath, "expected an array of parent entities")
                })?;
                for (j, p) in arr.iter().enumerate() {
                    let parent = uid_at(p, &Idx(&ppath, j))?;
                    // As in Cedar, with or without a schema: actions are only grouped by actions.
                    if is_action_type(&uid.ty) && !is_action_type(&parent.ty) {
                        return Err(JsonError::new(
                            Idx(&ppath, j),
                            format!("action `{uid}` cannot have the non-action parent `{parent}`"),
                        )
                        .help("the parents of an action must be actions"));
                    }
                    if let Some(def) = entity_def
                        && !def.parents.contains(&parent.ty)
                    {
                        return Err(JsonError::new(
                            Idx(&ppath, j),
                            format!(
                                "`{uid}` cannot have a parent of type `{}` according to the schema",
                                parent.ty
                            ),
                        ));
                    }
                    entity.parents.insert(parent);
                }
            }
            if let Some(tags) = obj.get("tags") {
                let tpath = Sub(&path, ".tags");
                let tags_obj = tags
                    .as_object()
                    .ok_or_else(|| JsonError::new(&tpath, "expected an object of tags"))?;
                let tag_ty = match entity_def {
                    Some(def) => match &def.tags {
                        Some(t) => Some(t),
                        None if !tags_obj.is_empty() => {
                            return Err(JsonError::new(
                                &tpath,
                                format!("entity type `{}` has no tags in the schema", uid.ty),
                            ));
                        }
                        None => None,
                    },
                    None => None,
                };
                for (k, v) in tags_obj {
                    let val = value_from_json(v, tag_ty, &Key(&tpath, k), 1)?;
                    entity.tags.insert(SmolStr::new(k), val);
                }
            }
            // As in Cedar, an entity may be listed again only as an equal copy (same attributes,
            // tags and parents; the closure is not computed yet), which changes nothing.
            if let Some(first) = map.get(&uid) {
                if *first == entity {
                    continue;
                }
                return Err(JsonError::new(
                    Sub(&path, ".uid"),
                    format!("duplicate entity `{uid}`"),
                )
                .help("an entity may appear more than once only as identical copies"));
            }
            map.insert(uid, entity);
        }
        if let Some(schema) = schema {
            for (id, def) in &schema.actions {
                let uid = action_uid(id);
                let entry = map.entry(uid).or_default();
                for parent in &def.member_of {
                    entry.parents.insert(action_uid(parent));
                }
            }
        }
        compute_closure(&mut map, limits.max_ancestors)?;
        Ok(Entities {
            map: map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect(),
        })
    }
}

/// Whether a type name is an action type (`Action` or `NS::Action`).
pub fn is_action_type(ty: &str) -> bool {
    ty == "Action" || ty.ends_with("::Action")
}

/// The uid of a schema action.
pub fn action_uid(id: &ActionId) -> Uid {
    Uid {
        ty: id.ty.clone(),
        id: id.id.clone(),
    }
}

fn compute_closure(map: &mut HashMap<Uid, Entity>, max_ancestors: usize) -> Result<(), JsonError> {
    // Iterative depth-first search with three colours; ancestors of a node are its parents plus
    // their ancestors. Parents missing from the store are ancestors without ancestors of their own.
    let keys: Vec<Uid> = map.keys().cloned().collect();
    let mut done: HashMap<Uid, HashSet<Uid>> =
        HashMap::with_capacity_and_hasher(keys.len(), rustc_hash::FxBuildHasher);
    let mut on_stack: HashSet<Uid> = HashSet::default();
    for root in keys {
        if done.contains_key(&root) {
            continue;
        }
        // Stack of (node, parents still to visit).
        let mut stack: Vec<(Uid, Vec<Uid>)> = Vec::new();
        let parents: Vec<Uid> = map
            .get(&root)
            .map(|e| e.parents.iter().cloned().collect())
            .unwrap_or_default();
        on_stack.insert(root.clone());
        stack.push((root, parents));
        while let Some((node, pending)) = stack.last_mut() {
            if let Some(next) = pending.pop() {
                if done.contains_key(&next) {
                    continue;
                }
                if on_stack.contains(&next) {
                    return Err(JsonError::new("$", format!("the parent relation has a cycle through `{next}`"))
                        .help("an entity cannot be its own ancestor; remove one of the parent links on the cycle"));
                }
                match map.get(&next) {
                    Some(e) => {
                        let ps: Vec<Uid> = e.parents.iter().cloned().collect();
                        on_stack.insert(next.clone());
                        stack.push((next, ps));
                    }
                    None => {
                        done.insert(next, HashSet::default());
                    }
                }
            } else {
                let node = node.clone();
                stack.pop();
                on_stack.remove(&node);
                let mut anc = HashSet::default();
                if let Some(e) = map.get(&node) {
                    for p in &e.parents {
                        anc.insert(p.clone());
                        if let Some(pa) = done.get(p) {
                            anc.extend(pa.iter().cloned());
                        }
                        if anc.len() > max_ancestors {
                            return Err(limit_error(
                                "$",
                                &format!(
                                    "too many ancestors of `{node}` (after the transitive closure)"
                                ),
                                "max_ancestors",
                                anc.len(),
                                max_ancestors,
                            ));
                        }
                    }
                }
                done.insert(node, anc);
            }
        }
    }
    for (uid, e) in map.iter_mut() {
        if let Some(anc) = done.remove(uid) {
            e.ancestors = anc;
        }
        e.index_keys = std::iter::once(crate::value::uid_key(uid))
            .chain(e.ancestors.iter().map(crate::value::uid_key))
            .collect();
    }
    Ok(())
}

/// Parses JSON text, refusing nesting deeper than `MAX_JSON_DEPTH` before serde sees it.
///
/// # Errors
/// Malformed or too deeply nested JSON, with line and column.
pub fn parse_json_bounded(text: &str) -> Result<serde_json::Value, JsonError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in text.bytes().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                // serde_json refuses its 128th level with a bare "recursion limit exceeded":
                // stop one level earlier, with the limit named.
                if depth >= MAX_JSON_DEPTH {
                    let before = text.get(..i).unwrap_or_default();
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
                    return Err(JsonError::new(
                        format!("line {line} column {column}"),
                        format!(
                            "JSON nesting is too deep: more than {} levels",
                            MAX_JSON_DEPTH - 1
                        ),
                    )
                    .help("flatten the data; the limits are documented in docs/security.md"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    serde_json::from_str::<NoDuplicateKeys>(text)
        .map(|v| v.0)
        .map_err(|e| {
            JsonError::new(
                format!("line {} column {}", e.line(), e.column()),
                format!("invalid JSON: {e}"),
            )
        })
}

/// A JSON value that refuses an object with the same key twice, as Cedar does (serde_json's own
/// `Value` silently keeps the last one).
struct NoDuplicateKeys(serde_json::Value);

impl<'de> serde::Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = NoDuplicateKeys;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(serde_json::Value::Bool(b)))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(serde_json::Value::from(n)))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(serde_json::Value::from(n)))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(serde_json::Value::from(n)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(serde_json::Value::String(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(serde_json::Value::String(s)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(serde_json::Value::Null))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(NoDuplicateKeys(serde_json::Value::Null))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        // Each level of nesting recurses through serde; continue on a new stack segment when a
        // small stack runs low (R3).
        while let Some(NoDuplicateKeys(item)) =
            mandate_syntax::stack::guarded(|| seq.next_element())?
        {
            items.push(item);
        }
        Ok(NoDuplicateKeys(serde_json::Value::Array(items)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{key}` appears twice in the same object"
                )));
            }
            let NoDuplicateKeys(value) = mandate_syntax::stack::guarded(|| map.next_value())?;
            out.insert(key, value);
        }
        Ok(NoDuplicateKeys(serde_json::Value::Object(out)))
    }
}

/// Reads an entity reference: `{"type", "id"}`, `{"__entity": {"type", "id"}}` or `"T::\"id\""`.
///
/// # Errors
/// When the value is none of these.
pub fn uid_from_json(v: &serde_json::Value, path: impl fmt::Display) -> Result<Uid, JsonError> {
    uid_at(v, &path)
}

fn uid_at(v: &serde_json::Value, path: &dyn fmt::Display) -> Result<Uid, JsonError> {
    match v {
        serde_json::Value::Object(obj) => {
            if let Some(inner) = obj.get("__entity") {
                return uid_at(inner, &Sub(&path, ".__entity"));
            }
            let ty = obj.get("type").and_then(serde_json::Value::as_str);
            let id = obj.get("id").and_then(serde_json::Value::as_str);
            match (ty, id) {
                // Like Cedar, other fields beside `type` and `id` are ignored.
                (Some(ty), Some(id)) => {
                    check_type_name(ty, path)?;
                    Ok(Uid::new(ty, id))
                }
                _ => Err(JsonError::new(
                    path,
                    "expected an entity reference `{\"type\": \"…\", \"id\": \"…\"}`",
                )),
            }
        }
        serde_json::Value::String(s) => parse_uid_str(s).ok_or_else(|| {
            JsonError::new(path, format!("`{s}` is not an entity reference"))
                .help("write it as `Type::\"id\"` or `{\"type\": \"Type\", \"id\": \"id\"}`")
        }),
        _ => Err(JsonError::new(
            path,
            "expected an entity reference `{\"type\": \"…\", \"id\": \"…\"}`",
        )),
    }
}

/// Identifiers Cedar reserves, which no part of a type name may be.
const RESERVED_NAMES: &[&str] = &[
    "true", "false", "if", "then", "else", "in", "is", "like", "has", "__cedar",
];

/// Checks that `ty` is a well-formed entity type name (`Ns::Type`); `path` locates the error.
///
/// # Errors
/// A malformed name.
pub fn check_type_name(ty: &str, path: impl fmt::Display) -> Result<(), JsonError> {
    let ok = !ty.is_empty()
        && ty.split("::").all(|part| {
            let mut cs = part.chars();
            matches!(cs.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
                && cs.all(|c| c == '_' || c.is_ascii_alphanumeric())
                && !RESERVED_NAMES.contains(&part)
        });
    if ok {
        Ok(())
    } else {
        Err(JsonError::new(
            path,
            format!("`{ty}` is not a valid entity type name"),
        ))
    }
}

/// Parses Cedar's `Type::"id"` string form of a uid.
pub fn parse_uid_str(s: &str) -> Option<Uid> {
    parse_plain_uid(s).or_else(|| parse_uid_with_parser(s))
}

/// The common form without whitespace, comments or escapes (`Ns::Type::"id"`), read without
/// the expression parser; `None` sends anything else to the parser.
fn parse_plain_uid(s: &str) -> Option<Uid> {
    let (ty, rest) = s.split_once("::\"")?;
    let id = rest.strip_suffix('"')?;
    if id.contains(['"', '\\']) || check_type_name(ty, "").is_err() {
        return None;
    }
    Some(Uid::new(ty, id))
}

fn parse_uid_with_parser(s: &str) -> Option<Uid> {
    let expr = mandate_syntax::parse_expr(s, mandate_syntax::ParseOptions::default()).ok()?;
    match expr.kind {
        mandate_syntax::ast::ExprKind::Entity(uid) => Some(Uid::from_ast(&uid)),
        _ => None,
    }
}

fn record_fields_from_json(
    obj: &serde_json::Map<String, serde_json::Value>,
    shape: Option<&RecordType>,
    path: &dyn fmt::Display,
    depth: usize,
    limit: usize,
) -> Result<BTreeMap<SmolStr, Value>, JsonError> {
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let fpath = Key(path, k);
        let expected = match shape {
            Some(shape) => match shape.attrs.get(k.as_str()) {
                Some(a) => Some(&a.ty),
                None if shape.additional_attributes => None,
                None => {
                    let mut err = JsonError::new(
                        &fpath,
                        format!("attribute `{k}` is not declared in the schema"),
                    );
                    if let Some(s) = mandate_syntax::diagnostics::suggest(
                        k,
                        shape.attrs.keys().map(SmolStr::as_str),
                    ) {
                        err = err.help(format!("did you mean `{s}`?"));
                    }
                    return Err(err);
                }
            },
            None => None,
        };
        out.insert(
            SmolStr::new(k),
            value_at(v, expected, &fpath, depth + 1, limit)?,
        );
    }
    if let Some(shape) = shape {
        check_required(&out, shape, path)?;
    }
    Ok(out)
}

fn check_required(
    fields: &BTreeMap<SmolStr, Value>,
    shape: &RecordType,
    path: &dyn fmt::Display,
) -> Result<(), JsonError> {
    for (name, attr) in &shape.attrs {
        if attr.required && !fields.contains_key(name) {
            return Err(JsonError::new(
                path,
                format!("required attribute `{name}` is missing"),
            ));
        }
    }
    Ok(())
}

/// Builds an extension value from a constructor name and its string argument.
///
/// # Errors
/// Unknown constructor or malformed argument.
pub fn ext_from_call(func: &str, arg: &str) -> Result<ExtValue, String> {
    match func {
        "decimal" => Decimal::parse(arg)
            .map(ExtValue::Decimal)
            .map_err(|e| e.to_string()),
        "ip" | "ipaddr" => IpAddr::parse(arg)
            .map(ExtValue::IpAddr)
            .map_err(|e| e.to_string()),
        "datetime" => DateTime::parse(arg)
            .map(ExtValue::DateTime)
            .map_err(|e| e.to_string()),
        "duration" => Duration::parse(arg)
            .map(ExtValue::Duration)
            .map_err(|e| e.to_string()),
        other => Err(format!("unknown extension function `{other}`")),
    }
}

/// A JSON escape, as Cedar recognises them without a schema.
enum Escape<'a> {
    /// `{"__entity": {"type": …, "id": …}}`
    Entity { ty: &'a str, id: &'a str },
    /// `{"__extn": {"fn": …, "arg": …}}` (`single`) or `{"__extn": {"fn": …, "args": [...]}}`
    Extn {
        func: &'a str,
        args: &'a [serde_json::Value],
        single: bool,
    },
    /// `{"__expr": "…"}`, no longer supported.
    Expr,
}

/// Cedar's rules: an object is an escape only when the escape key is its only key and the
/// inside has the escape's shape (`type` and `id` strings; `fn` string and `arg`, or `args` array;
/// other fields ignored). Any other object, `{"__entity": {}}` included, is a record.
fn escape_of(obj: &serde_json::Map<String, serde_json::Value>) -> Option<Escape<'_>> {
    use serde_json::Value as J;
    let mut entries = obj.iter();
    let (key, inner) = entries.next()?;
    if entries.next().is_some() {
        return None;
    }
    match key.as_str() {
        "__entity" => {
            let o = inner.as_object().filter(|o| o.len() >= 2)?;
            Some(Escape::Entity {
                ty: o.get("type")?.as_str()?,
                id: o.get("id")?.as_str()?,
            })
        }
        "__extn" => {
            let o = inner.as_object().filter(|o| o.len() >= 2)?;
            let func = o.get("fn")?.as_str()?;
            if let Some(arg) = o.get("arg") {
                return Some(Escape::Extn {
                    func,
                    args: std::slice::from_ref(arg),
                    single: true,
                });
            }
            match o.get("args")? {
                J::Array(args) => Some(Escape::Extn {
                    func,
                    args,
                    single: false,
                }),
                _ => None,
            }
        }
        "__expr" => inner.is_string().then_some(Escape::Expr),
        _ => None,
    }
}

/// The extension functions an `__extn` escape may call (constructors and methods).
const EXTENSION_FUNCTIONS: &[&str] = &[
    "decimal",
    "ip",
    "datetime",
    "duration",
    "lessThan",
    "lessThanOrEqual",
    "greaterThan",
    "greaterThanOrEqual",
    "isIpv4",
    "isIpv6",
    "isLoopback",
    "isMulticast",
    "isInRange",
    "offset",
    "durationSince",
    "toDate",
    "toTime",
    "toMilliseconds",
    "toSeconds",
    "toMinutes",
    "toHours",
    "toDays",
];

/// The value of an untyped `__extn` escape: the function applied to its arguments (read as
/// untyped values). As in Cedar, any extension function may be called, whatever it returns.
fn extension_value(
    func: &str,
    args: &[serde_json::Value],
    single: bool,
    path: &dyn fmt::Display,
    depth: usize,
) -> Result<Value, JsonError> {
    if let (true, [serde_json::Value::String(s)]) = (single, args)
        && matches!(func, "decimal" | "ip" | "ipaddr" | "datetime" | "duration")
    {
        return ext_from_call(func, s)
            .map(Value::Ext)
            .map_err(|m| JsonError::new(path, m));
    }
    if !EXTENSION_FUNCTIONS.contains(&func) {
        return Err(JsonError::new(
            path,
            format!("unknown extension function `{func}`"),
        ));
    }
    let mut vals = Vec::with_capacity(args.len());
    for (i, item) in args.iter().enumerate() {
        let arg = Sub(path, ".__extn.arg");
        let args = Sub(path, ".__extn.args");
        let indexed = Idx(&args, i);
        let ipath: &dyn fmt::Display = if single { &arg } else { &indexed };
        vals.push(value_from_json(item, None, ipath, depth + 1)?);
    }
    crate::eval::call_extension(func, &vals).map_err(|e| JsonError::new(path, e.to_string()))
}

/// Reads a JSON value as a Cedar value, with the declared type when known.
///
/// # Errors
/// A value that does not match its declared type, malformed escapes, nesting past the limit.
pub fn value_from_json(
    v: &serde_json::Value,
    expected: Option<&Type>,
    path: &dyn fmt::Display,
    depth: usize,
) -> Result<Value, JsonError> {
    // Stack-safe on small thread stacks at the depth limit (R3), as `eval` is.
    value_at(v, expected, path, depth, MAX_JSON_DEPTH)
}

/// `value_from_json` with a nesting `limit`.
fn value_at(
    v: &serde_json::Value,
    expected: Option<&Type>,
    path: &dyn fmt::Display,
    depth: usize,
    limit: usize,
) -> Result<Value, JsonError> {
    crate::stack::guarded(|| value_at_inner(v, expected, path, depth, limit))
}

fn value_at_inner(
    v: &serde_json::Value,
    expected: Option<&Type>,
    path: &dyn fmt::Display,
    depth: usize,
    limit: usize,
) -> Result<Value, JsonError> {
    use serde_json::Value as J;
    if depth > limit {
        return Err(JsonError::new(
            path,
            format!("value nesting is too deep (limit {limit}, found at least {depth})"),
        )
        .help("flatten the value; the limits are documented in docs/security.md"));
    }
    let mismatch =
        |want: &str| JsonError::new(path, format!("expected {want}, found {}", json_kind(v)));
    if let (None, J::Object(obj)) = (expected, v) {
        // Without a schema, Cedar's rules decide what is an escape; other objects are records.
        match escape_of(obj) {
            Some(Escape::Entity { ty, id }) => {
                check_type_name(ty, Sub(&path, ".__entity"))?;
                return Ok(Value::entity(Uid::new(ty, id)));
            }
            Some(Escape::Extn { func, args, single }) => {
                return extension_value(func, args, single, path, depth);
            }
            Some(Escape::Expr) => {
                return Err(
                    JsonError::new(path, "the `__expr` escape is no longer supported")
                        .help("write the value itself, or use `__entity` or `__extn`"),
                );
            }
            None => {}
        }
    }
    // Escapes first: they are explicit about their type.
    if let (Some(_), J::Object(obj)) = (expected, v) {
        if let Some(inner) = obj.get("__entity") {
            let uid = uid_at(inner, &Sub(&path, ".__entity"))?;
            return check_entity_type(uid, expected, path);
        }
        if let Some(inner) = obj.get("__extn") {
            let func = inner
                .get("fn")
                .and_then(J::as_str)
                .ok_or_else(|| JsonError::new(path, "`__extn` needs a `fn` string"))?;
            let ext = match (inner.get("arg"), inner.get("args")) {
                (Some(J::String(arg)), None) => {
                    ext_from_call(func, arg).map_err(|m| JsonError::new(path, m))?
                }
                (Some(arg), None) | (None, Some(arg)) => {
                    let items: Vec<&J> = match arg {
                        J::Array(items) => items.iter().collect(),
                        single => vec![single],
                    };
                    let mut vals = Vec::with_capacity(items.len());
                    for (i, item) in items.into_iter().enumerate() {
                        vals.push(value_from_json(
                            item,
                            None,
                            &Idx(&Sub(&path, ".__extn.args"), i),
                            depth + 1,
                        )?);
                    }
                    match crate::eval::call_extension(func, &vals) {
                        Ok(Value::Ext(ext)) => ext,
                        Ok(other) => {
                            return Err(JsonError::new(
                                path,
                                format!(
                                    "`{func}` returns a {}, not an extension value",
                                    other.type_name()
                                ),
                            ));
                        }
                        Err(e) => return Err(JsonError::new(path, e.to_string())),
                    }
                }
                _ => {
                    return Err(JsonError::new(
                        path,
                        "`__extn` needs an `arg` string or an `args` array",
                    ));
                }
            };
            if let Some(Type::Extension(name)) = expected {
                if !ext_matches(name, &ext) {
                    return Err(JsonError::new(
                        path,
                        format!(
                            "expected a `{name}` value, found a `{}`",
                            ext.ext_type().name()
                        ),
                    ));
                }
            } else if expected.is_some() {
                return Err(mismatch(&describe_type(expected)));
            }
            return Ok(Value::Ext(ext));
        }
    }
    match expected {
        None => match v {
            J::Bool(b) => Ok(Value::Bool(*b)),
            J::Number(n) => n
                .as_i64()
                .map(Value::Long)
                .ok_or_else(|| JsonError::new(path, format!("`{n}` is not a 64-bit integer"))),
            J::String(s) => Ok(Value::String(SmolStr::new(s))),
            J::Array(items) => {
                let mut set = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    set.insert(value_at(item, None, &Idx(&path, i), depth + 1, limit)?);
                }
                Ok(Value::Set(Arc::new(set)))
            }
            J::Object(obj) => Ok(Value::Record(Arc::new(record_fields_from_json(
                obj, None, path, depth, limit,
            )?))),
            J::Null => Err(JsonError::new(path, "`null` is not a value")
                .help("leave optional attributes out instead")),
        },
        Some(ty) => match (ty, v) {
            (Type::Bool, J::Bool(b)) => Ok(Value::Bool(*b)),
            (Type::Long, J::Number(n)) => n
                .as_i64()
                .map(Value::Long)
                .ok_or_else(|| JsonError::new(path, format!("`{n}` is not a 64-bit integer"))),
            (Type::String, J::String(s)) => Ok(Value::String(SmolStr::new(s))),
            (Type::Set(elem), J::Array(items)) => {
                let mut set = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    set.insert(value_at(
                        item,
                        Some(elem),
                        &Idx(&path, i),
                        depth + 1,
                        limit,
                    )?);
                }
                Ok(Value::Set(Arc::new(set)))
            }
            (Type::Record(rt), J::Object(obj)) => Ok(Value::Record(Arc::new(
                record_fields_from_json(obj, Some(rt), path, depth, limit)?,
            ))),
            (Type::Entity(_), J::Object(_)) => {
                let uid = uid_at(v, path)?;
                check_entity_type(uid, expected, path)
            }
            (Type::Extension(name), J::String(s)) => {
                let ext = ext_from_call(name, s).map_err(|m| JsonError::new(path, m))?;
                Ok(Value::Ext(ext))
            }
            _ => Err(mismatch(&describe_type(expected))),
        },
    }
}

fn ext_matches(name: &str, ext: &ExtValue) -> bool {
    matches!(
        (name, ext),
        ("decimal", ExtValue::Decimal(_))
            | ("ipaddr", ExtValue::IpAddr(_))
            | ("datetime", ExtValue::DateTime(_))
            | ("duration", ExtValue::Duration(_))
    )
}

fn check_entity_type(
    uid: Uid,
    expected: Option<&Type>,
    path: &dyn fmt::Display,
) -> Result<Value, JsonError> {
    match expected {
        None => Ok(Value::entity(uid)),
        Some(Type::Entity(ty)) if *ty == uid.ty => Ok(Value::entity(uid)),
        Some(Type::Entity(ty)) => Err(JsonError::new(
            path,
            format!("expected an entity of type `{ty}`, found `{uid}`"),
        )),
        Some(other) => Err(JsonError::new(
            path,
            format!("expected {}, found an entity", describe_type(Some(other))),
        )),
    }
}

fn describe_type(t: Option<&Type>) -> String {
    match t {
        None => "a value".into(),
        Some(Type::Bool) => "a boolean".into(),
        Some(Type::Long) => "an integer".into(),
        Some(Type::String) => "a string".into(),
        Some(Type::Set(_)) => "a set (JSON array)".into(),
        Some(Type::Record(_)) => "a record (JSON object)".into(),
        Some(Type::Entity(ty)) => format!("an entity of type `{ty}`"),
        Some(Type::Extension(name)) => format!("a `{name}` value"),
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Reads a request context (a JSON object), with the action's declared context type when known.
///
/// # Errors
/// As `value_from_json`; a context must be a record.
pub fn context_from_json(
    v: &serde_json::Value,
    expected: Option<&RecordType>,
    path: &dyn fmt::Display,
) -> Result<Value, JsonError> {
    match v {
        serde_json::Value::Object(obj) if escape_of(obj).is_some() => Err(JsonError::new(
            path,
            "the context must be a record, not an entity or extension value",
        )),
        serde_json::Value::Object(obj) => Ok(Value::Record(Arc::new(record_fields_from_json(
            obj,
            expected,
            path,
            1,
            MAX_CONTEXT_DEPTH,
        )?))),
        serde_json::Value::Null => Ok(Value::empty_record()),
        _ => Err(JsonError::new(path, "the context must be a JSON object")),
    }
}

/// One scalar context field, as the bindings read it straight from their host values (no JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextScalar {
    /// A boolean.
    Bool(bool),
    /// A 64-bit integer.
    Long(i64),
    /// A string.
    String(SmolStr),
}

/// The common case of [`context_from_json`] without JSON: a context whose fields are all
/// scalars, typed with the action's declared context type when known. `None` whenever the fields
/// are not exactly what the type declares (an undeclared or missing attribute, a scalar where
/// the type wants something else, such as an extension value or an entity): the caller then
/// reads the context with [`context_from_json`], which gives the error or the other typing.
/// When it returns a value, it is the value [`context_from_json`] gives for the same fields
/// (`fast_context_agrees_with_json` checks it).
pub fn context_from_scalars(
    fields: impl IntoIterator<Item = (SmolStr, ContextScalar)>,
    expected: Option<&RecordType>,
) -> Option<Value> {
    let mut out = BTreeMap::new();
    for (k, v) in fields {
        let ty = match expected {
            Some(shape) => match shape.attrs.get(k.as_str()) {
                Some(a) => Some(&a.ty),
                None if shape.additional_attributes => None,
                None => return None,
            },
            None => None,
        };
        let value = match (ty, v) {
            (None | Some(Type::Bool), ContextScalar::Bool(b)) => Value::Bool(b),
            (None | Some(Type::Long), ContextScalar::Long(n)) => Value::Long(n),
            (None | Some(Type::String), ContextScalar::String(s)) => Value::String(s),
            _ => return None,
        };
        out.insert(k, value);
    }
    if let Some(shape) = expected
        && check_required(&out, shape, &"").is_err()
    {
        return None;
    }
    Some(Value::Record(Arc::new(out)))
}

#[cfg(test)]
mod fast_context_tests {
    use super::{ContextScalar, context_from_json, context_from_scalars};
    use mandate_validate::schema::{AttrType, RecordType, Type};
    use smol_str::SmolStr;

    fn json_of(fields: &[(&str, ContextScalar)]) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for (k, v) in fields {
            let v = match v {
                ContextScalar::Bool(b) => serde_json::Value::Bool(*b),
                ContextScalar::Long(n) => serde_json::Value::from(*n),
                ContextScalar::String(s) => serde_json::Value::String(s.to_string()),
            };
            map.insert((*k).to_string(), v);
        }
        serde_json::Value::Object(map)
    }

    /// Whenever the scalar path gives a value, the JSON path gives the same one; the scalar path
    /// declines only what the JSON path rejects or types otherwise.
    #[test]
    fn fast_context_agrees_with_json() {
        let attr = |ty: Type, required: bool| AttrType { ty, required };
        let shape = RecordType {
            attrs: [
                ("approved".into(), attr(Type::Bool, true)),
                ("cost".into(), attr(Type::Long, true)),
                ("note".into(), attr(Type::String, false)),
                (
                    "when".into(),
                    attr(Type::Extension("datetime".into()), false),
                ),
                ("who".into(), attr(Type::Entity("User".into()), false)),
            ]
            .into_iter()
            .collect(),
            additional_attributes: false,
        };
        let open = RecordType {
            additional_attributes: true,
            ..shape.clone()
        };
        let b = ContextScalar::Bool;
        let l = ContextScalar::Long;
        let s = |x: &str| ContextScalar::String(x.into());
        let cases: Vec<Vec<(&str, ContextScalar)>> = vec![
            vec![],
            vec![("approved", b(true)), ("cost", l(3))],
            vec![("approved", b(false)), ("cost", l(-7)), ("note", s("hi"))],
            vec![("approved", b(true)), ("cost", l(3)), ("extra", l(1))],
            vec![("approved", b(true))],
            vec![("approved", l(1)), ("cost", l(3))],
            vec![("approved", b(true)), ("cost", s("3"))],
            vec![("approved", b(true)), ("cost", l(3)), ("note", b(true))],
            vec![
                ("approved", b(true)),
                ("cost", l(3)),
                ("when", s("2024-01-01")),
            ],
            vec![
                ("approved", b(true)),
                ("cost", l(3)),
                ("who", s("User::\"a\"")),
            ],
            vec![("approved", b(true)), ("cost", l(i64::MAX)), ("x", s(""))],
        ];
        for fields in &cases {
            let json = json_of(fields);
            for expected in [None, Some(&shape), Some(&open)] {
                let owned = fields.iter().map(|(k, v)| (SmolStr::new(k), v.clone()));
                let fast = context_from_scalars(owned, expected);
                let slow = context_from_json(&json, expected, &"$.context");
                if let Some(fast) = fast {
                    assert_eq!(Ok(fast), slow.map_err(|e| e.message), "{json} {expected:?}");
                }
            }
        }
        // The common shapes do take the scalar path.
        let ok = [("approved", b(true)), ("cost", l(3)), ("note", s("n"))];
        let owned = ok.iter().map(|(k, v)| (SmolStr::new(k), v.clone()));
        assert!(context_from_scalars(owned, Some(&shape)).is_some());
        let owned = ok.iter().map(|(k, v)| (SmolStr::new(k), v.clone()));
        assert!(context_from_scalars(owned, None).is_some());
    }
}

#[cfg(test)]
mod uid_str_tests {
    use super::{parse_plain_uid, parse_uid_with_parser};

    /// The parser-free path accepts only what the parser accepts, with the same result.
    #[test]
    fn plain_uids_agree_with_the_parser() {
        for s in [
            "Agent::\"a1\"",
            "Platform::Agent::\"research bot\"",
            "A::\"\"",
            "_x::Y_1::\"ünï\"",
            "Agent::\"quo\\\"te\"",
            "Agent::\"back\\\\slash\"",
            "Agent :: \"spaced\"",
            "if::\"x\"",
            "true::\"x\"",
            "Ns::in::\"x\"",
            "1Agent::\"x\"",
            "Agent::\"x\" ",
            "Agent::\"x\"\"",
            "Agent::\"x",
            "Agent\"x\"",
            "::\"x\"",
            "Agent::::\"x\"",
            "Agent::\"a\"::\"b\"",
            "__cedar::\"x\"",
            "permit::\"x\"",
            "Agent::\"tab\there\"",
        ] {
            let parsed = parse_uid_with_parser(s);
            if let Some(fast) = parse_plain_uid(s) {
                assert_eq!(Some(fast), parsed, "{s}");
            }
        }
        assert!(parse_plain_uid("Platform::Agent::\"a1\"").is_some());
    }
}
