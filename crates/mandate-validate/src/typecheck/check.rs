//! The type checker for one request environment: Cedar's `SingleEnvTypechecker`
//! (`validator/typecheck.rs` of cedar-policy-core) in strict mode, over the lowered expressions
//! of [`super::core`].
//!
//! Each expression gets an [`Answer`]: a type (possibly unknown after an error), whether it
//! type-checked, and its *capabilities*: the attributes and tags known to be present when the
//! expression evaluates to `true` (from `has` and `hasTag`). Singleton `True`/`False` types make
//! `&&`, `||` and `if` skip the operands that never run, exactly as Cedar does.

use mandate_syntax::ast::{Literal, Var};
use mandate_syntax::{Diagnostic, Span};
use smol_str::SmolStr;

use super::codes;
use super::core::{ArithOp, CExpr, CKind, P, Step};
use super::ext;
use super::index::{Env, Index, is_action_type};
use super::types::{
    AttrTy, BoolType, LubFailure, RecordTy, Type, are_disjoint, describe_expected, is_subtype, lub,
    lub_all, show,
};
use crate::schema::ActionId;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// An expression a capability is about: `base` followed by `steps` (a prefix of a member
/// chain), and its id in [`Ids`], equal for structurally equal targets.
#[derive(Clone, Copy, Debug)]
struct Target<'a> {
    base: &'a CExpr,
    steps: &'a [Step],
    id: u32,
}

impl<'a> Target<'a> {
    /// A whole expression as a target.
    fn of(e: &'a CExpr, ids: &mut Ids) -> Self {
        let mut t = Target {
            base: e,
            steps: &[],
            id: 0,
        };
        t.id = ids.target(t);
        t
    }
    fn normal(self) -> (&'a CExpr, &'a [Step]) {
        match (&self.base.kind, self.steps.is_empty()) {
            (CKind::Chain(base, steps), true) => (base, steps),
            _ => (self.base, self.steps),
        }
    }
}

/// What a capability grants.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum What<'a> {
    Attr(&'a str),
    /// A tag, named by the interned id of its key expression.
    Tag(u32),
}

/// "The expression interned as `on` has attribute (or tag) `what`". Expressions are compared
/// through their ids in [`Ids`], so comparing and hashing a capability costs the same however
/// long its expression is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Cap<'a> {
    on: u32,
    what: What<'a>,
}

/// One step of a member chain, as interned.
#[derive(PartialEq, Eq, Hash)]
enum StepKey {
    Attr(SmolStr),
    Method(SmolStr, Vec<P>),
}

/// Interned expressions: structurally equal targets of capabilities get equal ids. A member
/// chain's prefixes are interned one step at a time (the id of `e.a.b` from the id of `e.a`),
/// so a chain of `n` steps costs `n` lookups instead of `n²` comparisons of prefixes.
#[derive(Default)]
pub(crate) struct Ids {
    exprs: HashMap<CExpr, u32>,
    steps: HashMap<(u32, StepKey), u32>,
    next: u32,
}

impl Ids {
    /// The id of an expression that is not a member chain (interned structurally).
    fn expr(&mut self, e: &CExpr) -> u32 {
        if let Some(id) = self.exprs.get(e) {
            return *id;
        }
        self.next += 1;
        self.exprs.insert(e.clone(), self.next);
        self.next
    }
    /// The id of `on` followed by `step`.
    fn step(&mut self, on: u32, step: &Step) -> u32 {
        let key = match step {
            Step::Attr(a, _) => StepKey::Attr(a.clone()),
            Step::Method(m, args, _) => StepKey::Method(m.clone(), args.clone()),
        };
        let next = &mut self.next;
        *self.steps.entry((on, key)).or_insert_with(|| {
            *next += 1;
            *next
        })
    }
    /// The id of a target (a chain's base and steps, interned step by step).
    fn target(&mut self, t: Target<'_>) -> u32 {
        let (base, steps) = t.normal();
        let mut id = self.expr(base);
        for s in steps {
            id = self.step(id, s);
        }
        id
    }
}

/// A set of capabilities: what an expression guarantees when it evaluates to `true`. Boxed,
/// and absent when empty (most expressions), so that it costs one word in the frames of the
/// recursive checker.
#[derive(Clone, Debug, Default)]
#[expect(
    clippy::box_collection,
    reason = "one word instead of six in every answer on the recursion path"
)]
pub(crate) struct Caps<'a>(Option<Box<HashSet<Cap<'a>>>>);

impl<'a> Caps<'a> {
    fn one(c: Cap<'a>) -> Self {
        Caps(Some(Box::new(HashSet::from([c]))))
    }
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.len())
    }
    fn contains(&self, c: &Cap<'a>) -> bool {
        self.0.as_ref().is_some_and(|s| s.contains(c))
    }
    /// The larger set and the smaller; the work of going through the smaller is charged to
    /// `budget`.
    fn by_size(self, other: Caps<'a>, budget: &mut u64) -> (Caps<'a>, Caps<'a>) {
        let (big, small) = if self.len() >= other.len() {
            (self, other)
        } else {
            (other, self)
        };
        charge(budget, small.len(), 1);
        (big, small)
    }
    /// The union, adding the smaller set to the larger: each capability is moved at most
    /// `log n` times however sets grow, so a chain of `n` guards costs `n log n`, not `n²`.
    /// The work is charged to `budget`.
    fn union(self, other: Caps<'a>, budget: &mut u64) -> Caps<'a> {
        let (big, small) = self.by_size(other, budget);
        match (big.0, small.0) {
            (Some(mut big), Some(small)) => {
                big.extend(*small);
                Caps(Some(big))
            }
            (big, _) => Caps(big),
        }
    }
    /// The intersection, looking up the smaller set's capabilities in the larger.
    fn intersect(self, other: Caps<'a>, budget: &mut u64) -> Caps<'a> {
        let (big, small) = self.by_size(other, budget);
        match small.0 {
            Some(mut small) => {
                small.retain(|c| big.contains(c));
                Caps((!small.is_empty()).then_some(small))
            }
            None => Caps(None),
        }
    }
}

/// The capabilities known where an expression is checked (Cedar's `prior_capability`): the
/// union of the layers from here outwards, one per enclosing `&&` operand or `if` test that
/// added some, so extending it costs nothing and looking up walks at most the nesting depth.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Prior<'s, 'a> {
    caps: Option<&'s Caps<'a>>,
    outer: Option<&'s Prior<'s, 'a>>,
}

impl<'s, 'a> Prior<'s, 'a> {
    /// The capabilities of `caps` alone.
    pub(crate) fn of(caps: &'s Caps<'a>) -> Self {
        Prior {
            caps: Some(caps),
            outer: None,
        }
    }
    /// These capabilities and those of `caps`.
    fn with(&'s self, caps: &'s Caps<'a>) -> Self {
        if caps.len() == 0 {
            *self
        } else {
            Prior {
                caps: Some(caps),
                outer: Some(self),
            }
        }
    }
    /// Whether `cap` is known; each layer searched is charged to `budget`.
    fn contains(&self, cap: &Cap<'a>, budget: &mut u64) -> bool {
        let mut layer = Some(self);
        while let Some(p) = layer {
            charge(budget, 1, 1);
            if p.caps.is_some_and(|c| c.contains(cap)) {
                return true;
            }
            layer = p.outer;
        }
        false
    }
}

/// Charges `a * b` units of work (and at least one) to the budget.
fn charge(budget: &mut u64, a: usize, b: usize) {
    let cost = u64::try_from(a.saturating_mul(b))
        .unwrap_or(u64::MAX)
        .max(1);
    *budget = budget.saturating_sub(cost);
}

/// The result of checking an expression (Cedar's `TypecheckAnswer`).
#[derive(Clone, Debug)]
pub(crate) struct Answer<'a> {
    /// The type, if one could be given (a failed check may still have one).
    pub ty: Option<Type>,
    /// Capabilities; empty unless `ok`.
    pub caps: Caps<'a>,
    /// Whether the expression type-checked.
    pub ok: bool,
}

impl<'a> Answer<'a> {
    fn ok(ty: Type) -> Self {
        Answer {
            ty: Some(ty),
            caps: Caps::default(),
            ok: true,
        }
    }
    fn ok_opt(ty: Option<Type>, caps: Caps<'a>) -> Self {
        Answer { ty, caps, ok: true }
    }
    fn fail(ty: Option<Type>) -> Self {
        Answer {
            ty,
            caps: Caps::default(),
            ok: false,
        }
    }
    fn into_fail(self) -> Self {
        Answer::fail(self.ty)
    }
    fn is_false(&self) -> bool {
        self.ty.as_ref().is_some_and(Type::is_false)
    }
    fn is_true(&self) -> bool {
        self.ty.as_ref().is_some_and(Type::is_true)
    }
    /// Splits into type, capabilities (empty when failed) and success.
    fn parts(self) -> (Option<Type>, Caps<'a>, bool) {
        let caps = if self.ok { self.caps } else { Caps::default() };
        (self.ty, caps, self.ok)
    }
}

/// Cedar's `then_typecheck`: runs `f` on the answer's type and capabilities, and marks the result
/// failed if the answer was.
fn then<'a>(a: Answer<'a>, f: impl FnOnce(Option<Type>, Caps<'a>) -> Answer<'a>) -> Answer<'a> {
    let (ty, caps, ok) = a.parts();
    let r = f(ty, caps);
    if ok { r } else { r.into_fail() }
}

/// Where a least upper bound is needed, for the message.
#[derive(Clone, Copy, Debug)]
enum LubContext {
    Set,
    Conditional,
    Equality,
    Contains,
    ContainsAnyAll(&'static str),
    GetTag,
}

/// A help for an operand of the wrong type.
type Help = fn(&Type) -> Option<&'static str>;

fn no_help(_: &Type) -> Option<&'static str> {
    None
}

const BOOL: &[Type] = &[Type::BOOL];
const LONG: &[Type] = &[Type::Long];
const STRING: &[Type] = &[Type::String];

/// The most expression nodes checked for one statement (over all environments) before giving up.
pub(crate) const WORK_BUDGET: u64 = 50_000_000;

/// The arguments of one step of a member chain, checked.
enum StepArgs<'a> {
    /// An attribute access: no arguments.
    Attr,
    /// A built-in method, its argument (if it takes one) and the argument's answer.
    Builtin(Option<&'a CExpr>, Answer<'a>),
    /// A built-in method with the wrong number of arguments (a parse error).
    BadBuiltin,
    /// An extension method: its return type, the receiver's expected type (`None` when a check
    /// already failed) and whether the other arguments type-checked.
    Ext {
        ret: Option<Type>,
        recv: Option<&'static Type>,
        args_ok: bool,
    },
}

/// The checker for one environment.
pub(crate) struct Checker<'i> {
    index: &'i Index,
    env: &'i Env,
    principal_slot: Option<&'i SmolStr>,
    resource_slot: Option<&'i SmolStr>,
    /// Errors found, in order.
    pub errors: Vec<Diagnostic>,
    /// Nodes left to check; at zero every check fails (and the caller reports it).
    pub budget: u64,
    /// The targets of capabilities, interned.
    ids: Ids,
}

/// A literal value as Cedar's `==` on two literals compares it.
#[derive(PartialEq)]
enum LitVal<'a> {
    Prim(&'a Literal),
    Uid(&'a str, &'a str),
}

impl<'i> Checker<'i> {
    pub(crate) fn new(
        index: &'i Index,
        env: &'i Env,
        principal_slot: Option<&'i SmolStr>,
        resource_slot: Option<&'i SmolStr>,
        budget: u64,
    ) -> Self {
        Checker {
            index,
            env,
            principal_slot,
            resource_slot,
            errors: Vec::new(),
            budget,
            ids: Ids::default(),
        }
    }

    fn error(&mut self, code: &'static str, span: Span, message: String, help: Option<String>) {
        let mut d = Diagnostic::error(code, message).with_label(span, "");
        if let Some(h) = help {
            d = d.with_help(h);
        }
        self.errors.push(d);
    }

    // ----- entry points -----

    /// Checks a statement's conditions `c0 && (c1 && (... && cn))` (Cedar's right fold of scope
    /// and clauses). The forward pass checks each operand with the capabilities of those before
    /// it, stopping after one of type `False`; the backward pass combines them as nested `&&`.
    pub(crate) fn conditions<'a>(&mut self, conds: &'a [P]) -> Answer<'a> {
        let mut answers: Vec<Answer<'a>> = Vec::with_capacity(conds.len());
        let mut prior = Caps::default();
        let mut tail: Option<Answer<'a>> = None;
        let last = conds.len().saturating_sub(1);
        for (i, c) in conds.iter().enumerate() {
            let a = self.expect(&Prior::of(&prior), c, BOOL, no_help);
            if i == last {
                tail = Some(a);
                break;
            }
            if a.is_false() {
                tail = Some(if a.ok {
                    Answer::ok_opt(a.ty, Caps::default())
                } else {
                    a.into_fail()
                });
                break;
            }
            if a.ok {
                prior = prior.union(a.caps.clone(), &mut self.budget);
            }
            answers.push(a);
        }
        let mut result = tail.unwrap_or_else(|| Answer::ok(Type::singleton(true)));
        while let Some(left) = answers.pop() {
            result = self.and_combine(left, result);
        }
        result
    }

    /// Checks a quota's `by` (an entity or a `String`) and `cost` (a `Long`), under the
    /// capabilities of its conditions.
    pub(crate) fn quota<'a>(&mut self, caps: &Caps<'a>, by: Option<&'a P>, cost: Option<&'a P>) {
        let caps = &Prior::of(caps);
        if let Some(by) = by {
            let a = self.check(caps, by);
            if let Some(ty) = &a.ty
                && !is_subtype(ty, &Type::any_entity(), true)
                && !is_subtype(ty, &Type::String, true)
            {
                self.error(
                    codes::QUOTA_BY,
                    by.span,
                    format!("quota `by` must be an entity or a `String`, found `{}`", show(ty)),
                    Some("the `by` expression names the bucket that requests are counted in, such as `principal` or `context.tenant`".into()),
                );
            }
        }
        if let Some(cost) = cost {
            let a = self.check(caps, cost);
            if let Some(ty) = &a.ty
                && !is_subtype(ty, &Type::Long, true)
            {
                self.error(
                    codes::QUOTA_COST,
                    cost.span,
                    format!("quota `cost` must be a `Long`, found `{}`", show(ty)),
                    Some("the `cost` expression gives the units one request consumes".into()),
                );
            }
        }
    }

    /// `left && right` when `left` is not `False` (the inner part of Cedar's `&&` rule).
    fn and_combine<'a>(&mut self, left: Answer<'a>, right: Answer<'a>) -> Answer<'a> {
        let (lt, lcaps, lok) = left.parts();
        let (rt, rcaps, rok) = right.parts();
        let r = match (&lt, &rt) {
            (Some(_), Some(r)) if r.is_false() => Answer::ok(Type::singleton(false)),
            (Some(_), Some(r)) if r.is_true() => {
                Answer::ok_opt(lt, lcaps.union(rcaps, &mut self.budget))
            }
            // Cedar keeps only the right operand's capabilities here.
            (Some(l), Some(_)) if l.is_true() => Answer::ok_opt(rt, rcaps),
            (Some(_), Some(_)) => {
                Answer::ok_opt(Some(Type::BOOL), lcaps.union(rcaps, &mut self.budget))
            }
            _ => Answer::fail(Some(Type::BOOL)),
        };
        let r = if rok { r } else { r.into_fail() };
        if lok { r } else { r.into_fail() }
    }

    /// Whether the capability is among `prior` (charging the search to the budget).
    fn known<'a>(&mut self, prior: &Prior<'_, 'a>, cap: &Cap<'a>) -> bool {
        prior.contains(cap, &mut self.budget)
    }

    // ----- the core -----

    fn expect<'a>(
        &mut self,
        prior: &Prior<'_, 'a>,
        e: &'a CExpr,
        expected: &[Type],
        help: Help,
    ) -> Answer<'a> {
        let a = self.check(prior, e);
        self.expect_answer(a, e.span, expected, help)
    }

    /// Cedar's `expect_one_of_types` on an answer already computed: the type must be a
    /// (permissive) subtype of one of `expected`.
    #[inline(never)]
    fn expect_answer<'a>(
        &mut self,
        a: Answer<'a>,
        span: Span,
        expected: &[Type],
        help: Help,
    ) -> Answer<'a> {
        then(a, |ty, caps| match ty {
            Some(actual) => {
                if expected.iter().any(|t| is_subtype(&actual, t, true)) {
                    Answer::ok_opt(Some(actual), caps)
                } else {
                    self.error(
                        codes::UNEXPECTED_TYPE,
                        span,
                        format!(
                            "expected {}, found `{}`",
                            describe_expected(expected),
                            show(&actual)
                        ),
                        help(&actual).map(str::to_owned),
                    );
                    Answer::fail(None)
                }
            }
            None => Answer::fail(None),
        })
    }

    /// Checks an expression. A thin dispatcher: every kind is handled in its own function, so
    /// that the frames on the recursion path stay small (the tree is at most 128 deep).
    fn check<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        // On a small thread stack, continue on a heap segment rather than overflow.
        mandate_syntax::stack::guarded(|| self.check_node(prior, e))
    }

    fn check_node<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        if self.budget == 0 {
            return Answer::fail(None);
        }
        self.budget -= 1;
        // One call site, so that this frame holds one return slot (frames matter in debug
        // builds, where the recursion through here must fit 128 levels in a small stack).
        let handler: for<'s, 'x> fn(&mut Self, &Prior<'s, 'x>, &'x CExpr) -> Answer<'x> = match &e
            .kind
        {
            CKind::Lit(_) | CKind::Entity(_) | CKind::Var(_) | CKind::Slot(_) | CKind::Error => {
                Self::check_leaf
            }
            CKind::If(..) => Self::check_if,
            CKind::And(_) => Self::check_and,
            CKind::Or(_) => Self::check_or,
            CKind::Not(_) => Self::check_not,
            CKind::Neg(_) => Self::check_neg,
            CKind::Eq(..) => Self::check_eq,
            CKind::Less(..) => Self::check_less,
            CKind::Arith(..) => Self::check_arith,
            CKind::In(..) => Self::check_in,
            CKind::Has(..) => Self::check_has,
            CKind::Like(..) => Self::check_like,
            CKind::Is(..) => Self::check_is,
            CKind::Chain(..) => Self::check_chain,
            CKind::Call(..) => Self::check_call,
            CKind::Set(_) => Self::check_set,
            CKind::Record(_) => Self::check_record,
        };
        handler(self, prior, e)
    }

    #[inline(never)]
    fn check_leaf<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let _ = prior;
        match &e.kind {
            CKind::Lit(Literal::Bool(b)) => Answer::ok(Type::singleton(*b)),
            CKind::Lit(Literal::Long(_)) => Answer::ok(Type::Long),
            CKind::Lit(Literal::String(_)) => Answer::ok(Type::String),
            // Unknown types and actions are reported once per policy, elsewhere.
            CKind::Entity(uid) => match self.index.literal_type(&uid.ty.full, &uid.id) {
                Some(ty) => Answer::ok(ty),
                None => Answer::fail(None),
            },
            CKind::Var(Var::Principal) => Answer::ok(Type::entity(self.env.principal.clone())),
            CKind::Var(Var::Resource) => Answer::ok(Type::entity(self.env.resource.clone())),
            CKind::Var(Var::Action) => {
                let action = &self.env.action;
                match self.index.literal_type(&action.ty, &action.id) {
                    Some(ty) => Answer::ok(ty),
                    None => Answer::fail(None),
                }
            }
            CKind::Var(Var::Context) => Answer::ok(Type::Record(Rc::clone(&self.env.context))),
            CKind::Slot(slot) => {
                let linked = match slot {
                    mandate_syntax::ast::SlotId::Principal => self.principal_slot,
                    mandate_syntax::ast::SlotId::Resource => self.resource_slot,
                };
                Answer::ok(Type::Entity(linked.cloned()))
            }
            _ => Answer::fail(None),
        }
    }

    #[inline(never)]
    fn check_not<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Not(x) = &e.kind else {
            return Answer::fail(None);
        };
        let a = self.expect(prior, x, BOOL, no_help);
        then(a, |ty, _| match ty {
            Some(Type::Bool(b)) => Answer::ok(Type::Bool(match b {
                BoolType::True => BoolType::False,
                BoolType::False => BoolType::True,
                BoolType::Any => BoolType::Any,
            })),
            Some(_) => Answer::ok(Type::BOOL),
            None => Answer::fail(Some(Type::BOOL)),
        })
    }

    #[inline(never)]
    fn check_neg<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Neg(x) = &e.kind else {
            return Answer::fail(None);
        };
        let a = self.expect(prior, x, LONG, no_help);
        then(a, |_, _| Answer::ok(Type::Long))
    }

    #[inline(never)]
    fn check_like<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Like(x, _) = &e.kind else {
            return Answer::fail(None);
        };
        let a = self.expect(prior, x, STRING, |t| match t {
            Type::Entity(_) => Some("to test an entity's type, use `is`"),
            _ => None,
        });
        then(a, |_, _| Answer::ok(Type::BOOL))
    }

    #[inline(never)]
    fn check_is<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Is(x, ty) = &e.kind else {
            return Answer::fail(None);
        };
        let ty = ty.full.as_str();
        let a = self.expect(prior, x, &[Type::any_entity()], |_| {
            Some("`is` tests the type of an entity; other values have no entity type")
        });
        then(a, |actual, _| match actual {
            Some(Type::Entity(Some(name))) => Answer::ok(Type::singleton(name.as_str() == ty)),
            Some(Type::Entity(None)) => Answer::ok(Type::BOOL),
            _ => Answer::fail(Some(Type::BOOL)),
        })
    }

    #[inline(never)]
    fn check_record<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Record(fields) = &e.kind else {
            return Answer::fail(None);
        };
        let mut attrs = std::collections::BTreeMap::new();
        let mut typed = true;
        let mut all_ok = true;
        for (k, v) in fields {
            let a = self.check(prior, v);
            all_ok &= a.ok;
            match a.ty {
                Some(ty) => {
                    attrs.insert(k.clone(), AttrTy { ty, required: true });
                }
                None => typed = false,
            }
        }
        let r = if typed {
            Answer::ok(Type::Record(Rc::new(RecordTy { attrs, open: false })))
        } else {
            Answer::fail(None)
        };
        if all_ok { r } else { r.into_fail() }
    }

    #[inline(never)]
    fn check_if<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::If(c, t, f) = &e.kind else {
            return Answer::fail(None);
        };
        let test = self.expect(prior, c, BOOL, no_help);
        self.if_after_test(prior, e, test, t, f)
    }

    #[inline(never)]
    fn if_after_test<'a>(
        &mut self,
        prior: &Prior<'_, 'a>,
        e: &'a CExpr,
        test: Answer<'a>,
        t: &'a CExpr,
        f: &'a CExpr,
    ) -> Answer<'a> {
        let is_true = test.is_true();
        let is_false = test.is_false();
        let (_, test_caps, test_ok) = test.parts();
        let r = if is_false {
            let a = self.check(prior, f);
            then(a, Answer::ok_opt)
        } else {
            let a_then = self.check(&prior.with(&test_caps), t);
            if is_true {
                self.if_taken(a_then, test_caps)
            } else {
                let a_else = self.check(prior, f);
                self.if_branches(e.span, a_then, a_else, test_caps)
            }
        };
        if test_ok { r } else { r.into_fail() }
    }

    /// `if true then a else ...`: the type and capabilities of `a`, with the test's.
    fn if_taken<'a>(&mut self, a: Answer<'a>, test_caps: Caps<'a>) -> Answer<'a> {
        let (ty, caps, ok) = a.parts();
        let r = Answer::ok_opt(ty, caps.union(test_caps, &mut self.budget));
        if ok { r } else { r.into_fail() }
    }

    /// The `if` of two branches both checked: their least upper bound, with the capabilities
    /// both guarantee.
    fn if_branches<'a>(
        &mut self,
        span: Span,
        a_then: Answer<'a>,
        a_else: Answer<'a>,
        test_caps: Caps<'a>,
    ) -> Answer<'a> {
        let (then_ty, then_caps, then_ok) = a_then.parts();
        let then_caps = if then_ok {
            then_caps.union(test_caps, &mut self.budget)
        } else {
            then_caps
        };
        let (else_ty, else_caps, else_ok) = a_else.parts();
        let r = match self.lub_or_error(span, &[then_ty, else_ty], LubContext::Conditional) {
            Some(ty) => Answer::ok_opt(Some(ty), else_caps.intersect(then_caps, &mut self.budget)),
            None => Answer::fail(None),
        };
        if then_ok && else_ok { r } else { r.into_fail() }
    }

    /// `a && b && c` as `(a && b) && c`.
    #[inline(never)]
    fn check_and<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::And(es) = &e.kind else {
            return Answer::fail(None);
        };
        let mut iter = es.iter();
        let Some(first) = iter.next() else {
            return Answer::fail(None);
        };
        let mut acc = self.expect(prior, first, BOOL, no_help);
        for e in iter {
            if acc.is_false() {
                // `false && e` is `false` without looking at `e`; the capabilities are dropped.
                return if acc.ok {
                    Answer::ok_opt(acc.ty, Caps::default())
                } else {
                    acc.into_fail()
                };
            }
            // `prior` and the left operand's capabilities, as a layer over `prior`: not a copy,
            // so a chain of `n` guards costs `n log n` (see `Caps::union`), not `n²`.
            let layer = if acc.ok {
                prior.with(&acc.caps)
            } else {
                *prior
            };
            let right = self.expect(&layer, e, BOOL, no_help);
            acc = self.and_combine(acc, right);
        }
        acc
    }

    /// `a || b || c` as `(a || b) || c`.
    #[inline(never)]
    fn check_or<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Or(es) = &e.kind else {
            return Answer::fail(None);
        };
        let mut iter = es.iter();
        let Some(first) = iter.next() else {
            return Answer::fail(None);
        };
        let mut acc = self.expect(prior, first, BOOL, no_help);
        for e in iter {
            if acc.is_true() {
                // `true || e` is `true` without looking at `e`, keeping the left capabilities.
                return acc;
            }
            let right = self.expect(prior, e, BOOL, no_help);
            let (lt, lcaps, lok) = acc.parts();
            let (rt, rcaps, rok) = right.parts();
            let r = match (&lt, &rt) {
                (Some(_), Some(r)) if r.is_true() => Answer::ok_opt(rt, rcaps),
                (Some(_), Some(r)) if r.is_false() => Answer::ok_opt(lt, lcaps),
                (Some(l), Some(_)) if l.is_false() => Answer::ok_opt(rt, rcaps),
                (Some(_), Some(_)) => {
                    Answer::ok_opt(Some(Type::BOOL), rcaps.intersect(lcaps, &mut self.budget))
                }
                _ => Answer::fail(Some(Type::BOOL)),
            };
            let r = if rok { r } else { r.into_fail() };
            acc = if lok { r } else { r.into_fail() };
        }
        acc
    }

    /// The literal an expression denotes for `==` folding, with `action` replaced by the
    /// environment's action (Cedar's `replace_action_var_with_euid`).
    fn literal_of<'e>(&'e self, e: &'e CExpr) -> Option<LitVal<'e>> {
        match &e.kind {
            CKind::Lit(l) => Some(LitVal::Prim(l)),
            CKind::Entity(uid) => Some(LitVal::Uid(&uid.ty.full, &uid.id)),
            CKind::Var(Var::Action) => Some(LitVal::Uid(&self.env.action.ty, &self.env.action.id)),
            _ => None,
        }
    }

    /// The entity literal an expression denotes (an entity literal or `action`).
    fn uid_of<'e>(&'e self, e: &'e CExpr) -> Option<(&'e str, &'e str)> {
        match self.literal_of(e)? {
            LitVal::Uid(ty, id) => Some((ty, id)),
            LitVal::Prim(_) => None,
        }
    }

    #[inline(never)]
    fn check_eq<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Eq(a, b) = &e.kind else {
            return Answer::fail(None);
        };
        let la = self.check(prior, a);
        let lb = self.check(prior, b);
        then(la, |ta, _| {
            then(lb, |tb, _| {
                let disjoint = matches!((&ta, &tb), (Some(x), Some(y)) if are_disjoint(x, y));
                let ty = if disjoint {
                    Type::singleton(false)
                } else {
                    match (self.literal_of(a), self.literal_of(b)) {
                        (Some(x), Some(y)) => Type::singleton(x == y),
                        _ => Type::BOOL,
                    }
                };
                self.strict_compatible(ty, ta.as_ref(), tb.as_ref(), e.span, LubContext::Equality)
            })
        })
    }

    /// Cedar's `enforce_strict_equality`: unless the result is already known, the operand types
    /// must have a least upper bound.
    fn strict_compatible<'a>(
        &mut self,
        result: Type,
        lhs: Option<&Type>,
        rhs: Option<&Type>,
        span: Span,
        context: LubContext,
    ) -> Answer<'a> {
        if matches!(result, Type::Bool(b) if b != super::types::BoolType::Any) {
            return Answer::ok(result);
        }
        if let (Some(l), Some(r)) = (lhs, rhs)
            && let Err(why) = lub(l, r)
        {
            self.lub_error(span, &[l.clone(), r.clone()], why, context);
            return Answer::fail(Some(result));
        }
        Answer::ok(result)
    }

    fn lub_error(&mut self, span: Span, types: &[Type], why: LubFailure, context: LubContext) {
        let mut shown: Vec<String> = Vec::new();
        for t in types {
            let s = format!("`{}`", show(t));
            if !shown.contains(&s) {
                shown.push(s);
            }
        }
        let list = match shown.as_slice() {
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
            [] => String::new(),
        };
        let message = match context {
            LubContext::Set => format!("set elements have incompatible types {list}"),
            LubContext::Conditional => {
                format!("the branches of `if` have incompatible types {list}")
            }
            LubContext::Equality => format!("`==` compares incompatible types {list}"),
            LubContext::Contains => {
                format!("`contains` tests for an element of an incompatible type: {list}")
            }
            LubContext::ContainsAnyAll(m) => format!("`{m}` compares incompatible sets {list}"),
            LubContext::GetTag => {
                format!("the tags read by `getTag` have incompatible types {list}")
            }
        };
        self.error(
            codes::INCOMPATIBLE_TYPES,
            span,
            message,
            Some(why.help().to_owned()),
        );
    }

    /// Cedar's `least_upper_bound_or_error`: `None` (without an error) if a type is unknown.
    fn lub_or_error(
        &mut self,
        span: Span,
        types: &[Option<Type>],
        context: LubContext,
    ) -> Option<Type> {
        let known: Option<Vec<Type>> = types.iter().cloned().collect();
        let known = known?;
        match lub_all(&known) {
            Ok(t) => Some(t),
            Err(why) => {
                self.lub_error(span, &known, why, context);
                None
            }
        }
    }

    #[inline(never)]
    fn check_less<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Less(a, b, _) = &e.kind else {
            return Answer::fail(None);
        };
        let la = self.check(prior, a);
        let lb = self.check(prior, b);
        then(la, |t1, _| {
            then(lb, |t2, _| {
                let comparable = |t: &Type| match t {
                    Type::Long => true,
                    Type::Ext(n) => ext::COMPARABLE.contains(n),
                    _ => false,
                };
                let all: Vec<Type> = std::iter::once(Type::Long)
                    .chain(ext::COMPARABLE.iter().map(|n| Type::Ext(n)))
                    .collect();
                let bool_fail = Answer::fail(Some(Type::BOOL));
                match (&t1, &t2) {
                    (Some(Type::Never), Some(Type::Never)) => bool_fail,
                    (Some(Type::Never), Some(other)) | (Some(other), Some(Type::Never)) => {
                        if comparable(other) {
                            Answer::ok(Type::BOOL)
                        } else {
                            let span = if matches!(t1, Some(Type::Never)) {
                                b.span
                            } else {
                                a.span
                            };
                            self.unexpected(span, &all, other);
                            bool_fail
                        }
                    }
                    (Some(x), Some(y)) if x == y && comparable(x) => Answer::ok(Type::BOOL),
                    (Some(Type::Long), Some(other)) => {
                        self.unexpected(b.span, LONG, other);
                        bool_fail
                    }
                    (Some(other), Some(Type::Long)) => {
                        self.unexpected(a.span, LONG, other);
                        bool_fail
                    }
                    (Some(x), Some(y)) if comparable(x) => {
                        self.unexpected(b.span, std::slice::from_ref(x), y);
                        bool_fail
                    }
                    (Some(x), Some(y)) if comparable(y) => {
                        self.unexpected(a.span, std::slice::from_ref(y), x);
                        bool_fail
                    }
                    (Some(x), Some(y)) => {
                        self.unexpected(a.span, &all, x);
                        self.unexpected(b.span, &all, y);
                        bool_fail
                    }
                    _ => bool_fail,
                }
            })
        })
    }

    fn unexpected(&mut self, span: Span, expected: &[Type], actual: &Type) {
        self.error(
            codes::UNEXPECTED_TYPE,
            span,
            format!(
                "expected {}, found `{}`",
                describe_expected(expected),
                show(actual)
            ),
            None,
        );
    }

    #[inline(never)]
    fn check_arith<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Arith(first, rest) = &e.kind else {
            return Answer::fail(None);
        };
        let mut acc: Option<Answer<'a>> = None;
        let mut span = first.span;
        for (op, x) in rest {
            let help: Help = match op {
                ArithOp::Add => |t| match t {
                    Type::String => Some("Cedar has no string concatenation"),
                    Type::Set(_) => Some(
                        "Cedar has no set operators; use `contains`, `containsAll` or `containsAny`",
                    ),
                    _ => None,
                },
                ArithOp::Sub | ArithOp::Mul => |t| match t {
                    Type::Set(_) => Some(
                        "Cedar has no set operators; use `contains`, `containsAll` or `containsAny`",
                    ),
                    _ => None,
                },
            };
            let left = match acc.take() {
                None => self.expect(prior, first, LONG, help),
                Some(a) => self.expect_answer(a, span, LONG, help),
            };
            let right = self.expect(prior, x, LONG, help);
            acc = Some(then(left, |_, _| {
                then(right, |_, _| Answer::ok(Type::Long))
            }));
            span = span.to(x.span);
        }
        match acc {
            Some(a) => a,
            None => self.check(prior, first),
        }
    }

    #[inline(never)]
    fn check_in<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::In(a, b) = &e.kind else {
            return Answer::fail(None);
        };
        let la = self.expect(prior, a, &[Type::any_entity()], |_| {
            Some("`in` tests entity membership; for sets, use `contains`")
        });
        let lb = self.expect(
            prior,
            b,
            &[
                Type::Set(Some(Rc::new(Type::any_entity()))),
                Type::any_entity(),
            ],
            |t| match t {
                Type::Set(_) => Some("`in` tests entity membership; for sets, use `contains`"),
                Type::String => Some("to match strings, use `like`"),
                _ => None,
            },
        );
        let both_ok = la.ok && lb.ok;
        then(la, |lt, _| {
            then(lb, |rt, _| {
                if !both_ok {
                    return Answer::fail(Some(Type::BOOL));
                }
                let lhs_uid = self.uid_of(a);
                let rhs_uids: Option<Vec<(&str, &str)>> = match self.uid_of(b) {
                    Some(u) => Some(vec![u]),
                    None => match &b.kind {
                        CKind::Set(es) => es.iter().map(|x| self.uid_of(x)).collect(),
                        _ => None,
                    },
                };
                let r = match (lhs_uid, rhs_uids) {
                    (Some(l), Some(rs)) if is_action_type(l.0) => self.action_in_literals(l, &rs),
                    _ => {
                        let lhs = lt.as_ref().and_then(Type::entity_name);
                        let rhs = match &rt {
                            Some(Type::Entity(Some(n))) => Some(n),
                            Some(Type::Set(Some(el))) => el.entity_name(),
                            _ => None,
                        };
                        match (lhs, rhs) {
                            (Some(l), Some(r))
                                if !(self.index.is_type_in(l, r)
                                    || self.index.action_in_entity_type(l, r)) =>
                            {
                                Answer::ok(Type::singleton(false))
                            }
                            _ => Answer::ok(Type::BOOL),
                        }
                    }
                };
                then(r, |ty, _| Answer::ok_opt(ty, Caps::default()))
            })
        })
    }

    /// An action `in` entity literals: decided by the action hierarchy.
    fn action_in_literals<'a>(&self, lhs: (&str, &str), rhs: &[(&str, &str)]) -> Answer<'a> {
        let actions: Vec<ActionId> = rhs
            .iter()
            .filter(|(ty, _)| is_action_type(ty))
            .map(|(ty, id)| ActionId::new(*ty, *id))
            .collect();
        if actions.is_empty() {
            return Answer::ok(Type::singleton(false));
        }
        match self.index.actions_in_set(actions.iter()) {
            Some(set) => Answer::ok(Type::singleton(set.contains(&ActionId::new(lhs.0, lhs.1)))),
            None => Answer::fail(Some(Type::BOOL)),
        }
    }

    fn entity_or_record_help(t: &Type) -> Option<&'static str> {
        match t {
            Type::Set(_) => Some("to test set membership, use `contains`"),
            Type::String => Some("to match strings, use `like`"),
            _ => None,
        }
    }

    #[inline(never)]
    fn check_has<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Has(x, attr) = &e.kind else {
            return Answer::fail(None);
        };
        let a = self.expect(
            prior,
            x,
            &[Type::any_entity(), Type::any_record()],
            Self::entity_or_record_help,
        );
        let cap = Cap {
            on: Target::of(x, &mut self.ids).id,
            what: What::Attr(attr),
        };
        then(a, |ty, _| match ty {
            Some(t) => match self.attr_type(&t, attr) {
                Some(at) => {
                    let known =
                        (at.required && matches!(t, Type::Record(_))) || self.known(prior, &cap);
                    let ty = if known {
                        Type::singleton(true)
                    } else {
                        Type::BOOL
                    };
                    Answer::ok_opt(Some(ty), Caps::one(cap))
                }
                None => Answer::ok(if self.may_have_attr(&t, attr) {
                    Type::BOOL
                } else {
                    Type::singleton(false)
                }),
            },
            None => Answer::fail(Some(Type::BOOL)),
        })
    }

    /// The declared type of attribute `attr` of an entity or record type.
    fn attr_type(&self, t: &Type, attr: &str) -> Option<AttrTy> {
        match t {
            Type::Record(r) => r.attrs.get(attr).cloned(),
            Type::Entity(Some(n)) => self
                .index
                .entities
                .get(n)
                .and_then(|e| e.shape.attrs.get(attr).cloned()),
            _ => None,
        }
    }

    fn all_attrs(&self, t: &Type) -> Vec<SmolStr> {
        match t {
            Type::Record(r) => r.attrs.keys().cloned().collect(),
            Type::Entity(Some(n)) => self
                .index
                .entities
                .get(n)
                .map(|e| e.shape.attrs.keys().cloned().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Cedar's `may_have_attr`.
    fn may_have_attr(&self, t: &Type, attr: &str) -> bool {
        match t {
            Type::Never | Type::Entity(None) => true,
            Type::Entity(Some(n)) => match self.index.entities.get(n) {
                Some(e) => e.shape.open || e.shape.attrs.contains_key(attr),
                None => !is_action_type(n),
            },
            Type::Record(r) => r.open || r.attrs.contains_key(attr),
            _ => false,
        }
    }

    #[inline(never)]
    fn check_chain<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Chain(base, steps) = &e.kind else {
            return Answer::fail(None);
        };
        let mut cur = self.check(prior, base);
        let mut recv_span = base.span;
        // The id of the receiver of step `i`: `base` and the steps before `i`, interned one
        // step at a time (only an id here: this frame is on the recursion path).
        let mut on = Target::of(base, &mut self.ids).id;
        let mut i = 0;
        while i < steps.len() {
            // Arguments first, in their own small frame; then the step, which does not recurse.
            let args = self.step_args(prior, steps, i, recv_span);
            self.chain_step(
                prior,
                base,
                steps,
                i,
                &mut on,
                args,
                &mut cur,
                &mut recv_span,
            );
            i += 1;
        }
        cur
    }

    /// Checks the arguments of step `i` of a chain (nothing for an attribute access). The
    /// argument checks depend only on the method, not on the receiver's type, so they run before
    /// the step is applied.
    #[inline(never)]
    fn step_args<'a>(
        &mut self,
        prior: &Prior<'_, 'a>,
        steps: &'a [Step],
        i: usize,
        recv_span: Span,
    ) -> StepArgs<'a> {
        let Some(Step::Method(name, args, step_span)) = steps.get(i) else {
            return StepArgs::Attr;
        };
        let set_arg: (&[Type], Help) = (&[Type::any_set()], |_| {
            Some("to test for one element, use `contains`")
        });
        let (x, expected) = match (name.as_str(), args.as_slice()) {
            ("contains", [x]) => (Some(&**x), None),
            ("containsAll" | "containsAny", [x]) => (Some(&**x), Some(set_arg)),
            ("hasTag" | "getTag", [x]) => (Some(&**x), Some((STRING, no_help as Help))),
            ("isEmpty", []) => (None, None),
            ("contains" | "containsAll" | "containsAny" | "isEmpty" | "hasTag" | "getTag", _) => {
                // A wrong number of arguments to a built-in method is a parse error (`MD0018`).
                self.check_ext_args(prior, args, None);
                return StepArgs::BadBuiltin;
            }
            _ => {
                let span = recv_span.to(*step_span);
                let (ret, expected) = self.ext_signature(name, true, args, span);
                let (recv, rest) = match expected.and_then(<[Type]>::split_first) {
                    Some((r, rest)) => (Some(r), Some(rest)),
                    None => (None, None),
                };
                let args_ok = self.check_ext_args(prior, args, rest).ok;
                return StepArgs::Ext { ret, recv, args_ok };
            }
        };
        let ax = match x {
            Some(x) => self.check_arg(prior, x, expected),
            None => Answer::ok(Type::BOOL),
        };
        StepArgs::Builtin(x, ax)
    }

    /// Applies step `i` of a chain to the answer for the steps before it.
    #[expect(
        clippy::too_many_arguments,
        reason = "a chain step has this many parts"
    )]
    #[inline(never)]
    fn chain_step<'a>(
        &mut self,
        prior: &Prior<'_, 'a>,
        base: &'a CExpr,
        steps: &'a [Step],
        i: usize,
        on: &mut u32,
        args: StepArgs<'a>,
        cur: &mut Answer<'a>,
        recv_span: &mut Span,
    ) {
        let Some(step) = steps.get(i) else {
            return;
        };
        let target = Target {
            base,
            steps: steps.get(..i).unwrap_or(&[]),
            id: *on,
        };
        *on = self.ids.step(*on, step);
        let span = recv_span.to(step.span());
        let recv = std::mem::replace(cur, Answer::fail(None));
        *cur = match (step, args) {
            (Step::Attr(attr, _), _) => self.get_attr(prior, recv, target, *recv_span, attr, span),
            (Step::Method(name, ..), StepArgs::Builtin(x, ax)) => {
                self.builtin_method(prior, recv, target, *recv_span, name, x, ax, span)
            }
            (
                Step::Method(..),
                StepArgs::Ext {
                    ret,
                    recv: want,
                    args_ok,
                },
            ) => {
                let recv_ok = match want {
                    Some(want) => {
                        self.expect_answer(recv, *recv_span, std::slice::from_ref(want), no_help)
                            .ok
                    }
                    None => false,
                };
                if recv_ok && args_ok {
                    Answer::ok_opt(ret, Caps::default())
                } else {
                    Answer::fail(ret)
                }
            }
            (Step::Method(..), StepArgs::BadBuiltin | StepArgs::Attr) => Answer::fail(None),
        };
        *recv_span = span;
    }

    #[inline(never)]
    fn get_attr<'a>(
        &mut self,
        prior: &Prior<'_, 'a>,
        recv: Answer<'a>,
        target: Target<'a>,
        recv_span: Span,
        attr: &'a SmolStr,
        span: Span,
    ) -> Answer<'a> {
        let recv = self.expect_answer(
            recv,
            recv_span,
            &[Type::any_entity(), Type::any_record()],
            Self::entity_or_record_help,
        );
        then(recv, |ty, _| {
            let Some(t) = ty else {
                return Answer::fail(None);
            };
            match self.attr_type(&t, attr) {
                Some(at) => {
                    let cap = Cap {
                        on: target.id,
                        what: What::Attr(attr),
                    };
                    if at.required || self.known(prior, &cap) {
                        Answer::ok(at.ty)
                    } else {
                        self.error(
                            codes::OPTIONAL_ATTRIBUTE,
                            span,
                            format!("attribute `{attr}` of {} may be absent", self.owner(&t)),
                            Some(match target_text(target) {
                                Some(t) => format!(
                                    "test for it first, as in `{t} has {} && {t}{}`",
                                    display_attr(attr),
                                    access_text(attr)
                                ),
                                None => format!(
                                    "test for it first with `has {}`, in a condition that guards this access",
                                    display_attr(attr)
                                ),
                            }),
                        );
                        Answer::fail(Some(at.ty))
                    }
                }
                None => {
                    let attrs = self.all_attrs(&t);
                    let help = super::suggest_name(attr, attrs.iter().map(SmolStr::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| {
                            (!attrs.is_empty() && attrs.len() <= 12).then(|| {
                                format!(
                                    "the attributes are {}",
                                    attrs
                                        .iter()
                                        .map(|a| format!("`{a}`"))
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            })
                        })
                        .or_else(|| {
                            attrs
                                .is_empty()
                                .then(|| format!("{} has no attributes", self.owner(&t)))
                        });
                    self.error(
                        codes::UNKNOWN_ATTRIBUTE,
                        span,
                        format!("attribute `{attr}` not found on {}", self.owner(&t)),
                        help,
                    );
                    Answer::fail(None)
                }
            }
        })
    }

    /// How to name the owner of an attribute in a message.
    fn owner(&self, t: &Type) -> String {
        match t {
            Type::Entity(Some(n)) => format!("entity type `{n}`"),
            Type::Record(r) if Rc::ptr_eq(r, &self.env.context) => {
                format!("the context of `{}`", self.env.action)
            }
            other => format!("`{}`", show(other)),
        }
    }

    /// A method call on a receiver already checked: built-in methods here, extension methods in
    /// [`Self::check_ext`]. The argument is checked first, in this small frame.
    /// Checks one argument, against an expectation when given. The one place where method and
    /// function arguments recurse, in a small frame.
    #[inline(never)]
    fn check_arg<'a>(
        &mut self,
        prior: &Prior<'_, 'a>,
        x: &'a CExpr,
        expected: Option<(&[Type], Help)>,
    ) -> Answer<'a> {
        let a = self.check(prior, x);
        match expected {
            Some((types, help)) => self.expect_answer(a, x.span, types, help),
            None => a,
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "a method call has this many parts"
    )]
    fn builtin_method<'a>(
        &mut self,
        prior: &Prior<'_, 'a>,
        recv: Answer<'a>,
        target: Target<'a>,
        recv_span: Span,
        name: &str,
        x: Option<&'a CExpr>,
        ax: Answer<'a>,
        span: Span,
    ) -> Answer<'a> {
        let set_help: Help = |t| match t {
            Type::Entity(_) => Some("to test entity membership, use `in`"),
            Type::Record(_) => Some("to test for an attribute, use `has`"),
            Type::String => Some("to match strings, use `like`"),
            _ => None,
        };
        match (name, x) {
            ("contains", Some(_)) => {
                let recv = self.expect_answer(recv, recv_span, &[Type::any_set()], set_help);
                then(recv, |t1, _| {
                    then(ax, |t2, _| {
                        let element = match &t1 {
                            Some(Type::Set(Some(el))) => Some(el.as_ref().clone()),
                            _ => None,
                        };
                        self.strict_compatible(
                            Type::BOOL,
                            element.as_ref(),
                            t2.as_ref(),
                            span,
                            LubContext::Contains,
                        )
                    })
                })
            }
            (m @ ("containsAll" | "containsAny"), Some(_)) => {
                let m: &'static str = if m == "containsAll" {
                    "containsAll"
                } else {
                    "containsAny"
                };
                let recv = self.expect_answer(recv, recv_span, &[Type::any_set()], set_help);
                then(recv, |t1, _| {
                    then(ax, |t2, _| {
                        self.strict_compatible(
                            Type::BOOL,
                            t1.as_ref(),
                            t2.as_ref(),
                            span,
                            LubContext::ContainsAnyAll(m),
                        )
                    })
                })
            }
            ("isEmpty", None) => {
                let recv = self.expect_answer(recv, recv_span, &[Type::any_set()], |t| match t {
                    Type::String => Some("to test for the empty string, compare with `\"\"`"),
                    _ => None,
                });
                then(recv, |_, _| Answer::ok(Type::BOOL))
            }
            ("hasTag", Some(x)) => {
                let recv = self.expect_answer(recv, recv_span, &[Type::any_entity()], no_help);
                then(recv, |t1, _| {
                    then(ax, |_, _| {
                        let Some(Type::Entity(kind)) = t1 else {
                            return Answer::fail(None);
                        };
                        let cap = Cap {
                            on: target.id,
                            what: What::Tag(Target::of(x, &mut self.ids).id),
                        };
                        let ty = if self.tag_types(kind.as_ref()).is_empty() {
                            Type::singleton(false)
                        } else if self.known(prior, &cap) {
                            Type::singleton(true)
                        } else {
                            Type::BOOL
                        };
                        Answer::ok_opt(Some(ty), Caps::one(cap))
                    })
                })
            }
            ("getTag", Some(x)) => {
                let recv = self.expect_answer(recv, recv_span, &[Type::any_entity()], no_help);
                then(recv, |t1, _| {
                    then(ax, |_, _| {
                        let Some(Type::Entity(kind)) = t1 else {
                            return Answer::fail(None);
                        };
                        let key = Target::of(x, &mut self.ids);
                        let cap = Cap {
                            on: target.id,
                            what: What::Tag(key.id),
                        };
                        let owner = match &kind {
                            Some(n) => format!("entity type `{n}`"),
                            None => "this entity".to_owned(),
                        };
                        if !self.known(prior, &cap) {
                            self.error(
                                codes::UNSAFE_TAG,
                                span,
                                "tag read by `getTag` may be absent".to_owned(),
                                Some(match (target_text(target), target_text(key)) {
                                    (Some(t), Some(k)) => format!(
                                        "test for it first, as in `{t}.hasTag({k}) && {t}.getTag({k})`"
                                    ),
                                    _ => "test for it first with `hasTag`, in a condition that guards this access".to_owned(),
                                }),
                            );
                            return Answer::fail(None);
                        }
                        let tags = self.tag_types(kind.as_ref());
                        if tags.is_empty() {
                            self.error(
                                codes::NO_TAGS,
                                span,
                                format!("{owner} has no tags"),
                                Some(
                                    "declare tags in the schema, as in `entity User tags String;`"
                                        .to_owned(),
                                ),
                            );
                            return Answer::fail(None);
                        }
                        match lub_all(&tags) {
                            Ok(t) => Answer::ok(t),
                            Err(why) => {
                                self.lub_error(span, &tags, why, LubContext::GetTag);
                                Answer::fail(None)
                            }
                        }
                    })
                })
            }
            _ => Answer::fail(None),
        }
    }

    /// Tag types of the entity type (all declared tag types for "any entity").
    fn tag_types(&self, kind: Option<&SmolStr>) -> Vec<Type> {
        let mut out: Vec<Type> = Vec::new();
        let mut add = |t: &Type| {
            if !out.contains(t) {
                out.push(t.clone());
            }
        };
        match kind {
            Some(n) => {
                if let Some(t) = self.index.entities.get(n).and_then(|e| e.tags.as_ref()) {
                    add(t);
                }
            }
            None => self
                .index
                .entities
                .values()
                .filter_map(|e| e.tags.as_ref())
                .for_each(add),
        }
        out
    }

    /// An extension function call (Cedar's `typecheck_extension`).
    #[inline(never)]
    fn check_call<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Call(name, args) = &e.kind else {
            return Answer::fail(None);
        };
        let (ret, expected) = self.ext_signature(&name.full, false, args, e.span);
        let args_ok = self.check_ext_args(prior, args, expected).ok;
        if expected.is_some() && args_ok {
            Answer::ok_opt(ret, Caps::default())
        } else {
            Answer::fail(ret)
        }
    }

    /// The return type of an extension call and the expected types of its arguments (the
    /// receiver first, for a method), unless a check failed: then the arguments are only checked
    /// alone and the call fails, as in Cedar.
    fn ext_signature(
        &mut self,
        name: &str,
        is_method: bool,
        args: &[P],
        span: Span,
    ) -> (Option<Type>, Option<&'static [Type]>) {
        match self.ext_precheck(name, is_method, args, span) {
            Some((f, false)) => (Some(f.ret), Some(f.args)),
            Some((f, true)) => (Some(f.ret), None),
            None => (None, None),
        }
    }

    /// Checks call arguments, each against its expected type when `expected` is given; the
    /// answer says only whether all type-checked.
    #[inline(never)]
    fn check_ext_args<'a>(
        &mut self,
        prior: &Prior<'_, 'a>,
        args: &'a [P],
        expected: Option<&[Type]>,
    ) -> Answer<'a> {
        let mut all_ok = true;
        for (i, x) in args.iter().enumerate() {
            let want = expected.and_then(|e| e.get(i));
            let a = self.check_arg(
                prior,
                x,
                want.map(|w| (std::slice::from_ref(w), no_help as Help)),
            );
            all_ok &= a.ok;
        }
        if all_ok {
            Answer::ok(Type::BOOL)
        } else {
            Answer::fail(None)
        }
    }

    /// The checks of an extension call that do not look at argument types: the function exists,
    /// the argument count, and for constructors a literal argument that parses. Reports what it
    /// finds; returns the function and whether a check failed, or `None` if it is unknown.
    fn ext_precheck(
        &mut self,
        name: &str,
        is_method: bool,
        args: &[P],
        span: Span,
    ) -> Option<(ext::ExtFn, bool)> {
        let Some(f) = ext::lookup(name) else {
            self.error(
                codes::UNKNOWN_FUNCTION,
                span,
                format!("unknown extension function `{name}`"),
                None,
            );
            return None;
        };
        let count = args.len() + usize::from(is_method);
        let mut failed = false;
        if count != f.args.len() {
            let (n, m) = if is_method {
                (f.args.len().saturating_sub(1), args.len())
            } else {
                (f.args.len(), args.len())
            };
            self.error(
                codes::WRONG_ARGUMENT_COUNT,
                span,
                format!(
                    "`{}` takes {n} argument{}, found {m}",
                    f.name,
                    if n == 1 { "" } else { "s" }
                ),
                None,
            );
            failed = true;
        }
        if let Some(valid) = f.check {
            if let [arg] = args
                && let CKind::Lit(Literal::String(s)) = &arg.kind
                && !valid(s)
            {
                self.error(
                    codes::INVALID_EXTENSION_LITERAL,
                    arg.span,
                    format!(
                        "invalid `{}` literal `\"{}\"`",
                        f.name,
                        mandate_syntax::ast::escape_str(s)
                    ),
                    Some(ext::format_help(f.name).to_owned()),
                );
                failed = true;
            }
            if let Some(bad) = args
                .iter()
                .find(|a| !matches!(a.kind, CKind::Lit(_) | CKind::Entity(_)))
            {
                self.error(
                    codes::NON_LITERAL_EXTENSION,
                    bad.span,
                    format!("the argument of `{}` must be a string literal", f.name),
                    Some(format!(
                        "strict validation checks `{}` values when it reads them; build values from request data with methods instead",
                        f.name
                    )),
                );
                failed = true;
            }
        }
        Some((f, failed))
    }

    #[inline(never)]
    fn check_set<'a>(&mut self, prior: &Prior<'_, 'a>, e: &'a CExpr) -> Answer<'a> {
        let CKind::Set(es) = &e.kind else {
            return Answer::fail(None);
        };
        let mut types: Vec<Option<Type>> = Vec::with_capacity(es.len());
        let mut all_ok = true;
        for x in es {
            let a = self.check(prior, x);
            all_ok &= a.ok;
            types.push(a.ty);
        }
        self.set_result(e, es.is_empty(), &types, all_ok)
    }

    fn set_result<'a>(
        &mut self,
        e: &'a CExpr,
        empty: bool,
        types: &[Option<Type>],
        all_ok: bool,
    ) -> Answer<'a> {
        let element = self.lub_or_error(e.span, types, LubContext::Set);
        let r = if empty {
            self.error(
                codes::EMPTY_SET,
                e.span,
                "empty set literal".to_owned(),
                Some("strict validation needs to know the element type of every set; compare with a non-empty set or use `isEmpty()`".to_owned()),
            );
            Answer::fail(None)
        } else {
            match element {
                Some(el) => Answer::ok(Type::Set(Some(Rc::new(el)))),
                None => Answer::fail(None),
            }
        };
        if all_ok { r } else { r.into_fail() }
    }
}

/// The longest expression [`target_text`] writes out. Each unguarded access in a chain gets its
/// own help, so writing every prefix of a chain of `n` accesses would cost `n²`.
const MAX_TARGET_TEXT: usize = 120;

/// Source-like text for a simple expression (a variable, entity or string literal followed by
/// attribute accesses) of at most [`MAX_TARGET_TEXT`] bytes, for help messages.
fn target_text(t: Target<'_>) -> Option<String> {
    let (base, steps) = t.normal();
    if steps.len() > MAX_TARGET_TEXT / 2 {
        return None;
    }
    let mut out = match &base.kind {
        CKind::Var(v) => v.as_str().to_owned(),
        CKind::Entity(uid) if uid.ty.full.len() + uid.id.len() <= MAX_TARGET_TEXT => {
            uid.to_string()
        }
        CKind::Lit(Literal::String(s)) if s.len() <= MAX_TARGET_TEXT => {
            format!("\"{}\"", mandate_syntax::ast::escape_str(s))
        }
        _ => return None,
    };
    for step in steps {
        match step {
            Step::Attr(a, _) => out.push_str(&access_text(a)),
            Step::Method(..) => return None,
        }
    }
    (out.len() <= MAX_TARGET_TEXT).then_some(out)
}

/// `.a` or `["a b"]`.
fn access_text(attr: &str) -> String {
    if mandate_syntax::ast::is_ident(attr) {
        format!(".{attr}")
    } else {
        format!("[\"{}\"]", mandate_syntax::ast::escape_str(attr))
    }
}

/// An attribute as written after `has`.
fn display_attr(attr: &str) -> String {
    if mandate_syntax::ast::is_ident(attr) {
        attr.to_owned()
    } else {
        format!("\"{}\"", mandate_syntax::ast::escape_str(attr))
    }
}
