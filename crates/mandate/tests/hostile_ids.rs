//! Hostile identifiers round-trip inertly (RELIABILITY R13): agent ids with quotes, policy
//! injection attempts, newlines, NUL, bidirectional controls, homoglyphs, escapes and a
//! megabyte of text go through registration, a policy naming them (written with `Uid`'s
//! `Display`, parsed back), request JSON, the decision, the audit log and `parse_uid_str`, and
//! come back byte for byte. None of them adds a policy, none grants anything to a look-alike id.
//! (The linter's flags for bidirectional controls and mixed scripts in policy text are tested
//! with the other lints, `crates/mandate-validate/tests/lints.rs`.)

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use mandate::audit::FileSink;
use mandate::audit_log::{AuditOptions, Durability, VerifyOptions, verify};
use mandate::registry::{AgentSpec, EntityRef};
use mandate::{Engine, Request, Uid, parse_uid_str};
use std::sync::Arc;

fn hostile_ids() -> Vec<(&'static str, String)> {
    vec![
        ("a double quote", r#"bot"s"#.to_string()),
        (
            "a policy injection",
            r#"x"); permit(principal, action, resource); //"#.to_string(),
        ),
        (
            "an injection through an entity literal",
            "\" || true || principal == Agent::\"".to_string(),
        ),
        (
            "a backslash and escapes",
            r"back\slash \n \u{41} \0".to_string(),
        ),
        (
            "a newline and a carriage return",
            "line1\nline2\r\n".to_string(),
        ),
        ("NUL", "nul\0byte".to_string()),
        (
            "bidirectional controls (Trojan Source)",
            "admin\u{202E}\u{2066}resu\u{2069}\u{202C}".to_string(),
        ),
        ("a Cyrillic homoglyph", "\u{0430}dmin".to_string()),
        ("an empty id", String::new()),
        ("only spaces", "   ".to_string()),
        ("a megabyte", "m".repeat(1 << 20)),
    ]
}

const ENTITIES: &str = r#"[
  {"uid": {"type": "Human", "id": "owner"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Doc", "id": "d"}, "attrs": {}, "parents": []}
]"#;

#[test]
fn hostile_ids_round_trip_inertly() {
    for (what, id) in hostile_ids() {
        let agent = Uid::new("Agent", id.as_str());

        // Display and back.
        let shown = agent.to_string();
        assert_eq!(
            parse_uid_str(&shown),
            Some(agent.clone()),
            "{what}: Display"
        );

        // A policy naming the agent, written with Display: exactly one policy, for exactly
        // this agent.
        let policy =
            format!("@id(\"only-this-agent\")\npermit(principal == {shown}, action, resource);");
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
        let engine = Engine::builder()
            .policy_texts(vec![("hostile.cedar".into(), policy)])
            .entities_json(ENTITIES)
            .audit(Arc::new(sink))
            .build()
            .unwrap_or_else(|e| panic!("{what}: the policy did not load: {e}"));
        assert_eq!(
            engine.version().policies.policies().len(),
            1,
            "{what}: one policy, no injection"
        );

        // Registration and back.
        let spec = AgentSpec::new("Agent", id.as_str(), EntityRef::new("Human", "owner"));
        engine
            .agents()
            .register(spec, "test", "hostile id")
            .unwrap();
        let back = engine.agents().get(&agent).unwrap().unwrap();
        assert_eq!(back.id, id, "{what}: registry");

        // A request as JSON, built by serde (the caller's side), read by the engine.
        let request_json = serde_json::json!({
            "principal": {"type": "Agent", "id": id},
            "action": {"type": "Action", "id": "read"},
            "resource": {"type": "Doc", "id": "d"},
            "context": {"note": id},
        })
        .to_string();
        let request = engine.request_from_json(&request_json).unwrap();
        assert_eq!(request.principal, agent, "{what}: request JSON");
        let decision = engine.authorize(&request);
        assert!(
            decision.allowed,
            "{what}: the named agent is allowed: {decision:?}"
        );
        assert_eq!(decision.reasons, ["only-this-agent"], "{what}");

        // Look-alikes get nothing: the same id with one more or one fewer character, and the
        // ASCII twin of a homoglyph.
        let mut longer = id.clone();
        longer.push('x');
        let mut lookalikes = vec![longer, id.chars().skip(1).collect::<String>()];
        if id.contains('\u{0430}') {
            lookalikes.push(id.replace('\u{0430}', "a"));
        }
        for other in lookalikes.into_iter().filter(|o| *o != id) {
            let r = Request::new(
                Uid::new("Agent", other.as_str()),
                Uid::new("Action", "read"),
                Uid::new("Doc", "d"),
            );
            assert!(
                !engine.authorize(&r).allowed,
                "{what}: a look-alike was allowed"
            );
        }

        // The audit log holds the id and the context byte for byte, and verifies.
        engine.flush_audit().unwrap();
        drop(engine);
        verify(&log, VerifyOptions::default()).unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("record").cloned())
            .filter(|r| r["kind"] == "decision" && r["decision"] == "allow")
            .any(|r| {
                r.to_string()
                    .contains(&serde_json::Value::String(id.clone()).to_string())
                    && r["context"]["note"] == serde_json::Value::String(id.clone())
            });
        assert!(
            found,
            "{what}: the allowed decision's record with the exact id"
        );
    }
}
