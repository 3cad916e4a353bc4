//! `mandate::Limits` through the facade: every limit at limit − 1 and limit (accepted) and
//! limit + 1 (refused, with a diagnostic naming the limit and the observed value). Limits are set
//! small through `EngineBuilder::limits` so the inputs stay small.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use mandate::{Engine, EngineBuilder, EngineError, Limits, Request, Uid};

const PERMIT: &str = "permit(principal, action, resource);";

fn limits(name: &str, value: usize) -> Limits {
    let mut l = Limits::default();
    l.set(name, value).unwrap();
    l
}

fn with_policy(name: &str, value: usize, policy: String) -> Result<Engine, EngineError> {
    Engine::builder()
        .policy_texts(vec![("p.cedar".into(), policy)])
        .limits(limits(name, value))
        .build()
}

/// Runs `make(n)` for n = limit − 1, limit and limit + 1: the first two must succeed, the last
/// must fail with a message naming `name` and `observed(limit + 1)` (the value reported).
fn three<T: std::fmt::Debug, E: std::fmt::Display>(
    name: &str,
    limit: usize,
    observed: impl Fn(usize) -> usize,
    make: impl Fn(usize) -> Result<T, E>,
) {
    for n in [limit - 1, limit] {
        if let Err(e) = make(n) {
            panic!("{name} = {limit}: {n} refused: {e}");
        }
    }
    match make(limit + 1) {
        Ok(v) => panic!("{name} = {limit}: {} accepted: {v:?}", limit + 1),
        Err(e) => {
            let msg = e.to_string();
            let value = observed(limit + 1);
            assert!(
                msg.contains(&format!("`{name}` = {limit}")),
                "the limit is not named: {msg}"
            );
            assert!(
                msg.contains(&format!("{value} is more than")),
                "the observed value {value} is not given: {msg}"
            );
        }
    }
}

#[test]
fn max_source_bytes() {
    let limit = PERMIT.len() + 10;
    three(
        "max_source_bytes",
        limit,
        |n| n,
        |n| {
            let text = format!("{PERMIT}{}", " ".repeat(n - PERMIT.len()));
            assert_eq!(text.len(), n);
            with_policy("max_source_bytes", limit, text)
        },
    );
}

#[test]
fn max_source_bytes_applies_to_the_schema() {
    let schema = "entity U; action a appliesTo { principal: U, resource: U };";
    let schema = format!("{schema}{}", " ".repeat(100 - schema.len()));
    let build = |limit: usize| {
        Engine::builder()
            .policy_texts(vec![("p.cedar".into(), PERMIT.into())])
            .schema_text(schema.clone(), false)
            .limits(limits("max_source_bytes", limit))
            .build()
    };
    build(schema.len()).unwrap();
    let e = build(schema.len() - 1).unwrap_err().to_string();
    assert!(e.contains("`max_source_bytes` = 99"), "{e}");
    assert!(e.contains("100 is more than"), "{e}");
}

#[test]
fn max_source_lines() {
    let limit = 5;
    three(
        "max_source_lines",
        limit,
        |n| n,
        |n| {
            let text = format!("{PERMIT}{}", "\n// a comment".repeat(n - 1));
            assert_eq!(text.lines().count(), n);
            with_policy("max_source_lines", limit, text)
        },
    );
}

#[test]
fn max_nesting_depth() {
    // `context` has depth 1 and every pair of parentheses adds one level.
    let limit = 10;
    three(
        "max_nesting_depth",
        limit,
        |n| n,
        |depth| {
            let text = format!(
                "permit(principal, action, resource) when {{ {}context{} }};",
                "(".repeat(depth - 1),
                ")".repeat(depth - 1)
            );
            with_policy("max_nesting_depth", limit, text)
        },
    );
}

#[test]
fn max_policies() {
    let limit = 3;
    three(
        "max_policies",
        limit,
        |n| n,
        |n| with_policy("max_policies", limit, PERMIT.repeat(n)),
    );
}

#[test]
fn max_policies_counts_across_files() {
    let e = Engine::builder()
        .policy_texts(vec![
            ("a.cedar".into(), PERMIT.repeat(2)),
            ("b.cedar".into(), PERMIT.repeat(2)),
        ])
        .limits(limits("max_policies", 3))
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("b.cedar") && e.contains("4 is more than the limit `max_policies` = 3"),
        "{e}"
    );
}

#[test]
fn max_string_bytes_in_policies() {
    let limit = 8;
    three(
        "max_string_bytes",
        limit,
        |n| n,
        |n| {
            let text = format!(
                "permit(principal, action, resource) when {{ context.s == \"{}\" }};",
                "s".repeat(n)
            );
            with_policy("max_string_bytes", limit, text)
        },
    );
    // Entity ids in the scope count too, and the diagnostic points at the id.
    let e = with_policy(
        "max_string_bytes",
        limit,
        "permit(principal == User::\"123456789\", action, resource);".into(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("9 is more than the limit `max_string_bytes` = 8"),
        "{e}"
    );
    assert!(e.contains("p.cedar:1:"), "no location: {e}");
}

#[test]
fn max_set_elements_in_policies() {
    let limit = 4;
    three(
        "max_set_elements",
        limit,
        |n| n,
        |n| {
            let elements: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            let text = format!(
                "permit(principal, action, resource) when {{ [{}].contains(1) }};",
                elements.join(", ")
            );
            with_policy("max_set_elements", limit, text)
        },
    );
}

fn with_entities(
    name: &str,
    value: usize,
    entities: &serde_json::Value,
) -> Result<Engine, EngineError> {
    Engine::builder()
        .policy_texts(vec![("p.cedar".into(), PERMIT.into())])
        .entities_json(entities.to_string())
        .limits(limits(name, value))
        .build()
}

fn user(id: &str, parents: &[String]) -> serde_json::Value {
    let parents: Vec<_> = parents
        .iter()
        .map(|p| serde_json::json!({"type": "Group", "id": p}))
        .collect();
    serde_json::json!({"uid": {"type": "User", "id": id}, "attrs": {}, "parents": parents})
}

#[test]
fn max_entities() {
    let limit = 5;
    three(
        "max_entities",
        limit,
        |n| n,
        |n| {
            let list: Vec<_> = (0..n).map(|i| user(&format!("u{i}"), &[])).collect();
            with_entities("max_entities", limit, &serde_json::Value::Array(list))
        },
    );
}

#[test]
fn max_entities_counts_registered_agents() {
    let list: Vec<_> = (0..3).map(|i| user(&format!("u{i}"), &[])).collect();
    let engine = with_entities("max_entities", 3, &serde_json::Value::Array(list)).unwrap();
    let spec = mandate::registry::AgentSpec::new(
        "Agent",
        "bot",
        mandate::registry::EntityRef::new("User", "u0"),
    );
    engine
        .agents()
        .register(spec, "test", "one too many")
        .unwrap();
    let d = engine.authorize(&Request::new(
        Uid::new("Agent", "bot"),
        Uid::new("Action", "read"),
        Uid::new("Doc", "d"),
    ));
    assert!(!d.allowed, "{d:?}");
    let errors: Vec<_> = d.errors.iter().map(|e| e.message.clone()).collect();
    assert!(
        errors
            .iter()
            .any(|m| m.contains("4 is more than the limit `max_entities` = 3")),
        "{errors:?}"
    );
}

#[test]
fn max_ancestors_after_the_closure() {
    // A chain u -> g1 -> g2 -> … -> gn: u has n ancestors.
    let chain = |n: usize| {
        let mut list = vec![user("u", &["g1".to_string()])];
        for i in 1..=n {
            let parents = if i < n {
                vec![format!("g{}", i + 1)]
            } else {
                vec![]
            };
            let mut g = user(&format!("g{i}"), &parents);
            g["uid"]["type"] = "Group".into();
            list.push(g);
        }
        serde_json::Value::Array(list)
    };
    let limit = 4;
    three(
        "max_ancestors",
        limit,
        |n| n,
        |n| with_entities("max_ancestors", limit, &chain(n)),
    );
}

#[test]
fn max_ancestors_direct_parents_before_reading() {
    let limit = 4;
    three(
        "max_ancestors",
        limit,
        |n| n,
        |n| {
            let parents: Vec<String> = (0..n).map(|i| format!("g{i}")).collect();
            let e = with_entities(
                "max_ancestors",
                limit,
                &serde_json::json!([user("u", &parents)]),
            );
            if let Err(err) = &e {
                assert!(err.to_string().contains("$[0].parents"), "{err}");
            }
            e
        },
    );
}

#[test]
fn max_string_bytes_in_entities() {
    let limit = 8;
    three(
        "max_string_bytes",
        limit,
        |n| n,
        |n| {
            let mut u = user("u", &[]);
            u["attrs"]["name"] = "x".repeat(n).into();
            let e = with_entities("max_string_bytes", limit, &serde_json::json!([u]));
            if let Err(err) = &e {
                assert!(err.to_string().contains("$[0].attrs.name"), "{err}");
            }
            e
        },
    );
}

#[test]
fn max_set_elements_in_entities() {
    let limit = 4;
    three(
        "max_set_elements",
        limit,
        |n| n,
        |n| {
            let mut u = user("u", &[]);
            u["attrs"]["tags"] = (0..n).collect::<Vec<_>>().into();
            with_entities("max_set_elements", limit, &serde_json::json!([u]))
        },
    );
}

fn request_engine(name: &str, value: usize) -> Engine {
    Engine::builder()
        .policy_texts(vec![("p.cedar".into(), PERMIT.into())])
        .limits(limits(name, value))
        .build()
        .unwrap()
}

/// The request, or its diagnostic rendered (message, JSON path and help).
fn request(engine: &Engine, text: &str) -> Result<Request, String> {
    engine
        .request_from_json(text)
        .map_err(|d| mandate::diagnostics::render_all(&[d], None))
}

fn request_json(context: &serde_json::Value) -> String {
    serde_json::json!({
        "principal": {"type": "User", "id": "u"},
        "action": {"type": "Action", "id": "read"},
        "resource": {"type": "Doc", "id": "d"},
        "context": context,
    })
    .to_string()
}

#[test]
fn max_request_bytes() {
    let base = request_json(&serde_json::json!({}));
    let limit = base.len() + 10;
    let engine = request_engine("max_request_bytes", limit);
    three(
        "max_request_bytes",
        limit,
        |n| n,
        |n| {
            let text = format!("{base}{}", " ".repeat(n - base.len()));
            request(&engine, &text)
        },
    );
}

#[test]
fn max_string_bytes_in_requests() {
    // Keys count too: the longest key of a request is `principal`.
    let limit = 16;
    let engine = request_engine("max_string_bytes", limit);
    three(
        "max_string_bytes",
        limit,
        |n| n,
        |n| {
            let r = request(
                &engine,
                &request_json(&serde_json::json!({"s": "x".repeat(n)})),
            );
            if let Err(d) = &r {
                assert!(d.contains("$.context.s"), "{d}");
            }
            r
        },
    );
}

#[test]
fn max_set_elements_in_requests() {
    let limit = 4;
    let engine = request_engine("max_set_elements", limit);
    three(
        "max_set_elements",
        limit,
        |n| n,
        |n| {
            let set: Vec<usize> = (0..n).collect();
            request(&engine, &request_json(&serde_json::json!({"s": set})))
        },
    );
}

#[test]
fn max_delegation_depth() {
    let limit = 3;
    let engine = request_engine("max_delegation_depth", limit);
    three(
        "max_delegation_depth",
        limit,
        |n| n,
        |n| {
            let chain = (0..n).map(|i| Uid::new("User", format!("p{i}"))).collect();
            let request = Request::new(
                Uid::new("User", "u"),
                Uid::new("Action", "read"),
                Uid::new("Doc", "d"),
            )
            .on_behalf_of(chain);
            let d = engine.authorize(&request);
            if d.allowed {
                Ok(d)
            } else {
                Err(d
                    .errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "))
            }
        },
    );
}

#[test]
fn limits_reach_reloads() {
    let engine = request_engine("max_policies", 1);
    let e = engine
        .reload_policies(
            mandate::PolicySource::Texts(vec![("p.cedar".into(), PERMIT.repeat(2))]),
            None,
            mandate::ChangeRef::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("2 is more than the limit `max_policies` = 1"),
        "{e}"
    );
    assert_eq!(engine.version().policies.policies().len(), 1);
}

#[test]
fn builder_limits_and_options_agree() {
    let l = limits("max_delegation_depth", 7);
    let engine: Engine = EngineBuilder::default().limits(l).build().unwrap();
    assert_eq!(engine.limits().max_delegation_depth, 7);
    assert_eq!(engine.options().limits, l);
}

/// The length of the decision's record (its canonical JSON, as in its log line) in a fresh audit
/// log, for a request whose context is `{"pad": "x" * pad}`, with `max_audit_record_bytes` = `limit`.
fn audit_line(limit: usize, pad: usize) -> (mandate::Decision, Option<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let engine = Engine::builder()
        .policy_texts(vec![("p.cedar".into(), PERMIT.into())])
        .limits(limits("max_audit_record_bytes", limit))
        .clock(std::sync::Arc::new(mandate::quota::ManualClock::new(
            1_800_000_000_000,
        )))
        .audit_file(&path)
        .build()
        .unwrap();
    let text = request_json(&serde_json::json!({ "pad": "x".repeat(pad) }));
    let d = engine.authorize(&engine.request_from_json(&text).unwrap());
    drop(engine);
    let log = std::fs::read_to_string(&path).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("\"pad\""))
        .map(|l| l.rfind(",\"hash\":\"").unwrap() - l.find(",\"record\":").unwrap() - 10);
    (d, line)
}

#[test]
fn max_audit_record_bytes() {
    // The record grows one byte per byte of the pad (plain ASCII needs no escaping).
    let p0 = 100;
    let (d, l0) = audit_line(Limits::default().max_audit_record_bytes, p0);
    assert!(d.allowed, "{d:?}");
    let l0 = l0.unwrap();
    let limit = l0 + 50;
    three(
        "max_audit_record_bytes",
        limit,
        |n| n,
        |n| {
            let (d, line) = audit_line(limit, p0 + n - l0);
            if d.allowed {
                assert_eq!(line, Some(n), "the record has the length computed");
                Ok(d)
            } else {
                assert_eq!(line, None, "a refused record is not in the log");
                Err(d
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.id, e.message))
                    .collect::<Vec<_>>()
                    .join("; "))
            }
        },
    );
    // More than the verifier reads is refused when set.
    let mut l = Limits::default();
    let e = l
        .set(
            "max_audit_record_bytes",
            mandate::audit_log::MAX_RECORD_BYTES + 1,
        )
        .unwrap_err();
    assert!(e.contains("at most"), "{e}");
}
