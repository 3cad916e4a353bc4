//! Cedar schemas, in both of Cedar 4's formats, loaded into one resolved model.
//!
//! - [`Schema::from_cedarschema`] reads the Cedar schema format (`.cedarschema`), with
//!   namespaces, entity types (`in`, shapes, `tags`, `enum`), actions (`in`, `appliesTo`), common
//!   types (`type T = ...;`), annotations (accepted and dropped) and `//` comments.
//! - [`Schema::from_json_str`] and [`Schema::from_json_value`] read the JSON schema format.
//!
//! Both produce a [`Schema`] in which every name is fully qualified and every common type is
//! inlined, so the same schema in either format loads to equal values. Loading accepts exactly
//! the schemas Cedar 4 accepts, with the same name resolution; the rules are listed in
//! [`resolve`]'s documentation. Failures return every error found, each with a location (line
//! and column for text, a JSON path for JSON) and, where possible, a hint.
//!
//! Pipeline: text → ([`human`] | [`json`]) → [`raw`] declarations → [`resolve`] → [`model`].
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
