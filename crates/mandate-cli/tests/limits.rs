//! Every limit of `mandate::Limits` through the CLI: an input whose size is `V` is accepted with
//! `--limit NAME=V+1` and `--limit NAME=V` and refused with `--limit NAME=V-1`, with a message
//! naming the limit and the observed value (`V is more than the limit `NAME` = V-1`). The same
//! as the input at limit − 1, limit and limit + 1. A limit without a case here fails the test.
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
    out: String,
}

fn mandate(dir: &Path, args: &[String]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_mandate"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

const POLICY: &str = "permit(principal, action, resource);\n";

const ENTITIES: &str = r#"[{"uid": {"type": "User", "id": "u"}, "attrs": {}, "parents": []}]"#;

fn request(context: &str) -> String {
    format!(
        r#"{{"principal": {{"type": "User", "id": "u"}}, "action": {{"type": "Action", "id": "read"}}, "resource": {{"type": "Doc", "id": "d"}}, "context": {context}}}"#
    )
}

/// One limit's case: the files to write, the command (without `--limit`), the observed value
/// and the exit status when the input fits.
struct Case {
    name: &'static str,
    files: Vec<(&'static str, String)>,
    args: Vec<String>,
    observed: usize,
    ok_code: i32,
    refused_code: i32,
}

fn authorize(request: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "authorize",
        "--policies",
        "p.cedar",
        "--entities",
        "entities.json",
        "--format",
        "json",
        "--request-json",
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    args.push(request.to_string());
    args.extend(extra.iter().map(|s| (*s).to_string()));
    args
}

fn files(policy: &str, entities: &str) -> Vec<(&'static str, String)> {
    vec![
        ("p.cedar", policy.to_string()),
        ("entities.json", entities.to_string()),
    ]
}

/// An authorize case whose refusal is a load error (exit 1).
fn load_case(
    name: &'static str,
    policy: &str,
    entities: &str,
    request: &str,
    observed: usize,
) -> Case {
    Case {
        name,
        files: files(policy, entities),
        args: authorize(request, &[]),
        observed,
        ok_code: 0,
        refused_code: 1,
    }
}

/// The length of the first audit record mentioning `marker` in the log at `path` (its
/// canonical JSON, as written between `"record":` and `,"hash"`).
fn record_len(path: &Path, marker: &str) -> usize {
    let log = std::fs::read_to_string(path).unwrap();
    let line = log.lines().find(|l| l.contains(marker)).expect("recorded");
    line.rfind(",\"hash\":\"").unwrap() - line.find(",\"record\":").unwrap() - 10
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let plain = request("{}");
    cases.push(load_case(
        "max_source_bytes",
        POLICY,
        ENTITIES,
        &plain,
        POLICY.len(),
    ));
    let three_lines = "permit(\n  principal, action, resource\n);\n";
    cases.push(load_case(
        "max_source_lines",
        three_lines,
        ENTITIES,
        &plain,
        3,
    ));
    // `false` is depth 1; each pair of parentheses adds one.
    cases.push(load_case(
        "max_nesting_depth",
        "permit(principal, action, resource) unless { (((((false))))) };\n",
        ENTITIES,
        &plain,
        6,
    ));
    cases.push(load_case(
        "max_policies",
        &POLICY.repeat(3),
        ENTITIES,
        &plain,
        3,
    ));
    let long = "s".repeat(40);
    cases.push(load_case(
        "max_string_bytes",
        &format!("permit(principal, action, resource) when {{ \"{long}\" != \"\" }};\n"),
        ENTITIES,
        &plain,
        40,
    ));
    let set: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    cases.push(load_case(
        "max_set_elements",
        &format!(
            "permit(principal, action, resource) when {{ [{}].contains(1) }};\n",
            set.join(", ")
        ),
        ENTITIES,
        &plain,
        30,
    ));
    let mut entities: Vec<String> = (0..5)
        .map(|i| {
            format!(r#"{{"uid": {{"type": "Doc", "id": "d{i}"}}, "attrs": {{}}, "parents": []}}"#)
        })
        .collect();
    entities.push(r#"{"uid": {"type": "User", "id": "u"}, "attrs": {}, "parents": []}"#.into());
    cases.push(load_case(
        "max_entities",
        POLICY,
        &format!("[{}]", entities.join(",")),
        &plain,
        6,
    ));
    // u -> g1 -> g2 -> g3 -> g4: u has four ancestors.
    let mut chain = vec![
        r#"{"uid": {"type": "User", "id": "u"}, "attrs": {}, "parents": [{"type": "Group", "id": "g1"}]}"#
            .to_string(),
    ];
    for i in 1..=4 {
        let parents = if i < 4 {
            format!(r#"[{{"type": "Group", "id": "g{}"}}]"#, i + 1)
        } else {
            "[]".into()
        };
        chain.push(format!(
            r#"{{"uid": {{"type": "Group", "id": "g{i}"}}, "attrs": {{}}, "parents": {parents}}}"#
        ));
    }
    cases.push(load_case(
        "max_ancestors",
        POLICY,
        &format!("[{}]", chain.join(",")),
        &plain,
        4,
    ));
    cases.push(load_case(
        "max_request_bytes",
        POLICY,
        ENTITIES,
        &plain,
        plain.len(),
    ));
    // Three links: refused as a deny (exit 2) naming the limit, not as unusable input.
    cases.push(Case {
        name: "max_delegation_depth",
        files: files(POLICY, ENTITIES),
        args: authorize(
            &plain,
            &[
                "--on-behalf-of",
                "User::\"a\"",
                "--on-behalf-of",
                "User::\"b\"",
                "--on-behalf-of",
                "User::\"c\"",
            ],
        ),
        observed: 3,
        ok_code: 0,
        refused_code: 2,
    });
    // The decision's record in the audit log; its length is measured by a first run.
    let padded = request(&format!(r#"{{"pad": "{}"}}"#, "x".repeat(100)));
    let probe = tempfile::tempdir().unwrap();
    for (name, text) in files(POLICY, ENTITIES) {
        std::fs::write(probe.path().join(name), text).unwrap();
    }
    let run = mandate(
        probe.path(),
        &authorize(&padded, &["--audit-file", "audit.jsonl"]),
    );
    assert_eq!(run.code, 0, "{}", run.out);
    let observed = record_len(&probe.path().join("audit.jsonl"), "\"pad\"");
    cases.push(Case {
        name: "max_audit_record_bytes",
        files: files(POLICY, ENTITIES),
        args: authorize(&padded, &["--audit-file", "audit.jsonl"]),
        observed,
        ok_code: 0,
        refused_code: 2,
    });
    cases
}

#[test]
fn every_limit_at_limit_minus_1_limit_and_limit_plus_1() {
    let cases = cases();
    for name in mandate::LIMIT_NAMES {
        assert!(
            cases.iter().any(|c| c.name == name),
            "no CLI case for the limit `{name}`"
        );
    }
    for case in &cases {
        let v = case.observed;
        for (limit, fits) in [(v + 1, true), (v, true), (v - 1, false)] {
            let dir = tempfile::tempdir().unwrap();
            for (name, text) in &case.files {
                std::fs::write(dir.path().join(name), text).unwrap();
            }
            let mut args = case.args.clone();
            args.push("--limit".into());
            args.push(format!("{}={limit}", case.name));
            let run = mandate(dir.path(), &args);
            let what = format!("{} = {limit} (input {v})", case.name);
            if fits {
                assert_eq!(run.code, case.ok_code, "{what}: {}", run.out);
            } else {
                assert_eq!(run.code, case.refused_code, "{what}: {}", run.out);
                let named = format!("{v} is more than the limit `{}` = {limit}", case.name);
                assert!(run.out.contains(&named), "{what}: {}", run.out);
            }
        }
    }
}

#[test]
fn check_and_lint_take_limits_from_the_flag_and_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let long = "s".repeat(40);
    std::fs::write(
        dir.path().join("p.cedar"),
        format!("permit(principal, action, resource) when {{ \"{long}\" != \"\" }};\n"),
    )
    .unwrap();
    let args = |cmd: &str, limit: usize| -> Vec<String> {
        vec![
            cmd.into(),
            "--limit".into(),
            format!("max_string_bytes={limit}"),
            "p.cedar".into(),
        ]
    };
    for cmd in ["check", "lint"] {
        assert_eq!(mandate(dir.path(), &args(cmd, 40)).code, 0, "{cmd}");
        let run = mandate(dir.path(), &args(cmd, 39));
        assert_eq!(run.code, 1, "{cmd}: {}", run.out);
        assert!(
            run.out
                .contains("40 is more than the limit `max_string_bytes` = 39"),
            "{cmd}: {}",
            run.out
        );
        assert!(run.out.contains("p.cedar:1:44"), "{cmd}: {}", run.out);
    }
    // `[limits]` in mandate.toml applies to lint; the flag overrides it.
    std::fs::write(
        dir.path().join("mandate.toml"),
        "[limits]\nmax_string_bytes = 39\n",
    )
    .unwrap();
    let lint = |extra: &[&str]| {
        let mut a: Vec<String> = vec!["lint".into()];
        a.extend(extra.iter().map(|s| (*s).to_string()));
        a.push("p.cedar".into());
        mandate(dir.path(), &a)
    };
    let run = lint(&[]);
    assert_eq!(run.code, 1, "{}", run.out);
    assert!(run.out.contains("`max_string_bytes` = 39"), "{}", run.out);
    assert_eq!(lint(&["--limit", "max_string_bytes=40"]).code, 0);
    // A misspelt limit in the configuration is an error pointing into it.
    std::fs::write(
        dir.path().join("mandate.toml"),
        "[limits]\nmax_strings_bytes = 39\n",
    )
    .unwrap();
    let run = lint(&[]);
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(
        run.out.contains("unknown limit `max_strings_bytes`"),
        "{}",
        run.out
    );
    assert!(run.out.contains("mandate.toml:2:"), "{}", run.out);
    // A bad flag is a usage error.
    let run = mandate(
        dir.path(),
        &args("check", 0)[..1]
            .iter()
            .cloned()
            .chain(["--limit".into(), "max_nothing=1".into(), "p.cedar".into()])
            .collect::<Vec<_>>(),
    );
    assert_eq!(run.code, 2, "{}", run.out);
    assert!(
        run.out.contains("unknown limit `max_nothing`"),
        "{}",
        run.out
    );
}
