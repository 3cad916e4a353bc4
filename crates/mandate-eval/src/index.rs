//! The decision index: policies bucketed by what their scope pins down, so a request evaluates
//! only the policies whose scope can match it instead of every policy in the set.
//!
//! A scope pins up to three things: the principal's entity (`==`, `in`, `is … in`), the action
//! (`==`, `in`, `in [..]`) and the resource's entity. Each policy goes into one table keyed by the
//! combination it pins (principal+resource, principal+action, resource+action, one of them alone),
//! or, when it pins none of them, by the principal's or resource's type (`is`), or into the
//! always-candidate list. A request looks up every combination of its principal, action and
//! resource with each one's precomputed ancestors (`Entity::index_keys`). Keys are 64-bit hashes:
//! a collision can only add a candidate. Every candidate is then checked in full, in policy
//! order, so decisions, reasons and errors are exactly those of evaluating every policy.
//!
//! INVARIANT: for every request, every policy whose scope matches is among the candidates.

use crate::authorizer::Policy;
use crate::entities::Entities;
use crate::value::{Uid, Value, type_key, uid_key};
use mandate_syntax::ast::{ActionConstraint, EntityRef, ScopeConstraint, SlotId};
use rustc_hash::FxHashMap;

type Bucket = Vec<u32>;

/// The tables. Values are indices into the policy list, ascending.
#[derive(Clone, Debug, Default)]
pub struct Index {
    principal_resource: FxHashMap<(u64, u64), Bucket>,
    principal_action: FxHashMap<(u64, u64), Bucket>,
    resource_action: FxHashMap<(u64, u64), Bucket>,
    principal: FxHashMap<u64, Bucket>,
    resource: FxHashMap<u64, Bucket>,
    action: FxHashMap<u64, Bucket>,
    principal_type: FxHashMap<u64, Bucket>,
    resource_type: FxHashMap<u64, Bucket>,
    always: Bucket,
    n_policies: usize,
}

fn slot_uid(policy: &Policy, slot: SlotId) -> Option<&Uid> {
    let v = match slot {
        SlotId::Principal => policy.slot_principal.as_ref(),
        SlotId::Resource => policy.slot_resource.as_ref(),
    };
    match v {
        Some(Value::Entity(u)) => Some(u),
        _ => None,
    }
}

fn target_key(policy: &Policy, r: &EntityRef) -> Option<u64> {
    match r {
        EntityRef::Uid(u) => Some(uid_key(&Uid::from_ast(u))),
        EntityRef::Slot(s, _) => slot_uid(policy, *s).map(uid_key),
    }
}

/// The key of the entity a scope part pins, and the key of its type when it pins only a type.
fn scope_key(policy: &Policy, c: &ScopeConstraint) -> (Option<u64>, Option<u64>) {
    match c {
        ScopeConstraint::Any => (None, None),
        ScopeConstraint::Eq(r) | ScopeConstraint::In(r) | ScopeConstraint::IsIn(_, r) => {
            (target_key(policy, r), None)
        }
        ScopeConstraint::Is(ty) => (None, Some(type_key(&ty.full))),
    }
}

/// The index keys of an entity and its ancestors; for an entity missing from the store, its own
/// key only (it has no ancestors).
fn keys_of<'a>(uid: &Uid, entities: &'a Entities, own: &'a mut [u64; 1]) -> &'a [u64] {
    match entities.get(uid) {
        Some(e) if !e.index_keys.is_empty() => &e.index_keys,
        _ => {
            own[0] = uid_key(uid);
            own
        }
    }
}

fn push(bucket: &mut Bucket, i: u32) {
    if bucket.last() != Some(&i) {
        bucket.push(i);
    }
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
            let s = &p.statement;
            let (pk, pt) = scope_key(p, &s.principal);
            let (rk, rt) = scope_key(p, &s.resource);
            let actions: Option<Vec<u64>> = match &s.action {
                ActionConstraint::Any => None,
                ActionConstraint::Eq(u) | ActionConstraint::In(u) => {
                    Some(vec![uid_key(&Uid::from_ast(u))])
                }
                ActionConstraint::InList(us) => {
                    Some(us.iter().map(|u| uid_key(&Uid::from_ast(u))).collect())
                }
            };
            match (pk, rk, actions) {
                (Some(pk), Some(rk), _) => {
                    push(idx.principal_resource.entry((pk, rk)).or_default(), i)
                }
                (Some(pk), None, Some(acts)) => {
                    for a in acts {
                        push(idx.principal_action.entry((pk, a)).or_default(), i);
                    }
                }
                (None, Some(rk), Some(acts)) => {
                    for a in acts {
                        push(idx.resource_action.entry((rk, a)).or_default(), i);
                    }
                }
                (Some(pk), None, None) => push(idx.principal.entry(pk).or_default(), i),
                (None, Some(rk), None) => push(idx.resource.entry(rk).or_default(), i),
                // `action in []` matches nothing; an empty list leaves the policy in no bucket.
                (None, None, Some(acts)) => {
                    for a in acts {
                        push(idx.action.entry(a).or_default(), i);
                    }
                }
                (None, None, None) => match (pt, rt) {
                    (Some(t), _) => push(idx.principal_type.entry(t).or_default(), i),
                    (None, Some(t)) => push(idx.resource_type.entry(t).or_default(), i),
                    (None, None) => idx.always.push(i),
                },
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
        let (mut p_own, mut r_own, mut a_own) = ([0u64], [0u64], [0u64]);
        let pks = keys_of(principal, entities, &mut p_own);
        let rks = keys_of(resource, entities, &mut r_own);
        let aks = keys_of(action, entities, &mut a_own);
        let pair =
            |table: &FxHashMap<(u64, u64), Bucket>, xs: &[u64], ys: &[u64], out: &mut Vec<u32>| {
                if table.is_empty() {
                    return;
                }
                for x in xs {
                    for y in ys {
                        if let Some(b) = table.get(&(*x, *y)) {
                            out.extend_from_slice(b);
                        }
                    }
                }
            };
        pair(&self.principal_resource, pks, rks, out);
        pair(&self.principal_action, pks, aks, out);
        pair(&self.resource_action, rks, aks, out);
        let single = |table: &FxHashMap<u64, Bucket>, xs: &[u64], out: &mut Vec<u32>| {
            if table.is_empty() {
                return;
            }
            for x in xs {
                if let Some(b) = table.get(x) {
                    out.extend_from_slice(b);
                }
            }
        };
        single(&self.principal, pks, out);
        single(&self.resource, rks, out);
        single(&self.action, aks, out);
        if let Some(b) = self.principal_type.get(&type_key(&principal.ty)) {
            out.extend_from_slice(b);
        }
        if let Some(b) = self.resource_type.get(&type_key(&resource.ty)) {
            out.extend_from_slice(b);
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
