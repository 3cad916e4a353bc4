//! `Engine::explain`: scope matches, condition values and errors, near-miss permits, and the
//! decision as a dry run, with registered agents' attributes visible to the policies.

#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use mandate::audit::{AuditRecord, MemorySink};
use mandate::registry::{AgentSpec, EntityRef};
use mandate::{Engine, Layer, Request, Uid, Value};
use std::sync::Arc;

const ENTITIES: &str = r#"[
  {"uid": {"type": "Human", "id": "alice"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d1"}, "attrs": {"owner": {"__entity": {"type": "Human", "id": "alice"}}}, "parents": []},
  {"uid": {"type": "Doc", "id": "d2"}, "attrs": {"owner": {"__entity": {"type": "Human", "id": "bob"}}}, "parents": []}
]"#;

const POLICIES: &str = r#"
@id("owner-reads") permit (principal is Agent, action == Action::"read", resource)
  when { resource.owner == principal.owner };
@id("two-conditions") permit (principal, action == Action::"read", resource)
  when { context.level > 3 } when { context.approved };
@id("writes") permit (principal, action == Action::"write", resource);
@id("no-d9") forbid (principal, action, resource == Doc::"d9");
@id("reads") quota (principal, action == Action::"read", resource) limit 5 per 1h;
"#;

fn engine(sink: Arc<MemorySink>) -> Engine {
    let e = Engine::builder()
        .policy_texts(vec![("p.mandate".into(), POLICIES.into())])
        .entities_json(ENTITIES)
        .audit(sink)
        .build()
        .unwrap();
    e.agents()
        .register(
            AgentSpec::new("Agent", "a1", EntityRef::new("Human", "alice")),
            "ops",
            "test",
        )
        .unwrap();
    e
}

fn context(level: i64, approved: bool) -> Value {
    Value::record([
        ("level".into(), Value::Long(level)),
        ("approved".into(), Value::Bool(approved)),
    ])
}

fn read(doc: &str) -> Request {
    Request::new(
        Uid::new("Agent", "a1"),
        Uid::new("Action", "read"),
        Uid::new("Doc", doc),
    )
}

#[test]
fn explains_an_allow_with_every_policy() {
    let sink = Arc::new(MemorySink::new());
    let e = engine(sink.clone());
    let x = e.explain(&read("d1"));
    assert!(x.decision.allowed);
    assert!(x.decision.dry_run, "explain never charges");
    assert_eq!(x.decision.layer, Layer::Quota);
    let acting = &x.principals[0];
    assert_eq!(acting.policy_decision, "allow");
    assert_eq!(acting.determining, vec!["owner-reads"]);
    let owner = &acting.policies[0];
    assert_eq!(owner.id, "owner-reads");
    assert_eq!(owner.effect, "permit");
    assert_eq!(owner.outcome, "satisfied");
    // The registered agent's owner comes from the registry overlay.
    assert_eq!(owner.conditions[0].holds, Some(true));
    assert_eq!(
        owner.conditions[0].text,
        "resource.owner == principal.owner"
    );
    let writes = acting.policies.iter().find(|p| p.id == "writes").unwrap();
    assert_eq!(writes.outcome, "scope-mismatch");
    assert!(writes.scope.principal && !writes.scope.action && writes.scope.resource);
    assert!(writes.conditions.is_empty());
    assert!(acting.closest_permits.is_empty());
    assert_eq!(x.quotas.len(), 1);
    assert_eq!(x.quotas[0].outcome, "satisfied");
    // Recorded like any decision, as a dry run.
    let records = sink.records();
    assert!(
        records
            .iter()
            .any(|r| matches!(r, AuditRecord::Decision { dry_run: true, .. }))
    );
    let text = x.to_string();
    assert!(text.starts_with("ALLOW"), "{text}");
    assert!(text.contains("permit owner-reads: satisfied"), "{text}");
    // Nothing was charged: five real reads still fit the quota.
    for _ in 0..5 {
        assert!(e.authorize(&read("d1")).allowed);
    }
}

#[test]
fn a_denial_lists_the_closest_permits_first() {
    let e = engine(Arc::new(MemorySink::new()));
    // d2 is bob's: owner-reads fails one condition; two-conditions fails both.
    let x = e.explain(&read("d2").with_context(context(1, false)));
    assert!(!x.decision.allowed);
    assert_eq!(x.decision.layer, Layer::Policy);
    let acting = &x.principals[0];
    assert_eq!(acting.policy_decision, "deny");
    let ids: Vec<&str> = acting
        .closest_permits
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    assert_eq!(ids, ["owner-reads", "two-conditions"]);
    assert_eq!(acting.closest_permits[0].failing, 1);
    assert_eq!(acting.closest_permits[1].failing, 2);
    assert_eq!(
        acting.closest_permits[0].failed_conditions[0].value,
        Some(serde_json::json!(false))
    );
    // The second permit's conditions were all evaluated, values reported.
    let two = &acting.closest_permits[1];
    assert_eq!(two.failed_conditions[0].text, "context.level > 3");
    assert_eq!(two.failed_conditions[1].text, "context.approved");
    let text = x.to_string();
    assert!(text.contains("closest permits:"), "{text}");
    assert!(text.contains("owner-reads: 1 failing condition"), "{text}");
    // Serializable.
    let json = serde_json::to_value(&x).unwrap();
    assert_eq!(
        json["principals"][0]["closest_permits"][0]["id"],
        "owner-reads"
    );
}

#[test]
fn condition_errors_are_reported() {
    let e = engine(Arc::new(MemorySink::new()));
    // No `level` in the context: the condition errors.
    let x = e.explain(&read("d2"));
    assert!(!x.decision.allowed);
    let two = x.principals[0]
        .policies
        .iter()
        .find(|p| p.id == "two-conditions")
        .unwrap();
    assert_eq!(two.outcome, "error");
    assert!(two.error.is_some());
    assert!(two.conditions[0].error.is_some());
    assert_eq!(two.conditions[0].holds, None);
    assert_eq!(
        x.principals[0]
            .closest_permits
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        ["owner-reads", "two-conditions"]
    );
}

#[test]
fn a_forbid_denial_has_no_near_misses() {
    let e = engine(Arc::new(MemorySink::new()));
    let x = e.explain(&Request::new(
        Uid::new("Agent", "a1"),
        Uid::new("Action", "write"),
        Uid::new("Doc", "d9"),
    ));
    assert!(!x.decision.allowed);
    assert_eq!(x.principals[0].determining, vec!["no-d9"]);
    assert!(x.principals[0].closest_permits.is_empty());
}

#[test]
fn delegators_are_explained_too() {
    let e = engine(Arc::new(MemorySink::new()));
    let x = e.explain(
        &Request::new(
            Uid::new("Agent", "a1"),
            Uid::new("Action", "write"),
            Uid::new("Doc", "d1"),
        )
        .on_behalf_of(vec![Uid::new("Human", "alice")]),
    );
    assert!(x.decision.allowed);
    assert_eq!(x.principals.len(), 2);
    assert_eq!(x.principals[1].role, "delegator");
    assert_eq!(x.principals[1].principal, "Human::\"alice\"");
    assert_eq!(x.principals[1].policy_decision, "allow");
}
