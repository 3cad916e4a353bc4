//! The abstract syntax tree of Mandate files: Cedar policies and templates plus Mandate's `quota`
//! declarations. Every node carries a `Span`; spans never affect equality (see `span`).
//!
//! INVARIANT: a tree built by the parser never nests deeper than `Limits::max_nesting_depth`:
//! the grammar actions replace anything deeper with `ExprKind::Error` and report it. Chains of one
//! operator (`a && b && c`, `a + b - c`, `a.b.c()`) are single n-ary nodes, so their length is
//! not depth.

use crate::span::Span;
use smol_str::SmolStr;

/// A parsed file: policies, templates and quotas in source order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct File {
    /// The statements in source order.
    pub statements: Vec<Statement>,
}

/// One `permit`, `forbid` or `quota` statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The id: `@id("…")` when present, otherwise `policyN` / `quotaN` by position.
    pub id: SmolStr,
    /// Whether `id` came from the position rather than an `@id` annotation.
    pub positional_id: bool,
    /// Annotations in source order (`@id` included).
    pub annotations: Vec<Annotation>,
    /// Policy or quota.
    pub kind: StatementKind,
    /// The principal part of the scope.
    pub principal: ScopeConstraint,
    /// The action part of the scope.
    pub action: ActionConstraint,
    /// The resource part of the scope.
    pub resource: ScopeConstraint,
    /// `when` / `unless` clauses in order.
    pub conditions: Vec<Condition>,
    /// The whole statement, annotations included, up to and including `;`.
    pub span: Span,
}

impl Statement {
    /// Whether this is a template (it has a `?principal` or `?resource` slot).
    pub fn is_template(&self) -> bool {
        self.principal.slot().is_some() || self.resource.slot().is_some()
    }
    /// The value of annotation `key`, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value.as_deref().unwrap_or(""))
    }
    /// The policy effect, or `None` for a quota.
    pub fn effect(&self) -> Option<Effect> {
        match &self.kind {
            StatementKind::Policy(e) => Some(*e),
            StatementKind::Quota(_) => None,
        }
    }
}

/// `@key("value")` or `@key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// The key.
    pub key: SmolStr,
    /// The value, unescaped.
    pub value: Option<SmolStr>,
    /// Where.
    pub span: Span,
}

/// What a statement is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatementKind {
    /// A Cedar policy.
    Policy(Effect),
    /// A Mandate quota declaration.
    Quota(QuotaSpec),
}

/// `permit` or `forbid`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// `permit`
    Permit,
    /// `forbid`
    Forbid,
}

impl Effect {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        }
    }
}

/// The clauses of a quota: `limit N per D [by E] [cost E]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaSpec {
    /// Units per window, at least 1.
    pub limit: u64,
    /// Window length.
    pub per: DurationLit,
    /// Bucket expression; `None` means `principal`.
    pub by: Option<Expr>,
    /// Cost expression; `None` means 1.
    pub cost: Option<Expr>,
}

/// A duration literal such as `1h30m`, kept with its text for faithful formatting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurationLit {
    /// Milliseconds, positive.
    pub millis: u64,
    /// The source text, e.g. `1h30m`.
    pub text: SmolStr,
    /// Where.
    pub span: Span,
}

/// `when { … }` or `unless { … }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// Which.
    pub kind: ConditionKind,
    /// The body.
    pub body: Expr,
    /// The whole clause.
    pub span: Span,
}

/// `when` or `unless`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionKind {
    /// `when`
    When,
    /// `unless`
    Unless,
}

impl ConditionKind {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionKind::When => "when",
            ConditionKind::Unless => "unless",
        }
    }
}

/// A template slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlotId {
    /// `?principal`
    Principal,
    /// `?resource`
    Resource,
}

impl SlotId {
    /// `?principal` or `?resource`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotId::Principal => "?principal",
            SlotId::Resource => "?resource",
        }
    }
}

/// An entity in a scope: a literal UID or a template slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntityRef {
    /// `Type::"id"`
    Uid(EntityUid),
    /// `?principal` / `?resource`
    Slot(SlotId, Span),
}

/// The principal or resource part of a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopeConstraint {
    /// No constraint.
    Any,
    /// `== E`
    Eq(EntityRef),
    /// `in E`
    In(EntityRef),
    /// `is T`
    Is(Name),
    /// `is T in E`
    IsIn(Name, EntityRef),
}

impl ScopeConstraint {
    /// The slot used, if any.
    pub fn slot(&self) -> Option<SlotId> {
        match self {
            ScopeConstraint::Eq(EntityRef::Slot(s, _))
            | ScopeConstraint::In(EntityRef::Slot(s, _))
            | ScopeConstraint::IsIn(_, EntityRef::Slot(s, _)) => Some(*s),
            _ => None,
        }
    }
}

/// The action part of a scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionConstraint {
    /// No constraint.
    Any,
    /// `== A`
    Eq(EntityUid),
    /// `in A`
    In(EntityUid),
    /// `in [A, B]`
    InList(Vec<EntityUid>),
}

/// A possibly namespaced name such as `Platform::Agent` (a type or a function).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    /// The full text with `::` separators.
    pub full: SmolStr,
    /// Where.
    pub span: Span,
}

impl Name {
    /// The last component.
    pub fn basename(&self) -> &str {
        self.full.rsplit("::").next().unwrap_or(&self.full)
    }
    /// Everything before the last `::`, or `""`.
    pub fn namespace(&self) -> &str {
        self.full.rsplit_once("::").map_or("", |(ns, _)| ns)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full)
    }
}

/// `Type::"id"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityUid {
    /// The entity type.
    pub ty: Name,
    /// The id, unescaped.
    pub id: SmolStr,
    /// Where.
    pub span: Span,
}

impl std::fmt::Display for EntityUid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::\"{}\"", self.ty, escape_str(&self.id))
    }
}

/// Escapes a string for Cedar source (inside double quotes).
pub fn escape_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional-control characters (Trojan Source), always escaped when printed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The four request variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Var {
    /// `principal`
    Principal,
    /// `action`
    Action,
    /// `resource`
    Resource,
    /// `context`
    Context,
}

impl Var {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Var::Principal => "principal",
            Var::Action => "action",
            Var::Resource => "resource",
            Var::Context => "context",
        }
    }
    /// Parses a variable name.
    pub fn from_name(s: &str) -> Option<Var> {
        Some(match s {
            "principal" => Var::Principal,
            "action" => Var::Action,
            "resource" => Var::Resource,
            "context" => Var::Context,
            _ => return None,
        })
    }
}

/// A literal value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Literal {
    /// `true` / `false`
    Bool(bool),
    /// A 64-bit signed integer.
    Long(i64),
    /// A string, unescaped.
    String(SmolStr),
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Comparison and membership operators (Cedar's relations; non-associative).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
}

impl CmpOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::NotEq => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::In => "in",
        }
    }
}

/// `+` or `-`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddOp {
    /// `+`
    Add,
    /// `-`
    Sub,
}

/// One element of a `like` pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PatternElem {
    /// `*`
    Wildcard,
    /// A literal character (including an escaped `\*`).
    Char(char),
}

/// One step of a member chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// `.attr` or `["attr"]`
    Attr(SmolStr, Span),
    /// `.method(args)`
    Method(SmolStr, Vec<Expr>, Span),
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// A literal.
    Lit(Literal),
    /// A request variable.
    Var(Var),
    /// A template slot (only in scopes; kept here for completeness of the tree).
    Slot(SlotId),
    /// `Type::"id"`
    Entity(EntityUid),
    /// `if c then a else b`
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a && b && …` (two or more operands)
    And(Vec<Expr>),
    /// `a || b || …` (two or more operands)
    Or(Vec<Expr>),
    /// `!e`
    Not(Box<Expr>),
    /// `-e` (a `-` directly before an integer literal is folded into the literal)
    Neg(Box<Expr>),
    /// `a op b`
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `a + b - c …`
    Add(Box<Expr>, Vec<(AddOp, Expr)>),
    /// `a * b * …` (two or more operands)
    Mul(Vec<Expr>),
    /// `e has a.b.c` / `e has "a"`
    Has(Box<Expr>, Vec<SmolStr>),
    /// `e like "pat*"`
    Like(Box<Expr>, Vec<PatternElem>),
    /// `e is T` / `e is T in f`
    Is(Box<Expr>, Name, Option<Box<Expr>>),
    /// `e.a.b(…)["c"]…` (at least one access)
    Member(Box<Expr>, Vec<Access>),
    /// `f(args)`, an extension function call
    Call(Name, Vec<Expr>),
    /// `[a, b]`
    Set(Vec<Expr>),
    /// `{a: 1, "b": 2}`
    Record(Vec<(SmolStr, Expr)>),
    /// Placeholder for a part that failed to parse (never on the authorization path).
    Error,
}

/// Extension functions Cedar defines, called as `f(args)`: name and arity.
pub const FUNCTIONS: &[(&str, usize)] =
    &[("decimal", 1), ("ip", 1), ("datetime", 1), ("duration", 1)];

/// Methods Cedar defines, called as `e.m(args)`: name and number of arguments besides the receiver.
pub const METHODS: &[(&str, usize)] = &[
    ("contains", 1),
    ("containsAll", 1),
    ("containsAny", 1),
    ("isEmpty", 0),
    ("getTag", 1),
    ("hasTag", 1),
    ("lessThan", 1),
    ("lessThanOrEqual", 1),
    ("greaterThan", 1),
    ("greaterThanOrEqual", 1),
    ("isIpv4", 0),
    ("isIpv6", 0),
    ("isLoopback", 0),
    ("isMulticast", 0),
    ("isInRange", 1),
    ("offset", 1),
    ("durationSince", 1),
    ("toDate", 0),
    ("toTime", 0),
    ("toMilliseconds", 0),
    ("toSeconds", 0),
    ("toMinutes", 0),
    ("toHours", 0),
    ("toDays", 0),
];

/// Whether `s` can be written as a bare identifier (else it needs quotes).
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
        && !is_reserved(s)
}

/// Words Cedar reserves: never identifiers.
pub fn is_reserved(s: &str) -> bool {
    matches!(
        s,
        "true" | "false" | "if" | "then" | "else" | "in" | "is" | "like" | "has" | "__cedar"
    )
}
