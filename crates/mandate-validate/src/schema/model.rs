//! The resolved schema model: every name fully qualified, every common type inlined.
//!
//! Both schema formats load into this one model, so a schema written in the Cedar format and the
//! same schema written in JSON give equal values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use smol_str::SmolStr;

/// A loaded, resolved Cedar schema.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    /// Entity types by fully qualified name, such as `A::B::User` (or `User` outside any namespace).
    pub entity_types: BTreeMap<SmolStr, EntityTypeDef>,
    /// Actions by id.
    pub actions: BTreeMap<ActionId, ActionDef>,
}

/// The id of an action entity: its entity type (`<namespace>::Action`, or `Action` outside any
/// namespace) and its entity id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId {
    /// The action entity type, such as `A::B::Action`.
    pub ty: SmolStr,
    /// The entity id, such as `view`.
    pub id: SmolStr,
}

impl ActionId {
    /// An action id from its entity type and entity id.
    pub fn new(ty: impl Into<SmolStr>, id: impl Into<SmolStr>) -> Self {
        ActionId {
            ty: ty.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for ActionId {
    /// Cedar's entity-reference syntax, such as `A::Action::"view"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::\"{}\"", self.ty, self.id.escape_debug())
    }
}

/// An entity type declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityTypeDef {
    /// Fully qualified name.
    pub name: SmolStr,
    /// Entity types that entities of this type may be members of (`in` / `memberOfTypes`), fully
    /// qualified, without duplicates, in declaration order.
    pub parents: Vec<SmolStr>,
    /// The attributes. Empty for enumerated entity types and types declared without a shape.
    pub shape: RecordType,
    /// The type of tag values, if entities of this type may have tags.
    pub tags: Option<Type>,
    /// For enumerated entity types (`entity E enum ["a", "b"]`), the allowed entity ids, without
    /// duplicates, in declaration order.
    pub enum_ids: Option<Vec<SmolStr>>,
}

/// An action declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionDef {
    /// This action's id.
    pub id: ActionId,
    /// Action groups this action is a direct member of, without duplicates, in declaration order.
    pub member_of: Vec<ActionId>,
    /// Where the action applies, or `None` when it applies to no request: when the schema gives
    /// no `appliesTo`, or (JSON only) an empty `principalTypes` or `resourceTypes` list. Cedar
    /// treats these cases alike, so they load alike. When `Some`, both lists are non-empty.
    pub applies_to: Option<AppliesTo>,
}

/// The requests an action applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliesTo {
    /// Allowed principal entity types, fully qualified, without duplicates, in declaration order.
    pub principal_types: Vec<SmolStr>,
    /// Allowed resource entity types, fully qualified, without duplicates, in declaration order.
    pub resource_types: Vec<SmolStr>,
    /// The context record type (empty when not given).
    pub context: RecordType,
}

/// A schema type, with common types inlined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    /// `Bool` (`Boolean` in JSON).
    Bool,
    /// `Long`.
    Long,
    /// `String`.
    String,
    /// `Set<T>`.
    Set(Box<Type>),
    /// A record type.
    Record(RecordType),
    /// An entity of the named (fully qualified) type. Action types such as `NS::Action` may appear.
    Entity(SmolStr),
    /// An extension type: `decimal`, `ipaddr`, `datetime` or `duration`.
    Extension(SmolStr),
}

impl fmt::Display for Type {
    /// The Cedar schema syntax for the type, with fully qualified names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("Bool"),
            Type::Long => f.write_str("Long"),
            Type::String => f.write_str("String"),
            Type::Set(element) => write!(f, "Set<{element}>"),
            Type::Record(record) => write!(f, "{record}"),
            Type::Entity(name) | Type::Extension(name) => f.write_str(name),
        }
    }
}

/// A record type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordType {
    /// Attributes by name.
    pub attrs: BTreeMap<SmolStr, AttrType>,
    /// Whether records of this type may have attributes beyond `attrs`. Cedar accepts `true` only
    /// with its experimental `partial-validate` feature, so loaded schemas always have `false`.
    pub additional_attributes: bool,
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, (name, attr)) in self.attrs.iter().enumerate() {
            f.write_str(if index == 0 { " " } else { ", " })?;
            write!(
                f,
                "\"{}\"{}: {}",
                name.escape_debug(),
                if attr.required { "" } else { "?" },
                attr.ty
            )?;
        }
        f.write_str(if self.attrs.is_empty() { "}" } else { " }" })
    }
}

/// The type of one record attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrType {
    /// The attribute's type.
    pub ty: Type,
    /// `false` for optional attributes (`name?: T`, `"required": false`).
    pub required: bool,
}

impl Schema {
    /// Every action group `id` is transitively a member of (not including `id` itself unless the
    /// hierarchy has a cycle through it). Safe on hand-built schemas with cycles; ids missing from
    /// `actions` are included but not followed.
    pub fn action_ancestors(&self, id: &ActionId) -> BTreeSet<&ActionId> {
        let mut seen: BTreeSet<&ActionId> = BTreeSet::new();
        let mut stack: Vec<&ActionId> = self
            .actions
            .get(id)
            .map(|def| def.member_of.iter().collect())
            .unwrap_or_default();
        while let Some(parent) = stack.pop() {
            if seen.insert(parent)
                && let Some(def) = self.actions.get(parent)
            {
                stack.extend(def.member_of.iter());
            }
        }
        seen
    }

    /// Every entity type that entities of type `name` may transitively be members of. Entity type
    /// hierarchies may have cycles (`entity Album in Album`), so the result may contain `name`.
    pub fn entity_type_ancestors(&self, name: &str) -> BTreeSet<&SmolStr> {
        let mut seen: BTreeSet<&SmolStr> = BTreeSet::new();
        let mut stack: Vec<&SmolStr> = self
            .entity_types
            .get(name)
            .map(|def| def.parents.iter().collect())
            .unwrap_or_default();
        while let Some(parent) = stack.pop() {
            if seen.insert(parent)
                && let Some(def) = self.entity_types.get(parent)
            {
                stack.extend(def.parents.iter());
            }
        }
        seen
    }

    /// The action with this entity type and id, if declared.
    pub fn action(&self, ty: &str, id: &str) -> Option<&ActionDef> {
        self.actions.get(&ActionId::new(ty, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(ty: &str, id: &str, member_of: &[&str]) -> (ActionId, ActionDef) {
        let action_id = ActionId::new(ty, id);
        let def = ActionDef {
            id: action_id.clone(),
            member_of: member_of
                .iter()
                .map(|parent| ActionId::new(ty, *parent))
                .collect(),
            applies_to: None,
        };
        (action_id, def)
    }

    #[test]
    fn action_ancestors_are_transitive_and_cycle_safe() {
        let schema = Schema {
            entity_types: BTreeMap::new(),
            actions: [
                action("Action", "a", &["b"]),
                action("Action", "b", &["c", "a"]),
                action("Action", "c", &[]),
            ]
            .into_iter()
            .collect(),
        };
        let ancestors: Vec<String> = schema
            .action_ancestors(&ActionId::new("Action", "a"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            ancestors,
            ["Action::\"a\"", "Action::\"b\"", "Action::\"c\""]
        );
        assert!(
            schema
                .action_ancestors(&ActionId::new("Action", "c"))
                .is_empty()
        );
        assert!(
            schema
                .action_ancestors(&ActionId::new("Action", "missing"))
                .is_empty()
        );
    }

    #[test]
    fn types_display_in_cedar_syntax() {
        let record = RecordType {
            attrs: [
                (
                    SmolStr::new("a"),
                    AttrType {
                        ty: Type::Set(Box::new(Type::Long)),
                        required: true,
                    },
                ),
                (
                    SmolStr::new("b c"),
                    AttrType {
                        ty: Type::Entity("NS::User".into()),
                        required: false,
                    },
                ),
            ]
            .into_iter()
            .collect(),
            additional_attributes: false,
        };
        assert_eq!(
            Type::Record(record).to_string(),
            "{ \"a\": Set<Long>, \"b c\"?: NS::User }"
        );
        assert_eq!(Type::Record(RecordType::default()).to_string(), "{}");
        assert_eq!(
            ActionId::new("NS::Action", "say \"hi\"").to_string(),
            "NS::Action::\"say \\\"hi\\\"\""
        );
    }
}
