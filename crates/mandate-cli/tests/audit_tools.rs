//! `mandate replay`, `mandate explain`, `mandate audit query` and `mandate audit stats` over an
//! audit log produced by `mandate authorize --state-dir`.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code"
)]

use serde_json::{Value as J, json};
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
@id("agents-read") permit (principal is App::Agent, action == App::Action::"read", resource)
  when { context.tokens < 100 };
@id("agents-write") permit (principal is App::Agent, action == App::Action::"write", resource)
  when { resource == App::Doc::"d1" };
@id("no-secret") forbid (principal, action, resource == App::Doc::"secret");
@id("reads") quota (principal, action == App::Action::"read", resource) limit 2 per 1h;
"#;

/// The proposed change: reads up to 1000 tokens (deny→allow), and no writes at all (allow→deny).
const NEW_POLICIES: &str = r#"
@id("agents-read") permit (principal is App::Agent, action == App::Action::"read", resource)
  when { context.tokens < 1000 };
@id("agents-write") permit (principal is App::Agent, action == App::Action::"write", resource)
  when { resource == App::Doc::"d1" };
@id("no-secret") forbid (principal, action, resource == App::Doc::"secret");
@id("no-write") forbid (principal, action == App::Action::"write", resource);
@id("reads") quota (principal, action == App::Action::"read", resource) limit 2 per 1h;
"#;

fn request(agent: &str, action: &str, doc: &str, tokens: i64) -> String {
    format!(
        r#"{{"principal": "App::Agent::\"{agent}\"", "action": "App::Action::\"{action}\"", "resource": "App::Doc::\"{doc}\"", "context": {{"tokens": {tokens}}}}}"#
    )
}

fn authorize(dir: &Path, req: &str) -> i32 {
    let run = mandate(
        dir,
        &[
            "authorize",
            "--policies",
            "p.mandate",
            "--request-json",
            req,
            "--state-dir",
            "state",
        ],
    );
    assert!(
        run.code == 0 || run.code == 2,
        "{}{}",
        run.stdout,
        run.stderr
    );
    run.code
}

fn agents(dir: &Path, args: &[&str]) {
    let mut a = vec!["agents"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--state-dir", "state"]);
    let run = mandate(dir, &a);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

const LOG: &str = "state/audit/audit.jsonl";

/// Nine decisions: 1-2 allowed reads, 3 a quota denial, 4 a policy denial (too many tokens),
/// 5 a forbid, 6 an allowed write, 7 a denied write, 8 an allowed write by a registered agent,
/// 9 a lifecycle denial of that agent once suspended.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("p.mandate"), POLICIES).unwrap();
    std::fs::write(d.join("new.mandate"), NEW_POLICIES).unwrap();
    assert_eq!(authorize(d, &request("a1", "read", "d1", 1)), 0);
    assert_eq!(authorize(d, &request("a1", "read", "d1", 1)), 0);
    assert_eq!(authorize(d, &request("a1", "read", "d1", 1)), 2);
    assert_eq!(authorize(d, &request("a2", "read", "d2", 500)), 2);
    assert_eq!(authorize(d, &request("a2", "read", "secret", 1)), 2);
    assert_eq!(authorize(d, &request("a2", "write", "d1", 0)), 0);
    assert_eq!(authorize(d, &request("a2", "write", "d2", 0)), 2);
    agents(
        d,
        &[
            "register",
            "App::Agent::\"a3\"",
            "--owner",
            "App::Human::\"alice\"",
            "--actor",
            "ops",
            "--reason",
            "onboard",
        ],
    );
    assert_eq!(authorize(d, &request("a3", "write", "d1", 0)), 0);
    agents(
        d,
        &[
            "suspend",
            "App::Agent::\"a3\"",
            "--actor",
            "sec",
            "--reason",
            "SEC-1",
        ],
    );
    assert_eq!(authorize(d, &request("a3", "write", "d1", 0)), 2);
    dir
}

fn json_lines(text: &str) -> Vec<J> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn audit_tools_over_a_recorded_log() {
    let dir = setup();
    let d = dir.path();

    // The log verifies and holds the nine decisions.
    let run = mandate(d, &["audit", "verify", LOG]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = mandate(d, &["audit", "query", LOG, "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let all = json_lines(&run.stdout);
    assert_eq!(all.len(), 9, "{}", run.stdout);
    let layers: Vec<&str> = all.iter().map(|r| r["layer"].as_str().unwrap()).collect();
    assert_eq!(
        layers,
        [
            "quota",
            "quota",
            "quota",
            "policy",
            "policy",
            "policy",
            "policy",
            "policy",
            "lifecycle"
        ]
    );

    // Replay against the same policies reproduces every compared decision.
    let run = mandate(
        d,
        &[
            "replay",
            "--audit",
            LOG,
            "--policies",
            "p.mandate",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: J = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["decisions"], 9);
    assert_eq!(report["compared"], 7);
    assert_eq!(report["unchanged"], 7);
    assert_eq!(report["changed"], 0);
    assert_eq!(report["skipped"], 2);
    assert_eq!(
        report["skipped_by_reason"],
        json!({"lifecycle:suspended (agent state at the time)": 1, "quota (usage at the time)": 1})
    );
    let run = mandate(d, &["replay", "--audit", LOG, "--policies", "p.mandate"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("no decision changes"), "{}", run.stdout);

    // Against the modified set: exactly the two writes that were allowed, and the big read.
    let run = mandate(
        d,
        &[
            "replay",
            "--audit",
            LOG,
            "--policies",
            "new.mandate",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let report: J = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["compared"], 7);
    assert_eq!(report["changed"], 3);
    assert_eq!(report["unchanged"], 4);
    let a2d = &report["allow_to_deny"];
    assert_eq!(a2d["count"], 2);
    assert_eq!(a2d["by_policy"], json!({"no-write": 2}));
    assert_eq!(
        a2d["by_agent"],
        json!({"App::Agent::\"a2\"": 1, "App::Agent::\"a3\"": 1})
    );
    let seqs = |v: &J| -> Vec<(String, String)> {
        v["examples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["principal"].as_str().unwrap().to_string(),
                    c["resource"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        seqs(a2d),
        [
            (
                "App::Agent::\"a2\"".to_string(),
                "App::Doc::\"d1\"".to_string()
            ),
            (
                "App::Agent::\"a3\"".to_string(),
                "App::Doc::\"d1\"".to_string()
            )
        ]
    );
    let d2a = &report["deny_to_allow"];
    assert_eq!(d2a["count"], 1);
    assert_eq!(d2a["by_policy"], json!({"agents-read": 1}));
    assert_eq!(
        seqs(d2a),
        [(
            "App::Agent::\"a2\"".to_string(),
            "App::Doc::\"d2\"".to_string()
        )]
    );
    // Every example names the recorded decision id.
    let ids: Vec<String> = all
        .iter()
        .map(|r| r["decision_id"].as_str().unwrap().to_string())
        .collect();
    for c in a2d["examples"].as_array().unwrap() {
        assert!(ids.contains(&c["decision_id"].as_str().unwrap().to_string()));
    }
    let run = mandate(d, &["replay", "--audit", LOG, "--policies", "new.mandate"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("allow → deny: 2"), "{}", run.stdout);
    assert!(run.stdout.contains("no-write"), "{}", run.stdout);
    // Unusable input.
    let run = mandate(
        d,
        &[
            "replay",
            "--audit",
            "missing.jsonl",
            "--policies",
            "p.mandate",
        ],
    );
    assert_eq!(run.code, 2);

    // Query filters.
    let query = |args: &[&str]| {
        let mut a = vec!["audit", "query", LOG, "--format", "json"];
        a.extend_from_slice(args);
        let run = mandate(d, &a);
        assert_eq!(run.code, 0, "{}", run.stderr);
        json_lines(&run.stdout)
    };
    assert_eq!(query(&["--principal", "App::Agent::\"a2\""]).len(), 4);
    let denied = query(&["--decision", "deny", "--layer", "policy"]);
    assert_eq!(denied.len(), 3);
    assert!(denied.iter().all(|r| r["decision"] == "deny"));
    assert_eq!(query(&["--action", "App::Action::\"write\""]).len(), 4);
    assert_eq!(query(&["--since", "2999-01-01T00:00:00Z"]).len(), 0);
    assert_eq!(query(&["--until", "2999-01-01T00:00:00+02:00"]).len(), 9);
    assert_eq!(query(&["--since", "2000-01-01"]).len(), 9);
    let lifecycle = query(&["--kind", "lifecycle"]);
    assert_eq!(lifecycle.len(), 2, "{lifecycle:?}");
    let run = mandate(
        d,
        &["audit", "query", LOG, "--principal", "App::Agent::\"a1\""],
    );
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("3 records"), "{}", run.stdout);
    assert!(run.stdout.contains("deny quota [reads]"), "{}", run.stdout);
    let run = mandate(d, &["audit", "query", LOG, "--since", "yesterday"]);
    assert_eq!(run.code, 2);

    // Stats: per agent, and a flagged anomaly (a1 at its quota's limit).
    let run = mandate(d, &["audit", "stats", LOG]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for agent in ["a1", "a2", "a3"] {
        assert!(
            run.stdout.contains(&format!("App::Agent::\"{agent}\"")),
            "{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("near-quota-limit"), "{}", run.stdout);
    let run = mandate(d, &["audit", "stats", LOG, "--format", "json"]);
    let stats: J = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(stats["decisions"], 9);
    let agent = |name: &str| {
        stats["agents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["principal"] == format!("App::Agent::\"{name}\""))
            .unwrap()
            .clone()
    };
    let a1 = agent("a1");
    assert_eq!(a1["decisions"], 3);
    assert_eq!(a1["quota_denials"], 1);
    assert_eq!(a1["anomalies"][0]["kind"], "near-quota-limit");
    let a3 = agent("a3");
    assert_eq!(a3["lifecycle_events"], 2);
    assert_eq!(a3["lifecycle_denials"], 1);
    assert_eq!(agent("a2")["policy_denials"], 3);
}

#[test]
fn explain_shows_the_failing_condition_of_a_near_miss() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("p.mandate"), POLICIES).unwrap();
    let req = request("a2", "read", "d2", 500);
    let run = mandate(
        d,
        &["explain", "--policies", "p.mandate", "--request-json", &req],
    );
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("DENY"), "{}", run.stdout);
    assert!(run.stdout.contains("closest permits"), "{}", run.stdout);
    assert!(
        run.stdout.contains("when { context.tokens < 100 } = false"),
        "{}",
        run.stdout
    );
    let run = mandate(
        d,
        &[
            "explain",
            "--policies",
            "p.mandate",
            "--request-json",
            &req,
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 2);
    let e: J = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(e["decision"]["allowed"], false);
    assert_eq!(e["decision"]["dry_run"], true);
    let acting = &e["principals"][0];
    assert_eq!(acting["role"], "acting");
    let miss = &acting["closest_permits"][0];
    assert_eq!(miss["id"], "agents-read");
    assert_eq!(miss["failing"], 1);
    assert_eq!(miss["failed_conditions"][0]["text"], "context.tokens < 100");
    assert_eq!(miss["failed_conditions"][0]["value"], false);
    // The write permit's scope does not match (action), so it is no near miss.
    let write = acting["policies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "agents-write")
        .unwrap();
    assert_eq!(write["outcome"], "scope-mismatch");
    assert_eq!(write["scope"]["action"], false);
    assert_eq!(acting["closest_permits"].as_array().unwrap().len(), 1);

    // An allowed request exits 0; a bad one 1.
    let run = mandate(
        d,
        &[
            "explain",
            "--policies",
            "p.mandate",
            "--request-json",
            &request("a2", "read", "d2", 5),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("permit agents-read: satisfied"),
        "{}",
        run.stdout
    );
    let run = mandate(
        d,
        &["explain", "--policies", "p.mandate", "--request-json", "{}"],
    );
    assert_eq!(run.code, 1);
}

/// `mandate audit verify DIR` verifies a log split by rotation as one chain: a rotated log is
/// the same chain cut at checkpoints into `audit.NNNNNN.jsonl` files before `audit.jsonl`.
#[test]
fn audit_verify_a_rotated_directory() {
    let dir = setup();
    let d = dir.path();
    let text = std::fs::read_to_string(d.join(LOG)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let checkpoints: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("{\"checkpoint\""))
        .map(|(i, _)| i)
        .collect();
    assert!(checkpoints.len() >= 4, "one checkpoint per run");
    let join = |part: &[&str]| part.iter().map(|l| format!("{l}\n")).collect::<String>();
    let (a, b) = (checkpoints[1] + 1, checkpoints[3] + 1);
    std::fs::create_dir(d.join("rot")).unwrap();
    std::fs::write(d.join("rot/audit.000001.jsonl"), join(&lines[..a])).unwrap();
    std::fs::write(d.join("rot/audit.000002.jsonl"), join(&lines[a..b])).unwrap();
    std::fs::write(d.join("rot/audit.jsonl"), join(&lines[b..])).unwrap();

    let whole = mandate(d, &["audit", "verify", LOG, "--format", "json"]);
    let split = mandate(d, &["audit", "verify", "rot", "--format", "json"]);
    assert_eq!(split.code, 0, "{}{}", split.stdout, split.stderr);
    assert_eq!(
        whole.stdout, split.stdout,
        "the same chain, the same report"
    );
    // Query reads the directory in the same order.
    let run = mandate(d, &["audit", "query", "rot", "--format", "json"]);
    assert_eq!(json_lines(&run.stdout).len(), 9, "{}", run.stderr);

    // A deleted middle file: the next one does not continue the chain.
    std::fs::remove_file(d.join("rot/audit.000002.jsonl")).unwrap();
    let run = mandate(d, &["audit", "verify", "rot"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stderr.contains("audit.jsonl") && run.stderr.contains("sequence gap"),
        "{}",
        run.stderr
    );
    // An empty directory is unusable, not tampered.
    std::fs::create_dir(d.join("empty")).unwrap();
    let run = mandate(d, &["audit", "verify", "empty"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// `mandate audit tail` prints every decision with its agent's rate, then per-agent totals; with
/// `--follow` it prints decisions as they are written.
#[test]
fn audit_tail_prints_decisions_with_rates_and_follows_new_ones() {
    let dir = setup();
    let d = dir.path();
    let run = mandate(d, &["audit", "tail", LOG]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let decisions: Vec<&str> = run.stdout.lines().filter(|l| l.contains("  #")).collect();
    assert_eq!(decisions.len(), 9, "{}", run.stdout);
    // a1's third decision (a quota denial) is its third within the minute.
    assert!(
        decisions[2].contains(r#"App::Agent::"a1""#)
            && decisions[2].contains("deny  quota")
            && decisions[2].ends_with(" 3/min"),
        "{}",
        decisions[2]
    );
    let summary: Vec<&str> = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("per agent"))
        .skip(1)
        .collect();
    assert_eq!(summary.len(), 3, "{}", run.stdout);
    assert!(
        summary[0].starts_with(r#"  App::Agent::"a1"  3  1  "#),
        "{}",
        summary[0]
    );
    assert!(
        summary[1].starts_with(r#"  App::Agent::"a2"  4  3  "#),
        "{}",
        summary[1]
    );
    assert!(
        summary[2].starts_with(r#"  App::Agent::"a3"  2  1  "#),
        "{}",
        summary[2]
    );

    // --follow: the existing decisions (the last 2 asked for), then one written afterwards.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mandate"))
        .current_dir(d)
        .args([
            "audit",
            "tail",
            LOG,
            "--follow",
            "--lines",
            "2",
            "--interval-ms",
            "20",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let stdout = child.stdout.take().unwrap();
    let (line_tx, lines) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    // A safety net against a hang, not a timing assertion.
    let next = || {
        lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap()
    };
    let first = next();
    assert!(first.contains(r#"App::Agent::"a3""#), "{first}");
    let second = next();
    assert!(second.contains("deny  lifecycle"), "{second}");
    assert_eq!(authorize(d, &request("a7", "read", "d1", 1)), 0);
    let third = next();
    assert!(
        third.contains(r#"App::Agent::"a7""#)
            && third.contains("allow")
            && third.ends_with(" 1/min"),
        "{third}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
}
