//! The engine's layers through the facade: lifecycle gate, delegation, quotas, policy versions,
//! agents as entities, and audit records.

#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use mandate::audit::{AuditRecord, AuditSink, MemorySink};
use mandate::quota::{ManualClock, QuotaStore};
use mandate::registry::{AgentSpec, EntityRef};
use mandate::{
    AuditFailureMode, AuthorizeOptions, ChangeRef, Engine, EngineError, EngineOptions, Layer,
    PolicySource, Request, StoreFailureMode, Uid, Value,
};
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn uid(ty: &str, id: &str) -> Uid {
    Uid::new(ty, id)
}

fn agent(id: &str) -> Uid {
    uid("Agent", id)
}

fn texts(policies: &str) -> Vec<(String, String)> {
    vec![("test.mandate".to_string(), policies.to_string())]
}

const ENTITIES: &str = r#"[
  {"uid": {"type": "Human", "id": "alice"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Human", "id": "bob"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d1"}, "attrs": {"owner": {"__entity": {"type": "Human", "id": "alice"}}}, "parents": []},
  {"uid": {"type": "Doc", "id": "d2"}, "attrs": {"owner": {"__entity": {"type": "Human", "id": "bob"}}}, "parents": []}
]"#;

fn engine_with(policies: &str, clock: Arc<ManualClock>) -> Engine {
    Engine::builder()
        .policy_texts(texts(policies))
        .entities_json(ENTITIES)
        .clock(clock)
        .build()
        .unwrap()
}

fn read(p: Uid, doc: &str) -> Request {
    Request::new(p, uid("Action", "read"), uid("Doc", doc))
}

fn spec(id: &str, owner: &str) -> AgentSpec {
    AgentSpec::new("Agent", id, EntityRef::new("Human", owner))
}

#[test]
fn lifecycle_gate_denies_suspended_revoked_and_expired_agents() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let e = engine_with(r#"permit(principal, action, resource);"#, clock.clone());
    let a = agent("a1");
    assert!(
        e.authorize(&read(a.clone(), "d1")).allowed,
        "unregistered: policies decide"
    );
    e.agents()
        .register(spec("a1", "alice"), "ops", "onboard")
        .unwrap();
    assert!(e.authorize(&read(a.clone(), "d1")).allowed);

    e.agents().suspend(&a, "ops", "runaway loop").unwrap();
    let d = e.authorize(&read(a.clone(), "d1"));
    assert!(!d.allowed);
    assert_eq!(d.layer, Layer::Lifecycle);
    assert_eq!(d.reasons, ["lifecycle:suspended"]);
    assert_eq!(d.denied_principal.as_deref(), Some(r#"Agent::"a1""#));

    e.agents().resume(&a, "ops", "fixed").unwrap();
    assert!(e.authorize(&read(a.clone(), "d1")).allowed);

    e.agents().revoke(&a, "ops", "offboarded").unwrap();
    let d = e.authorize(&read(a.clone(), "d1"));
    assert_eq!(d.reasons, ["lifecycle:revoked"]);
    // A revoked id is never reused, and a revoked agent cannot come back.
    let err = e
        .agents()
        .register(spec("a1", "alice"), "ops", "again")
        .unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    assert!(e.agents().resume(&a, "ops", "undo").is_err());

    // Expiry is derived from the clock.
    let mut s = spec("a2", "alice");
    s.expires_ms = Some(2_000_000);
    e.agents().register(s, "ops", "temp").unwrap();
    assert!(e.authorize(&read(agent("a2"), "d1")).allowed);
    clock.set(2_000_000);
    assert_eq!(
        e.authorize(&read(agent("a2"), "d1")).reasons,
        ["lifecycle:expired"]
    );

    // Every transition is in the history, with who and why.
    let history = e.agents().get(&a).unwrap().unwrap().history;
    let kinds: Vec<_> = history.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["register", "suspend", "resume", "revoke"]);
    assert_eq!(history[1].reason, "runaway loop");
    assert_eq!(history[1].actor, "ops");
}

#[test]
fn illegal_transitions_are_clear_errors() {
    let e = engine_with(
        "permit(principal, action, resource);",
        Arc::new(ManualClock::new(0)),
    );
    let a = agent("x");
    let err = e.agents().suspend(&a, "ops", "").unwrap_err();
    assert!(
        err.to_string().contains("not") || err.to_string().contains("no "),
        "{err}"
    );
    e.agents().register(spec("x", "alice"), "ops", "").unwrap();
    let err = e.agents().resume(&a, "ops", "").unwrap_err().to_string();
    assert!(err.contains("active"), "{err}");
    let err = e
        .agents()
        .register(spec("x", "alice"), "ops", "")
        .unwrap_err()
        .to_string();
    assert!(err.contains("already"), "{err}");
}

#[test]
fn registered_agents_are_entities_with_owner_and_status() {
    let e = engine_with(
        r#"permit(principal is Agent, action, resource is Doc)
             when { principal.owner == resource.owner && principal.status == "active" };"#,
        Arc::new(ManualClock::new(0)),
    );
    e.agents()
        .register(spec("helper", "alice"), "ops", "")
        .unwrap();
    assert!(e.authorize(&read(agent("helper"), "d1")).allowed);
    let d = e.authorize(&read(agent("helper"), "d2"));
    assert!(!d.allowed, "bob's document");
    assert_eq!(d.layer, Layer::Policy);
    // An update (new owner) is visible to the next decision.
    e.agents()
        .update(spec("helper", "bob"), "ops", "handover")
        .unwrap();
    assert!(e.authorize(&read(agent("helper"), "d2")).allowed);
    assert!(!e.authorize(&read(agent("helper"), "d1")).allowed);
}

#[test]
fn agents_that_do_not_fit_the_schema_are_refused() {
    let e = Engine::builder()
        .schema_text(
            "entity Human; entity Doc; entity Agent { owner: Human, level: Long }; action read appliesTo { principal: [Agent, Human], resource: [Doc] };",
            false,
        )
        .policy_texts(texts("permit(principal, action, resource);"))
        .build()
        .unwrap();
    let mut s = spec("a", "alice");
    s.attributes
        .insert("level".into(), serde_json::json!("high"));
    let err = e.agents().register(s, "ops", "").unwrap_err().to_string();
    assert!(err.contains("schema"), "{err}");
    let mut s = spec("a", "alice");
    s.attributes.insert("level".into(), serde_json::json!(3));
    e.agents().register(s, "ops", "").unwrap();
}

#[test]
fn delegation_needs_every_link_and_is_bounded() {
    let e = engine_with(
        r#"
        @id("alice-reads-d1") permit(principal == Human::"alice", action, resource == Doc::"d1");
        @id("agent-reads") permit(principal == Agent::"helper", action, resource);
        @id("chain-visible") forbid(principal, action, resource == Doc::"d1")
          when { context has delegation && context.delegation.contains(Human::"bob") };
        "#,
        Arc::new(ManualClock::new(0)),
    );
    let h = agent("helper");
    // The agent alone may read both.
    assert!(e.authorize(&read(h.clone(), "d2")).allowed);
    // For alice: only what alice may do too.
    let d = e.authorize(&read(h.clone(), "d1").on_behalf_of(vec![uid("Human", "alice")]));
    assert!(d.allowed);
    let d = e.authorize(&read(h.clone(), "d2").on_behalf_of(vec![uid("Human", "alice")]));
    assert!(!d.allowed);
    assert_eq!(d.layer, Layer::Delegation);
    assert_eq!(d.denied_principal.as_deref(), Some(r#"Human::"alice""#));
    // The person gains nothing through the agent either: alice alone cannot read d2.
    assert!(!e.authorize(&read(uid("Human", "alice"), "d2")).allowed);
    // The chain is visible to policies.
    let d = e.authorize(
        &read(h.clone(), "d1").on_behalf_of(vec![uid("Human", "alice"), uid("Human", "bob")]),
    );
    assert!(!d.allowed);
    // A suspended delegator stops the chain.
    e.agents()
        .register(spec("boss", "alice"), "ops", "")
        .unwrap();
    e.agents().suspend(&agent("boss"), "ops", "").unwrap();
    let d = e.authorize(&read(h.clone(), "d2").on_behalf_of(vec![agent("boss")]));
    assert_eq!(d.layer, Layer::Lifecycle);
    assert_eq!(d.denied_principal.as_deref(), Some(r#"Agent::"boss""#));
    // Depth limit (default 4).
    let chain: Vec<Uid> = (0..5).map(|i| uid("Human", &format!("h{i}"))).collect();
    let d = e.authorize(&read(h, "d2").on_behalf_of(chain));
    assert!(!d.allowed);
    assert_eq!(d.reasons, ["delegation:too-long"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Delegation allows exactly the intersection: a naive reference (a grant table) against the
    /// engine.
    #[test]
    fn delegation_is_the_intersection(
        grants in proptest::collection::btree_set((0usize..4, 0usize..3), 0..10),
        chain in proptest::collection::vec(0usize..4, 0..4),
        actor in 0usize..4,
        doc in 0usize..3,
    ) {
        let mut policies = String::new();
        for (p, d) in &grants {
            policies.push_str(&format!(
                "permit(principal == P::\"p{p}\", action, resource == Doc::\"x{d}\");\n"
            ));
        }
        let e = Engine::builder().policy_texts(texts(&policies)).build().unwrap();
        let req = Request::new(uid("P", &format!("p{actor}")), uid("Action", "read"), uid("Doc", &format!("x{doc}")))
            .on_behalf_of(chain.iter().map(|c| uid("P", &format!("p{c}"))).collect());
        let expected = grants.contains(&(actor, doc)) && chain.iter().all(|c| grants.contains(&(*c, doc)));
        prop_assert_eq!(e.authorize(&req).allowed, expected);
    }
}

#[test]
fn no_allow_after_suspend_returns_under_concurrency() {
    let e = engine_with(
        "permit(principal, action, resource);",
        Arc::new(ManualClock::new(0)),
    );
    e.agents()
        .register(spec("busy", "alice"), "ops", "")
        .unwrap();
    // Odd: suspended (suspend has returned, resume not yet called).
    let phase = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_thread = if cfg!(debug_assertions) {
        20_000
    } else {
        100_000
    };
    let deciders: Vec<_> = (0..8)
        .map(|_| {
            let (e, phase) = (e.clone(), phase.clone());
            std::thread::spawn(move || {
                let req = read(agent("busy"), "d1");
                let (mut checked, mut allowed) = (0u64, 0u64);
                for _ in 0..per_thread {
                    let before = phase.load(Ordering::SeqCst);
                    let d = e.authorize(&req);
                    let after = phase.load(Ordering::SeqCst);
                    if before == after && before % 2 == 1 {
                        checked += 1;
                        assert!(!d.allowed, "allowed while suspended (phase {before})");
                    }
                    allowed += u64::from(d.allowed);
                }
                (checked, allowed)
            })
        })
        .collect();
    let toggler = {
        let (e, phase, stop) = (e.clone(), phase.clone(), stop.clone());
        std::thread::spawn(move || {
            let a = agent("busy");
            let mut flips = 0;
            while !stop.load(Ordering::SeqCst) {
                e.agents().suspend(&a, "ops", "").unwrap();
                phase.fetch_add(1, Ordering::SeqCst);
                std::thread::yield_now();
                phase.fetch_add(1, Ordering::SeqCst);
                e.agents().resume(&a, "ops", "").unwrap();
                flips += 1;
            }
            flips
        })
    };
    let mut checked = 0;
    let mut allowed = 0;
    for d in deciders {
        let (c, a) = d.join().unwrap();
        checked += c;
        allowed += a;
    }
    stop.store(true, Ordering::SeqCst);
    let flips = toggler.join().unwrap();
    assert!(
        flips > 0 && checked > 0 && allowed > 0,
        "flips {flips} checked {checked} allowed {allowed}"
    );
}

#[test]
fn reload_and_rollback_under_load_are_atomic_and_reproducible() {
    let clock = Arc::new(ManualClock::new(0));
    let allow = "@id(\"open\") permit(principal, action, resource);";
    let deny = "@id(\"closed\") forbid(principal, action, resource);\n@id(\"open\") permit(principal, action, resource);";
    let e = engine_with(allow, clock);
    let v_allow = e.version().id.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let deciders: Vec<_> = (0..8)
        .map(|_| {
            let (e, stop) = (e.clone(), stop.clone());
            std::thread::spawn(move || {
                let req = read(agent("any"), "d1");
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let d = e.authorize(&req);
                    assert!(d.errors.is_empty(), "{:?}", d.errors);
                    seen.push((d.policy_version.clone(), d.allowed, d.reasons.clone()));
                }
                seen
            })
        })
        .collect();
    let mut v_deny = None;
    for i in 0..1000 {
        let v = e
            .reload_policies(
                PolicySource::Texts(texts(deny)),
                None,
                ChangeRef {
                    actor: "ci".into(),
                    reason: format!("change {i}"),
                    reference: format!("git:{i}"),
                },
            )
            .unwrap();
        v_deny = Some(v.id.clone());
        e.rollback(ChangeRef::default()).unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    let v_deny = v_deny.unwrap();
    assert_ne!(v_allow, v_deny);
    let mut total = 0;
    for d in deciders {
        let seen = d.join().unwrap();
        assert!(!seen.is_empty(), "a decision thread made no progress");
        for (version, allowed, reasons) in seen {
            total += 1;
            // Each decision is what its recorded version decides.
            if version == v_allow {
                assert!(allowed);
                assert_eq!(reasons, ["open"]);
            } else {
                assert_eq!(version, v_deny);
                assert!(!allowed);
                assert_eq!(reasons, ["closed"]);
            }
        }
    }
    assert!(total > 0);
    assert_eq!(e.version().id, v_allow, "rolled back last");
}

#[test]
fn a_failed_reload_keeps_the_running_version() {
    let e = engine_with(
        "@id(\"open\") permit(principal, action, resource);",
        Arc::new(ManualClock::new(0)),
    );
    let before = e.version().id.clone();
    let err = e
        .reload_policies(
            PolicySource::Texts(texts("permit(principal, action, resource) when { 1 + };")),
            None,
            ChangeRef::default(),
        )
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::Load(files) if !files.is_empty()),
        "expected diagnostics, got {err}"
    );
    assert!(err.to_string().contains("test.mandate"), "{err}");
    assert_eq!(e.version().id, before);
    assert!(e.authorize(&read(agent("a"), "d1")).allowed);
    assert!(matches!(
        e.rollback(ChangeRef::default()),
        Err(EngineError::NoPreviousVersion)
    ));
}

#[test]
fn a_reload_with_type_errors_is_rejected_when_a_schema_is_given() {
    let e = Engine::builder()
        .schema_text("entity User { level: Long }; entity Doc; action read appliesTo { principal: [User], resource: [Doc] };", false)
        .policy_texts(texts("permit(principal, action, resource);"))
        .build()
        .unwrap();
    let err = e
        .reload_policies(
            PolicySource::Texts(texts(
                "permit(principal is User, action, resource) when { principal.levl > 1 };",
            )),
            None,
            ChangeRef::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("levl"), "{err}");
}

const QUOTAS: &str = r#"
@id("open") permit(principal, action, resource);
@id("calls") quota(principal, action, resource) limit 3 per 1m;
@id("spend") quota(principal, action, resource == Doc::"d2") limit 10 per 1h by principal cost context.cost;
"#;

fn costly(p: &str, doc: &str, cost: i64) -> Request {
    read(agent(p), doc).with_context(Value::record([("cost".into(), Value::Long(cost))]))
}

#[test]
fn quotas_deny_with_retry_after_and_charge_all_or_nothing() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let e = engine_with(QUOTAS, clock.clone());
    for _ in 0..3 {
        let d = e.authorize(&costly("a", "d1", 0));
        assert!(d.allowed);
        assert_eq!(d.layer, Layer::Quota);
    }
    let d = e.authorize(&costly("a", "d1", 0));
    assert!(!d.allowed);
    assert_eq!(d.reasons, ["calls"]);
    let q = &d.quota[0];
    assert_eq!((q.quota.as_str(), q.limit, q.used), ("calls", 3, 3));
    let retry = q.retry_after_ms.unwrap();
    // Exact to the granule (1/32 of the window): never later than the window plus one granule.
    assert!(retry > 0 && retry <= 60_000 + 1_875, "{retry}");
    // Other agents have their own buckets.
    assert!(e.authorize(&costly("b", "d1", 0)).allowed);
    // All or nothing: `spend` refuses, so `calls` is not charged either.
    let d = e.authorize(&costly("c", "d2", 11));
    assert!(!d.allowed);
    assert_eq!(d.reasons, ["spend"]);
    for _ in 0..3 {
        assert!(
            e.authorize(&costly("c", "d1", 0)).allowed,
            "calls was charged by a refused request"
        );
    }
    // After the window, capacity is back.
    clock.advance(retry);
    assert!(e.authorize(&costly("a", "d1", 0)).allowed);
}

/// With many quotas the engine selects them through an index; the quotas charged must be
/// exactly those whose scope and conditions hold, as a linear scan would find.
#[test]
fn many_quotas_are_selected_exactly_by_scope_and_condition() {
    let mut policies = String::from("@id(\"open\") permit(principal, action, resource);\n");
    for i in 0..10 {
        policies.push_str(&format!(
            "@id(\"agent-{i}\") quota(principal == Agent::\"a{i}\", action, resource) limit 100 per 1h;\n"
        ));
    }
    policies.push_str(
        "@id(\"doc-1\") quota(principal, action, resource == Doc::\"d1\") limit 100 per 1h;\n",
    );
    policies.push_str(
        "@id(\"every\") quota(principal, action == Action::\"read\", resource) limit 100 per 1h;\n",
    );
    policies.push_str("@id(\"costly\") quota(principal, action, resource) when { context has cost } limit 100 per 1h;\n");
    policies.push_str("@id(\"owner\") quota(principal is Agent, action, resource) limit 100 per 1h by resource.owner;\n");
    let e = engine_with(&policies, Arc::new(ManualClock::new(0)));
    let charged = |d: &mandate::Decision| {
        let mut ids: Vec<String> = d.quota.iter().map(|q| q.quota.to_string()).collect();
        ids.sort();
        ids
    };
    let d = e.authorize(&read(agent("a3"), "d1"));
    assert!(d.allowed);
    assert_eq!(charged(&d), ["agent-3", "doc-1", "every", "owner"]);
    let owner = d.quota.iter().find(|q| q.quota == "owner").unwrap();
    assert_eq!(owner.bucket, "Human::\"alice\"");
    let d = e.authorize(&costly("a7", "d2", 1));
    assert_eq!(charged(&d), ["agent-7", "costly", "every", "owner"]);
    let d = e.authorize(&read(agent("zz"), "d2"));
    assert_eq!(charged(&d), ["every", "owner"]);
    let d = e.authorize(&Request::new(
        uid("Human", "bob"),
        uid("Action", "write"),
        uid("Doc", "d1"),
    ));
    assert_eq!(charged(&d), ["doc-1"]);
    assert!(d.quota.iter().all(|q| q.bucket == "Human::\"bob\""));
}

#[test]
fn dry_run_charges_nothing_and_status_reports_usage() {
    let e = engine_with(QUOTAS, Arc::new(ManualClock::new(0)));
    let dry = AuthorizeOptions {
        dry_run: true,
        reserve: false,
    };
    for _ in 0..10 {
        let d = e.authorize_with(&costly("a", "d1", 0), dry);
        assert!(d.allowed && d.dry_run);
    }
    e.authorize(&costly("a", "d2", 4));
    let status = e.quota_status(&agent("a")).unwrap();
    let calls = status.iter().find(|s| s.quota == "calls").unwrap();
    assert_eq!(calls.status.as_ref().unwrap().used, 1);
    let spend = status.iter().find(|s| s.quota == "spend").unwrap();
    assert_eq!(spend.status.as_ref().unwrap().used, 4);
    assert_eq!(spend.status.as_ref().unwrap().remaining, 6);
}

#[test]
fn reservations_settle_and_refund() {
    let e = engine_with(QUOTAS, Arc::new(ManualClock::new(0)));
    let reserve = AuthorizeOptions {
        dry_run: false,
        reserve: true,
    };
    let d = e.authorize_with(&costly("a", "d2", 8), reserve);
    assert!(d.allowed);
    assert!(
        !e.authorize(&costly("a", "d2", 3)).allowed,
        "8 reserved of 10"
    );
    e.settle(&d.id, 2).unwrap();
    assert!(
        e.authorize(&costly("a", "d2", 3)).allowed,
        "settled to 2, so 5 used"
    );
    assert!(e.settle(&d.id, 1).is_err(), "settled twice");
    let d = e.authorize_with(&costly("b", "d2", 10), reserve);
    assert!(d.allowed);
    e.refund(&d.id).unwrap();
    assert!(e.authorize(&costly("b", "d2", 10)).allowed);
    assert!(e.refund("no-such-decision").is_err());
}

#[test]
fn quota_errors_fail_closed() {
    let e = engine_with(QUOTAS, Arc::new(ManualClock::new(0)));
    // `cost` reads a missing context field.
    let d = e.authorize(&read(agent("a"), "d2"));
    assert!(!d.allowed);
    assert_eq!(d.layer, Layer::Quota);
    assert_eq!(d.errors[0].id, "spend");
    // A negative cost.
    let d = e.authorize(&costly("a", "d2", -1));
    assert!(!d.allowed);
    assert!(d.errors[0].message.contains("negative"), "{:?}", d.errors);
}

#[derive(Debug)]
struct DownStore;

impl QuotaStore for DownStore {
    fn charge(
        &self,
        _: &[mandate::quota::Charge],
        _: Option<&str>,
        _: bool,
    ) -> Result<mandate::quota::ChargeResult, mandate::quota::StoreError> {
        Err(mandate::quota::StoreError::Unavailable(
            "connection refused".into(),
        ))
    }
    fn settle(
        &self,
        r: &str,
        _: u64,
    ) -> Result<mandate::quota::Settlement, mandate::quota::StoreError> {
        Err(mandate::quota::StoreError::UnknownReservation(r.into()))
    }
    fn refund(&self, r: &str) -> Result<mandate::quota::Settlement, mandate::quota::StoreError> {
        Err(mandate::quota::StoreError::UnknownReservation(r.into()))
    }
    fn status(
        &self,
        _: &[mandate::quota::Charge],
    ) -> Result<Vec<mandate::quota::BucketStatus>, mandate::quota::StoreError> {
        Err(mandate::quota::StoreError::Unavailable(
            "connection refused".into(),
        ))
    }
    fn name(&self) -> &'static str {
        "down"
    }
}

#[test]
fn a_failing_quota_store_denies_by_default_and_allows_when_configured() {
    for (mode, allowed) in [
        (StoreFailureMode::Deny, false),
        (StoreFailureMode::Allow, true),
    ] {
        let e = Engine::builder()
            .policy_texts(texts(QUOTAS))
            .quota_store(Arc::new(DownStore))
            .options(EngineOptions {
                on_store_failure: mode,
                ..EngineOptions::default()
            })
            .build()
            .unwrap();
        let d = e.authorize(&costly("a", "d1", 0));
        assert_eq!(d.allowed, allowed);
        assert_eq!(d.errors[0].id, "quota-store");
        assert!(d.errors[0].message.contains("connection refused"));
    }
}

#[test]
fn every_decision_and_change_is_audited() {
    let sink = Arc::new(MemorySink::new());
    let e = Engine::builder()
        .policy_texts(texts("permit(principal, action, resource);"))
        .audit(sink.clone())
        .build()
        .unwrap();
    e.agents()
        .register(spec("a", "alice"), "ops", "onboard")
        .unwrap();
    let d1 = e.authorize(&read(agent("a"), "d1"));
    e.agents()
        .suspend(&agent("a"), "ops", "incident 42")
        .unwrap();
    let d2 = e.authorize(&read(agent("a"), "d1"));
    e.reload_policies(
        PolicySource::Texts(texts("forbid(principal, action, resource);")),
        None,
        ChangeRef {
            actor: "ci".into(),
            reason: "tighten".into(),
            reference: "git:abc approved-by:bob".into(),
        },
    )
    .unwrap();
    let records = sink.records();
    let ids: Vec<String> = records
        .iter()
        .filter_map(|r| match r {
            AuditRecord::Decision { decision_id, .. } => Some(decision_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [d1.id, d2.id]);
    let json = serde_json::to_string(&records).unwrap();
    assert!(json.contains("incident 42"));
    assert!(json.contains("approved-by:bob"));
    assert!(json.contains(r#""op":"load""#) && json.contains(r#""op":"reload""#));
}

#[derive(Debug)]
struct BrokenSink;

impl AuditSink for BrokenSink {
    fn append(&self, _: &AuditRecord) -> Result<(), String> {
        Err("disk full".into())
    }
}

#[test]
fn no_allow_without_its_audit_record_by_default() {
    for (mode, allowed) in [
        (AuditFailureMode::Deny, false),
        (AuditFailureMode::BestEffort, true),
    ] {
        let e = Engine::builder()
            .policy_texts(texts("permit(principal, action, resource);"))
            .audit(Arc::new(BrokenSink))
            .options(EngineOptions {
                on_audit_failure: mode,
                ..EngineOptions::default()
            })
            .build()
            .unwrap();
        let d = e.authorize(&read(agent("a"), "d1"));
        assert_eq!(d.allowed, allowed);
        assert!(d.errors.iter().any(|e| e.id == "audit"));
        assert!(e.audit_failures() >= 1);
    }
}

#[test]
fn state_dir_persists_agents_and_quotas_across_engines() {
    let dir = tempfile::tempdir().unwrap();
    let build = || {
        Engine::builder()
            .policy_texts(texts(QUOTAS))
            .state_dir(dir.path())
            .build()
            .unwrap()
    };
    {
        let e = build();
        e.agents().register(spec("p", "alice"), "ops", "").unwrap();
        for _ in 0..3 {
            assert!(e.authorize(&costly("p", "d1", 0)).allowed);
        }
        e.agents().register(spec("q", "alice"), "ops", "").unwrap();
        e.agents().revoke(&agent("q"), "ops", "gone").unwrap();
    }
    let e = build();
    assert_eq!(e.authorize(&costly("p", "d1", 0)).reasons, ["calls"]);
    assert_eq!(
        e.authorize(&costly("q", "d1", 0)).reasons,
        ["lifecycle:revoked"]
    );
}

#[test]
fn decisions_carry_unique_ids_version_and_time() {
    let clock = Arc::new(ManualClock::new(42_000));
    let e = engine_with("permit(principal, action, resource);", clock);
    let a = e.authorize(&read(agent("a"), "d1"));
    let b = e.clone().authorize(&read(agent("a"), "d1"));
    assert_ne!(a.id, b.id);
    // 32 lowercase hex digits: the engine's random prefix, then a counter.
    for id in [&a.id, &b.id] {
        assert_eq!(id.len(), 32, "{id}");
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
            "{id}"
        );
    }
    let (pa, ca) = a.id.split_at_checked(16).unwrap();
    let (pb, cb) = b.id.split_at_checked(16).unwrap();
    assert_eq!(pa, pb);
    let (na, nb) = (
        u64::from_str_radix(ca, 16).unwrap(),
        u64::from_str_radix(cb, 16).unwrap(),
    );
    assert_eq!(nb, na + 1);
    assert_eq!(a.at_ms, 42_000);
    assert!(a.policy_version.starts_with("sha256:"));
    assert_eq!(a.policy_version, e.version().id);
}

#[test]
fn the_file_audit_log_has_one_verifiable_record_per_decision_with_masking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = mandate::audit::FileSink::open(&path, mandate::audit_log::AuditOptions::default())
        .unwrap()
        .with_mask(
            vec!["context.secret".into()],
            mandate::audit_log::Mask::Hash,
        );
    let e = Engine::builder()
        .policy_texts(texts("permit(principal, action, resource);"))
        .audit(Arc::new(sink))
        .build()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..50 {
        let r = read(agent("a"), "d1").with_context(Value::record([(
            "secret".into(),
            Value::String(format!("sk-{i}-do-not-log").into()),
        )]));
        ids.push(e.authorize(&r).id);
    }
    drop(e);
    let report =
        mandate::audit_log::verify(&path, mandate::audit_log::VerifyOptions::default()).unwrap();
    assert_eq!(report.records, 51, "one load record and 50 decisions");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("do-not-log"),
        "a masked field appears in clear"
    );
    for id in &ids {
        assert_eq!(
            text.matches(id.as_str()).count(),
            1,
            "exactly one record for {id}"
        );
    }
}
