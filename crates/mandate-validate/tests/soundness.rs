//! Validator soundness as a property test: for generated schemas, every policy that validates in
//! strict mode, evaluated on entities and requests that conform to the schema, never raises a
//! type error.
//!
//! # What Cedar promises
//!
//! Cedar's validator soundness theorem (cedar-lean, `Cedar/Thm/Validation.lean`,
//! `validation_is_sound`, with `EvaluatesTo` in `Cedar/Thm/Validation/Typechecker/Basic.lean`):
//! if a policy validates against a schema, and the request and the entities are instances of
//! that schema, evaluating the policy either returns a boolean or fails with one of
//! `entityDoesNotExist`, `extensionError` or `arithBoundsError`. Any other error is a bug in the
//! validator (or in the loaders that check conformance).
//!
//! Mapped onto [`EvalError`]:
//!
//! | variant | verdict | why |
//! |---|---|---|
//! | `EntityDoesNotExist` | allowed | `entityDoesNotExist`: references to absent entities are legal |
//! | `Overflow` | allowed | `arithBoundsError` |
//! | `Extension` | allowed | `extensionError` (an extension function failing on its values) |
//! | `Type` | **violation** | what validation rules out |
//! | `MissingAttribute` | **violation** | required attributes are present, optional ones guarded |
//! | `MissingTag` | **violation** | `getTag` needs a `hasTag` guard |
//! | `Arity`, `UnlinkedSlot`, `Syntax` | **violation** | validated policies never reach these |
//!
//! # What is generated
//!
//! Everything is driven by a proptest "choice tape" (a vector of `u32`s, each read as one
//! choice; an exhausted tape reads zeros, and choice 0 is always the simplest), so proptest can
//! shrink a failure towards a small case. One case is:
//!
//! - a schema: 2–4 entity types (`User`, `Group`, `Doc`, `Team`), each with random parents among
//!   them and up to 4 attributes of types `Long`, `String`, `Bool`, `Set<Long>`, `Set<String>`,
//!   `Set<T>` of an entity type, records of primitives (one level), entity references, `decimal`
//!   and `ipaddr`, each optional at random (the same attribute name may have different types in
//!   different entity types); 1–3 actions with `appliesTo` lists and a context record, possibly
//!   members of an action group. It is rendered as Cedar schema text and parsed with
//!   [`Schema::from_cedarschema`].
//! - 1–3 policies generated from that schema, biased towards being well typed: attribute reads
//!   of the right type, guarded by `has` for optional attributes and by `principal is T` for the
//!   attributes of one principal type (each guard left out now and then, which makes most of the
//!   ill-typed policies), comparisons, arithmetic, `like`, `in`, `is`, set methods, `decimal`
//!   and `ipaddr` methods, `if`, `&&`, `||`, `!`, `==` across types.
//! - Each policy is validated on its own with [`validate`] (what `mandate check` runs); the ones
//!   without errors form the policy set that is evaluated.
//! - Entities conforming to the schema (every required attribute present, optional ones at
//!   random, entity references to existing and absent entities, acyclic parents of the declared
//!   types), loaded with [`Entities::from_json_value`] and the schema, and requests for every
//!   action, loaded with [`request_from_parts`] and the schema (so `appliesTo` and the context
//!   are checked). Loading must succeed: the generated data conforms.
//! - Every request is decided with [`is_authorized`] in Cedar's error mode, and every error of
//!   every policy is classified as above.
//!
//! `MANDATE_SOUNDNESS_CASES` sets the number of cases (10,000 by default). The test prints a
//! summary and fails if the generator degenerates (fewer than 20% of the policies validate, no
//! allow, no request with an absent entity).

#![expect(
    clippy::print_stdout,
    clippy::indexing_slicing,
    reason = "test code; indexes are taken modulo a non-empty length, and the summary is printed"
)]

use mandate_eval::request::{RequestParts, request_from_parts};
use mandate_eval::{Decision, Entities, ErrorMode, EvalError, PolicySet, Uid, is_authorized};
use mandate_syntax::{Dialect, ParseOptions, parse};
use mandate_validate::schema::Schema;
use mandate_validate::validate;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestError, TestRunner};
use serde_json::{Value as J, json};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// The choice tape

/// Reads choices from proptest's vector; past its end every choice is 0.
struct Tape<'a> {
    data: &'a [u32],
    pos: usize,
}

impl Tape<'_> {
    fn next(&mut self) -> u32 {
        let v = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        v
    }
    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { self.next() as usize % n }
    }
    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// `true` with probability `percent`%; choice 0 gives `true`.
    fn chance(&mut self, percent: u32) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Schemas

const TYPE_NAMES: [&str; 4] = ["User", "Group", "Doc", "Team"];
const ATTR_NAMES: [&str; 8] = ["n", "s", "b", "xs", "r", "e", "d", "ip"];
const FIELD_NAMES: [&str; 3] = ["x", "y", "z"];
const IDS: [&str; 3] = ["a", "b", "c"];

/// A schema type, as the generator knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ty {
    Bool,
    Long,
    Str,
    Set(Box<Ty>),
    Rec(Vec<Attr>),
    Ent(usize),
    Decimal,
    Ip,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Attr {
    name: &'static str,
    required: bool,
    ty: Ty,
}

#[derive(Debug)]
struct EntityType {
    parents: Vec<usize>,
    attrs: Vec<Attr>,
}

#[derive(Debug)]
struct Action {
    name: String,
    principals: Vec<usize>,
    resources: Vec<usize>,
    context: Vec<Attr>,
    in_group: bool,
}

#[derive(Debug)]
struct Gen {
    types: Vec<EntityType>,
    actions: Vec<Action>,
    group: bool,
}

fn gen_ty(t: &mut Tape, n_types: usize, nested: bool) -> Ty {
    match t.below(if nested { 7 } else { 10 }) {
        0 => Ty::Long,
        1 => Ty::Str,
        2 => Ty::Bool,
        3 => Ty::Ent(t.below(n_types)),
        4 => Ty::Decimal,
        5 => Ty::Ip,
        6 => Ty::Set(Box::new(if t.chance(50) { Ty::Long } else { Ty::Str })),
        7 => Ty::Set(Box::new(Ty::Ent(t.below(n_types)))),
        8 => Ty::Set(Box::new(Ty::Str)),
        _ => Ty::Rec(gen_attrs(t, &FIELD_NAMES, 1, 3, n_types, true)),
    }
}

/// Distinct attributes named from `names`, between `min` and `max` of them.
fn gen_attrs(
    t: &mut Tape,
    names: &[&'static str],
    min: usize,
    max: usize,
    n_types: usize,
    nested: bool,
) -> Vec<Attr> {
    let count = t.range(min, max.min(names.len()));
    let mut pool: Vec<&'static str> = names.to_vec();
    let mut out = Vec::new();
    for _ in 0..count {
        let name = pool.remove(t.below(pool.len()));
        out.push(Attr {
            name,
            required: t.chance(60),
            ty: gen_ty(t, n_types, nested),
        });
    }
    out
}

fn gen_schema(t: &mut Tape) -> Gen {
    let n_types = t.range(2, 4);
    let types = (0..n_types)
        .map(|_| EntityType {
            parents: (0..n_types).filter(|_| !t.chance(75)).collect(),
            attrs: gen_attrs(t, &ATTR_NAMES, 0, 4, n_types, false),
        })
        .collect();
    let n_actions = t.range(1, 3);
    let group = !t.chance(50);
    let subset = |t: &mut Tape| -> Vec<usize> {
        let first = t.below(n_types);
        let mut out: Vec<usize> = vec![first];
        for k in 0..n_types {
            if k != first && !t.chance(70) {
                out.push(k);
            }
        }
        out
    };
    let actions = (0..n_actions)
        .map(|i| Action {
            name: format!("a{i}"),
            principals: subset(t),
            resources: subset(t),
            context: gen_attrs(t, &ATTR_NAMES, 0, 3, n_types, false),
            in_group: group && t.chance(70),
        })
        .collect();
    Gen {
        types,
        actions,
        group,
    }
}

fn render_ty(ty: &Ty, out: &mut String) {
    match ty {
        Ty::Bool => out.push_str("Bool"),
        Ty::Long => out.push_str("Long"),
        Ty::Str => out.push_str("String"),
        Ty::Decimal => out.push_str("decimal"),
        Ty::Ip => out.push_str("ipaddr"),
        Ty::Ent(k) => out.push_str(TYPE_NAMES[*k]),
        Ty::Set(e) => {
            out.push_str("Set<");
            render_ty(e, out);
            out.push('>');
        }
        Ty::Rec(attrs) => render_record(attrs, out),
    }
}

fn render_record(attrs: &[Attr], out: &mut String) {
    out.push_str("{ ");
    for (i, a) in attrs.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(a.name);
        if !a.required {
            out.push('?');
        }
        out.push_str(": ");
        render_ty(&a.ty, out);
    }
    out.push_str(" }");
}

fn render_schema(g: &Gen) -> String {
    let mut out = String::new();
    for (k, e) in g.types.iter().enumerate() {
        out.push_str("entity ");
        out.push_str(TYPE_NAMES[k]);
        if !e.parents.is_empty() {
            let names: Vec<&str> = e.parents.iter().map(|p| TYPE_NAMES[*p]).collect();
            let _ = write!(out, " in [{}]", names.join(", "));
        }
        out.push(' ');
        render_record(&e.attrs, &mut out);
        out.push_str(";\n");
    }
    if g.group {
        out.push_str("action \"grp\";\n");
    }
    for a in &g.actions {
        let _ = write!(out, "action {}", a.name);
        if a.in_group {
            out.push_str(" in [\"grp\"]");
        }
        let names = |ks: &[usize]| -> String {
            ks.iter()
                .map(|k| TYPE_NAMES[*k])
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = write!(
            out,
            " appliesTo {{ principal: [{}], resource: [{}], context: ",
            names(&a.principals),
            names(&a.resources)
        );
        render_record(&a.context, &mut out);
        out.push_str(" };\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Policies

const DECIMALS: [&str; 5] = ["1.5", "-0.5", "100.0", "0.0001", "-922337203685477.5808"];
const IPS: [&str; 5] = [
    "10.0.0.0/8",
    "127.0.0.1",
    "::1",
    "192.168.0.0/16",
    "0.0.0.0/0",
];
const STRINGS: [&str; 5] = ["", "a", "ab", "abc", "b*"];
const PATTERNS: [&str; 5] = ["a*", "*", "ab", "*b*", "\\*"];

/// An attribute read: the expression, its type, the `has` tests that make it safe, and how to
/// test for it with `has`.
#[derive(Clone, Debug)]
struct Path {
    text: String,
    ty: Ty,
    guards: Vec<String>,
    has_guards: Vec<String>,
    has_text: String,
}

/// An expression and the guards it needs.
struct Ex {
    text: String,
    guards: Vec<String>,
}

impl Ex {
    fn plain(text: impl Into<String>) -> Self {
        Ex {
            text: text.into(),
            guards: Vec::new(),
        }
    }
}

/// Expression generation for one policy, focused on one action and one principal and resource
/// type of its `appliesTo`.
struct PolicyGen<'g> {
    g: &'g Gen,
    principal: usize,
    resource: usize,
    paths: Vec<Path>,
}

fn add_paths(
    g: &Gen,
    base: &str,
    base_guards: &[String],
    attrs: &[Attr],
    hops: usize,
    out: &mut Vec<Path>,
) {
    for a in attrs {
        let text = format!("{base}.{}", a.name);
        let has_text = format!("{base} has {}", a.name);
        let mut guards = base_guards.to_vec();
        if !a.required {
            guards.push(has_text.clone());
        }
        out.push(Path {
            text: text.clone(),
            ty: a.ty.clone(),
            guards: guards.clone(),
            has_guards: base_guards.to_vec(),
            has_text,
        });
        if hops > 0 {
            match &a.ty {
                Ty::Rec(fields) => add_paths(g, &text, &guards, fields, hops - 1, out),
                Ty::Ent(k) => add_paths(g, &text, &guards, &g.types[*k].attrs, hops - 1, out),
                _ => {}
            }
        }
    }
}

impl<'g> PolicyGen<'g> {
    fn new(g: &'g Gen, action: usize, principal: usize, resource: usize) -> Self {
        let mut paths = Vec::new();
        add_paths(
            g,
            "principal",
            &[],
            &g.types[principal].attrs,
            1,
            &mut paths,
        );
        add_paths(g, "resource", &[], &g.types[resource].attrs, 1, &mut paths);
        add_paths(g, "context", &[], &g.actions[action].context, 1, &mut paths);
        PolicyGen {
            g,
            principal,
            resource,
            paths,
        }
    }

    /// A read of an attribute of type `ty`, if there is one; its guards are usually kept.
    fn path_of(&self, t: &mut Tape, ty: &Ty) -> Option<Ex> {
        let matching: Vec<&Path> = self.paths.iter().filter(|p| p.ty == *ty).collect();
        if matching.is_empty() {
            return None;
        }
        let p = t.pick(&matching);
        Some(Ex {
            text: p.text.clone(),
            guards: if t.chance(92) {
                p.guards.clone()
            } else {
                Vec::new()
            },
        })
    }

    fn entity_lit(&self, t: &mut Tape, k: usize) -> String {
        format!("{}::\"{}\"", TYPE_NAMES[k], t.pick(&IDS))
    }

    /// An expression of type `ty`.
    fn expr(&self, t: &mut Tape, ty: &Ty, depth: usize) -> Ex {
        if matches!(ty, Ty::Bool) {
            return self.bool_expr(t, depth);
        }
        if t.chance(55)
            && let Some(p) = self.path_of(t, ty)
        {
            return p;
        }
        match ty {
            Ty::Long => {
                if depth > 0 && t.chance(30) {
                    let a = self.expr(t, ty, depth - 1);
                    let b = self.expr(t, ty, depth - 1);
                    let op = t.pick(&["+", "-", "*"]);
                    return join(format!("({} {op} {})", a.text, b.text), vec![a, b]);
                }
                Ex::plain(match t.below(8) {
                    0..=4 => (t.below(12) as i64 - 2).to_string(),
                    5 => "9223372036854775807".into(),
                    6 => "-9223372036854775808".into(),
                    _ => "4611686018427387904".into(),
                })
            }
            Ty::Str => Ex::plain(format!("\"{}\"", t.pick(&STRINGS))),
            Ty::Decimal => Ex::plain(format!("decimal(\"{}\")", t.pick(&DECIMALS))),
            Ty::Ip => Ex::plain(format!("ip(\"{}\")", t.pick(&IPS))),
            Ty::Ent(k) => {
                if *k == self.principal && t.chance(40) {
                    Ex::plain("principal")
                } else if *k == self.resource && t.chance(40) {
                    Ex::plain("resource")
                } else {
                    Ex::plain(self.entity_lit(t, *k))
                }
            }
            Ty::Set(elem) => {
                let n = t.range(1, 3);
                let items: Vec<Ex> = (0..n)
                    .map(|_| self.expr(t, elem, depth.saturating_sub(1)))
                    .collect();
                let text = format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|e| e.text.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                join(text, items)
            }
            Ty::Rec(fields) => {
                let mut items: Vec<(&str, Ex)> = Vec::new();
                for f in fields {
                    if f.required || t.chance(50) {
                        items.push((f.name, self.expr(t, &f.ty, depth.saturating_sub(1))));
                    }
                }
                let text = format!(
                    "{{{}}}",
                    items
                        .iter()
                        .map(|(k, e)| format!("{k}: {}", e.text))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                join(text, items.into_iter().map(|(_, e)| e).collect())
            }
            Ty::Bool => self.bool_expr(t, depth),
        }
    }

    /// Any entity-typed expression, with its type.
    fn any_entity(&self, t: &mut Tape) -> (Ex, usize) {
        let entity_paths: Vec<&Path> = self
            .paths
            .iter()
            .filter(|p| matches!(p.ty, Ty::Ent(_)))
            .collect();
        match t.below(4) {
            0 => (Ex::plain("principal"), self.principal),
            1 => (Ex::plain("resource"), self.resource),
            2 if !entity_paths.is_empty() => {
                let p = t.pick(&entity_paths);
                let k = match p.ty {
                    Ty::Ent(k) => k,
                    _ => 0,
                };
                let guards = if t.chance(92) {
                    p.guards.clone()
                } else {
                    Vec::new()
                };
                (
                    Ex {
                        text: p.text.clone(),
                        guards,
                    },
                    k,
                )
            }
            _ => {
                let k = t.below(self.g.types.len());
                (Ex::plain(self.entity_lit(t, k)), k)
            }
        }
    }

    /// A type to use for `==` and set elements.
    fn some_type(&self, t: &mut Tape) -> Ty {
        if t.chance(60)
            && let Some(p) = self.paths.get(t.below(self.paths.len()))
        {
            return p.ty.clone();
        }
        match t.below(5) {
            0 => Ty::Long,
            1 => Ty::Str,
            2 => Ty::Ent(t.below(self.g.types.len())),
            3 => Ty::Decimal,
            _ => Ty::Set(Box::new(Ty::Long)),
        }
    }

    /// A boolean expression whose guards are already inside it.
    fn bool_expr(&self, t: &mut Tape, depth: usize) -> Ex {
        if depth > 0 && t.chance(45) {
            let text = match t.below(4) {
                0 => format!(
                    "({} && {})",
                    self.bool_expr(t, depth - 1).text,
                    self.bool_expr(t, depth - 1).text
                ),
                1 => format!(
                    "({} || {})",
                    self.bool_expr(t, depth - 1).text,
                    self.bool_expr(t, depth - 1).text
                ),
                2 => format!("!({})", self.bool_expr(t, depth - 1).text),
                _ => format!(
                    "(if {} then {} else {})",
                    self.bool_expr(t, depth - 1).text,
                    self.bool_expr(t, depth - 1).text,
                    self.bool_expr(t, depth - 1).text
                ),
            };
            return Ex::plain(text);
        }
        let atom = self.atom(t, depth);
        if atom.guards.is_empty() {
            return Ex::plain(format!("({})", atom.text));
        }
        let mut guards = atom.guards;
        dedup_keep_order(&mut guards);
        Ex::plain(format!("({} && {})", guards.join(" && "), atom.text))
    }

    /// A boolean atom, with the guards its reads need (not yet applied).
    fn atom(&self, t: &mut Tape, depth: usize) -> Ex {
        let sub = depth.saturating_sub(1);
        let choice = t.below(14);
        if self.paths.is_empty() && matches!(choice, 2 | 13) {
            return Ex::plain("true");
        }
        match choice {
            0 => Ex::plain(if t.chance(50) { "true" } else { "false" }),
            1 => self
                .path_of(t, &Ty::Bool)
                .unwrap_or_else(|| Ex::plain("true")),
            2 => {
                let p = t.pick(&self.paths).clone();
                Ex {
                    text: p.has_text,
                    guards: p.has_guards,
                }
            }
            3 | 4 => {
                let a = self.expr(t, &Ty::Long, sub);
                let b = self.expr(t, &Ty::Long, sub);
                let op = t.pick(&["<", "<=", ">", ">=", "==", "!="]);
                join(format!("{} {op} {}", a.text, b.text), vec![a, b])
            }
            5 => {
                let a = self.expr(t, &Ty::Str, sub);
                let pat = t.pick(&PATTERNS);
                join(format!("{} like \"{pat}\"", a.text), vec![a])
            }
            6 => {
                // `==` on one type, or (now and then) across two types.
                let ty = self.some_type(t);
                let other = if t.chance(85) {
                    ty.clone()
                } else {
                    self.some_type(t)
                };
                let a = self.expr(t, &ty, sub);
                let b = self.expr(t, &other, sub);
                let op = t.pick(&["==", "!="]);
                join(format!("{} {op} {}", a.text, b.text), vec![a, b])
            }
            7 => {
                let set_paths: Vec<&Path> = self
                    .paths
                    .iter()
                    .filter(|p| matches!(p.ty, Ty::Set(_)))
                    .collect();
                let elem = if set_paths.is_empty() || t.chance(20) {
                    Ty::Long
                } else {
                    match &t.pick(&set_paths).ty {
                        Ty::Set(e) => (**e).clone(),
                        other => other.clone(),
                    }
                };
                let set_ty = Ty::Set(Box::new(elem.clone()));
                let s = self.expr(t, &set_ty, sub);
                match t.below(4) {
                    0 => {
                        let x = self.expr(t, &elem, sub);
                        join(format!("{}.contains({})", s.text, x.text), vec![s, x])
                    }
                    1 => {
                        let x = self.expr(t, &set_ty, sub);
                        join(format!("{}.containsAll({})", s.text, x.text), vec![s, x])
                    }
                    2 => {
                        let x = self.expr(t, &set_ty, sub);
                        join(format!("{}.containsAny({})", s.text, x.text), vec![s, x])
                    }
                    _ => join(format!("{}.isEmpty()", s.text), vec![s]),
                }
            }
            8 => {
                let d = self.expr(t, &Ty::Decimal, sub);
                let m = t.pick(&[
                    "lessThan",
                    "lessThanOrEqual",
                    "greaterThan",
                    "greaterThanOrEqual",
                ]);
                let lit = t.pick(&DECIMALS);
                join(format!("{}.{m}(decimal(\"{lit}\"))", d.text), vec![d])
            }
            9 => {
                let i = self.expr(t, &Ty::Ip, sub);
                let text = match t.below(3) {
                    0 => format!("{}.isInRange(ip(\"{}\"))", i.text, t.pick(&IPS)),
                    1 => format!("{}.isIpv4()", i.text),
                    _ => format!("{}.isLoopback()", i.text),
                };
                join(text, vec![i])
            }
            10 | 11 => {
                let (a, _) = self.any_entity(t);
                match t.below(3) {
                    0 => {
                        let (b, _) = self.any_entity(t);
                        join(format!("{} in {}", a.text, b.text), vec![a, b])
                    }
                    1 => {
                        let (b, _) = self.any_entity(t);
                        let (c, _) = self.any_entity(t);
                        join(
                            format!("{} in [{}, {}]", a.text, b.text, c.text),
                            vec![a, b, c],
                        )
                    }
                    _ => {
                        let k = t.below(self.g.types.len());
                        let sp = self.path_of(t, &Ty::Set(Box::new(Ty::Ent(k))));
                        match sp {
                            Some(s) => join(format!("{} in {}", a.text, s.text), vec![a, s]),
                            None => {
                                let lit = self.entity_lit(t, k);
                                join(format!("{} in {lit}", a.text), vec![a])
                            }
                        }
                    }
                }
            }
            12 => {
                let (a, _) = self.any_entity(t);
                let k = t.below(self.g.types.len());
                if t.chance(70) {
                    join(format!("{} is {}", a.text, TYPE_NAMES[k]), vec![a])
                } else {
                    let kk = t.below(self.g.types.len());
                    let lit = self.entity_lit(t, kk);
                    join(format!("{} is {} in {lit}", a.text, TYPE_NAMES[k]), vec![a])
                }
            }
            _ => {
                // A read of any attribute used as a condition: ill-typed unless it is a `Bool`.
                let p = t.pick(&self.paths).clone();
                Ex {
                    text: p.text,
                    guards: p.guards,
                }
            }
        }
    }
}

fn join(text: String, parts: Vec<Ex>) -> Ex {
    Ex {
        text,
        guards: parts.into_iter().flat_map(|p| p.guards).collect(),
    }
}

fn dedup_keep_order(items: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    items.retain(|s| seen.insert(s.clone()));
}

/// Type `k` or one of its declared parent types (usually), or any type.
fn parent_or_self(t: &mut Tape, g: &Gen, k: usize) -> usize {
    let parents = &g.types[k].parents;
    match t.below(4) {
        0 | 1 if !parents.is_empty() => *t.pick(parents),
        3 => t.below(g.types.len()),
        _ => k,
    }
}

fn gen_policy(t: &mut Tape, g: &Gen) -> String {
    let a = t.below(g.actions.len());
    let action = &g.actions[a];
    let p = *t.pick(&action.principals);
    let r = *t.pick(&action.resources);
    let pg = PolicyGen::new(g, a, p, r);
    let effect = if t.chance(75) { "permit" } else { "forbid" };
    let mut guards = Vec::new();
    let principal = match t.below(10) {
        0..=3 => {
            if t.chance(80) {
                guards.push(format!("principal is {}", TYPE_NAMES[p]));
            }
            "principal".to_string()
        }
        4..=7 => format!("principal is {}", TYPE_NAMES[p]),
        8 => format!("principal == {}", pg.entity_lit(t, p)),
        _ => {
            let k = parent_or_self(t, g, p);
            format!("principal is {} in {}", TYPE_NAMES[p], pg.entity_lit(t, k))
        }
    };
    let resource = match t.below(10) {
        0..=3 => {
            if t.chance(80) {
                guards.push(format!("resource is {}", TYPE_NAMES[r]));
            }
            "resource".to_string()
        }
        4..=7 => format!("resource is {}", TYPE_NAMES[r]),
        8 => format!("resource == {}", pg.entity_lit(t, r)),
        _ => {
            let k = parent_or_self(t, g, r);
            format!("resource in {}", pg.entity_lit(t, k))
        }
    };
    let action_scope = match t.below(10) {
        0..=6 => format!("action == Action::\"{}\"", action.name),
        7 => "action".to_string(),
        8 if g.group => "action in Action::\"grp\"".to_string(),
        _ => {
            let other = &g.actions[t.below(g.actions.len())].name;
            format!(
                "action in [Action::\"{}\", Action::\"{other}\"]",
                action.name
            )
        }
    };
    let mut out = format!("{effect}({principal}, {action_scope}, {resource})");
    let n_conds = t.range(0, 2);
    for i in 0..n_conds {
        let body = pg.bool_expr(t, 3);
        let kw = if i == 0 || t.chance(60) {
            "when"
        } else {
            "unless"
        };
        let text = if kw == "when" && !guards.is_empty() {
            format!("{} && {}", guards.join(" && "), body.text)
        } else {
            body.text
        };
        let _ = write!(out, " {kw} {{ {text} }}");
    }
    out.push(';');
    out
}

// ---------------------------------------------------------------------------------------------
// Entities and requests

fn gen_value(t: &mut Tape, ty: &Ty) -> J {
    match ty {
        Ty::Bool => J::Bool(t.chance(50)),
        Ty::Long => match t.below(10) {
            0..=6 => json!(t.below(12) as i64 - 2),
            7 => json!(i64::MAX),
            8 => json!(i64::MIN),
            _ => json!(1_i64 << 62),
        },
        Ty::Str => json!(t.pick(&STRINGS)),
        Ty::Decimal => json!(t.pick(&[
            "0.0",
            "1.5",
            "-2.25",
            "922337203685477.5807",
            "-922337203685477.5808",
            "1.0001"
        ])),
        Ty::Ip => json!(t.pick(&[
            "10.0.0.1",
            "192.168.1.0/24",
            "::1",
            "127.0.0.1",
            "255.255.255.255"
        ])),
        Ty::Ent(k) => json!({"__entity": {"type": TYPE_NAMES[*k], "id": t.pick(&IDS)}}),
        Ty::Set(e) => J::Array((0..t.below(4)).map(|_| gen_value(t, e)).collect()),
        Ty::Rec(attrs) => gen_record(t, attrs),
    }
}

fn gen_record(t: &mut Tape, attrs: &[Attr]) -> J {
    let mut obj = serde_json::Map::new();
    for a in attrs {
        if a.required || t.chance(50) {
            obj.insert(a.name.to_string(), gen_value(t, &a.ty));
        }
    }
    J::Object(obj)
}

/// Entities of every type, with acyclic parents of the declared types (present or absent).
fn gen_entities(t: &mut Tape, g: &Gen) -> J {
    let mut order: Vec<(usize, &str)> = Vec::new();
    for k in 0..g.types.len() {
        for id in IDS {
            if t.chance(65) {
                order.push((k, id));
            }
        }
    }
    // Shuffle a little, so that parents are not always of lower types.
    for i in (1..order.len()).rev() {
        let j = t.below(i + 1);
        order.swap(i, j);
    }
    let position: BTreeMap<(usize, &str), usize> =
        order.iter().enumerate().map(|(i, e)| (*e, i)).collect();
    let mut out = Vec::new();
    for (i, (k, id)) in order.iter().enumerate() {
        let mut parents = Vec::new();
        for &pt in &g.types[*k].parents {
            for pid in IDS {
                let allowed = position.get(&(pt, pid)).is_none_or(|&j| j < i);
                if allowed && !t.chance(70) {
                    parents.push(json!({"type": TYPE_NAMES[pt], "id": pid}));
                }
            }
        }
        out.push(json!({
            "uid": {"type": TYPE_NAMES[*k], "id": id},
            "attrs": gen_record(t, &g.types[*k].attrs),
            "parents": parents,
        }));
    }
    J::Array(out)
}

// ---------------------------------------------------------------------------------------------
// The test

/// What the test saw.
#[derive(Debug, Default)]
struct Stats {
    cases: u64,
    policies: u64,
    policies_valid: u64,
    sets_all_valid: u64,
    cases_evaluated: u64,
    requests: u64,
    allows: u64,
    policy_errors: BTreeMap<&'static str, u64>,
    rejected_codes: BTreeMap<&'static str, u64>,
}

/// Whether Cedar's soundness theorem allows the error (see the module documentation), and its
/// name for the summary.
fn classify(e: &EvalError) -> (bool, &'static str) {
    match e {
        EvalError::EntityDoesNotExist(_) => (true, "entity-does-not-exist"),
        EvalError::Overflow(_) => (true, "overflow"),
        EvalError::Extension(_) => (true, "extension"),
        EvalError::Type(_) => (false, "type"),
        EvalError::MissingAttribute(..) => (false, "missing-attribute"),
        EvalError::MissingTag(..) => (false, "missing-tag"),
        EvalError::Arity(_) => (false, "arity"),
        EvalError::UnlinkedSlot(_) => (false, "unlinked-slot"),
        EvalError::Syntax => (false, "syntax"),
    }
}

fn one_case(tape: &[u32], stats: &mut Stats) -> Result<(), String> {
    let t = &mut Tape { data: tape, pos: 0 };
    stats.cases += 1;
    let g = gen_schema(t);
    let schema_text = render_schema(&g);
    let schema = Schema::from_cedarschema(&schema_text)
        .map_err(|e| format!("the generated schema does not load: {e}\n{schema_text}"))?;
    let n_policies = t.range(1, 3);
    let mut valid = Vec::new();
    let mut valid_text = String::new();
    for i in 0..n_policies {
        let text = format!("@id(\"p{i}\")\n{}", gen_policy(t, &g));
        let parsed = parse(
            &text,
            ParseOptions {
                dialect: Dialect::Cedar,
                ..ParseOptions::default()
            },
        );
        if parsed.has_errors() {
            return Err(format!(
                "the generated policy does not parse: {:?}\n{text}",
                parsed.diagnostics
            ));
        }
        stats.policies += 1;
        let result = validate(&schema, &parsed.file.statements);
        if result.passed() {
            stats.policies_valid += 1;
            valid.extend(parsed.file.statements);
            valid_text.push_str(&text);
            valid_text.push('\n');
        } else {
            for d in result.errors() {
                *stats.rejected_codes.entry(d.code).or_default() += 1;
            }
        }
    }
    if valid.len() == n_policies {
        stats.sets_all_valid += 1;
    }
    if valid.is_empty() {
        return Ok(());
    }
    stats.cases_evaluated += 1;
    let mut set = PolicySet::new();
    set.add_statements(valid)
        .map_err(|d| format!("policy set: {d:?}"))?;
    let entities_json = gen_entities(t, &g);
    let entities = Entities::from_json_value(&entities_json, Some(&schema)).map_err(|e| {
        format!("conforming entities were rejected: {e}\n{schema_text}\n{entities_json:#}")
    })?;
    for action in &g.actions {
        for _ in 0..t.range(1, 3) {
            let p = *t.pick(&action.principals);
            let r = *t.pick(&action.resources);
            let context = gen_record(t, &action.context);
            let principal = Uid::new(TYPE_NAMES[p], *t.pick(&IDS));
            let resource = Uid::new(TYPE_NAMES[r], *t.pick(&IDS));
            let parsed = request_from_parts(
                RequestParts {
                    principal: principal.clone(),
                    action: Uid::new("Action", action.name.as_str()),
                    resource: resource.clone(),
                    context: Some(&context),
                    on_behalf_of: Vec::new(),
                    validate: true,
                },
                Some(&schema),
            )
            .map_err(|e| {
                format!("a conforming request was rejected: {e}\n{schema_text}\n{context:#}")
            })?;
            let response = is_authorized(&set, &parsed.request, &entities, ErrorMode::Cedar);
            stats.requests += 1;
            if response.decision == Decision::Allow {
                stats.allows += 1;
            }
            for err in &response.errors {
                let (allowed, kind) = classify(&err.error);
                *stats.policy_errors.entry(kind).or_default() += 1;
                if !allowed {
                    return Err(format!(
                        "SOUNDNESS VIOLATION: policy {} raised `{}` ({kind}) after validation\n\
                         --- schema ---\n{schema_text}--- policies ---\n{valid_text}\
                         --- entities ---\n{entities_json:#}\n--- request ---\n\
                         principal {principal}, action Action::\"{}\", resource {resource}, \
                         context {context}",
                        err.policy, err.error, action.name
                    ));
                }
            }
        }
    }
    Ok(())
}

fn cases_from_env(default: u32) -> Result<u32, String> {
    match std::env::var("MANDATE_SOUNDNESS_CASES") {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|e| format!("MANDATE_SOUNDNESS_CASES={v}: {e}")),
        Err(_) => Ok(default),
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        // Counts stay far below 2^52, where the conversion is exact.
        part as f64 * 100.0 / whole as f64
    }
}

#[test]
fn validated_policies_raise_no_type_errors() -> Result<(), String> {
    let cases = cases_from_env(10_000)?;
    let config = Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        max_shrink_iters: 20_000,
        ..Config::with_cases(cases)
    };
    let mut runner = TestRunner::new(config);
    let stats = RefCell::new(Stats::default());
    let started = Instant::now();
    let result = runner.run(&proptest::collection::vec(any::<u32>(), 600), |tape| {
        one_case(&tape, &mut stats.borrow_mut()).map_err(TestCaseError::fail)
    });
    let s = stats.into_inner();
    println!(
        "soundness: {} cases in {:.1?}; {} policies, {} validated ({:.1}%), {} sets fully valid; \
         {} cases evaluated, {} requests decided, {} allow ({:.1}%);\n  \
         errors by kind: {:?}\n  rejected by the validator, by code: {:?}",
        s.cases,
        started.elapsed(),
        s.policies,
        s.policies_valid,
        percent(s.policies_valid, s.policies),
        s.sets_all_valid,
        s.cases_evaluated,
        s.requests,
        s.allows,
        percent(s.allows, s.requests),
        s.policy_errors,
        s.rejected_codes,
    );
    match result {
        Ok(()) => {}
        // The reason holds the case in readable form; the tape itself is not worth printing.
        Err(TestError::Fail(reason, _)) => return Err(reason.to_string()),
        Err(e) => return Err(e.to_string()),
    }
    if cases >= 1_000 {
        let share = percent(s.policies_valid, s.policies);
        if share < 20.0 {
            return Err(format!(
                "the generator degenerated: only {share:.1}% of the policies validate"
            ));
        }
        if share > 95.0 {
            return Err(format!(
                "the generator degenerated: {share:.1}% of the policies validate, so almost no ill-typed policy is tried"
            ));
        }
        if s.allows == 0 || s.allows == s.requests {
            return Err(format!(
                "the generator degenerated: {} allows in {} requests",
                s.allows, s.requests
            ));
        }
        for kind in ["entity-does-not-exist", "overflow"] {
            if s.policy_errors.get(kind).copied().unwrap_or(0) == 0 {
                return Err(format!(
                    "the generator degenerated: no `{kind}` error was ever raised"
                ));
            }
        }
    }
    Ok(())
}
