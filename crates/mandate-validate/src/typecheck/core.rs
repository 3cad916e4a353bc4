//! The expression form the checker works on: Mandate's AST lowered to the shape of Cedar's core
//! AST, because Cedar's typing rules are stated on that shape.
//!
//! - `e has a.b.c` becomes `e has a && e.a has b && e.a.b has c` (Cedar's `extended_has_attr`).
//! - `e is T in f` becomes `e is T && e in f`.
//! - `a != b` becomes `!(a == b)`, `a > b` becomes `!(a <= b)`, `a >= b` becomes `!(a < b)`.
//! - Member chains stay n-ary ([`CKind::Chain`]) but are flattened across parentheses, so that
//!   `(a.b).c` and `a.b.c` are the same expression for `has` guards (capabilities).
//! - `&&`, `||`, `+ - *` chains stay n-ary and mean Cedar's left-nested binary trees; the checker
//!   folds over them with a loop, so a long chain costs no stack.
//! - The scope becomes the conditions Cedar derives from it (`principal == E`, `action in [..]`,
//!   `resource is T && resource in E`, or `true`).
//!
//! Children are reference-counted so the `has` rewrite shares its target instead of copying it.

use std::rc::Rc;

use mandate_syntax::Span;
use mandate_syntax::ast::{
    Access, ActionConstraint, AddOp, CmpOp, ConditionKind, EntityRef, EntityUid, Expr, ExprKind,
    Literal, Name, PatternElem, ScopeConstraint, SlotId, Statement, Var,
};
use smol_str::SmolStr;

/// A lowered expression. Equality and hashing are structural: spans compare equal and hash to
/// nothing (see `Span`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CExpr {
    /// What it is.
    pub kind: CKind,
    /// Where, in the policy source.
    pub span: Span,
}

/// Shared child.
pub(crate) type P = Rc<CExpr>;

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
}

/// The kinds of lowered expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum CKind {
    /// `true`, `42`, `"s"`.
    Lit(Literal),
    /// `Type::"id"`.
    Entity(EntityUid),
    /// A request variable.
    Var(Var),
    /// A template slot.
    Slot(SlotId),
    /// `if c then a else b`
    If(P, P, P),
    /// `a && b && ...`, meaning `(a && b) && ...`.
    And(Vec<P>),
    /// `a || b || ...`, meaning `(a || b) || ...`.
    Or(Vec<P>),
    /// `!e`
    Not(P),
    /// `-e`
    Neg(P),
    /// `a == b`
    Eq(P, P),
    /// `a < b` (`false`) or `a <= b` (`true`).
    Less(P, P, bool),
    /// `a op b op c ...`, left-nested.
    Arith(P, Vec<(ArithOp, P)>),
    /// `a in b`
    In(P, P),
    /// `e has a` (one attribute).
    Has(P, SmolStr),
    /// `e like "p"`
    Like(P, Vec<PatternElem>),
    /// `e is T`
    Is(P, Name),
    /// `e.a.m(x)...`: a base and at least one step.
    Chain(P, Vec<Step>),
    /// An extension function call `f(args)`.
    Call(Name, Vec<P>),
    /// `[a, b]`
    Set(Vec<P>),
    /// `{a: 1}`
    Record(Vec<(SmolStr, P)>),
    /// A part that failed to parse.
    Error,
}

/// One step of a member chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Step {
    /// `.a` or `["a"]`
    Attr(SmolStr, Span),
    /// `.m(args)`
    Method(SmolStr, Vec<P>, Span),
}

impl Step {
    /// Where the step is written.
    pub(crate) fn span(&self) -> Span {
        match self {
            Step::Attr(_, s) | Step::Method(_, _, s) => *s,
        }
    }
}

fn node(kind: CKind, span: Span) -> P {
    Rc::new(CExpr { kind, span })
}

/// Lowers an expression. Recursion is bounded by the parser's nesting limit; this dispatcher
/// and the functions it picks keep small frames (plain loops, no iterator adaptors), since the
/// path from the root to the deepest leaf holds one of each per level.
pub(crate) fn lower(e: &Expr) -> P {
    let f: fn(&Expr) -> P = match &e.kind {
        ExprKind::Lit(_)
        | ExprKind::Var(_)
        | ExprKind::Slot(_)
        | ExprKind::Entity(_)
        | ExprKind::Error => lower_leaf,
        ExprKind::If(..) => lower_if,
        ExprKind::And(_) | ExprKind::Or(_) | ExprKind::Set(_) | ExprKind::Call(..) => lower_list,
        ExprKind::Not(_) | ExprKind::Neg(_) | ExprKind::Like(..) => lower_unary,
        ExprKind::Compare(..) => lower_compare,
        ExprKind::Add(..) | ExprKind::Mul(_) => lower_arith,
        ExprKind::Has(..) => lower_has_expr,
        ExprKind::Is(..) => lower_is,
        ExprKind::Member(..) => lower_member,
        ExprKind::Record(_) => lower_record,
    };
    f(e)
}

fn lower_all(es: &[Expr]) -> Vec<P> {
    let mut out = Vec::with_capacity(es.len());
    for x in es {
        out.push(lower(x));
    }
    out
}

fn lower_leaf(e: &Expr) -> P {
    let kind = match &e.kind {
        ExprKind::Lit(l) => CKind::Lit(l.clone()),
        ExprKind::Var(v) => CKind::Var(*v),
        ExprKind::Slot(s) => CKind::Slot(*s),
        ExprKind::Entity(uid) => CKind::Entity(uid.clone()),
        _ => CKind::Error,
    };
    node(kind, e.span)
}

fn lower_if(e: &Expr) -> P {
    let ExprKind::If(c, t, f) = &e.kind else {
        return node(CKind::Error, e.span);
    };
    let (c, t, f) = (lower(c), lower(t), lower(f));
    node(CKind::If(c, t, f), e.span)
}

fn lower_list(e: &Expr) -> P {
    let kind = match &e.kind {
        ExprKind::And(es) => CKind::And(lower_all(es)),
        ExprKind::Or(es) => CKind::Or(lower_all(es)),
        ExprKind::Set(es) => CKind::Set(lower_all(es)),
        ExprKind::Call(name, args) => CKind::Call(name.clone(), lower_all(args)),
        _ => CKind::Error,
    };
    node(kind, e.span)
}

fn lower_unary(e: &Expr) -> P {
    let kind = match &e.kind {
        ExprKind::Not(x) => CKind::Not(lower(x)),
        ExprKind::Neg(x) => CKind::Neg(lower(x)),
        ExprKind::Like(x, pattern) => CKind::Like(lower(x), pattern.clone()),
        _ => CKind::Error,
    };
    node(kind, e.span)
}

fn lower_compare(e: &Expr) -> P {
    let span = e.span;
    let ExprKind::Compare(op, a, b) = &e.kind else {
        return node(CKind::Error, span);
    };
    let (a, b) = (lower(a), lower(b));
    let kind = match op {
        CmpOp::Eq => CKind::Eq(a, b),
        CmpOp::NotEq => CKind::Not(node(CKind::Eq(a, b), span)),
        CmpOp::Lt => CKind::Less(a, b, false),
        CmpOp::Le => CKind::Less(a, b, true),
        CmpOp::Gt => CKind::Not(node(CKind::Less(a, b, true), span)),
        CmpOp::Ge => CKind::Not(node(CKind::Less(a, b, false), span)),
        CmpOp::In => CKind::In(a, b),
    };
    node(kind, span)
}

fn lower_arith(e: &Expr) -> P {
    let kind = match &e.kind {
        ExprKind::Add(first, rest) => {
            let first = lower(first);
            let mut ops = Vec::with_capacity(rest.len());
            for (op, x) in rest {
                let op = match op {
                    AddOp::Add => ArithOp::Add,
                    AddOp::Sub => ArithOp::Sub,
                };
                ops.push((op, lower(x)));
            }
            CKind::Arith(first, ops)
        }
        ExprKind::Mul(es) => {
            let mut all = lower_all(es).into_iter();
            match all.next() {
                Some(first) => CKind::Arith(first, all.map(|x| (ArithOp::Mul, x)).collect()),
                None => CKind::Error,
            }
        }
        _ => CKind::Error,
    };
    node(kind, e.span)
}

fn lower_has_expr(e: &Expr) -> P {
    let ExprKind::Has(target, path) = &e.kind else {
        return node(CKind::Error, e.span);
    };
    lower_has(lower(target), path, e.span)
}

fn lower_is(e: &Expr) -> P {
    let span = e.span;
    let ExprKind::Is(x, ty, within) = &e.kind else {
        return node(CKind::Error, span);
    };
    let x = lower(x);
    let kind = match within {
        None => CKind::Is(x, ty.clone()),
        Some(w) => {
            let w = lower(w);
            CKind::And(vec![
                node(CKind::Is(x.clone(), ty.clone()), span),
                node(CKind::In(x, w), span),
            ])
        }
    };
    node(kind, span)
}

fn lower_member(e: &Expr) -> P {
    let ExprKind::Member(base, accesses) = &e.kind else {
        return node(CKind::Error, e.span);
    };
    let base = lower(base);
    let mut steps = Vec::with_capacity(accesses.len());
    for a in accesses {
        steps.push(match a {
            Access::Attr(name, s) => Step::Attr(name.clone(), *s),
            Access::Method(name, args, s) => Step::Method(name.clone(), lower_all(args), *s),
        });
    }
    chain(base, steps, e.span)
}

fn lower_record(e: &Expr) -> P {
    let ExprKind::Record(fields) = &e.kind else {
        return node(CKind::Error, e.span);
    };
    let mut out = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        out.push((k.clone(), lower(v)));
    }
    node(CKind::Record(out), e.span)
}

/// `base.steps...`, flattened when `base` is itself a chain.
fn chain(base: P, steps: impl IntoIterator<Item = Step>, span: Span) -> P {
    let (base, mut all) = match &base.kind {
        CKind::Chain(inner, earlier) => (inner.clone(), earlier.clone()),
        _ => (base.clone(), Vec::new()),
    };
    all.extend(steps);
    if all.is_empty() {
        return base;
    }
    node(CKind::Chain(base, all), span)
}

/// `target has a.b.c` as `(target has a && target.a has b) && target.a.b has c`.
fn lower_has(target: P, path: &[SmolStr], span: Span) -> P {
    let mut tests = Vec::with_capacity(path.len());
    let mut prefix: Vec<Step> = Vec::new();
    for attr in path {
        let on = if prefix.is_empty() {
            target.clone()
        } else {
            chain(target.clone(), prefix.iter().cloned(), span)
        };
        tests.push(node(CKind::Has(on, attr.clone()), span));
        prefix.push(Step::Attr(attr.clone(), span));
    }
    match tests.len() {
        0 => node(CKind::Error, span),
        1 => tests.pop().unwrap_or_else(|| node(CKind::Error, span)),
        _ => node(CKind::And(tests), span),
    }
}

/// The conditions of a statement in Cedar's order, meaning
/// `principal && (action && (resource && (c1 && (c2 && ...))))` (a right fold).
pub(crate) fn statement_conditions(s: &Statement) -> Vec<P> {
    let mut out = vec![
        scope_expr(Var::Principal, &s.principal, s.span),
        action_expr(&s.action, s.span),
        scope_expr(Var::Resource, &s.resource, s.span),
    ];
    if s.conditions.is_empty() {
        out.push(node(CKind::Lit(Literal::Bool(true)), s.span));
    }
    for c in &s.conditions {
        let body = lower(&c.body);
        out.push(match c.kind {
            ConditionKind::When => body,
            ConditionKind::Unless => node(CKind::Not(body), c.span),
        });
    }
    out
}

fn entity_ref(r: &EntityRef) -> P {
    match r {
        EntityRef::Uid(uid) => node(CKind::Entity(uid.clone()), uid.span),
        EntityRef::Slot(slot, span) => node(CKind::Slot(*slot), *span),
    }
}

fn scope_expr(var: Var, c: &ScopeConstraint, stmt: Span) -> P {
    let v = |span: Span| node(CKind::Var(var), span);
    match c {
        ScopeConstraint::Any => node(CKind::Lit(Literal::Bool(true)), stmt),
        ScopeConstraint::Eq(r) => {
            let r = entity_ref(r);
            let span = r.span;
            node(CKind::Eq(v(span), r), span)
        }
        ScopeConstraint::In(r) => {
            let r = entity_ref(r);
            let span = r.span;
            node(CKind::In(v(span), r), span)
        }
        ScopeConstraint::Is(ty) => node(CKind::Is(v(ty.span), ty.clone()), ty.span),
        ScopeConstraint::IsIn(ty, r) => {
            let r = entity_ref(r);
            let span = ty.span.to(r.span);
            node(
                CKind::And(vec![
                    node(CKind::Is(v(span), ty.clone()), ty.span),
                    node(CKind::In(v(span), r), span),
                ]),
                span,
            )
        }
    }
}

fn action_expr(c: &ActionConstraint, stmt: Span) -> P {
    let action = |span: Span| node(CKind::Var(Var::Action), span);
    let uid = |u: &EntityUid| node(CKind::Entity(u.clone()), u.span);
    match c {
        ActionConstraint::Any => node(CKind::Lit(Literal::Bool(true)), stmt),
        ActionConstraint::Eq(u) => node(CKind::Eq(action(u.span), uid(u)), u.span),
        ActionConstraint::In(u) => node(
            CKind::In(action(u.span), node(CKind::Set(vec![uid(u)]), u.span)),
            u.span,
        ),
        ActionConstraint::InList(us) => {
            let span = us.iter().map(|u| u.span).reduce(Span::to).unwrap_or(stmt);
            node(
                CKind::In(
                    action(span),
                    node(CKind::Set(us.iter().map(uid).collect()), span),
                ),
                span,
            )
        }
    }
}
