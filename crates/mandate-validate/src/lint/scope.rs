//! What a statement's scope can match, at the level of entity types and actions, and scope
//! subsumption between two statements.

use std::collections::BTreeSet;

use mandate_syntax::Span;
use mandate_syntax::ast::{
    ActionConstraint, Condition, ConditionKind, EntityRef, EntityUid, ExprKind, Literal,
    ScopeConstraint, Statement,
};
use smol_str::SmolStr;

use crate::schema::{ActionId, Schema};

/// A set of entity types, possibly every type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Types {
    /// Any entity type.
    All,
    /// These types.
    Some(BTreeSet<SmolStr>),
}

impl Types {
    pub(crate) fn contains(&self, ty: &str) -> bool {
        match self {
            Types::All => true,
            Types::Some(set) => set.contains(ty),
        }
    }
}

/// The entity types a principal or resource constraint can match. `in E` matches `E`'s type
/// and, with a schema, every type whose entities can be descendants of it; without a schema only
/// `E`'s type is known. A slot can be linked to anything.
pub(crate) fn constraint_types(c: &ScopeConstraint, schema: Option<&Schema>) -> Types {
    match c {
        ScopeConstraint::Any
        | ScopeConstraint::Eq(EntityRef::Slot(..))
        | ScopeConstraint::In(EntityRef::Slot(..)) => Types::All,
        ScopeConstraint::Eq(EntityRef::Uid(u)) => Types::Some([u.ty.full.clone()].into()),
        ScopeConstraint::In(EntityRef::Uid(u)) => {
            let mut set: BTreeSet<SmolStr> = [u.ty.full.clone()].into();
            if let Some(schema) = schema {
                for name in schema.entity_types.keys() {
                    if schema.entity_type_ancestors(name).contains(&u.ty.full) {
                        set.insert(name.clone());
                    }
                }
            }
            Types::Some(set)
        }
        ScopeConstraint::Is(t) | ScopeConstraint::IsIn(t, _) => {
            Types::Some([t.full.clone()].into())
        }
    }
}

/// The action id of an action entity reference.
pub(crate) fn action_id(u: &EntityUid) -> ActionId {
    ActionId::new(u.ty.full.clone(), u.id.clone())
}

/// The schema actions an action constraint matches (action groups included).
pub(crate) fn schema_actions<'s>(c: &ActionConstraint, schema: &'s Schema) -> Vec<&'s ActionId> {
    let in_group = |group: &ActionId| {
        schema
            .actions
            .keys()
            .filter(|a| *a == group || schema.action_ancestors(a).contains(group))
            .collect::<Vec<_>>()
    };
    let mut out: BTreeSet<&ActionId> = BTreeSet::new();
    match c {
        ActionConstraint::Any => out.extend(schema.actions.keys()),
        ActionConstraint::Eq(u) => {
            if let Some((id, _)) = schema.actions.get_key_value(&action_id(u)) {
                out.insert(id);
            }
        }
        ActionConstraint::In(u) => out.extend(in_group(&action_id(u))),
        ActionConstraint::InList(list) => {
            for u in list {
                out.extend(in_group(&action_id(u)));
            }
        }
    }
    out.into_iter().collect()
}

/// The principal types of requests a statement can apply to, with a schema: the `appliesTo`
/// principals of the actions it matches, narrowed by its principal constraint.
pub(crate) fn principal_types(s: &Statement, schema: &Schema) -> BTreeSet<SmolStr> {
    let allowed = constraint_types(&s.principal, Some(schema));
    let mut out = BTreeSet::new();
    for a in schema_actions(&s.action, schema) {
        if let Some(applies) = schema.actions.get(a).and_then(|d| d.applies_to.as_ref()) {
            out.extend(
                applies
                    .principal_types
                    .iter()
                    .filter(|t| allowed.contains(t))
                    .cloned(),
            );
        }
    }
    out
}

/// Whether a `when`/`unless` clause is trivially satisfied (`when { true }`, `unless { false }`).
pub(crate) fn is_trivially_true(c: &Condition) -> bool {
    matches!(
        (c.kind, &c.body.kind),
        (ConditionKind::When, ExprKind::Lit(Literal::Bool(true)))
            | (ConditionKind::Unless, ExprKind::Lit(Literal::Bool(false)))
    )
}

/// Whether a statement has a condition that is not trivially true.
pub(crate) fn has_condition(s: &Statement) -> bool {
    s.conditions.iter().any(|c| !is_trivially_true(c))
}

/// A span for a statement's action constraint, when it names actions.
pub(crate) fn action_span(c: &ActionConstraint) -> Option<Span> {
    match c {
        ActionConstraint::Any => None,
        ActionConstraint::Eq(u) | ActionConstraint::In(u) => Some(u.span),
        ActionConstraint::InList(list) => {
            let first = list.first()?;
            let last = list.last()?;
            Some(first.span.to(last.span))
        }
    }
}

/// Whether every principal (or resource) that `inner` matches, `outer` matches too, judged from
/// the text alone (entity hierarchies beyond `in` itself are not known).
pub(crate) fn entity_subsumes(outer: &ScopeConstraint, inner: &ScopeConstraint) -> bool {
    use EntityRef::Uid;
    use ScopeConstraint as C;
    match (outer, inner) {
        (C::Any, _) => true,
        (_, C::Any) => false,
        (C::Eq(Uid(a)), C::Eq(Uid(b))) => a == b,
        (C::In(Uid(a)), C::Eq(Uid(b)) | C::In(Uid(b)) | C::IsIn(_, Uid(b))) => a == b,
        (C::Is(t), C::Is(u) | C::IsIn(u, _)) => t == u,
        (C::Is(t), C::Eq(Uid(b))) => *t == b.ty,
        (C::IsIn(t, Uid(a)), C::IsIn(u, Uid(b))) => t == u && a == b,
        (C::IsIn(t, Uid(a)), C::Eq(Uid(b))) => *t == b.ty && a == b,
        _ => false,
    }
}

/// Whether every action that `inner` matches, `outer` matches too. With a schema whose actions
/// include every action `inner` names, the sets of matched actions are compared; otherwise only
/// the text.
pub(crate) fn action_subsumes(
    outer: &ActionConstraint,
    inner: &ActionConstraint,
    schema: Option<&Schema>,
) -> bool {
    if matches!(outer, ActionConstraint::Any) {
        return true;
    }
    if let Some(schema) = schema {
        let named: Vec<&EntityUid> = match inner {
            ActionConstraint::Any => Vec::new(),
            ActionConstraint::Eq(u) | ActionConstraint::In(u) => vec![u],
            ActionConstraint::InList(list) => list.iter().collect(),
        };
        if named
            .iter()
            .all(|u| schema.actions.contains_key(&action_id(u)))
        {
            let outer_set: BTreeSet<&ActionId> =
                schema_actions(outer, schema).into_iter().collect();
            let inner_set = schema_actions(inner, schema);
            return !inner_set.is_empty() && inner_set.iter().all(|a| outer_set.contains(a));
        }
    }
    // From the text: `inner`'s items are exact actions (`==`) or groups (`in`).
    let (inner_items, inner_groups): (Vec<&EntityUid>, bool) = match inner {
        ActionConstraint::Any => return false,
        ActionConstraint::Eq(u) => (vec![u], false),
        ActionConstraint::In(u) => (vec![u], true),
        ActionConstraint::InList(list) => (list.iter().collect(), true),
    };
    inner_items.iter().all(|x| match outer {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(a) => !inner_groups && a == *x,
        ActionConstraint::In(g) => g == *x,
        ActionConstraint::InList(gs) => gs.iter().any(|g| g == *x),
    })
}

/// Whether a statement uses a template slot.
pub(crate) fn is_template(s: &Statement) -> bool {
    s.is_template()
}
