//! The Cedar JSON schema format, read into [`RawNamespace`]s with the same checks Cedar's
//! deserializer makes: required and unknown fields, duplicate keys, field/type combinations,
//! identifier syntax. Errors are located by JSON path, such as `$.NS.entityTypes.User.shape`.
//!
//! JSON is first read into [`Json`], which (unlike `serde_json::Value`) keeps repeated object keys
//! so they can be reported, and which bounds nesting depth.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use smol_str::SmolStr;

use super::MAX_TYPE_DEPTH;
use super::error::{
    LineIndex, SchemaError, SchemaErrorKind, SchemaErrors, SchemaLocation, did_you_mean,
};
use super::human::is_reserved_word;
use super::raw::{
    Origin, RawAction, RawActionRef, RawAppliesTo, RawAttr, RawCommonType, RawEntityKind,
    RawEntityType, RawName, RawNamespace, RawRecord, RawType, RawTypeKind, empty_record,
};

/// The deepest JSON nesting accepted from a `serde_json::Value`: enough for a type nested
/// [`MAX_TYPE_DEPTH`] levels (each record level takes two JSON levels) plus the enclosing
/// namespace structure. (JSON text is limited further, to 128, by `serde_json`, as in Cedar.)
const MAX_JSON_DEPTH: usize = 2 * MAX_TYPE_DEPTH + 8;

/// A JSON value that keeps object entries in order, repeated keys included.
#[derive(Debug)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number,
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn describe(&self) -> &'static str {
        match self {
            Json::Null => "`null`",
            Json::Bool(_) => "a boolean",
            Json::Number => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Deserializes a [`Json`] at nesting `depth`, failing beyond [`MAX_JSON_DEPTH`].
#[derive(Clone, Copy)]
struct JsonSeed {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for JsonSeed {
    type Value = Json;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonSeed {
    type Value = Json;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Json, E> {
        Ok(Json::Bool(value))
    }
    fn visit_i64<E: de::Error>(self, _value: i64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_u64<E: de::Error>(self, _value: u64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<Json, E> {
        Ok(Json::Number)
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Json, E> {
        Ok(Json::String(value.to_owned()))
    }
    fn visit_string<E: de::Error>(self, value: String) -> Result<Json, E> {
        Ok(Json::String(value))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let inner = self.nested()?;
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(inner)?;
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

impl JsonSeed {
    fn nested<E: de::Error>(self) -> Result<JsonSeed, E> {
        if self.depth >= MAX_JSON_DEPTH {
            Err(E::custom(format_args!(
                "JSON nesting exceeds the limit of {MAX_JSON_DEPTH} levels"
            )))
        } else {
            Ok(JsonSeed {
                depth: self.depth + 1,
            })
        }
    }
}

/// Reads JSON text, reporting syntax errors by line and column.
pub(crate) fn parse_text(src: &str) -> Result<Json, SchemaErrors> {
    let mut deserializer = serde_json::Deserializer::from_str(src);
    let result = JsonSeed { depth: 0 }
        .deserialize(&mut deserializer)
        .and_then(|json| deserializer.end().map(|()| json));
    result.map_err(|error| {
        let lines = LineIndex::new(src);
        let offset = lines.offset_of(error.line(), error.column());
        let full = error.to_string();
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        let kind = if message.contains("recursion limit") || message.contains("nesting exceeds") {
            SchemaErrorKind::TooDeep
        } else {
            SchemaErrorKind::Syntax
        };
        let schema_error = SchemaError::new(
            kind,
            format!("invalid JSON: {message}"),
            Some(lines.locate(offset, offset)),
        );
        let looks_like_cedar = src.trim_start().chars().next().is_some_and(|c| c != '{');
        SchemaErrors::one(if looks_like_cedar {
            schema_error.with_help(
                "this looks like the Cedar schema format; load it with `Schema::from_cedarschema`",
            )
        } else {
            schema_error
        })
    })
}

/// Converts a `serde_json::Value`, bounding its depth.
pub(crate) fn from_value(value: &serde_json::Value) -> Result<Json, SchemaErrors> {
    JsonSeed { depth: 0 }.deserialize(value).map_err(|error| {
        SchemaErrors::one(SchemaError::new(
            SchemaErrorKind::TooDeep,
            error.to_string(),
            Some(SchemaLocation::Json {
                path: "$".to_owned(),
            }),
        ))
    })
}

/// Reads a JSON schema document into namespaces.
pub(crate) fn walk(root: &Json) -> Result<Vec<RawNamespace>, SchemaErrors> {
    let mut walker = Walker { errors: Vec::new() };
    let namespaces = walker.walk_root(root);
    if walker.errors.is_empty() {
        return Ok(namespaces);
    }
    // Cedar's hint for a schema whose namespace wrapper was forgotten.
    if let Json::Object(entries) = root {
        let misplaced: Vec<&str> = entries
            .iter()
            .map(|(key, _)| key.as_str())
            .filter(|key| matches!(*key, "entityTypes" | "actions" | "commonTypes"))
            .collect();
        if !misplaced.is_empty() {
            for error in &mut walker.errors {
                let in_misplaced = matches!(&error.location, Some(SchemaLocation::Json { path })
                    if misplaced.iter().any(|key| path == &format!("$.{key}") || path.starts_with(&format!("$.{key}."))));
                if in_misplaced && error.help.is_none() {
                    error.help = Some(
                        "a JSON schema maps namespace names to definitions; for the empty namespace write `{\"\": {\"entityTypes\": ..., \"actions\": ...}}`"
                            .to_owned(),
                    );
                }
            }
        }
    }
    Err(SchemaErrors::from_vec(walker.errors).unwrap_or_else(|| {
        SchemaErrors::one(SchemaError::new(
            SchemaErrorKind::JsonStructure,
            "internal error: no errors recorded; please file an issue",
            None,
        ))
    }))
}

/// `path` extended by an object key: `.key` for plain names (`::` allowed), else `["key"]`.
fn key_path(path: &str, key: &str) -> String {
    let plain = key.split("::").all(is_identifier);
    if plain {
        format!("{path}.{key}")
    } else {
        let quoted =
            serde_json::to_string(key).unwrap_or_else(|_| format!("\"{}\"", key.escape_debug()));
        format!("{path}[{quoted}]")
    }
}

fn index_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// `[_a-zA-Z][_a-zA-Z0-9]*`.
pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first == '_' || first.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Where a type object appears, which decides the extra fields it may have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TypeSite {
    /// Shapes, contexts, tags, set elements: only type fields.
    Plain,
    /// A record attribute: also `required` and `annotations`.
    Attribute,
    /// A common type definition: also `annotations`.
    CommonDef,
}

const TYPE_FIELDS: [&str; 5] = [
    "type",
    "element",
    "attributes",
    "additionalAttributes",
    "name",
];

// The fields of the parts of a schema that Cedar reads with derived `serde` deserializers, in
// declaration order. Such a part may also be written as a JSON array of field values in this
// order (a `serde` feature Cedar inherits, so `"User": []` is a valid entity type).
const NAMESPACE_FIELDS: &[&str] = &["commonTypes", "entityTypes", "actions", "annotations"];
// (The order is Cedar 4.14's, which added `external`.)
const ENTITY_TYPE_FIELDS: &[&str] = &[
    "memberOfTypes",
    "shape",
    "tags",
    "enum",
    "external",
    "annotations",
];
const ACTION_FIELDS: &[&str] = &[
    "attributes",
    "appliesTo",
    "memberOf",
    "external",
    "annotations",
];
const APPLIES_TO_FIELDS: &[&str] = &["resourceTypes", "principalTypes", "context"];
const ACTION_REF_FIELDS: &[&str] = &["id", "type"];

/// Help for Cedar 4.14's `external` declarations.
pub(crate) const EXTERNAL_HELP: &str = "`external` declarations (Cedar 4.14 schema linking, RFC 116) make a partial schema, which Mandate does not load; declare the entity type or action in full";

struct Walker {
    errors: Vec<SchemaError>,
}

impl Walker {
    fn push(
        &mut self,
        kind: SchemaErrorKind,
        path: &str,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.errors.push(
            SchemaError::new(
                kind,
                message,
                Some(SchemaLocation::Json {
                    path: path.to_owned(),
                }),
            )
            .with_opt_help(help),
        );
    }

    fn structure(&mut self, path: &str, message: impl Into<String>) {
        self.push(SchemaErrorKind::JsonStructure, path, message, None);
    }

    /// The entries of an object (first occurrence of each key; repeats are reported).
    fn object<'j>(
        &mut self,
        node: &'j Json,
        path: &str,
        what: &str,
    ) -> Option<BTreeMap<&'j str, &'j Json>> {
        let Json::Object(entries) = node else {
            self.structure(
                path,
                format!("expected {what} (a JSON object), found {}", node.describe()),
            );
            return None;
        };
        let mut map: BTreeMap<&'j str, &'j Json> = BTreeMap::new();
        for (key, value) in entries {
            if map.contains_key(key.as_str()) {
                self.structure(&key_path(path, key), format!("duplicate key `{key}`"));
            } else {
                map.insert(key.as_str(), value);
            }
        }
        Some(map)
    }

    /// The fields of a part that Cedar also accepts in positional form (see `NAMESPACE_FIELDS`):
    /// an object, or an array of at most `fields.len()` values taken as those fields in order.
    fn record<'j>(
        &mut self,
        node: &'j Json,
        path: &str,
        what: &str,
        fields: &[&'static str],
    ) -> Option<BTreeMap<&'j str, &'j Json>> {
        let Json::Array(items) = node else {
            return self.object(node, path, what);
        };
        if items.len() > fields.len() {
            self.push(
                SchemaErrorKind::JsonStructure,
                path,
                format!("expected {what}, found an array of {} values", items.len()),
                Some(format!(
                    "write an object; an array is read as the values of {} in that order",
                    fields
                        .iter()
                        .map(|field| format!("`{field}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            return None;
        }
        Some(fields.iter().copied().zip(items.iter()).collect())
    }

    /// Like [`Walker::object`], but keeps declaration order (for maps of declarations).
    fn ordered_object<'j>(
        &mut self,
        node: &'j Json,
        path: &str,
        what: &str,
    ) -> Option<Vec<(&'j str, &'j Json)>> {
        let Json::Object(entries) = node else {
            self.structure(
                path,
                format!("expected {what} (a JSON object), found {}", node.describe()),
            );
            return None;
        };
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            if seen.insert(key.as_str(), ()).is_some() {
                self.structure(&key_path(path, key), format!("duplicate key `{key}`"));
            } else {
                out.push((key.as_str(), value));
            }
        }
        Some(out)
    }

    /// Reports fields of `fields` not in `allowed`.
    fn unknown_fields(
        &mut self,
        fields: &BTreeMap<&str, &Json>,
        allowed: &[&str],
        path: &str,
        context: &str,
    ) {
        for key in fields.keys() {
            if !allowed.contains(key) {
                let expected = allowed
                    .iter()
                    .map(|field| format!("`{field}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let help = did_you_mean(key, allowed.iter().copied())
                    .unwrap_or_else(|| format!("the fields allowed here are {expected}"));
                self.push(
                    SchemaErrorKind::JsonStructure,
                    &key_path(path, key),
                    format!("unknown field `{key}` in {context}"),
                    Some(help),
                );
            }
        }
    }

    /// Checks Cedar 4.14's `external` flag: `false` is the default and accepted; `true` declares
    /// a partial schema, which is not supported here. Cedar accepts `null` (meaning `false`) on
    /// actions but not on entity types.
    fn external(&mut self, fields: &BTreeMap<&str, &Json>, path: &str, what: &str) {
        match fields.get("external") {
            None | Some(Json::Bool(false)) => {}
            Some(Json::Null) if what == "action" => {}
            Some(Json::Bool(true)) => self.push(
                SchemaErrorKind::Unsupported,
                &key_path(path, "external"),
                format!("external {what} declarations are not supported"),
                Some(EXTERNAL_HELP.to_owned()),
            ),
            Some(other) => self.structure(
                &key_path(path, "external"),
                format!(
                    "expected `external` to be a boolean, found {}",
                    other.describe()
                ),
            ),
        }
    }

    fn string<'j>(&mut self, node: &'j Json, path: &str, what: &str) -> Option<&'j str> {
        if let Json::String(text) = node {
            Some(text)
        } else {
            self.structure(
                path,
                format!("expected {what} (a string), found {}", node.describe()),
            );
            None
        }
    }

    fn array<'j>(&mut self, node: &'j Json, path: &str, what: &str) -> Option<&'j [Json]> {
        if let Json::Array(items) = node {
            Some(items)
        } else {
            self.structure(
                path,
                format!("expected {what} (an array), found {}", node.describe()),
            );
            None
        }
    }

    /// Checks `text` is identifiers joined by `::`, none of them a reserved word.
    fn check_name(&mut self, text: &str, path: &str, what: &str) -> bool {
        if text
            .split("::")
            .all(|part| is_identifier(part) && !is_reserved_word(part))
        {
            return true;
        }
        let reserved = text.split("::").find(|part| is_reserved_word(part));
        let help = match reserved {
            Some(word) => format!("`{word}` is a reserved identifier"),
            None => {
                "a name is identifiers (`[_a-zA-Z][_a-zA-Z0-9]*`) joined by `::`, with no spaces"
                    .to_owned()
            }
        };
        self.push(
            SchemaErrorKind::JsonStructure,
            path,
            format!("invalid {what} `{}`", text.escape_debug()),
            Some(help),
        );
        false
    }

    /// Checks `text` is one identifier that is not a reserved word.
    fn check_identifier(&mut self, text: &str, path: &str, what: &str) -> bool {
        if is_identifier(text) && !is_reserved_word(text) {
            return true;
        }
        let help = if is_reserved_word(text) {
            format!("`{text}` is a reserved identifier")
        } else if text.contains("::") {
            "write a single identifier here; the namespace comes from the enclosing namespace"
                .to_owned()
        } else {
            "an identifier is `[_a-zA-Z][_a-zA-Z0-9]*`".to_owned()
        };
        self.push(
            SchemaErrorKind::JsonStructure,
            path,
            format!("invalid {what} `{}`", text.escape_debug()),
            Some(help),
        );
        false
    }

    fn name(&mut self, node: &Json, path: &str, what: &str) -> Option<RawName> {
        let text = self.string(node, path, what)?;
        self.check_name(text, path, what).then(|| RawName {
            text: SmolStr::new(text),
            origin: Origin::Json(path.to_owned()),
        })
    }

    fn annotations(&mut self, node: &Json, path: &str) -> usize {
        let Some(entries) = self.ordered_object(node, path, "annotations") else {
            return 0;
        };
        for (key, value) in &entries {
            let entry_path = key_path(path, key);
            if !is_identifier(key) {
                self.structure(
                    &entry_path,
                    format!("invalid annotation key `{}`", key.escape_debug()),
                );
            }
            if !matches!(value, Json::String(_) | Json::Null) {
                self.structure(
                    &entry_path,
                    format!(
                        "expected an annotation value (a string or `null`), found {}",
                        value.describe()
                    ),
                );
            }
        }
        entries.len()
    }

    fn walk_root(&mut self, root: &Json) -> Vec<RawNamespace> {
        let Some(entries) = self.ordered_object(
            root,
            "$",
            "a schema mapping namespace names to namespace definitions",
        ) else {
            return Vec::new();
        };
        let mut namespaces = Vec::new();
        for (key, value) in entries {
            let path = key_path("$", key);
            let name = if key.is_empty() {
                None
            } else if self.check_name(key, &path, "namespace name") {
                Some(RawName {
                    text: SmolStr::new(key),
                    origin: Origin::Json(path.clone()),
                })
            } else {
                continue;
            };
            if let Some(namespace) = self.walk_namespace(value, &path, name) {
                namespaces.push(namespace);
            }
        }
        namespaces
    }

    fn walk_namespace(
        &mut self,
        node: &Json,
        path: &str,
        name: Option<RawName>,
    ) -> Option<RawNamespace> {
        let fields = self.record(node, path, "a namespace definition", NAMESPACE_FIELDS)?;
        self.unknown_fields(
            &fields,
            &["entityTypes", "actions", "commonTypes", "annotations"],
            path,
            "a namespace definition",
        );
        if let Some(annotations) = fields.get("annotations") {
            let count = self.annotations(annotations, &key_path(path, "annotations"));
            if name.is_none() && count > 0 {
                self.structure(
                    &key_path(path, "annotations"),
                    "annotations are not allowed on the empty namespace",
                );
            }
        }
        let mut namespace = RawNamespace {
            name,
            common_types: Vec::new(),
            entity_types: Vec::new(),
            actions: Vec::new(),
        };
        if let Some(common_types) = fields.get("commonTypes") {
            let common_path = key_path(path, "commonTypes");
            for (key, value) in self
                .ordered_object(common_types, &common_path, "`commonTypes`")
                .unwrap_or_default()
            {
                let type_path = key_path(&common_path, key);
                let valid = self.check_identifier(key, &type_path, "common type name");
                if let Some((ty, _)) = self.walk_type(value, &type_path, TypeSite::CommonDef, 1)
                    && valid
                {
                    namespace.common_types.push(RawCommonType {
                        name: SmolStr::new(key),
                        origin: Origin::Json(type_path),
                        ty,
                    });
                }
            }
        }
        match fields.get("entityTypes") {
            None => self.structure(
                path,
                "missing field `entityTypes` in a namespace definition",
            ),
            Some(entity_types) => {
                let entity_path = key_path(path, "entityTypes");
                for (key, value) in self
                    .ordered_object(entity_types, &entity_path, "`entityTypes`")
                    .unwrap_or_default()
                {
                    let type_path = key_path(&entity_path, key);
                    let valid = self.check_identifier(key, &type_path, "entity type name");
                    if let Some(kind) = self.walk_entity_type(value, &type_path)
                        && valid
                    {
                        namespace.entity_types.push(RawEntityType {
                            name: SmolStr::new(key),
                            origin: Origin::Json(type_path),
                            kind,
                        });
                    }
                }
            }
        }
        match fields.get("actions") {
            None => self.structure(path, "missing field `actions` in a namespace definition"),
            Some(actions) => {
                let actions_path = key_path(path, "actions");
                for (key, value) in self
                    .ordered_object(actions, &actions_path, "`actions`")
                    .unwrap_or_default()
                {
                    let action_path = key_path(&actions_path, key);
                    if let Some(action) = self.walk_action(key, value, &action_path) {
                        namespace.actions.push(action);
                    }
                }
            }
        }
        Some(namespace)
    }

    fn walk_entity_type(&mut self, node: &Json, path: &str) -> Option<RawEntityKind> {
        let fields = self.record(node, path, "an entity type definition", ENTITY_TYPE_FIELDS)?;
        self.unknown_fields(
            &fields,
            ENTITY_TYPE_FIELDS,
            path,
            "an entity type definition",
        );
        self.external(&fields, path, "entity type");
        for key in ["memberOfTypes", "shape", "tags", "enum"] {
            if matches!(fields.get(key), Some(Json::Null)) {
                self.push(
                    SchemaErrorKind::JsonStructure,
                    &key_path(path, key),
                    format!("`{key}` cannot be `null`"),
                    Some(format!("omit `{key}` instead")),
                );
            }
        }
        if let Some(annotations) = fields.get("annotations") {
            self.annotations(annotations, &key_path(path, "annotations"));
        }
        if let Some(choices) = fields
            .get("enum")
            .filter(|value| !matches!(value, Json::Null))
        {
            for key in ["memberOfTypes", "shape", "tags"] {
                if fields.contains_key(key) {
                    self.structure(
                        &key_path(path, key),
                        format!("unexpected field `{key}` in an enumerated entity type"),
                    );
                }
            }
            let enum_path = key_path(path, "enum");
            let items = self.array(choices, &enum_path, "`enum`")?;
            if items.is_empty() {
                self.structure(&enum_path, "`enum` must list at least one entity id");
            }
            let mut ids = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                if let Some(id) = self.string(item, &index_path(&enum_path, index), "an entity id")
                {
                    ids.push(SmolStr::new(id));
                }
            }
            return Some(RawEntityKind::Enum(ids));
        }
        let mut parents = Vec::new();
        if let Some(member_of) = fields
            .get("memberOfTypes")
            .filter(|value| !matches!(value, Json::Null))
        {
            let member_path = key_path(path, "memberOfTypes");
            for (index, item) in self
                .array(member_of, &member_path, "`memberOfTypes`")
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if let Some(name) =
                    self.name(item, &index_path(&member_path, index), "entity type name")
                {
                    parents.push(name);
                }
            }
        }
        let shape = match fields.get("shape") {
            Some(Json::Null) => empty_record(Origin::Json(path.to_owned())),
            Some(shape) => {
                let shape_path = key_path(path, "shape");
                self.walk_type(shape, &shape_path, TypeSite::Plain, 1)
                    .map(|(ty, _)| ty)?
            }
            None => empty_record(Origin::Json(path.to_owned())),
        };
        let tags = match fields.get("tags") {
            None | Some(Json::Null) => None,
            Some(tags) => Some(
                self.walk_type(tags, &key_path(path, "tags"), TypeSite::Plain, 1)
                    .map(|(ty, _)| ty)?,
            ),
        };
        Some(RawEntityKind::Standard {
            parents,
            shape,
            tags,
        })
    }

    fn walk_action(&mut self, name: &str, node: &Json, path: &str) -> Option<RawAction> {
        let fields = self.record(node, path, "an action definition", ACTION_FIELDS)?;
        self.unknown_fields(&fields, ACTION_FIELDS, path, "an action definition");
        self.external(&fields, path, "action");
        if let Some(annotations) = fields.get("annotations") {
            self.annotations(annotations, &key_path(path, "annotations"));
        }
        if let Some(attributes) = fields.get("attributes")
            && !matches!(attributes, Json::Null)
        {
            self.push(
                SchemaErrorKind::Unsupported,
                &key_path(path, "attributes"),
                format!("action `{}` declares attributes", name.escape_debug()),
                Some("Cedar does not support action attributes; remove `attributes`".to_owned()),
            );
        }
        let mut member_of = Vec::new();
        if let Some(parents) = fields.get("memberOf")
            && !matches!(parents, Json::Null)
        {
            let member_path = key_path(path, "memberOf");
            for (index, item) in self
                .array(parents, &member_path, "`memberOf`")
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if let Some(parent) = self.walk_action_ref(item, &index_path(&member_path, index)) {
                    member_of.push(parent);
                }
            }
        }
        let applies_to = match fields.get("appliesTo") {
            None | Some(Json::Null) => None,
            Some(applies_to) => {
                Some(self.walk_applies_to(applies_to, &key_path(path, "appliesTo"))?)
            }
        };
        Some(RawAction {
            name: SmolStr::new(name),
            origin: Origin::Json(path.to_owned()),
            member_of,
            applies_to,
        })
    }

    fn walk_action_ref(&mut self, node: &Json, path: &str) -> Option<RawActionRef> {
        let fields = self.record(
            node,
            path,
            "a parent action (`{\"id\": ..., \"type\": ...}`)",
            ACTION_REF_FIELDS,
        )?;
        self.unknown_fields(&fields, &["id", "type"], path, "a parent action");
        let ty = match fields.get("type") {
            None | Some(Json::Null) => None,
            Some(ty) => Some(self.name(ty, &key_path(path, "type"), "action type name")?),
        };
        let Some(id) = fields.get("id") else {
            self.structure(path, "missing field `id` in a parent action");
            return None;
        };
        let id = self.string(id, &key_path(path, "id"), "an action id")?;
        Some(RawActionRef {
            ty,
            id: SmolStr::new(id),
            origin: Origin::Json(path.to_owned()),
        })
    }

    fn walk_applies_to(&mut self, node: &Json, path: &str) -> Option<RawAppliesTo> {
        let fields = self.record(node, path, "`appliesTo`", APPLIES_TO_FIELDS)?;
        self.unknown_fields(
            &fields,
            &["principalTypes", "resourceTypes", "context"],
            path,
            "`appliesTo`",
        );
        let mut lists = [Vec::new(), Vec::new()];
        let mut complete = true;
        for (slot, key) in lists.iter_mut().zip(["principalTypes", "resourceTypes"]) {
            let Some(list) = fields.get(key) else {
                self.structure(path, format!("missing field `{key}` in `appliesTo`"));
                complete = false;
                continue;
            };
            let list_path = key_path(path, key);
            for (index, item) in self
                .array(list, &list_path, &format!("`{key}`"))
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                if let Some(name) =
                    self.name(item, &index_path(&list_path, index), "entity type name")
                {
                    slot.push(name);
                }
            }
        }
        let context = match fields.get("context") {
            Some(context) => self
                .walk_type(context, &key_path(path, "context"), TypeSite::Plain, 1)
                .map(|(ty, _)| ty)?,
            None => empty_record(Origin::Json(path.to_owned())),
        };
        let [principal_types, resource_types] = lists;
        complete.then_some(RawAppliesTo {
            principal_types,
            resource_types,
            context,
        })
    }

    /// Reports type fields that the type `type_name` does not take.
    fn unexpected_type_fields(
        &mut self,
        fields: &BTreeMap<&str, &Json>,
        not_allowed: &[&str],
        type_name: &str,
        path: &str,
    ) {
        for key in not_allowed {
            if fields.contains_key(key) {
                self.structure(
                    &key_path(path, key),
                    format!(
                        "unexpected field `{key}` for type `{}`",
                        type_name.escape_debug()
                    ),
                );
            }
        }
    }

    /// A type object at nesting `level`; also returns `required` (always `true` outside attributes).
    fn walk_type(
        &mut self,
        node: &Json,
        path: &str,
        site: TypeSite,
        level: usize,
    ) -> Option<(RawType, bool)> {
        if level > MAX_TYPE_DEPTH {
            self.push(
                SchemaErrorKind::TooDeep,
                path,
                format!("type nesting exceeds the limit of {MAX_TYPE_DEPTH} levels"),
                Some("flatten the type, or name inner parts in `commonTypes`".to_owned()),
            );
            return None;
        }
        let fields = self.object(node, path, "a type")?;
        let mut allowed: Vec<&str> = TYPE_FIELDS.to_vec();
        match site {
            TypeSite::Plain => {}
            TypeSite::Attribute => allowed.extend(["required", "annotations"]),
            TypeSite::CommonDef => allowed.push("annotations"),
        }
        let context = match site {
            TypeSite::Plain => "a type",
            TypeSite::Attribute => "an attribute type",
            TypeSite::CommonDef => "a common type definition",
        };
        self.unknown_fields(&fields, &allowed, path, context);
        if site != TypeSite::Plain
            && let Some(annotations) = fields.get("annotations")
        {
            self.annotations(annotations, &key_path(path, "annotations"));
        }
        let mut required = true;
        if site == TypeSite::Attribute
            && let Some(value) = fields.get("required")
        {
            match value {
                Json::Bool(flag) => required = *flag,
                other => self.structure(
                    &key_path(path, "required"),
                    format!(
                        "expected `required` to be a boolean, found {}",
                        other.describe()
                    ),
                ),
            }
        }
        let Some(type_node) = fields.get("type") else {
            self.structure(path, format!("missing field `type` in {context}"));
            return None;
        };
        let type_name = self.string(type_node, &key_path(path, "type"), "a type name")?;
        let origin = Origin::Json(path.to_owned());
        let name_field = |walker: &mut Self, what: &str| -> Option<&Json> {
            let found = fields.get("name").copied();
            if found.is_none() {
                walker.structure(
                    path,
                    format!("missing field `name` for type `{type_name}` ({what})"),
                );
            }
            found
        };
        let kind = match type_name {
            "String" | "Long" | "Boolean" => {
                self.unexpected_type_fields(
                    &fields,
                    &["element", "attributes", "additionalAttributes", "name"],
                    type_name,
                    path,
                );
                match type_name {
                    "String" => RawTypeKind::String,
                    "Long" => RawTypeKind::Long,
                    _ => RawTypeKind::Bool,
                }
            }
            "Set" => {
                self.unexpected_type_fields(
                    &fields,
                    &["attributes", "additionalAttributes", "name"],
                    type_name,
                    path,
                );
                let Some(element) = fields.get("element") else {
                    self.structure(path, "missing field `element` for type `Set`");
                    return None;
                };
                let (element, _) = self.walk_type(
                    element,
                    &key_path(path, "element"),
                    TypeSite::Plain,
                    level + 1,
                )?;
                RawTypeKind::Set(Box::new(element))
            }
            "Record" => {
                self.unexpected_type_fields(&fields, &["element", "name"], type_name, path);
                let additional_attributes = match fields.get("additionalAttributes") {
                    None => false,
                    Some(Json::Bool(flag)) => *flag,
                    Some(other) => {
                        self.structure(
                            &key_path(path, "additionalAttributes"),
                            format!(
                                "expected `additionalAttributes` to be a boolean, found {}",
                                other.describe()
                            ),
                        );
                        false
                    }
                };
                let Some(attributes) = fields.get("attributes") else {
                    self.structure(path, "missing field `attributes` for type `Record`");
                    return None;
                };
                let attributes_path = key_path(path, "attributes");
                let entries = self.ordered_object(attributes, &attributes_path, "`attributes`")?;
                let mut record = RawRecord {
                    attrs: Vec::with_capacity(entries.len()),
                    additional_attributes,
                };
                let mut complete = true;
                for (key, value) in entries {
                    match self.walk_type(
                        value,
                        &key_path(&attributes_path, key),
                        TypeSite::Attribute,
                        level + 1,
                    ) {
                        Some((ty, required)) => record.attrs.push(RawAttr {
                            name: SmolStr::new(key),
                            required,
                            ty,
                        }),
                        None => complete = false,
                    }
                }
                if !complete {
                    return None;
                }
                RawTypeKind::Record(record)
            }
            "Entity" | "EntityOrCommon" => {
                self.unexpected_type_fields(
                    &fields,
                    &["element", "attributes", "additionalAttributes"],
                    type_name,
                    path,
                );
                let what = if type_name == "Entity" {
                    "the entity type"
                } else {
                    "the entity or common type"
                };
                let name_node = name_field(self, what)?;
                let name = self.name(name_node, &key_path(path, "name"), "type name")?;
                let name = RawName {
                    text: name.text,
                    origin: origin.clone(),
                };
                if type_name == "Entity" {
                    RawTypeKind::Entity(name)
                } else {
                    RawTypeKind::EntityOrCommon(name)
                }
            }
            "Extension" => {
                self.unexpected_type_fields(
                    &fields,
                    &["element", "attributes", "additionalAttributes"],
                    type_name,
                    path,
                );
                let name_path = key_path(path, "name");
                let name_node = name_field(self, "the extension type")?;
                let name = self.string(name_node, &name_path, "an extension type name")?;
                if !self.check_identifier(name, &name_path, "extension type name") {
                    return None;
                }
                RawTypeKind::Extension(RawName {
                    text: SmolStr::new(name),
                    origin: origin.clone(),
                })
            }
            other => {
                self.unexpected_type_fields(
                    &fields,
                    &["element", "attributes", "additionalAttributes", "name"],
                    other,
                    path,
                );
                if !self.check_name(other, &key_path(path, "type"), "common type name") {
                    return None;
                }
                RawTypeKind::Common(RawName {
                    text: SmolStr::new(other),
                    origin: origin.clone(),
                })
            }
        };
        Some((RawType { kind, origin }, required))
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    #[test]
    fn key_paths_quote_keys_that_are_not_names() {
        assert_eq!(key_path("$", "NS::Inner"), "$.NS::Inner");
        assert_eq!(key_path("$", ""), "$[\"\"]");
        assert_eq!(key_path("$.a", "b c"), "$.a[\"b c\"]");
        assert_eq!(index_path("$.a", 3), "$.a[3]");
    }

    #[test]
    fn repeated_keys_are_kept() {
        let json = parse_text(r#"{"a": 1, "a": [true, null, "x"]}"#).unwrap();
        assert!(
            matches!(json, Json::Object(ref entries) if entries.len() == 2),
            "{json:?}"
        );
    }

    #[test]
    fn a_syntax_error_inside_a_multibyte_character_is_located_on_its_start() {
        // Found by the `schema_parse_no_panic` fuzz target (an unterminated string ending in
        // U+FFFD): serde_json's byte column pointed inside the last character.
        let src = "[\"idtocn\u{FFFD}\u{FFFD}";
        let errors = parse_text(src).unwrap_err();
        for e in errors.iter() {
            if let Some(SchemaLocation::Text { start, end, .. }) = e.location {
                assert!(
                    src.is_char_boundary(start) && src.is_char_boundary(end),
                    "{e:?}"
                );
            }
        }
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let errors = parse_text("{\n  \"a\": ,\n}").unwrap_err();
        let text = errors.to_string();
        assert!(
            text.starts_with("2:8: invalid JSON: expected value"),
            "{text}"
        );
    }

    #[test]
    fn deep_values_are_rejected_without_overflow() {
        let mut value = serde_json::Value::Null;
        for _ in 0..100_000 {
            value = serde_json::Value::Array(vec![value]);
        }
        let result = from_value(&value);
        assert!(
            matches!(result, Err(ref errors) if errors.first().is_some_and(|e| e.kind == SchemaErrorKind::TooDeep))
        );
        // Dropping a deeply nested `Value` recurses in serde_json; unwind it iteratively.
        let mut current = value;
        while let serde_json::Value::Array(mut items) = current {
            current = items.pop().unwrap_or(serde_json::Value::Null);
        }
    }
}
