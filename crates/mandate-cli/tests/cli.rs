//! The `mandate` binary, run in a temporary directory: stdout, stderr and exit status of each
//! command and each documented exit code.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::Path;
use std::process::{Command, Output};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn mandate(dir: &Path, args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_mandate"))
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
@id("agents-read")
permit (principal is App::Agent, action == App::Action::"read", resource)
when { resource.public || resource.owner == principal };

@id("no-suspended")
forbid (principal, action, resource) when { principal.suspended };
"#;

const ENTITIES: &str = r#"[
  {"uid": {"type": "App::Agent", "id": "a1"}, "attrs": {"suspended": false}, "parents": []},
  {"uid": {"type": "App::Agent", "id": "a2"}, "attrs": {"suspended": true}, "parents": []},
  {"uid": {"type": "App::Doc", "id": "d1"}, "attrs": {"public": true, "owner": {"__entity": {"type": "App::Agent", "id": "a2"}}}, "parents": []},
  {"uid": {"type": "App::Doc", "id": "d2"}, "attrs": {"public": false, "owner": {"__entity": {"type": "App::Agent", "id": "a2"}}}, "parents": []}
]"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.cedar"), POLICIES).unwrap();
    std::fs::write(dir.path().join("entities.json"), ENTITIES).unwrap();
    dir
}

fn request(p: &str, r: &str) -> String {
    format!(
        r#"{{"principal": {{"type": "App::Agent", "id": "{p}"}}, "action": {{"type": "App::Action", "id": "read"}}, "resource": {{"type": "App::Doc", "id": "{r}"}}, "context": {{}}}}"#
    )
}

fn authorize(dir: &Path, req: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "authorize",
        "--policies",
        "p.cedar",
        "--entities",
        "entities.json",
        "--request-json",
        req,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    mandate(dir, &args)
}

#[test]
fn authorize_allow_exits_0_with_reasons() {
    let dir = setup();
    let run = authorize(dir.path(), &request("a1", "d1"), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["decision"], "allow");
    assert_eq!(json["reasons"], serde_json::json!(["agents-read"]));
    assert_eq!(json["errors"], serde_json::json!([]));
}

#[test]
fn authorize_deny_exits_2() {
    let dir = setup();
    let run = authorize(dir.path(), &request("a2", "d1"), &[]);
    assert_eq!(run.code, 2);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["decision"], "deny");
    assert_eq!(json["reasons"], serde_json::json!(["no-suspended"]));
}

#[test]
fn default_deny_has_no_reasons_and_human_format_says_why() {
    let dir = setup();
    let run = mandate(
        dir.path(),
        &[
            "authorize",
            "--policies",
            "p.cedar",
            "--entities",
            "entities.json",
            "--request-json",
            &request("a1", "d2"),
        ],
    );
    assert_eq!(run.code, 2);
    assert!(run.stdout.starts_with("DENY"), "{}", run.stdout);
    assert!(run.stdout.contains("default deny"), "{}", run.stdout);
}

#[test]
fn erroring_forbid_denies_by_default_but_not_in_cedar_mode() {
    let dir = setup();
    // `a3` is not in the store: the forbid's `principal.suspended` errors.
    let req = request("a3", "d1");
    let run = authorize(dir.path(), &req, &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["reasons"], serde_json::json!(["no-suspended"]));
    assert_eq!(json["errors"][0]["id"], "no-suspended");
    let run = authorize(dir.path(), &req, &["--error-mode", "cedar"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["decision"], "allow");
    assert_eq!(json["errors"][0]["id"], "no-suspended");
}

#[test]
fn unusable_inputs_exit_1_with_a_diagnostic() {
    let dir = setup();
    let run = authorize(dir.path(), "{\"principal\": 1}", &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("invalid request"), "{}", run.stderr);
    std::fs::write(
        dir.path().join("bad.json"),
        "[{\"uid\": {\"type\": \"A\", \"id\": \"x\"}, \"attrs\": {\"n\": null}}]",
    )
    .unwrap();
    let run = mandate(
        dir.path(),
        &[
            "authorize",
            "--policies",
            "p.cedar",
            "--entities",
            "bad.json",
            "--request-json",
            &request("a1", "d1"),
        ],
    );
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("$[0].attrs.n"), "{}", run.stderr);
}

#[test]
fn batch_decides_each_line_and_reports_bad_lines() {
    let dir = setup();
    let lines = format!(
        "{}\nnot json\n{}\n",
        request("a1", "d1"),
        request("a2", "d1")
    );
    std::fs::write(dir.path().join("reqs.jsonl"), lines).unwrap();
    let run = mandate(
        dir.path(),
        &[
            "authorize",
            "--policies",
            "p.cedar",
            "--entities",
            "entities.json",
            "--batch",
            "reqs.jsonl",
        ],
    );
    assert_eq!(run.code, 1, "a bad line makes the batch exit 1");
    let results: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["decision"], "allow");
    assert_eq!(results[1]["line"], 2);
    assert!(results[1]["error"].as_str().unwrap().contains("invalid"));
    assert_eq!(results[2]["decision"], "deny");
}

#[test]
fn check_reports_every_error_with_location_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("broken.cedar"),
        "permit(principal, action, resource) when { principal.x = 1 };\nforbid(principal, action, resource) when { contxt.y };\n",
    )
    .unwrap();
    let run = mandate(dir.path(), &["check", "."]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("broken.cedar:1:"), "{}", run.stderr);
    assert!(run.stderr.contains("broken.cedar:2:44"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `context`?"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("^"), "{}", run.stderr);
}

#[test]
fn check_json_format_lists_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("q.cedar"),
        "quota(principal, action, resource) limit 1 per 1m;",
    )
    .unwrap();
    let run = mandate(dir.path(), &["check", "--format", "json", "q.cedar"]);
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json[0]["code"], "MD0011");
    assert_eq!(json[0]["labels"][0]["line"], 1);
}

#[test]
fn check_clean_exits_0_and_missing_path_exits_2() {
    let dir = setup();
    let run = mandate(dir.path(), &["check", "p.cedar"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = mandate(dir.path(), &["check", "does-not-exist"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("does not exist"));
    let run = mandate(dir.path(), &["check"]);
    assert_eq!(run.code, 2, "usage error");
}

#[test]
fn fmt_check_lists_files_then_fmt_fixes_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ugly.cedar"),
        "permit(principal,action,resource)when{1==1};",
    )
    .unwrap();
    let run = mandate(dir.path(), &["fmt", "--check", "."]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("ugly.cedar"), "{}", run.stdout);
    let run = mandate(dir.path(), &["fmt", "."]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = mandate(dir.path(), &["fmt", "--check", "."]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn demo_runs_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let run = mandate(dir.path(), &["demo"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Every decision matched"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("did you mean `trust_level`?")
            && run.stdout.contains("600 allowed in total"),
        "{}",
        run.stdout
    );
}

// Every limit at limit − 1, limit and limit + 1: tests/limits.rs.

#[test]
fn limit_unknown_name_or_value_exits_1() {
    let dir = setup();
    for bad in ["max_nothing=1", "max_entities", "max_entities=-1"] {
        let run = authorize(dir.path(), &request("a1", "d1"), &["--limit", bad]);
        assert_eq!(run.code, 1, "{bad}");
        assert!(run.stderr.contains("--limit"), "{bad}: {}", run.stderr);
    }
}
