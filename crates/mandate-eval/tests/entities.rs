//! Entity JSON and requests: bad input gets a clear error with its JSON path, never a panic;
//! the ancestor closure is transitive; cycles are reported with an entity on the cycle.

use mandate_eval::request::request_from_json;
use mandate_eval::{Entities, Uid, Value};
use mandate_validate::schema::Schema;

fn err(text: &str) -> String {
    match Entities::from_json_str(text, None) {
        Ok(_) => String::from("<accepted>"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn closure_is_transitive() -> Result<(), String> {
    let es = Entities::from_json_str(
        r#"[{"uid": {"type": "T", "id": "a"}, "attrs": {}, "parents": [{"type": "T", "id": "b"}]},
            {"uid": {"type": "T", "id": "b"}, "attrs": {}, "parents": [{"type": "T", "id": "c"}]},
            {"uid": {"type": "T", "id": "c"}, "attrs": {}, "parents": [{"type": "G", "id": "missing"}]}]"#,
        None,
    )
    .map_err(|e| e.to_string())?;
    let a = es.get(&Uid::new("T", "a")).ok_or("a")?;
    for anc in [
        Uid::new("T", "b"),
        Uid::new("T", "c"),
        Uid::new("G", "missing"),
    ] {
        assert!(
            a.ancestors.contains(&anc),
            "{anc} should be an ancestor of a"
        );
    }
    assert_eq!(a.ancestors.len(), 3);
    Ok(())
}

#[test]
fn cycles_are_reported_with_an_entity_on_the_cycle() {
    let e = err(
        r#"[{"uid": {"type": "T", "id": "a"}, "attrs": {}, "parents": [{"type": "T", "id": "b"}]},
                   {"uid": {"type": "T", "id": "b"}, "attrs": {}, "parents": [{"type": "T", "id": "a"}]}]"#,
    );
    assert!(e.contains("cycle through `T::\""), "{e}");
    let e = err(
        r#"[{"uid": {"type": "T", "id": "a"}, "attrs": {}, "parents": [{"type": "T", "id": "a"}]}]"#,
    );
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn malformed_entities_name_the_json_path() {
    let cases = [
        ("{}", "$: expected an array of entities"),
        ("[1]", "$[0]: expected an entity object"),
        (r#"[{"attrs": {}}]"#, "$[0]: entity has no `uid`"),
        (
            r#"[{"uid": {"type": "T"}}]"#,
            "$[0].uid: expected an entity reference",
        ),
        (
            r#"[{"uid": {"type": "T", "id": "a"}, "attrs": {"x": 1.5}}]"#,
            "$[0].attrs.x: `1.5` is not a 64-bit integer",
        ),
        (
            r#"[{"uid": {"type": "T", "id": "a"}, "attrs": {"x": null}}]"#,
            "$[0].attrs.x: `null` is not a value",
        ),
        (
            r#"[{"uid": {"type": "T", "id": "a"}, "attrs": {"x": {"__extn": {"fn": "decimal", "arg": "1.23456"}}}}]"#,
            "$[0].attrs.x:",
        ),
        (
            r#"[{"uid": {"type": "T", "id": "a"}, "attrs": {"x": {"__extn": {"fn": "nope", "arg": "1"}}}}]"#,
            "unknown extension function `nope`",
        ),
        (
            r#"[{"uid": {"type": "T", "id": "a"}, "parents": [1]}]"#,
            "$[0].parents[0]",
        ),
        (
            r#"[{"uid": {"type": "T", "id": "a"}, "extra": 1}]"#,
            "unexpected field `extra`",
        ),
        (
            r#"[{"uid": {"type": "T", "id": "a"}}, {"uid": {"type": "T", "id": "a"}, "attrs": {"x": 1}}]"#,
            "duplicate entity `T::\"a\"`",
        ),
        (
            r#"[{"uid": {"type": "Not A Type", "id": "a"}}]"#,
            "not a valid entity type name",
        ),
        ("[", "invalid JSON"),
    ];
    for (input, want) in cases {
        let got = err(input);
        assert!(
            got.contains(want),
            "input {input}: expected `{want}` in `{got}`"
        );
    }
}

/// As in Cedar (`cedar-policy` 4.x accepts an entity listed twice when both copies are equal, and
/// refuses only copies that differ): found by the `decisions_match_cedar` fuzz target
/// (fuzz/regressions/decisions_match_cedar/identical_duplicate_entity).
#[test]
fn identical_duplicate_entities_are_accepted_as_in_cedar() -> Result<(), String> {
    let es = Entities::from_json_str(
        r#"[{"uid": {"type": "T", "id": "a"}, "attrs": {"n": 1, "s": [2, 1]}, "parents": [{"type": "G", "id": "g"}, {"type": "G", "id": "h"}]},
            {"uid": {"type": "G", "id": "g"}, "attrs": {}, "parents": []},
            {"uid": {"type": "T", "id": "a"}, "attrs": {"s": [1, 2], "n": 1}, "parents": [{"type": "G", "id": "h"}, {"type": "G", "id": "g"}]}]"#,
        None,
    )
    .map_err(|e| e.to_string())?;
    assert_eq!(es.len(), 2);
    let a = es.get(&Uid::new("T", "a")).ok_or("a")?;
    assert_eq!(a.attrs.get("n"), Some(&Value::Long(1)));
    assert!(a.ancestors.contains(&Uid::new("G", "h")));
    // Copies that differ in attributes, parents or tags are still refused.
    for second in [
        r#"{"uid": {"type": "T", "id": "a"}, "attrs": {"n": 2}, "parents": []}"#,
        r#"{"uid": {"type": "T", "id": "a"}, "attrs": {"n": 1}, "parents": [{"type": "G", "id": "g"}]}"#,
        r#"{"uid": {"type": "T", "id": "a"}, "attrs": {"n": 1}, "parents": [], "tags": {"t": 1}}"#,
    ] {
        let text = format!(
            r#"[{{"uid": {{"type": "T", "id": "a"}}, "attrs": {{"n": 1}}, "parents": []}}, {second}]"#
        );
        let got = err(&text);
        assert!(
            got.contains("duplicate entity `T::\"a\"`"),
            "{text}: expected a duplicate error, got `{got}`"
        );
    }
    Ok(())
}

#[test]
fn deeply_nested_json_is_refused_before_parsing() {
    let deep = format!(
        "[{{\"uid\": {{\"type\": \"T\", \"id\": \"a\"}}, \"attrs\": {{\"x\": {}1{}}}}}]",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let e = err(&deep);
    assert!(e.contains("too deep"), "{e}");
    // Just under the limit is fine.
    let ok = format!(
        "[{{\"uid\": {{\"type\": \"T\", \"id\": \"a\"}}, \"attrs\": {{\"x\": {}1{}}}}}]",
        "[".repeat(100),
        "]".repeat(100)
    );
    assert_eq!(err(&ok), "<accepted>");
}

#[test]
fn schema_based_parsing_types_values_and_checks_shapes() -> Result<(), String> {
    let schema = Schema::from_cedarschema(
        "entity User { level: decimal, tags?: Set<String> }; action read appliesTo { principal: User, resource: User, context: { ip: ipaddr } };",
    )
    .map_err(|e| e.to_string())?;
    let es = Entities::from_json_str(
        r#"[{"uid": {"type": "User", "id": "u"}, "attrs": {"level": "0.6"}, "parents": []}]"#,
        Some(&schema),
    )
    .map_err(|e| e.to_string())?;
    let u = es.get(&Uid::new("User", "u")).ok_or("u")?;
    assert!(
        matches!(u.attrs.get("level"), Some(Value::Ext(_))),
        "decimal from a string"
    );
    assert!(
        es.get(&Uid::new("Action", "read")).is_some(),
        "action entities come from the schema"
    );
    let bad = Entities::from_json_str(
        r#"[{"uid": {"type": "User", "id": "u"}, "attrs": {"levl": "0.6"}}]"#,
        Some(&schema),
    );
    let msg = bad
        .err()
        .map(|e| format!("{e} {:?}", e.help))
        .unwrap_or_default();
    assert!(
        msg.contains("`levl` is not declared") && msg.contains("did you mean `level`?"),
        "{msg}"
    );
    let missing = Entities::from_json_str(
        r#"[{"uid": {"type": "User", "id": "u"}, "attrs": {}}]"#,
        Some(&schema),
    );
    assert!(
        missing
            .err()
            .is_some_and(|e| e.message.contains("required attribute `level`"))
    );
    let undeclared = Entities::from_json_str(
        r#"[{"uid": {"type": "Admin", "id": "u"}, "attrs": {}}]"#,
        Some(&schema),
    );
    assert!(
        undeclared
            .err()
            .is_some_and(|e| e.message.contains("`Admin` is not declared"))
    );

    let req = serde_json::json!({"principal": {"type": "User", "id": "u"}, "action": {"type": "Action", "id": "read"},
        "resource": {"type": "User", "id": "u"}, "context": {"ip": "10.0.0.1"}});
    let parsed = request_from_json(&req, Some(&schema)).map_err(|e| e.to_string())?;
    assert!(
        matches!(&parsed.request.context, Value::Record(r) if matches!(r.get("ip"), Some(Value::Ext(_))))
    );
    let wrong = serde_json::json!({"principal": {"type": "Other", "id": "u"}, "action": {"type": "Action", "id": "read"},
        "resource": {"type": "User", "id": "u"}, "context": {"ip": "10.0.0.1"}});
    let e = request_from_json(&wrong, Some(&schema))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("does not apply to principals of type `Other`"),
        "{e}"
    );
    let unknown = serde_json::json!({"principal": {"type": "User", "id": "u"}, "action": {"type": "Action", "id": "raed"},
        "resource": {"type": "User", "id": "u"}});
    let e = request_from_json(&unknown, Some(&schema))
        .err()
        .map(|e| format!("{e} {:?}", e.help))
        .unwrap_or_default();
    assert!(
        e.contains("not declared") && e.contains("did you mean"),
        "{e}"
    );
    Ok(())
}
