//! `mandate authorize --state-dir`, `mandate agents` and `mandate quota`: state shared by
//! consecutive runs (registry and quota journal), lifecycle denials, delegation, reservations.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn mandate(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_mandate"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const POLICIES: &str = r#"
@id("agents-read") permit (principal is App::Agent, action == App::Action::"read", resource);
@id("alice-reads-d1") permit (principal == App::Human::"alice", action, resource == App::Doc::"d1");
@id("reads") quota (principal, action, resource) limit 2 per 1h;
@id("tokens") quota (principal, action, resource == App::Doc::"d2") limit 100 per 1d by principal cost context.tokens;
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.mandate"), POLICIES).unwrap();
    dir
}

fn request(p: &str, r: &str, tokens: i64) -> String {
    format!(
        r#"{{"principal": "App::Agent::\"{p}\"", "action": "App::Action::\"read\"", "resource": "App::Doc::\"{r}\"", "context": {{"tokens": {tokens}}}}}"#
    )
}

fn authorize(dir: &Path, req: &str, extra: &[&str]) -> (Run, serde_json::Value) {
    let mut args = vec![
        "authorize",
        "--policies",
        "p.mandate",
        "--request-json",
        req,
        "--format",
        "json",
        "--state-dir",
        "state",
    ];
    args.extend_from_slice(extra);
    let run = mandate(dir, &args);
    let json = serde_json::from_str(&run.stdout).unwrap_or(serde_json::Value::Null);
    (run, json)
}

#[test]
fn quota_state_persists_across_runs_and_status_reports_it() {
    let dir = setup();
    for _ in 0..2 {
        let (run, _) = authorize(dir.path(), &request("a1", "d1", 0), &[]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    }
    let (run, json) = authorize(dir.path(), &request("a1", "d1", 0), &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(json["layer"], "quota");
    assert_eq!(json["reasons"], serde_json::json!(["reads"]));
    assert_eq!(json["quota"][0]["used"], 2);
    assert!(json["quota"][0]["retry_after_ms"].as_u64().unwrap() > 0);
    // Without the state directory, a run starts from nothing.
    let run = mandate(
        dir.path(),
        &[
            "authorize",
            "--policies",
            "p.mandate",
            "--request-json",
            &request("a1", "d1", 0),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = mandate(
        dir.path(),
        &[
            "quota",
            "status",
            "--principal",
            "App::Agent::\"a1\"",
            "--policies",
            "p.mandate",
            "--state-dir",
            "state",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("reads  bucket App::Agent::\"a1\": 2 of 2 used per 1h, 0 left"),
        "{}",
        run.stdout
    );
    // A dry run charges nothing.
    let (run, json) = authorize(dir.path(), &request("a2", "d1", 0), &["--dry-run"]);
    assert_eq!(run.code, 0);
    assert_eq!(json["dry_run"], true);
    let (_, json) = authorize(dir.path(), &request("a2", "d1", 0), &[]);
    assert_eq!(json["quota"][0]["used"], 0);
}

#[test]
fn reservations_are_settled_by_decision_id() {
    let dir = setup();
    let (run, json) = authorize(dir.path(), &request("a1", "d2", 90), &["--reserve"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let id = json["id"].as_str().unwrap().to_string();
    let (run, _) = authorize(dir.path(), &request("a1", "d2", 20), &[]);
    assert_eq!(run.code, 2, "90 of 100 reserved");
    let run = mandate(
        dir.path(),
        &[
            "quota",
            "settle",
            &id,
            "10",
            "--policies",
            "p.mandate",
            "--state-dir",
            "state",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (run, _) = authorize(dir.path(), &request("a1", "d2", 20), &[]);
    assert_eq!(run.code, 0, "settled to 10: {}", run.stdout);
    let run = mandate(
        dir.path(),
        &[
            "quota",
            "settle",
            &id,
            "10",
            "--policies",
            "p.mandate",
            "--state-dir",
            "state",
        ],
    );
    assert_eq!(run.code, 1, "settled twice");
    assert!(run.stderr.contains("error"), "{}", run.stderr);
}

#[test]
fn agents_lifecycle_through_the_cli() {
    let dir = setup();
    let agents = |args: &[&str]| {
        let mut a = vec!["agents"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--state-dir", "state"]);
        mandate(dir.path(), &a)
    };
    let run = agents(&[
        "register",
        "App::Agent::\"a1\"",
        "--owner",
        "App::Human::\"alice\"",
        "--actor",
        "ops",
        "--reason",
        "onboard",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = agents(&[
        "suspend",
        "App::Agent::\"a1\"",
        "--actor",
        "sec",
        "--reason",
        "SEC-1",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (run, json) = authorize(dir.path(), &request("a1", "d1", 0), &[]);
    assert_eq!(run.code, 2);
    assert_eq!(json["reasons"], serde_json::json!(["lifecycle:suspended"]));
    assert_eq!(json["layer"], "lifecycle");
    let run = agents(&["suspend", "App::Agent::\"a1\""]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("suspended"), "{}", run.stderr);
    let run = agents(&["show", "App::Agent::\"a1\""]);
    assert!(
        run.stdout.contains("suspend by sec") && run.stdout.contains("SEC-1"),
        "{}",
        run.stdout
    );
    let run = agents(&["revoke", "App::Agent::\"a1\""]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = agents(&[
        "register",
        "App::Agent::\"a1\"",
        "--owner",
        "App::Human::\"alice\"",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("never reused"), "{}", run.stderr);
    let run = agents(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list[0]["state"]["state"], "revoked");
    let run = agents(&["register", "not a uid", "--owner", "App::Human::\"alice\""]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("Type::\\\"id\\\"") || run.stderr.contains("Type::"),
        "{}",
        run.stderr
    );
}

#[test]
fn agents_apply_plans_then_reconciles() {
    let dir = setup();
    let manifest = r#"
[[agent]]
type = "App::Agent"
id = "a1"
owner = 'App::Human::"alice"'
[[agent]]
type = "App::Agent"
id = "a2"
owner = 'App::Human::"bob"'
"#;
    std::fs::write(dir.path().join("agents.toml"), manifest).unwrap();
    let apply = |extra: &[&str]| {
        let mut a = vec!["agents", "apply", "agents.toml", "--state-dir", "state"];
        a.extend_from_slice(extra);
        mandate(dir.path(), &a)
    };
    let run = apply(&["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("2 to register") && run.stdout.contains("dry run"),
        "{}",
        run.stdout
    );
    let run = apply(&[]);
    assert!(
        run.stdout.contains("applied: 2 registered"),
        "{}",
        run.stdout
    );
    std::fs::write(
        dir.path().join("agents.toml"),
        manifest
            .replace(
                "id = \"a2\"\nowner = 'App::Human::\"bob\"'",
                "id = \"a2\"\nowner = 'App::Human::\"carol\"'",
            )
            .split("[[agent]]")
            .take(2)
            .collect::<Vec<_>>()
            .join("[[agent]]"),
    )
    .unwrap();
    let run = apply(&[]);
    assert!(
        run.stdout.contains("? unlisted App::Agent::\"a2\""),
        "{}",
        run.stdout
    );
    let run = apply(&["--prune"]);
    assert!(run.stdout.contains("1 revoked"), "{}", run.stdout);
    let (_, json) = authorize(dir.path(), &request("a2", "d1", 0), &[]);
    assert_eq!(json["reasons"], serde_json::json!(["lifecycle:revoked"]));
}

#[test]
fn on_behalf_of_needs_the_delegator_too() {
    let dir = setup();
    let (run, _) = authorize(
        dir.path(),
        &request("a1", "d1", 0),
        &["--on-behalf-of", "App::Human::\"alice\""],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let (run, json) = authorize(
        dir.path(),
        &request("a1", "d1", 0),
        &["--on-behalf-of", "App::Human::\"bob\""],
    );
    assert_eq!(run.code, 2);
    assert_eq!(json["layer"], "delegation");
    assert_eq!(json["denied_principal"], "App::Human::\"bob\"");
    let run = mandate(
        dir.path(),
        &[
            "authorize",
            "--policies",
            "p.mandate",
            "--request-json",
            &request("a1", "d1", 0),
            "--on-behalf-of",
            "bob",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
}

#[test]
fn an_unreachable_redis_store_is_a_clear_error() {
    let dir = setup();
    let run = mandate(
        dir.path(),
        &[
            "authorize",
            "--policies",
            "p.mandate",
            "--request-json",
            &request("a1", "d1", 0),
            "--quota-store",
            "redis://127.0.0.1:1/",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("quota store"), "{}", run.stderr);
    let run = mandate(
        dir.path(),
        &[
            "authorize",
            "--policies",
            "p.mandate",
            "--request-json",
            &request("a1", "d1", 0),
            "--quota-store",
            "memcached://x",
        ],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("unknown quota store"), "{}", run.stderr);
}

#[test]
fn audit_log_of_a_state_dir_verifies_and_detects_tampering() {
    let dir = setup();
    let run = mandate(dir.path(), &["audit", "keygen", "--out", "key.hex"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let public = run.stdout.trim().to_string();
    assert_eq!(public.len(), 64);
    for _ in 0..3 {
        let (run, _) = authorize(
            dir.path(),
            &request("a1", "d1", 0),
            &["--audit-key", "key.hex", "--audit-mask", "context.tokens"],
        );
        assert!(run.code == 0 || run.code == 2, "{}", run.stderr);
    }
    let log = "state/audit/audit.jsonl";
    let run = mandate(
        dir.path(),
        &[
            "audit",
            "verify",
            log,
            "--public-key",
            &public,
            "--require-signatures",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["records"], 6, "a load and a decision per run");
    let text = std::fs::read_to_string(dir.path().join(log)).unwrap();
    assert!(!text.contains(r#""tokens":0"#), "masked field in clear");
    std::fs::write(
        dir.path().join(log),
        text.replacen("\"allow\"", "\"deny\"", 1),
    )
    .unwrap();
    let run = mandate(dir.path(), &["audit", "verify", log]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stderr.contains("line "), "{}", run.stderr);
    let run = mandate(dir.path(), &["audit", "verify", "missing.jsonl"]);
    assert_eq!(run.code, 2);
}

#[test]
fn check_validates_agents_manifests_against_the_schema() {
    let dir = setup();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    std::fs::write(
        dir.path().join("m/schema.cedarschema"),
        "namespace App { entity Human; entity Agent { owner: Human, level: Long }; entity Doc; action read appliesTo { principal: [Agent, Human], resource: [Doc] }; }",
    )
    .unwrap();
    let good = "[[agent]]\ntype = \"App::Agent\"\nid = \"a1\"\nowner = 'App::Human::\"alice\"'\n[agent.attributes]\nlevel = 2\n";
    std::fs::write(dir.path().join("m/agents.toml"), good).unwrap();
    let run = mandate(
        dir.path(),
        &["check", "--schema", "m/schema.cedarschema", "m"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(
        dir.path().join("m/agents.toml"),
        good.replace("level = 2", "level = \"high\""),
    )
    .unwrap();
    let run = mandate(
        dir.path(),
        &["check", "--schema", "m/schema.cedarschema", "m"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("MD0081") && run.stderr.contains("level"),
        "{}",
        run.stderr
    );
    std::fs::write(dir.path().join("m/agents.toml"), "[[agent]]\nid = 3\n").unwrap();
    let run = mandate(dir.path(), &["check", "m/agents.toml"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("MD0080"), "{}", run.stderr);
    let run = mandate(
        dir.path(),
        &[
            "authorize",
            "--policies",
            "p.mandate",
            "--request-json",
            &request("a1", "d1", 0),
            "--registry",
            "etcd://x",
        ],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("unknown registry"), "{}", run.stderr);
}
