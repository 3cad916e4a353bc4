//! `forbid` policies whose conditions can raise an error when evaluated.

use std::collections::BTreeSet;

use mandate_syntax::ast::{
    Access, Effect, EntityUid, Expr, ExprKind, Literal, Statement, StatementKind, Var,
};
use mandate_syntax::{Source, Span};
use smol_str::SmolStr;

use super::scope::{constraint_types, principal_types, schema_actions};
use super::{Ctx, declare_lint};
use crate::schema::{RecordType, Schema, Type};

declare_lint! {
    /// ## What it flags
    ///
    /// A `forbid` whose conditions contain an operation that can raise an error when a
    /// request is evaluated. The check reads the text; it flags
    ///
    /// - an attribute access (`resource.owner`, `context.env`, `principal["level"]`) that no
    ///   earlier test guarantees: a `has` test of that attribute on the same expression to its
    ///   left in `&&` (`resource has owner && resource.owner == principal`), negated to its left
    ///   in `||` (`!(resource has owner) || …`), or in the condition of an `if` (for the `then`
    ///   branch), or in an earlier `when` clause. With a schema, an attribute that the schema
    ///   declares *required* for every type the expression can have (every principal type the
    ///   forbid applies to, every context type of its actions) needs no test, as in Cedar's
    ///   validator. Attributes of a record literal need none either;
    /// - `e.getTag(k)` without `e.hasTag(k)` earlier, in the same sense;
    /// - arithmetic (`+`, `-`, `*`, unary `-`) with an operand that is not a literal, since it
    ///   can overflow, and literal arithmetic that does overflow; the datetime methods `offset`
    ///   and `durationSince`, which can overflow too;
    /// - an extension constructor (`decimal`, `ip`, `datetime`, `duration`) applied to
    ///   something other than a string literal, since the string may not parse.
    ///
    /// Type errors (`"a" < 1`) are not this lint's business: `mandate lint --schema` type-checks
    /// every policy first. A missing entity is not flagged either (Cedar's validator makes the
    /// same assumption).
    ///
    /// ## Why it matters
    ///
    /// When a condition raises an error, Cedar skips the policy. For a `permit` that denies,
    /// which is safe; for a `forbid` it means the guardrail does not apply, and a request it was
    /// written to block can be allowed. Mandate's default error mode, `deny-on-forbid-error`,
    /// denies such requests instead, but a policy set should not depend on the error mode, and
    /// in `cedar` mode (or in Cedar itself) the forbid silently stops protecting.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// // Without a schema saying every document has `sensitivity`, a document without it
    /// // makes this forbid error, and Cedar then skips it.
    /// @id("no-secret-documents-for-agents")
    /// forbid (principal is Platform::Agent, action, resource is Platform::Document)
    /// when { resource.sensitivity >= 4 };
    /// ```
    ///
    /// ## Use instead
    ///
    /// Make the forbid apply when the attribute is missing (fail closed), or lint with the schema
    /// that declares the attribute required:
    ///
    /// ```cedar
    /// @id("no-secret-documents-for-agents")
    /// forbid (principal is Platform::Agent, action, resource is Platform::Document)
    /// when { !(resource has sensitivity) || resource.sensitivity >= 4 };
    /// ```
    pub const FALLIBLE_FORBID = {
        code: "MDL008",
        name: "fallible-forbid",
        severity: Warning,
        needs_schema: false,
        summary: "a forbid whose condition can raise an error at run time",
    };
}

/// The most places one diagnostic points at.
const MAX_LABELS: usize = 6;

pub(crate) fn check(ctx: &mut Ctx<'_>) {
    let mut found = Vec::new();
    for (file, s) in ctx.statements() {
        if !matches!(s.kind, StatementKind::Policy(Effect::Forbid)) {
            continue;
        }
        let Some(source) = ctx.source(file) else {
            continue;
        };
        let mut walker = Walker {
            roots: Roots::new(s, ctx.schema()),
            source,
            findings: Vec::new(),
        };
        // `when { a } when { b }` is `a && b`; `unless { c }` is `!c`: facts from earlier
        // clauses hold in later ones.
        let mut facts = Facts::default();
        for c in &s.conditions {
            walker.walk(&c.body, &facts);
            match c.kind {
                mandate_syntax::ast::ConditionKind::When => facts.extend(facts_true(&c.body)),
                mandate_syntax::ast::ConditionKind::Unless => facts.extend(facts_false(&c.body)),
            }
        }
        // One label per arithmetic expression: drop overflow findings inside another one.
        let findings: Vec<Finding> = walker
            .findings
            .iter()
            .filter(|f| {
                !walker.findings.iter().any(|g| {
                    f.kind == Kind::Overflow
                        && g.kind == Kind::Overflow
                        && g.span.start <= f.span.start
                        && f.span.end <= g.span.end
                        && !g.span.same_range(f.span)
                })
            })
            .cloned()
            .collect();
        if !findings.is_empty() {
            found.push((file, findings));
        }
    }
    for (file, findings) in found {
        let Some((first, rest)) = findings.split_first() else {
            continue;
        };
        let mut d = FALLIBLE_FORBID
            .diagnostic("this forbid can raise an error at run time, and then not apply")
            .with_label(first.span, first.label.clone());
        for f in rest.iter().take(MAX_LABELS - 1) {
            d = d.with_label(f.span, f.label.clone());
        }
        d = d
            .with_help(first.kind.help())
            .with_note("Cedar (and `--error-mode cedar`) skips a policy whose condition errors; Mandate's default mode denies instead");
        ctx.emit(file, d);
    }
}

/// What is known to hold at a point of a condition: attributes tested with `has`, tags tested
/// with `hasTag`. Keys are canonical texts of attribute paths (`principal["owner"]`).
#[derive(Clone, Default)]
struct Facts {
    has: BTreeSet<(String, SmolStr)>,
    tags: BTreeSet<(String, String)>,
}

impl Facts {
    fn extend(&mut self, other: Facts) {
        self.has.extend(other.has);
        self.tags.extend(other.tags);
    }
    fn union(&self, other: Facts) -> Facts {
        let mut f = self.clone();
        f.extend(other);
        f
    }
}

/// The canonical text of an attribute path: a variable or entity literal followed by attributes.
fn path_key(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Var(v) => Some(v.as_str().to_string()),
        ExprKind::Entity(u) => Some(u.to_string()),
        ExprKind::Member(base, accesses) => path_key_of(base, accesses),
        _ => None,
    }
}

fn path_key_of(base: &Expr, accesses: &[Access]) -> Option<String> {
    let mut key = path_key(base)?;
    for a in accesses {
        match a {
            Access::Attr(name, _) => key = format!("{key}[{name:?}]"),
            Access::Method(..) => return None,
        }
    }
    Some(key)
}

/// The canonical text of a tag key: a string literal or an attribute path.
fn value_key(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Lit(Literal::String(s)) => Some(format!("{s:?}")),
        _ => path_key(e),
    }
}

/// Facts that hold when `e` is true.
fn facts_true(e: &Expr) -> Facts {
    let mut f = Facts::default();
    match &e.kind {
        ExprKind::Has(base, path) => {
            if let Some(mut key) = path_key(base) {
                for attr in path {
                    f.has.insert((key.clone(), attr.clone()));
                    key = format!("{key}[{attr:?}]");
                }
            }
        }
        ExprKind::And(items) => {
            for i in items {
                f.extend(facts_true(i));
            }
        }
        ExprKind::Not(inner) => f = facts_false(inner),
        ExprKind::Member(base, accesses) => {
            if let Some((Access::Method(name, args, _), prefix)) = accesses.split_last()
                && name == "hasTag"
                && let ([arg], Some(receiver)) = (args.as_slice(), path_key_of(base, prefix))
                && let Some(k) = value_key(arg)
            {
                f.tags.insert((receiver, k));
            }
        }
        _ => {}
    }
    f
}

/// Facts that hold when `e` is false.
fn facts_false(e: &Expr) -> Facts {
    match &e.kind {
        ExprKind::Not(inner) => facts_true(inner),
        ExprKind::Or(items) => {
            let mut f = Facts::default();
            for i in items {
                f.extend(facts_false(i));
            }
            f
        }
        _ => Facts::default(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Attr,
    Tag,
    Overflow,
    Constructor,
}

impl Kind {
    fn help(self) -> &'static str {
        match self {
            Kind::Attr => {
                "test the attribute with `has` first so that the forbid applies when it is missing (`!(e has a) || …`), or lint with `--schema` so that required attributes count as present"
            }
            Kind::Tag => "test `e.hasTag(k)` first: `!e.hasTag(k) || …`",
            Kind::Overflow => {
                "compare without arithmetic (move constants to the other side of the comparison), or bound the operands first"
            }
            Kind::Constructor => {
                "build extension values from literals, or keep them as typed attributes (the schema can declare `datetime`, `decimal`, `ipaddr` and `duration` attributes)"
            }
        }
    }
}

#[derive(Clone)]
struct Finding {
    span: Span,
    label: String,
    kind: Kind,
}

/// What the schema says about the statement's variables.
struct Roots<'s> {
    schema: Option<&'s Schema>,
    principals: BTreeSet<SmolStr>,
    resources: BTreeSet<SmolStr>,
    contexts: Vec<&'s RecordType>,
}

impl<'s> Roots<'s> {
    fn new(s: &Statement, schema: Option<&'s Schema>) -> Self {
        let mut roots = Roots {
            schema,
            principals: BTreeSet::new(),
            resources: BTreeSet::new(),
            contexts: Vec::new(),
        };
        let Some(schema) = schema else {
            return roots;
        };
        roots.principals = principal_types(s, schema);
        let p_allowed = constraint_types(&s.principal, Some(schema));
        let r_allowed = constraint_types(&s.resource, Some(schema));
        for a in schema_actions(&s.action, schema) {
            let Some(applies) = schema.actions.get(a).and_then(|d| d.applies_to.as_ref()) else {
                continue;
            };
            let resources: Vec<&SmolStr> = applies
                .resource_types
                .iter()
                .filter(|t| r_allowed.contains(t))
                .collect();
            let principals_ok = applies
                .principal_types
                .iter()
                .any(|t| p_allowed.contains(t));
            if principals_ok && !resources.is_empty() {
                roots.resources.extend(resources.into_iter().cloned());
                roots.contexts.push(&applies.context);
            }
        }
        roots
    }

    /// Whether the schema guarantees the last attribute of `path` (read from `root`): it is
    /// required in every type the root can have, following entity and record types.
    fn required(&self, root: &Root<'_>, path: &[SmolStr]) -> bool {
        let Some(schema) = self.schema else {
            return false;
        };
        let all = |types: &BTreeSet<SmolStr>| {
            !types.is_empty() && types.iter().all(|t| required_in_entity(schema, t, path, 0))
        };
        match root {
            Root::Var(Var::Principal) => all(&self.principals),
            Root::Var(Var::Resource) => all(&self.resources),
            Root::Var(Var::Context) => {
                !self.contexts.is_empty()
                    && self
                        .contexts
                        .iter()
                        .all(|r| required_in_record(schema, r, path, 0))
            }
            Root::Var(Var::Action) => false,
            Root::Entity(u) => required_in_entity(schema, &u.ty.full, path, 0),
        }
    }
}

/// The deepest attribute path followed through the schema (types can be recursive).
const MAX_PATH: usize = 32;

fn required_in_entity(schema: &Schema, ty: &str, path: &[SmolStr], depth: usize) -> bool {
    schema
        .entity_types
        .get(ty)
        .is_some_and(|def| required_in_record(schema, &def.shape, path, depth))
}

fn required_in_record(schema: &Schema, rec: &RecordType, path: &[SmolStr], depth: usize) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    if depth > MAX_PATH {
        return false;
    }
    let Some(attr) = rec.attrs.get(first) else {
        return false;
    };
    if rest.is_empty() {
        return attr.required;
    }
    // Earlier steps were judged on their own; here they only need a type to follow.
    match &attr.ty {
        Type::Entity(t) => required_in_entity(schema, t, rest, depth + 1),
        Type::Record(r) => required_in_record(schema, r, rest, depth + 1),
        _ => false,
    }
}

enum Root<'e> {
    Var(Var),
    Entity(&'e EntityUid),
}

struct Walker<'a> {
    roots: Roots<'a>,
    source: &'a Source,
    findings: Vec<Finding>,
}

impl Walker<'_> {
    fn text(&self, span: Span) -> String {
        let t = self.source.slice(span);
        let one_line: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if one_line.chars().count() > 60 {
            let mut s: String = one_line.chars().take(59).collect();
            s.push('…');
            s
        } else {
            one_line
        }
    }

    fn push(&mut self, span: Span, label: String, kind: Kind) {
        self.findings.push(Finding { span, label, kind });
    }

    /// Walks an expression with the facts known to hold where it is evaluated. Recursion is
    /// bounded by the parser's nesting limit.
    fn walk(&mut self, e: &Expr, facts: &Facts) {
        match &e.kind {
            ExprKind::Lit(_)
            | ExprKind::Var(_)
            | ExprKind::Slot(_)
            | ExprKind::Entity(_)
            | ExprKind::Error => {}
            ExprKind::If(c, t, f) => {
                self.walk(c, facts);
                self.walk(t, &facts.union(facts_true(c)));
                self.walk(f, &facts.union(facts_false(c)));
            }
            ExprKind::And(items) => {
                let mut local = facts.clone();
                for i in items {
                    self.walk(i, &local);
                    local.extend(facts_true(i));
                }
            }
            ExprKind::Or(items) => {
                let mut local = facts.clone();
                for i in items {
                    self.walk(i, &local);
                    local.extend(facts_false(i));
                }
            }
            ExprKind::Not(a) => self.walk(a, facts),
            ExprKind::Neg(a) => {
                self.walk(a, facts);
                self.arithmetic(e, constant(e));
            }
            ExprKind::Compare(_, a, b) => {
                self.walk(a, facts);
                self.walk(b, facts);
            }
            ExprKind::Add(first, rest) => {
                self.walk(first, facts);
                for (_, i) in rest {
                    self.walk(i, facts);
                }
                let folded = constant(e);
                self.arithmetic(e, folded);
            }
            ExprKind::Mul(items) => {
                for i in items {
                    self.walk(i, facts);
                }
                let folded = constant(e);
                self.arithmetic(e, folded);
            }
            ExprKind::Has(a, _) | ExprKind::Like(a, _) => self.walk(a, facts),
            ExprKind::Is(a, _, b) => {
                self.walk(a, facts);
                if let Some(b) = b {
                    self.walk(b, facts);
                }
            }
            ExprKind::Set(items) => {
                for i in items {
                    self.walk(i, facts);
                }
            }
            ExprKind::Record(fields) => {
                for (_, v) in fields {
                    self.walk(v, facts);
                }
            }
            ExprKind::Call(name, args) => {
                for a in args {
                    self.walk(a, facts);
                }
                let constructor = matches!(
                    name.full.as_str(),
                    "decimal" | "ip" | "datetime" | "duration"
                );
                let literal = matches!(
                    args.as_slice(),
                    [Expr {
                        kind: ExprKind::Lit(Literal::String(_)),
                        ..
                    }]
                );
                if constructor && !literal {
                    let label = format!(
                        "`{}` errors when the string is not a valid `{}`",
                        self.text(e.span),
                        name.full
                    );
                    self.push(e.span, label, Kind::Constructor);
                }
            }
            ExprKind::Member(base, accesses) => self.member(base, accesses, facts),
        }
    }

    /// `Overflow` findings for arithmetic: `folded` is `Some(Some(_))` for literal arithmetic
    /// that fits, `Some(None)` for literal arithmetic that overflows, `None` otherwise.
    fn arithmetic(&mut self, e: &Expr, folded: Option<Option<i64>>) {
        match folded {
            Some(Some(_)) => {}
            Some(None) => {
                let label = format!("`{}` overflows", self.text(e.span));
                self.push(e.span, label, Kind::Overflow);
            }
            None => {
                let label = format!("`{}` can overflow", self.text(e.span));
                self.push(e.span, label, Kind::Overflow);
            }
        }
    }

    fn member(&mut self, base: &Expr, accesses: &[Access], facts: &Facts) {
        self.walk(base, facts);
        let root = match &base.kind {
            ExprKind::Var(v) => Some(Root::Var(*v)),
            ExprKind::Entity(u) => Some(Root::Entity(u)),
            _ => None,
        };
        let record_keys: Option<Vec<&SmolStr>> = match &base.kind {
            ExprKind::Record(fields) => Some(fields.iter().map(|(k, _)| k).collect()),
            _ => None,
        };
        let mut key = path_key(base);
        let mut path: Vec<SmolStr> = Vec::new();
        let mut typed = root.is_some();
        for access in accesses {
            match access {
                Access::Attr(attr, attr_span) => {
                    let guarded = key
                        .as_ref()
                        .is_some_and(|k| facts.has.contains(&(k.clone(), attr.clone())));
                    path.push(attr.clone());
                    let from_schema =
                        typed && root.as_ref().is_some_and(|r| self.roots.required(r, &path));
                    let from_literal = path.len() == 1
                        && record_keys
                            .as_ref()
                            .is_some_and(|keys| keys.contains(&attr));
                    if !(guarded || from_schema || from_literal) {
                        let span = base.span.to(*attr_span);
                        let owner = self.text(Span {
                            start: base.span.start,
                            end: attr_span.start,
                        });
                        let owner = owner.trim_end_matches(['.', '[']).to_string();
                        let label = format!(
                            "`{}` errors when `{owner}` has no attribute `{attr}`",
                            self.text(span)
                        );
                        self.push(span, label, Kind::Attr);
                    }
                    key = key.map(|k| format!("{k}[{attr:?}]"));
                }
                Access::Method(name, args, method_span) => {
                    for a in args {
                        self.walk(a, facts);
                    }
                    let span = base.span.to(*method_span);
                    match name.as_str() {
                        "getTag" => {
                            let tag = args.first().and_then(value_key);
                            let guarded = match (&key, tag) {
                                (Some(k), Some(t)) => facts.tags.contains(&(k.clone(), t)),
                                _ => false,
                            };
                            if !guarded {
                                let label =
                                    format!("`{}` errors when the tag is missing", self.text(span));
                                self.push(span, label, Kind::Tag);
                            }
                        }
                        "offset" | "durationSince" => {
                            let label = format!("`{}` can overflow", self.text(span));
                            self.push(span, label, Kind::Overflow);
                        }
                        _ => {}
                    }
                    key = None;
                    typed = false;
                }
            }
        }
    }
}

/// The value of constant integer arithmetic: `Some(Some(v))`, `Some(None)` when it overflows,
/// `None` when `e` is not made of integer literals, `+`, `-` and `*` only. Recursion is bounded by
/// the parser's nesting limit.
fn constant(e: &Expr) -> Option<Option<i64>> {
    match &e.kind {
        ExprKind::Lit(Literal::Long(x)) => Some(Some(*x)),
        ExprKind::Neg(a) => Some(constant(a)?.and_then(i64::checked_neg)),
        ExprKind::Add(first, rest) => {
            let mut acc = constant(first)?;
            for (op, operand) in rest {
                let value = constant(operand)?;
                acc = match (acc, value, op) {
                    (Some(a), Some(b), mandate_syntax::ast::AddOp::Add) => a.checked_add(b),
                    (Some(a), Some(b), mandate_syntax::ast::AddOp::Sub) => a.checked_sub(b),
                    _ => None,
                };
            }
            Some(acc)
        }
        ExprKind::Mul(items) => {
            let mut acc = Some(1i64);
            for operand in items {
                let value = constant(operand)?;
                acc = match (acc, value) {
                    (Some(a), Some(b)) => a.checked_mul(b),
                    _ => None,
                };
            }
            Some(acc)
        }
        _ => None,
    }
}
