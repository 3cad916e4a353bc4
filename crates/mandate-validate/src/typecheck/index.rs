//! What the checker needs from the schema, computed once per validation: entity types with their
//! descendants, shapes and tags as checker types, actions with their descendants, and the request
//! environments (Cedar's `ValidatorSchema::unlinked_request_envs`).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use smol_str::SmolStr;

use super::types::{RecordTy, Type};
use crate::schema::{ActionId, Schema};

/// An entity type, as the checker sees it.
#[derive(Debug)]
pub(crate) struct EntityInfo {
    /// The attributes (closed).
    pub shape: Rc<RecordTy>,
    /// The tag type, if entities of this type may have tags.
    pub tags: Option<Type>,
    /// Every entity type whose entities may be members of entities of this type, transitively
    /// (this type itself only when the hierarchy has a cycle through it).
    pub descendants: BTreeSet<SmolStr>,
    /// The allowed ids of an enumerated entity type.
    pub enum_ids: Option<Vec<SmolStr>>,
}

/// An action, as the checker sees it.
#[derive(Debug)]
pub(crate) struct ActionInfo {
    /// Every action that is transitively a member of this one.
    pub descendants: BTreeSet<ActionId>,
    /// Allowed principal types (empty without `appliesTo`).
    pub principals: Vec<SmolStr>,
    /// Allowed resource types (empty without `appliesTo`).
    pub resources: Vec<SmolStr>,
}

/// One request environment: a principal type, an action, a resource type and the context type.
#[derive(Debug)]
pub(crate) struct Env {
    pub principal: SmolStr,
    pub action: ActionId,
    pub resource: SmolStr,
    pub context: Rc<RecordTy>,
}

/// The schema, indexed.
#[derive(Debug)]
pub(crate) struct Index {
    pub entities: BTreeMap<SmolStr, EntityInfo>,
    pub actions: BTreeMap<ActionId, ActionInfo>,
    pub envs: Vec<Env>,
}

/// Whether an entity type is an action entity type (`Action` or `NS::Action`), as Cedar's
/// `EntityType::is_action` decides.
pub(crate) fn is_action_type(name: &str) -> bool {
    name.rsplit("::").next() == Some("Action")
}

impl Index {
    /// Builds the index.
    pub(crate) fn new(schema: &Schema) -> Self {
        let mut entities: BTreeMap<SmolStr, EntityInfo> = schema
            .entity_types
            .iter()
            .map(|(name, def)| {
                (
                    name.clone(),
                    EntityInfo {
                        shape: Rc::new(RecordTy::from_schema(&def.shape)),
                        tags: def.tags.as_ref().map(Type::from_schema),
                        descendants: BTreeSet::new(),
                        enum_ids: def.enum_ids.clone(),
                    },
                )
            })
            .collect();
        for name in schema.entity_types.keys() {
            for ancestor in schema.entity_type_ancestors(name) {
                if let Some(info) = entities.get_mut(ancestor) {
                    info.descendants.insert(name.clone());
                }
            }
        }

        let mut actions: BTreeMap<ActionId, ActionInfo> = schema
            .actions
            .iter()
            .map(|(id, def)| {
                let (principals, resources) = def
                    .applies_to
                    .as_ref()
                    .map(|a| (a.principal_types.clone(), a.resource_types.clone()))
                    .unwrap_or_default();
                (
                    id.clone(),
                    ActionInfo {
                        descendants: BTreeSet::new(),
                        principals,
                        resources,
                    },
                )
            })
            .collect();
        for id in schema.actions.keys() {
            for ancestor in schema.action_ancestors(id) {
                if let Some(info) = actions.get_mut(ancestor) {
                    info.descendants.insert(id.clone());
                }
            }
        }

        let mut envs = Vec::new();
        for (id, def) in &schema.actions {
            let Some(applies) = &def.applies_to else {
                continue;
            };
            let context = Rc::new(RecordTy::from_schema(&applies.context));
            for principal in &applies.principal_types {
                for resource in &applies.resource_types {
                    envs.push(Env {
                        principal: principal.clone(),
                        action: id.clone(),
                        resource: resource.clone(),
                        context: Rc::clone(&context),
                    });
                }
            }
        }

        Index {
            entities,
            actions,
            envs,
        }
    }

    /// Cedar's `is_known_entity_type`: declared, or an action entity type.
    pub(crate) fn is_known_entity_type(&self, name: &str) -> bool {
        is_action_type(name) || self.entities.contains_key(name)
    }

    /// Entity types `T` such that an entity of type `T` may be `in` an entity of type `ty`: the
    /// descendants of `ty` and `ty` itself (Cedar's `get_entity_types_in`).
    pub(crate) fn types_in(&self, ty: &str) -> Vec<SmolStr> {
        let mut out: Vec<SmolStr> = self
            .entities
            .get(ty)
            .map(|e| e.descendants.iter().cloned().collect())
            .unwrap_or_default();
        out.push(SmolStr::new(ty));
        out
    }

    /// Whether `ty` is among `types_in(of)`.
    pub(crate) fn is_type_in(&self, ty: &str, of: &str) -> bool {
        ty == of
            || self
                .entities
                .get(of)
                .is_some_and(|e| e.descendants.contains(ty))
    }

    /// The actions `a` such that `a in any of ids` (descendants and the ids themselves), or
    /// `None` if some id is not a declared action (Cedar's `get_actions_in_set`).
    pub(crate) fn actions_in_set<'i>(
        &self,
        ids: impl IntoIterator<Item = &'i ActionId>,
    ) -> Option<BTreeSet<ActionId>> {
        let mut out = BTreeSet::new();
        for id in ids {
            let info = self.actions.get(id)?;
            out.extend(info.descendants.iter().cloned());
            out.insert(id.clone());
        }
        Some(out)
    }

    /// Cedar's `check_action_in_entity_type`: whether an entity of type `lhs` may be a
    /// descendant of one of type `rhs` through the action hierarchy.
    pub(crate) fn action_in_entity_type(&self, lhs: &str, rhs: &str) -> bool {
        lhs == rhs
            || self
                .actions
                .iter()
                .any(|(id, info)| id.ty == rhs && info.descendants.iter().any(|d| d.ty == lhs))
    }

    /// The type of the entity literal `ty::"id"`, or `None` when the type or action is unknown.
    pub(crate) fn literal_type(&self, ty: &str, id: &str) -> Option<Type> {
        if is_action_type(ty) {
            self.actions
                .contains_key(&ActionId::new(ty, id))
                .then(|| Type::entity(ty))
        } else {
            self.entities.contains_key(ty).then(|| Type::entity(ty))
        }
    }

    /// The declared entity type names, for suggestions.
    pub(crate) fn entity_type_names(&self) -> impl Iterator<Item = &str> + Clone {
        self.entities.keys().map(SmolStr::as_str)
    }
}
