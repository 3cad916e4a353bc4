//! The policy validator: Cedar's strict validation (cedar-policy 4.x, `ValidationMode::Strict`)
//! of policies, templates and Mandate's quotas against a [`Schema`].
//!
//! A statement is valid when
//!
//! - every entity type it names is declared (or is an action type), every action it names is
//!   declared, and every literal of an enumerated entity type uses a declared id;
//! - some action the scope allows applies to some principal type and resource type the scope
//!   allows (`appliesTo`);
//! - its condition (scope and clauses, as Cedar combines them) type-checks as a `Bool` in every
//!   *request environment*: each (principal type, action, resource type) of the schema's
//!   `appliesTo` lists, with the action's context type, and for templates each entity type a slot
//!   could be linked to. Parts that never run in an environment are not checked there: the
//!   checker gives `true` and `false` singleton types and short-circuits `&&`, `||` and `if`, so
//!   `principal is User && principal.name == "a"` reads `name` only where the principal is a
//!   `User`.
//!
//! For a quota, `by` must be an entity or a `String` and `cost` a `Long`, checked where the
//! quota's conditions can hold, with the attributes those conditions test for.
//!
//! The rules, their order and their corner cases follow Cedar's validator (cedar-policy-core
//! `validator/typecheck.rs`, `validator/types.rs`, `validator/rbac.rs`) and are measured against
//! Cedar's conformance corpus (`tests/validate_conformance.rs`).
//!
//! # Diagnostics
//!
//! | code | severity | meaning |
//! |---|---|---|
//! | `MD0100` | error | unknown entity type (did-you-mean among the schema's entity types) |
//! | `MD0101` | error | unknown action (did-you-mean among the schema's actions) |
//! | `MD0102` | error | entity id not among the values of an enumerated entity type |
//! | `MD0103` | error | no action in the schema applies to what the scope allows |
//! | `MD0104` | error | operand of the wrong type (`expected Long, found String`) |
//! | `MD0105` | error | incompatible types: `==`, `contains`, set elements, `if` branches, tag types |
//! | `MD0106` | error | attribute not found on an entity type or record (did-you-mean) |
//! | `MD0107` | error | optional attribute read without a `has` guard |
//! | `MD0108` | error | empty set literal `[]` (its element type cannot be known) |
//! | `MD0109` | error | extension function or method called with the wrong number of arguments |
//! | `MD0110` | error | extension constructor (`decimal`, `ip`, `datetime`, `duration`) argument not a literal |
//! | `MD0111` | error | extension constructor argument that does not parse (`decimal("1.23456")`) |
//! | `MD0112` | error | `getTag` without a `hasTag` guard |
//! | `MD0113` | error | `getTag` on an entity type without tags |
//! | `MD0114` | error | unknown extension function |
//! | `MD0115` | error | quota `by` neither an entity nor a `String` |
//! | `MD0116` | error | quota `cost` not a `Long` |
//! | `MD0117` | error | statement too large to validate within the work limit |
//! | `MD0118` | warning | the statement can never apply (its condition is `false` in every environment) |

mod check;
mod core;
mod ext;
mod index;
mod scope;
mod types;

use std::collections::BTreeSet;

use mandate_syntax::Diagnostic;
use mandate_syntax::ast::{EntityRef, ScopeConstraint, Statement, StatementKind};
use smol_str::SmolStr;

use crate::schema::Schema;
use check::Checker;
use index::{Env, Index};

/// The diagnostic codes of the validator.
pub mod codes {
    /// Unknown entity type.
    pub const UNKNOWN_ENTITY_TYPE: &str = "MD0100";
    /// Unknown action.
    pub const UNKNOWN_ACTION: &str = "MD0101";
    /// Id outside an enumerated entity type.
    pub const INVALID_ENUM_ID: &str = "MD0102";
    /// No action applies to the scope.
    pub const NO_APPLICABLE_ACTION: &str = "MD0103";
    /// Operand of the wrong type.
    pub const UNEXPECTED_TYPE: &str = "MD0104";
    /// Types without a least upper bound.
    pub const INCOMPATIBLE_TYPES: &str = "MD0105";
    /// Attribute not found.
    pub const UNKNOWN_ATTRIBUTE: &str = "MD0106";
    /// Optional attribute read without a guard.
    pub const OPTIONAL_ATTRIBUTE: &str = "MD0107";
    /// Empty set literal.
    pub const EMPTY_SET: &str = "MD0108";
    /// Wrong number of arguments to an extension function.
    pub const WRONG_ARGUMENT_COUNT: &str = "MD0109";
    /// Non-literal extension constructor argument.
    pub const NON_LITERAL_EXTENSION: &str = "MD0110";
    /// Invalid extension literal.
    pub const INVALID_EXTENSION_LITERAL: &str = "MD0111";
    /// `getTag` without `hasTag`.
    pub const UNSAFE_TAG: &str = "MD0112";
    /// `getTag` on a type without tags.
    pub const NO_TAGS: &str = "MD0113";
    /// Unknown extension function.
    pub const UNKNOWN_FUNCTION: &str = "MD0114";
    /// Quota `by` of the wrong type.
    pub const QUOTA_BY: &str = "MD0115";
    /// Quota `cost` of the wrong type.
    pub const QUOTA_COST: &str = "MD0116";
    /// Work limit exceeded.
    pub const TOO_COMPLEX: &str = "MD0117";
    /// The statement can never apply (warning).
    pub const IMPOSSIBLE: &str = "MD0118";
}

/// What validation found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValidationResult {
    /// Errors and warnings, each labelled with spans into the source of its statement, in
    /// statement order and, within a statement, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl ValidationResult {
    /// Whether no diagnostic is an error (warnings allowed), as Cedar's `validation_passed`.
    pub fn passed(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

/// Validates statements against a schema in Cedar's strict mode. See the [module
/// documentation](self).
pub fn validate(schema: &Schema, statements: &[Statement]) -> ValidationResult {
    let index = Index::new(schema);
    let mut diagnostics = Vec::new();
    for s in statements {
        diagnostics.extend(validate_statement(&index, s));
    }
    ValidationResult { diagnostics }
}

/// Validates statements against a schema in Cedar's strict mode and returns every error and
/// warning (see [`validate`]).
pub fn validate_policies(schema: &Schema, statements: &[Statement]) -> Vec<Diagnostic> {
    validate(schema, statements).diagnostics
}

fn validate_statement(index: &Index, s: &Statement) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    scope::check_names(index, s, &mut out);
    let no_application = scope::check_application(index, s, &mut out);
    let mut typed = Vec::new();
    let impossible = typecheck_statement(index, s, &mut typed);
    out.extend(typed);
    if impossible && !no_application && !out.iter().any(Diagnostic::is_error) {
        let what = match s.kind {
            StatementKind::Policy(_) => "policy",
            StatementKind::Quota(_) => "quota",
        };
        out.push(
            Diagnostic::warning(
                codes::IMPOSSIBLE,
                format!("this {what} can never apply: its condition is false for every request the schema allows"),
            )
            .with_label(s.span, "")
            .with_help("check the scope and conditions against the schema's entity types and `appliesTo`"),
        );
    }
    dedup(out)
}

/// Removes repeated diagnostics (the same error found in several environments) and orders the
/// rest by position.
fn dedup(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen: BTreeSet<(&'static str, u32, u32, String)> = BTreeSet::new();
    let mut out: Vec<Diagnostic> = Vec::new();
    for d in diags {
        let (start, end) = d.span().map_or((0, 0), |s| (s.start, s.end));
        if seen.insert((d.code, start, end, d.message.clone())) {
            out.push(d);
        }
    }
    out.sort_by_key(|d| d.span().map_or((0, 0), |s| (s.start, s.end)));
    out
}

/// The entity types a slot may be linked to in an environment whose variable has type `var`
/// (Cedar's `possible_slot_links`), or `[None]` when the constraint has no slot.
fn slot_links<'i>(
    index: &'i Index,
    c: &ScopeConstraint,
    var: &'i SmolStr,
) -> Vec<Option<&'i SmolStr>> {
    match c {
        ScopeConstraint::Eq(EntityRef::Slot(..)) => vec![Some(var)],
        ScopeConstraint::In(EntityRef::Slot(..))
        | ScopeConstraint::IsIn(_, EntityRef::Slot(..)) => {
            let mut out: Vec<Option<&SmolStr>> = index
                .entities
                .iter()
                .filter(|(_, e)| e.descendants.contains(var))
                .map(|(name, _)| Some(name))
                .collect();
            out.push(Some(var));
            out
        }
        _ => vec![None],
    }
}

/// Type-checks a statement in every environment. Returns whether its condition is `false` in
/// all of them.
fn typecheck_statement(index: &Index, s: &Statement, out: &mut Vec<Diagnostic>) -> bool {
    let conds = core::statement_conditions(s);
    let (by, cost) = match &s.kind {
        StatementKind::Quota(q) => (
            q.by.as_ref().map(core::lower),
            q.cost.as_ref().map(core::lower),
        ),
        StatementKind::Policy(_) => (None, None),
    };
    let mut budget = check::WORK_BUDGET;
    let mut all_false = true;
    for env in &index.envs {
        for p_slot in slot_links(index, &s.principal, &env.principal) {
            for r_slot in slot_links(index, &s.resource, &env.resource) {
                let mut checker = Checker::new(index, env, p_slot, r_slot, budget);
                let answer = checker.conditions(&conds);
                if !answer.ty.as_ref().is_some_and(types::Type::is_false) {
                    all_false = false;
                    if by.is_some() || cost.is_some() {
                        let caps = if answer.ok {
                            answer.caps
                        } else {
                            Default::default()
                        };
                        checker.quota(&caps, by.as_ref(), cost.as_ref());
                    }
                }
                budget = checker.budget;
                let note = env_note(env, p_slot, r_slot);
                out.extend(
                    checker
                        .errors
                        .into_iter()
                        .map(|d| d.with_note(note.clone())),
                );
                if budget == 0 {
                    out.push(
                        Diagnostic::error(
                            codes::TOO_COMPLEX,
                            "this statement is too large to validate",
                        )
                        .with_label(s.span, "")
                        .with_help("split it into smaller statements"),
                    );
                    return false;
                }
            }
        }
    }
    all_false
}

/// The candidate closest to `word`: `suggest`'s edit-distance choice, or else a candidate that
/// differs from `word` by one swap of adjacent characters (`veiw` for `view`), which plain edit
/// distance counts as two edits.
pub(crate) fn suggest_name<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str> + Clone,
) -> Option<&'c str> {
    mandate_syntax::diagnostics::suggest(word, candidates.clone())
        .or_else(|| candidates.into_iter().find(|c| is_one_swap(word, c)))
}

fn is_one_swap(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() != b.len() {
        return false;
    }
    let diffs: Vec<usize> = (0..a.len()).filter(|&i| a.get(i) != b.get(i)).collect();
    matches!(diffs.as_slice(), [i, j] if *j == i + 1
        && a.get(*i) == b.get(*j)
        && a.get(*j) == b.get(*i))
}

fn env_note(env: &Env, p_slot: Option<&SmolStr>, r_slot: Option<&SmolStr>) -> String {
    let mut note = format!(
        "in requests where `principal` is a `{}`, `action` is `{}` and `resource` is a `{}`",
        env.principal, env.action, env.resource
    );
    if let Some(p) = p_slot {
        note.push_str(&format!(", with `?principal` a `{p}`"));
    }
    if let Some(r) = r_slot {
        note.push_str(&format!(", with `?resource` a `{r}`"));
    }
    note
}
