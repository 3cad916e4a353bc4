//! What the engine and the audit writer emit through the `metrics` facade, read back with the
//! debugging recorder (installed globally: the writer thread emits on its own thread, so this
//! binary holds this one test).

#![expect(clippy::unwrap_used, reason = "test code")]

use mandate::audit::FileSink;
use mandate::audit_log::{AuditOptions, Durability};
use mandate::quota::ManualClock;
use mandate::{Engine, Request, Uid};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use std::sync::Arc;

const POLICIES: &str = r#"
@id("reads") permit(principal, action == Action::"read", resource);
@id("calls") quota(principal, action, resource) limit 4 per 1h;
"#;

fn labels(key: &metrics::Key) -> Vec<(String, String)> {
    let mut labels: Vec<_> = key
        .labels()
        .map(|l| (l.key().to_string(), l.value().to_string()))
        .collect();
    labels.sort();
    labels
}

#[test]
fn decisions_quotas_and_the_audit_writer_are_measured() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::open(
        &dir.path().join("audit.jsonl"),
        AuditOptions {
            durability: Durability::Fsync,
            ..AuditOptions::default()
        },
    )
    .unwrap();
    let engine = Engine::builder()
        .policy_texts(vec![("p.mandate".into(), POLICIES.into())])
        .clock(Arc::new(ManualClock::new(1_000_000)))
        .audit(Arc::new(sink))
        .metrics(true)
        .build()
        .unwrap();
    let read = Request::new(
        Uid::new("Agent", "a"),
        Uid::new("Action", "read"),
        Uid::new("Doc", "d"),
    );
    let write = Request::new(
        Uid::new("Agent", "b"),
        Uid::new("Action", "write"),
        Uid::new("Doc", "d"),
    );
    // Four reads allowed, two refused by the quota; one write denied by the policies.
    let outcomes: Vec<bool> = (0..6).map(|_| engine.authorize(&read).allowed).collect();
    assert_eq!(outcomes, [true, true, true, true, false, false]);
    assert!(!engine.authorize(&write).allowed);
    drop(engine);

    let mut decisions = Vec::new();
    let mut utilisation = Vec::new();
    let (mut refusals, mut records, mut syncs, mut depth_seen) = (0, 0, 0, false);
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        match (key.name(), value) {
            ("mandate_decisions_total", DebugValue::Counter(n)) => {
                decisions.push((labels(key), n));
            }
            ("mandate_quota_utilisation", DebugValue::Histogram(values)) => {
                assert_eq!(labels(key), [("quota".to_string(), "calls".to_string())]);
                utilisation.extend(values.into_iter().map(|v| v.into_inner()));
            }
            ("mandate_quota_refusals_total", DebugValue::Counter(n)) => refusals += n,
            ("mandate_audit_records_total", DebugValue::Counter(n)) => records += n,
            ("mandate_audit_sync_seconds", DebugValue::Histogram(values)) => syncs += values.len(),
            ("mandate_audit_queue_depth", DebugValue::Gauge(_)) => depth_seen = true,
            _ => {}
        }
    }
    decisions.sort();
    let label = |agent: &str, decision: &str, layer: &str| {
        vec![
            ("agent".to_string(), agent.to_string()),
            ("decision".to_string(), decision.to_string()),
            ("layer".to_string(), layer.to_string()),
        ]
    };
    assert_eq!(
        decisions,
        [
            // An allow that went through a quota is decided by the last layer, the quota.
            (label(r#"Agent::"a""#, "allow", "quota"), 4),
            (label(r#"Agent::"a""#, "deny", "quota"), 2),
            (label(r#"Agent::"b""#, "deny", "policy"), 1),
        ]
    );
    // Usage before each charge plus its cost, over the limit of 4.
    assert_eq!(utilisation, [0.25, 0.5, 0.75, 1.0, 1.25, 1.25]);
    assert_eq!(refusals, 2);
    // The load record and seven decisions, each synced before its decision returned.
    assert_eq!(records, 8);
    assert!(syncs >= 8, "{syncs} syncs");
    assert!(depth_seen);
}
