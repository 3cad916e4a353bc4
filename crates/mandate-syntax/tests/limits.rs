//! Parser limits (RELIABILITY.md R1–R4): nesting depth, source size and the diagnostics cap, plus
//! property tests that the parser never panics.
//!
//! Depth counts every node on the path from the root of a condition to its deepest leaf, the leaf
//! included, and parentheses count although they leave no node: `context` has depth 1, `!context`
//! and `(context)` depth 2, so `n` wrappers around a variable make depth `n + 1`. Chains of one
//! operator (`a && b && …`, `a + b + …`, `a.b.c…`, `a.m().m()…`, `a["x"]["y"]…`) are single n-ary
//! nodes: their length is not depth (R2), it is bounded by the size limits (R4).
//!
//! Every depth test runs on a thread with a 256 KiB stack, as a host's worker thread might give us.

#![expect(clippy::unwrap_used, reason = "test code")]

use mandate_syntax::diagnostics::render_all;
use mandate_syntax::{Diagnostic, Dialect, ParseLimits, ParseOptions, Parsed, Source, parse};
use proptest::prelude::*;

const STACK: usize = 256 * 1024;
const LIMIT: usize = 128;
/// R2's largest depth. `nesting_a_million_deep_is_rejected_without_overflow` always uses it.
const HUGE: usize = 1_000_000;
/// The secondary tests (error path, long chains) use a million levels in release builds and
/// 100,000 in unoptimised ones, where a million takes minutes (the `if` form is 29 MB of text).
const HUGE_SECONDARY: usize = if cfg!(debug_assertions) {
    100_000
} else {
    HUGE
};

/// Runs `f` on a fresh thread with a 256 KiB stack and returns its result (a stack overflow
/// aborts the whole test process, which fails the run).
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("256k-stack".into())
        .stack_size(STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn policy(body: &str) -> String {
    format!("permit(principal, action, resource) when {{ {body} }};")
}

fn parse_default(src: &str) -> Parsed {
    parse(src, ParseOptions::default())
}

fn depth_errors(p: &Parsed) -> Vec<&Diagnostic> {
    p.diagnostics
        .iter()
        .filter(|d| d.code == "MD0009")
        .collect()
}

/// A nesting form: `wrap(n)` is a condition with `n` levels of the form around `context`, each
/// level adding `per_level` to the depth (a parenthesised operator adds 2: the parentheses and
/// the operator's node).
struct Form {
    name: &'static str,
    per_level: usize,
    wrap: fn(usize) -> String,
}

impl Form {
    /// The most levels that stay within `limit` (exactly `limit` when `per_level` is 1).
    fn at_limit(&self, limit: usize) -> usize {
        (limit - 1) / self.per_level.max(1)
    }
}

/// Options for the million-level inputs, which are larger than the default 16 MiB.
fn big() -> ParseOptions {
    ParseOptions {
        limits: ParseLimits {
            max_source_bytes: usize::MAX,
            ..ParseLimits::default()
        },
        ..ParseOptions::default()
    }
}

fn repeat(s: &str, n: usize) -> String {
    s.repeat(n)
}

const NESTING_FORMS: &[Form] = &[
    Form {
        name: "parentheses",
        per_level: 1,
        wrap: |n| format!("{}context{}", repeat("(", n), repeat(")", n)),
    },
    // Cedar accepts at most four `!` (or `-`) in a row, so deep unary nesting alternates with
    // parentheses.
    Form {
        name: "not",
        per_level: 2,
        wrap: |n| format!("{}context{}", repeat("!(", n), repeat(")", n)),
    },
    Form {
        name: "negation",
        per_level: 2,
        wrap: |n| format!("{}context{}", repeat("-(", n), repeat(")", n)),
    },
    Form {
        name: "if-then-else (else branch)",
        per_level: 1,
        wrap: |n| format!("{}context", repeat("if context then context else ", n)),
    },
    Form {
        name: "if-then-else (condition)",
        per_level: 1,
        wrap: |n| {
            format!(
                "{}context{}",
                repeat("if ", n),
                repeat(" then context else context", n)
            )
        },
    },
    Form {
        name: "set literal",
        per_level: 1,
        wrap: |n| format!("{}context{}", repeat("[", n), repeat("]", n)),
    },
    Form {
        name: "record literal",
        per_level: 1,
        wrap: |n| format!("{}context{}", repeat("{a: ", n), repeat("}", n)),
    },
    Form {
        name: "method argument",
        per_level: 1,
        wrap: |n| {
            format!(
                "{}context{}",
                repeat("context.contains(", n),
                repeat(")", n)
            )
        },
    },
    Form {
        name: "function argument",
        per_level: 1,
        wrap: |n| format!("{}context{}", repeat("ip(", n), repeat(")", n)),
    },
    Form {
        name: "parenthesised && chain",
        per_level: 2,
        wrap: |n| format!("{}context{}", repeat("(context && ", n), repeat(")", n)),
    },
    Form {
        name: "attribute of parenthesised expression",
        per_level: 2,
        wrap: |n| format!("{}context{}", repeat("(", n), repeat(").a", n)),
    },
    Form {
        name: "comparison of parenthesised expression",
        per_level: 2,
        wrap: |n| format!("{}context{}", repeat("(1 == ", n), repeat(")", n)),
    },
    Form {
        name: "has/like/is operands",
        per_level: 2,
        wrap: |n| format!("{}context{}", repeat("(", n), repeat(" has a)", n)),
    },
];

/// Chains whose length must not count as depth.
const FLAT_FORMS: &[Form] = &[
    Form {
        name: "&& chain",
        per_level: 0,
        wrap: |n| format!("context{}", repeat(" && context", n)),
    },
    Form {
        name: "|| chain",
        per_level: 0,
        wrap: |n| format!("context{}", repeat(" || context", n)),
    },
    Form {
        name: "+ chain",
        per_level: 0,
        wrap: |n| format!("context{}", repeat(" + context", n)),
    },
    Form {
        name: "* chain",
        per_level: 0,
        wrap: |n| format!("context{}", repeat(" * context", n)),
    },
    Form {
        name: "attribute chain",
        per_level: 0,
        wrap: |n| format!("context{}", repeat(".a", n)),
    },
    Form {
        name: "index chain",
        per_level: 0,
        wrap: |n| format!("context{}", repeat("[\"a\"]", n)),
    },
    Form {
        name: "method chain",
        per_level: 0,
        wrap: |n| format!("context{}", repeat(".contains(1)", n)),
    },
    Form {
        name: "long set",
        per_level: 0,
        wrap: |n| format!("[{}context]", repeat("context, ", n)),
    },
    Form {
        name: "long record",
        per_level: 0,
        wrap: |n| {
            let fields: String = (0..n).map(|i| format!("a{i}: context, ")).collect();
            format!("{{{fields}}}")
        },
    },
];

/// At the limit: `LIMIT - 1` wrappers around the variable (depth `LIMIT`) parse cleanly.
#[test]
fn nesting_at_the_limit_parses() {
    small_stack(|| {
        for form in NESTING_FORMS {
            let src = policy(&(form.wrap)(form.at_limit(LIMIT)));
            let p = parse_default(&src);
            let source = Source::new(form.name, src.as_str());
            assert!(
                p.diagnostics.is_empty(),
                "{} at depth {LIMIT}:\n{}",
                form.name,
                render_all(&p.diagnostics, Some(&source))
            );
            assert_eq!(p.file.statements.len(), 1, "{}", form.name);
        }
    });
}

/// One past the limit: exactly one MD0009 naming the limit, labelled inside the source.
#[test]
fn nesting_one_past_the_limit_gives_one_diagnostic() {
    small_stack(|| {
        for form in NESTING_FORMS {
            let src = policy(&(form.wrap)(form.at_limit(LIMIT) + 1));
            let p = parse_default(&src);
            let deep = depth_errors(&p);
            assert_eq!(deep.len(), 1, "{}: {:#?}", form.name, p.diagnostics);
            assert_eq!(
                p.diagnostics.len(),
                1,
                "{}: {:#?}",
                form.name,
                p.diagnostics
            );
            let d = deep.first().unwrap();
            assert!(
                d.message.contains("`max_nesting_depth` = 128"),
                "{}: {}",
                form.name,
                d.message
            );
            let span = d.span().unwrap();
            assert!((span.end as usize) <= src.len(), "{}", form.name);
            assert!(
                p.file.statements.is_empty(),
                "{}: the policy must be dropped",
                form.name
            );
        }
    });
}

/// A custom limit is honoured the same way.
#[test]
fn custom_nesting_limit() {
    small_stack(|| {
        let limits = ParseLimits {
            max_nesting_depth: 8,
            ..ParseLimits::default()
        };
        let opts = ParseOptions {
            limits,
            ..ParseOptions::default()
        };
        for form in NESTING_FORMS {
            let ok = parse(&policy(&(form.wrap)(form.at_limit(8))), opts);
            assert!(
                ok.diagnostics.is_empty(),
                "{}: {:#?}",
                form.name,
                ok.diagnostics
            );
            let bad = parse(&policy(&(form.wrap)(form.at_limit(8) + 1)), opts);
            let deep = depth_errors(&bad);
            assert_eq!(deep.len(), 1, "{}: {:#?}", form.name, bad.diagnostics);
            assert!(
                deep.iter()
                    .all(|d| d.message.contains("`max_nesting_depth` = 8")),
                "{}",
                form.name
            );
        }
    });
}

/// A million levels: the same single MD0009, no stack overflow, on a 256 KiB stack.
#[test]
fn nesting_a_million_deep_is_rejected_without_overflow() {
    small_stack(|| {
        for form in NESTING_FORMS {
            let src = policy(&(form.wrap)(HUGE));
            let p = parse(&src, big());
            let deep = depth_errors(&p);
            assert_eq!(deep.len(), 1, "{}: {:?}", form.name, p.diagnostics.first());
            assert_eq!(p.diagnostics.len(), 1, "{}", form.name);
            assert!(p.file.statements.is_empty(), "{}", form.name);
        }
    });
}

/// Depths between the limit and a million (R2 lists 1e3, 1e4, 1e5): one diagnostic each.
#[test]
fn nesting_at_intermediate_depths() {
    small_stack(|| {
        for n in [1_000, 10_000, 100_000] {
            for form in NESTING_FORMS {
                let p = parse(&policy(&(form.wrap)(n)), big());
                assert_eq!(depth_errors(&p).len(), 1, "{} at {n}", form.name);
                assert_eq!(p.diagnostics.len(), 1, "{} at {n}", form.name);
            }
        }
    });
}

/// Deep input followed by a syntax error: the parser's partly reduced stack is dropped on the
/// error path (R3), and error recovery still reaches the next policy.
#[test]
fn deep_input_then_syntax_error() {
    small_stack(|| {
        for form in NESTING_FORMS {
            for n in [LIMIT, HUGE_SECONDARY] {
                let src = format!(
                    "{} ) ) ] & ;\npermit(principal, action, resource) when {{ nope }};",
                    &policy(&(form.wrap)(n)).trim_end_matches("};")
                );
                let p = parse(&src, big());
                assert!(p.has_errors(), "{} at {n}", form.name);
                assert!(
                    p.diagnostics
                        .iter()
                        .any(|d| d.message.contains("unknown variable `nope`")),
                    "{} at {n}: recovery must reach the next policy: {:#?}",
                    form.name,
                    p.diagnostics
                );
            }
            // Unclosed: the input ends with a million open brackets on the parser's stack.
            let open = (form.wrap)(HUGE_SECONDARY);
            let cut = open.find("context").unwrap_or(open.len());
            let src = format!(
                "permit(principal, action, resource) when {{ {}",
                open.get(..cut).unwrap_or_default()
            );
            assert!(parse(&src, big()).has_errors(), "{} unclosed", form.name);
        }
    });
}

/// Long chains are n-ary: their length is not nesting (R2), even at a million operands.
#[test]
fn long_chains_do_not_count_as_depth() {
    small_stack(|| {
        for form in FLAT_FORMS {
            for n in [LIMIT, LIMIT + 1, 10 * LIMIT] {
                let p = parse_default(&policy(&(form.wrap)(n)));
                assert!(
                    p.diagnostics.is_empty(),
                    "{} × {n}: {:#?}",
                    form.name,
                    p.diagnostics
                );
            }
            let p = parse(&policy(&(form.wrap)(HUGE_SECONDARY)), big());
            assert!(
                depth_errors(&p).is_empty() && !p.has_errors(),
                "{} × {HUGE_SECONDARY}: {:?}",
                form.name,
                p.diagnostics.first()
            );
            // Drop, Clone and Debug of the big flat tree, still on the small stack.
            let copy = p.file.clone();
            assert_eq!(copy, p.file);
            assert!(!format!("{:?}", copy.statements.len()).is_empty());
        }
    });
}

/// The recursive passes of this crate handle a max-depth tree on the small stack: parse,
/// Drop, Debug and `Expr::walk`.
#[test]
fn recursive_passes_at_max_depth() {
    small_stack(|| {
        for form in NESTING_FORMS {
            let p = parse_default(&policy(&(form.wrap)(form.at_limit(LIMIT))));
            let file = p.file;
            let debug = format!("{file:?}");
            assert!(debug.len() > LIMIT, "{}", form.name);
            let mut nodes = 0usize;
            for s in &file.statements {
                for c in &s.conditions {
                    c.body.walk(&mut |_| nodes += 1);
                }
            }
            // Parentheses leave no node; every other form leaves one per level.
            assert!(nodes >= 1, "{}: {nodes} nodes", form.name);
            drop(file);
        }
    });
}

/// The derived `Clone` and `PartialEq` of the AST at max depth on the small stack.
///
/// Release builds pass. Unoptimised builds do not: their derived `Clone`/`PartialEq` frames are
/// large enough that about 90 levels of method-argument nesting (`x.contains(x.contains(…))`)
/// or 128 levels of record literals overflow 256 KiB (measured). Run with
/// `cargo test --release -p mandate-syntax --test limits`. Fixing it means hand-written,
/// leaner (or iterative) impls in `ast.rs`, or a lower documented limit for debug builds.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "derived Clone/PartialEq overflow a 256 KiB stack at depth 128 in debug builds"
)]
fn derived_clone_and_eq_at_max_depth() {
    small_stack(|| {
        for form in NESTING_FORMS {
            let p = parse_default(&policy(&(form.wrap)(form.at_limit(LIMIT))));
            let copy = p.file.clone();
            assert_eq!(copy, p.file, "{}", form.name);
        }
    });
}

/// Several deep policies in one file: each is reported once (recovery goes on).
#[test]
fn each_deep_policy_is_reported() {
    small_stack(|| {
        let deep = policy(&NESTING_FORMS.first().map(|f| (f.wrap)(HUGE)).unwrap());
        let src = format!("{deep}\npermit(principal, action, resource);\n{deep}\n");
        let p = parse(&src, big());
        assert_eq!(depth_errors(&p).len(), 2, "{:?}", p.diagnostics);
        assert_eq!(p.file.statements.len(), 1);
    });
}

fn with_max_bytes(n: usize) -> ParseOptions {
    ParseOptions {
        limits: ParseLimits {
            max_source_bytes: n,
            ..ParseLimits::default()
        },
        ..ParseOptions::default()
    }
}

/// R4: the size limit is checked before lexing; limit − 1 and limit pass, limit + 1 is refused
/// with a diagnostic naming the limit and the observed size.
#[test]
fn source_size_limit() {
    let src = "permit(principal, action, resource);"; // 36 bytes
    let n = src.len();
    for (max, ok) in [(n + 1, true), (n, true), (n - 1, false)] {
        let p = parse(src, with_max_bytes(max));
        if ok {
            assert!(p.diagnostics.is_empty(), "limit {max}: {:?}", p.diagnostics);
            assert_eq!(p.file.statements.len(), 1);
        } else {
            assert_eq!(p.diagnostics.len(), 1, "limit {max}");
            let d = p.diagnostics.first().unwrap();
            assert_eq!(d.code, "MD0010");
            assert!(
                d.message.contains(&format!("(bytes): {n} is more than")),
                "{}",
                d.message
            );
            assert!(
                d.message.contains(&format!("`max_source_bytes` = {max}")),
                "{}",
                d.message
            );
            assert!(p.file.statements.is_empty());
        }
    }
    // Limit − 1 / limit / limit + 1 measured against the limit rather than the source.
    let limit = 64;
    for (len, ok) in [(limit - 1, true), (limit, true), (limit + 1, false)] {
        let text = format!(
            "{}{}",
            "permit(principal, action, resource);",
            " ".repeat(len - 36)
        );
        assert_eq!(text.len(), len);
        let p = parse(&text, with_max_bytes(limit));
        assert_eq!(
            p.diagnostics.is_empty(),
            ok,
            "{len} bytes: {:?}",
            p.diagnostics
        );
    }
    // Multi-byte text: the limit is in bytes, not characters.
    let text = "// é\npermit(principal, action, resource);";
    assert_eq!(text.len(), text.chars().count() + 1);
    assert!(parse(text, with_max_bytes(text.len() - 1)).has_errors());
    assert!(!parse(text, with_max_bytes(text.len())).has_errors());
}

/// R5: diagnostics are capped, with a final "… N more" entry.
#[test]
fn diagnostics_are_capped() {
    let broken = "permit(principal = User::\"a\", action, resource);\n".repeat(30);
    let all = parse(&broken, ParseOptions::default());
    assert_eq!(all.diagnostics.len(), 30);
    let capped = parse(
        &broken,
        ParseOptions {
            limits: ParseLimits {
                max_diagnostics: 5,
                ..ParseLimits::default()
            },
            ..ParseOptions::default()
        },
    );
    assert_eq!(capped.diagnostics.len(), 6);
    let last = capped.diagnostics.last().unwrap();
    assert_eq!(last.code, "MD0099");
    assert!(last.message.contains("25 more"), "{}", last.message);
    assert!(last.message.contains("limit 5"), "{}", last.message);
    // At the cap exactly: no summary.
    let exact = parse(
        &broken,
        ParseOptions {
            limits: ParseLimits {
                max_diagnostics: 30,
                ..ParseLimits::default()
            },
            ..ParseOptions::default()
        },
    );
    assert_eq!(exact.diagnostics.len(), 30);
    assert!(exact.diagnostics.iter().all(|d| d.code != "MD0099"));
    // The default cap is 100.
    let many = "permit(principal = User::\"a\", action, resource);\n".repeat(150);
    let p = parse(&many, ParseOptions::default());
    assert_eq!(p.diagnostics.len(), 101);
}

/// R5: an input that is nothing but errors is handled in one pass (no quadratic blow-up in
/// recovery or hints). Timings are not asserted; this must simply finish quickly.
#[test]
fn all_error_input_finishes() {
    for unit in [
        ";",
        "}",
        "permit(",
        "@",
        "\"",
        "é",
        "permit(principal = ;",
        "when { ( ;",
    ] {
        let src = unit.repeat(200_000 / unit.len());
        let p = parse(&src, ParseOptions::default());
        assert!(p.has_errors(), "{unit}");
        assert!(p.diagnostics.len() <= 101, "{unit}");
    }
}

/// Checks what the fuzz target `parse_no_panic` checks: labels inside the source and on character
/// boundaries, and rendering/JSON work.
fn check_parse(src: &str) -> Result<(), TestCaseError> {
    for dialect in [Dialect::Cedar, Dialect::Mandate] {
        let p = parse(
            src,
            ParseOptions {
                dialect,
                ..ParseOptions::default()
            },
        );
        for d in &p.diagnostics {
            for l in &d.labels {
                let (s, e) = (l.span.start as usize, l.span.end as usize);
                prop_assert!(s <= e && e <= src.len(), "{} at {s}..{e}", d.message);
                prop_assert!(
                    src.is_char_boundary(s) && src.is_char_boundary(e),
                    "{}",
                    d.message
                );
            }
        }
        let source = Source::new("fuzz.cedar", src);
        let rendered = render_all(&p.diagnostics, Some(&source));
        prop_assert_eq!(rendered.is_empty(), p.diagnostics.is_empty());
        for d in &p.diagnostics {
            let _ = d.to_json(Some(&source));
        }
    }
    Ok(())
}

const SOUP: &[&str] = &[
    "permit",
    "forbid",
    "quota",
    "when",
    "unless",
    "principal",
    "action",
    "resource",
    "context",
    "if",
    "then",
    "else",
    "in",
    "has",
    "like",
    "is",
    "true",
    "false",
    "limit",
    "per",
    "by",
    "cost",
    "__cedar",
    "?principal",
    "?resource",
    "?other",
    "User",
    "Action",
    "::",
    "\"a\"",
    "\"\\u{1F600}\"",
    "\"\\q\"",
    "\"*\"",
    "\"",
    "0",
    "1",
    "9223372036854775808",
    "-",
    "1m",
    "0s",
    "1h30m",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ":",
    ".",
    "@",
    "@id",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "+",
    "*",
    "=",
    "&",
    "|",
    "/",
    "//",
    "\n",
    "é",
    "“",
    "\u{a0}",
    "ip",
    "decimal",
    "contains",
    "isEmpty",
    "getTag",
    "x",
    "\u{0}",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(SOUP), prop::bool::ANY), 0..80).prop_map(|v| {
        v.into_iter()
            .map(|(t, space)| {
                if space {
                    format!("{t} ")
                } else {
                    t.to_string()
                }
            })
            .collect()
    })
}

/// A well-formed policy with random noise spliced in: close to valid, so it reaches deep states.
fn mutated_policy() -> impl Strategy<Value = String> {
    let base = "@id(\"p\") permit(principal is User in Group::\"g\", action in [Action::\"a\"], resource) when { context.a.contains(1) && (if principal has x then -1 < 2 else ip(\"1.2.3.4\").isLoopback()) } unless { resource like \"a*\" };\nquota (principal, action, resource) limit 10 per 1m by principal cost context.n;";
    (0..base.len(), prop::sample::select(SOUP), 0usize..4).prop_map(move |(at, tok, cut)| {
        let at = (0..=at)
            .rev()
            .find(|i| base.is_char_boundary(*i))
            .unwrap_or(0);
        let (a, b) = base.split_at(at);
        let b: String = b.chars().skip(cut).collect();
        format!("{a}{tok}{b}")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn parse_never_panics_on_arbitrary_strings(src in any::<String>()) {
        check_parse(&src)?;
    }

    #[test]
    fn parse_never_panics_on_token_soup(src in soup()) {
        check_parse(&src)?;
    }

    #[test]
    fn parse_never_panics_on_mutated_policies(src in mutated_policy()) {
        check_parse(&src)?;
    }
}
