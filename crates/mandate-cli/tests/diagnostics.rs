//! Every diagnostic code the CLI can print, produced by a fixture and rendered in every format of
//! the command that prints it (insta snapshots).
//!
//! The codes come from the source, not from a list kept here: the lint registry
//! (`mandate::lint::LINTS`) and every `"MDnnnn"` string literal in `crates/*/src`. A new code
//! fails `every_code_has_a_fixture` until a fixture produces it, or until it is entered in
//! [`NOT_FROM_CHECK_OR_LINT`] with the reason `check` and `lint` cannot print it.
//!
//! Fixtures, in `tests/diagnostics/` (each declares the codes it produces with an
//! `// expect: MD0100 MD0103` line, `# expect:` in TOML):
//! - `MDnnnn.cedar`, `MDnnnn.mandate`: `mandate lint` against `schema.cedarschema`, in the
//!   `human`, `json`, `sarif` and `github` formats;
//! - `MDnnnn/`: the directory linted the same way, with its own `schema.cedarschema` and
//!   `mandate.toml` when it has them; with an `agents.toml`, `mandate check` of the manifest in
//!   `check`'s formats (`human`, `json`);
//! - [`GENERATED`] and [`TOO_COMPLEX`]: files too large, not UTF-8 or too costly to validate,
//!   written to a temporary directory.
//!
//! Lints are demonstrated by `policies/agent-platform/bad/` (snapshotted by `tests/lint.rs`,
//! with the same `// expect:` lines). Configuration, file and usage errors (exit status 2) go to
//! stderr in the human form whatever `--format` says; their snapshot is that stderr.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

use common::{Run, entries, expected_codes, mandate, workspace};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Codes in the source that `mandate check` and `mandate lint` never print, and why.
const NOT_FROM_CHECK_OR_LINT: &[(&str, &str)] = &[
    (
        "MD0010",
        "the parser's own source-size check: `check`, `lint` and the engine refuse a file over \
         `max_source_bytes` before reading it (MD0019), so only a direct caller of \
         `mandate_syntax::parse` sees it (crates/mandate-syntax/tests/limits.rs)",
    ),
    (
        "MD0020",
        "`mandate fmt` refusing to write a layout that would change the policies: a formatter \
         bug, unreachable by design (the formatter's round-trip tests and fuzz target check it)",
    ),
    (
        "MD0050",
        "invalid entities: `authorize`, `test` and the engine",
    ),
    (
        "MD0060",
        "invalid request: `authorize`, `test` and the engine",
    ),
    ("MD0061", "`authorize`'s entity uid arguments"),
    (
        "MD0113",
        "unreachable from policy text, as in Cedar: `hasTag` on an entity type without tags has \
         type `false`, so no `getTag` on such a type is ever guarded (an unguarded one is MD0112)",
    ),
    (
        "MD0114",
        "unreachable from policy text: the parser rejects unknown functions first (MD0018)",
    ),
];

/// Fixtures written at run time: a code, the files (relative to a temporary repository) and
/// the arguments of `mandate lint` (after `--no-config --format F`).
struct Generated {
    code: &'static str,
    files: fn() -> Vec<(&'static str, Vec<u8>)>,
    args: &'static [&'static str],
}

const GENERATED: &[Generated] = &[
    Generated {
        code: "MD0019",
        // One byte over `max_source_bytes` (16 MiB): refused before it is read.
        files: || {
            let mut text =
                b"@id(\"p\")\npermit (principal, action, resource) when { true };\n".to_vec();
            let filler = b"// padding\n";
            while text.len() <= 16 * 1024 * 1024 {
                text.extend_from_slice(filler);
            }
            vec![("too_large.cedar", text)]
        },
        args: &["too_large.cedar"],
    },
    Generated {
        code: "MD0030",
        files: Vec::new,
        args: &["missing.cedar"],
    },
    Generated {
        code: "MD0031",
        files: || vec![("latin1.cedar", b"// caf\xe9\n".to_vec())],
        args: &["latin1.cedar"],
    },
];

/// More work than the validator's budget of 50 million units for one statement: a condition of
/// 25,000 nodes in each of 10,000 request environments.
const TOO_COMPLEX: Generated = Generated {
    code: "MD0117",
    files: || {
        let types = |p: &str| (0..100).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
        let (ps, rs) = (types("P"), types("R"));
        let schema = format!(
            "entity {};\naction a appliesTo {{ principal: [{}], resource: [{}] }};\n",
            [ps.clone(), rs.clone()].concat().join(", "),
            ps.join(", "),
            rs.join(", ")
        );
        let policy = format!(
            "@id(\"sum\")\npermit (principal, action == Action::\"a\", resource)\nwhen {{ 1{} > 0 }};\n",
            " + 1".repeat(12_500)
        );
        vec![
            ("schema.cedarschema", schema.into_bytes()),
            ("sum.cedar", policy.into_bytes()),
        ]
    },
    args: &["--schema", "schema.cedarschema", "sum.cedar"],
};

const NOW: &str = "2026-11-26T00:00:00Z";
const LINT_FORMATS: [&str; 4] = ["human", "json", "sarif", "github"];
const CHECK_FORMATS: [&str; 2] = ["human", "json"];

/// What the user sees: stdout, or stderr, or both when both have text.
fn shown(run: &Run) -> String {
    match (run.stdout.is_empty(), run.stderr.is_empty()) {
        (_, true) => run.stdout.clone(),
        (true, false) => run.stderr.clone(),
        (false, false) => format!("--- stdout\n{}--- stderr\n{}", run.stdout, run.stderr),
    }
}

const FIXTURES: &str = "crates/mandate-cli/tests/diagnostics";

/// Every `"MDnnnn"` string literal in the crates' sources, with a file that has it.
fn codes_in_source() -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for krate in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            walk(&src, &mut files);
        }
    }
    let mut codes = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices("\"MD") {
            let code = text.get(i + 1..i + 7).unwrap_or("");
            let digits = code.get(2..).unwrap_or("");
            let closed = text.get(i + 7..i + 8) == Some("\"");
            if closed && digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
                codes.entry(code.to_string()).or_insert_with(|| f.clone());
            }
        }
    }
    codes
}

/// The fixture entries of `tests/diagnostics` (files and directories named after a code).
fn fixtures() -> Vec<String> {
    entries(FIXTURES, |n| n.starts_with("MD"))
}

/// One fixture run in one format.
fn run_fixture(name: &str, format: &str) -> Run {
    let dir = workspace().join(FIXTURES).join(name);
    let path = format!("{FIXTURES}/{name}");
    let own = |file: &str| dir.join(file).is_file().then(|| format!("{path}/{file}"));
    if let Some(manifest) = own("agents.toml") {
        let schema = format!("{FIXTURES}/schema.cedarschema");
        let args = ["check", "--schema", &schema, "--format", format, &manifest];
        return mandate(&workspace(), &args);
    }
    let schema =
        own("schema.cedarschema").unwrap_or_else(|| format!("{FIXTURES}/schema.cedarschema"));
    let mut args = vec![
        "lint", "--now", NOW, "--schema", &schema, "--format", format,
    ];
    let config = own("mandate.toml");
    match &config {
        Some(c) => args.extend(["--config", c]),
        None => args.push("--no-config"),
    }
    args.push(&path);
    mandate(&workspace(), &args)
}

fn formats_of(name: &str) -> &'static [&'static str] {
    let manifest = workspace().join(FIXTURES).join(name).join("agents.toml");
    if manifest.is_file() {
        &CHECK_FORMATS
    } else {
        &LINT_FORMATS
    }
}

/// The codes in a run's JSON output, or in its stderr's `error[MDnnnn]` headers.
fn produced(run: &Run) -> BTreeSet<String> {
    if let Ok(serde_json::Value::Array(ds)) = serde_json::from_str(&run.stdout) {
        return ds
            .iter()
            .map(|d| d["code"].as_str().unwrap().to_string())
            .collect();
    }
    run.stderr
        .lines()
        .filter_map(|l| {
            let rest = l
                .strip_prefix("error[")
                .or_else(|| l.strip_prefix("warning["))?;
            Some(rest.split(']').next()?.to_string())
        })
        .collect()
}

#[test]
fn every_code_has_a_fixture() {
    let in_source = codes_in_source();
    assert!(in_source.len() > 40, "{in_source:?}");
    let mut covered: BTreeMap<String, String> = BTreeMap::new();
    for name in fixtures() {
        for code in expected_codes(&workspace().join(FIXTURES).join(&name)) {
            covered.entry(code).or_insert_with(|| name.clone());
        }
    }
    for g in GENERATED.iter().chain([&TOO_COMPLEX]) {
        covered.insert(g.code.to_string(), format!("generated {}", g.code));
    }
    let bad = workspace().join("policies/agent-platform/bad");
    for e in std::fs::read_dir(&bad).unwrap() {
        let p = e.unwrap().path();
        for code in expected_codes(&p) {
            covered
                .entry(code)
                .or_insert_with(|| p.display().to_string());
        }
    }
    let exempt: BTreeMap<&str, &str> = NOT_FROM_CHECK_OR_LINT.iter().copied().collect();
    let mut missing = Vec::new();
    let all = in_source
        .keys()
        .cloned()
        .chain(mandate::lint::LINTS.iter().map(|l| l.code.to_string()));
    for code in all {
        match (covered.get(&code), exempt.get(code.as_str())) {
            (Some(f), Some(_)) => panic!("{code} is exempt but {f} produces it"),
            (None, None) => missing.push(code),
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "codes with no fixture producing them (add one to {FIXTURES}, or say in \
         NOT_FROM_CHECK_OR_LINT why `check` and `lint` cannot print them): {missing:?}"
    );
    for code in exempt.keys() {
        assert!(
            in_source.contains_key(*code),
            "{code} is exempt but no longer in the source"
        );
    }
    for code in covered.keys() {
        let known = in_source.contains_key(code) || mandate::lint::by_code(code).is_some();
        assert!(known, "a fixture expects {code}, which no source has");
    }
}

#[test]
fn every_fixture_produces_its_codes_in_every_format() {
    for name in fixtures() {
        let expected = expected_codes(&workspace().join(FIXTURES).join(&name));
        assert!(!expected.is_empty(), "{name} has no `// expect:` line");
        for format in formats_of(&name) {
            let run = run_fixture(&name, format);
            check_run(&name, format, &expected, &run);
            insta::assert_snapshot!(format!("{name}.{format}"), shown(&run));
        }
    }
}

#[test]
fn generated_fixtures_produce_their_codes_in_every_format() {
    for g in GENERATED {
        run_generated(g);
    }
}

/// Each of the four runs does the validator's whole budget of work: about 2 s in a release
/// build (the test command's), 20 s in a debug one.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "50 million units of validation work per run: run in release, as the test command does"
)]
fn a_statement_too_large_to_validate_in_every_format() {
    run_generated(&TOO_COMPLEX);
}

fn run_generated(g: &Generated) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    for (file, bytes) in (g.files)() {
        std::fs::write(dir.path().join(file), bytes).unwrap();
    }
    let expected = BTreeSet::from([g.code.to_string()]);
    for format in LINT_FORMATS {
        let mut args = vec!["lint", "--no-config", "--format", format];
        args.extend(g.args);
        let run = mandate(dir.path(), &args);
        check_run(g.code, format, &expected, &run);
        insta::assert_snapshot!(format!("{}.{format}", g.code), shown(&run));
    }
}

/// The run produced exactly the expected codes; findings exit 0 or 1 with nothing on stderr,
/// usage and I/O errors exit 2 with nothing on stdout; SARIF parses as SARIF 2.1.0 and
/// describes every rule it uses.
fn check_run(name: &str, format: &str, expected: &BTreeSet<String>, run: &Run) {
    if run.code == 2 {
        assert!(run.stdout.is_empty(), "{name} {format}: {}", run.stdout);
        assert_eq!(&produced(run), expected, "{name} {format}: {}", run.stderr);
        return;
    }
    assert!(
        run.code == 0 || run.code == 1,
        "{name} {format}: {}",
        run.stderr
    );
    if format == "json" {
        assert_eq!(&produced(run), expected, "{name}: {}", shown(run));
    }
    if format == "sarif" {
        let sarif: serde_sarif::sarif::Sarif = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", run.stdout));
        let json = serde_json::to_value(&sarif).unwrap();
        for rule in json["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
        {
            let text = rule["shortDescription"]["text"].as_str().unwrap();
            assert!(
                !text.starts_with("Mandate diagnostic"),
                "{name}: rule {} has no description in the SARIF code table",
                rule["id"]
            );
        }
    }
    if format != "json" && format != "sarif" {
        for code in expected {
            assert!(
                shown(run).contains(code.as_str()),
                "{name} {format}: no {code}"
            );
        }
    }
}
