//! The audit trail writes decision records straight to canonical JSON
//! (`AuditRecord::canonical`), without a `serde_json::Value` in between. Those bytes must be
//! exactly the canonical form of the record's value, which the verifier recomputes: checked here
//! on decisions of every kind (allow, policy deny, erroring forbid, quota refusal, lifecycle and
//! delegation denials, dry runs) with contexts full of escapes, and through a file log that must
//! verify.
#![expect(clippy::unwrap_used, reason = "test code")]

use mandate::audit::{AuditRecord, MemorySink};
use mandate::{AuthorizeOptions, Engine, Request};
use std::sync::Arc;

const POLICIES: &str = r#"
@id("read") permit(principal, action == Action::"read", resource);
@id("guard") forbid(principal, action, resource) when { context.n > 2 && context.n + 9223372036854775807 > 0 };
@id("q") quota(principal, action == Action::"read", resource) limit 5 per 1h by action;
"#;

fn requests(engine: &Engine) -> Vec<(Request, AuthorizeOptions)> {
    let hostile = [
        "plain",
        "quote \" backslash \\ slash /",
        "controls \u{1} \u{1f} \n \r \t \u{8} \u{c}",
        "unicode é ß 𝔘 😀 \u{202e} \u{2028}",
        "",
    ];
    let mut out = Vec::new();
    for (i, s) in hostile.iter().enumerate() {
        let request = |chain: &[&str]| {
            let chain: Vec<serde_json::Value> = chain
                .iter()
                .map(|id| serde_json::json!({"type": "Human", "id": id}))
                .collect();
            let text = serde_json::json!({
                "principal": {"type": "User", "id": format!("u{i} {s}")},
                "action": {"type": "Action", "id": "read"},
                "resource": {"type": "Doc", "id": s},
                "context": {
                    "s": s,
                    "n": i64::try_from(i).unwrap() - 1,
                    "nested": {"list": [1, -2, true, s], "z": {"a": s}},
                    format!("k{s}"): 15,
                },
                "on_behalf_of": chain,
            })
            .to_string();
            engine.request_from_json(&text).unwrap()
        };
        out.push((request(&[]), AuthorizeOptions::default()));
        out.push((
            request(&[]),
            AuthorizeOptions {
                dry_run: true,
                ..AuthorizeOptions::default()
            },
        ));
        out.push((request(&[s, "b"]), AuthorizeOptions::default()));
        // Longer than max_delegation_depth: a delegation denial.
        out.push((
            request(&[s, "b", "c", "d", "e"]),
            AuthorizeOptions::default(),
        ));
    }
    out
}

#[test]
fn decision_records_encode_exactly_as_their_canonical_value() {
    let sink = Arc::new(MemorySink::new());
    let engine = Engine::builder()
        .policy_texts(vec![("p.mandate".into(), POLICIES.into())])
        .audit(sink.clone())
        .build()
        .unwrap();
    for (request, options) in requests(&engine) {
        engine.authorize_with(&request, options);
    }
    let records = sink.records();
    let decisions = records
        .iter()
        .filter(|r| matches!(r, AuditRecord::Decision { .. }))
        .count();
    assert!(decisions >= 15, "{decisions}");
    let mut layers = std::collections::BTreeSet::new();
    for record in &records {
        let value = serde_json::to_value(record).unwrap();
        if let Some(layer) = value.get("layer") {
            layers.insert(layer.to_string());
        }
        assert_eq!(
            String::from_utf8(record.canonical().unwrap()).unwrap(),
            String::from_utf8(mandate::audit_log::canonical_json(&value).unwrap()).unwrap(),
        );
    }
    // Allowed, policy and quota denials, errors: the cases the encoder writes differently.
    assert!(layers.len() >= 3, "{layers:?}");
    for layer in ["policy", "quota", "delegation"] {
        assert!(layers.contains(&format!("\"{layer}\"")), "{layers:?}");
    }
    assert!(
        records
            .iter()
            .any(|r| matches!(r, AuditRecord::Decision { errors, .. } if !errors.is_empty()))
    );
    assert!(
        records
            .iter()
            .any(|r| matches!(r, AuditRecord::Decision { quota, .. } if !quota.is_empty()))
    );
}

#[test]
fn a_file_log_of_such_decisions_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let engine = Engine::builder()
        .policy_texts(vec![("p.mandate".into(), POLICIES.into())])
        .audit_file(&path)
        .build()
        .unwrap();
    let requests = requests(&engine);
    let n = requests.len();
    for (request, options) in requests {
        engine.authorize_with(&request, options);
    }
    drop(engine);
    let report =
        mandate::audit_log::verify(&path, mandate::audit_log::VerifyOptions::default()).unwrap();
    assert_eq!(report.records, u64::try_from(n).unwrap() + 1);
}
