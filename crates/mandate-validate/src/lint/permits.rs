//! Lints on what permits grant: everything to everyone, everything to agents, agent actions no
//! quota limits.

use std::collections::{BTreeMap, BTreeSet};

use mandate_syntax::ast::{ActionConstraint, Effect, ScopeConstraint, Statement, StatementKind};
use smol_str::SmolStr;

use super::scope::{
    Types, action_span, constraint_types, has_condition, principal_types, schema_actions,
};
use super::{Ctx, declare_lint};
use crate::schema::ActionId;

declare_lint! {
    /// ## What it flags
    ///
    /// A `permit` whose scope constrains nothing (`principal`, `action` and `resource` bare) and
    /// that has no condition, or only a trivially true one (`when { true }`, `unless { false }`).
    ///
    /// ## Why it matters
    ///
    /// Such a permit allows every request: every principal, agents included, may do every action
    /// on every resource. Only `forbid` policies still limit anything, so the set is deny-listed
    /// rather than least-privilege. It is usually a leftover from testing.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// @id("allow-all")
    /// permit (principal, action, resource);
    /// ```
    ///
    /// ## Use instead
    ///
    /// Grant what each kind of principal needs:
    ///
    /// ```cedar
    /// @id("agents-read-documents")
    /// permit (
    ///   principal is Platform::Agent,
    ///   action == Platform::Action::"ReadDocument",
    ///   resource is Platform::Document
    /// )
    /// when { resource.owner == principal.owner };
    /// ```
    pub const UNCONSTRAINED_PERMIT = {
        code: "MDL001",
        name: "unconstrained-permit",
        severity: Error,
        needs_schema: false,
        summary: "a permit with no scope constraint and no condition",
    };
}

declare_lint! {
    /// ## What it flags
    ///
    /// A `permit` without a condition that lets an agent principal type perform any action
    /// (bare `action`) or act on any resource (bare `resource`).
    ///
    /// A principal type is an agent type when its name is `Agent` in any namespace
    /// (`Platform::Agent`, `Agent`) or when `mandate.toml` lists it under `[lint] agent-types`.
    /// The permit grants to an agent type when its principal constraint names one (`principal
    /// is Platform::Agent`, `principal == Platform::Agent::"a"`, `principal in
    /// Platform::Agent::"a"`) or, with a schema, when it can match one: a bare `principal`, a
    /// template slot, or `principal in` a group that agents can be members of, for an action
    /// whose `appliesTo` lists the agent type. (Schema annotations such as `@agent` are not kept
    /// by the schema reader, so they cannot mark agent types.)
    ///
    /// ## Why it matters
    ///
    /// Least privilege: an agent acts on instructions that may come from untrusted input
    /// (prompt injection). A grant that covers every action or every resource gives a hijacked
    /// agent the same reach, including actions and resources added to the schema later.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// @id("ops-agents-do-anything-with-tools")
    /// permit (principal is Platform::Agent, action, resource is Platform::Tool);
    /// ```
    ///
    /// ## Use instead
    ///
    /// Name the actions (or an action group) and the resources, or add a condition:
    ///
    /// ```cedar
    /// @id("ops-agents-invoke-low-risk-tools")
    /// permit (
    ///   principal is Platform::Agent,
    ///   action == Platform::Action::"InvokeTool",
    ///   resource is Platform::Tool
    /// )
    /// when { resource.risk <= 2 };
    /// ```
    pub const AGENT_WILDCARD_PERMIT = {
        code: "MDL002",
        name: "agent-wildcard-permit",
        severity: Warning,
        needs_schema: false,
        summary: "a permit letting agents do any action or act on any resource, unconditionally",
    };
}

declare_lint! {
    /// ## What it flags
    ///
    /// A `permit` that can let an agent principal type (see `agent-wildcard-permit` for what
    /// counts as one) perform an action that no `quota` declaration covers. It needs a schema:
    /// for each action the permit matches, the schema's `appliesTo` says which principal and
    /// resource types it applies to.
    ///
    /// A quota covers an action for an agent type when its action scope matches the action
    /// (`==`, `in` a group, or bare) and its principal scope can match the type (bare, `is`
    /// the type, or `in` a group agents can belong to). The quota's resource scope, conditions
    /// and limit are not considered: a quota that meters only some requests still counts.
    ///
    /// ## Why it matters
    ///
    /// An agent stuck in a loop, or steered by injected instructions, repeats what it is allowed
    /// to do as fast as it can. Without a quota, nothing bounds the cost or the damage of an
    /// action it may perform: every action open to agents should be metered.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// // No quota mentions WriteDocument.
    /// @id("agents-write-drafts")
    /// permit (
    ///   principal is Platform::Agent,
    ///   action == Platform::Action::"WriteDocument",
    ///   resource is Platform::Document
    /// )
    /// when { context.approved };
    /// ```
    ///
    /// ## Use instead
    ///
    /// Declare a quota (in a `.mandate` file) whose scope covers the action:
    ///
    /// ```cedar
    /// @id("document-writes-per-agent")
    /// quota (
    ///   principal is Platform::Agent,
    ///   action == Platform::Action::"WriteDocument",
    ///   resource
    /// )
    ///   limit 100 per 1h;
    /// ```
    ///
    /// Or, when the action is harmless to repeat, say so on the permit with
    /// `@allow("unmetered-agent-action")`.
    pub const UNMETERED_AGENT_ACTION = {
        code: "MDL003",
        name: "unmetered-agent-action",
        severity: Warning,
        needs_schema: true,
        summary: "an action agents can be permitted that no quota covers",
    };
}

pub(crate) fn check(ctx: &mut Ctx<'_>) {
    let permits: Vec<(usize, &Statement)> = ctx
        .statements()
        .filter(|(_, s)| matches!(s.kind, StatementKind::Policy(Effect::Permit)))
        .collect();
    for &(file, s) in &permits {
        if !has_condition(s) && is_bare(s) {
            let head = ctx.head_span(file, s);
            let d = UNCONSTRAINED_PERMIT
                .diagnostic("this permit allows every request")
                .with_label(head, "no scope constraint and no condition")
                .with_help("constrain the principal, action and resource to what is needed, or add a `when` condition")
                .with_note("only `forbid` policies still limit anything in this policy set");
            ctx.emit(file, d);
        } else if !has_condition(s) {
            wildcard_agent(ctx, file, s);
        }
    }
    unmetered(ctx, &permits);
}

fn is_bare(s: &Statement) -> bool {
    matches!(s.principal, ScopeConstraint::Any)
        && matches!(s.action, ActionConstraint::Any)
        && matches!(s.resource, ScopeConstraint::Any)
}

/// The agent types a statement can grant to.
fn agent_types(ctx: &Ctx<'_>, s: &Statement) -> BTreeSet<SmolStr> {
    match ctx.schema() {
        Some(schema) => principal_types(s, schema)
            .into_iter()
            .filter(|t| ctx.is_agent_type(t))
            .collect(),
        None => match constraint_types(&s.principal, None) {
            Types::All => BTreeSet::new(),
            Types::Some(set) => set.into_iter().filter(|t| ctx.is_agent_type(t)).collect(),
        },
    }
}

fn wildcard_agent(ctx: &mut Ctx<'_>, file: usize, s: &Statement) {
    let any_action = matches!(s.action, ActionConstraint::Any);
    let any_resource = matches!(s.resource, ScopeConstraint::Any);
    if !any_action && !any_resource {
        return;
    }
    let agents = agent_types(ctx, s);
    if agents.is_empty() {
        return;
    }
    let what = match (any_action, any_resource) {
        (true, true) => "perform any action on any resource",
        (true, false) => "perform any action",
        _ => "act on any resource",
    };
    let head = ctx.head_span(file, s);
    let d = AGENT_WILDCARD_PERMIT
        .diagnostic(format!(
            "this permit lets agents ({}) {what}",
            list(agents.iter().map(|t| format!("`{t}`")))
        ))
        .with_label(head, "no condition narrows it")
        .with_help(
            "name the actions and resource types the agents need, or add a `when` condition",
        );
    ctx.emit(file, d);
}

fn unmetered(ctx: &mut Ctx<'_>, permits: &[(usize, &Statement)]) {
    let Some(schema) = ctx.schema() else {
        return;
    };
    let quotas: Vec<(BTreeSet<&ActionId>, Types)> = ctx
        .statements()
        .filter(|(_, s)| matches!(s.kind, StatementKind::Quota(_)))
        .map(|(_, q)| {
            (
                schema_actions(&q.action, schema).into_iter().collect(),
                constraint_types(&q.principal, Some(schema)),
            )
        })
        .collect();
    for &(file, s) in permits {
        if !has_condition(s) && is_bare(s) {
            // `unconstrained-permit` already says everything about it.
            continue;
        }
        let principals = constraint_types(&s.principal, Some(schema));
        let resources = constraint_types(&s.resource, Some(schema));
        let mut missing: BTreeMap<&ActionId, BTreeSet<&SmolStr>> = BTreeMap::new();
        for action in schema_actions(&s.action, schema) {
            let Some(applies) = schema
                .actions
                .get(action)
                .and_then(|d| d.applies_to.as_ref())
            else {
                continue;
            };
            if !applies.resource_types.iter().any(|r| resources.contains(r)) {
                continue;
            }
            for agent in applies
                .principal_types
                .iter()
                .filter(|t| ctx.is_agent_type(t) && principals.contains(t))
            {
                let covered = quotas
                    .iter()
                    .any(|(actions, types)| actions.contains(action) && types.contains(agent));
                if !covered {
                    missing.entry(action).or_default().insert(agent);
                }
            }
        }
        let Some((first_action, first_types)) = missing.iter().next() else {
            continue;
        };
        let agents: BTreeSet<&SmolStr> = missing.values().flatten().copied().collect();
        let agents_text = list(agents.iter().map(|t| format!("`{t}`")));
        let message = if missing.len() == 1 {
            format!(
                "agents ({agents_text}) can be permitted `{first_action}`, which no quota limits"
            )
        } else {
            format!(
                "agents ({agents_text}) can be permitted {} actions that no quota limits: {}",
                missing.len(),
                list(missing.keys().map(|a| format!("`{a}`")))
            )
        };
        let span = action_span(&s.action).unwrap_or_else(|| ctx.head_span(file, s));
        let example_type = first_types.iter().next().map_or("Agent", |t| t.as_str());
        let d = UNMETERED_AGENT_ACTION
            .diagnostic(message)
            .with_label(span, "no quota covers this for agents")
            .with_help(format!(
                "declare a quota in a `.mandate` file, such as `quota (principal is {example_type}, action == {first_action}, resource) limit 1000 per 1h;`"
            ));
        ctx.emit(file, d);
    }
}

/// `a`, `a and b`, `a, b and c`.
pub(crate) fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}
