//! The unresolved form both front ends produce: declarations per namespace, with type names as
//! written. [`super::resolve`] turns it into the model.

use smol_str::SmolStr;

use super::error::{LineIndex, SchemaLocation};

/// Where a raw item came from.
#[derive(Clone, Debug)]
pub(crate) enum Origin {
    /// A byte range of Cedar-format text.
    Span { start: usize, end: usize },
    /// A JSON path.
    Json(String),
    /// Nowhere in particular (for example the empty namespace assembled from many declarations).
    Unknown,
}

/// Turns an [`Origin`] into a [`SchemaLocation`], using the source text's line table if any.
pub(crate) struct Locator<'a> {
    lines: Option<LineIndex<'a>>,
}

impl<'a> Locator<'a> {
    /// For Cedar-format text.
    pub(crate) fn for_text(text: &'a str) -> Self {
        Locator {
            lines: Some(LineIndex::new(text)),
        }
    }

    /// For JSON, whose origins are paths.
    pub(crate) fn for_json() -> Self {
        Locator { lines: None }
    }

    pub(crate) fn locate(&self, origin: &Origin) -> Option<SchemaLocation> {
        match origin {
            Origin::Span { start, end } => Some(match &self.lines {
                Some(lines) => lines.locate(*start, *end),
                None => SchemaLocation::Text {
                    start: *start,
                    end: *end,
                    line: 0,
                    column: 0,
                },
            }),
            Origin::Json(path) => Some(SchemaLocation::Json { path: path.clone() }),
            Origin::Unknown => None,
        }
    }
}

/// A type or action-type name as written: one identifier, or identifiers joined by `::`.
#[derive(Clone, Debug)]
pub(crate) struct RawName {
    pub(crate) text: SmolStr,
    pub(crate) origin: Origin,
}

impl RawName {
    /// Whether the name has an explicit namespace (contains `::`).
    pub(crate) fn is_qualified(&self) -> bool {
        self.text.contains("::")
    }
}

/// A type as written.
#[derive(Clone, Debug)]
pub(crate) struct RawType {
    pub(crate) kind: RawTypeKind,
    pub(crate) origin: Origin,
}

/// The kinds of written types.
///
/// INVARIANT: nesting through `Set` and `Record` is at most [`super::MAX_TYPE_DEPTH`] deep; both
/// front ends stop with an error before building anything deeper, so recursion over a `RawType`
/// (including the derived `Clone` and `Drop`) is bounded.
#[derive(Clone, Debug)]
pub(crate) enum RawTypeKind {
    /// JSON `"Boolean"`.
    Bool,
    /// JSON `"Long"`.
    Long,
    /// JSON `"String"`.
    String,
    Set(Box<RawType>),
    Record(RawRecord),
    /// JSON `{"type": "Extension", "name": ...}`.
    Extension(RawName),
    /// Must name an entity type (JSON `{"type": "Entity", ...}`).
    Entity(RawName),
    /// Must name a common type (JSON `{"type": "Name"}`, Cedar-format `context: Name`).
    Common(RawName),
    /// A common type, else an entity type (Cedar-format type names, JSON `EntityOrCommon`).
    EntityOrCommon(RawName),
}

/// A record type as written.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawRecord {
    /// In source order; for a repeated name (the Cedar format allows it) the last one wins.
    pub(crate) attrs: Vec<RawAttr>,
    pub(crate) additional_attributes: bool,
}

/// One record attribute as written.
#[derive(Clone, Debug)]
pub(crate) struct RawAttr {
    pub(crate) name: SmolStr,
    pub(crate) required: bool,
    pub(crate) ty: RawType,
}

/// The declarations of one namespace.
#[derive(Debug)]
pub(crate) struct RawNamespace {
    /// `None` for the empty namespace.
    pub(crate) name: Option<RawName>,
    pub(crate) common_types: Vec<RawCommonType>,
    pub(crate) entity_types: Vec<RawEntityType>,
    pub(crate) actions: Vec<RawAction>,
}

/// `type Name = T;` / a `commonTypes` entry.
#[derive(Debug)]
pub(crate) struct RawCommonType {
    pub(crate) name: SmolStr,
    pub(crate) origin: Origin,
    pub(crate) ty: RawType,
}

/// An entity type declaration.
#[derive(Debug)]
pub(crate) struct RawEntityType {
    pub(crate) name: SmolStr,
    pub(crate) origin: Origin,
    pub(crate) kind: RawEntityKind,
}

/// Standard or enumerated entity type.
#[derive(Debug)]
pub(crate) enum RawEntityKind {
    Standard {
        parents: Vec<RawName>,
        /// Must resolve to a record type.
        shape: RawType,
        tags: Option<RawType>,
    },
    Enum(Vec<SmolStr>),
}

/// An action declaration.
#[derive(Debug)]
pub(crate) struct RawAction {
    pub(crate) name: SmolStr,
    pub(crate) origin: Origin,
    pub(crate) member_of: Vec<RawActionRef>,
    pub(crate) applies_to: Option<RawAppliesTo>,
}

/// A parent action as written: `"a"`, `Action::"a"`, `NS::Action::"a"`, or JSON `{"id", "type"}`.
#[derive(Clone, Debug)]
pub(crate) struct RawActionRef {
    /// The action entity type, `None` meaning `Action`.
    pub(crate) ty: Option<RawName>,
    pub(crate) id: SmolStr,
    pub(crate) origin: Origin,
}

/// An `appliesTo` as written.
#[derive(Clone, Debug)]
pub(crate) struct RawAppliesTo {
    pub(crate) principal_types: Vec<RawName>,
    pub(crate) resource_types: Vec<RawName>,
    /// Must resolve to a record type.
    pub(crate) context: RawType,
}

/// An empty record type (the default shape and context).
pub(crate) fn empty_record(origin: Origin) -> RawType {
    RawType {
        kind: RawTypeKind::Record(RawRecord::default()),
        origin,
    }
}
