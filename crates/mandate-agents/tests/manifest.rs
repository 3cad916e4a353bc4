//! Manifests: parsing (good and bad), plan, apply with and without prune.
#![expect(clippy::unwrap_used, reason = "test code")]

use mandate_agents::{
    AgentState, EntityRef, Manifest, MemoryRegistry, Registry, RegistryError, apply,
    parse_entity_ref, plan,
};

const GOOD: &str = r#"
[[agent]]
type = "Platform::Agent"
id = "planner"
owner = 'Platform::Human::"alice"'
display_name = "Planning agent"
parents = ['Platform::Team::"research"', { type = "Platform::Team", id = "all" }]
expires = "2027-06-30T00:00:00Z"
[agent.attributes]
trust_level = 3
tags = ["a", "b"]
limits = { daily = 10 }

[[agent]]
type = "Platform::Agent"
id = 'we"ird\n'
owner = { type = "Platform::Human", id = "bob" }
expires = 2027-06-30T00:00:00Z
"#;

#[test]
fn parses_a_good_manifest() {
    let m = Manifest::from_toml_str(GOOD).unwrap();
    assert_eq!(m.agents.len(), 2);
    let a = m.agents.first().unwrap();
    assert_eq!(a.owner, EntityRef::new("Platform::Human", "alice"));
    assert_eq!(a.display_name.as_deref(), Some("Planning agent"));
    assert_eq!(
        a.parents,
        [
            EntityRef::new("Platform::Team", "research"),
            EntityRef::new("Platform::Team", "all")
        ]
    );
    assert_eq!(a.expires_ms, Some(1_814_313_600_000));
    assert_eq!(
        serde_json::Value::Object(a.attributes.clone()),
        serde_json::json!({"trust_level": 3, "tags": ["a", "b"], "limits": {"daily": 10}})
    );
    let b = m.agents.get(1).unwrap();
    // A TOML literal string: the backslash is data.
    assert_eq!(b.id, "we\"ird\\n");
    assert_eq!(b.expires_ms, Some(1_814_313_600_000));
    assert!(Manifest::from_toml_str("").unwrap().agents.is_empty());
}

#[test]
fn entity_refs_parse_with_escapes() {
    let r = parse_entity_ref(r#"A::B::"x\"y\\z\n\t\0\u{1F980}\u{41}'""#).unwrap();
    assert_eq!(r, EntityRef::new("A::B", "x\"y\\z\n\t\0🦀A'"));
    assert_eq!(
        parse_entity_ref(r#"T::"a\"); permit(""#).unwrap().id,
        "a\"); permit("
    );
    for (bad, message) in [
        ("alice", "expected an entity reference"),
        (r#"T::"open"#, "unterminated string"),
        (
            r#"T::"a"b"#,
            "unexpected text \"b\" after the closing quote",
        ),
        (r#"T::"a\q""#, "unknown escape `\\q`"),
        (r#"T::"\u{110000}""#, "is not a Unicode scalar value"),
        (r#"T::"\u{}""#, "malformed `\\u{...}` escape"),
        (r#"T::"\u41""#, "expected `{` after `\\u`"),
        (r#"1T::"a""#, "is not an entity type name"),
        (r#" T::"a""#, "is not an entity type name"),
    ] {
        let err = parse_entity_ref(bad).unwrap_err();
        assert!(err.contains(message), "{bad}: {err}");
    }
}

fn err_of(text: &str) -> String {
    Manifest::from_toml_str(text).unwrap_err().to_string()
}

#[test]
fn bad_manifests_say_where_and_why() {
    let e = err_of(
        "[[agent]]\ntype = \"Platform::Agent\"\nid = \"a\"\nowner = 'Platform::Human::\"alice'\n",
    );
    assert_eq!(
        e,
        "agent #1 (id \"a\"): owner: unterminated string: the id has no closing `\"`\n  hint: write an entity reference as 'Type::\"id\"' (TOML literal string) or as { type = \"Type\", id = \"id\" }"
    );

    let e = err_of(
        "[[agent]]\ntype = \"A\"\nid = \"ok\"\nowner = 'H::\"a\"'\n[[agent]]\ntype = \"A\"\nid = \"x\"\nowner = 'H::\"a\"'\nexpires = \"tomorrow\"\n",
    );
    assert!(
        e.starts_with("agent #2 (id \"x\"): `expires` \"tomorrow\" is not an RFC 3339 time"),
        "{e}"
    );
    assert!(e.contains("hint: write an RFC 3339 time"), "{e}");

    let e = err_of(
        "[[agent]]\ntype = \"A\"\nid = \"x\"\nowner = 'H::\"a\"'\n[agent.attributes]\nscore = 0.5\n",
    );
    assert!(e.contains("attribute `score` is a float"), "{e}");
    assert!(e.contains("decimal"), "{e}");

    let e = err_of("[[agent]]\ntype = \"A::\"\nid = \"x\"\nowner = 'H::\"a\"'\n");
    assert!(
        e.starts_with("agent #1 (id \"x\"): `type` \"A::\" is not an entity type name"),
        "{e}"
    );

    let e = err_of(
        "[[agent]]\ntype = \"A\"\nid = \"x\"\nowner = 'H::\"a\"'\n[[agent]]\ntype = \"A\"\nid = \"x\"\nowner = 'H::\"b\"'\n",
    );
    assert!(
        e.starts_with("agent #2 (id \"x\"): A::\"x\" is listed twice"),
        "{e}"
    );

    // Unknown fields and missing fields come from the TOML parser, with the line.
    let e = err_of("[[agent]]\ntype = \"A\"\nid = \"x\"\nowner = 'H::\"a\"'\ncolour = \"red\"\n");
    assert!(e.contains("unknown field `colour`"), "{e}");
    assert!(e.contains("line 5"), "{e}");
    let e = err_of("[[agent]]\ntype = \"A\"\nid = \"x\"\n");
    assert!(e.contains("missing field `owner`"), "{e}");
    let e = err_of("[[agent]\n");
    assert!(e.contains("hint: each agent is an [[agent]] table"), "{e}");

    // Hostile ids are escaped in messages.
    let e = err_of("[[agent]]\ntype = \"A\"\nid = \"a\\nb\\u202E\"\nowner = 'H::x'\n");
    assert!(
        e.starts_with("agent #1 (id \"a\\nb\\u{202e}\"): owner:"),
        "{e}"
    );
}

#[test]
fn missing_file_is_reported() {
    let e = Manifest::from_path(std::path::Path::new("/nonexistent/agents.toml")).unwrap_err();
    assert!(
        e.to_string().starts_with("/nonexistent/agents.toml: "),
        "{e}"
    );
}

#[test]
fn plan_and_apply() {
    let reg = MemoryRegistry::new();
    let owner = EntityRef::new("Platform::Human", "alice");
    reg.register(
        mandate_agents::AgentSpec::new("Platform::Agent", "legacy", owner.clone()),
        "ops",
        "old",
        1,
    )
    .unwrap();
    let m = Manifest::from_toml_str(GOOD).unwrap();

    let p = plan(&m, &reg).unwrap();
    assert_eq!(p.register.len(), 2);
    assert!(p.update.is_empty());
    assert_eq!(
        p.unlisted,
        [("Platform::Agent".to_owned(), "legacy".to_owned())]
    );
    let report = apply(p, &reg, false, "ci", "manifest v1", 5).unwrap();
    assert_eq!(report.registered.len(), 2);
    assert_eq!(report.kept, [EntityRef::new("Platform::Agent", "legacy")]);
    assert!(report.revoked.is_empty());
    assert!(matches!(
        reg.state("Platform::Agent", "legacy").unwrap(),
        Some((AgentState::Active, None))
    ));

    // Applying again changes nothing.
    let p = plan(&m, &reg).unwrap();
    assert!(p.is_empty());
    assert_eq!(p.unchanged, 2);

    // A change shows the changed fields; prune revokes the unlisted agent.
    let changed = GOOD.replace("trust_level = 3", "trust_level = 4").replace(
        "display_name = \"Planning agent\"",
        "display_name = \"Planner\"",
    );
    let m2 = Manifest::from_toml_str(&changed).unwrap();
    let p = plan(&m2, &reg).unwrap();
    assert_eq!(p.update.len(), 1);
    let (spec, fields) = p.update.first().unwrap();
    assert_eq!(spec.id, "planner");
    assert_eq!(fields, &["display_name", "attributes"]);
    assert_eq!(p.unchanged, 1);
    let report = apply(p, &reg, true, "ci", "manifest v2", 6).unwrap();
    assert_eq!(
        report.updated,
        [EntityRef::new("Platform::Agent", "planner")]
    );
    assert_eq!(
        report.revoked,
        [EntityRef::new("Platform::Agent", "legacy")]
    );
    let legacy = reg.get("Platform::Agent", "legacy").unwrap().unwrap();
    assert!(matches!(legacy.state, AgentState::Revoked { .. }));
    assert_eq!(legacy.history.last().unwrap().actor, "ci");
    let planner = reg.get("Platform::Agent", "planner").unwrap().unwrap();
    assert_eq!(planner.display_name.as_deref(), Some("Planner"));

    // Revoked agents are not "unlisted" any more, and listing one is an error.
    let p = plan(&m2, &reg).unwrap();
    assert!(p.unlisted.is_empty());
    let with_legacy = format!(
        "{changed}\n[[agent]]\ntype = \"Platform::Agent\"\nid = \"legacy\"\nowner = 'Platform::Human::\"alice\"'\n"
    );
    let m3 = Manifest::from_toml_str(&with_legacy).unwrap();
    let err = plan(&m3, &reg).unwrap_err();
    assert!(matches!(err, RegistryError::Revoked { .. }));
    assert!(err.to_string().contains("identities are never reused"));
}
