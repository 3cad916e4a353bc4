//! Every kind of record the engine writes validates against `docs/schemas/audit-record.schema.json`.
//!
//! The `jsonschema` crate is not a dependency (its tree is large for one test); this file
//! validates with a small interpreter of exactly the keywords the schema uses, and fails on any
//! other keyword, so the schema cannot grow beyond what is checked here.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test code")]

use mandate::audit::FileSink;
use mandate::audit_log::AuditOptions;
use mandate::quota::ManualClock;
use mandate::registry::{AgentSpec, EntityRef};
use mandate::{AuthorizeOptions, ChangeRef, Engine, PolicySource, Request, Uid, Value};
use serde_json::{Value as J, json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Errors of `value` against `schema` (resolving `$ref` in `root`), with JSON-pointer-ish paths.
fn validate(root: &J, schema: &J, value: &J, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        panic!("schema at {path} is not an object");
    };
    for (keyword, arg) in schema {
        match keyword.as_str() {
            "$schema" | "$id" | "title" | "description" | "$defs" => {}
            "$ref" => {
                let pointer = arg.as_str().unwrap().strip_prefix('#').unwrap();
                let target = root.pointer(pointer).unwrap();
                validate(root, target, value, path, errors);
            }
            "oneOf" => {
                let passing = arg
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|option| {
                        let mut sub = Vec::new();
                        validate(root, option, value, path, &mut sub);
                        sub.is_empty()
                    })
                    .count();
                if passing != 1 {
                    errors.push(format!("{path}: {passing} of oneOf match"));
                }
            }
            "type" => {
                let types: Vec<&str> = match arg {
                    J::String(t) => vec![t.as_str()],
                    J::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
                    _ => panic!("bad type at {path}"),
                };
                let ok = types.iter().any(|t| match *t {
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "string" => value.is_string(),
                    "integer" => value.is_u64() || value.is_i64(),
                    "boolean" => value.is_boolean(),
                    "null" => value.is_null(),
                    other => panic!("type {other} not handled"),
                });
                if !ok {
                    errors.push(format!("{path}: {value} is not {types:?}"));
                }
            }
            "const" if value != arg => errors.push(format!("{path}: {value} is not {arg}")),
            "enum" if !arg.as_array().unwrap().contains(value) => {
                errors.push(format!("{path}: {value} not in {arg}"));
            }
            "const" | "enum" => {}
            "required" => {
                if let Some(obj) = value.as_object() {
                    for key in arg.as_array().unwrap() {
                        if !obj.contains_key(key.as_str().unwrap()) {
                            errors.push(format!("{path}: missing {key}"));
                        }
                    }
                }
            }
            "properties" => {
                if let Some(obj) = value.as_object() {
                    for (key, sub) in arg.as_object().unwrap() {
                        if let Some(v) = obj.get(key) {
                            validate(root, sub, v, &format!("{path}/{key}"), errors);
                        }
                    }
                }
            }
            "additionalProperties" => {
                assert_eq!(arg, &json!(false), "only additionalProperties: false");
                if let Some(obj) = value.as_object() {
                    let known = schema.get("properties").and_then(J::as_object).unwrap();
                    for key in obj.keys().filter(|k| !known.contains_key(*k)) {
                        errors.push(format!("{path}: unexpected {key}"));
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        validate(root, arg, item, &format!("{path}/{i}"), errors);
                    }
                }
            }
            "minimum" => {
                if let Some(n) = value.as_i64()
                    && n < arg.as_i64().unwrap()
                {
                    errors.push(format!("{path}: {n} below {arg}"));
                }
            }
            "minItems" | "maxItems" => {
                if let Some(items) = value.as_array() {
                    let bound = usize::try_from(arg.as_u64().unwrap()).unwrap();
                    let bad = if keyword == "minItems" {
                        items.len() < bound
                    } else {
                        items.len() > bound
                    };
                    if bad {
                        errors.push(format!("{path}: {} items, {keyword} {bound}", items.len()));
                    }
                }
            }
            other => panic!("keyword `{other}` at {path} is not handled by this validator"),
        }
    }
}

fn schema() -> J {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/schemas/audit-record.schema.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn errors_of(schema: &J, record: &J) -> Vec<String> {
    let mut errors = Vec::new();
    validate(schema, schema, record, "", &mut errors);
    errors
}

const POLICIES: &str = r#"
@id("agents") permit(principal is Agent, action == Action::"read", resource);
@id("alice") permit(principal == Human::"alice", action, resource);
@id("no-secret") forbid(principal, action, resource == Doc::"secret");
@id("calls") quota(principal, action, resource) limit 2 per 1h;
@id("spend") quota(principal, action, resource) limit 100 per 1d cost context.tokens;
"#;

const ENTITIES: &str = r#"[
  {"uid": {"type": "Human", "id": "alice"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Human", "id": "bob"}, "attrs": {}, "parents": []}
]"#;

#[test]
fn every_record_kind_the_engine_writes_matches_the_schema() {
    let schema = schema();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = FileSink::open(&path, AuditOptions::default())
        .unwrap()
        .with_mask(
            vec!["context.secret".into()],
            mandate::audit_log::Mask::Hash,
        );
    let engine = Engine::builder()
        .policy_texts(vec![("p.mandate".into(), POLICIES.into())])
        .entities_json(ENTITIES)
        .clock(Arc::new(ManualClock::new(5_000_000)))
        .audit(Arc::new(sink))
        .build()
        .unwrap();
    let agents = engine.agents();
    let alice = EntityRef::new("Human", "alice");
    agents
        .register(
            AgentSpec::new("Agent", "a1", alice.clone()),
            "ops",
            "onboard",
        )
        .unwrap();
    agents
        .update(AgentSpec::new("Agent", "a1", alice.clone()), "ops", "same")
        .unwrap();
    agents
        .register(AgentSpec::new("Agent", "a2", alice), "ops", "")
        .unwrap();
    agents
        .suspend(&Uid::new("Agent", "a2"), "sec", "SEC-1")
        .unwrap();
    let context = Value::record([
        ("tokens".into(), Value::Long(10)),
        ("secret".into(), Value::String("sk-1".into())),
    ]);
    let read = |agent: &str, doc: &str| {
        Request::new(
            Uid::new("Agent", agent),
            Uid::new("Action", "read"),
            Uid::new("Doc", doc),
        )
        .with_context(context.clone())
    };
    for _ in 0..3 {
        engine.authorize(&read("a1", "d1")); // allowed twice, then refused by `calls`
    }
    engine.authorize(&read("a1", "secret")); // forbid
    engine.authorize(&read("a2", "d1")); // suspended
    engine.authorize(&read("a3", "d1").on_behalf_of(vec![Uid::new("Human", "bob")])); // delegation
    engine.authorize(&Request::new(
        Uid::new("Agent", "a4"),
        Uid::new("Action", "read"),
        Uid::new("Doc", "d1"),
    )); // `cost context.tokens` errors without a context
    engine.authorize_with(
        &read("a5", "d1"),
        AuthorizeOptions {
            dry_run: true,
            reserve: false,
        },
    );
    let change = ChangeRef {
        actor: "ci".into(),
        reason: "tighten".into(),
        reference: "git:9c0ffee approved-by:alice".into(),
    };
    engine
        .reload_policies(
            PolicySource::Texts(vec![("p.mandate".into(), POLICIES.into())]),
            None,
            change.clone(),
        )
        .unwrap();
    assert!(
        engine
            .reload_policies(
                PolicySource::Texts(vec![("p.mandate".into(), "permit(".into())]),
                None,
                change.clone()
            )
            .is_err()
    );
    engine.rollback(change).unwrap();
    agents
        .resume(&Uid::new("Agent", "a2"), "sec", "cleared")
        .unwrap();
    agents
        .revoke(&Uid::new("Agent", "a2"), "sec", "retired")
        .unwrap();
    drop(engine);

    let mut seen = BTreeSet::new();
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        let entry: J = serde_json::from_str(line).unwrap();
        let Some(record) = entry.get("record") else {
            continue;
        };
        let errors = errors_of(&schema, record);
        assert!(errors.is_empty(), "{record}\n{errors:#?}");
        let kind = record["kind"].as_str().unwrap();
        let detail = match kind {
            "decision" => format!("{}/{}", record["decision"], record["layer"]),
            _ => record["op"].as_str().unwrap().to_string(),
        };
        seen.insert(format!("{kind}:{detail}"));
    }
    let expected = [
        "decision:\"allow\"/\"quota\"",
        "decision:\"deny\"/\"delegation\"",
        "decision:\"deny\"/\"lifecycle\"",
        "decision:\"deny\"/\"policy\"",
        "decision:\"deny\"/\"quota\"",
        "lifecycle:register",
        "lifecycle:resume",
        "lifecycle:revoke",
        "lifecycle:suspend",
        "lifecycle:update",
        "policy_change:failed_reload",
        "policy_change:load",
        "policy_change:reload",
        "policy_change:rollback",
    ];
    let seen: Vec<&str> = seen.iter().map(String::as_str).collect();
    assert_eq!(seen, expected);

    // The validator does reject: a missing field, an unknown field, a wrong enum value.
    let good = json!({"kind": "lifecycle", "at_ms": 1, "op": "register", "agent": "A::\"a\"",
        "actor": "ops", "reason": "", "engine_version": "0.1.0"});
    assert!(errors_of(&schema, &good).is_empty());
    for bad in [
        json!({"kind": "lifecycle", "at_ms": 1, "op": "register", "agent": "A::\"a\"", "actor": "ops", "engine_version": "0.1.0"}),
        json!({"kind": "lifecycle", "at_ms": 1, "op": "register", "agent": "A::\"a\"", "actor": "ops", "reason": "", "engine_version": "0.1.0", "extra": 1}),
        json!({"kind": "lifecycle", "at_ms": 1, "op": "rename", "agent": "A::\"a\"", "actor": "ops", "reason": "", "engine_version": "0.1.0"}),
        json!({"kind": "unknown"}),
    ] {
        assert!(!errors_of(&schema, &bad).is_empty(), "{bad} passed");
    }
}
