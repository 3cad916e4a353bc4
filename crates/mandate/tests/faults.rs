//! Fail-closed faults (RELIABILITY R9): a fault injected at every boundary of a decision gives
//! a deny with a diagnostic, never an allow; no decision is an allow together with a global
//! error; and once the fault is gone the same engine decides normally again.
//!
//! Boundaries: a missing entity, an overflow, a limit (delegation chain, quota), the quota store
//! (error and panic), the audit sink (error and panic), the agent registry (error and panic),
//! and a forbid that errors. Each case is a request that is allowed without the fault.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test code")]

use mandate::audit::{AuditRecord, AuditSink};
use mandate::quota::{
    BucketStatus, Charge, ChargeResult, ManualClock, MemoryStore, QuotaStore, Settlement,
    StoreError,
};
use mandate::registry::{
    Agent, AgentSpec, AgentState, EntityRef, MemoryRegistry, Registry, RegistryError,
};
use mandate::{Decision, Engine, Request, Uid, Value};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// How a boundary behaves: normally, failing with an error, or panicking.
#[derive(Debug, Default)]
struct Fault {
    mode: AtomicU8,
    hits: AtomicU64,
}

const OK: u8 = 0;
const ERROR: u8 = 1;
const PANIC: u8 = 2;

impl Fault {
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
    fn hit(&self, what: &str) -> Result<(), String> {
        match self.mode.load(Ordering::SeqCst) {
            OK => Ok(()),
            ERROR => {
                self.hits.fetch_add(1, Ordering::SeqCst);
                Err(format!("injected {what} failure"))
            }
            _ => {
                self.hits.fetch_add(1, Ordering::SeqCst);
                panic!("injected {what} panic")
            }
        }
    }
}

#[derive(Debug)]
struct FaultyStore {
    inner: MemoryStore,
    fault: Arc<Fault>,
}

impl QuotaStore for FaultyStore {
    fn charge(
        &self,
        charges: &[Charge],
        reservation: Option<&str>,
        dry_run: bool,
    ) -> Result<ChargeResult, StoreError> {
        self.fault
            .hit("quota store")
            .map_err(StoreError::Unavailable)?;
        self.inner.charge(charges, reservation, dry_run)
    }
    fn settle(&self, reservation: &str, actual: u64) -> Result<Settlement, StoreError> {
        self.inner.settle(reservation, actual)
    }
    fn refund(&self, reservation: &str) -> Result<Settlement, StoreError> {
        self.inner.refund(reservation)
    }
    fn status(&self, buckets: &[Charge]) -> Result<Vec<BucketStatus>, StoreError> {
        self.inner.status(buckets)
    }
    fn name(&self) -> &'static str {
        "faulty"
    }
}

#[derive(Debug)]
struct FaultyRegistry {
    inner: MemoryRegistry,
    fault: Arc<Fault>,
}

impl Registry for FaultyRegistry {
    fn register(&self, s: AgentSpec, a: &str, r: &str, t: u64) -> Result<Agent, RegistryError> {
        self.inner.register(s, a, r, t)
    }
    fn update(&self, s: AgentSpec, a: &str, r: &str, t: u64) -> Result<Agent, RegistryError> {
        self.inner.update(s, a, r, t)
    }
    fn suspend(
        &self,
        ty: &str,
        id: &str,
        a: &str,
        r: &str,
        t: u64,
    ) -> Result<Agent, RegistryError> {
        self.inner.suspend(ty, id, a, r, t)
    }
    fn resume(&self, ty: &str, id: &str, a: &str, r: &str, t: u64) -> Result<Agent, RegistryError> {
        self.inner.resume(ty, id, a, r, t)
    }
    fn revoke(&self, ty: &str, id: &str, a: &str, r: &str, t: u64) -> Result<Agent, RegistryError> {
        self.inner.revoke(ty, id, a, r, t)
    }
    fn get(&self, ty: &str, id: &str) -> Result<Option<Agent>, RegistryError> {
        self.fault
            .hit("registry")
            .map_err(RegistryError::Unavailable)?;
        self.inner.get(ty, id)
    }
    fn state(
        &self,
        ty: &str,
        id: &str,
    ) -> Result<Option<(AgentState, Option<u64>)>, RegistryError> {
        self.fault
            .hit("registry")
            .map_err(RegistryError::Unavailable)?;
        self.inner.state(ty, id)
    }
    fn list(&self) -> Result<Vec<Agent>, RegistryError> {
        self.fault
            .hit("registry")
            .map_err(RegistryError::Unavailable)?;
        self.inner.list()
    }
    fn version(&self) -> Result<u64, RegistryError> {
        self.fault
            .hit("registry")
            .map_err(RegistryError::Unavailable)?;
        self.inner.version()
    }
    fn name(&self) -> &'static str {
        "faulty"
    }
}

#[derive(Debug)]
struct FaultySink {
    fault: Arc<Fault>,
    written: AtomicU64,
}

impl AuditSink for FaultySink {
    fn append(&self, _record: &AuditRecord) -> Result<(), String> {
        self.fault.hit("audit sink")?;
        self.written.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

const POLICIES: &str = r#"
@id("read") permit(principal is Agent, action == Action::"read", resource);
@id("owner-writes") permit(principal is Agent, action == Action::"write", resource)
  when { resource.owner == principal };
@id("counted") permit(principal is Agent, action == Action::"count", resource)
  when { context.n + 1 > 0 };
@id("spend") permit(principal is Agent, action == Action::"spend", resource);
@id("spend-cap") quota(principal, action == Action::"spend", resource) limit 1 per 1h;
@id("guard") forbid(principal, action == Action::"guarded", resource)
  when { context.level > 3 };
@id("guarded") permit(principal is Agent, action == Action::"guarded", resource);
"#;

const ENTITIES: &str = r#"[
  {"uid": {"type": "Human", "id": "owner"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "mine"}, "attrs": {"owner": {"__entity": {"type": "Agent", "id": "a"}}}, "parents": []},
  {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []}
]"#;

struct Rig {
    engine: Engine,
    store: Arc<Fault>,
    registry: Arc<Fault>,
    audit: Arc<Fault>,
}

fn rig() -> Rig {
    let (store, registry, audit) = (
        Arc::new(Fault::default()),
        Arc::new(Fault::default()),
        Arc::new(Fault::default()),
    );
    let clock = Arc::new(ManualClock::new(1_000_000));
    let engine = Engine::builder()
        .policy_texts(vec![("faults.mandate".into(), POLICIES.into())])
        .entities_json(ENTITIES)
        .clock(clock.clone())
        .quota_store(Arc::new(FaultyStore {
            inner: MemoryStore::new(clock),
            fault: store.clone(),
        }))
        .registry(Arc::new(FaultyRegistry {
            inner: MemoryRegistry::new(),
            fault: registry.clone(),
        }))
        .audit(Arc::new(FaultySink {
            fault: audit.clone(),
            written: AtomicU64::new(0),
        }))
        .build()
        .unwrap();
    engine
        .agents()
        .register(
            AgentSpec::new("Agent", "a", EntityRef::new("Human", "owner")),
            "test",
            "setup",
        )
        .unwrap();
    Rig {
        engine,
        store,
        registry,
        audit,
    }
}

fn req(action: &str, resource: &str) -> Request {
    Request::new(
        Uid::new("Agent", "a"),
        Uid::new("Action", action),
        Uid::new("Doc", resource),
    )
}

/// Decides `r`; a panic escaping `authorize` is a failure of the test.
fn decide(engine: &Engine, r: &Request) -> Decision {
    catch_unwind(AssertUnwindSafe(|| engine.authorize(r)))
        .unwrap_or_else(|_| panic!("authorize panicked instead of denying"))
}

/// A faulted decision: a deny with a diagnostic.
fn assert_fails_closed(what: &str, d: &Decision) {
    assert!(!d.allowed, "{what}: allowed despite the fault: {d:?}");
    assert!(
        !d.errors.is_empty(),
        "{what}: denied without a diagnostic: {d:?}"
    );
}

#[test]
fn every_injected_fault_denies_with_a_diagnostic() {
    let mut injected = 0;
    let mut count = |what: &str, d: Decision| {
        injected += 1;
        assert_fails_closed(what, &d);
    };

    // Evaluation faults: each request is allowed once the fault is removed.
    let r = rig();
    count("missing entity", decide(&r.engine, &req("write", "ghost")));
    assert!(r.engine.authorize(&req("write", "mine")).allowed);
    let overflow =
        req("count", "d").with_context(Value::record([("n".into(), Value::Long(i64::MAX))]));
    count("overflow", decide(&r.engine, &overflow));
    let fine = req("count", "d").with_context(Value::record([("n".into(), Value::Long(1))]));
    assert!(r.engine.authorize(&fine).allowed);
    let broken_guard = req("guarded", "d").with_context(Value::record([(
        "level".into(),
        Value::String("high".into()),
    )]));
    count("a forbid that errors", decide(&r.engine, &broken_guard));
    let calm = req("guarded", "d").with_context(Value::record([("level".into(), Value::Long(1))]));
    assert!(r.engine.authorize(&calm).allowed);

    // Limits.
    let chain: Vec<Uid> = (0..10)
        .map(|i| Uid::new("Human", format!("h{i}")))
        .collect();
    count(
        "delegation chain over the limit",
        decide(&r.engine, &req("read", "d").on_behalf_of(chain)),
    );
    assert!(r.engine.authorize(&req("spend", "d")).allowed);
    let over = r.engine.authorize(&req("spend", "d"));
    assert!(!over.allowed, "the quota's limit is hit: {over:?}");
    assert!(!over.quota.is_empty(), "the quota denial names the quota");

    // Boundary faults, as errors and as panics; the engine recovers after each.
    for (mode, how) in [(ERROR, "error"), (PANIC, "panic")] {
        let r = rig();
        r.store.set(mode);
        count(
            &format!("quota store {how}"),
            decide(&r.engine, &req("spend", "d")),
        );
        r.store.set(OK);
        assert!(
            r.engine.authorize(&req("spend", "d")).allowed,
            "after the quota store {how}"
        );

        let r = rig();
        r.registry.set(mode);
        count(
            &format!("registry {how}"),
            decide(&r.engine, &req("read", "d")),
        );
        r.registry.set(OK);
        assert!(
            r.engine.authorize(&req("read", "d")).allowed,
            "after the registry {how}"
        );

        let r = rig();
        r.audit.set(mode);
        count(
            &format!("audit sink {how}"),
            decide(&r.engine, &req("read", "d")),
        );
        r.audit.set(OK);
        assert!(
            r.engine.authorize(&req("read", "d")).allowed,
            "after the audit sink {how}"
        );
        assert!(r.store.hits.load(Ordering::SeqCst) + r.registry.hits.load(Ordering::SeqCst) == 0);
        assert!(
            r.audit.hits.load(Ordering::SeqCst) > 0,
            "the audit fault was injected"
        );
    }
    assert_eq!(
        injected, 10,
        "every fault above was injected and denied with a diagnostic"
    );
}

/// Whatever the faults, no decision is an allow that carries a global error (one not tied to
/// a policy that was skipped): quota store, registry, entities, audit, delegation, internal.
#[test]
fn no_allow_carries_a_global_error() {
    const GLOBAL: [&str; 6] = [
        "quota-store",
        "registry",
        "entities",
        "audit",
        "delegation",
        "internal",
    ];
    let requests = [
        req("read", "d"),
        req("write", "mine"),
        req("write", "ghost"),
        req("spend", "d"),
        req("guarded", "d"),
    ];
    let mut decided = 0;
    for store in [OK, ERROR] {
        for registry in [OK, ERROR] {
            for audit in [OK, ERROR] {
                let r = rig();
                r.store.set(store);
                r.registry.set(registry);
                r.audit.set(audit);
                for request in &requests {
                    let d = r.engine.authorize(request);
                    decided += 1;
                    let global: Vec<_> = d
                        .errors
                        .iter()
                        .filter(|e| GLOBAL.contains(&e.id.as_str()))
                        .collect();
                    assert!(
                        !d.allowed || global.is_empty(),
                        "an allow with a global error: {d:?}"
                    );
                    let plain = ["read", "spend"].contains(&request.action.id.as_str());
                    if store + registry + audit == OK && plain {
                        assert!(d.errors.is_empty(), "no fault, no error: {d:?}");
                    }
                }
            }
        }
    }
    assert_eq!(decided, 8 * requests.len());
}
