//! Explanations: why one request is allowed or denied.
//!
//! [`Engine::explain`](crate::Engine::explain) evaluates every policy (and every quota) of the
//! running version for the request, one by one and without the decision index: whether each part
//! of its scope matched, the value (or error) of every condition, and its outcome. For a denial
//! with no satisfied permit it lists the permits that came closest (scope matched, fewest failing
//! conditions first) with the conditions that failed. The decision itself is what
//! `authorize_with` gives with `dry_run: true` (nothing is charged).
//!
//! Unlike a decision, an explanation evaluates every condition of a policy, even after one is
//! false, so it can report every failing condition; evaluation is pure, so this changes nothing.

use crate::engine::{Decision, Request};
use crate::version::PolicyVersion;
use mandate_eval::authorizer::{Outcome, Policy, evaluate_policy};
use mandate_eval::eval::{Env, entity_in, eval};
use mandate_eval::{Entities, Uid, Value};
use mandate_syntax::ast::{
    ActionConstraint, ConditionKind, Effect, EntityRef, ScopeConstraint, SlotId, StatementKind,
};
use smol_str::SmolStr;
use std::fmt;
use std::sync::Arc;

/// The explanation of one request.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Explanation {
    /// The decision (a dry run: nothing charged).
    pub decision: Decision,
    /// The policy evaluation for the acting principal, then for every principal of the
    /// delegation chain (nearest first).
    pub principals: Vec<PrincipalExplanation>,
    /// Every quota declaration, with whether it applies to the request.
    pub quotas: Vec<PolicyExplanation>,
    /// Why the policies could not be evaluated (the entities failed to load), if so.
    pub entities_error: Option<String>,
}

/// The policies evaluated for one principal.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PrincipalExplanation {
    /// The principal, in Cedar syntax.
    pub principal: String,
    /// `acting` for the request's principal, `delegator` for a principal of `on_behalf_of`.
    pub role: &'static str,
    /// What the policies alone decide for this principal: `allow` or `deny`.
    pub policy_decision: &'static str,
    /// The determining policies: satisfied forbids for a deny, satisfied permits for an allow.
    pub determining: Vec<SmolStr>,
    /// Every policy, in load order.
    pub policies: Vec<PolicyExplanation>,
    /// For a denial without any satisfied permit: the permits whose scope matched, closest
    /// first (fewest failing conditions).
    pub closest_permits: Vec<NearMiss>,
}

/// One policy's evaluation.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PolicyExplanation {
    /// The policy id.
    pub id: SmolStr,
    /// `permit`, `forbid` or `quota`.
    pub effect: &'static str,
    /// Which parts of the scope matched.
    pub scope: ScopeMatch,
    /// Every condition, in order (empty when the scope did not match: conditions are then not
    /// evaluated).
    pub conditions: Vec<ConditionExplanation>,
    /// `satisfied`, `scope-mismatch`, `condition-false` or `error`, as the authorizer sees it.
    pub outcome: &'static str,
    /// The evaluation error, when the outcome is `error`.
    pub error: Option<String>,
}

impl PolicyExplanation {
    /// How many conditions are false or failed.
    pub fn failing(&self) -> usize {
        self.conditions
            .iter()
            .filter(|c| c.holds != Some(true))
            .count()
    }
}

/// Which parts of a policy's scope matched the request.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct ScopeMatch {
    /// The principal constraint.
    pub principal: bool,
    /// The action constraint.
    pub action: bool,
    /// The resource constraint.
    pub resource: bool,
}

impl ScopeMatch {
    /// All three parts matched.
    pub fn matched(&self) -> bool {
        self.principal && self.action && self.resource
    }
}

/// One `when` or `unless` clause.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConditionExplanation {
    /// `when` or `unless`.
    pub kind: &'static str,
    /// The condition, formatted.
    pub text: String,
    /// Its value (Cedar JSON), when it evaluated.
    pub value: Option<serde_json::Value>,
    /// Its error, when it failed.
    pub error: Option<String>,
    /// Whether the clause holds (`when` true, `unless` false); `None` when it failed or is not a
    /// boolean.
    pub holds: Option<bool>,
}

/// A permit whose scope matched but which was not satisfied.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NearMiss {
    /// The permit's id.
    pub id: SmolStr,
    /// How many conditions failed.
    pub failing: usize,
    /// The failing conditions (false, or erroring).
    pub failed_conditions: Vec<ConditionExplanation>,
}

/// Builds the explanation (called by `Engine::explain` with the entities it decides with).
pub(crate) fn explain(
    request: &Request,
    version: &PolicyVersion,
    entities: Result<Arc<Entities>, String>,
    decision: Decision,
    error_mode: mandate_eval::ErrorMode,
) -> Explanation {
    let entities = match entities {
        Ok(e) => e,
        Err(message) => {
            return Explanation {
                decision,
                principals: Vec::new(),
                quotas: Vec::new(),
                entities_error: Some(message),
            };
        }
    };
    let context = delegation_context(&request.context, &request.on_behalf_of);
    let mut principals = Vec::with_capacity(1 + request.on_behalf_of.len());
    let chain = std::iter::once((&request.principal, "acting"))
        .chain(request.on_behalf_of.iter().map(|p| (p, "delegator")));
    for (who, role) in chain {
        let core = mandate_eval::Request {
            principal: who.clone(),
            action: request.action.clone(),
            resource: request.resource.clone(),
            context: context.clone(),
        };
        principals.push(explain_principal(
            version, &core, &entities, role, error_mode,
        ));
    }
    let core = mandate_eval::Request {
        principal: request.principal.clone(),
        action: request.action.clone(),
        resource: request.resource.clone(),
        context,
    };
    let quotas = version
        .quotas
        .iter()
        .map(|q| explain_policy(&q.policy, "quota", &core, &entities))
        .collect();
    Explanation {
        decision,
        principals,
        quotas,
        entities_error: None,
    }
}

fn explain_principal(
    version: &PolicyVersion,
    core: &mandate_eval::Request,
    entities: &Entities,
    role: &'static str,
    error_mode: mandate_eval::ErrorMode,
) -> PrincipalExplanation {
    let policies: Vec<PolicyExplanation> = version
        .policies
        .policies()
        .iter()
        .filter_map(|p| {
            let effect = match p.statement.kind {
                StatementKind::Policy(Effect::Permit) => "permit",
                StatementKind::Policy(Effect::Forbid) => "forbid",
                StatementKind::Quota(_) => return None,
            };
            Some(explain_policy(p, effect, core, entities))
        })
        .collect();
    let resp = mandate_eval::authorizer::is_authorized_unindexed(
        &version.policies,
        core,
        entities,
        error_mode,
    );
    let any_permit = policies
        .iter()
        .any(|p| p.effect == "permit" && p.outcome == "satisfied");
    let mut closest_permits = Vec::new();
    if resp.decision == mandate_eval::Decision::Deny && !any_permit {
        closest_permits = policies
            .iter()
            .filter(|p| p.effect == "permit" && p.scope.matched())
            .map(|p| NearMiss {
                id: p.id.clone(),
                failing: p.failing(),
                failed_conditions: p
                    .conditions
                    .iter()
                    .filter(|c| c.holds != Some(true))
                    .cloned()
                    .collect(),
            })
            .collect();
        // Stable: ties keep load order.
        closest_permits.sort_by_key(|m| m.failing);
    }
    PrincipalExplanation {
        principal: core.principal.to_string(),
        role,
        policy_decision: resp.decision.as_str(),
        determining: resp.reasons,
        policies,
        closest_permits,
    }
}

fn explain_policy(
    policy: &Policy,
    effect: &'static str,
    core: &mandate_eval::Request,
    entities: &Entities,
) -> PolicyExplanation {
    let s = &policy.statement;
    let principal = Value::entity(core.principal.clone());
    let action = Value::entity(core.action.clone());
    let resource = Value::entity(core.resource.clone());
    let scope = ScopeMatch {
        principal: scope_matches(&s.principal, &core.principal, policy, entities),
        action: action_matches(&s.action, &core.action, entities),
        resource: scope_matches(&s.resource, &core.resource, policy, entities),
    };
    let mut conditions = Vec::new();
    if scope.matched() {
        let env = Env {
            principal: &principal,
            action: &action,
            resource: &resource,
            context: &core.context,
            entities,
            slot_principal: policy.slot_principal.as_ref(),
            slot_resource: policy.slot_resource.as_ref(),
        };
        for cond in &s.conditions {
            let kind = match cond.kind {
                ConditionKind::When => "when",
                ConditionKind::Unless => "unless",
            };
            let text = mandate_syntax::fmt::expr_to_string(&cond.body);
            let (value, error, holds) = match eval(&cond.body, &env) {
                Ok(v) => {
                    let holds = match (&v, cond.kind) {
                        (Value::Bool(b), ConditionKind::When) => Some(*b),
                        (Value::Bool(b), ConditionKind::Unless) => Some(!*b),
                        _ => None,
                    };
                    let error = holds
                        .is_none()
                        .then(|| format!("a condition must be a boolean, found {}", v.type_name()));
                    (Some(v.to_json()), error, holds)
                }
                Err(e) => (None, Some(e.to_string()), None),
            };
            conditions.push(ConditionExplanation {
                kind,
                text,
                value,
                error,
                holds,
            });
        }
    }
    let (outcome, error) =
        match evaluate_policy(policy, core, &principal, &action, &resource, entities) {
            Outcome::Satisfied => ("satisfied", None),
            Outcome::ScopeMismatch => ("scope-mismatch", None),
            Outcome::ConditionFalse => ("condition-false", None),
            Outcome::Error(e) => ("error", Some(e.to_string())),
        };
    PolicyExplanation {
        id: policy.id.clone(),
        effect,
        scope,
        conditions,
        outcome,
        error,
    }
}

fn slot_uid(r: &EntityRef, policy: &Policy) -> Option<Uid> {
    let slot = match r {
        EntityRef::Uid(u) => return Some(Uid::from_ast(u)),
        EntityRef::Slot(SlotId::Principal, _) => policy.slot_principal.as_ref(),
        EntityRef::Slot(SlotId::Resource, _) => policy.slot_resource.as_ref(),
    };
    match slot {
        Some(Value::Entity(u)) => Some((**u).clone()),
        _ => None,
    }
}

fn scope_matches(c: &ScopeConstraint, who: &Uid, policy: &Policy, entities: &Entities) -> bool {
    match c {
        ScopeConstraint::Any => true,
        ScopeConstraint::Eq(r) => slot_uid(r, policy).is_some_and(|t| *who == t),
        ScopeConstraint::In(r) => slot_uid(r, policy).is_some_and(|t| entity_in(who, &t, entities)),
        ScopeConstraint::Is(ty) => who.ty == ty.full,
        ScopeConstraint::IsIn(ty, r) => {
            who.ty == ty.full && slot_uid(r, policy).is_some_and(|t| entity_in(who, &t, entities))
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

/// The context policies see (as the engine builds it): with a delegation chain,
/// `context.delegation` holds its principals unless the caller set that field.
fn delegation_context(context: &Value, chain: &[Uid]) -> Value {
    if chain.is_empty() {
        return context.clone();
    }
    match context {
        Value::Record(fields) if !fields.contains_key("delegation") => {
            let mut fields = (**fields).clone();
            fields.insert(
                SmolStr::new("delegation"),
                Value::set(chain.iter().cloned().map(Value::entity)),
            );
            Value::Record(Arc::new(fields))
        }
        other => other.clone(),
    }
}

fn condition_line(c: &ConditionExplanation) -> String {
    let result = match (&c.error, &c.value) {
        (Some(e), _) => format!("error: {e}"),
        (None, Some(v)) => format!("= {v}"),
        (None, None) => "not evaluated".to_string(),
    };
    let mark = if c.holds == Some(true) {
        "holds"
    } else {
        "FAILS"
    };
    format!("{} {{ {} }} {result}  [{mark}]", c.kind, c.text)
}

fn write_policy(f: &mut fmt::Formatter<'_>, p: &PolicyExplanation) -> fmt::Result {
    let scope = if p.scope.matched() {
        "scope matched".to_string()
    } else {
        let missed: Vec<&str> = [
            (!p.scope.principal).then_some("principal"),
            (!p.scope.action).then_some("action"),
            (!p.scope.resource).then_some("resource"),
        ]
        .into_iter()
        .flatten()
        .collect();
        format!("scope did not match ({})", missed.join(", "))
    };
    writeln!(f, "    {} {}: {} — {scope}", p.effect, p.id, p.outcome)?;
    for c in &p.conditions {
        writeln!(f, "      {}", condition_line(c))?;
    }
    if let (Some(e), true) = (&p.error, p.conditions.iter().all(|c| c.error.is_none())) {
        writeln!(f, "      error: {e}")?;
    }
    Ok(())
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.decision;
        let reasons: Vec<&str> = d.reasons.iter().map(SmolStr::as_str).collect();
        writeln!(
            f,
            "{} (layer: {}{})",
            d.decision_str().to_uppercase(),
            d.layer.as_str(),
            if reasons.is_empty() {
                String::new()
            } else {
                format!("; determined by: {}", reasons.join(", "))
            }
        )?;
        if let Some(p) = &d.denied_principal {
            writeln!(f, "  failing principal: {p}")?;
        }
        for e in &d.errors {
            writeln!(f, "  error in {}: {}", e.id, e.message)?;
        }
        writeln!(f, "  policy version: {}", d.policy_version)?;
        if let Some(e) = &self.entities_error {
            writeln!(f, "  the policies were not evaluated: {e}")?;
        }
        for pe in &self.principals {
            writeln!(f)?;
            writeln!(
                f,
                "{} principal {}: policies {}{}",
                pe.role,
                pe.principal,
                pe.policy_decision,
                if pe.determining.is_empty() {
                    if pe.policy_decision == "deny" {
                        " (no permit satisfied: default deny)".to_string()
                    } else {
                        String::new()
                    }
                } else {
                    format!(
                        " (determined by: {})",
                        pe.determining
                            .iter()
                            .map(SmolStr::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )?;
            for p in &pe.policies {
                write_policy(f, p)?;
            }
            if !pe.closest_permits.is_empty() {
                writeln!(f, "  closest permits:")?;
                for m in &pe.closest_permits {
                    writeln!(
                        f,
                        "    {}: {} failing condition{}",
                        m.id,
                        m.failing,
                        if m.failing == 1 { "" } else { "s" }
                    )?;
                    for c in &m.failed_conditions {
                        writeln!(f, "      {}", condition_line(c))?;
                    }
                }
            } else if pe.policy_decision == "deny" && pe.determining.is_empty() {
                writeln!(f, "  no permit's scope matches this request")?;
            }
        }
        if !self.quotas.is_empty() {
            writeln!(f)?;
            writeln!(f, "quotas:")?;
            for q in &self.quotas {
                write_policy(f, q)?;
            }
        }
        for q in &d.quota {
            writeln!(
                f,
                "  quota {} [{}]: {}/{} used, cost {}{}",
                q.quota,
                q.bucket,
                q.used,
                q.limit,
                q.cost,
                if q.admitted { "" } else { " (refused)" }
            )?;
        }
        Ok(())
    }
}
