//! Unit tests of the validator: one or more per diagnostic, checking the code, the message, the
//! help and the underlined source, plus the short-circuit and capability rules that decide what
//! is checked at all.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "test code; the differential test prints its coverage summary"
)]

use mandate_syntax::ast::{ExprKind, Statement};
use mandate_syntax::{Diagnostic, Dialect, ParseOptions, Severity, Source, parse};
use mandate_validate::schema::Schema;
use mandate_validate::{validate, validate_policies};

const SCHEMA: &str = r#"
entity Group;
entity User in [Group] {
  name: String,
  age?: Long,
  address: { city: String, zip?: String },
  roles: Set<String>,
  manager?: User,
} tags String;
entity Doc {
  owner: User,
  level: Long,
  labels: Set<String>,
};
entity Color enum ["red", "green"];
action view, edit appliesTo {
  principal: [User],
  resource: [Doc],
  context: { ip: ipaddr, amount?: decimal, at: datetime, color: Color },
};
action manage appliesTo { principal: [User], resource: [Group] };
action "all" ;
action audit in ["all"] appliesTo { principal: [User], resource: [Doc] };
"#;

fn statements(src: &str) -> Vec<Statement> {
    let parsed = parse(
        src,
        ParseOptions {
            dialect: Dialect::Mandate,
            ..ParseOptions::default()
        },
    );
    assert!(
        !parsed.has_errors(),
        "parse errors: {:?}",
        parsed.diagnostics
    );
    parsed.file.statements
}

fn diags(policies: &str) -> Vec<Diagnostic> {
    let schema = Schema::from_cedarschema(SCHEMA).unwrap();
    validate_policies(&schema, &statements(policies))
}

fn errors(policies: &str) -> Vec<Diagnostic> {
    diags(policies)
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect()
}

/// The one error of `policies`, with the text it underlines.
fn one_error(policies: &str) -> (Diagnostic, String) {
    let errs = errors(policies);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    let d = errs.into_iter().next().unwrap();
    let text = policies.get(d.span().unwrap().range()).unwrap().to_owned();
    (d, text)
}

/// The codes of every diagnostic, sorted.
fn codes(policies: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = diags(policies).iter().map(|d| d.code).collect();
    out.sort_unstable();
    out
}

/// The first error with `code`, with the text it underlines.
fn first_error(policies: &str, code: &str) -> (Diagnostic, String) {
    let d = errors(policies)
        .into_iter()
        .find(|d| d.code == code)
        .unwrap();
    let text = policies.get(d.span().unwrap().range()).unwrap().to_owned();
    (d, text)
}

fn assert_valid(policies: &str) {
    let errs = errors(policies);
    assert!(errs.is_empty(), "expected no errors, got {errs:#?}");
}

fn permit(when: &str) -> String {
    format!("permit(principal, action == Action::\"view\", resource) when {{ {when} }};")
}

#[test]
fn valid_policies_have_no_diagnostics() {
    let src = r#"
        permit(principal in Group::"admins", action in [Action::"view", Action::"edit"], resource)
        when {
            principal has age && principal.age >= 18 &&
            resource.owner == principal &&
            resource.labels.contains("public") &&
            context.ip.isInRange(ip("10.0.0.0/8")) &&
            (if context has amount then context.amount.lessThan(decimal("100.0")) else true) &&
            context.at < datetime("2030-01-01") &&
            context.color == Color::"red" &&
            principal.address.city like "Par*"
        };
        permit(principal, action == Action::"manage", resource in Group::"g")
        unless { principal.hasTag("frozen") && principal.getTag("frozen") == "yes" };
    "#;
    assert!(diags(src).is_empty(), "{:#?}", diags(src));
}

#[test]
fn unknown_entity_type_suggests_a_declared_one() {
    let src = r#"permit(principal == Usr::"alice", action, resource);"#;
    // No action applies to an undeclared principal type either (`MD0103`), as in Cedar.
    assert_eq!(codes(src), ["MD0100", "MD0103"]);
    let (d, text) = first_error(src, "MD0100");
    assert_eq!(d.code, "MD0100");
    assert_eq!(d.message, "unknown entity type `Usr`");
    assert_eq!(d.help.as_deref(), Some("did you mean `User`?"));
    assert_eq!(text, "Usr");
}

#[test]
fn unknown_entity_type_in_is_and_expressions() {
    let errs = errors(&permit(r#"principal is Usr || resource == Dok::"d""#));
    let codes: Vec<(&str, &str)> = errs.iter().map(|d| (d.code, d.message.as_str())).collect();
    assert_eq!(
        codes,
        [
            ("MD0100", "unknown entity type `Usr`"),
            ("MD0100", "unknown entity type `Dok`")
        ]
    );
}

#[test]
fn unknown_action_suggests_a_declared_one() {
    let src = r#"permit(principal, action == Action::"veiw", resource);"#;
    assert_eq!(codes(src), ["MD0101", "MD0103"]);
    let (d, text) = first_error(src, "MD0101");
    assert_eq!(d.code, "MD0101");
    assert_eq!(d.message, "unknown action `Action::\"veiw\"`");
    assert_eq!(d.help.as_deref(), Some("did you mean `Action::\"view\"`?"));
    assert_eq!(text, "Action::\"veiw\"");
}

#[test]
fn enum_entity_ids_are_checked() {
    let (d, text) = one_error(&permit(r#"context.color == Color::"blue""#));
    assert_eq!(d.code, "MD0102");
    assert_eq!(
        d.message,
        "`Color::\"blue\"` is not one of the values of the enumerated entity type `Color`"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("the values are `\"red\"`, `\"green\"`")
    );
    assert_eq!(text, "Color::\"blue\"");
    let (d, _) = one_error(&permit(r#"context.color == Color::"gren""#));
    assert_eq!(d.help.as_deref(), Some("did you mean `Color::\"green\"`?"));
}

#[test]
fn scope_without_applicable_action() {
    let src = r#"permit(principal == Doc::"d", action == Action::"view", resource);"#;
    let (d, text) = one_error(src);
    assert_eq!(d.code, "MD0103");
    assert_eq!(
        d.message,
        "no action in the schema applies to the principals and resources this policy's scope allows"
    );
    assert_eq!(text, src);
    // `==` where `in` was meant gets a precise hint.
    let (d, _) =
        one_error(r#"permit(principal == Group::"g", action == Action::"view", resource);"#);
    assert_eq!(
        d.help.as_deref(),
        Some("try replacing `==` with `in` in the principal clause")
    );
    // An action without `appliesTo` applies to nothing.
    let (d, _) = one_error(r#"permit(principal, action == Action::"all", resource);"#);
    assert_eq!(d.code, "MD0103");
    // ... but a group's members do.
    assert_valid(r#"permit(principal, action in Action::"all", resource);"#);
}

#[test]
fn operand_of_the_wrong_type() {
    let (d, text) = one_error(&permit(r#"resource.level + "one" > 2"#));
    assert_eq!(d.code, "MD0104");
    assert_eq!(d.message, "expected `Long`, found `String`");
    assert_eq!(d.help.as_deref(), Some("Cedar has no string concatenation"));
    assert_eq!(text, "\"one\"");

    let (d, text) = one_error(&permit("resource.level like \"1*\""));
    assert_eq!(d.message, "expected `String`, found `Long`");
    assert_eq!(text, "resource.level");

    let (d, text) = one_error(&permit("resource.labels"));
    assert_eq!(d.message, "expected a `Bool`, found `Set<String>`");
    assert_eq!(text, "resource.labels");

    let (d, _) = one_error(&permit("resource has owner.name.first"));
    assert_eq!(d.message, "expected an entity or a record, found `String`");
    assert_eq!(d.help.as_deref(), Some("to match strings, use `like`"));

    let (d, _) = one_error(&permit("principal.roles < 3"));
    assert_eq!(d.message, "expected `Long`, found `Set<String>`");

    let (d, text) = one_error(&permit("principal in resource.labels"));
    assert_eq!(
        d.message,
        "expected a set of entities or an entity, found `Set<String>`"
    );
    assert_eq!(text, "resource.labels");
}

#[test]
fn incompatible_types() {
    let (d, text) = one_error(&permit(r#"resource.level == "high""#));
    assert_eq!(d.code, "MD0105");
    assert_eq!(
        d.message,
        "`==` compares incompatible types `Long` and `String`"
    );
    assert_eq!(text, r#"resource.level == "high""#);

    let (d, text) = one_error(&permit(r#"[1, "a"].contains(1)"#));
    assert_eq!(
        d.message,
        "set elements have incompatible types `Long` and `String`"
    );
    assert_eq!(text, r#"[1, "a"]"#);

    let (d, _) = one_error(&permit(r#"(if resource.level > 1 then 1 else "a") == 1"#));
    assert_eq!(
        d.message,
        "the branches of `if` have incompatible types `Long` and `String`"
    );

    let (d, _) = one_error(&permit("[principal, resource].contains(principal)"));
    assert_eq!(
        d.message,
        "set elements have incompatible types `User` and `Doc`"
    );
    assert!(d.help.unwrap().contains("entity types to match exactly"));

    let (d, _) = one_error(&permit("resource.labels.contains(3)"));
    assert_eq!(
        d.message,
        "`contains` tests for an element of an incompatible type: `String` and `Long`"
    );

    let (d, _) = one_error(&permit("resource.labels.containsAny([1])"));
    assert_eq!(
        d.message,
        "`containsAny` compares incompatible sets `Set<String>` and `Set<Long>`"
    );
}

#[test]
fn equality_the_validator_can_decide_is_allowed() {
    // Different entity types can never be equal: `false`, not an error.
    assert_valid(&permit("principal == resource || true"));
    // Two literals: decided by value.
    assert_valid(&permit(r#"1 == "one" || true"#));
}

#[test]
fn unknown_attribute_suggests_a_declared_one() {
    let (d, text) = one_error(&permit(r#"principal.nam == "a""#));
    assert_eq!(d.code, "MD0106");
    assert_eq!(d.message, "attribute `nam` not found on entity type `User`");
    assert_eq!(d.help.as_deref(), Some("did you mean `name`?"));
    assert_eq!(text, "principal.nam");
    let (d, _) = one_error(&permit(r#"principal.nmae == "a""#));
    assert_eq!(d.help.as_deref(), Some("did you mean `name`?"));
    assert!(d.note.unwrap().contains("`principal` is a `User`"));

    let (d, _) = one_error(&permit("context.amout.lessThan(decimal(\"1.0\"))"));
    assert_eq!(
        d.message,
        "attribute `amout` not found on the context of `Action::\"view\"`"
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `amount`?"));
}

#[test]
fn optional_attribute_needs_a_guard() {
    let (d, text) = one_error(&permit("principal.age > 3"));
    assert_eq!(d.code, "MD0107");
    assert_eq!(
        d.message,
        "attribute `age` of entity type `User` may be absent"
    );
    assert_eq!(
        d.help.as_deref(),
        Some("test for it first, as in `principal has age && principal.age`")
    );
    assert_eq!(text, "principal.age");

    // Guards through `&&`, `if`, `||` with a known side, and nested paths.
    assert_valid(&permit("principal has age && principal.age > 3"));
    assert_valid(&permit(
        "if principal has age then principal.age > 3 else false",
    ));
    assert_valid(&permit("!(principal has age) || true"));
    assert_valid(&permit(
        r#"principal has address.zip && principal.address.zip == "75001""#,
    ));
    assert_valid(&permit(
        r#"principal has manager && principal.manager has age && principal.manager.age > 1"#,
    ));
    // `||` forgets guards that only one side established.
    let (d, _) = one_error(&permit(
        "(principal has age || resource.level > 1) && principal.age > 3",
    ));
    assert_eq!(d.code, "MD0107");
    // A guard does not survive `unless` / negation.
    let (d, _) = one_error(&permit("!(principal has age) && principal.age > 3"));
    assert_eq!(d.code, "MD0107");
}

#[test]
fn empty_set_literal() {
    let (d, text) = one_error(&permit("principal.roles.containsAny([])"));
    assert_eq!(d.code, "MD0108");
    assert_eq!(d.message, "empty set literal");
    assert_eq!(text, "[]");
}

#[test]
fn extension_calls() {
    let (d, _) = one_error(&permit("context.ip.isInRange()"));
    assert_eq!(d.code, "MD0109");
    assert_eq!(d.message, "`isInRange` takes 1 argument, found 0");

    let (d, text) = one_error(&permit("ip(principal.name).isIpv4()"));
    assert_eq!(d.code, "MD0110");
    assert_eq!(d.message, "the argument of `ip` must be a string literal");
    assert_eq!(text, "principal.name");

    let (d, text) = one_error(&permit(
        r#"context has amount && context.amount.lessThan(decimal("1.23456"))"#,
    ));
    assert_eq!(d.code, "MD0111");
    assert_eq!(d.message, "invalid `decimal` literal `\"1.23456\"`");
    assert!(d.help.unwrap().contains("one to four digits"));
    assert_eq!(text, "\"1.23456\"");

    let (d, _) = one_error(&permit(r#"context.at < datetime("2024-02-30")"#));
    assert_eq!(d.message, "invalid `datetime` literal `\"2024-02-30\"`");
    let (d, _) = one_error(&permit(r#"duration("1m1h") == duration("1h")"#));
    assert_eq!(d.message, "invalid `duration` literal `\"1m1h\"`");
    let (d, _) = one_error(&permit(r#"ip("10.0.0.0/33").isIpv4()"#));
    assert_eq!(d.message, "invalid `ip` literal `\"10.0.0.0/33\"`");

    let (d, _) = one_error(&permit(r#"context.ip.lessThan(decimal("1.0"))"#));
    assert_eq!(d.code, "MD0104");
    assert_eq!(d.message, "expected `decimal`, found `ipaddr`");

    assert_valid(&permit(
        r#"context.at.offset(duration("1h")) > datetime("2024-01-01T00:00:00Z") && context.at.toTime().toHours() < 12"#,
    ));
}

#[test]
fn tags() {
    let (d, text) = one_error(&permit(r#"principal.getTag("team") == "x""#));
    assert_eq!(d.code, "MD0112");
    assert_eq!(d.message, "tag read by `getTag` may be absent");
    assert_eq!(
        d.help.as_deref(),
        Some(r#"test for it first, as in `principal.hasTag("team") && principal.getTag("team")`"#)
    );
    assert_eq!(text, r#"principal.getTag("team")"#);
    assert_valid(&permit(
        r#"principal.hasTag("team") && principal.getTag("team") == "x""#,
    ));
    // An entity type without tags: `hasTag` is always false, so the read never runs.
    assert_valid(&permit(
        r#"resource.hasTag("team") && resource.getTag("team") == "x" || true"#,
    ));
    let (d, _) = one_error(&permit(r#"resource.getTag("team") == "x""#));
    assert_eq!(d.code, "MD0112");
    let (d, _) = one_error(&permit(r#"principal.hasTag(3)"#));
    assert_eq!(d.code, "MD0104");
}

#[test]
fn unknown_extension_function() {
    // The parser rejects unknown functions, so build the tree by hand.
    let mut stmts = statements(&permit(r#"decimal("1.0") == decimal("1.0")"#));
    let body = &mut stmts[0].conditions[0].body;
    let ExprKind::Compare(_, lhs, _) = &mut body.kind else {
        panic!("{body:?}")
    };
    let ExprKind::Call(name, _) = &mut lhs.kind else {
        panic!("{lhs:?}")
    };
    name.full = "decimall".into();
    let schema = Schema::from_cedarschema(SCHEMA).unwrap();
    let errs = validate_policies(&schema, &stmts);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].code, "MD0114");
    assert_eq!(errs[0].message, "unknown extension function `decimall`");
}

#[test]
fn quota_by_and_cost() {
    let src = r#"
        quota (principal, action == Action::"view", resource)
          limit 10 per 1h
          by resource.level
          cost principal.name;
    "#;
    let errs = errors(src);
    let got: Vec<(&str, &str)> = errs.iter().map(|d| (d.code, d.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (
                "MD0115",
                "quota `by` must be an entity or a `String`, found `Long`"
            ),
            ("MD0116", "quota `cost` must be a `Long`, found `String`"),
        ]
    );
    // The conditions' guards reach `by` and `cost`.
    assert_valid(
        r#"quota (principal, action == Action::"view", resource)
             limit 10 per 1h by principal.address.city cost principal.age
             when { principal has age };"#,
    );
    let (d, _) = one_error(
        r#"quota (principal, action == Action::"view", resource) limit 10 per 1h cost principal.age;"#,
    );
    assert_eq!(d.code, "MD0107");
}

#[test]
fn impossible_policy_is_a_warning() {
    let ds = diags(&permit("principal is Doc"));
    assert_eq!(ds.len(), 1, "{ds:#?}");
    assert_eq!(ds[0].code, "MD0118");
    assert_eq!(ds[0].severity, Severity::Warning);
    let schema = Schema::from_cedarschema(SCHEMA).unwrap();
    assert!(validate(&schema, &statements(&permit("principal is Doc"))).passed());
}

#[test]
fn short_circuits_skip_what_never_runs() {
    assert_valid(&permit("false && principal.nope"));
    assert_valid(&permit("true || principal.nope"));
    assert_valid(&permit("(if true then 1 else principal.nope) > 0"));
    assert_valid(&permit("(if false then principal.nope else 1) > 0"));
    // `resource` is a `Group` only for `manage`; elsewhere `is` is false and the rest is skipped.
    assert_valid(
        r#"permit(principal, action, resource) when { resource is Doc && resource.level > 1 };"#,
    );
    // Without the test, `level` is missing on `Group` under `manage`.
    let (d, _) = one_error(r#"permit(principal, action, resource) when { resource.level > 1 };"#);
    assert_eq!(d.code, "MD0106");
    assert!(d.note.unwrap().contains("Action::\"manage\""));
    // The scope short-circuits the conditions too.
    assert_valid(
        r#"permit(principal, action in [Action::"view", Action::"edit"], resource) when { resource.level > 1 };"#,
    );
    // An action known not to be in a group makes `in` false.
    assert_valid(&permit(r#"action in Action::"all" && principal.nope"#));
}

#[test]
fn templates_are_checked_for_every_possible_link() {
    assert_valid(
        r#"permit(principal in ?principal, action == Action::"view", resource == ?resource)
           when { resource.level > 1 && principal.name == "a" };"#,
    );
    let (d, _) = one_error(
        r#"permit(principal == ?principal, action == Action::"view", resource) when { principal.nope };"#,
    );
    assert_eq!(d.code, "MD0106");
}

#[test]
fn diagnostics_render_with_the_source() {
    let src = permit("principal.age > 3");
    let ds = diags(&src);
    let rendered = mandate_syntax::diagnostics::render_all(&ds, Some(&Source::new("p.cedar", src)));
    assert_eq!(
        rendered,
        r#"error[MD0107]: attribute `age` of entity type `User` may be absent
 --> p.cedar:1:62
  |
1 | permit(principal, action == Action::"view", resource) when { principal.age > 3 };
  |                                                              ^^^^^^^^^^^^^
  |
  = help: test for it first, as in `principal has age && principal.age`
  = note: in requests where `principal` is a `User`, `action` is `Action::"view"` and `resource` is a `Doc`
"#
    );
}

/// Differential testing against the reference implementation, the `cedar-policy` crate (a
/// dev-dependency only): random policies over fixed schemas, generated as text, must pass
/// Cedar's strict validation exactly when they pass ours. The generator aims most expressions at
/// a type, drawing on the schemas' attributes, and puts a wrong-typed, unguarded or unknown piece
/// in a share of positions, so both outcomes are frequent. `MANDATE_VALIDATE_DIFF_CASES` sets
/// the number of cases (default 2,000) and `MANDATE_VALIDATE_DIFF_SEED` the seed.
mod differential {
    use super::statements;
    use cedar_policy as cedar;
    use mandate_validate::schema::Schema;
    use mandate_validate::validate;
    use std::str::FromStr;

    /// SplitMix64: a small, seedable generator, so a failing case is reproducible from its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
        }
        fn chance(&mut self, percent: usize) -> bool {
            self.below(100) < percent
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    const SCHEMAS: &[&str] = &[
        r#"
        entity Group in [Group];
        entity User in [Group] {
          name: String,
          age?: Long,
          roles: Set<String>,
          addr: { city: String, zip?: String },
          boss?: User,
          score: decimal,
        } tags String;
        entity Folder in [Folder] { name: String } tags Long;
        entity Doc in [Folder] {
          owner: User,
          level: Long,
          labels: Set<String>,
          meta?: { a: Long, b?: Bool },
          ip: ipaddr,
          created: datetime,
        };
        entity Color enum ["red", "green"];
        action view, edit appliesTo {
          principal: [User, Group],
          resource: [Doc, Folder],
          context: { n: Long, s?: String, t: datetime, d: duration, flag: Bool, who: User, rec: { x: Long, y?: String } },
        };
        action "grp";
        action share in ["grp"] appliesTo { principal: [User], resource: [Doc] };
        action admin in ["grp"] appliesTo { principal: [Group], resource: [Group, Color] };
        "#,
        r#"
        namespace NS {
          entity Team;
          entity User in [Team] { name: String, age?: Long, roles: Set<String>, boss?: User } tags Set<String>;
          entity Doc { owner: User, level: Long, labels: Set<String>, meta?: { a: Long, b?: Bool } };
          action "grp";
          action view in ["grp"] appliesTo { principal: [User], resource: [Doc], context: { n: Long, s?: String, flag: Bool } };
          action edit in ["grp"] appliesTo { principal: [User, Team], resource: [Doc], context: { n: Long, flag: Bool } };
        }
        entity Group;
        action list appliesTo { principal: [NS::User], resource: [Group], context: { n: Long } };
        "#,
    ];

    /// What an expression position wants.
    #[derive(Clone, Copy, PartialEq)]
    enum T {
        Bool,
        Long,
        Str,
        Ent,
        Set,
        Rec,
        Ext,
        Any,
    }

    const ALL: [T; 7] = [T::Bool, T::Long, T::Str, T::Ent, T::Set, T::Rec, T::Ext];

    struct Gen<'r> {
        rng: &'r mut Rng,
        ns: &'static str,
        /// Which of `SCHEMAS`.
        schema: usize,
        /// Whether the scope is `principal is User, action == view, resource is Doc`, where the
        /// paths of `typed` are well-typed.
        tight: bool,
    }

    /// Well-typed paths under the tight scope, by schema and type; `?` marks optional ones.
    fn typed(schema: usize, want: T) -> &'static [&'static str] {
        match (schema, want) {
            (0, T::Bool) => &["context.flag", "resource.meta.b?"],
            (0, T::Long) => &[
                "resource.level",
                "context.n",
                "context.rec.x",
                "principal.age?",
                "resource.meta.a?",
            ],
            (0, T::Str) => &[
                "principal.name",
                "principal.addr.city",
                "resource.owner.name",
                "principal.addr.zip?",
                "context.s?",
                "context.rec.y?",
            ],
            (0, T::Set) => &["principal.roles", "resource.labels", "resource.owner.roles"],
            (0, T::Rec) => &["context", "context.rec", "principal.addr", "resource.meta?"],
            (0, T::Ent) => &[
                "principal",
                "resource",
                "resource.owner",
                "context.who",
                "action",
                "principal.boss?",
            ],
            (0, T::Ext) => &[
                "principal.score",
                "resource.ip",
                "resource.created",
                "context.t",
                "context.d",
            ],
            (_, T::Bool) => &["context.flag", "resource.meta.b?"],
            (_, T::Long) => &[
                "resource.level",
                "context.n",
                "principal.age?",
                "resource.meta.a?",
            ],
            (_, T::Str) => &["principal.name", "resource.owner.name", "context.s?"],
            (_, T::Set) => &["principal.roles", "resource.labels"],
            (_, T::Rec) => &["context", "resource.meta?"],
            (_, T::Ent) => &[
                "principal",
                "resource",
                "resource.owner",
                "action",
                "principal.boss?",
            ],
            _ => &[],
        }
    }

    impl Gen<'_> {
        fn ent_type(&mut self) -> String {
            let local = if self.tight && self.rng.chance(70) {
                self.rng.pick(&["User", "Doc"])
            } else {
                self.rng
                    .pick(&["User", "Group", "Doc", "Folder", "Color", "Team", "Usr"])
            };
            if local == "Group" || self.rng.chance(20) {
                local.to_owned()
            } else {
                format!("{}{local}", self.ns)
            }
        }
        fn uid(&mut self) -> String {
            let ty = self.ent_type();
            let id = self.rng.pick(&["a", "b", "red", "blue", "g"]);
            format!("{ty}::\"{id}\"")
        }
        fn action_uid(&mut self) -> String {
            let id = self
                .rng
                .pick(&["view", "edit", "share", "admin", "grp", "list", "nope"]);
            let ns = if self.rng.chance(25) { "" } else { self.ns };
            format!("{ns}Action::\"{id}\"")
        }
        fn var(&mut self) -> &'static str {
            self.rng
                .pick(&["principal", "resource", "context", "action"])
        }
        fn attr_path(&mut self) -> String {
            let mut out = self.var().to_owned();
            let n = 1 + self.rng.below(2);
            for _ in 0..n {
                let a = self.rng.pick(&[
                    "name", "age", "roles", "addr", "city", "zip", "boss", "score", "owner",
                    "level", "labels", "meta", "a", "b", "ip", "created", "n", "s", "t", "d",
                    "flag", "who", "rec", "x", "y", "nope",
                ]);
                out.push('.');
                out.push_str(a);
            }
            out
        }
        fn maybe_guarded(&mut self, depth: usize, body: String) -> String {
            if self.tight {
                let t = ALL[self.rng.below(ALL.len())];
                let optional: Vec<&str> = typed(self.schema, t)
                    .iter()
                    .filter(|p| p.ends_with('?'))
                    .copied()
                    .collect();
                if !optional.is_empty() {
                    let p = self.rng.pick(&optional).trim_end_matches('?');
                    if let Some((base, last)) = p.rsplit_once('.') {
                        let other = self.expr(t, depth + 1);
                        let test = match t {
                            T::Long => format!("{p} < {other}"),
                            T::Bool => p.to_owned(),
                            T::Set => format!("{p}.containsAny({other})"),
                            _ => format!("{p} == {other}"),
                        };
                        return format!("({base} has {last} && {test} && {body})");
                    }
                }
            }
            if self.rng.chance(30) {
                let p = self.attr_path();
                match p.rsplit_once('.') {
                    Some((base, last)) => format!("({base} has {last} && {body})"),
                    None => body,
                }
            } else if self.rng.chance(10) {
                let e = self.expr(T::Ent, depth + 1);
                format!("({e}.hasTag(\"k\") && {body})")
            } else {
                body
            }
        }

        fn expr(&mut self, want: T, depth: usize) -> String {
            let want = if self.rng.chance(if self.tight { 2 } else { 6 }) || want == T::Any {
                ALL[self.rng.below(ALL.len())]
            } else {
                want
            };
            if depth > 3 || self.rng.chance(30) {
                return self.leaf(want);
            }
            let d = depth + 1;
            match want {
                T::Bool => match self.rng.below(18) {
                    0 => format!("{} && {}", self.expr(T::Bool, d), self.expr(T::Bool, d)),
                    1 => format!("({} || {})", self.expr(T::Bool, d), self.expr(T::Bool, d)),
                    2 => format!("!{}", self.expr(T::Bool, d)),
                    3 => {
                        let t = ALL[self.rng.below(ALL.len())];
                        let u = if self.rng.chance(70) { t } else { T::Any };
                        format!("{} == {}", self.expr(t, d), self.expr(u, d))
                    }
                    4 => format!("{} < {}", self.expr(T::Long, d), self.expr(T::Long, d)),
                    5 => format!("{} in {}", self.expr(T::Ent, d), self.expr(T::Ent, d)),
                    6 => {
                        let p = self.attr_path();
                        let a = self
                            .rng
                            .pick(&["name", "age", "zip", "boss", "meta", "b", "s", "y", "nope"]);
                        format!("{p} has {a}")
                    }
                    7 => format!("{} like \"a*\"", self.expr(T::Str, d)),
                    8 => {
                        let ty = self.ent_type();
                        format!("{} is {ty}", self.expr(T::Ent, d))
                    }
                    9 => format!(
                        "(if {} then {} else {})",
                        self.expr(T::Bool, d),
                        self.expr(T::Bool, d),
                        self.expr(T::Bool, d)
                    ),
                    10 => format!(
                        "{}.contains({})",
                        self.expr(T::Set, d),
                        self.expr(T::Any, d)
                    ),
                    11 => format!(
                        "{}.{}({})",
                        self.expr(T::Set, d),
                        self.rng.pick(&["containsAll", "containsAny"]),
                        self.expr(T::Set, d)
                    ),
                    12 => format!("{}.isEmpty()", self.expr(T::Set, d)),
                    13 => format!("{}.hasTag({})", self.expr(T::Ent, d), self.expr(T::Str, d)),
                    14 => {
                        let m = self.rng.pick(&[
                            "lessThan",
                            "greaterThanOrEqual",
                            "isInRange",
                            "isIpv4",
                            "isLoopback",
                        ]);
                        let arg = if m.starts_with("is") && m != "isInRange" {
                            String::new()
                        } else {
                            self.expr(T::Ext, d)
                        };
                        format!("{}.{m}({arg})", self.expr(T::Ext, d))
                    }
                    15 => format!("{} <= {}", self.expr(T::Ext, d), self.expr(T::Ext, d)),
                    16 => {
                        let body = self.expr(T::Bool, d);
                        self.maybe_guarded(d, body)
                    }
                    _ => format!("{} in [{}]", self.expr(T::Ent, d), self.expr(T::Ent, d)),
                },
                T::Long => match self.rng.below(6) {
                    0 => format!("{} + {}", self.expr(T::Long, d), self.expr(T::Long, d)),
                    1 => format!(
                        "({} - {} * 2)",
                        self.expr(T::Long, d),
                        self.expr(T::Long, d)
                    ),
                    2 => format!("-{}", self.expr(T::Long, d)),
                    3 => format!("{}.getTag(\"k\")", self.expr(T::Ent, d)),
                    4 => format!(
                        "{}.{}()",
                        self.expr(T::Ext, d),
                        self.rng.pick(&["toHours", "toDays"])
                    ),
                    _ => format!(
                        "(if {} then {} else {})",
                        self.expr(T::Bool, d),
                        self.expr(T::Long, d),
                        self.expr(T::Long, d)
                    ),
                },
                T::Str => match self.rng.below(3) {
                    0 => format!("{}.getTag(\"k\")", self.expr(T::Ent, d)),
                    _ => self.leaf(T::Str),
                },
                T::Ent => match self.rng.below(3) {
                    0 => format!(
                        "(if {} then {} else {})",
                        self.expr(T::Bool, d),
                        self.expr(T::Ent, d),
                        self.expr(T::Ent, d)
                    ),
                    _ => self.leaf(T::Ent),
                },
                T::Set => match self.rng.below(3) {
                    0 => {
                        let t = ALL[self.rng.below(ALL.len())];
                        let n = self.rng.below(3);
                        let items: Vec<String> = (0..n)
                            .map(|_| {
                                let u = if self.rng.chance(85) { t } else { T::Any };
                                self.expr(u, d)
                            })
                            .collect();
                        format!("[{}]", items.join(", "))
                    }
                    _ => self.leaf(T::Set),
                },
                T::Rec => match self.rng.below(3) {
                    0 => format!(
                        "{{x: {}, y: {}}}",
                        self.expr(T::Long, d),
                        self.expr(T::Any, d)
                    ),
                    _ => self.leaf(T::Rec),
                },
                T::Ext => match self.rng.below(3) {
                    0 => format!("{}.offset({})", self.expr(T::Ext, d), self.expr(T::Ext, d)),
                    _ => self.leaf(T::Ext),
                },
                T::Any => self.leaf(T::Bool),
            }
        }

        fn leaf(&mut self, want: T) -> String {
            if self.tight && self.rng.chance(60) {
                let paths: Vec<&str> = typed(self.schema, want)
                    .iter()
                    .filter(|p| !p.ends_with('?') || self.rng.chance(15))
                    .copied()
                    .collect();
                if !paths.is_empty() {
                    return self.rng.pick(&paths).trim_end_matches('?').to_owned();
                }
            }
            if self.rng.chance(if self.tight { 5 } else { 40 }) {
                return self.attr_path();
            }
            match want {
                T::Bool => self.rng.pick(&["true", "false", "context.flag"]).to_owned(),
                T::Long => self
                    .rng
                    .pick(&["1", "-2", "principal.age", "resource.level", "context.n"])
                    .to_owned(),
                T::Str => self
                    .rng
                    .pick(&["\"a\"", "\"\"", "principal.name", "context.s"])
                    .to_owned(),
                T::Ent => match self.rng.below(4) {
                    0 => self.uid(),
                    1 => self.action_uid(),
                    _ => self.var().to_owned(),
                },
                T::Set => self
                    .rng
                    .pick(&[
                        "principal.roles",
                        "resource.labels",
                        "[1, 2]",
                        "[]",
                        "[principal]",
                        "[\"a\"]",
                    ])
                    .to_owned(),
                T::Rec => self
                    .rng
                    .pick(&[
                        "context",
                        "context.rec",
                        "principal.addr",
                        "resource.meta",
                        "{}",
                    ])
                    .to_owned(),
                T::Ext => self
                    .rng
                    .pick(&[
                        "decimal(\"1.5\")",
                        "decimal(\"1.23456\")",
                        "ip(\"10.0.0.1\")",
                        "ip(\"10.0.0.0/33\")",
                        "datetime(\"2024-01-01\")",
                        "duration(\"1h\")",
                        "duration(principal.name)",
                        "context.t",
                        "context.d",
                        "resource.ip",
                        "principal.score",
                    ])
                    .to_owned(),
                T::Any => "true".to_owned(),
            }
        }

        fn scope(&mut self, var: &str, slot: &str) -> String {
            match self.rng.below(9) {
                0..=2 => var.to_owned(),
                3 => format!("{var} == {}", self.uid()),
                4 => format!("{var} in {}", self.uid()),
                5 => format!("{var} is {}", self.ent_type()),
                6 => format!("{var} is {} in {}", self.ent_type(), self.uid()),
                7 => format!("{var} == {slot}"),
                _ => format!("{var} in {slot}"),
            }
        }

        fn policy(&mut self) -> String {
            if self.tight {
                let ns = self.ns;
                let mut out = format!(
                    "permit(principal is {ns}User, action == {ns}Action::\"view\", resource is {ns}Doc)"
                );
                for _ in 0..1 + self.rng.below(2) {
                    let kw = self.rng.pick(&["when", "when", "unless"]);
                    let body = self.expr(T::Bool, 0);
                    out.push_str(&format!(" {kw} {{ {body} }}"));
                }
                out.push(';');
                return out;
            }
            let principal = self.scope("principal", "?principal");
            let resource = self.scope("resource", "?resource");
            let action = match self.rng.below(6) {
                0 | 1 => "action".to_owned(),
                2 | 3 => format!("action == {}", self.action_uid()),
                4 => format!("action in {}", self.action_uid()),
                _ => format!("action in [{}, {}]", self.action_uid(), self.action_uid()),
            };
            let mut out = format!("permit({principal}, {action}, {resource})");
            for _ in 0..self.rng.below(3) {
                let kw = self.rng.pick(&["when", "when", "unless"]);
                let body = self.expr(T::Bool, 0);
                out.push_str(&format!(" {kw} {{ {body} }}"));
            }
            out.push(';');
            out
        }
    }

    /// Whether the statement uses a construct whose validation Cedar 4.8 made more permissive
    /// (cedar-policy/cedar#1931, "make `in`, `==`, and `hasTag` more permissive to match the Lean
    /// model"): `in` other than a variable or literal `in` literals, `==` between two
    /// non-entity literals, and `hasTag`. The dev-dependency is cedar-policy 4.7.1 (the newest
    /// that builds with our MSRV), older than the 4.10 that generated the conformance corpus and
    /// that the validator follows; where 4.7.1 rejects such a statement and we accept it, the
    /// difference is the version's.
    fn newer_rules_apply(s: &mandate_syntax::ast::Statement) -> bool {
        use mandate_syntax::ast::{Access, CmpOp, ExprKind, Var};
        let is_literal_entity = |e: &mandate_syntax::ast::Expr| {
            matches!(e.kind, ExprKind::Entity(_) | ExprKind::Var(Var::Action))
        };
        let mut found = false;
        for c in &s.conditions {
            c.body.walk(&mut |e| match &e.kind {
                ExprKind::Compare(CmpOp::In, a, b) => {
                    // 4.7.1 types an action `in` its own group as `Bool` (4.8: `True`), and
                    // does not see `action` inside a set as a literal.
                    let lhs_ok = match &a.kind {
                        ExprKind::Var(Var::Principal | Var::Resource) => true,
                        ExprKind::Entity(u) => u.ty.basename() != "Action",
                        _ => false,
                    };
                    let rhs_ok = matches!(b.kind, ExprKind::Entity(_))
                        || matches!(&b.kind, ExprKind::Set(es)
                            if es.iter().all(|x| matches!(x.kind, ExprKind::Entity(_))));
                    found |= !(lhs_ok && rhs_ok);
                }
                ExprKind::Compare(CmpOp::Eq | CmpOp::NotEq, a, b) => {
                    // 4.7.1 folds `==` of two entity literals only; 4.8 folds any two literals.
                    let literal = |e: &mandate_syntax::ast::Expr| {
                        matches!(e.kind, ExprKind::Lit(_)) || is_literal_entity(e)
                    };
                    found |=
                        literal(a) && literal(b) && !(is_literal_entity(a) && is_literal_entity(b));
                }
                ExprKind::Member(_, accesses) => {
                    found |= accesses
                        .iter()
                        .any(|a| matches!(a, Access::Method(m, ..) if m == "hasTag"));
                }
                _ => {}
            });
        }
        found
    }

    fn cedar_passes(schema: &cedar::Schema, text: &str) -> Option<(bool, Vec<String>)> {
        let set = cedar::PolicySet::from_str(text).ok()?;
        let result =
            cedar::Validator::new(schema.clone()).validate(&set, cedar::ValidationMode::Strict);
        Some((
            result.validation_passed(),
            result
                .validation_errors()
                .map(ToString::to_string)
                .collect(),
        ))
    }

    #[test]
    fn agrees_with_cedar_policy() {
        let cases: usize = std::env::var("MANDATE_VALIDATE_DIFF_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2_000);
        let seed: u64 = std::env::var("MANDATE_VALIDATE_DIFF_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0x006D_616E_6461_7465);
        let schemas: Vec<(Schema, cedar::Schema, &str)> = SCHEMAS
            .iter()
            .zip(["", "NS::"])
            .map(|(text, ns)| {
                (
                    Schema::from_cedarschema(text).unwrap(),
                    cedar::Schema::from_cedarschema_str(text).unwrap().0,
                    ns,
                )
            })
            .collect();
        let mut rng = Rng(seed);
        let (mut valid, mut invalid, mut skipped, mut newer) = (0usize, 0usize, 0usize, 0usize);
        let mut failures: Vec<String> = Vec::new();
        for case in 0..cases {
            let (ours, theirs, ns) = &schemas[case % schemas.len()];
            let tight = case % 4 < 2;
            let text = Gen {
                rng: &mut rng,
                ns,
                schema: case % schemas.len(),
                tight,
            }
            .policy();
            let parsed = mandate_syntax::parse(&text, mandate_syntax::ParseOptions::default());
            let cedar = cedar_passes(theirs, &text);
            let (Some((cedar_ok, cedar_errors)), false) = (cedar, parsed.has_errors()) else {
                // Parsing is the parser's business (and its own differential test's); count it.
                skipped += 1;
                continue;
            };
            let stmts = statements(&text);
            let result = validate(ours, &stmts);
            if cedar_ok {
                valid += 1;
            } else {
                invalid += 1;
            }
            if result.passed() && !cedar_ok && stmts.iter().any(newer_rules_apply) {
                newer += 1;
            } else if result.passed() != cedar_ok {
                let ours: Vec<String> = result
                    .errors()
                    .map(|d| format!("{} {}", d.code, d.message))
                    .collect();
                failures.push(format!(
                    "case {case} (schema {}): {text}\n  cedar: {cedar_errors:?}\n  mandate: {ours:?}",
                    case % schemas.len()
                ));
            }
        }
        println!(
            "{cases} cases: {valid} valid and {invalid} invalid for Cedar 4.7.1, {skipped} skipped, \
             {newer} accepted under Cedar 4.8's more permissive rules, {} disagreements",
            failures.len()
        );
        for f in failures.iter().take(15) {
            println!("{f}");
        }
        assert!(failures.is_empty(), "{} disagreements", failures.len());
        assert!(
            valid > cases / 10 && invalid > cases / 10,
            "generator out of balance"
        );
    }
}

/// Limits (RELIABILITY.md): the checker's recursion follows the tree, which the parser bounds at
/// 128 levels, and chains of one operator are folded with loops; every test runs on a thread with
/// a 256 KiB stack, as a host's worker thread might give us.
mod limits {
    use super::SCHEMA;
    use mandate_syntax::{ParseLimits, ParseOptions, parse};
    use mandate_validate::schema::Schema;
    use mandate_validate::validate;

    const STACK: usize = 256 * 1024;

    fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap()
    }

    /// Validates a policy whose `when` body is `body`; returns the error codes.
    fn codes_of(body: &str) -> Vec<&'static str> {
        let src = format!("permit(principal, action, resource) when {{ {body} }};");
        let parsed = parse(
            &src,
            ParseOptions {
                limits: ParseLimits {
                    max_source_bytes: usize::MAX,
                    ..ParseLimits::default()
                },
                ..ParseOptions::default()
            },
        );
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics.first());
        let schema = Schema::from_cedarschema(SCHEMA).unwrap();
        let mut codes: Vec<&'static str> = validate(&schema, &parsed.file.statements)
            .errors()
            .map(|d| d.code)
            .collect();
        codes.sort_unstable();
        codes.dedup();
        codes
    }

    /// Forms nested `n` deep around `principal.age` (`n` at most 126 keeps the depth within
    /// the parser's 128, counting parentheses).
    type Form = (&'static str, fn(usize) -> String);
    const NESTING: &[Form] = &[
        ("parentheses", |n| {
            format!("{}principal has age{}", "(".repeat(n), ")".repeat(n))
        }),
        ("not", |n| {
            format!(
                "{}(principal has age){}",
                "!(".repeat(n / 2),
                ")".repeat(n / 2)
            )
        }),
        ("negation", |n| {
            format!("{}1{} > 0", "-(".repeat(n / 2), ")".repeat(n / 2))
        }),
        ("if, else branch", |n| {
            format!(
                "{}false",
                "if principal has age then principal.age > 1 else ".repeat(n)
            )
        }),
        ("if, condition", |n| {
            format!(
                "{}principal has age{}",
                "if ".repeat(n),
                " then principal has age else false".repeat(n)
            )
        }),
        ("set literal", |n| {
            format!("{}1{}.isEmpty()", "[".repeat(n), "]".repeat(n))
        }),
        ("record literal", |n| {
            format!("{}1{} has a", "{a: ".repeat(n), "}".repeat(n))
        }),
        ("method argument", |n| {
            format!(
                "{}1{}",
                "principal.roles.contains(".repeat(n),
                ")".repeat(n)
            )
        }),
        ("parenthesised && chain", |n| {
            format!(
                "{}principal has age{}",
                "(principal has age && ".repeat(n / 2),
                ")".repeat(n / 2)
            )
        }),
        ("attribute of parenthesised expression", |n| {
            format!(
                "{}principal{}",
                "(".repeat(n / 2),
                ").manager".repeat(n / 2)
            )
        }),
        ("function argument", |n| {
            format!("{}\"a\"{}.isIpv4()", "ip(".repeat(n), ")".repeat(n))
        }),
        ("extension method argument", |n| {
            format!("{}1{}", "context.ip.isInRange(".repeat(n), ")".repeat(n))
        }),
        ("has guards", |n| {
            format!(
                "{}principal.age > 1{}",
                "(principal has age && ".repeat(n / 2),
                ")".repeat(n / 2)
            )
        }),
    ];

    #[test]
    fn nesting_at_the_limit_on_a_small_stack() {
        small_stack(|| {
            for (name, form) in NESTING {
                let codes = codes_of(&form(120));
                assert!(codes.len() <= 3, "{name}: {codes:?}");
            }
        });
    }

    #[test]
    fn long_chains_are_loops() {
        small_stack(|| {
            let n = 20_000;
            let chains = [
                format!("true{}", " && principal has age".repeat(n)),
                format!("false{}", " || resource.level > 1".repeat(n)),
                format!("1{} > 0", " + resource.level".repeat(n)),
                format!("1{} > 0", " * 2".repeat(n)),
                format!("principal{} has a", ".manager".repeat(n)),
                format!("[{}1].isEmpty()", "1, ".repeat(n)),
            ];
            for chain in &chains {
                let codes = codes_of(chain);
                assert!(codes.len() <= 3, "{codes:?}");
            }
        });
    }

    /// Thousands of distinct guards in one `&&` chain make capability sets large; the checker's
    /// work stays linear (layered capability sets, interned targets), so every one of these
    /// validates: none runs out of the work budget (`MD0117`), whose units they are charged in.
    #[test]
    fn long_guard_chains_validate() {
        small_stack(|| {
            let n = 5_000;
            let tags: String = (0..n)
                .map(|i| {
                    format!("principal.hasTag(\"t{i}\") && principal.getTag(\"t{i}\") == \"x\"")
                })
                .collect::<Vec<_>>()
                .join(" && ");
            assert_eq!(codes_of(&tags), Vec::<&str>::new());
            let same = vec!["principal has age && principal.age > 1"; n].join(" && ");
            assert_eq!(codes_of(&same), Vec::<&str>::new());
            let nested = vec!["principal has age && (principal.age > 1 || false)"; n].join(" && ");
            assert_eq!(codes_of(&nested), Vec::<&str>::new());
            // `principal has manager && principal.manager has manager && ...`: the source grows
            // as the square of the chain, the checker's work with the source.
            let depth = 400;
            let mut guards: Vec<String> = (0..depth)
                .map(|i| format!("principal{} has manager", ".manager".repeat(i)))
                .collect();
            guards.push(format!(
                "principal{}.name == \"a\"",
                ".manager".repeat(depth)
            ));
            assert_eq!(codes_of(&guards.join(" && ")), Vec::<&str>::new());
            // Without the guards, every access is reported, each with a help of bounded size.
            let unguarded = format!("principal{}.name == \"a\"", ".manager".repeat(depth));
            assert_eq!(codes_of(&unguarded), ["MD0107"]);
        });
    }
}
