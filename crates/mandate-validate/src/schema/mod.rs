//! Cedar schemas, in both of Cedar 4's formats, loaded into one resolved model.
//!
//! - [`Schema::from_cedarschema`] reads the Cedar schema format (`.cedarschema`): namespaces,
//!   entity types (`in`, shapes, `tags`, `enum`), actions (`in`, `appliesTo`), common types
//!   (`type T = ...;`), annotations (accepted and dropped) and `//` comments.
//! - [`Schema::from_json_str`] and [`Schema::from_json_value`] read the JSON schema format.
//!
//! Both produce a [`Schema`] in which every name is fully qualified and every common type is
//! inlined, so the same schema in either format loads to equal values. Failures return every
//! error found, each with a location (line and column for text, a JSON path such as
//! `$.NS.entityTypes.User.shape` for JSON) and, where possible, a hint.
//!
//! Pipeline: text → `human` (lexer and parser) or `json` → `raw` declarations → `resolve` →
//! `model`.
//!
//! # What is accepted
//!
//! Exactly what Cedar 4 (`cedar-policy` 4.14) accepts, checked against it on the conformance
//! corpus and on generated schemas, except:
//! - types nested deeper than [`MAX_TYPE_DEPTH`] and schemas whose inlined common types exceed
//!   [`MAX_INLINED_TYPE_NODES`] are rejected (Cedar has no limit, and overflows its stack on very
//!   deep input);
//! - `external` entity types and actions (Cedar 4.14's schema linking, which makes a partial
//!   schema) are rejected as unsupported.
//!
//! # Name resolution
//!
//! As in Cedar 4 (`ConditionalName::resolve`, RFC 24, RFC 70):
//! - A name written with `::` means exactly that name. An unqualified name `X` written in
//!   namespace `NS` means `NS::X` if that is declared, else `X` in the empty namespace.
//! - At each candidate, in that order, a common type is preferred to an entity type. So within
//!   `NS`, `NS::X` (entity or common) wins over an `X` outside any namespace.
//! - The primitive and extension types are common types of the reserved `__cedar` namespace
//!   (`__cedar::Bool`, `Long`, `String`, `ipaddr`, `decimal`, `datetime`, `duration`), and the
//!   empty namespace has aliases `Bool`, `Long`, ... for them, unless the schema declares that name
//!   as an entity or common type in the empty namespace. A namespace may declare `entity String;`,
//!   which then wins inside that namespace; `__cedar::String` always means the primitive.
//!   `Boolean` is only the JSON format's spelling (`"type": "Boolean"`), not a type name.
//! - Each namespace with actions has the entity type `NS::Action` (or `Action`), which attribute
//!   types may name, but which cannot be a parent, principal or resource type.
//! - Parents (`in`, `memberOfTypes`) and `principal`/`resource` types name entity types only.
//!   `context: Name` and JSON `{"type": "Name"}` name common types only. JSON `Entity` names an
//!   entity type only; Cedar-format names and JSON `EntityOrCommon` may name either.
//! - A parent action `"a"` or `Action::"a"` written in `NS` means `NS::Action::"a"` if declared,
//!   else `Action::"a"`; `X::Action::"a"` means exactly that.
//! - Declaration rules: no repeated namespace, and no repeated entity type, common type or
//!   action in a namespace (an entity type and a common type may share a name); no entity type
//!   `Action`; no `__cedar` in declared names; no common type named `Bool`, `Boolean`, `Entity`,
//!   `Extension`, `Long`, `Record`, `Set` or `String`; nothing in a namespace may share its
//!   basename with an entity or common type of the empty namespace, nor an action id with an
//!   action of the empty namespace (RFC 70).
//! - Common types may not form cycles; actions may not be members of each other in a cycle
//!   (entity types may). Shapes and contexts must be record types; open records
//!   (`additionalAttributes: true`) and action attributes are rejected, as Cedar does by default.
//!
//! Cedar quirks kept for compatibility: a repeated attribute name in the Cedar format keeps the
//! last one; an action's empty `attributes {}` block is accepted; in JSON, namespaces, entity
//! types, actions, `appliesTo` and parent actions may be written as arrays of their field values
//! in declaration order (a `serde` behavior Cedar inherits).
//!
//! Limits: types nest at most [`MAX_TYPE_DEPTH`] levels (deeper input is an error, never a stack
//! overflow), and inlining common types may build at most [`MAX_INLINED_TYPE_NODES`] type nodes.

mod error;
mod human;
mod json;
mod model;
mod raw;
mod resolve;

pub use error::{SchemaError, SchemaErrorKind, SchemaErrors, SchemaLocation};
pub use model::{
    ActionDef, ActionId, AppliesTo, AttrType, EntityTypeDef, RecordType, Schema, Type,
};

/// The deepest a type may nest, counting each `Set` and record level (a record attribute of type
/// `Long` in an entity shape is at depth 2). Applies to types as written and after common types
/// are inlined. Cedar's own JSON reader stops at a comparable depth (`serde_json`'s 128 levels of
/// JSON nesting).
pub const MAX_TYPE_DEPTH: usize = 128;

/// The most type nodes that resolving a schema may build. Inlining common types that use other
/// common types several times grows exponentially; this bound keeps such a schema from
/// exhausting memory. Real schemas build a few thousand nodes at most.
pub const MAX_INLINED_TYPE_NODES: usize = 1_000_000;

impl Schema {
    /// Loads a schema in the Cedar schema format.
    ///
    /// # Errors
    /// Every syntax, declaration and resolution error found, located by line and column.
    pub fn from_cedarschema(src: &str) -> Result<Schema, SchemaErrors> {
        let locator = raw::Locator::for_text(src);
        let namespaces = human::parse(src, &locator).map_err(|errors| {
            let looks_like_json = src.trim_start().starts_with('{');
            if looks_like_json {
                add_help(
                    errors,
                    "this looks like a JSON schema; load it with `Schema::from_json_str`",
                )
            } else {
                errors
            }
        })?;
        resolve::resolve(&namespaces, &locator)
    }

    /// Loads a schema in the JSON schema format from text.
    ///
    /// Repeated keys are errors, as in Cedar. As in Cedar, JSON text may nest at most 128 levels.
    ///
    /// # Errors
    /// Invalid JSON (located by line and column), or every structure, declaration and resolution
    /// error found (located by JSON path, such as `$.NS.entityTypes.User.shape`).
    pub fn from_json_str(src: &str) -> Result<Schema, SchemaErrors> {
        let document = json::parse_text(src)?;
        Self::from_json_document(&document)
    }

    /// Loads a schema in the JSON schema format from a parsed JSON value.
    ///
    /// # Errors
    /// Every structure, declaration and resolution error found, located by JSON path.
    pub fn from_json_value(value: &serde_json::Value) -> Result<Schema, SchemaErrors> {
        let document = json::from_value(value)?;
        Self::from_json_document(&document)
    }

    fn from_json_document(document: &json::Json) -> Result<Schema, SchemaErrors> {
        let namespaces = json::walk(document)?;
        resolve::resolve(&namespaces, &raw::Locator::for_json())
    }
}

/// Adds `help` to the first error if it has none.
fn add_help(errors: SchemaErrors, help: &str) -> SchemaErrors {
    let mut errors = errors.into_vec();
    if let Some(first) = errors.first_mut()
        && first.help.is_none()
    {
        first.help = Some(help.to_owned());
    }
    SchemaErrors::from_vec(errors)
        .unwrap_or_else(|| SchemaErrors::one(SchemaError::new(SchemaErrorKind::Syntax, help, None)))
}

#[cfg(test)]
mod tests;
