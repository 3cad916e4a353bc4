//! Random inputs for the differential test, as *text*: Cedar policies, entity JSON and request
//! JSON, so that both engines parse exactly the same bytes.
//!
//! The generator is typed by intent: every expression position wants a type (`Ty`), and most of
//! the time gets an expression of that type, built from attributes whose names carry a
//! conventional type (`n` is usually a long, `s` a string, …). A small share of positions get an
//! expression of any type, and a small share of attribute values break the convention, so type
//! errors, missing attributes, missing entities, overflow and extension errors all occur, without
//! drowning the cases where policies are satisfied.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::{NewTree, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value as J, json};
use std::fmt::Debug;

/// A weighted choice among strategies, like `prop_oneof!`, but cheap: `proptest`'s `Union`
/// clones the test runner (configuration and a fresh RNG) for every arm before the one picked,
/// so that it can shrink to them later, which dominated generation time here. `Choice` only
/// remembers a seed, and generates the first (simplest) arm from it when asked to shrink.
#[derive(Clone, Debug)]
pub struct Choice<T: Debug> {
    arms: Vec<(u32, BoxedStrategy<T>)>,
    total: u32,
}

impl<T: Debug + 'static> Choice<T> {
    /// A choice among weighted arms (zero weights are never picked).
    pub fn new(arms: Vec<(u32, BoxedStrategy<T>)>) -> Self {
        let total = arms.iter().map(|(w, _)| *w).sum();
        Choice { arms, total }
    }
}

impl<T: Debug + 'static> Strategy for Choice<T> {
    type Tree = ChoiceTree<T>;
    type Value = T;
    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let mut x = runner.rng().next_u32() % self.total.max(1);
        let mut pick = 0;
        for (i, (w, _)) in self.arms.iter().enumerate() {
            if x < *w {
                pick = i;
                break;
            }
            x -= w;
        }
        let tree = self.arms[pick].1.new_tree(runner)?;
        let fallback = match self.arms.first() {
            Some((w, s)) if pick > 0 && *w > 0 => Some((s.clone(), runner.rng().next_u64())),
            _ => None,
        };
        Ok(ChoiceTree {
            current: tree,
            fallback,
            trying: None,
        })
    }
}

/// The value tree of a `Choice`: the picked arm's tree, and possibly the first arm to shrink to.
pub struct ChoiceTree<T: Debug> {
    current: Box<dyn ValueTree<Value = T>>,
    /// The first arm and a seed to generate it from, until tried.
    fallback: Option<(BoxedStrategy<T>, u64)>,
    /// While trying the first arm: the original tree, to return to.
    trying: Option<Box<dyn ValueTree<Value = T>>>,
}

impl<T: Debug> ValueTree for ChoiceTree<T> {
    type Value = T;
    fn current(&self) -> T {
        self.current.current()
    }
    fn simplify(&mut self) -> bool {
        if self.trying.take().is_some() {
            // The first arm still fails: keep it, and shrink within it.
            return self.current.simplify();
        }
        if let Some((strategy, seed)) = self.fallback.take() {
            let mut seed_bytes = [0u8; 32];
            for (i, b) in seed_bytes.iter_mut().enumerate() {
                *b = seed.to_le_bytes()[i % 8];
            }
            let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
            let mut runner = TestRunner::new_with_rng(Config::default(), rng);
            if let Ok(tree) = strategy.new_tree(&mut runner) {
                let original = std::mem::replace(&mut self.current, tree);
                self.trying = Some(original);
                return true;
            }
        }
        self.current.simplify()
    }
    fn complicate(&mut self) -> bool {
        match self.trying.take() {
            // The first arm passes: back to the picked arm.
            Some(original) => {
                self.current = original;
                true
            }
            None => self.current.complicate(),
        }
    }
}

/// `choice![w1 => s1, w2 => s2, …]` or `choice![s1, s2, …]`: a boxed `Choice`.
macro_rules! choice {
    ($($w:expr => $s:expr),+ $(,)?) => {
        Choice::new(vec![$(($w, $s.boxed())),+]).boxed()
    };
    ($($s:expr),+ $(,)?) => {
        Choice::new(vec![$((1, $s.boxed())),+]).boxed()
    };
}

/// Action entity types.
pub const ACTION_TYPES: &[&str] = &["Action", "NS::Action"];
/// The id of entities that are referenced but never defined.
pub const GHOST: &str = "ghost";

/// Expression types the generator aims for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Long,
    Str,
    Ent,
    Set,
    Rec,
    Dec,
    Ip,
    Dt,
    Dur,
}

/// Every `Ty`.
pub const ALL_TYS: [Ty; 10] = [
    Ty::Bool,
    Ty::Long,
    Ty::Str,
    Ty::Ent,
    Ty::Set,
    Ty::Rec,
    Ty::Dec,
    Ty::Ip,
    Ty::Dt,
    Ty::Dur,
];

impl Ty {
    /// The attribute name whose values conventionally have this type.
    pub fn attr(self) -> &'static str {
        match self {
            Ty::Bool => "b",
            Ty::Long => "n",
            Ty::Str => "s",
            Ty::Ent => "e",
            Ty::Set => "set",
            Ty::Rec => "r",
            Ty::Dec => "d",
            Ty::Ip => "ip",
            Ty::Dt => "t",
            Ty::Dur => "dur",
        }
    }
    fn index(self) -> usize {
        match self {
            Ty::Bool => 0,
            Ty::Long => 1,
            Ty::Str => 2,
            Ty::Ent => 3,
            Ty::Set => 4,
            Ty::Rec => 5,
            Ty::Dec => 6,
            Ty::Ip => 7,
            Ty::Dt => 8,
            Ty::Dur => 9,
        }
    }
}

/// A Cedar string literal (with quotes) for `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Weighted choice among string constants.
fn pick(items: &[(u32, &'static str)]) -> BoxedStrategy<String> {
    let expanded: Vec<String> = items
        .iter()
        .flat_map(|(w, s)| std::iter::repeat_n((*s).to_string(), *w as usize))
        .collect();
    prop::sample::select(expanded).boxed()
}

fn union<T: Debug + 'static>(items: Vec<(u32, BoxedStrategy<T>)>) -> BoxedStrategy<T> {
    Choice::new(items).boxed()
}

/// Entity ids: mostly a few plain ones (so references hit), sometimes awkward ones.
pub fn entity_id() -> BoxedStrategy<String> {
    pick(&[
        (6, "a"),
        (5, "b"),
        (3, "c"),
        (1, ""),
        (1, "q\"t"),
        (1, "ü"),
        (1, "x y"),
        (1, "back\\slash"),
        (1, "new\nline"),
        (1, GHOST),
    ])
}

/// A principal or resource entity type.
pub fn entity_type() -> BoxedStrategy<String> {
    pick(&[
        (3, "User"),
        (3, "Group"),
        (2, "Doc"),
        (1, "NS::User"),
        (1, "NS::Folder"),
    ])
}

fn action_type() -> BoxedStrategy<String> {
    pick(&[(6, "Action"), (1, "NS::Action")])
}

fn action_id() -> BoxedStrategy<String> {
    pick(&[(4, "view"), (3, "edit"), (2, "all")])
}

/// `Type::"id"` in policy text.
pub fn uid_text(ty: &str, id: &str) -> String {
    format!("{ty}::{}", quote(id))
}

fn entity_literal() -> BoxedStrategy<String> {
    choice![
        40 => (entity_type(), entity_id()).prop_map(|(t, i)| uid_text(&t, &i)),
        // The same uids written otherwise: escapes, spaces around `::`.
        1 => pick(&[
            (1, r#"User::"\u{61}""#),
            (1, r#"Group :: "b""#),
            (1, r#"NS::User::"\u{0061}""#),
            (1, r#"Doc::"q\"t""#),
        ]),
    ]
}

fn action_literal() -> BoxedStrategy<String> {
    (action_type(), action_id())
        .prop_map(|(t, i)| uid_text(&t, &i))
        .boxed()
}

/// Valid and invalid literals of the extension types.
pub fn decimal_lit(valid_only: bool) -> BoxedStrategy<String> {
    let valid: &[(u32, &str)] = &[
        (3, "1.0"),
        (3, "-1.5"),
        (2, "0.0001"),
        (2, "2.25"),
        (1, "-0.0"),
        (1, "922337203685477.5807"),
        (1, "-922337203685477.5808"),
        (1, "007.10"),
        (1, "1.0000"),
    ];
    let invalid: &[(u32, &str)] = &[
        (1, "1"),
        (1, "1.00001"),
        (1, "922337203685477.5808"),
        (1, "-922337203685477.5809"),
        (1, ".5"),
        (1, "1."),
        (1, "1e5"),
        (1, "+1.0"),
        (1, "1.0 "),
        (1, ""),
        (1, "١.٠"),
    ];
    lits(valid, invalid, valid_only)
}

pub fn ip_lit(valid_only: bool) -> BoxedStrategy<String> {
    let valid: &[(u32, &str)] = &[
        (3, "127.0.0.1"),
        (3, "10.0.0.0/8"),
        (2, "10.1.2.3"),
        (2, "::1"),
        (1, "192.168.0.1/24"),
        (1, "224.0.0.1"),
        (1, "ff02::1"),
        (1, "2001:db8::/32"),
        (1, "0.0.0.0/0"),
        (1, "::/0"),
        (1, "127.0.0.1/32"),
        (1, "::ffff:127.0.0.1"),
        (1, "::ffff:7f00:1"),
        (1, "fe80::1/128"),
        (1, "ff00::/8"),
        (1, "127.255.255.255/1"),
        (1, "10.1.2.3/8"),
    ];
    let invalid: &[(u32, &str)] = &[
        (1, "1.2.3"),
        (1, "1.2.3.4/33"),
        (1, "::1/129"),
        (1, "01.2.3.4"),
        (1, "1.2.3.4/08"),
        (1, "fe80::1%eth0"),
        (1, "256.0.0.1"),
        (1, " 1.2.3.4"),
        (1, "1.2.3.4/"),
        (1, ""),
        (1, "::g"),
        (1, "1:2:3:4:5:6:7:8:9"),
    ];
    lits(valid, invalid, valid_only)
}

pub fn datetime_lit(valid_only: bool) -> BoxedStrategy<String> {
    let valid: &[(u32, &str)] = &[
        (3, "2024-10-15"),
        (3, "2024-10-15T11:35:00Z"),
        (2, "2024-10-15T11:35:00.123Z"),
        (2, "2024-10-15T11:35:00+0100"),
        (1, "2024-10-15T11:35:00.999-2359"),
        (1, "1969-12-31T23:59:59Z"),
        (1, "1970-01-01"),
        (1, "0000-01-01"),
        (1, "9999-12-31T23:59:59.999Z"),
        (1, "2024-02-29"),
        (1, "1900-01-01T00:00:00.001+2359"),
        (1, "2024-10-15T10:35:00Z"),
        (1, "2024-10-15T00:30:00+0100"),
    ];
    let invalid: &[(u32, &str)] = &[
        (1, "2024-13-01"),
        (1, "2023-02-29"),
        (1, "2024-10-15T24:00:00Z"),
        (1, "2024-10-15T11:35:00+01:00"),
        (1, "2024-10-15T11:35:00"),
        (1, "2024-10-15T11:35:00.12Z"),
        (1, "2024-10-15T11:35:60Z"),
        (1, "2024-10-15T11:35:00+2400"),
        (1, "2024-1-15"),
        (1, "+2024-10-15"),
        (1, "2024-10-15 "),
        (1, "2024-10-15T11:35Z"),
    ];
    lits(valid, invalid, valid_only)
}

pub fn duration_lit(valid_only: bool) -> BoxedStrategy<String> {
    let valid: &[(u32, &str)] = &[
        (3, "1h"),
        (3, "-2d3h"),
        (2, "1d2h3m4s5ms"),
        (2, "90m"),
        (1, "0ms"),
        (1, "-0s"),
        (1, "9223372036854775807ms"),
        (1, "-9223372036854775808ms"),
        (1, "106751991167d"),
        (1, "25h"),
        (1, "1000000000s"),
        (1, "60m"),
        (1, "-1500ms"),
    ];
    let invalid: &[(u32, &str)] = &[
        (1, ""),
        (1, "-"),
        (1, "1"),
        (1, "1s1m"),
        (1, "1d1d"),
        (1, "9223372036854775808ms"),
        (1, "106751991168d"),
        (1, "1x"),
        (1, "1 h"),
        (1, "+1h"),
        (1, "1.5h"),
        (1, "--1h"),
    ];
    lits(valid, invalid, valid_only)
}

fn lits(
    valid: &[(u32, &'static str)],
    invalid: &[(u32, &'static str)],
    valid_only: bool,
) -> BoxedStrategy<String> {
    if valid_only {
        pick(valid)
    } else {
        choice![9 => pick(valid), 1 => pick(invalid)].boxed()
    }
}

fn string_lit() -> BoxedStrategy<String> {
    pick(&[
        (4, "a"),
        (3, "ab"),
        (2, ""),
        (2, "a*b"),
        (1, "*"),
        (1, "ü"),
        (1, "x y"),
        (1, "abc"),
        (1, "q\"t"),
        (1, "back\\slash"),
        (1, "b"),
    ])
}

/// A `like` pattern body (without quotes): `*` wildcards, `\*` literal stars.
fn like_pattern() -> BoxedStrategy<String> {
    prop::collection::vec(
        pick(&[
            (4, "*"),
            (4, "a"),
            (3, "b"),
            (2, "\\*"),
            (1, "ü"),
            (1, " "),
            (1, "\\\""),
            (1, "\\\\"),
            (1, "\\u{61}"),
            (1, "c"),
        ]),
        0..5,
    )
    .prop_map(|v| v.concat())
    .boxed()
}

fn long_lit() -> BoxedStrategy<String> {
    choice![
        10 => (-3i64..=5).prop_map(|n| n.to_string()),
        2 => pick(&[
            (2, "9223372036854775807"),
            (2, "-9223372036854775808"),
            (2, "4611686018427387904"),
            (1, "3037000500"),
            (1, "-9223372036854775807"),
            (1, "1000000000000"),
        ]),
    ]
    .boxed()
}

/// Attribute names that are valid identifiers (for `.name`), conventional ones first.
fn ident_attr(ty: Ty) -> BoxedStrategy<String> {
    choice![
        20 => Just(ty.attr().to_string()),
        3 => pick(&[(1, "n"), (1, "s"), (1, "b"), (1, "e"), (1, "r"), (1, "set"), (1, "zz")]),
    ]
    .boxed()
}

/// Attribute access on a base: `.name`, `["name"]`, or a name that needs the bracket form.
fn access(ty: Ty) -> BoxedStrategy<String> {
    choice![
        12 => ident_attr(ty).prop_map(|a| format!(".{a}")),
        2 => ident_attr(ty).prop_map(|a| format!("[{}]", quote(&a))),
        1 => pick(&[(1, "x y"), (1, ""), (1, "if"), (1, "ü")]).prop_map(|a| format!("[{}]", quote(&a))),
    ]
    .boxed()
}

/// The base of an attribute access: a variable, an entity literal or a nested entity.
fn attr_base() -> BoxedStrategy<String> {
    union(vec![
        (6, Just("principal".to_string()).boxed()),
        (5, Just("resource".to_string()).boxed()),
        (6, Just("context".to_string()).boxed()),
        (1, Just("action".to_string()).boxed()),
        (2, entity_literal()),
        (
            2,
            pick(&[
                (1, "principal.e"),
                (1, "resource.e"),
                (1, "context.e"),
                (1, "context.r"),
            ]),
        ),
    ])
}

fn attr_leaf(ty: Ty) -> BoxedStrategy<String> {
    (attr_base(), access(ty))
        .prop_map(|(b, a)| format!("{b}{a}"))
        .boxed()
}

/// Leaves of each type.
fn leaf(ty: Ty) -> BoxedStrategy<String> {
    let typed: BoxedStrategy<String> = match ty {
        Ty::Bool => pick(&[(1, "true"), (1, "false")]),
        Ty::Long => long_lit(),
        Ty::Str => choice![
            20 => string_lit().prop_map(|s| quote(&s)),
            1 => pick(&[
                (1, r#""\x41""#),
                (1, r#""\u{1F600}""#),
                (1, r#""\'""#),
                (1, r#""\0""#),
                (1, r#""\u{61}\t""#),
            ]),
        ],
        Ty::Ent => union(vec![
            (4, entity_literal()),
            (2, pick(&[(2, "principal"), (2, "resource"), (1, "action")])),
            (1, action_literal()),
        ]),
        Ty::Set => union(vec![
            (1, Just("[]".to_string()).boxed()),
            (
                2,
                prop::collection::vec(
                    choice![
                        long_lit(),
                        entity_literal(),
                        string_lit().prop_map(|s| quote(&s))
                    ],
                    1..4,
                )
                .prop_map(|v| format!("[{}]", v.join(", ")))
                .boxed(),
            ),
        ]),
        Ty::Rec => pick(&[(3, "context"), (1, "{}"), (1, "{n: 1, s: \"a\"}")]),
        Ty::Dec => decimal_lit(false)
            .prop_map(|s| format!("decimal({})", quote(&s)))
            .boxed(),
        Ty::Ip => ip_lit(false)
            .prop_map(|s| format!("ip({})", quote(&s)))
            .boxed(),
        Ty::Dt => datetime_lit(false)
            .prop_map(|s| format!("datetime({})", quote(&s)))
            .boxed(),
        Ty::Dur => duration_lit(false)
            .prop_map(|s| format!("duration({})", quote(&s)))
            .boxed(),
    };
    choice![3 => typed, 2 => attr_leaf(ty)].boxed()
}

/// Parenthesises most of the time; sometimes leaves precedence to the parsers.
fn wrap(s: BoxedStrategy<String>) -> BoxedStrategy<String> {
    wrap_p(0.85, s)
}

/// Parenthesises with probability `p`.
fn wrap_p(p: f64, s: BoxedStrategy<String>) -> BoxedStrategy<String> {
    (s, prop::bool::weighted(p))
        .prop_map(|(s, p)| if p { format!("({s})") } else { s })
        .boxed()
}

/// Memoised expression strategies, by depth and type.
pub struct Exprs {
    table: Vec<Vec<BoxedStrategy<String>>>,
}

impl Exprs {
    /// Builds the strategies up to `max_depth`.
    pub fn new(max_depth: usize) -> Self {
        let mut table: Vec<Vec<BoxedStrategy<String>>> = Vec::new();
        let mut any: Vec<BoxedStrategy<String>> = Vec::new();
        for d in 0..=max_depth {
            let row: Vec<BoxedStrategy<String>> = ALL_TYS
                .iter()
                .map(|&ty| {
                    if d == 0 {
                        leaf(ty)
                    } else {
                        let prev = &table[d - 1];
                        let prev_any = &any[d - 1];
                        choice![
                            2 => leaf(ty),
                            5 => compound(ty, prev, prev_any),
                        ]
                        .boxed()
                    }
                })
                .collect();
            any.push(union(row.iter().map(|s| (1, s.clone())).collect()));
            table.push(row);
        }
        Exprs { table }
    }

    /// An expression of (intended) type `ty` and depth at most `depth`.
    pub fn get(&self, ty: Ty, depth: usize) -> BoxedStrategy<String> {
        let d = depth.min(self.table.len() - 1);
        self.table[d][ty.index()].clone()
    }
}

/// A compound expression of type `ty` from sub-expressions one level shallower. `prev[t]` gives
/// sub-expressions of type `t`; `any` of any type.
fn compound(
    ty: Ty,
    prev: &[BoxedStrategy<String>],
    any: &BoxedStrategy<String>,
) -> BoxedStrategy<String> {
    // Operand of intended type `t`, occasionally of any type (type errors).
    let op = |t: Ty| -> BoxedStrategy<String> {
        choice![12 => prev[t.index()].clone(), 1 => any.clone()].boxed()
    };
    let b = || op(Ty::Bool);
    let l = || op(Ty::Long);
    let s = || op(Ty::Str);
    let e = || op(Ty::Ent);
    let set = || op(Ty::Set);
    let rec = || op(Ty::Rec);
    let dec = || op(Ty::Dec);
    let ip = || op(Ty::Ip);
    let dt = || op(Ty::Dt);
    let dur = || op(Ty::Dur);
    let this = || op(ty);
    let ite = wrap_p(
        0.97,
        (b(), this(), this())
            .prop_map(|(c, t, f)| format!("if {c} then {t} else {f}"))
            .boxed(),
    );
    let get_tag = wrap(
        (e(), choice![3 => Just(quote(ty.attr())), 1 => s()])
            .prop_map(|(e, t)| format!("{e}.getTag({t})"))
            .boxed(),
    );
    let member = (this_entity_or_record(prev, any), access(ty))
        .prop_map(|(b, a)| format!("{b}{a}"))
        .boxed();
    let mut arms: Vec<(u32, BoxedStrategy<String>)> = vec![(2, ite), (1, get_tag), (2, member)];
    match ty {
        Ty::Bool => {
            let eq = union(
                ALL_TYS
                    .iter()
                    .map(|&t| {
                        (
                            1,
                            (op(t), op(t), pick(&[(3, "=="), (2, "!=")]))
                                .prop_map(|(a, b, o)| format!("{a} {o} {b}"))
                                .boxed(),
                        )
                    })
                    .collect(),
            );
            let cmp_ops = || pick(&[(1, "<"), (1, "<="), (1, ">"), (1, ">=")]);
            let rel_of = |x: BoxedStrategy<String>, y: BoxedStrategy<String>| {
                (x, y, cmp_ops())
                    .prop_map(|(a, b, o)| format!("{a} {o} {b}"))
                    .boxed()
            };
            let rel = union(vec![
                (4, rel_of(l(), l())),
                (2, rel_of(dt(), dt())),
                (2, rel_of(dur(), dur())),
                (1, rel_of(any.clone(), any.clone())),
            ]);
            let has_path = choice![
                6 => ident_attr_any(),
                2 => (ident_attr_any(), ident_attr_any()).prop_map(|(a, b)| format!("{a}.{b}")),
                1 => (ident_attr_any(), ident_attr_any(), ident_attr_any()).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
                2 => pick(&[(1, "x y"), (1, ""), (1, "n"), (1, "e"), (1, "if")]).prop_map(|a| quote(&a)),
            ];
            let has_base = choice![3 => e(), 3 => rec(), 1 => any.clone()];
            let is_ty =
                choice![5 => entity_type(), 1 => action_type(), 1 => Just("Nope".to_string())];
            arms.extend(vec![
                (2, wrap(b().prop_map(|x| format!("!{x}")).boxed())),
                (3, wrap((b(), b()).prop_map(|(x, y)| format!("{x} && {y}")).boxed())),
                (3, wrap((b(), b()).prop_map(|(x, y)| format!("{x} || {y}")).boxed())),
                (4, wrap(eq)),
                (4, wrap(rel)),
                (3, wrap((e(), e()).prop_map(|(x, y)| format!("{x} in {y}")).boxed())),
                (2, wrap((e(), set()).prop_map(|(x, y)| format!("{x} in {y}")).boxed())),
                (
                    2,
                    wrap(
                        (e(), prop::collection::vec(choice![6 => e(), 1 => any.clone()], 0..4))
                            .prop_map(|(x, ys)| format!("{x} in [{}]", ys.join(", ")))
                            .boxed(),
                    ),
                ),
                (3, wrap((has_base, has_path).prop_map(|(x, p)| format!("{x} has {p}")).boxed())),
                (2, wrap((s(), like_pattern()).prop_map(|(x, p)| format!("{x} like \"{p}\"")).boxed())),
                (2, wrap((e(), is_ty.clone()).prop_map(|(x, t)| format!("{x} is {t}")).boxed())),
                (
                    2,
                    wrap(
                        (e(), is_ty, choice![3 => e(), 1 => set()])
                            .prop_map(|(x, t, y)| format!("{x} is {t} in {y}"))
                            .boxed(),
                    ),
                ),
                (2, wrap((set(), any.clone()).prop_map(|(x, y)| format!("{x}.contains({y})")).boxed())),
                (
                    2,
                    wrap(
                        (set(), set(), pick(&[(1, "containsAll"), (1, "containsAny")]))
                            .prop_map(|(x, y, m)| format!("{x}.{m}({y})"))
                            .boxed(),
                    ),
                ),
                (1, wrap(set().prop_map(|x| format!("{x}.isEmpty()")).boxed())),
                (
                    2,
                    wrap(
                        (e(), choice![3 => string_lit().prop_map(|t| quote(&t)), 2 => Just(quote("n")), 1 => s()])
                            .prop_map(|(x, t)| format!("{x}.hasTag({t})"))
                            .boxed(),
                    ),
                ),
                (
                    2,
                    wrap(
                        (
                            dec(),
                            dec(),
                            pick(&[(1, "lessThan"), (1, "lessThanOrEqual"), (1, "greaterThan"), (1, "greaterThanOrEqual")]),
                        )
                            .prop_map(|(x, y, m)| format!("{x}.{m}({y})"))
                            .boxed(),
                    ),
                ),
                (
                    2,
                    wrap(
                        (ip(), pick(&[(1, "isIpv4"), (1, "isIpv6"), (1, "isLoopback"), (1, "isMulticast")]))
                            .prop_map(|(x, m)| format!("{x}.{m}()"))
                            .boxed(),
                    ),
                ),
                (1, wrap((ip(), ip()).prop_map(|(x, y)| format!("{x}.isInRange({y})")).boxed())),
            ]);
        }
        Ty::Long => {
            let big = pick(&[
                (2, "9223372036854775807"),
                (2, "4611686018427387904"),
                (1, "(-9223372036854775807 - 1)"),
            ]);
            arms.extend(vec![
                (
                    3,
                    wrap((l(), l()).prop_map(|(x, y)| format!("{x} + {y}")).boxed()),
                ),
                (
                    3,
                    wrap((l(), l()).prop_map(|(x, y)| format!("{x} - {y}")).boxed()),
                ),
                (
                    3,
                    wrap((l(), l()).prop_map(|(x, y)| format!("{x} * {y}")).boxed()),
                ),
                (
                    4,
                    wrap(
                        (l(), big, pick(&[(2, "*"), (1, "+"), (1, "-")]))
                            .prop_map(|(x, y, o)| format!("{x} {o} {y}"))
                            .boxed(),
                    ),
                ),
                (2, wrap(l().prop_map(|x| format!("-{x}")).boxed())),
                (1, Just("-9223372036854775808".to_string()).boxed()),
                (
                    1,
                    wrap(Just("-(-9223372036854775807 - 1)".to_string()).boxed()),
                ),
                (
                    2,
                    wrap(
                        (
                            dur(),
                            pick(&[
                                (1, "toMilliseconds"),
                                (1, "toSeconds"),
                                (1, "toMinutes"),
                                (1, "toHours"),
                                (1, "toDays"),
                            ]),
                        )
                            .prop_map(|(x, m)| format!("{x}.{m}()"))
                            .boxed(),
                    ),
                ),
            ]);
        }
        Ty::Str => {}
        Ty::Ent => {}
        Ty::Set => {
            arms.push((
                4,
                prop::collection::vec(
                    choice![3 => prev[Ty::Ent.index()].clone(), 2 => any.clone(), 1 => l()],
                    0..4,
                )
                .prop_map(|v| format!("[{}]", v.join(", ")))
                .boxed(),
            ));
        }
        Ty::Rec => {
            let key = choice![
                8 => ident_attr_any(),
                1 => pick(&[(1, "x y"), (1, ""), (1, "if"), (1, "n")]).prop_map(|k| quote(&k)),
            ];
            arms.push((
                4,
                prop::collection::vec((key, any.clone()), 0..4)
                    .prop_map(|v| {
                        let fields: Vec<String> =
                            v.into_iter().map(|(k, x)| format!("{k}: {x}")).collect();
                        format!("{{{}}}", fields.join(", "))
                    })
                    .boxed(),
            ));
        }
        Ty::Dec => arms.push((2, s().prop_map(|x| format!("decimal({x})")).boxed())),
        Ty::Ip => arms.push((2, s().prop_map(|x| format!("ip({x})")).boxed())),
        Ty::Dt => {
            arms.extend(vec![
                (
                    3,
                    wrap(
                        (dt(), dur())
                            .prop_map(|(x, y)| format!("{x}.offset({y})"))
                            .boxed(),
                    ),
                ),
                (2, wrap(dt().prop_map(|x| format!("{x}.toDate()")).boxed())),
                (1, s().prop_map(|x| format!("datetime({x})")).boxed()),
            ]);
        }
        Ty::Dur => {
            arms.extend(vec![
                (
                    3,
                    wrap(
                        (dt(), dt())
                            .prop_map(|(x, y)| format!("{x}.durationSince({y})"))
                            .boxed(),
                    ),
                ),
                (2, wrap(dt().prop_map(|x| format!("{x}.toTime()")).boxed())),
                (1, s().prop_map(|x| format!("duration({x})")).boxed()),
            ]);
        }
    }
    union(arms)
}

fn ident_attr_any() -> BoxedStrategy<String> {
    pick(&[
        (2, "n"),
        (2, "s"),
        (2, "e"),
        (2, "r"),
        (1, "b"),
        (1, "set"),
        (1, "d"),
        (1, "ip"),
        (1, "t"),
        (1, "dur"),
        (1, "zz"),
    ])
}

fn this_entity_or_record(
    prev: &[BoxedStrategy<String>],
    any: &BoxedStrategy<String>,
) -> BoxedStrategy<String> {
    choice![
        4 => prev[Ty::Ent.index()].clone(),
        3 => prev[Ty::Rec.index()].clone(),
        1 => any.clone(),
    ]
    .prop_map(|x| {
        // A member access binds tighter than anything but a primary; parenthesise compound bases.
        if x.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        {
            x
        } else {
            format!("({x})")
        }
    })
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Policies

fn scope_pr(var: &'static str) -> BoxedStrategy<String> {
    union(vec![
        (10, Just(var.to_string()).boxed()),
        (
            2,
            entity_literal()
                .prop_map(move |e| format!("{var} == {e}"))
                .boxed(),
        ),
        (
            3,
            entity_literal()
                .prop_map(move |e| format!("{var} in {e}"))
                .boxed(),
        ),
        (
            3,
            entity_type()
                .prop_map(move |t| format!("{var} is {t}"))
                .boxed(),
        ),
        (
            2,
            (entity_type(), entity_literal())
                .prop_map(move |(t, e)| format!("{var} is {t} in {e}"))
                .boxed(),
        ),
        // Template slots: the policy is a template, linked by the test (see `Case::links`).
        (
            2,
            (
                pick(&[(2, "=="), (2, "in"), (1, "is User in"), (1, "is Doc in")]),
                prop::bool::weighted(0.02),
            )
                .prop_map(move |(op, other)| {
                    // Rarely the other variable's slot, which Cedar refuses there.
                    let slot = match (var, other) {
                        ("principal", false) | ("resource", true) => "?principal",
                        _ => "?resource",
                    };
                    format!("{var} {op} {slot}")
                })
                .boxed(),
        ),
    ])
}

fn scope_action() -> BoxedStrategy<String> {
    let literal = || choice![500 => action_literal(), 1 => entity_literal()];
    union(vec![
        (7, Just("action".to_string()).boxed()),
        (3, literal().prop_map(|e| format!("action == {e}")).boxed()),
        (2, literal().prop_map(|e| format!("action in {e}")).boxed()),
        (
            2,
            prop::collection::vec(literal(), 0..3)
                .prop_map(|v| format!("action in [{}]", v.join(", ")))
                .boxed(),
        ),
    ])
}

/// One policy.
pub fn policy(exprs: &Exprs, max_depth: usize) -> BoxedStrategy<String> {
    let cond = (
        pick(&[(3, "when"), (1, "unless")]),
        union(
            (0..=max_depth)
                .map(|d| (1, exprs.get(Ty::Bool, d)))
                .collect(),
        ),
    )
        .prop_map(|(k, body)| format!(" {k} {{ {body} }}"))
        .boxed();
    (
        pick(&[(3, "permit"), (1, "forbid")]),
        pick(&[(12, ""), (1, "@note(\"x\")\n"), (1, "@advice\n")]),
        scope_pr("principal"),
        scope_action(),
        scope_pr("resource"),
        choice![
            2 => Just(Vec::new()),
            2 => prop::collection::vec(cond.clone(), 1..=1),
            1 => prop::collection::vec(cond, 2..=2),
        ],
    )
        .prop_map(|(effect, ann, p, a, r, conds)| {
            format!("{ann}{effect}({p}, {a}, {r}){};", conds.concat())
        })
        .boxed()
}

/// A policy set: 1–6 policies.
pub fn policy_set(exprs: &Exprs, max_depth: usize) -> BoxedStrategy<String> {
    let separator = pick(&[
        (12, "\n"),
        (1, "\n// a comment; with \"quotes\" and */\n"),
        (1, " "),
    ]);
    prop::collection::vec((policy(exprs, max_depth), separator), 1..=6)
        .prop_map(|v| v.into_iter().map(|(p, sep)| p + &sep).collect::<String>())
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// JSON values

/// Memoised JSON value strategies, by depth and conventional type.
#[derive(Clone)]
pub struct JsonGen {
    typed: Vec<Vec<BoxedStrategy<J>>>,
    any: Vec<BoxedStrategy<J>>,
    /// Objects near Cedar's escapes: some are escapes, some records, some errors.
    odd: BoxedStrategy<J>,
    valid_only: bool,
}

impl JsonGen {
    /// Builds the strategies up to `max_depth` (of nested sets and records). With `valid_only`,
    /// extension values are always well-formed.
    pub fn new(max_depth: usize, valid_only: bool) -> Self {
        let mut g = JsonGen {
            typed: Vec::new(),
            any: Vec::new(),
            odd: Just(J::Null).boxed(),
            valid_only,
        };
        for d in 0..=max_depth {
            let row: Vec<BoxedStrategy<J>> = ALL_TYS.iter().map(|&t| g.build(t, d)).collect();
            g.any
                .push(union(row.iter().map(|s| (1, s.clone())).collect()));
            g.typed.push(row);
            if d == 0 {
                // Records of depth 1 and more hold odd values, made of depth-0 values.
                g.odd = g.odd_values();
            }
        }
        g
    }

    /// Objects shaped like Cedar's escapes, or nearly: extra fields inside or beside them,
    /// missing parts, functions called with several arguments and methods, which return values
    /// of any type.
    fn odd_values(&self) -> BoxedStrategy<J> {
        let flat = &self.typed[0];
        let v = |t: Ty| flat[t.index()].clone();
        let uid = (entity_type(), entity_id());
        let extn_method = union(vec![
            (
                2,
                (
                    v(Ty::Dec),
                    v(Ty::Dec),
                    pick(&[(1, "lessThan"), (1, "greaterThanOrEqual")]),
                )
                    .prop_map(|(a, b, f)| json!({"__extn": {"fn": f, "args": [a, b]}}))
                    .boxed(),
            ),
            (
                2,
                (v(Ty::Dt), pick(&[(1, "toTime"), (1, "toDate")]))
                    .prop_map(|(a, f)| json!({"__extn": {"fn": f, "args": [a]}}))
                    .boxed(),
            ),
            (
                1,
                (v(Ty::Dt), v(Ty::Dur))
                    .prop_map(|(a, b)| json!({"__extn": {"fn": "offset", "args": [a, b]}}))
                    .boxed(),
            ),
            (
                1,
                (v(Ty::Dur), pick(&[(1, "toDays"), (1, "toMilliseconds")]))
                    .prop_map(|(a, f)| json!({"__extn": {"fn": f, "arg": a}}))
                    .boxed(),
            ),
            (
                1,
                v(Ty::Ip)
                    .prop_map(|a| json!({"__extn": {"fn": "isLoopback", "args": [a]}}))
                    .boxed(),
            ),
            (
                1,
                decimal_lit(true)
                    .prop_map(|a| json!({"__extn": {"fn": "decimal", "args": [a]}}))
                    .boxed(),
            ),
            (
                1,
                decimal_lit(true)
                    .prop_map(|a| json!({"__extn": {"fn": "decimal", "arg": a, "args": ["1.0"]}}))
                    .boxed(),
            ),
        ]);
        let near = union(vec![
            (
                2,
                uid.clone()
                    .prop_map(|(t, i)| json!({"__entity": {"type": t, "id": i, "extra": 1}}))
                    .boxed(),
            ),
            (
                2,
                uid.clone()
                    .prop_map(|(t, i)| json!({"__entity": {"type": t, "id": i}, "extra": 1}))
                    .boxed(),
            ),
            (
                1,
                uid.clone()
                    .prop_map(|(t, i)| json!({"__entity": {"__entity": {"type": t, "id": i}}}))
                    .boxed(),
            ),
            (
                1,
                entity_type()
                    .prop_map(|t| json!({"__entity": {"type": t}}))
                    .boxed(),
            ),
            (1, Just(json!({"__entity": {}})).boxed()),
            (
                1,
                uid.prop_map(|(t, i)| json!({"type": t, "id": i})).boxed(),
            ),
            (1, Just(json!({"__extn": {"fn": "decimal"}})).boxed()),
            (
                1,
                Just(json!({"__extn": {"fn": "decimal", "arg": "1.0"}, "x": 1})).boxed(),
            ),
            (1, Just(json!({"__extn": {"fn": 1, "arg": "1.0"}})).boxed()),
            (
                1,
                Just(json!({"__extn": {"fn": "decimal", "args": "1.0"}})).boxed(),
            ),
        ]);
        let errors: BoxedStrategy<J> = if self.valid_only {
            near.clone()
        } else {
            union(vec![
                (1, Just(json!({"__expr": "1 + 1"})).boxed()),
                (
                    1,
                    Just(json!({"__extn": {"fn": "nope", "arg": "1"}})).boxed(),
                ),
                (
                    1,
                    Just(json!({"__extn": {"fn": "decimal", "arg": ["1.0"]}})).boxed(),
                ),
                (
                    1,
                    Just(json!({"__extn": {"fn": "toDays", "args": []}})).boxed(),
                ),
                (
                    1,
                    Just(json!({"__entity": {"type": "if", "id": "a"}})).boxed(),
                ),
                (
                    1,
                    Just(json!({"__entity": {"type": "NS::__cedar", "id": "a"}})).boxed(),
                ),
            ])
        };
        choice![4 => extn_method, 4 => near, 1 => errors]
    }

    fn build(&self, ty: Ty, depth: usize) -> BoxedStrategy<J> {
        let valid_only = self.valid_only;
        let extn = |f: &'static str, arg: BoxedStrategy<String>| -> BoxedStrategy<J> {
            arg.prop_map(move |a| json!({"__extn": {"fn": f, "arg": a}}))
                .boxed()
        };
        let uid = |t: BoxedStrategy<String>, i: BoxedStrategy<String>| -> BoxedStrategy<J> {
            (t, i)
                .prop_map(|(t, i)| json!({"__entity": {"type": t, "id": i}}))
                .boxed()
        };
        match ty {
            Ty::Bool => any::<bool>().prop_map(J::Bool).boxed(),
            Ty::Long => choice![
                10 => (-3i64..=5).prop_map(|n| json!(n)),
                1 => prop::sample::select(vec![i64::MAX, i64::MIN, i64::MAX / 2 + 1, -1_000_000_000_000])
                    .prop_map(|n| json!(n)),
            ],
            Ty::Str => string_lit().prop_map(J::String).boxed(),
            Ty::Ent => choice![
                4 => uid(entity_type(), entity_id()),
                1 => uid(action_type(), action_id()),
            ],
            Ty::Set => {
                let flat = |t: Ty| self.build(t, 0);
                let elem = if depth == 0 {
                    choice![flat(Ty::Long), flat(Ty::Str), flat(Ty::Ent)]
                } else {
                    choice![
                        3 => flat(Ty::Ent),
                        2 => flat(Ty::Long),
                        2 => flat(Ty::Str),
                        1 => self.any[depth - 1].clone(),
                    ]
                };
                prop::collection::vec(elem, 0..4).prop_map(J::Array).boxed()
            }
            Ty::Rec => {
                if depth == 0 {
                    Just(json!({})).boxed()
                } else {
                    self.record(depth - 1, 0..4)
                }
            }
            Ty::Dec => extn("decimal", decimal_lit(valid_only)),
            Ty::Ip => extn("ip", ip_lit(valid_only)),
            Ty::Dt => extn("datetime", datetime_lit(valid_only)),
            Ty::Dur => extn("duration", duration_lit(valid_only)),
        }
    }

    /// A record of attributes with values of depth at most `depth`: conventional names with
    /// mostly conventional types, and a few odd names.
    pub fn record(&self, depth: usize, size: std::ops::Range<usize>) -> BoxedStrategy<J> {
        let d = depth.min(self.typed.len() - 1);
        let any = self.any[d].clone();
        let field = union(
            ALL_TYS
                .iter()
                .map(|&t| {
                    let value = choice![12 => self.typed[d][t.index()].clone(), 1 => any.clone()];
                    (1, (Just(t.attr().to_string()), value).boxed())
                })
                .collect(),
        );
        let odd_value = choice![3 => any, 2 => self.odd.clone()];
        let odd_field = (
            pick(&[(1, "x y"), (1, ""), (1, "if"), (1, "zz")]),
            odd_value,
        );
        prop::collection::vec(choice![10 => field, 1 => odd_field], size)
            .prop_map(|fields| J::Object(fields.into_iter().collect()))
            .boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Entities and requests

/// Where an entity's parent points.
#[derive(Clone, Debug)]
pub enum ParentRef {
    /// An earlier entity in the list (keeps the graph acyclic).
    Earlier(Index),
    /// An entity that is never defined.
    Ghost(String),
    /// Any entity of the list, earlier or later: may close a cycle (both engines must reject).
    AnyInList(Index),
}

/// The action type in the namespace of entity type `t`.
fn action_of(t: &str) -> String {
    match t.rsplit_once("::") {
        Some((ns, _)) => format!("{ns}::Action"),
        None => "Action".to_string(),
    }
}

/// One generated entity.
#[derive(Clone, Debug)]
pub struct EntitySpec {
    pub ty: String,
    pub id: String,
    pub parents: Vec<ParentRef>,
    pub attrs: J,
    pub tags: Option<J>,
    /// How uids are written in this entity (see `uid_json`).
    pub uid_form: u8,
}

fn entity_spec(json: &JsonGen) -> BoxedStrategy<EntitySpec> {
    let valid_only = json.valid_only;
    let parent = choice![
        30 => any::<Index>().prop_map(ParentRef::Earlier),
        3 => entity_type().prop_map(ParentRef::Ghost),
        if valid_only { 0 } else { 1 } => any::<Index>().prop_map(ParentRef::AnyInList),
    ];
    let uid = choice![
        6 => (entity_type(), entity_id()),
        1 => (action_type(), action_id()),
    ];
    (
        uid,
        prop::collection::vec(parent, 0..3),
        json.record(2, 0..6),
        prop::option::weighted(0.3, json.record(1, 0..3)),
        uid_form(),
    )
        .prop_map(|((ty, id), parents, attrs, tags, uid_form)| EntitySpec {
            ty,
            id,
            parents,
            attrs,
            tags,
            uid_form,
        })
        .boxed()
}

/// A reference to a request component: an entity of the store, or any uid from the pools.
#[derive(Clone, Debug)]
pub enum ReqRef {
    /// The entity at this index of the store (if the store is empty, a pool uid).
    Stored(Index, String, String),
    /// A uid from the pools (it may or may not exist).
    Pool(String, String),
}

/// One generated request.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub principal: ReqRef,
    pub action: ReqRef,
    pub resource: ReqRef,
    pub context: J,
    /// How uids are written in this request (see `uid_json`).
    pub uid_form: u8,
}

fn req_ref(action: bool) -> BoxedStrategy<ReqRef> {
    let pool = if action {
        (action_type(), action_id()).boxed()
    } else {
        (entity_type(), entity_id()).boxed()
    };
    choice![
        3 => (any::<Index>(), pool.clone()).prop_map(|(i, (t, id))| ReqRef::Stored(i, t, id)),
        2 => pool.prop_map(|(t, id)| ReqRef::Pool(t, id)),
    ]
    .boxed()
}

/// Mostly `{"type", "id"}`; sometimes with an extra field, or inside `__entity`.
fn uid_form() -> BoxedStrategy<u8> {
    choice![20 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)]
}

/// A uid in entity or request JSON, in form `form` (see `uid_form`).
fn uid_json(ty: &str, id: &str, form: u8) -> J {
    match form {
        1 => json!({"type": ty, "id": id, "extra": 1}),
        2 => json!({"__entity": {"type": ty, "id": id}}),
        _ => json!({"type": ty, "id": id}),
    }
}

fn request_spec(json: &JsonGen) -> BoxedStrategy<RequestSpec> {
    (
        req_ref(false),
        req_ref(true),
        req_ref(false),
        choice![
            200 => json.record(2, 0..7),
            1 => json.odd.clone(),
            1 => Just(json!({"__entity": {"type": "User", "id": "a"}})),
        ],
        uid_form(),
    )
        .prop_map(
            |(principal, action, resource, context, uid_form)| RequestSpec {
                principal,
                action,
                resource,
                context,
                uid_form,
            },
        )
        .boxed()
}

/// A whole case: a policy set, an entity list, and requests against them.
#[derive(Clone)]
pub struct Case {
    pub policies: String,
    pub entities: String,
    pub requests: Vec<J>,
    /// The values of `?principal` and `?resource` every template is linked with.
    pub links: [J; 2],
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "\n--- policies ---\n{}", self.policies)?;
        writeln!(f, "--- entities ---\n{}", self.entities)?;
        for r in &self.requests {
            writeln!(f, "--- request ---\n{r}")?;
        }
        if self.policies.contains('?') {
            writeln!(
                f,
                "--- templates linked with ---\n{} {}",
                self.links[0], self.links[1]
            )?;
        }
        Ok(())
    }
}

fn render(
    entities: Vec<EntitySpec>,
    requests: Vec<RequestSpec>,
    links: (ReqRef, ReqRef),
    policies: String,
) -> Case {
    // Drop duplicate uids (keeping the first), so that the store loads.
    let mut seen = std::collections::HashSet::new();
    let entities: Vec<EntitySpec> = entities
        .into_iter()
        .filter(|e| seen.insert((e.ty.clone(), e.id.clone())))
        .collect();
    let mut arr = Vec::new();
    for (pos, e) in entities.iter().enumerate() {
        let uid_json = |t: &str, i: &str| uid_json(t, i, e.uid_form);
        let mut parents = Vec::new();
        for p in &e.parents {
            match p {
                ParentRef::Earlier(ix) => {
                    // An action's parents must be actions (the other case is in `AnyInList`).
                    let is_action = ACTION_TYPES.contains(&e.ty.as_str());
                    let earlier: Vec<&EntitySpec> = entities[..pos]
                        .iter()
                        .filter(|q| !is_action || ACTION_TYPES.contains(&q.ty.as_str()))
                        .collect();
                    if !earlier.is_empty() {
                        let q = earlier[ix.index(earlier.len())];
                        parents.push(uid_json(&q.ty, &q.id));
                    }
                }
                ParentRef::Ghost(t) if ACTION_TYPES.contains(&e.ty.as_str()) => {
                    parents.push(uid_json(&action_of(t), GHOST));
                }
                ParentRef::Ghost(t) => parents.push(uid_json(t, GHOST)),
                ParentRef::AnyInList(ix) => {
                    let q = &entities[ix.index(entities.len())];
                    parents.push(uid_json(&q.ty, &q.id));
                }
            }
        }
        let mut obj = serde_json::Map::new();
        obj.insert("uid".into(), uid_json(&e.ty, &e.id));
        obj.insert("attrs".into(), e.attrs.clone());
        obj.insert("parents".into(), J::Array(parents));
        if let Some(t) = &e.tags {
            obj.insert("tags".into(), t.clone());
        }
        arr.push(J::Object(obj));
    }
    let resolve = |r: &ReqRef, action: bool, form: u8| -> J {
        match r {
            ReqRef::Stored(ix, t, id) => {
                let candidates: Vec<&EntitySpec> = entities
                    .iter()
                    .filter(|e| ACTION_TYPES.contains(&e.ty.as_str()) == action)
                    .collect();
                if candidates.is_empty() {
                    uid_json(t, id, form)
                } else {
                    let e = candidates[ix.index(candidates.len())];
                    uid_json(&e.ty, &e.id, form)
                }
            }
            ReqRef::Pool(t, id) => uid_json(t, id, form),
        }
    };
    let requests = requests
        .iter()
        .map(|r| {
            json!({
                "principal": resolve(&r.principal, false, r.uid_form),
                "action": resolve(&r.action, true, r.uid_form),
                "resource": resolve(&r.resource, false, r.uid_form),
                "context": r.context,
            })
        })
        .collect();
    Case {
        policies,
        entities: J::Array(arr).to_string(),
        requests,
        links: [resolve(&links.0, false, 0), resolve(&links.1, false, 0)],
    }
}

/// The strategy for whole untyped cases.
pub fn case(max_depth: usize) -> BoxedStrategy<Case> {
    let exprs = Exprs::new(max_depth);
    let pset = policy_set(&exprs, max_depth);
    // One case in ten may hold invalid JSON data (bad extension literals, cycles).
    let data = |valid_only: bool| {
        let json = JsonGen::new(2, valid_only);
        (
            prop::collection::vec(entity_spec(&json), 0..=15),
            prop::collection::vec(request_spec(&json), 1..=4),
            (req_ref(false), req_ref(false)),
        )
    };
    (choice![9 => data(true), 1 => data(false)], pset)
        .prop_map(|((e, r, l), p)| render(e, r, l, p))
        .boxed()
}
