//! `mandate test`, run as a binary: the example platform's tests pass; broken tests fail with a
//! readable report; `now` reaches time-dependent policies.
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::path::{Path, PathBuf};
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

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn temp(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn the_example_platform_tests_pass() {
    let run = mandate(&workspace(), &["test", "policies/agent-platform"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "19 passed, 0 failed\n");
    let run = mandate(
        &workspace(),
        &[
            "test",
            "-v",
            "policies/agent-platform/tests/change_window_test.yaml",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with(
            "ok   policies/agent-platform/tests/change_window_test.yaml: during the window"
        ),
        "{}",
        run.stdout
    );
}

const POLICIES: &str = r#"
@id("agents-read")
permit (principal is App::Agent, action == App::Action::"read", resource)
when { resource.public };

@id("no-suspended")
forbid (principal, action, resource) when { principal.suspended };

@id("until-2026")
permit (principal == App::Agent::"temp", action == App::Action::"read", resource)
when { context.now < datetime("2026-01-01") };
"#;

const BROKEN: &str = r#"
# Deliberately wrong expectations.
policies: policies.cedar
entities:
  - {uid: {type: App::Agent, id: a1}, attrs: {suspended: false}, parents: []}
  - {uid: {type: App::Agent, id: temp}, attrs: {suspended: false}, parents: []}
  - {uid: {type: App::Agent, id: ghost}, attrs: {}, parents: []}
  - {uid: {type: App::Doc, id: d1}, attrs: {public: true}, parents: []}
  - {uid: {type: App::Doc, id: d2}, attrs: {public: false}, parents: []}
now: 2025-06-01
cases:
  - name: passes
    principal: App::Agent::"a1"
    action: App::Action::"read"
    resource: App::Doc::"d1"
    decision: allow
    reasons: [agents-read]
  - name: wrong decision
    principal: App::Agent::"a1"
    action: App::Action::"read"
    resource: App::Doc::"d2"
    decision: allow
  - name: wrong reasons
    principal: App::Agent::"a1"
    action: App::Action::"read"
    resource: App::Doc::"d1"
    decision: allow
    reasons: [someone-else]
  - name: an erroring forbid denies
    principal: {type: App::Agent, id: ghost}
    action: App::Action::"read"
    resource: App::Doc::"d1"
    decision: allow
  - name: the temporary grant has ended
    now: 2026-02-01T00:00:00Z
    principal: App::Agent::"temp"
    action: App::Action::"read"
    resource: App::Doc::"d2"
    decision: allow
  - name: a malformed request
    principal: App::Agent
    action: App::Action::"read"
    resource: App::Doc::"d1"
    decision: deny
"#;

#[test]
fn a_broken_test_file_fails_with_a_readable_report() {
    let dir = temp(&[("policies.cedar", POLICIES), ("broken_test.yaml", BROKEN)]);
    let run = mandate(dir.path(), &["test", "."]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("broken_test", run.stdout);
}

#[test]
fn time_dependent_policies_see_now() {
    let test = r#"
policies: [policies.cedar]
entities: [{uid: {type: App::Agent, id: temp}, attrs: {suspended: false}, parents: []}]
now: 2025-12-31T23:59:59Z
cases:
  - {name: before, principal: App::Agent::"temp", action: App::Action::"read", resource: App::Doc::"x", decision: allow, reasons: [until-2026]}
  - {name: after, now: 2026-01-01, principal: App::Agent::"temp", action: App::Action::"read", resource: App::Doc::"x", decision: deny}
  - {name: explicit, context: {now: {__extn: {fn: datetime, arg: "2027-01-01"}}}, principal: App::Agent::"temp", action: App::Action::"read", resource: App::Doc::"x", decision: deny}
"#;
    let dir = temp(&[("policies.cedar", POLICIES), ("t.yaml", test)]);
    let run = mandate(dir.path(), &["test", "t.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "3 passed, 0 failed\n");
}

#[test]
fn unusable_test_files_fail_and_missing_paths_exit_2() {
    let dir = temp(&[
        ("policies.cedar", POLICIES),
        (
            "a_test.yaml",
            "policies: policies.cedar\ncases:\n  - name: x\n    decison: allow\n",
        ),
        (
            "b_test.json",
            r#"{"policies": "missing.cedar", "cases": [{"name": "x", "principal": "App::Agent::\"a\"", "action": "App::Action::\"read\"", "resource": "App::Doc::\"d\"", "decision": "deny"}]}"#,
        ),
        (
            "notes.yaml",
            "not a test file: directories only take *_test.yaml",
        ),
    ]);
    let run = mandate(dir.path(), &["test", "."]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("unusable_test_files", run.stdout);
    assert_eq!(mandate(dir.path(), &["test", "nope"]).code, 2);
    let empty = temp(&[]);
    let run = mandate(empty.path(), &["test", "."]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no test files found"), "{}", run.stderr);
}
