//! The validator's types, following Cedar's strict validation (`validator/types.rs` of
//! cedar-policy-core): singleton booleans for short-circuiting, entity types, closed records, and
//! the subtype and least-upper-bound relations.
//!
//! In strict mode, two different entity types have no least upper bound, so an entity type is
//! always one named type (or the unnamed "any entity" that only appears as an expectation).

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use smol_str::SmolStr;

use crate::schema;

/// Boolean types: Cedar's `Bool` with its two singleton subtypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BoolType {
    /// Either value.
    Any,
    /// Always `true`.
    True,
    /// Always `false`.
    False,
}

/// A type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Type {
    /// The bottom type (the element type of an empty set).
    Never,
    /// `Bool`, `True` or `False`.
    Bool(BoolType),
    /// `Long`.
    Long,
    /// `String`.
    String,
    /// `Set<T>`; `None` only in expectations ("any set").
    Set(Option<Rc<Type>>),
    /// A record type.
    Record(Rc<RecordTy>),
    /// An entity of the named type; `None` only in expectations ("any entity").
    Entity(Option<SmolStr>),
    /// An extension type: `decimal`, `ipaddr`, `datetime` or `duration`.
    Ext(&'static str),
}

/// A record type: attributes and whether others may exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RecordTy {
    /// The attributes.
    pub attrs: BTreeMap<SmolStr, AttrTy>,
    /// Whether records of this type may have attributes beyond `attrs`.
    pub open: bool,
}

/// One attribute of a record type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttrTy {
    /// Its type.
    pub ty: Type,
    /// `false` for optional attributes.
    pub required: bool,
}

/// Why two types have no least upper bound (for the diagnostic's help).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LubFailure {
    /// Different entity types.
    EntityType,
    /// Records with different attribute names.
    RecordWidth,
    /// An attribute required in one record and optional in the other.
    AttributeQualifier,
    /// An entity and a record.
    EntityRecord,
    /// Anything else.
    Other,
}

impl LubFailure {
    /// The explanation shown as help.
    pub(crate) fn help(self) -> &'static str {
        match self {
            LubFailure::EntityType => {
                "strict validation requires entity types to match exactly; compare or combine entities of one type"
            }
            LubFailure::RecordWidth => {
                "strict validation requires records to have the same attributes"
            }
            LubFailure::AttributeQualifier => {
                "an attribute is required in one record type and optional in the other"
            }
            LubFailure::EntityRecord => "an entity is not a record, although both have attributes",
            LubFailure::Other => "values of these types can never be combined or compared",
        }
    }
}

impl Type {
    /// `Bool`.
    pub(crate) const BOOL: Type = Type::Bool(BoolType::Any);

    /// The singleton type of `b`.
    pub(crate) fn singleton(b: bool) -> Type {
        Type::Bool(if b { BoolType::True } else { BoolType::False })
    }

    /// Whether this is the singleton `False`.
    pub(crate) fn is_false(&self) -> bool {
        matches!(self, Type::Bool(BoolType::False))
    }

    /// Whether this is the singleton `True`.
    pub(crate) fn is_true(&self) -> bool {
        matches!(self, Type::Bool(BoolType::True))
    }

    /// The expectation "any entity".
    pub(crate) fn any_entity() -> Type {
        Type::Entity(None)
    }

    /// The expectation "any record" (an open record with no attributes: every record is a
    /// subtype with width subtyping).
    pub(crate) fn any_record() -> Type {
        Type::Record(Rc::new(RecordTy {
            attrs: BTreeMap::new(),
            open: true,
        }))
    }

    /// The expectation "any set".
    pub(crate) fn any_set() -> Type {
        Type::Set(None)
    }

    /// An entity of type `name`.
    pub(crate) fn entity(name: impl Into<SmolStr>) -> Type {
        Type::Entity(Some(name.into()))
    }

    /// The entity type name, if this is an entity of a known type.
    pub(crate) fn entity_name(&self) -> Option<&SmolStr> {
        match self {
            Type::Entity(Some(n)) => Some(n),
            _ => None,
        }
    }

    /// Converts a schema type. Recursion is bounded by the schema's type depth limit.
    pub(crate) fn from_schema(ty: &schema::Type) -> Type {
        match ty {
            schema::Type::Bool => Type::BOOL,
            schema::Type::Long => Type::Long,
            schema::Type::String => Type::String,
            schema::Type::Set(element) => Type::Set(Some(Rc::new(Type::from_schema(element)))),
            schema::Type::Record(record) => Type::Record(Rc::new(RecordTy::from_schema(record))),
            schema::Type::Entity(name) => Type::entity(name.clone()),
            schema::Type::Extension(name) => Type::Ext(extension_name(name)),
        }
    }
}

/// The static name of an extension type (the schema only holds the four Cedar knows).
fn extension_name(name: &str) -> &'static str {
    match name {
        "decimal" => "decimal",
        "ipaddr" => "ipaddr",
        "datetime" => "datetime",
        "duration" => "duration",
        _ => "unknown extension",
    }
}

impl RecordTy {
    /// Converts a schema record type.
    pub(crate) fn from_schema(record: &schema::RecordType) -> RecordTy {
        RecordTy {
            attrs: record
                .attrs
                .iter()
                .map(|(name, attr)| {
                    (
                        name.clone(),
                        AttrTy {
                            ty: Type::from_schema(&attr.ty),
                            required: attr.required,
                        },
                    )
                })
                .collect(),
            open: record.additional_attributes,
        }
    }
}

/// Subtyping. `permissive` selects Cedar's permissive rules (width subtyping for open records,
/// entities below "any entity"); the checker uses them only to test an operand against an
/// expectation such as "any record", exactly as Cedar's `expect_type` does.
pub(crate) fn is_subtype(t0: &Type, t1: &Type, permissive: bool) -> bool {
    match (t0, t1) {
        (Type::Never, _) => true,
        (Type::Bool(BoolType::True | BoolType::False), Type::Bool(BoolType::Any)) => true,
        (Type::Bool(b0), Type::Bool(b1)) => b0 == b1,
        (Type::Long, Type::Long) | (Type::String, Type::String) => true,
        (Type::Set(e0), Type::Set(e1)) => match (e0, e1) {
            (Some(e0), Some(e1)) => is_subtype(e0, e1, permissive),
            (_, None) => true,
            (None, Some(_)) => false,
        },
        (Type::Record(r0), Type::Record(r1)) => {
            (!r0.open || r1.open)
                && ((r1.open && permissive && attrs_subtype(r0, r1, permissive))
                    || (same_keys(r0, r1) && attrs_subtype(r0, r1, permissive)))
        }
        (Type::Entity(e0), Type::Entity(e1)) => match (e0, e1) {
            (Some(a), Some(b)) => a == b,
            (None, None) => true,
            (Some(_), None) => permissive,
            (None, Some(_)) => false,
        },
        (Type::Ext(a), Type::Ext(b)) => a == b,
        _ => false,
    }
}

/// Every attribute of `r1` is in `r0` with a subtype and a compatible qualifier.
fn attrs_subtype(r0: &RecordTy, r1: &RecordTy, permissive: bool) -> bool {
    r1.attrs.iter().all(|(name, a1)| {
        r0.attrs.get(name).is_some_and(|a0| {
            let qualifier = if permissive {
                a0.required || !a1.required
            } else {
                a0.required == a1.required
            };
            qualifier && is_subtype(&a0.ty, &a1.ty, permissive)
        })
    })
}

fn same_keys(r0: &RecordTy, r1: &RecordTy) -> bool {
    r0.attrs.len() == r1.attrs.len() && r0.attrs.keys().eq(r1.attrs.keys())
}

/// The strict least upper bound of two types.
pub(crate) fn lub(t0: &Type, t1: &Type) -> Result<Type, LubFailure> {
    if is_subtype(t0, t1, false) {
        return Ok(t1.clone());
    }
    if is_subtype(t1, t0, false) {
        return Ok(t0.clone());
    }
    match (t0, t1) {
        (Type::Bool(_), Type::Bool(_)) => Ok(Type::BOOL),
        (Type::Set(None), Type::Set(_)) | (Type::Set(_), Type::Set(None)) => Ok(Type::Set(None)),
        (Type::Set(Some(e0)), Type::Set(Some(e1))) => Ok(Type::Set(Some(Rc::new(lub(e0, e1)?)))),
        (Type::Record(r0), Type::Record(r1)) => {
            if !same_keys(r0, r1) {
                return Err(LubFailure::RecordWidth);
            }
            let mut attrs = BTreeMap::new();
            for (name, a0) in &r0.attrs {
                let a1 = r1.attrs.get(name).ok_or(LubFailure::RecordWidth)?;
                let ty = lub(&a0.ty, &a1.ty)?;
                if a0.required != a1.required {
                    return Err(LubFailure::AttributeQualifier);
                }
                attrs.insert(
                    name.clone(),
                    AttrTy {
                        ty,
                        required: a0.required,
                    },
                );
            }
            Ok(Type::Record(Rc::new(RecordTy {
                attrs,
                open: r0.open || r1.open,
            })))
        }
        (Type::Entity(_), Type::Entity(_)) => Err(LubFailure::EntityType),
        (Type::Entity(_), Type::Record(_)) | (Type::Record(_), Type::Entity(_)) => {
            Err(LubFailure::EntityRecord)
        }
        _ => Err(LubFailure::Other),
    }
}

/// The least upper bound of a list (`Never` for none).
pub(crate) fn lub_all<'t>(types: impl IntoIterator<Item = &'t Type>) -> Result<Type, LubFailure> {
    types
        .into_iter()
        .try_fold(Type::Never, |acc, next| lub(&acc, next))
}

/// Whether no value has both types. Like Cedar, this is conservative: only two different entity
/// types are known to be disjoint (`Set<Long>` and `Set<String>` share the empty set).
pub(crate) fn are_disjoint(t0: &Type, t1: &Type) -> bool {
    matches!((t0, t1), (Type::Entity(Some(a)), Type::Entity(Some(b))) if a != b)
}

impl fmt::Display for Type {
    /// Cedar schema syntax; singleton booleans show as `Bool`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Never => f.write_str("Never"),
            Type::Bool(_) => f.write_str("Bool"),
            Type::Long => f.write_str("Long"),
            Type::String => f.write_str("String"),
            Type::Set(Some(element)) => write!(f, "Set<{element}>"),
            Type::Set(None) => f.write_str("Set"),
            Type::Record(record) => write!(f, "{record}"),
            Type::Entity(Some(name)) => f.write_str(name),
            Type::Entity(None) => f.write_str("entity"),
            Type::Ext(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for RecordTy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attrs.is_empty() {
            return f.write_str("{}");
        }
        f.write_str("{ ")?;
        for (index, (name, attr)) in self.attrs.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            if mandate_syntax::ast::is_ident(name) {
                f.write_str(name)?;
            } else {
                write!(f, "\"{}\"", mandate_syntax::ast::escape_str(name))?;
            }
            write!(f, "{}: {}", if attr.required { "" } else { "?" }, attr.ty)?;
        }
        f.write_str(" }")
    }
}

/// A short description of an expectation, for messages: `Long`, `a set`, `an entity or a record`.
pub(crate) fn describe_expected(expected: &[Type]) -> String {
    let parts: Vec<String> = expected
        .iter()
        .map(|t| match t {
            Type::Entity(None) => "an entity".to_owned(),
            Type::Set(None) => "a set".to_owned(),
            Type::Set(Some(e)) if matches!(e.as_ref(), Type::Entity(None)) => {
                "a set of entities".to_owned()
            }
            Type::Record(r) if r.open && r.attrs.is_empty() => "a record".to_owned(),
            Type::Bool(_) => "a `Bool`".to_owned(),
            other => format!("`{other}`"),
        })
        .collect();
    match parts.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A type for messages, shortened when it is a long record.
pub(crate) fn show(ty: &Type) -> String {
    let text = ty.to_string();
    if text.chars().count() > 80 {
        let mut short: String = text.chars().take(77).collect();
        short.push_str("...");
        short
    } else {
        text
    }
}
