//! Authorizer semantics beyond the conformance corpus: templates and links, error modes, ids
//! across files, quotas not taking part in decisions.

use mandate_eval::request::request_from_json;
use mandate_eval::{Decision, Entities, ErrorMode, PolicySet, Uid, is_authorized};
use mandate_syntax::{ParseOptions, parse};

fn set(src: &str) -> Result<PolicySet, String> {
    let file = parse(src, ParseOptions::default())
        .into_result()
        .map_err(|d| format!("{d:?}"))?;
    let mut s = PolicySet::new();
    s.add_statements(file.statements)
        .map_err(|d| format!("{d:?}"))?;
    Ok(s)
}

fn decide(
    s: &PolicySet,
    p: &str,
    r: &str,
    mode: ErrorMode,
) -> Result<(Decision, Vec<String>, Vec<String>), String> {
    let req = serde_json::json!({"principal": {"type": "U", "id": p}, "action": {"type": "Action", "id": "a"},
        "resource": {"type": "R", "id": r}, "context": {}});
    let parsed = request_from_json(&req, None).map_err(|e| e.to_string())?;
    let resp = is_authorized(s, &parsed.request, &Entities::new(), mode);
    Ok((
        resp.decision,
        resp.reasons.iter().map(ToString::to_string).collect(),
        resp.errors.iter().map(|e| e.policy.to_string()).collect(),
    ))
}

#[test]
fn templates_apply_only_when_linked() -> Result<(), String> {
    let mut s = set(r#"@id("t") permit(principal == ?principal, action, resource == ?resource);"#)?;
    assert_eq!(
        decide(&s, "alice", "doc", ErrorMode::Cedar)?.0,
        Decision::Deny,
        "an unlinked template decides nothing"
    );
    s.link(
        "t",
        "alice-doc",
        Some(Uid::new("U", "alice")),
        Some(Uid::new("R", "doc")),
    )?;
    assert_eq!(
        decide(&s, "alice", "doc", ErrorMode::Cedar)?,
        (Decision::Allow, vec!["alice-doc".into()], vec![])
    );
    assert_eq!(
        decide(&s, "bob", "doc", ErrorMode::Cedar)?.0,
        Decision::Deny
    );
    assert!(
        s.link(
            "t",
            "alice-doc",
            Some(Uid::new("U", "x")),
            Some(Uid::new("R", "y"))
        )
        .is_err(),
        "duplicate link id"
    );
    assert!(
        s.link("t", "missing-slot", Some(Uid::new("U", "x")), None)
            .is_err(),
        "every slot needs a value"
    );
    assert!(s.link("nope", "z", None, None).is_err(), "unknown template");
    Ok(())
}

#[test]
fn error_modes_differ_only_for_erroring_forbids() -> Result<(), String> {
    let s = set(r#"permit(principal, action, resource);
                   forbid(principal, action, resource) when { context.missing };
                   permit(principal, action, resource) when { 1 + "a" == 2 };"#)?;
    let (d, reasons, errors) = decide(&s, "u", "r", ErrorMode::Cedar)?;
    assert_eq!(
        (d, reasons, errors.clone()),
        (
            Decision::Allow,
            vec!["policy0".to_string()],
            vec!["policy1".to_string(), "policy2".to_string()]
        )
    );
    let (d, reasons, errors2) = decide(&s, "u", "r", ErrorMode::DenyOnForbidError)?;
    assert_eq!((d, reasons), (Decision::Deny, vec!["policy1".to_string()]));
    assert_eq!(
        errors, errors2,
        "errors are reported the same way in both modes"
    );
    Ok(())
}

#[test]
fn positional_ids_continue_across_files_and_quotas_do_not_decide() -> Result<(), String> {
    let mut s = PolicySet::new();
    for src in [
        "permit(principal, action, resource) when { false };",
        "quota(principal, action, resource) limit 1 per 1s;\npermit(principal, action, resource);",
    ] {
        let file = parse(src, ParseOptions::default())
            .into_result()
            .map_err(|d| format!("{d:?}"))?;
        s.add_statements(file.statements)
            .map_err(|d| format!("{d:?}"))?;
    }
    let ids: Vec<String> = s.policies().iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["policy0", "policy1"]);
    assert_eq!(
        s.quotas().first().map(|q| q.id.to_string()),
        Some("quota0".to_string())
    );
    assert_eq!(
        decide(&s, "u", "r", ErrorMode::Cedar)?.1,
        vec!["policy1".to_string()]
    );
    Ok(())
}

#[test]
fn duplicate_ids_across_files_are_errors() -> Result<(), String> {
    let mut s = set(r#"@id("x") permit(principal, action, resource);"#)?;
    let file = parse(
        r#"@id("x") forbid(principal, action, resource);"#,
        ParseOptions::default(),
    )
    .into_result()
    .map_err(|d| format!("{d:?}"))?;
    let errs = s.add_statements(file.statements).err().unwrap_or_default();
    assert!(errs.first().is_some_and(|d| d.code == "MD0012"), "{errs:?}");
    Ok(())
}

#[test]
fn like_with_many_stars_on_a_long_string_is_fast_enough_and_correct() -> Result<(), String> {
    let s = set(&format!(
        "permit(principal, action, resource) when {{ context.s like \"{}b\" }};",
        "*a".repeat(50)
    ))?;
    let long = "a".repeat(100_000);
    let req = serde_json::json!({"principal": {"type": "U", "id": "u"}, "action": {"type": "Action", "id": "a"},
        "resource": {"type": "R", "id": "r"}, "context": {"s": long}});
    let parsed = request_from_json(&req, None).map_err(|e| e.to_string())?;
    assert_eq!(
        is_authorized(&s, &parsed.request, &Entities::new(), ErrorMode::Cedar).decision,
        Decision::Deny
    );
    Ok(())
}
