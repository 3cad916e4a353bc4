//! Concurrency soak (issue "Robustness", item 6; RELIABILITY R9, R14, R15, R18, R20): for a
//! bounded time, 8 threads decide while other threads reload and roll back the policies, suspend,
//! resume and revoke agents, and exhaust a quota, with a durable audit log. At the end:
//!
//! - no thread panicked;
//! - every decision is consistent with the state at its time: its policy version (reported on
//!   the decision) gives the expected answer; an agent whose lifecycle state did not change
//!   during the call is allowed exactly when active; a revoked agent is never allowed after its
//!   revocation returned; the quota admitted exactly its limit (the clock stands still);
//! - no audit record was lost: the log verifies, it holds one `decision` record per decision
//!   made (each id exactly once), one `lifecycle` record per lifecycle change and one
//!   `policy_change` record per reload, rollback and the load.
//!
//! `MANDATE_SOAK_SECONDS` sets the duration (default 60, the test command's; longer on demand).

#![expect(
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::indexing_slicing,
    reason = "test code"
)]

use mandate::audit::FileSink;
use mandate::audit_log::{AuditOptions, Durability, VerifyOptions, verify};
use mandate::quota::ManualClock;
use mandate::registry::{AgentSpec, EntityRef};
use mandate::{ChangeRef, Engine, Layer, PolicySource, Request, Uid};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Version A: agents read, write and spend (spending is capped by a quota).
const POLICIES_A: &str = r#"
@id("read") permit(principal is Agent, action == Action::"read", resource);
@id("write") permit(principal is Agent, action == Action::"write", resource);
@id("spend") permit(principal is Agent, action == Action::"spend", resource);
@id("spend-cap") quota(principal, action == Action::"spend", resource) limit 500 per 1h by resource;
"#;

/// Version B: as A, but writes are forbidden.
const POLICIES_B: &str = r#"
@id("read") permit(principal is Agent, action == Action::"read", resource);
@id("write") permit(principal is Agent, action == Action::"write", resource);
@id("spend") permit(principal is Agent, action == Action::"spend", resource);
@id("spend-cap") quota(principal, action == Action::"spend", resource) limit 500 per 1h by resource;
@id("no-writes") forbid(principal, action == Action::"write", resource);
"#;

const SPEND_LIMIT: u64 = 500;
const DECIDERS: usize = 8;
/// Agents `a0..a7`: a0–a3 are suspended and resumed over and over, a4–a5 are revoked during
/// the run, a6–a7 stay active.
const AGENTS: usize = 8;
const FLIPPED: std::ops::Range<usize> = 0..4;
const REVOKED: std::ops::Range<usize> = 4..6;

const ENTITIES: &str = r#"[
  {"uid": {"type": "Human", "id": "owner"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Wallet", "id": "w"}, "attrs": {}, "parents": []}
]"#;

fn texts(policies: &str) -> PolicySource {
    PolicySource::Texts(vec![("soak.mandate".into(), policies.into())])
}

fn change(what: &str) -> ChangeRef {
    ChangeRef {
        actor: "soak".into(),
        reason: what.into(),
        reference: String::new(),
    }
}

fn agent(i: usize) -> Uid {
    Uid::new("Agent", format!("a{i}"))
}

/// A seqlock per agent: odd while its lifecycle state is being changed; `active` is the state
/// after the last completed change.
struct AgentState {
    epoch: AtomicU64,
    active: AtomicBool,
    /// Set once `revoke` has returned.
    revoked: AtomicBool,
}

/// What one decider saw that contradicts the state; empty at the end.
type Violations = Vec<String>;

struct Tally {
    decisions: u64,
    ids: Vec<String>,
    spend_allowed: u64,
    stable_checks: u64,
    violations: Violations,
}

fn seconds() -> u64 {
    std::env::var("MANDATE_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

#[test]
fn deciding_while_reloading_suspending_revoking_and_exhausting_quotas() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let sink = FileSink::open(
        &log,
        AuditOptions {
            durability: Durability::Fsync,
            ..AuditOptions::default()
        },
    )
    .unwrap();
    let engine = Arc::new(
        Engine::builder()
            .policy_texts(vec![("soak.mandate".into(), POLICIES_A.into())])
            .entities_json(ENTITIES)
            .clock(Arc::new(ManualClock::new(1_000_000)))
            .audit(Arc::new(sink))
            .build()
            .unwrap(),
    );
    let version_a: Arc<str> = engine.version().id.clone();
    let states: Arc<Vec<AgentState>> = Arc::new(
        (0..AGENTS)
            .map(|_| AgentState {
                epoch: AtomicU64::new(0),
                active: AtomicBool::new(true),
                revoked: AtomicBool::new(false),
            })
            .collect(),
    );
    let mut lifecycle_changes = 0u64;
    for i in 0..AGENTS {
        let spec = AgentSpec::new("Agent", format!("a{i}"), EntityRef::new("Human", "owner"));
        engine.agents().register(spec, "soak", "setup").unwrap();
        lifecycle_changes += 1;
    }

    let run_for = Duration::from_secs(seconds());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(DECIDERS + 3));
    // B's id, known before the first reload: a version's id is the hash of its content, and a
    // decider can see B as soon as a reload has installed it, before `reload_policies` returns.
    let b_id: Arc<str> = Engine::builder()
        .policy_texts(vec![("soak.mandate".into(), POLICIES_B.into())])
        .build()
        .unwrap()
        .version()
        .id
        .clone();
    let version_b: Arc<std::sync::Mutex<Option<Arc<str>>>> =
        Arc::new(std::sync::Mutex::new(Some(b_id)));

    // Policy changes: reload B, roll back to A, and so on.
    let policy_thread = {
        let (engine, stop, start, version_b) = (
            engine.clone(),
            stop.clone(),
            start.clone(),
            version_b.clone(),
        );
        std::thread::spawn(move || {
            start.wait();
            let mut changes = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let b = engine
                    .reload_policies(texts(POLICIES_B), None, change("reload B"))
                    .unwrap();
                assert_eq!(
                    version_b.lock().unwrap().as_deref(),
                    Some(&*b.id),
                    "B's id is its content hash"
                );
                engine.rollback(change("back to A")).unwrap();
                changes += 2;
                std::thread::sleep(Duration::from_millis(2));
            }
            changes
        })
    };

    // Lifecycle changes: suspend and resume a0–a3 under their seqlocks; revoke a4 and a5
    // a third of the way through.
    let lifecycle_thread = {
        let (engine, stop, start, states) =
            (engine.clone(), stop.clone(), start.clone(), states.clone());
        std::thread::spawn(move || {
            start.wait();
            let began = Instant::now();
            let mut changes = 0u64;
            let mut revoked = false;
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let i = FLIPPED.start + round % FLIPPED.len();
                let s = &states[i];
                let now_active = !s.active.load(Ordering::SeqCst);
                s.epoch.fetch_add(1, Ordering::SeqCst);
                if now_active {
                    engine.agents().resume(&agent(i), "soak", "flip").unwrap();
                } else {
                    engine.agents().suspend(&agent(i), "soak", "flip").unwrap();
                }
                s.active.store(now_active, Ordering::SeqCst);
                s.epoch.fetch_add(1, Ordering::SeqCst);
                changes += 1;
                round += 1;
                if !revoked && began.elapsed() > run_for / 3 {
                    for i in REVOKED {
                        let s = &states[i];
                        s.epoch.fetch_add(1, Ordering::SeqCst);
                        engine
                            .agents()
                            .revoke(&agent(i), "soak", "compromised")
                            .unwrap();
                        s.active.store(false, Ordering::SeqCst);
                        s.revoked.store(true, Ordering::SeqCst);
                        s.epoch.fetch_add(1, Ordering::SeqCst);
                        changes += 1;
                    }
                    revoked = true;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            changes
        })
    };

    let deciders: Vec<_> = (0..DECIDERS)
        .map(|t| {
            let (engine, stop, start, states, version_a, version_b) = (
                engine.clone(),
                stop.clone(),
                start.clone(),
                states.clone(),
                version_a.clone(),
                version_b.clone(),
            );
            std::thread::spawn(move || {
                start.wait();
                let mut tally = Tally {
                    decisions: 0,
                    ids: Vec::new(),
                    spend_allowed: 0,
                    stable_checks: 0,
                    violations: Vec::new(),
                };
                let mut n = t;
                while !stop.load(Ordering::Relaxed) {
                    n += DECIDERS;
                    let i = n % AGENTS;
                    let (action, resource) = match n % 3 {
                        0 => ("read", Uid::new("Doc", "d")),
                        1 => ("write", Uid::new("Doc", "d")),
                        _ => ("spend", Uid::new("Wallet", "w")),
                    };
                    let s = &states[i];
                    let revoked_before = s.revoked.load(Ordering::SeqCst);
                    let epoch_before = s.epoch.load(Ordering::SeqCst);
                    let active_before = s.active.load(Ordering::SeqCst);
                    let request = Request::new(agent(i), Uid::new("Action", action), resource);
                    let d = engine.authorize(&request);
                    let epoch_after = s.epoch.load(Ordering::SeqCst);
                    tally.decisions += 1;
                    tally.ids.push(d.id.clone());
                    let mut bad = |why: &str| {
                        tally
                            .violations
                            .push(format!("{why}: a{i} {action} -> {d:?}"));
                    };
                    if !d.errors.is_empty() {
                        bad("a decision with errors");
                    }
                    if revoked_before && d.allowed {
                        bad("a revoked agent was allowed");
                    }
                    let stable = epoch_before == epoch_after && epoch_before % 2 == 0;
                    if stable {
                        tally.stable_checks += 1;
                        if !active_before && d.allowed {
                            bad("an inactive agent was allowed");
                        }
                        if !active_before && d.layer != Layer::Lifecycle {
                            bad("an inactive agent was not stopped by the lifecycle gate");
                        }
                    }
                    if d.layer == Layer::Lifecycle && (stable && active_before) {
                        bad("an active agent was denied by the lifecycle gate");
                    }
                    if d.layer != Layer::Lifecycle {
                        // The agent passed the gate: the policies and the quota decide.
                        let is_b = version_b.lock().unwrap().as_deref() == Some(&*d.policy_version);
                        let is_a = *d.policy_version == *version_a;
                        if !is_a && !is_b {
                            bad("an unknown policy version");
                        }
                        match action {
                            "read" if !d.allowed => bad("a read was denied"),
                            "write" if d.allowed != is_a => {
                                bad("a write decided against its policy version");
                            }
                            "spend" if d.allowed => tally.spend_allowed += 1,
                            "spend" if d.layer != Layer::Quota => {
                                bad("a spend was denied by something other than the quota");
                            }
                            _ => {}
                        }
                    }
                }
                tally
            })
        })
        .collect();

    start.wait();
    std::thread::sleep(run_for);
    stop.store(true, Ordering::Relaxed);
    let tallies: Vec<Tally> = deciders.into_iter().map(|h| h.join().unwrap()).collect();
    let policy_changes = policy_thread.join().unwrap();
    lifecycle_changes += lifecycle_thread.join().unwrap();
    engine.flush_audit().unwrap();
    assert_eq!(engine.audit_failures(), 0, "audit records failed");

    let violations: Vec<&String> = tallies.iter().flat_map(|t| &t.violations).collect();
    assert!(
        violations.is_empty(),
        "{} decisions inconsistent with the state, e.g. {:#?}",
        violations.len(),
        &violations[..violations.len().min(5)]
    );
    let decisions: u64 = tallies.iter().map(|t| t.decisions).sum();
    let spend_allowed: u64 = tallies.iter().map(|t| t.spend_allowed).sum();
    let stable: u64 = tallies.iter().map(|t| t.stable_checks).sum();
    eprintln!(
        "soak: {decisions} decisions ({stable} with a stable lifecycle state), \
         {policy_changes} policy changes, {lifecycle_changes} lifecycle changes in {run_for:?}"
    );
    assert!(
        decisions >= 100 * run_for.as_secs().max(1),
        "too few decisions to mean anything: {decisions}"
    );
    assert!(
        policy_changes >= 10,
        "too few policy changes: {policy_changes}"
    );
    assert_eq!(
        spend_allowed, SPEND_LIMIT,
        "the quota admitted {spend_allowed}, its limit is {SPEND_LIMIT}"
    );

    // No record lost: the log verifies and holds exactly what the engine did.
    drop(engine);
    let report = verify(&log, VerifyOptions::default()).unwrap();
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(record) = v.get("record") else {
            continue;
        };
        let kind = record["kind"].as_str().unwrap().to_string();
        if kind == "decision" {
            *ids.entry(record["decision_id"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        *by_kind.entry(kind).or_default() += 1;
    }
    assert_eq!(report.dropped, 0);
    assert_eq!(by_kind.get("decision").copied(), Some(decisions));
    assert_eq!(by_kind.get("lifecycle").copied(), Some(lifecycle_changes));
    // The load, then every reload and rollback.
    assert_eq!(
        by_kind.get("policy_change").copied(),
        Some(1 + policy_changes)
    );
    let made: HashSet<&str> = tallies
        .iter()
        .flat_map(|t| t.ids.iter().map(String::as_str))
        .collect();
    assert_eq!(made.len() as u64, decisions, "decision ids are unique");
    assert!(
        ids.iter()
            .all(|(id, n)| *n == 1 && made.contains(id.as_str())),
        "every decision id appears exactly once in the log"
    );
}
