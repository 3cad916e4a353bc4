//! The formatter never changes meaning and is idempotent: on every Cedar conformance policy file
//! (../shared/conformance/cedar), on every policy file under `policies/`, on hand-written cases
//! (comments at every token boundary, quotas, templates, precedence corners, escapes), and on
//! random expression trees. A few canonical layouts are kept as insta snapshots.

use mandate_syntax::ast::{
    Access, AddOp, CmpOp, EntityUid, Expr, ExprKind, Literal, Name, PatternElem, Var,
};
use mandate_syntax::fmt::{FormatOptions, expr_to_string, format_source, statement_to_string};
use mandate_syntax::{Dialect, ParseOptions, Span, parse, parse_expr};
use mandate_test_support::{Shared, files_with_suffix, shared_subdir, workspace_root};
use proptest::prelude::*;
use smol_str::SmolStr;

fn opts(dialect: Dialect) -> ParseOptions {
    ParseOptions {
        dialect,
        ..ParseOptions::default()
    }
}

fn comment_texts(src: &str, dialect: Dialect) -> Vec<String> {
    parse(src, opts(dialect))
        .comments
        .iter()
        .map(|c| c.text.trim_end().to_string())
        .collect()
}

/// Formats `src` and checks: success, equal re-parse, every comment kept in order, idempotency.
/// Returns the formatted text.
fn roundtrip_with(src: &str, dialect: Dialect, options: &FormatOptions) -> Result<String, String> {
    let original = parse(src, opts(dialect));
    if original.has_errors() {
        return Err(format!(
            "input does not parse: {:?}",
            original.diagnostics.first().map(|d| &d.message)
        ));
    }
    let out = format_source(src, opts(dialect), options).map_err(|d| {
        format!(
            "format refused: {:?}\n--- input:\n{src}",
            d.iter().map(|x| &x.message).collect::<Vec<_>>()
        )
    })?;
    let again = parse(&out, opts(dialect));
    if again.has_errors() || again.file != original.file {
        return Err(format!(
            "re-parse differs\n--- input:\n{src}\n--- output:\n{out}"
        ));
    }
    if comment_texts(src, dialect) != comment_texts(&out, dialect) {
        return Err(format!(
            "comments differ\n--- input:\n{src}\n--- output:\n{out}"
        ));
    }
    let twice = format_source(&out, opts(dialect), options)
        .map_err(|_| format!("second format refused\n--- output:\n{out}"))?;
    if twice != out {
        return Err(format!(
            "not idempotent\n--- input:\n{src}\n--- first:\n{out}\n--- second:\n{twice}"
        ));
    }
    Ok(out)
}

fn roundtrip(src: &str, dialect: Dialect) -> Result<String, String> {
    roundtrip_with(src, dialect, &FormatOptions::default())
}

/// Formats every file, at the default width and at a narrow one.
fn check_files(files: &[std::path::PathBuf]) -> Result<usize, String> {
    let narrow = FormatOptions {
        line_width: 30,
        indent: 4,
    };
    let mut failures = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let dialect = Dialect::for_path(path);
        for options in [FormatOptions::default(), narrow] {
            if let Err(e) = roundtrip_with(&text, dialect, &options) {
                failures.push(format!("{} ({options:?}): {e}", path.display()));
            }
        }
    }
    match failures.first() {
        None => Ok(files.len()),
        Some(first) => Err(format!(
            "{} of {} checks failed; first:\n{first}",
            failures.len(),
            files.len() * 2
        )),
    }
}

#[test]
fn every_conformance_policy_file_round_trips() -> Result<(), String> {
    let dir = match shared_subdir("conformance/cedar")? {
        Shared::Found(d) => d,
        Shared::Skip => return Ok(()),
    };
    let files = files_with_suffix(&dir, ".cedar");
    assert!(
        files.len() > 3800,
        "expected over 3,800 policy files, found {}",
        files.len()
    );
    check_files(&files)?;
    // Every tenth file again with a comment after every token, on its own line and trailing.
    for path in files.iter().step_by(10) {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for insert in [" // c\n", "\n// c\n"] {
            let commented = comment_everywhere(&text, insert);
            roundtrip(&commented, Dialect::Cedar)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

#[test]
fn every_policy_under_policies_round_trips() -> Result<(), String> {
    let dir = workspace_root().join("policies");
    let mut files = files_with_suffix(&dir, ".cedar");
    files.extend(files_with_suffix(&dir, ".mandate"));
    // Files meant to fail (`*_bad.*`) are checked by the diagnostics tests, not here.
    files.retain(|p| {
        !p.file_stem()
            .is_some_and(|s| s.to_string_lossy().ends_with("_bad"))
    });
    check_files(&files)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Hand-written cases

const LAYOUT: &str = r#"
// Header comment.

@id("short")
permit(principal,action,resource);
@id("scope")   @description("a \"quoted\" value\twith tab")  @flag
forbid(principal==User::"alice",action in[Action::"a",Action::"b"],resource is Photo in Album::"x") when{context.mfa==false};
permit(principal in Group::"g", action == Action::"view", resource) when { resource.owner == principal.owner && resource.sensitivity <= principal.clearance && context.time.hour >= 9 && context.time.hour < 17 } unless { principal has suspended && principal.suspended };
permit(principal, action, resource) when { if context.a then { k: 1, "two words": [1, 2, 3], "if": true } else {} } ;
permit(principal, action in [Action::"listAlbums", Action::"listPhotos", Action::"view", Action::"edit"], resource);
permit(principal, action, resource) when { resource.tags.containsAll(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]) && ip(context.ip).isInRange(ip("10.0.0.0/8")) };
permit(principal, action, resource) when { context.path like "/home/*/docs/\*.txt" && context["user-agent"] == "curl" && context has "x-y" && context has a.b.c };
"#;

const PRECEDENCE: &str = r#"
permit(principal, action, resource) when {
  ((1 + 2) + 3) == 6 && (1 + (2 + 3)) == 6 && 1 - (2 - 3) == 2 && (2 * 3) * 4 == 24 &&
  -(5) == -5 && --5 == 5 && -(-(5)) == 5 && -9223372036854775808 < 0 && !!true &&
  !(context.a || context.b) && (context.a && context.b) && ((context.a == context.b) == true) &&
  (if context.a then 1 else 2) + 1 == 2 && (principal is User in Group::"g") in Group::"h" &&
  principal is User in (Group::"g") && (context has x).foo && (-1).foo && (1).foo == 1.foo &&
  ((context.a).b).c == context.a.b.c && ([]).isEmpty() && {}.x && -context.n * 2 == -(context.n * 2)
};
"#;

const QUOTAS: &str = r#"
// Quotas: clauses in any order in, canonical order out.
@id("q1") quota(principal is Platform::Agent, action in Platform::Action::"Tools", resource) when { context.env == "prod" } cost context.cost_cents by principal.owner limit 600 per 1h30m;
quota(principal, action, resource) limit 1 per 1d;
quota(principal == Platform::Agent::"a", action, resource) limit 5000 per 1d by if context.team then context.team else principal.owner unless { context.free };
"#;

const TEMPLATES: &str = r#"
@id("t") permit(principal == ?principal, action in [Action::"read"], resource in ?resource) when { context.ok };
permit(principal in ?principal, action, resource is Doc in ?resource);
"#;

const ESCAPES: &str = r#"
@note("naïve café — ünïcödé ✓ \u{1F600} \0 \\ \r\n")
permit(principal == User::"a\"b\\c\u{202E}d", action, resource) when {
  context.s == "tab\there\u{7}bell" && context.s like "\*\\*\u{2066}" && context["ключ"] == "значение" &&
  context.key has "if" && {"then": 1, "ключ": 2, by: 3, cost: 4}.by == 3 && context.by.cost == 1
};
"#;

const COMMENTS: &str = r#"// File header.
// Second header line.

// About the first policy.
@id("p1") // after the annotation
permit ( // after the paren
  // before principal
  principal == User::"alice", // after principal
  action in [
    Action::"read", // read
    // before write
    Action::"write"
  ], // after action
  resource // after resource
) // after the scope
// before when
when { // after the brace
  // before the first operand
  context.a && // after &&
  context.b // after b
  // before the closing brace
} // after the closing brace
; // after the semicolon
// between policies, no blank line

forbid(principal, action, resource) unless {
  context.r == {
    // before key
    k: 1, // after first field
    "quoted key": [ // after [
      1, // one
      2
      // before ]
    ]
  } && context.tags.isEmpty(// odd
  ) == 1 || ip("1.2.3.4" // inside call
  ).isIpv4()
};
quota(principal, action, resource)
  limit 10 per 1m // after limit
  // before by
  by principal // after by
  cost 1; // trailing after quota
// Trailing comment at the end.

// Another, after a blank line.
"#;

#[test]
fn hand_written_cases_round_trip() -> Result<(), String> {
    let cases = [
        (LAYOUT, Dialect::Cedar),
        (PRECEDENCE, Dialect::Cedar),
        (QUOTAS, Dialect::Mandate),
        (TEMPLATES, Dialect::Cedar),
        (ESCAPES, Dialect::Cedar),
        (COMMENTS, Dialect::Mandate),
        ("", Dialect::Cedar),
        ("// only a comment", Dialect::Cedar),
        ("\n\n// a\n\n\n// b\n\n", Dialect::Cedar),
        ("permit(principal,action,resource);", Dialect::Cedar),
        (
            "// crlf\r\n\r\npermit(principal,\taction,resource) // t\r\nwhen {\r\n\t// l\r\n\tcontext.a\r\n};\r\n",
            Dialect::Cedar,
        ),
    ];
    for (src, dialect) in cases {
        for options in [
            FormatOptions::default(),
            FormatOptions {
                line_width: 20,
                indent: 2,
            },
            FormatOptions {
                line_width: 200,
                indent: 3,
            },
        ] {
            roundtrip_with(src, dialect, &options)?;
        }
    }
    Ok(())
}

#[test]
fn snapshot_layout() -> Result<(), String> {
    insta::assert_snapshot!("fmt_layout", roundtrip(LAYOUT, Dialect::Cedar)?);
    Ok(())
}

#[test]
fn snapshot_precedence() -> Result<(), String> {
    insta::assert_snapshot!("fmt_precedence", roundtrip(PRECEDENCE, Dialect::Cedar)?);
    Ok(())
}

#[test]
fn snapshot_quotas_and_templates() -> Result<(), String> {
    let quotas = roundtrip(QUOTAS, Dialect::Mandate)?;
    let templates = roundtrip(TEMPLATES, Dialect::Cedar)?;
    insta::assert_snapshot!("fmt_quotas_templates", format!("{quotas}\n{templates}"));
    Ok(())
}

#[test]
fn snapshot_escapes() -> Result<(), String> {
    insta::assert_snapshot!("fmt_escapes", roundtrip(ESCAPES, Dialect::Cedar)?);
    Ok(())
}

#[test]
fn snapshot_comments() -> Result<(), String> {
    insta::assert_snapshot!("fmt_comments", roundtrip(COMMENTS, Dialect::Mandate)?);
    Ok(())
}

#[test]
fn snapshot_narrow() -> Result<(), String> {
    let narrow = FormatOptions {
        line_width: 40,
        indent: 4,
    };
    let out = roundtrip_with(LAYOUT, Dialect::Cedar, &narrow)?;
    insta::assert_snapshot!("fmt_narrow", out);
    Ok(())
}

#[test]
fn already_formatted_text_is_unchanged() -> Result<(), String> {
    let src = "// c\n\n@id(\"a\")\npermit (principal, action, resource)\nwhen { context.ok };\n";
    assert_eq!(roundtrip(src, Dialect::Cedar)?, src);
    let quota = "quota (principal, action, resource)\n  limit 5 per 1s\n  by principal.owner;\n";
    assert_eq!(roundtrip(quota, Dialect::Mandate)?, quota);
    Ok(())
}

#[test]
fn parse_errors_are_returned() {
    let err = format_source(
        "permit(principal, action, resource) when { 1 + };",
        ParseOptions::default(),
        &FormatOptions::default(),
    );
    assert!(err.is_err_and(|d| d.iter().any(|x| x.code == "MD0001")));
}

/// `src` with `insert` (a comment, numbered) after every token.
fn comment_everywhere(src: &str, insert: &str) -> String {
    let mut all = String::new();
    let mut last = 0;
    for (i, t) in mandate_syntax::lexer::lex(src).tokens.iter().enumerate() {
        all.push_str(src.get(last..t.2).unwrap_or(""));
        all.push_str(&insert.replace("// c", &format!("// c{i}")));
        last = t.2;
    }
    all.push_str(src.get(last..).unwrap_or(""));
    all
}

/// Inserts a comment at every token boundary of some sources, one at a time and all at once,
/// both on its own line and at the end of a line: the output keeps every comment, re-parses to
/// the same tree and is stable.
#[test]
fn comments_at_every_token_boundary() -> Result<(), String> {
    let sources = [
        (LAYOUT, Dialect::Cedar),
        (PRECEDENCE, Dialect::Cedar),
        (QUOTAS, Dialect::Mandate),
        (TEMPLATES, Dialect::Cedar),
        (COMMENTS, Dialect::Mandate),
    ];
    let mut checked = 0usize;
    for (src, dialect) in sources {
        let ends: Vec<usize> = mandate_syntax::lexer::lex(src)
            .tokens
            .iter()
            .map(|t| t.2)
            .collect();
        for (style, insert) in [("trailing", " // c\n"), ("leading", "\n// c\n")] {
            for &end in &ends {
                let (a, b) = src.split_at(end);
                let text = format!("{a}{insert}{b}");
                roundtrip(&text, dialect).map_err(|e| format!("{style} at {end}: {e}"))?;
                checked += 1;
            }
            let all = comment_everywhere(src, insert);
            for width in [80, 20, 0] {
                let options = FormatOptions {
                    line_width: width,
                    indent: 2,
                };
                roundtrip_with(&all, dialect, &options)
                    .map_err(|e| format!("{style}, everywhere: {e}"))?;
            }
        }
    }
    assert!(checked > 500);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Expressions: precedence corners, built by hand

fn ex(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
    }
}
fn long(n: i64) -> Expr {
    ex(ExprKind::Lit(Literal::Long(n)))
}
fn var(v: Var) -> Expr {
    ex(ExprKind::Var(v))
}
fn ctx(attr: &str) -> Expr {
    ex(ExprKind::Member(
        Box::new(var(Var::Context)),
        vec![Access::Attr(attr.into(), Span::default())],
    ))
}
fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}
fn name(s: &str) -> Name {
    Name {
        full: s.into(),
        span: Span::default(),
    }
}

#[test]
fn precedence_corners_print_and_reparse() -> Result<(), String> {
    let (a, c) = (ctx("a"), ctx("c"));
    let cmp = |op, x: Expr, y: Expr| ex(ExprKind::Compare(op, b(x), b(y)));
    let add = |x: Expr, op, y: Expr| ex(ExprKind::Add(b(x), vec![(op, y)]));
    let cases: Vec<(Expr, &str)> = vec![
        (long(-5), "-5"),
        (ex(ExprKind::Neg(b(long(5)))), "-(5)"),
        (ex(ExprKind::Neg(b(long(-5)))), "--5"),
        (long(i64::MIN), "-9223372036854775808"),
        (
            ex(ExprKind::Neg(b(long(i64::MIN)))),
            "--9223372036854775808",
        ),
        (
            ex(ExprKind::Neg(b(ex(ExprKind::Neg(b(var(Var::Principal))))))),
            "--principal",
        ),
        (
            ex(ExprKind::Not(b(ex(ExprKind::Not(b(ex(ExprKind::Not(
                b(a.clone()),
            )))))))),
            "!!!context.a",
        ),
        (ex(ExprKind::Not(b(long(-1)))), "!(-1)"),
        (
            ex(ExprKind::Neg(b(ex(ExprKind::Not(b(var(Var::Principal))))))),
            "-(!principal)",
        ),
        (
            ex(ExprKind::Not(b(ex(ExprKind::Not(b(ex(ExprKind::Not(
                b(ex(ExprKind::Not(b(ex(ExprKind::Not(b(a.clone()))))))),
            )))))))),
            "!(!!!!context.a)",
        ),
        (
            ex(ExprKind::Member(
                b(long(1)),
                vec![Access::Attr("foo".into(), Span::default())],
            )),
            "1.foo",
        ),
        (
            ex(ExprKind::Member(
                b(long(-1)),
                vec![Access::Attr("foo".into(), Span::default())],
            )),
            "(-1).foo",
        ),
        (
            ex(ExprKind::Neg(b(ex(ExprKind::Member(
                b(long(1)),
                vec![Access::Attr("foo".into(), Span::default())],
            ))))),
            "-1.foo",
        ),
        (
            cmp(CmpOp::Eq, cmp(CmpOp::Eq, a.clone(), ctx("b")), c.clone()),
            "(context.a == context.b) == context.c",
        ),
        (
            cmp(CmpOp::Lt, a.clone(), cmp(CmpOp::Lt, ctx("b"), c.clone())),
            "context.a < (context.b < context.c)",
        ),
        (
            add(add(long(1), AddOp::Add, long(2)), AddOp::Add, long(3)),
            "(1 + 2) + 3",
        ),
        (
            add(long(1), AddOp::Sub, add(long(2), AddOp::Sub, long(3))),
            "1 - (2 - 3)",
        ),
        (add(a.clone(), AddOp::Sub, long(-3)), "context.a - -3"),
        (
            ex(ExprKind::Mul(vec![
                ex(ExprKind::Mul(vec![long(2), long(3)])),
                long(4),
            ])),
            "(2 * 3) * 4",
        ),
        (
            ex(ExprKind::Mul(vec![
                ex(ExprKind::Neg(b(a.clone()))),
                long(-2),
            ])),
            "-context.a * -2",
        ),
        (
            ex(ExprKind::Neg(b(ex(ExprKind::Mul(vec![
                a.clone(),
                long(2),
            ]))))),
            "-(context.a * 2)",
        ),
        (
            add(
                ex(ExprKind::If(b(a.clone()), b(long(1)), b(long(2)))),
                AddOp::Add,
                long(1),
            ),
            "(if context.a then 1 else 2) + 1",
        ),
        (
            ex(ExprKind::If(
                b(ex(ExprKind::If(b(a.clone()), b(c.clone()), b(a.clone())))),
                b(ex(ExprKind::If(b(a.clone()), b(c.clone()), b(a.clone())))),
                b(ex(ExprKind::If(b(a.clone()), b(c.clone()), b(a.clone())))),
            )),
            "if if context.a then context.c else context.a then if context.a then context.c \
             else context.a else if context.a then context.c else context.a",
        ),
        (
            ex(ExprKind::And(vec![
                ex(ExprKind::Or(vec![a.clone(), c.clone()])),
                ex(ExprKind::And(vec![a.clone(), c.clone()])),
            ])),
            "(context.a || context.c) && (context.a && context.c)",
        ),
        (
            ex(ExprKind::Or(vec![
                ex(ExprKind::And(vec![a.clone(), c.clone()])),
                ex(ExprKind::Or(vec![a.clone(), c.clone()])),
            ])),
            "context.a && context.c || (context.a || context.c)",
        ),
        (
            cmp(
                CmpOp::In,
                ex(ExprKind::Is(
                    b(var(Var::Principal)),
                    name("User"),
                    Some(b(var(Var::Resource))),
                )),
                var(Var::Resource),
            ),
            "(principal is User in resource) in resource",
        ),
        (
            ex(ExprKind::Is(
                b(var(Var::Principal)),
                name("NS::User"),
                Some(b(cmp(CmpOp::In, var(Var::Resource), var(Var::Resource)))),
            )),
            "principal is NS::User in (resource in resource)",
        ),
        (
            ex(ExprKind::Member(
                b(ex(ExprKind::Has(b(var(Var::Context)), vec!["a".into()]))),
                vec![Access::Attr("b".into(), Span::default())],
            )),
            "(context has a).b",
        ),
        (
            ex(ExprKind::Member(
                b(a.clone()),
                vec![Access::Attr("b".into(), Span::default())],
            )),
            "(context.a).b",
        ),
        (
            ex(ExprKind::Has(
                b(var(Var::Context)),
                vec!["a".into(), "b".into()],
            )),
            "context has a.b",
        ),
        (
            ex(ExprKind::Has(b(var(Var::Context)), vec!["is".into()])),
            "context has \"is\"",
        ),
        (
            ex(ExprKind::Like(
                b(a.clone()),
                vec![
                    PatternElem::Wildcard,
                    PatternElem::Char('*'),
                    PatternElem::Char('"'),
                    PatternElem::Char('\\'),
                    PatternElem::Wildcard,
                ],
            )),
            r#"context.a like "*\*\"\\*""#,
        ),
        (ex(ExprKind::Set(vec![])), "[]"),
        (ex(ExprKind::Record(vec![])), "{}"),
        (
            ex(ExprKind::Record(vec![
                (SmolStr::new("a"), long(1)),
                (SmolStr::new("b c"), long(2)),
                (SmolStr::new("true"), long(3)),
                (SmolStr::new("by"), long(4)),
            ])),
            r#"{a: 1, "b c": 2, "true": 3, by: 4}"#,
        ),
        (
            ex(ExprKind::Member(
                b(var(Var::Context)),
                vec![
                    Access::Attr("if".into(), Span::default()),
                    Access::Attr("a-b".into(), Span::default()),
                    Access::Method("contains".into(), vec![long(1)], Span::default()),
                ],
            )),
            r#"context["if"]["a-b"].contains(1)"#,
        ),
        (
            ex(ExprKind::Entity(EntityUid {
                ty: name("A::B"),
                id: "x\"y\n".into(),
                span: Span::default(),
            })),
            r#"A::B::"x\"y\n""#,
        ),
        (
            ex(ExprKind::Lit(Literal::String("\u{202e}\u{1}é".into()))),
            r#""\u{202e}\u{1}é""#,
        ),
    ];
    for (e, expected) in cases {
        let printed = expr_to_string(&e);
        assert_eq!(printed, expected);
        assert_eq!(e.to_string(), expected);
        let back = parse_expr(&printed, ParseOptions::default())
            .map_err(|d| format!("`{printed}` does not parse: {:?}", d.first()))?;
        assert_eq!(back, e, "`{printed}` re-parses differently");
    }
    Ok(())
}

#[test]
fn statements_print_with_display() -> Result<(), String> {
    let parsed = parse(
        r#"@id("x") permit(principal, action, resource) when { context.a };"#,
        ParseOptions::default(),
    );
    let stmt = parsed.file.statements.first().ok_or("no statement")?;
    let expected = "@id(\"x\")\npermit (principal, action, resource)\nwhen { context.a };";
    assert_eq!(stmt.to_string(), expected);
    assert_eq!(
        statement_to_string(stmt, &FormatOptions::default()),
        expected
    );
    Ok(())
}

/// Formatting a maximally nested policy (parse, print, re-parse, with a comment at every token)
/// stays within a 256 KiB stack.
#[test]
fn deep_nesting_on_a_small_stack() -> Result<(), String> {
    // The deepest mix of nodes (and parentheses) that the parser accepts.
    let nest = |depth: usize| {
        let mut body = String::from("context.x");
        for i in 0..depth {
            body = match i % 7 {
                0 => format!("!{body}"),
                1 => format!("-({body})"),
                2 => format!("[{body}]"),
                3 => format!("(1 + {body})"),
                4 => format!("if {body} then 1 else 2"),
                5 => format!("{{a: {body}}}"),
                _ => format!("ip({body}).isIpv4()"),
            };
        }
        format!("permit(principal, action, resource) when {{ {body} }};")
    };
    let src = (1..300)
        .rev()
        .map(nest)
        .find(|src| !parse(src, ParseOptions::default()).has_errors())
        .ok_or("nothing parses")?;
    assert!(src.len() > 500, "too shallow: {src}");
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || -> Result<(), String> {
            let parsed = parse(&src, ParseOptions::default());
            let stmt = parsed.file.statements.first().ok_or("no statement")?;
            let printed = statement_to_string(stmt, &FormatOptions::default());
            let body = stmt.conditions.first().ok_or("no condition")?;
            assert_eq!(
                parse_expr(&expr_to_string(&body.body), ParseOptions::default()).ok(),
                Some(body.body.clone())
            );
            assert_eq!(parse(&printed, ParseOptions::default()).file, parsed.file);
            roundtrip(&src, Dialect::Cedar)?;
            roundtrip(&comment_everywhere(&src, " // c\n"), Dialect::Cedar)?;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    handle
        .join()
        .map_err(|_| "formatting overflowed a 256 KiB stack".to_string())?
}

/// Very long chains are n-ary nodes: formatting them is linear and does not recurse.
#[test]
fn long_chains() -> Result<(), String> {
    let n = 5_000;
    let and = vec!["context.a == 1"; n].join(" && ");
    let member = format!("context{}", ".a".repeat(n));
    let set = format!("[{}]", vec!["1"; n].join(", "));
    for body in [and, member, set] {
        let src = format!("permit(principal, action, resource) when {{ {body} }};");
        roundtrip(&src, Dialect::Cedar)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Random expression trees

fn arb_string() -> impl Strategy<Value = SmolStr> {
    prop_oneof![
        Just(SmolStr::new("a")),
        Just(SmolStr::new("")),
        Just(SmolStr::new("if")),
        Just(SmolStr::new("by")),
        Just(SmolStr::new("two words")),
        "[a-z_]{1,3}".prop_map(SmolStr::new),
        any::<String>().prop_map(SmolStr::new),
        "[\"\\\\*\\n\\t\\u{0}\\u{202e}é ]{0,4}".prop_map(SmolStr::new),
    ]
}

fn arb_ident() -> impl Strategy<Value = SmolStr> {
    prop_oneof![
        Just(SmolStr::new("a")),
        Just(SmolStr::new("by")),
        Just(SmolStr::new("cost")),
        Just(SmolStr::new("principal")),
        "[a-z_][a-z0-9_]{0,3}".prop_filter_map("reserved", |s| {
            mandate_syntax::ast::is_ident(&s).then(|| SmolStr::new(s))
        }),
    ]
}

fn arb_name() -> impl Strategy<Value = Name> {
    prop::collection::vec(arb_ident(), 1..3).prop_map(|parts| name(&parts.join("::")))
}

fn arb_leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        any::<bool>().prop_map(|v| ex(ExprKind::Lit(Literal::Bool(v)))),
        any::<i64>().prop_map(long),
        prop_oneof![
            Just(0i64),
            Just(5),
            Just(-5),
            Just(i64::MIN),
            Just(i64::MAX)
        ]
        .prop_map(long),
        arb_string().prop_map(|s| ex(ExprKind::Lit(Literal::String(s)))),
        prop_oneof![
            Just(Var::Principal),
            Just(Var::Action),
            Just(Var::Resource),
            Just(Var::Context)
        ]
        .prop_map(var),
        (arb_name(), arb_string()).prop_map(|(ty, id)| ex(ExprKind::Entity(EntityUid {
            ty,
            id,
            span: Span::default()
        }))),
        Just(ex(ExprKind::Set(vec![]))),
        Just(ex(ExprKind::Record(vec![]))),
    ]
}

fn arb_cmp() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Eq),
        Just(CmpOp::NotEq),
        Just(CmpOp::Lt),
        Just(CmpOp::Le),
        Just(CmpOp::Gt),
        Just(CmpOp::Ge),
        Just(CmpOp::In),
    ]
}

fn arb_access(inner: BoxedStrategy<Expr>) -> impl Strategy<Value = Access> {
    prop_oneof![
        arb_string().prop_map(|a| Access::Attr(a, Span::default())),
        prop::collection::vec(inner.clone(), 1..2).prop_map(|args| Access::Method(
            "contains".into(),
            args,
            Span::default()
        )),
        Just(Access::Method("isEmpty".into(), vec![], Span::default())),
        prop::collection::vec(inner, 0..3).prop_map(|args| Access::Method(
            "lessThan".into(),
            args,
            Span::default()
        )),
    ]
}

fn arb_expr() -> impl Strategy<Value = Expr> {
    arb_leaf().prop_recursive(6, 64, 4, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            (boxed.clone(), boxed.clone(), boxed.clone())
                .prop_map(|(c, t, f)| ex(ExprKind::If(c, t, f))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|es| ex(ExprKind::And(es))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|es| ex(ExprKind::Or(es))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|es| ex(ExprKind::Mul(es))),
            boxed.clone().prop_map(|e| ex(ExprKind::Not(e))),
            boxed.clone().prop_map(|e| ex(ExprKind::Neg(e))),
            (arb_cmp(), boxed.clone(), boxed.clone())
                .prop_map(|(op, x, y)| ex(ExprKind::Compare(op, x, y))),
            (
                boxed.clone(),
                prop::collection::vec(
                    (
                        prop_oneof![Just(AddOp::Add), Just(AddOp::Sub)],
                        inner.clone()
                    ),
                    1..3
                )
            )
                .prop_map(|(first, rest)| ex(ExprKind::Add(first, rest))),
            (
                boxed.clone(),
                prop_oneof![
                    arb_string().prop_map(|s| vec![s]),
                    prop::collection::vec(arb_ident(), 1..3)
                ]
            )
                .prop_map(|(e, path)| ex(ExprKind::Has(e, path))),
            (
                boxed.clone(),
                prop::collection::vec(
                    prop_oneof![
                        Just(PatternElem::Wildcard),
                        any::<char>().prop_map(PatternElem::Char),
                        Just(PatternElem::Char('*')),
                    ],
                    0..4
                )
            )
                .prop_map(|(e, p)| ex(ExprKind::Like(e, p))),
            (boxed.clone(), arb_name(), prop::option::of(boxed.clone()))
                .prop_map(|(e, n, o)| ex(ExprKind::Is(e, n, o))),
            (
                boxed.clone(),
                prop::collection::vec(arb_access(inner.clone().boxed()), 1..3)
            )
                .prop_map(|(e, acc)| ex(ExprKind::Member(e, acc))),
            (
                prop_oneof![
                    Just("ip"),
                    Just("decimal"),
                    Just("datetime"),
                    Just("duration")
                ],
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(f, args)| ex(ExprKind::Call(name(f), args))),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|es| ex(ExprKind::Set(es))),
            prop::collection::btree_map(arb_string(), inner, 0..3)
                .prop_map(|m| ex(ExprKind::Record(m.into_iter().collect()))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_expressions_reparse_equal(e in arb_expr()) {
        let printed = expr_to_string(&e);
        let back = parse_expr(&printed, ParseOptions::default());
        prop_assert!(back.is_ok(), "`{}` does not parse: {:?}", printed, back.err());
        prop_assert_eq!(back.ok(), Some(e.clone()), "`{}` re-parses differently", printed);
        // The same expression inside a policy, at a narrow width, survives `format_source`.
        let src = format!("permit(principal, action, resource) when {{ {printed} }};");
        let narrow = FormatOptions { line_width: 24, indent: 2 };
        prop_assert!(roundtrip_with(&src, Dialect::Cedar, &narrow).is_ok());
    }
}
