//! The lints, one behaviour per test, through one helper (`lint`), plus the check that
//! `docs/lints.md` matches the lints' doc comments.
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use mandate_syntax::{Dialect, ParseOptions, Severity, Source, parse};
use mandate_validate::lint::{self, LINTS, LintConfig, LintFile, LintOptions};
use mandate_validate::schema::Schema;

const SCHEMA: &str = r#"
namespace Platform {
  entity Team;
  entity Human in [Team] { clearance: Long, nickname?: String };
  entity Agent in [Team] { owner: Human, trust_level: Long, profile: { tier: Long, label?: String } } tags String;
  entity Bot in [Team];
  entity Tool { risk: Long };
  entity Document { owner: Human, sensitivity: Long };
  type Ctx = { env: String, now: datetime, cost_cents: Long, ticket?: String };
  action "ToolActions";
  action "InvokeTool" in ["ToolActions"] appliesTo { principal: [Agent, Human, Bot], resource: [Tool], context: Ctx };
  action "ConfigureTool" in ["ToolActions"] appliesTo { principal: [Agent, Human], resource: [Tool], context: Ctx };
  action "ReadDocument" appliesTo { principal: [Agent, Human], resource: [Document], context: Ctx };
}
"#;

/// Options of one lint run.
#[derive(Default)]
struct Run<'a> {
    schema: bool,
    now: Option<&'a str>,
    directory: bool,
    config: &'a str,
}

/// One finding: code, severity, message and the underlined text of the primary label.
#[derive(Debug, PartialEq)]
struct Found {
    code: &'static str,
    severity: Severity,
    message: String,
    underlined: String,
}

/// Lints `files` (name, text) and returns every finding, file by file.
#[track_caller]
fn lint(files: &[(&str, &str)], run: &Run<'_>) -> Vec<Found> {
    let schema = run
        .schema
        .then(|| Schema::from_cedarschema(SCHEMA).unwrap());
    let config = LintConfig::from_toml_str(run.config).unwrap();
    let sources: Vec<Source> = files.iter().map(|(n, t)| Source::new(*n, *t)).collect();
    let parsed: Vec<_> = files
        .iter()
        .map(|(n, t)| {
            parse(
                t,
                ParseOptions {
                    dialect: Dialect::for_path(std::path::Path::new(n)),
                    ..ParseOptions::default()
                },
            )
        })
        .collect();
    for p in &parsed {
        assert!(!p.has_errors(), "{:?}", p.diagnostics);
    }
    let lint_files: Vec<LintFile<'_>> = sources
        .iter()
        .zip(&parsed)
        .map(|(s, p)| LintFile {
            source: s,
            statements: &p.file.statements,
            parsed_cleanly: true,
        })
        .collect();
    let options = LintOptions {
        schema: schema.as_ref(),
        config: &config,
        now_millis: run.now.map(|n| lint::parse_datetime(n).unwrap()),
        policy_directory: run.directory,
    };
    let out = lint::lint(&lint_files, &options);
    let mut found = Vec::new();
    for (src, diags) in sources.iter().zip(out) {
        for d in diags {
            found.push(Found {
                code: d.code,
                severity: d.severity,
                underlined: d
                    .span()
                    .map(|s| src.slice(s).to_string())
                    .unwrap_or_default(),
                message: d.message,
            });
        }
    }
    found
}

fn codes(found: &[Found]) -> Vec<&'static str> {
    found.iter().map(|f| f.code).collect()
}

#[track_caller]
fn one(src: &str, run: &Run<'_>) -> Vec<&'static str> {
    codes(&lint(&[("p.mandate", src)], run))
}

fn with_schema() -> Run<'static> {
    Run {
        schema: true,
        ..Run::default()
    }
}

// ---- docs and metadata -------------------------------------------------------------------

#[test]
fn docs_lints_md_is_generated_from_the_doc_comments() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/lints.md");
    let want = lint::markdown();
    if std::env::var_os("MANDATE_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/lints.md is stale: regenerate it with `MANDATE_UPDATE_DOCS=1 cargo test -p mandate-validate --test lints`"
    );
}

#[test]
fn every_lint_has_a_unique_code_a_kebab_name_and_the_doc_sections() {
    for (i, l) in LINTS.iter().enumerate() {
        assert_eq!(l.code, format!("MDL{:03}", i + 1), "codes are sequential");
        assert!(
            l.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
            "{}",
            l.name
        );
        for section in [
            "## What it flags",
            "## Why it matters",
            "## Example",
            "## Use instead",
        ] {
            assert!(
                l.doc_lines().any(|line| line == section),
                "{} lacks {section}",
                l.code
            );
        }
        assert_eq!(lint::find(l.name), Some(l));
        assert_eq!(lint::find(&l.code.to_lowercase()), Some(l));
    }
}

// ---- MDL001 unconstrained-permit ---------------------------------------------------------

#[test]
fn unconstrained_permit_flags_a_bare_permit_and_a_trivial_condition() {
    let found = lint(
        &[("p.cedar", "permit (principal, action, resource);")],
        &Run::default(),
    );
    assert_eq!(codes(&found), ["MDL001"]);
    assert_eq!(found[0].underlined, "permit");
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(
        one(
            "permit (principal, action, resource) when { true };",
            &Run::default()
        ),
        ["MDL001"]
    );
    assert_eq!(
        one(
            "permit (principal, action, resource) unless { false };",
            &Run::default()
        ),
        ["MDL001"]
    );
}

#[test]
fn unconstrained_permit_ignores_forbids_and_conditions() {
    assert!(one("forbid (principal, action, resource);", &Run::default()).is_empty());
    assert!(
        one(
            "permit (principal, action, resource) when { context.ok };",
            &Run::default()
        )
        .is_empty()
    );
    // With a schema, the unconstrained permit is not also reported as unmetered.
    assert_eq!(
        one("permit (principal, action, resource);", &with_schema()),
        ["MDL001"]
    );
}

// ---- MDL002 agent-wildcard-permit --------------------------------------------------------

#[test]
fn agent_wildcard_permit_flags_any_action_or_any_resource() {
    let found = lint(
        &[(
            "p.cedar",
            "permit (principal is Platform::Agent, action, resource is Platform::Tool);",
        )],
        &Run::default(),
    );
    assert_eq!(codes(&found), ["MDL002"]);
    assert_eq!(
        found[0].message,
        "this permit lets agents (`Platform::Agent`) perform any action"
    );
    let found = lint(
        &[(
            "p.cedar",
            r#"permit (principal == Platform::Agent::"a", action == Platform::Action::"InvokeTool", resource);"#,
        )],
        &Run::default(),
    );
    assert_eq!(
        found[0].message,
        "this permit lets agents (`Platform::Agent`) act on any resource"
    );
}

#[test]
fn agent_wildcard_permit_uses_the_schema_to_find_agents_in_groups() {
    let src = r#"permit (principal in Platform::Team::"ops", action, resource is Platform::Tool);"#;
    // Without a schema, nothing says agents can be in teams.
    assert!(one(src, &Run::default()).is_empty());
    assert_eq!(one(src, &with_schema()), ["MDL002", "MDL003"]);
    // Configured agent types count too.
    let src = r#"permit (principal is Platform::Bot, action, resource);"#;
    assert!(one(src, &Run::default()).is_empty());
    let run = Run {
        config: "[lint]\nagent-types = [\"Platform::Bot\"]\n",
        ..Run::default()
    };
    assert_eq!(one(src, &run), ["MDL002"]);
}

#[test]
fn agent_wildcard_permit_ignores_conditions_and_humans() {
    assert!(
        one(
            "permit (principal is Platform::Agent, action, resource) when { principal.trust_level > 2 };",
            &Run::default()
        )
        .is_empty()
    );
    assert!(
        one(
            "permit (principal is Platform::Human, action, resource);",
            &Run::default()
        )
        .is_empty()
    );
}

// ---- MDL003 unmetered-agent-action -------------------------------------------------------

const AGENT_INVOKES: &str = r#"
@id("agents-invoke")
permit (principal is Platform::Agent, action == Platform::Action::"InvokeTool", resource)
when { resource.risk < 2 };
"#;

#[test]
fn unmetered_agent_action_needs_a_quota_covering_the_action() {
    let found = lint(&[("p.mandate", AGENT_INVOKES)], &with_schema());
    assert_eq!(codes(&found), ["MDL003"]);
    assert_eq!(found[0].underlined, r#"Platform::Action::"InvokeTool""#);
    assert_eq!(
        found[0].message,
        r#"agents (`Platform::Agent`) can be permitted `Platform::Action::"InvokeTool"`, which no quota limits"#
    );
    // A quota on the action group, in another file, covers it.
    let quota = r#"
@id("tools") quota (principal, action in Platform::Action::"ToolActions", resource) limit 10 per 1m;
"#;
    let found = lint(
        &[("p.mandate", AGENT_INVOKES), ("q.mandate", quota)],
        &with_schema(),
    );
    assert!(found.is_empty(), "{found:?}");
    // A quota for humans only does not.
    let quota = r#"
@id("tools") quota (principal is Platform::Human, action, resource) limit 10 per 1m;
"#;
    let found = lint(
        &[("p.mandate", AGENT_INVOKES), ("q.mandate", quota)],
        &with_schema(),
    );
    assert_eq!(codes(&found), ["MDL003"]);
}

#[test]
fn unmetered_agent_action_is_silent_without_a_schema_and_for_humans() {
    assert!(one(AGENT_INVOKES, &Run::default()).is_empty());
    assert!(
        one(
            r#"permit (principal is Platform::Human, action == Platform::Action::"InvokeTool", resource);"#,
            &with_schema()
        )
        .is_empty()
    );
}

// ---- MDL004 missing-policy-id, MDL005 duplicate-policy-id --------------------------------

#[test]
fn missing_policy_id_only_in_a_policy_directory() {
    let src = "permit (principal, action, resource) when { context.ok };\n@id(\"q\") quota (principal, action, resource) limit 1 per 1s;\nquota (principal, action, resource) limit 2 per 1s;";
    assert!(one(src, &Run::default()).is_empty());
    let run = Run {
        directory: true,
        ..Run::default()
    };
    let found = lint(&[("p.mandate", src)], &run);
    assert_eq!(codes(&found), ["MDL004", "MDL004"]);
    assert_eq!(found[0].message, "policy without an `@id`");
    assert_eq!(found[1].message, "quota without an `@id`");
    assert_eq!(found[1].underlined, "quota");
}

#[test]
fn duplicate_policy_id_across_files() {
    let a = "@id(\"p\") permit (principal, action, resource) when { context.a };";
    let b = "// another file\n@id(\"p\") permit (principal, action, resource) when { context.b };";
    let found = lint(&[("a.cedar", a), ("b.cedar", b)], &Run::default());
    assert_eq!(codes(&found), ["MDL005"]);
    assert_eq!(found[0].message, "policy id `p` is also used in `a.cedar`");
    assert_eq!(found[0].underlined, "@id(\"p\")");
}

// ---- MDL006 duplicate-policy -------------------------------------------------------------

#[test]
fn duplicate_policy_ignores_ids_and_layout() {
    let src = r#"
@id("a") permit (principal, action, resource) when { context.x == 1 };
@id("b")
permit (
  principal,
  action,
  resource
)
when { context.x == 1 }; // same
@id("c") permit (principal, action, resource) when { context.x == 2 };
@id("d") forbid (principal, action, resource) when { context has x && context.x == 1 };
"#;
    let found = lint(&[("p.cedar", src)], &Run::default());
    assert_eq!(codes(&found), ["MDL006"]);
    assert_eq!(found[0].message, "this permit repeats permit `a`");
}

// ---- MDL007 shadowed-by-forbid -----------------------------------------------------------

#[test]
fn shadowed_by_forbid_when_the_forbid_covers_the_scope() {
    let src = r#"
@id("freeze") forbid (principal, action == Platform::Action::"InvokeTool", resource);
@id("p") permit (principal == Platform::Human::"bob", action == Platform::Action::"InvokeTool", resource == Platform::Tool::"t");
@id("q") permit (principal == Platform::Human::"bob", action == Platform::Action::"ReadDocument", resource);
"#;
    let found = lint(&[("p.cedar", src)], &Run::default());
    assert_eq!(codes(&found), ["MDL007"]);
    assert_eq!(
        found[0].message,
        "this permit never allows anything: forbid `freeze` overrides it on every request it matches"
    );
}

#[test]
fn shadowed_by_forbid_uses_action_groups_from_the_schema() {
    let src = r#"
@id("no-tools") forbid (principal is Platform::Human, action in Platform::Action::"ToolActions", resource);
@id("p") permit (principal is Platform::Human, action in [Platform::Action::"InvokeTool", Platform::Action::"ConfigureTool"], resource is Platform::Tool);
"#;
    assert!(one(src, &Run::default()).is_empty());
    assert_eq!(one(src, &with_schema()), ["MDL007"]);
}

#[test]
fn a_conditioned_or_narrower_forbid_shadows_nothing() {
    let src = r#"
@id("f") forbid (principal, action, resource) when { context.frozen };
@id("g") forbid (principal is Platform::Agent, action, resource);
@id("p") permit (principal in Platform::Team::"ops", action, resource) when { context.ok };
"#;
    assert!(!one(src, &Run::default()).contains(&"MDL007"));
}

// ---- MDL008 fallible-forbid --------------------------------------------------------------

#[track_caller]
fn fallible(condition: &str, run: &Run<'_>) -> Vec<String> {
    let src = format!(
        "@id(\"f\") forbid (principal is Platform::Agent, action == Platform::Action::\"InvokeTool\", resource is Platform::Tool) {condition};"
    );
    let found = lint(&[("p.cedar", &src)], run);
    found
        .into_iter()
        .filter(|f| f.code == "MDL008")
        .map(|f| f.underlined)
        .collect()
}

#[test]
fn fallible_forbid_flags_unguarded_attributes_without_a_schema() {
    assert_eq!(
        fallible("when { resource.risk > 2 }", &Run::default()),
        ["resource.risk"]
    );
    assert_eq!(
        fallible("when { principal.owner.clearance < 2 }", &Run::default()),
        ["principal.owner"]
    );
}

#[test]
fn fallible_forbid_accepts_has_guards() {
    for guarded in [
        "when { resource has risk && resource.risk > 2 }",
        "when { !(resource has risk) || resource.risk > 2 }",
        "when { if resource has risk then resource.risk > 2 else true }",
        "when { resource has risk } when { resource.risk > 2 }",
        "unless { !(resource has risk) } when { resource.risk > 2 }",
        "when { principal has owner.clearance && principal.owner.clearance < 2 }",
        "when { principal.hasTag(\"x\") && principal.getTag(\"x\") == \"y\" }",
        "when { {a: 1}.a == 1 }",
        "when { datetime(\"2025-01-01\") < datetime(\"2026-01-01\") }",
        "when { 1 + 2 * 3 == 7 }",
    ] {
        let found = fallible(guarded, &Run::default());
        assert!(found.is_empty(), "{guarded}: {found:?}");
    }
    // The guard must come first, and be on the same expression.
    assert_eq!(
        fallible(
            "when { resource.risk > 2 && resource has risk }",
            &Run::default()
        ),
        ["resource.risk"]
    );
    assert_eq!(
        fallible(
            "when { principal has risk && resource.risk > 2 }",
            &Run::default()
        ),
        ["resource.risk"]
    );
}

#[test]
fn fallible_forbid_trusts_required_attributes_of_the_schema() {
    assert!(
        fallible(
            "when { resource.risk > 2 && context.env == \"prod\" }",
            &with_schema()
        )
        .is_empty()
    );
    assert!(
        fallible(
            "when { principal.owner.clearance < 2 && principal.profile.tier > 1 }",
            &with_schema()
        )
        .is_empty()
    );
    // Optional attributes still need a guard.
    assert_eq!(
        fallible("when { context.ticket == \"\" }", &with_schema()),
        ["context.ticket"]
    );
    assert_eq!(
        fallible("when { principal.profile.label == \"x\" }", &with_schema()),
        ["principal.profile.label"]
    );
    assert!(
        fallible(
            "when { principal.profile has label && principal.profile.label == \"x\" }",
            &with_schema()
        )
        .is_empty()
    );
}

#[test]
fn fallible_forbid_flags_tags_overflow_and_constructors() {
    assert_eq!(
        fallible(
            "when { principal.getTag(\"team\") == \"x\" }",
            &with_schema()
        ),
        ["principal.getTag(\"team\")"]
    );
    assert_eq!(
        fallible(
            "when { context.cost_cents * (4 - principal.trust_level) > 10 }",
            &with_schema()
        ),
        ["context.cost_cents * (4 - principal.trust_level)"]
    );
    assert_eq!(
        fallible("when { 9223372036854775807 + 1 > 0 }", &Run::default()),
        ["9223372036854775807 + 1"]
    );
    assert_eq!(
        fallible("when { ip(context.env).isLoopback() }", &with_schema()),
        ["ip(context.env)"]
    );
    assert_eq!(
        fallible(
            "when { context.now.offset(duration(\"1d\")) > context.now }",
            &with_schema()
        ),
        ["context.now.offset(duration(\"1d\"))"]
    );
}

#[test]
fn fallible_forbid_ignores_permits() {
    let src = "permit (principal, action, resource) when { resource.risk > 2 };";
    assert!(one(src, &Run::default()).is_empty());
}

// ---- MDL009 expired-grant ----------------------------------------------------------------

#[track_caller]
fn expired(condition: &str, now: &str) -> Vec<String> {
    let src = format!(
        "@id(\"g\") permit (principal == Platform::Human::\"a\", action, resource) {condition};"
    );
    let run = Run {
        now: Some(now),
        ..Run::default()
    };
    lint(&[("p.cedar", &src)], &run)
        .into_iter()
        .filter(|f| f.code == "MDL009")
        .map(|f| format!("{} | {}", f.message, f.underlined))
        .collect()
}

#[test]
fn expired_grant_recognises_every_form_of_end_date() {
    let now = "2026-01-01T00:00:00Z";
    for guard in [
        "when { context.now < datetime(\"2025-07-01\") }",
        "when { context.now <= datetime(\"2025-07-01\") }",
        "when { datetime(\"2025-07-01\") > context.now }",
        "when { datetime(\"2025-07-01\") >= context.now }",
        "when { context.now.lessThan(datetime(\"2025-07-01\")) }",
        "when { datetime(\"2025-07-01\").greaterThanOrEqual(context.now) }",
        "when { context.ok && context.now < datetime(\"2025-07-01\") }",
        "unless { context.now >= datetime(\"2025-07-01\") }",
        "unless { context.blocked || datetime(\"2025-07-01\") < context.now }",
    ] {
        let found = expired(guard, now);
        assert_eq!(found.len(), 1, "{guard}");
        assert!(
            found[0].starts_with("this permit expired at `2025-07-01T00:00:00Z` | "),
            "{}",
            found[0]
        );
    }
}

#[test]
fn expired_grant_ignores_future_ends_starts_and_other_positions() {
    let now = "2026-01-01T00:00:00Z";
    for guard in [
        "when { context.now < datetime(\"2027-01-01\") }",
        "when { context.now >= datetime(\"2025-07-01\") }",
        "when { context.now < datetime(\"2025-07-01\") || context.override }",
        "when { context.start < datetime(\"2025-07-01\") }",
    ] {
        assert!(expired(guard, now).is_empty(), "{guard}");
    }
    // `<=` keeps the end instant itself; `<` does not.
    let end = "when { context.now <= datetime(\"2026-01-01\") }";
    assert!(expired(end, now).is_empty());
    let end = "when { context.now < datetime(\"2026-01-01\") }";
    assert_eq!(expired(end, now).len(), 1);
}

// ---- MDL010 bidi-control-character, MDL011 mixed-script-string ---------------------------

#[test]
fn bidi_control_characters_anywhere_are_errors() {
    let src = "// hidden \u{202e} text\n@id(\"a\") permit (principal, action, resource) when { context.s == \"\u{2066}x\" };";
    let found = lint(&[("p.cedar", src)], &Run::default());
    assert_eq!(codes(&found), ["MDL010", "MDL010"]);
    assert_eq!(
        found[0].message,
        "bidirectional-control character U+202E (RIGHT-TO-LEFT OVERRIDE)"
    );
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(found[0].underlined, "\u{202e}");
}

#[test]
fn mixed_script_strings_are_flagged_and_single_scripts_are_not() {
    let src = "@id(\"a\") permit (principal == Platform::Human::\"\u{430}dmin\", action, resource) when { context.city == \"東京-Tokyo\" && context.name == \"Москва\" };";
    let found = lint(&[("p.cedar", src)], &Run::default());
    assert_eq!(codes(&found), ["MDL011"]);
    assert_eq!(
        found[0].message,
        "`\u{430}dmin` mixes Cyrillic and Latin letters (U+0430 is Cyrillic)"
    );
    assert_eq!(found[0].underlined, "Platform::Human::\"\u{430}dmin\"");
}

// ---- configuration and @allow ------------------------------------------------------------

#[test]
fn allow_annotations_silence_lints_by_code_or_name() {
    let src = r#"
@id("a") @allow("MDL001") permit (principal, action, resource);
@id("b") @allow("mdl002, unrelated-words") permit (principal is Platform::Agent, action, resource);
@id("c") @allow("agent-wildcard-permit") permit (principal is Platform::Agent, action, resource is Platform::Tool);
@id("d") @allow("") permit (principal is Platform::Agent, action, resource) when { context.ok };
"#;
    let found = lint(&[("p.cedar", src)], &Run::default());
    let got: Vec<(&str, &str)> = found.iter().map(|f| (f.code, f.message.as_str())).collect();
    assert_eq!(
        got,
        [
            ("MDL012", "unknown lint `unrelated-words`"),
            ("MDL012", "`@allow` names no lint"),
        ]
    );
}

#[test]
fn configured_levels_override_the_defaults() {
    let src = "permit (principal, action, resource);\nforbid (principal, action, resource) when { resource.x };";
    let run = Run {
        config: "[lint]\nwarn = [\"unconstrained-permit\"]\ndeny = [\"MDL008\"]\n",
        ..Run::default()
    };
    let found = lint(&[("p.cedar", src)], &run);
    let got: Vec<(&str, Severity)> = found.iter().map(|f| (f.code, f.severity)).collect();
    assert_eq!(
        got,
        [("MDL001", Severity::Warning), ("MDL008", Severity::Error)]
    );
    let run = Run {
        config: "[lint]\nallow = [\"unconstrained-permit\", \"fallible-forbid\"]\n",
        ..Run::default()
    };
    assert!(lint(&[("p.cedar", src)], &run).is_empty());
}

#[test]
fn files_with_parse_errors_get_only_the_text_lints() {
    let text = "permit (principal, action, resource);\npermit (principal = \u{202e}";
    let parsed = parse(text, ParseOptions::default());
    assert!(parsed.has_errors());
    let source = Source::new("p.cedar", text);
    let config = LintConfig::default();
    let out = lint::lint(
        &[LintFile {
            source: &source,
            statements: &parsed.file.statements,
            parsed_cleanly: false,
        }],
        &LintOptions {
            schema: None,
            config: &config,
            now_millis: None,
            policy_directory: true,
        },
    );
    let got: Vec<&str> = out[0].iter().map(|d| d.code).collect();
    assert_eq!(got, ["MDL010"]);
}
