//! Lints on statements that add nothing: exact duplicates, and permits that an unconditioned
//! `forbid` always overrides.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use mandate_syntax::ast::{
    ActionConstraint, Effect, EntityRef, ScopeConstraint, Statement, StatementKind,
};

use super::scope::{action_subsumes, entity_subsumes, has_condition, is_template};
use super::{Ctx, declare_lint};

declare_lint! {
    /// ## What it flags
    ///
    /// A statement (policy, template or quota) equal to an earlier one in everything but its
    /// annotations: same effect, scope, conditions and, for quotas, clauses. Layout, comments
    /// and `@id`s do not matter. Both may be in different files.
    ///
    /// ## Why it matters
    ///
    /// A duplicate permit or forbid changes no decision but makes the set harder to review, and
    /// a later edit to one copy leaves the other in force: the policy the author thinks they
    /// changed still applies. A duplicate quota charges every request twice.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// @id("editors-write")
    /// permit (principal in Platform::Role::"editor", action == Platform::Action::"WriteDocument", resource)
    /// when { context.approved };
    ///
    /// @id("editors-write-copy")
    /// permit (principal in Platform::Role::"editor", action == Platform::Action::"WriteDocument", resource)
    /// when { context.approved };
    /// ```
    ///
    /// ## Use instead
    ///
    /// Keep one of them.
    pub const DUPLICATE_POLICY = {
        code: "MDL006",
        name: "duplicate-policy",
        severity: Warning,
        needs_schema: false,
        summary: "a statement equal to an earlier one apart from its annotations",
    };
}

declare_lint! {
    /// ## What it flags
    ///
    /// A `permit` that can never allow anything because a `forbid` without conditions matches
    /// every request the permit matches. The forbid's scope must cover the permit's, judged
    /// from the text: a bare constraint covers everything, `in E` covers `== E`, `in E` and
    /// `is T in E`, `is T` covers `is T`, `is T in E` and `== T::"…"`; with a schema, the
    /// actions are compared as sets, so `action in Platform::Action::"ToolActions"` covers
    /// every action of the group. Templates are not checked.
    ///
    /// ## Why it matters
    ///
    /// `forbid` overrides `permit`, so the permit is dead code that looks alive: a reviewer
    /// reads it as a grant that never happens, and removing or narrowing the forbid later
    /// silently brings it back.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// @id("no-agent-writes")
    /// forbid (principal is Platform::Agent, action == Platform::Action::"WriteDocument", resource);
    ///
    /// @id("release-bot-writes-notes")
    /// permit (
    ///   principal == Platform::Agent::"release-bot",
    ///   action == Platform::Action::"WriteDocument",
    ///   resource == Platform::Document::"release-notes"
    /// );
    /// ```
    ///
    /// ## Use instead
    ///
    /// Remove the permit, or make the forbid say what it really excludes:
    ///
    /// ```cedar
    /// @id("no-agent-writes-except-release-bot")
    /// forbid (principal is Platform::Agent, action == Platform::Action::"WriteDocument", resource)
    /// unless { principal == Platform::Agent::"release-bot" };
    /// ```
    pub const SHADOWED_BY_FORBID = {
        code: "MDL007",
        name: "shadowed-by-forbid",
        severity: Warning,
        needs_schema: false,
        summary: "a permit that an unconditioned forbid always overrides",
    };
}

pub(crate) fn check(ctx: &mut Ctx<'_>) {
    duplicates(ctx);
    shadowed(ctx);
}

/// A cheap fingerprint of the scope, so that only statements that may be equal are compared.
fn fingerprint(s: &Statement) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match &s.kind {
        StatementKind::Policy(e) => (0u8, *e).hash(&mut h),
        StatementKind::Quota(q) => (1u8, q.limit, q.per.millis).hash(&mut h),
    }
    for c in [&s.principal, &s.resource] {
        match c {
            ScopeConstraint::Any => 0u8.hash(&mut h),
            ScopeConstraint::Eq(r) => (1u8, entity_ref_key(r)).hash(&mut h),
            ScopeConstraint::In(r) => (2u8, entity_ref_key(r)).hash(&mut h),
            ScopeConstraint::Is(t) => (3u8, t).hash(&mut h),
            ScopeConstraint::IsIn(t, r) => (4u8, t, entity_ref_key(r)).hash(&mut h),
        }
    }
    match &s.action {
        ActionConstraint::Any => 0u8.hash(&mut h),
        ActionConstraint::Eq(u) => (1u8, u).hash(&mut h),
        ActionConstraint::In(u) => (2u8, u).hash(&mut h),
        ActionConstraint::InList(l) => (3u8, l).hash(&mut h),
    }
    s.conditions.len().hash(&mut h);
    h.finish()
}

fn entity_ref_key(r: &EntityRef) -> String {
    match r {
        EntityRef::Uid(u) => u.to_string(),
        EntityRef::Slot(slot, _) => slot.as_str().to_string(),
    }
}

fn same_body(a: &Statement, b: &Statement) -> bool {
    a.kind == b.kind
        && a.principal == b.principal
        && a.action == b.action
        && a.resource == b.resource
        && a.conditions == b.conditions
}

fn duplicates(ctx: &mut Ctx<'_>) {
    let mut buckets: HashMap<u64, Vec<(usize, &Statement)>> = HashMap::new();
    let mut found = Vec::new();
    for (file, s) in ctx.statements() {
        let bucket = buckets.entry(fingerprint(s)).or_default();
        if let Some(&(first_file, first)) = bucket.iter().find(|(_, t)| same_body(t, s)) {
            found.push((file, s, first_file, first));
        } else {
            bucket.push((file, s));
        }
    }
    for (file, s, first_file, first) in found {
        let head = ctx.head_span(file, s);
        let first_head = ctx.head_span(first_file, first);
        let d = DUPLICATE_POLICY
            .diagnostic(format!(
                "this {} repeats {}",
                kind_word(s),
                ctx.describe(first_file, first)
            ))
            .with_label(head, "same scope and conditions")
            .with_note(format!(
                "the first one is at `{}`",
                ctx.location(first_file, first_head)
            ))
            .with_help(
                "remove one of them; a later edit to one copy would leave the other in force",
            );
        ctx.emit(file, d);
    }
}

fn kind_word(s: &Statement) -> &'static str {
    match s.kind {
        StatementKind::Policy(e) => e.as_str(),
        StatementKind::Quota(_) => "quota",
    }
}

fn shadowed(ctx: &mut Ctx<'_>) {
    let schema = ctx.schema();
    let forbids: Vec<(usize, &Statement)> = ctx
        .statements()
        .filter(|(_, s)| {
            matches!(s.kind, StatementKind::Policy(Effect::Forbid))
                && !has_condition(s)
                && !is_template(s)
        })
        .collect();
    if forbids.is_empty() {
        return;
    }
    let mut found = Vec::new();
    for (file, p) in ctx.statements() {
        if !matches!(p.kind, StatementKind::Policy(Effect::Permit)) || is_template(p) {
            continue;
        }
        if let Some(&(f_file, f)) = forbids.iter().find(|(_, f)| {
            entity_subsumes(&f.principal, &p.principal)
                && entity_subsumes(&f.resource, &p.resource)
                && action_subsumes(&f.action, &p.action, schema)
        }) {
            found.push((file, p, f_file, f));
        }
    }
    for (file, p, f_file, f) in found {
        let head = ctx.head_span(file, p);
        let f_head = ctx.head_span(f_file, f);
        let d = SHADOWED_BY_FORBID
            .diagnostic(format!(
                "this permit never allows anything: {} overrides it on every request it matches",
                ctx.describe(f_file, f)
            ))
            .with_label(head, "shadowed by an unconditioned forbid")
            .with_note(format!(
                "the forbid is at `{}`",
                ctx.location(f_file, f_head)
            ))
            .with_help(
                "remove the permit, or narrow the forbid with its scope or an `unless` condition",
            );
        ctx.emit(file, d);
    }
}
