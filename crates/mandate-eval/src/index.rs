//! The decision index: policies bucketed by what their scope pins down, so a request evaluates
//! only the policies whose scope can match it instead of every policy in the set.
//!
//! Each policy goes into exactly one bucket, chosen by the most selective part of its scope:
//! the principal's entity (`==` or `in`), else the resource's entity, else the action (or action
//! group), else the principal's type (`is`), else the resource's type, else the always-candidate
//! list. A request looks up its principal, resource and action together with each one's
//! precomputed ancestors, and its principal and resource types. The candidates found are a
//! superset of the policies whose scope matches; each is then checked in full, in policy order,
//! so decisions, reasons and errors are exactly those of evaluating every policy.
//!
//! INVARIANT: for every request, every policy whose scope matches is among the candidates.

use crate::authorizer::Policy;
use crate::entities::Entities;
use crate::value::{Uid, Value};
use mandate_syntax::ast::{ActionConstraint, EntityRef, ScopeConstraint, SlotId};
use smol_str::SmolStr;
use std::collections::HashMap;

/// The buckets. Values are indices into the policy list, ascending.
#[derive(Clone, Debug, Default)]
pub struct Index {
    by_principal: HashMap<Uid, Vec<u32>>,
    by_resource: HashMap<Uid, Vec<u32>>,
    by_action: HashMap<Uid, Vec<u32>>,
    by_principal_type: HashMap<SmolStr, Vec<u32>>,
    by_resource_type: HashMap<SmolStr, Vec<u32>>,
    always: Vec<u32>,
    n_policies: usize,
}

enum Key {
    Principal(Uid),
    Resource(Uid),
    Action(Vec<Uid>),
    PrincipalType(SmolStr),
    ResourceType(SmolStr),
    Always,
}

fn slot_uid(policy: &Policy, slot: SlotId) -> Option<Uid> {
    let v = match slot {
        SlotId::Principal => policy.slot_principal.as_ref(),
        SlotId::Resource => policy.slot_resource.as_ref(),
    };
    match v {
        Some(Value::Entity(u)) => Some(u.as_ref().clone()),
        _ => None,
    }
}

fn target(policy: &Policy, r: &EntityRef) -> Option<Uid> {
    match r {
        EntityRef::Uid(u) => Some(Uid::from_ast(u)),
        EntityRef::Slot(s, _) => slot_uid(policy, *s),
    }
}

/// The entity a scope part pins (for `==`, `in`, `is … in`), or its type (for `is`).
fn scope_key(policy: &Policy, c: &ScopeConstraint) -> (Option<Uid>, Option<SmolStr>) {
    match c {
        ScopeConstraint::Any => (None, None),
        ScopeConstraint::Eq(r) | ScopeConstraint::In(r) => (target(policy, r), None),
        ScopeConstraint::IsIn(ty, r) => (target(policy, r), Some(ty.full.clone())),
        ScopeConstraint::Is(ty) => (None, Some(ty.full.clone())),
    }
}

fn key_of(policy: &Policy) -> Key {
    let s = &policy.statement;
    let (p_uid, p_ty) = scope_key(policy, &s.principal);
    let (r_uid, r_ty) = scope_key(policy, &s.resource);
    if let Some(u) = p_uid {
        return Key::Principal(u);
    }
    if let Some(u) = r_uid {
        return Key::Resource(u);
    }
    match &s.action {
        ActionConstraint::Eq(u) | ActionConstraint::In(u) => {
            return Key::Action(vec![Uid::from_ast(u)]);
        }
        ActionConstraint::InList(us) if !us.is_empty() => {
            return Key::Action(us.iter().map(Uid::from_ast).collect());
        }
        ActionConstraint::InList(_) => {
            // `action in []` matches nothing; it stays a candidate so its (empty) match is
            // decided by the same code as every other policy.
        }
        ActionConstraint::Any => {}
    }
    if let Some(t) = p_ty {
        return Key::PrincipalType(t);
    }
    if let Some(t) = r_ty {
        return Key::ResourceType(t);
    }
    Key::Always
}

impl Index {
    /// Builds the index over `policies` (positions are the policies' indices).
    pub fn build(policies: &[Policy]) -> Self {
        let mut idx = Index {
            n_policies: policies.len(),
            ..Index::default()
        };
        for (i, p) in policies.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match key_of(p) {
                Key::Principal(u) => idx.by_principal.entry(u).or_default().push(i),
                Key::Resource(u) => idx.by_resource.entry(u).or_default().push(i),
                Key::Action(us) => {
                    for u in us {
                        let bucket = idx.by_action.entry(u).or_default();
                        if bucket.last() != Some(&i) {
                            bucket.push(i);
                        }
                    }
                }
                Key::PrincipalType(t) => idx.by_principal_type.entry(t).or_default().push(i),
                Key::ResourceType(t) => idx.by_resource_type.entry(t).or_default().push(i),
                Key::Always => idx.always.push(i),
            }
        }
        idx
    }

    /// The candidate policies for a request, ascending, each at most once.
    pub fn candidates(
        &self,
        principal: &Uid,
        action: &Uid,
        resource: &Uid,
        entities: &Entities,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        out.extend_from_slice(&self.always);
        let mut add_entity = |table: &HashMap<Uid, Vec<u32>>, uid: &Uid| {
            if table.is_empty() {
                return;
            }
            if let Some(v) = table.get(uid) {
                out.extend_from_slice(v);
            }
            if let Some(e) = entities.get(uid) {
                for anc in &e.ancestors {
                    if let Some(v) = table.get(anc) {
                        out.extend_from_slice(v);
                    }
                }
            }
        };
        add_entity(&self.by_principal, principal);
        add_entity(&self.by_resource, resource);
        add_entity(&self.by_action, action);
        if let Some(v) = self.by_principal_type.get(&principal.ty) {
            out.extend_from_slice(v);
        }
        if let Some(v) = self.by_resource_type.get(&resource.ty) {
            out.extend_from_slice(v);
        }
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// Number of indexed policies.
    pub fn len(&self) -> usize {
        self.n_policies
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.n_policies == 0
    }
}
