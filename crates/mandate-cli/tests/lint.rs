//! `mandate lint`, run as a binary: every `policies/agent-platform/bad/*` example in every output
//! format (snapshots), the SARIF against a SARIF 2.1.0 model, exit statuses, configuration.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

use common::{Run, entries, expected_codes, mandate, workspace};
use std::collections::BTreeSet;

const SCHEMA: &str = "policies/agent-platform/schema.cedarschema";
const NOW: &str = "2026-11-26T00:00:00Z";

/// The `bad/` examples: files and directories, sorted.
fn bad_entries() -> Vec<String> {
    entries("policies/agent-platform/bad", |n| n.contains("_bad"))
}

fn lint_bad(entry: &str, format: &str) -> Run {
    let path = format!("policies/agent-platform/bad/{entry}");
    mandate(
        &workspace(),
        &[
            "lint", "--schema", SCHEMA, "--now", NOW, "--format", format, &path,
        ],
    )
}

#[test]
fn every_bad_example_reports_exactly_its_expected_lints() {
    let entries = bad_entries();
    assert!(entries.len() >= 12, "{entries:?}");
    let mut covered = BTreeSet::new();
    for entry in &entries {
        let expected = expected_codes(&workspace().join("policies/agent-platform/bad").join(entry));
        assert!(!expected.is_empty(), "{entry} has no `// expect:` line");
        let run = lint_bad(entry, "json");
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let got: BTreeSet<String> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, expected, "{entry}: {}", run.stdout);
        covered.extend(got);
    }
    // Every lint of the registry has an example.
    for lint in mandate::lint::LINTS {
        assert!(covered.contains(lint.code), "no example for {}", lint.code);
    }
}

#[test]
fn bad_examples_render_in_every_format() {
    for entry in bad_entries() {
        for format in ["human", "json", "sarif", "github"] {
            let run = lint_bad(&entry, format);
            assert!(run.code == 0 || run.code == 1, "{entry}: {}", run.stderr);
            assert!(run.stderr.is_empty(), "{entry}: {}", run.stderr);
            insta::assert_snapshot!(format!("{entry}.{format}"), run.stdout);
        }
    }
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0_with_relative_paths() {
    for entry in bad_entries() {
        let run = lint_bad(&entry, "sarif");
        let sarif: serde_sarif::sarif::Sarif = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{entry}: {e}\n{}", run.stdout));
        let json = serde_json::to_value(&sarif).unwrap();
        assert_eq!(json["version"], "2.1.0");
        let run0 = &json["runs"][0];
        assert_eq!(run0["columnKind"], "unicodeCodePoints");
        let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        for result in run0["results"].as_array().unwrap() {
            let id = result["ruleId"].as_str().unwrap();
            let index = usize::try_from(result["ruleIndex"].as_u64().unwrap()).unwrap();
            assert_eq!(rules[index], id);
            let uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap();
            assert!(
                uri.starts_with("policies/agent-platform/bad/"),
                "{uri} is not repository-relative"
            );
        }
    }
}

#[test]
fn the_example_platform_lints_clean_with_its_configuration() {
    let run = mandate(
        &workspace(),
        &["lint", "--schema", SCHEMA, "policies/agent-platform"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "linted 3 files: no problems\n");
}

// ---- exit statuses, flags and configuration, in a temporary directory ---------------------

const WARNS: &str = "@id(\"dup-a\") permit (principal, action, resource) when { context.ok };\n@id(\"dup-b\") permit (principal, action, resource) when { context.ok };\n";
const ERRS: &str = "@id(\"all\") permit (principal, action, resource);\n";

fn temp(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn exit_status_follows_fail_on_and_exit_zero() {
    let dir = temp(&[("w.cedar", WARNS), ("e.cedar", ERRS)]);
    let d = dir.path();
    assert_eq!(mandate(d, &["lint", "w.cedar"]).code, 0);
    assert_eq!(
        mandate(d, &["lint", "--fail-on", "warning", "w.cedar"]).code,
        1
    );
    assert_eq!(mandate(d, &["lint", "e.cedar"]).code, 1);
    assert_eq!(mandate(d, &["lint", "--exit-zero", "e.cedar"]).code, 0);
    let missing = mandate(d, &["lint", "nope.cedar"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("`nope.cedar` does not exist"),
        "{}",
        missing.stderr
    );
    assert_eq!(
        mandate(d, &["lint", "--schema", "nope.cedarschema", "w.cedar"]).code,
        2
    );
    assert_eq!(mandate(d, &["lint", "--format", "xml", "w.cedar"]).code, 2);
    assert_eq!(
        mandate(d, &["lint", "--now", "yesterday", "w.cedar"]).code,
        2
    );
    // Parse errors are findings, as in `mandate check`.
    let dir = temp(&[(
        "p.cedar",
        "permit (principal = User::\"a\", action, resource);",
    )]);
    let run = mandate(dir.path(), &["lint", "p.cedar"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("error[MD0001]"), "{}", run.stdout);
}

#[test]
fn configuration_is_found_above_the_paths_and_applied() {
    let config = "[lint]\nallow = [\"duplicate-policy\"]\ndeny = [\"MDL004\"]\nexclude = [\"policies/fixtures\"]\n";
    let dir = temp(&[
        ("repo/mandate.toml", config),
        ("repo/policies/w.cedar", WARNS),
        (
            "repo/policies/n.cedar",
            "permit (principal, action, resource) when { context.ok };\n",
        ),
        ("repo/policies/fixtures/e.cedar", ERRS),
    ]);
    let run = mandate(dir.path(), &["lint", "repo/policies"]);
    insta::assert_snapshot!("config_applied.human", run.stdout);
    assert_eq!(run.code, 1);
    // A path inside an excluded directory, given explicitly, is linted.
    let run = mandate(dir.path(), &["lint", "repo/policies/fixtures/e.cedar"]);
    assert!(run.stdout.contains("error[MDL001]"), "{}", run.stdout);
    // `--no-config` restores the defaults.
    let run = mandate(
        dir.path(),
        &["lint", "--no-config", "repo/policies/w.cedar"],
    );
    assert!(run.stdout.contains("warning[MDL006]"), "{}", run.stdout);
}

#[test]
fn an_invalid_configuration_exits_2_with_located_errors() {
    let dir = temp(&[
        (
            "mandate.toml",
            "[lint]\ndeny = [\"unmetred-agent-action\"]\nwarn = [\"MDL001\", \"MDL001\"]\n",
        ),
        ("w.cedar", WARNS),
    ]);
    let run = mandate(dir.path(), &["lint", "w.cedar"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!("config_invalid.stderr", run.stderr);
    let dir = temp(&[("mandate.toml", "[lints]\n"), ("w.cedar", WARNS)]);
    let run = mandate(dir.path(), &["lint", "w.cedar"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("error[MD0070]: invalid `mandate.toml`"),
        "{}",
        run.stderr
    );
}

#[test]
fn github_annotations_escape_their_fields() {
    let dir = temp(&[("a, b.cedar", WARNS)]);
    let run = mandate(dir.path(), &["lint", "--format", "github", "a, b.cedar"]);
    assert_eq!(
        run.stdout,
        "::warning file=a%2C b.cedar,line=2,col=14,endLine=2,endColumn=20,title=MDL006::duplicate-policy: this permit repeats permit `dup-a`%0Ahelp: remove one of them; a later edit to one copy would leave the other in force%0Anote: the first one is at `a, b.cedar:1:14`\n"
    );
}

#[test]
fn json_output_carries_the_lint_url() {
    let dir = temp(&[("w.cedar", WARNS)]);
    let run = mandate(dir.path(), &["lint", "--format", "json", "w.cedar"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json[0]["code"], "MDL006");
    assert!(
        json[0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/docs/lints.md#mdl006-duplicate-policy")
    );
}

#[test]
fn list_prints_every_lint() {
    let run = mandate(&workspace(), &["lint", "--list"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!("list", run.stdout);
}

#[test]
fn check_and_lint_type_check_against_the_schema() {
    let schema = "entity User { name: String };\naction view appliesTo { principal: [User], resource: [User] };\n";
    let policy = "@id(\"p\") permit (principal, action == Action::\"view\", resource) when { principal.nmae == \"a\" };\n";
    let dir = temp(&[("s.cedarschema", schema), ("p.cedar", policy)]);
    let check = mandate(
        dir.path(),
        &["check", "--schema", "s.cedarschema", "p.cedar"],
    );
    assert_eq!(check.code, 1, "{}", check.stderr);
    assert!(check.stderr.contains("error[MD0106]"), "{}", check.stderr);
    let lint = mandate(
        dir.path(),
        &["lint", "--schema", "s.cedarschema", "p.cedar"],
    );
    assert_eq!(lint.code, 1, "{}", lint.stderr);
    assert!(lint.stdout.contains("error[MD0106]"), "{}", lint.stdout);
    // Without the schema the policy parses, and the lints find nothing.
    assert_eq!(mandate(dir.path(), &["check", "p.cedar"]).code, 0);
}
