//! Checks made once per statement rather than per request environment (Cedar's `rbac.rs` and the
//! entity passes of `validator.rs`): unknown entity types, unknown actions, ids outside an
//! enumerated entity type, and whether any action in the schema applies to what the scope allows.

use std::collections::BTreeSet;

use mandate_syntax::Diagnostic;
use mandate_syntax::ast::{
    ActionConstraint, EntityRef, EntityUid, ExprKind, Name, ScopeConstraint, Statement,
    StatementKind, escape_str,
};
use smol_str::SmolStr;

use super::codes;
use super::index::{Index, is_action_type};
use crate::schema::ActionId;

/// Entity literals and `is` types of a statement, in source order.
#[derive(Default)]
struct Names<'s> {
    uids: Vec<&'s EntityUid>,
    types: Vec<&'s Name>,
}

fn collect(s: &Statement) -> Names<'_> {
    let mut out = Names::default();
    for c in [&s.principal, &s.resource] {
        match c {
            ScopeConstraint::Any => {}
            ScopeConstraint::Eq(r) | ScopeConstraint::In(r) => {
                if let EntityRef::Uid(u) = r {
                    out.uids.push(u);
                }
            }
            ScopeConstraint::Is(t) => out.types.push(t),
            ScopeConstraint::IsIn(t, r) => {
                out.types.push(t);
                if let EntityRef::Uid(u) = r {
                    out.uids.push(u);
                }
            }
        }
    }
    match &s.action {
        ActionConstraint::Any => {}
        ActionConstraint::Eq(u) | ActionConstraint::In(u) => out.uids.push(u),
        ActionConstraint::InList(us) => out.uids.extend(us),
    }
    let mut exprs: Vec<&mandate_syntax::ast::Expr> = s.conditions.iter().map(|c| &c.body).collect();
    if let StatementKind::Quota(q) = &s.kind {
        exprs.extend(q.by.iter());
        exprs.extend(q.cost.iter());
    }
    for e in exprs {
        push_literals(e, &mut out);
    }
    out
}

/// Collects entity literals and `is` types of `e` into `out`. Recursion is bounded by the
/// parser's nesting limit; plain loops keep the frames small.
fn push_literals<'s>(e: &'s mandate_syntax::ast::Expr, out: &mut Names<'s>) {
    use mandate_syntax::ast::Access;
    match &e.kind {
        ExprKind::Entity(u) => out.uids.push(u),
        ExprKind::Lit(_) | ExprKind::Var(_) | ExprKind::Slot(_) | ExprKind::Error => {}
        ExprKind::If(a, b, c) => {
            push_literals(a, out);
            push_literals(b, out);
            push_literals(c, out);
        }
        ExprKind::And(es)
        | ExprKind::Or(es)
        | ExprKind::Mul(es)
        | ExprKind::Set(es)
        | ExprKind::Call(_, es) => {
            for x in es {
                push_literals(x, out);
            }
        }
        ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::Has(x, _) | ExprKind::Like(x, _) => {
            push_literals(x, out);
        }
        ExprKind::Compare(_, a, b) => {
            push_literals(a, out);
            push_literals(b, out);
        }
        ExprKind::Add(first, rest) => {
            push_literals(first, out);
            for (_, x) in rest {
                push_literals(x, out);
            }
        }
        ExprKind::Is(x, t, within) => {
            push_literals(x, out);
            out.types.push(t);
            if let Some(w) = within {
                push_literals(w, out);
            }
        }
        ExprKind::Member(base, accesses) => {
            push_literals(base, out);
            for a in accesses {
                if let Access::Method(_, args, _) = a {
                    for x in args {
                        push_literals(x, out);
                    }
                }
            }
        }
        ExprKind::Record(fields) => {
            for (_, x) in fields {
                push_literals(x, out);
            }
        }
    }
}

/// Unknown entity types (`MD0100`), unknown actions (`MD0101`) and ids outside an enumerated
/// entity type (`MD0102`).
pub(crate) fn check_names(index: &Index, s: &Statement, out: &mut Vec<Diagnostic>) {
    let names = collect(s);
    let type_names = names
        .uids
        .iter()
        .map(|u| &u.ty)
        .chain(names.types.iter().copied());
    for name in type_names {
        if !index.is_known_entity_type(&name.full) {
            let mut d = Diagnostic::error(
                codes::UNKNOWN_ENTITY_TYPE,
                format!("unknown entity type `{}`", name.full),
            )
            .with_label(name.span, "not declared in the schema");
            if let Some(s) = super::suggest_name(&name.full, index.entity_type_names()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            out.push(d);
        }
    }
    for uid in &names.uids {
        let ty = uid.ty.full.as_str();
        if is_action_type(ty) {
            if !index
                .actions
                .contains_key(&ActionId::new(ty, uid.id.as_str()))
            {
                out.push(unknown_action(index, uid));
            }
        } else if let Some(ids) = index.entities.get(ty).and_then(|e| e.enum_ids.as_ref())
            && !ids.contains(&uid.id)
        {
            let mut d = Diagnostic::error(
                codes::INVALID_ENUM_ID,
                format!("`{uid}` is not one of the values of the enumerated entity type `{ty}`"),
            )
            .with_label(uid.span, "");
            if let Some(s) = super::suggest_name(&uid.id, ids.iter().map(SmolStr::as_str)) {
                d = d.with_help(format!("did you mean `{ty}::\"{}\"`?", escape_str(s)));
            } else if ids.len() <= 12 {
                let listed: Vec<String> = ids
                    .iter()
                    .map(|id| format!("`\"{}\"`", escape_str(id)))
                    .collect();
                d = d.with_help(format!("the values are {}", listed.join(", ")));
            }
            out.push(d);
        }
    }
}

fn unknown_action(index: &Index, uid: &EntityUid) -> Diagnostic {
    let mut d = Diagnostic::error(codes::UNKNOWN_ACTION, format!("unknown action `{uid}`"))
        .with_label(uid.span, "not declared in the schema");
    let same_type: Vec<&str> = index
        .actions
        .keys()
        .filter(|a| a.ty == uid.ty.full)
        .map(|a| a.id.as_str())
        .collect();
    if let Some(s) = super::suggest_name(&uid.id, same_type.iter().copied()) {
        d = d.with_help(format!(
            "did you mean `{}::\"{}\"`?",
            uid.ty.full,
            escape_str(s)
        ));
    } else if let Some(other) = index.actions.keys().find(|a| a.id == uid.id) {
        d = d.with_help(format!("did you mean `{other}`?"));
    } else if index.actions.is_empty() {
        d = d.with_help("the schema declares no actions");
    }
    d
}

/// The entity types a principal or resource constraint allows (Cedar's
/// `get_entity_types_satisfying_constraint`).
fn allowed_types(index: &Index, c: &ScopeConstraint) -> BTreeSet<SmolStr> {
    match c {
        ScopeConstraint::Any
        | ScopeConstraint::Eq(EntityRef::Slot(..))
        | ScopeConstraint::In(EntityRef::Slot(..)) => index.entities.keys().cloned().collect(),
        ScopeConstraint::Eq(EntityRef::Uid(u)) => BTreeSet::from([u.ty.full.clone()]),
        ScopeConstraint::In(EntityRef::Uid(u)) => index.types_in(&u.ty.full).into_iter().collect(),
        ScopeConstraint::Is(t) | ScopeConstraint::IsIn(t, EntityRef::Slot(..)) => {
            if index.is_known_entity_type(&t.full) {
                BTreeSet::from([t.full.clone()])
            } else {
                BTreeSet::new()
            }
        }
        ScopeConstraint::IsIn(t, EntityRef::Uid(u)) => index
            .types_in(&u.ty.full)
            .into_iter()
            .filter(|k| *k == t.full)
            .collect(),
    }
}

/// The actions an action constraint allows (Cedar's `get_actions_satisfying_constraint`,
/// keeping declared actions only).
fn allowed_actions(index: &Index, c: &ActionConstraint) -> Vec<ActionId> {
    let id = |u: &EntityUid| ActionId::new(u.ty.full.clone(), u.id.clone());
    match c {
        ActionConstraint::Any => index.actions.keys().cloned().collect(),
        ActionConstraint::Eq(u) => {
            let a = id(u);
            if index.actions.contains_key(&a) {
                vec![a]
            } else {
                Vec::new()
            }
        }
        ActionConstraint::In(u) => index
            .actions_in_set([id(u)].iter())
            .map(|s| s.into_iter().collect())
            .unwrap_or_default(),
        ActionConstraint::InList(us) => {
            let ids: Vec<ActionId> = us.iter().map(id).collect();
            index
                .actions_in_set(ids.iter())
                .map(|s| s.into_iter().collect())
                .unwrap_or_default()
        }
    }
}

/// Whether `==` should have been `in` (Cedar's `check_if_in_fixes`): no applicable action takes
/// the literal's type itself, but one takes a descendant of it.
fn in_would_fix(
    index: &Index,
    c: &ScopeConstraint,
    actions: &[ActionId],
    pick: fn(&super::index::ActionInfo) -> &[SmolStr],
) -> bool {
    let ScopeConstraint::Eq(EntityRef::Uid(u)) = c else {
        return false;
    };
    let ty = &u.ty.full;
    let infos: Vec<&super::index::ActionInfo> = actions
        .iter()
        .filter_map(|a| index.actions.get(a))
        .collect();
    let none_equal = !infos.iter().any(|i| pick(i).contains(ty));
    let any_below = index.entities.get(ty).is_some_and(|e| {
        infos
            .iter()
            .any(|i| pick(i).iter().any(|p| e.descendants.contains(p)))
    });
    none_equal && any_below
}

/// `MD0103` when no action allowed by the scope applies to a principal type and a resource type
/// that the scope allows (Cedar's `validate_action_application`). Returns whether it reported.
pub(crate) fn check_application(index: &Index, s: &Statement, out: &mut Vec<Diagnostic>) -> bool {
    let actions = allowed_actions(index, &s.action);
    let principals = allowed_types(index, &s.principal);
    let resources = allowed_types(index, &s.resource);
    let applies = actions
        .iter()
        .filter_map(|a| index.actions.get(a))
        .any(|info| {
            info.principals.iter().any(|p| principals.contains(p))
                && info.resources.iter().any(|r| resources.contains(r))
        });
    if applies {
        return false;
    }
    let fix_principal = in_would_fix(index, &s.principal, &actions, |i| &i.principals);
    let fix_resource = in_would_fix(index, &s.resource, &actions, |i| &i.resources);
    let what = match s.kind {
        StatementKind::Policy(_) => "policy",
        StatementKind::Quota(_) => "quota",
    };
    let mut d = Diagnostic::error(
        codes::NO_APPLICABLE_ACTION,
        format!("no action in the schema applies to the principals and resources this {what}'s scope allows"),
    )
    .with_label(s.span, "");
    d = match (fix_principal, fix_resource) {
        (true, true) => {
            d.with_help("try replacing `==` with `in` in the principal clause and the resource clause")
        }
        (true, false) => d.with_help("try replacing `==` with `in` in the principal clause"),
        (false, true) => d.with_help("try replacing `==` with `in` in the resource clause"),
        (false, false) => d.with_help(
            "compare the scope with the `appliesTo` of the actions in the schema: the scope allows no request",
        ),
    };
    out.push(d);
    true
}
