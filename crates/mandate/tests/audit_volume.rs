//! Records = decisions over 100,000 mixed requests (R18): allows, and denials by policy,
//! lifecycle, delegation and quota, from 4 threads, with agent lifecycle changes and a policy
//! reload in between. The log's records, counted by kind, outcome and deciding layer, match what
//! the engine returned, every decision id appears exactly once, and the log verifies.

#![expect(clippy::unwrap_used, clippy::print_stderr, reason = "test code")]

use mandate::audit::FileSink;
use mandate::audit_log::{AuditOptions, Durability, VerifyOptions, verify};
use mandate::quota::ManualClock;
use mandate::registry::{AgentSpec, EntityRef};
use mandate::{AuthorizeOptions, ChangeRef, Engine, PolicySource, Request, Uid, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

const POLICIES: &str = r#"
@id("agents-read") permit(principal is Agent, action == Action::"read", resource);
@id("agents-call") permit(principal is Agent, action == Action::"call", resource);
@id("alice") permit(principal == Human::"alice", action, resource);
@id("no-secret") forbid(principal, action, resource == Doc::"secret");
@id("calls") quota(principal, action == Action::"call", resource) limit 5 per 1m;
"#;

const ENTITIES: &str = r#"[
  {"uid": {"type": "Human", "id": "alice"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Human", "id": "bob"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d1"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "secret"}, "attrs": {}, "parents": []}
]"#;

const PHASES: usize = 10;
const THREADS: usize = 4;
const PER_THREAD: usize = 2_500;

fn request(thread: usize, i: usize) -> (Request, bool) {
    let agent = |n: usize| Uid::new("Agent", format!("a{}", n % 20));
    let doc = |d: &str| Uid::new("Doc", d);
    let read = Uid::new("Action", "read");
    let n = thread * 7 + i;
    let r = match i % 10 {
        // Allowed, unless the agent is suspended or revoked (lifecycle).
        0..=3 => Request::new(agent(n), read, doc("d1")),
        // A forbid (policy).
        4 => Request::new(agent(n), read, doc("secret")),
        // 5 calls a minute per agent (quota).
        5 => Request::new(agent(n), Uid::new("Action", "call"), doc("d1")),
        // On behalf of bob, who may not read (delegation).
        6 => Request::new(agent(n), read, doc("d1")).on_behalf_of(vec![Uid::new("Human", "bob")]),
        // On behalf of alice, who may.
        7 => Request::new(agent(n), read, doc("d1")).on_behalf_of(vec![Uid::new("Human", "alice")]),
        // No permit for writes by unregistered agents (policy).
        8 => Request::new(
            Uid::new("Agent", format!("u{n}")),
            Uid::new("Action", "write"),
            doc("d1"),
        ),
        // A dry run with a context.
        _ => Request::new(agent(n), read, doc("d1")).with_context(Value::record([(
            "tokens".into(),
            Value::Long(i64::try_from(i).unwrap()),
        )])),
    };
    (r, i % 10 == 9)
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Counts {
    /// (kind, decision, layer) → records.
    by_outcome: BTreeMap<(String, String, String), u64>,
}

impl Counts {
    fn add(&mut self, kind: &str, decision: &str, layer: &str) {
        *self
            .by_outcome
            .entry((kind.to_string(), decision.to_string(), layer.to_string()))
            .or_default() += 1;
    }
}

#[test]
fn records_equal_decisions_over_100k_mixed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = FileSink::open(
        &path,
        AuditOptions {
            durability: Durability::Buffered,
            ..AuditOptions::default()
        },
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(1_000_000));
    let engine = Engine::builder()
        .policy_texts(vec![("p.mandate".into(), POLICIES.into())])
        .entities_json(ENTITIES)
        .clock(clock.clone())
        .audit(Arc::new(sink))
        .build()
        .unwrap();
    let alice = EntityRef::new("Human", "alice");
    let mut expected = Counts::default();
    expected.add("policy_change", "-", "-"); // the load
    for n in 0..20 {
        engine
            .agents()
            .register(
                AgentSpec::new("Agent", format!("a{n}"), alice.clone()),
                "ops",
                "",
            )
            .unwrap();
        expected.add("lifecycle", "-", "-");
    }
    for n in [0, 1] {
        engine
            .agents()
            .suspend(&Uid::new("Agent", format!("a{n}")), "ops", "runaway")
            .unwrap();
        expected.add("lifecycle", "-", "-");
    }
    engine
        .agents()
        .revoke(&Uid::new("Agent", "a2"), "ops", "retired")
        .unwrap();
    expected.add("lifecycle", "-", "-");

    let mut ids: Vec<String> = Vec::with_capacity(PHASES * THREADS * PER_THREAD);
    for phase in 0..PHASES {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let engine = engine.clone();
                std::thread::spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            let (r, dry_run) = request(thread, phase * PER_THREAD + i);
                            let d = engine.authorize_with(
                                &r,
                                AuthorizeOptions {
                                    dry_run,
                                    reserve: false,
                                },
                            );
                            assert!(d.errors.iter().all(|e| e.id != "audit"), "{:?}", d.errors);
                            (d.decision_str(), d.layer.as_str(), d.id)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            for (decision, layer, id) in handle.join().unwrap() {
                expected.add("decision", decision, layer);
                ids.push(id);
            }
        }
        // Between phases: a lifecycle change and back, the quota window moves on, and once a
        // policy reload.
        let a5 = Uid::new("Agent", "a5");
        engine.agents().suspend(&a5, "ops", "check").unwrap();
        engine.agents().resume(&a5, "ops", "fine").unwrap();
        expected.add("lifecycle", "-", "-");
        expected.add("lifecycle", "-", "-");
        clock.advance(61_000);
        if phase == PHASES / 2 {
            engine
                .reload_policies(
                    PolicySource::Texts(vec![("p.mandate".into(), POLICIES.into())]),
                    None,
                    ChangeRef {
                        actor: "ci".into(),
                        reason: "same set".into(),
                        reference: "git:0000000".into(),
                    },
                )
                .unwrap();
            expected.add("policy_change", "-", "-");
        }
    }
    engine.flush_audit().unwrap();
    assert_eq!(engine.audit_failures(), 0);
    drop(engine);

    // Every layer denied something.
    for layer in ["policy", "lifecycle", "delegation", "quota"] {
        let key = (
            "decision".to_string(),
            "deny".to_string(),
            layer.to_string(),
        );
        assert!(
            expected.by_outcome.get(&key).copied().unwrap_or(0) > 0,
            "no {layer} denial"
        );
    }

    let report = verify(
        &path,
        VerifyOptions {
            require_sealed: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    let mut found = Counts::default();
    let mut logged_ids = HashSet::with_capacity(ids.len());
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(record) = v.get("record") else {
            continue;
        };
        let kind = record["kind"].as_str().unwrap();
        if kind == "decision" {
            found.add(
                kind,
                record["decision"].as_str().unwrap(),
                record["layer"].as_str().unwrap(),
            );
            let id = record["decision_id"].as_str().unwrap().to_string();
            assert!(logged_ids.insert(id), "a decision id logged twice");
        } else {
            found.add(kind, "-", "-");
        }
    }
    eprintln!("{:?}", found.by_outcome);
    assert_eq!(found, expected);
    assert_eq!(ids.len(), PHASES * THREADS * PER_THREAD);
    assert!(ids.iter().all(|id| logged_ids.contains(id)));
    let total: u64 = expected.by_outcome.values().sum();
    assert_eq!(report.records, total);
    assert_eq!(report.dropped, 0);
}
