//! Policy sets and the authorizer: scope matching, conditions, `forbid` overrides `permit`,
//! default deny, and Cedar's reporting of determining and erroring policies. Two error modes:
//! Cedar's skip-on-error, and Mandate's default `deny-on-forbid-error`.

use crate::entities::Entities;
use crate::eval::{Env, EvalError, entity_in, eval};
use crate::value::{Uid, Value};
use mandate_syntax::Diagnostic;
use mandate_syntax::ast::{
    ActionConstraint, ConditionKind, Effect, EntityRef, ScopeConstraint, SlotId, Statement,
    StatementKind,
};
use smol_str::SmolStr;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What happens when a policy's evaluation errors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ErrorMode {
    /// Cedar's semantics: an erroring policy is skipped (and reported).
    Cedar,
    /// Mandate's default: an erroring `forbid` is treated as satisfied, so a broken guard fails
    /// closed; an erroring `permit` is skipped, as in Cedar.
    #[default]
    DenyOnForbidError,
}

impl ErrorMode {
    /// Parses `cedar` or `deny-on-forbid-error`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cedar" => Some(ErrorMode::Cedar),
            "deny-on-forbid-error" => Some(ErrorMode::DenyOnForbidError),
            _ => None,
        }
    }
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorMode::Cedar => "cedar",
            ErrorMode::DenyOnForbidError => "deny-on-forbid-error",
        }
    }
}

/// A policy ready to evaluate: a statement, plus slot values when it is a linked template.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The id decisions report.
    pub id: SmolStr,
    /// The statement (shared with its template when linked).
    pub statement: Arc<Statement>,
    /// `?principal` when linked.
    pub slot_principal: Option<Value>,
    /// `?resource` when linked.
    pub slot_resource: Option<Value>,
}

/// A set of policies, templates and quotas with unique ids.
#[derive(Clone, Debug, Default)]
pub struct PolicySet {
    policies: Vec<Policy>,
    templates: BTreeMap<SmolStr, Arc<Statement>>,
    quotas: Vec<Arc<Statement>>,
    ids: BTreeSet<SmolStr>,
    /// Built on first use after the last change.
    index: std::sync::OnceLock<Arc<crate::index::Index>>,
}

impl PolicySet {
    /// An empty set.
    pub fn new() -> Self {
        PolicySet::default()
    }

    /// Adds statements parsed from one file. Statements with positional ids (`policyN`) are
    /// renumbered to continue after the ones already in the set, so ids follow load order.
    ///
    /// # Errors
    /// A duplicate id (as a diagnostic on the statement).
    pub fn add_statements(&mut self, statements: Vec<Statement>) -> Result<(), Vec<Diagnostic>> {
        self.index = std::sync::OnceLock::new();
        let mut errors = Vec::new();
        for mut s in statements {
            if s.positional_id {
                s.id = match s.kind {
                    StatementKind::Policy(_) => SmolStr::new(format!(
                        "policy{}",
                        self.policies.len() + self.templates.len()
                    )),
                    StatementKind::Quota(_) => SmolStr::new(format!("quota{}", self.quotas.len())),
                };
            }
            if !self.ids.insert(s.id.clone()) {
                errors.push(
                    Diagnostic::error("MD0012", format!("duplicate policy id `{}`", s.id))
                        .with_label(s.span, "")
                        .with_help("every policy and quota needs its own `@id`"),
                );
                continue;
            }
            let s = Arc::new(s);
            match s.kind {
                StatementKind::Quota(_) => self.quotas.push(s),
                StatementKind::Policy(_) if s.is_template() => {
                    self.templates.insert(s.id.clone(), s);
                }
                StatementKind::Policy(_) => {
                    self.policies.push(Policy {
                        id: s.id.clone(),
                        statement: s,
                        slot_principal: None,
                        slot_resource: None,
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Links template `template` as policy `new_id` with the given slot values.
    ///
    /// # Errors
    /// Unknown template, duplicate id, or a missing slot value.
    pub fn link(
        &mut self,
        template: &str,
        new_id: &str,
        principal: Option<Uid>,
        resource: Option<Uid>,
    ) -> Result<(), String> {
        let t = self
            .templates
            .get(template)
            .cloned()
            .ok_or_else(|| format!("unknown template `{template}`"))?;
        let needs_p = t.principal.slot().is_some();
        let needs_r = t.resource.slot().is_some();
        if needs_p != principal.is_some() || needs_r != resource.is_some() {
            return Err(format!(
                "template `{template}` needs values for exactly its slots"
            ));
        }
        if !self.ids.insert(SmolStr::new(new_id)) {
            return Err(format!("duplicate policy id `{new_id}`"));
        }
        self.index = std::sync::OnceLock::new();
        self.policies.push(Policy {
            id: SmolStr::new(new_id),
            statement: t,
            slot_principal: principal.map(Value::entity),
            slot_resource: resource.map(Value::entity),
        });
        Ok(())
    }

    /// The policies (templates excluded, linked templates included), in load order.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }
    /// The decision index over `policies()`, built once after the last change.
    pub fn index(&self) -> &crate::index::Index {
        self.index
            .get_or_init(|| Arc::new(crate::index::Index::build(&self.policies)))
    }

    /// The templates.
    pub fn templates(&self) -> impl Iterator<Item = &Arc<Statement>> {
        self.templates.values()
    }
    /// The quota declarations, in load order.
    pub fn quotas(&self) -> &[Arc<Statement>] {
        &self.quotas
    }
}

/// A request: who does what to which resource, in what context.
#[derive(Clone, Debug)]
pub struct Request {
    /// The principal entity.
    pub principal: Uid,
    /// The action entity.
    pub action: Uid,
    /// The resource entity.
    pub resource: Uid,
    /// The context record.
    pub context: Value,
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied.
    Deny,
}

impl Decision {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

/// A policy whose evaluation failed, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// The policy's id.
    pub policy: SmolStr,
    /// The error.
    pub error: EvalError,
}

/// The authorizer's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Allow or deny.
    pub decision: Decision,
    /// The determining policies: the satisfied forbids for a deny, the satisfied permits for an allow.
    pub reasons: Vec<SmolStr>,
    /// The policies whose evaluation errored, in policy order.
    pub errors: Vec<PolicyError>,
}

/// Whether a policy applies, and if not, why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The scope does not match the request.
    ScopeMismatch,
    /// The scope matches but a condition is false.
    ConditionFalse,
    /// Scope and conditions hold.
    Satisfied,
    /// Evaluation failed.
    Error(EvalError),
}

fn ref_uid<'a>(r: &'a EntityRef, policy: &'a Policy) -> Option<&'a Uid> {
    match r {
        EntityRef::Uid(_) => None,
        EntityRef::Slot(SlotId::Principal, _) => policy.slot_principal.as_ref().and_then(entity_of),
        EntityRef::Slot(SlotId::Resource, _) => policy.slot_resource.as_ref().and_then(entity_of),
    }
}

fn entity_of(v: &Value) -> Option<&Uid> {
    match v {
        Value::Entity(u) => Some(u),
        _ => None,
    }
}

fn scope_matches(c: &ScopeConstraint, who: &Uid, policy: &Policy, entities: &Entities) -> bool {
    let target = |r: &EntityRef| -> Option<Uid> {
        match r {
            EntityRef::Uid(u) => Some(Uid::from_ast(u)),
            EntityRef::Slot(..) => ref_uid(r, policy).cloned(),
        }
    };
    match c {
        ScopeConstraint::Any => true,
        ScopeConstraint::Eq(r) => target(r).is_some_and(|t| *who == t),
        ScopeConstraint::In(r) => target(r).is_some_and(|t| entity_in(who, &t, entities)),
        ScopeConstraint::Is(ty) => who.ty == ty.full,
        ScopeConstraint::IsIn(ty, r) => {
            who.ty == ty.full && target(r).is_some_and(|t| entity_in(who, &t, entities))
        }
    }
}

fn action_matches(c: &ActionConstraint, action: &Uid, entities: &Entities) -> bool {
    match c {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(u) => *action == Uid::from_ast(u),
        ActionConstraint::In(u) => entity_in(action, &Uid::from_ast(u), entities),
        ActionConstraint::InList(us) => us
            .iter()
            .any(|u| entity_in(action, &Uid::from_ast(u), entities)),
    }
}

/// Evaluates one policy's scope and conditions against a request.
pub fn evaluate_policy(
    policy: &Policy,
    request: &Request,
    principal: &Value,
    action: &Value,
    resource: &Value,
    entities: &Entities,
) -> Outcome {
    if !scope_applies(policy, request, entities) {
        return Outcome::ScopeMismatch;
    }
    conditions_hold(policy, request, principal, action, resource, entities)
}

/// Whether a policy's scope (principal, action, resource) matches a request.
pub fn scope_applies(policy: &Policy, request: &Request, entities: &Entities) -> bool {
    let s = &policy.statement;
    scope_matches(&s.principal, &request.principal, policy, entities)
        && action_matches(&s.action, &request.action, entities)
        && scope_matches(&s.resource, &request.resource, policy, entities)
}

/// Evaluates a policy's conditions, in order, assuming its scope matched: `Satisfied`,
/// `ConditionFalse` or the first error.
pub fn conditions_hold(
    policy: &Policy,
    request: &Request,
    principal: &Value,
    action: &Value,
    resource: &Value,
    entities: &Entities,
) -> Outcome {
    let s = &policy.statement;
    let env = Env {
        principal,
        action,
        resource,
        context: &request.context,
        entities,
        slot_principal: policy.slot_principal.as_ref(),
        slot_resource: policy.slot_resource.as_ref(),
    };
    for cond in &s.conditions {
        let v = match eval(&cond.body, &env) {
            Ok(v) => v,
            Err(e) => return Outcome::Error(e),
        };
        let holds = match (cond.kind, v) {
            (ConditionKind::When, Value::Bool(b)) => b,
            (ConditionKind::Unless, Value::Bool(b)) => !b,
            (_, other) => {
                return Outcome::Error(EvalError::Type(format!(
                    "a condition must be a boolean, found {}",
                    other.type_name()
                )));
            }
        };
        if !holds {
            return Outcome::ConditionFalse;
        }
    }
    Outcome::Satisfied
}

/// Decides a request against a policy set, evaluating only the policies the decision index
/// says can match.
pub fn is_authorized(
    policies: &PolicySet,
    request: &Request,
    entities: &Entities,
    mode: ErrorMode,
) -> Response {
    let mut candidates = Vec::new();
    policies.index().candidates(
        &request.principal,
        &request.action,
        &request.resource,
        entities,
        &mut candidates,
    );
    let selected = candidates
        .iter()
        .filter_map(|&i| policies.policies.get(i as usize));
    decide(selected, request, entities, mode)
}

/// Decides a request by evaluating every policy, without the index: the reference the indexed
/// path is tested against.
pub fn is_authorized_unindexed(
    policies: &PolicySet,
    request: &Request,
    entities: &Entities,
    mode: ErrorMode,
) -> Response {
    decide(policies.policies.iter(), request, entities, mode)
}

fn decide<'a>(
    selected: impl Iterator<Item = &'a Policy>,
    request: &Request,
    entities: &Entities,
    mode: ErrorMode,
) -> Response {
    let principal = Value::entity(request.principal.clone());
    let action = Value::entity(request.action.clone());
    let resource = Value::entity(request.resource.clone());
    let mut permits = Vec::new();
    let mut forbids = Vec::new();
    let mut errors = Vec::new();
    for policy in selected {
        let effect = match policy.statement.kind {
            StatementKind::Policy(e) => e,
            StatementKind::Quota(_) => continue,
        };
        match evaluate_policy(policy, request, &principal, &action, &resource, entities) {
            Outcome::Satisfied => match effect {
                Effect::Permit => permits.push(policy.id.clone()),
                Effect::Forbid => forbids.push(policy.id.clone()),
            },
            Outcome::Error(error) => {
                if effect == Effect::Forbid && mode == ErrorMode::DenyOnForbidError {
                    forbids.push(policy.id.clone());
                }
                errors.push(PolicyError {
                    policy: policy.id.clone(),
                    error,
                });
            }
            Outcome::ScopeMismatch | Outcome::ConditionFalse => {}
        }
    }
    if !forbids.is_empty() {
        Response {
            decision: Decision::Deny,
            reasons: forbids,
            errors,
        }
    } else if !permits.is_empty() {
        Response {
            decision: Decision::Allow,
            reasons: permits,
            errors,
        }
    } else {
        Response {
            decision: Decision::Deny,
            reasons: Vec::new(),
            errors,
        }
    }
}
