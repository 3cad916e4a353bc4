//! `mandate test`: policy unit tests, as `opa test` and Cerbos test suites do it. A test file
//! (YAML, or JSON) names the policies, schema and entities (paths relative to the file) and lists
//! cases: a request and the expected decision, optionally the expected determining policies and
//! erroring policies. The format is documented in `docs/ci.md`.
//!
//! Exit status: 0 every case passed, 1 any case failed or a test file could not be used, 2 usage
//! error (no test file found, a path that does not exist).

use crate::output::{err, out};
use mandate::core::{Decision, Response, is_authorized};
use mandate::load::FileDiagnostics;
use mandate::{Entities, ErrorMode, PolicySet, Schema};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Arguments of `mandate test`.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Test files, or directories searched for `*_test.yaml`, `*_test.yml` and `*_test.json`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also list the cases that pass.
    #[arg(long, short)]
    verbose: bool,
}

/// A test file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct TestFile {
    /// Policy files or directories, relative to the test file.
    policies: OneOrMany,
    /// Schema, relative to the test file.
    #[serde(default)]
    schema: Option<String>,
    /// Entity file relative to the test file, or the entities inline (Cedar entity JSON).
    #[serde(default)]
    entities: Option<EntitiesSpec>,
    /// The request time, injected into each case's context as `now` (see `inject_now`).
    #[serde(default)]
    now: Option<String>,
    /// `deny-on-forbid-error` (default) or `cedar`.
    #[serde(default)]
    error_mode: Option<String>,
    /// Context attributes every case starts from; a case's own `context` adds and overrides.
    #[serde(default)]
    context: Option<serde_json::Map<String, Value>>,
    /// The cases.
    cases: Vec<Case>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum EntitiesSpec {
    Path(String),
    Inline(Vec<Value>),
}

/// One case.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    principal: Value,
    action: Value,
    resource: Value,
    #[serde(default)]
    context: Option<serde_json::Map<String, Value>>,
    /// Overrides the file's `now`.
    #[serde(default)]
    now: Option<String>,
    decision: Expected,
    /// The determining policies, in any order (checked only when given).
    #[serde(default)]
    reasons: Option<Vec<String>>,
    /// The policies whose evaluation errors, in any order (checked only when given).
    #[serde(default)]
    errors: Option<Vec<String>>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expected {
    Allow,
    Deny,
}

impl Expected {
    fn decision(self) -> Decision {
        match self {
            Expected::Allow => Decision::Allow,
            Expected::Deny => Decision::Deny,
        }
    }
}

/// What a test file loads to.
struct Suite {
    policies: PolicySet,
    schema: Option<Schema>,
    entities: Entities,
    mode: ErrorMode,
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

/// Runs `mandate test`.
pub fn run(args: &TestArgs) -> u8 {
    let mut files = Vec::new();
    for p in &args.paths {
        if p.is_dir() {
            let mut found = Vec::new();
            if let Err(e) = walk(p, &mut found) {
                err(&format!("error: cannot read `{}`: {e}\n", p.display()));
                return 2;
            }
            found.sort();
            files.extend(found);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            err(&format!("error: `{}` does not exist\n", p.display()));
            return 2;
        }
    }
    if files.is_empty() {
        err(
            "error: no test files found (directories are searched for `*_test.yaml`, `*_test.yml` and `*_test.json`)\n",
        );
        return 2;
    }
    let mut tally = Tally::default();
    let mut report = String::new();
    for file in &files {
        run_file(file, args.verbose, &mut tally, &mut report);
    }
    report.push_str(&format!(
        "{} passed, {} failed\n",
        tally.passed, tally.failed
    ));
    out(&report);
    u8::from(tally.failed > 0)
}

fn is_test_file(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
        n.ends_with("_test.yaml") || n.ends_with("_test.yml") || n.ends_with("_test.json")
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if path.is_dir() {
                if !hidden {
                    stack.push(path);
                }
            } else if is_test_file(&path) {
                out.push(path);
            }
        }
    }
    Ok(())
}

/// Reads a test file: JSON when it ends in `.json`, YAML otherwise.
fn read_test_file(path: &Path) -> Result<TestFile, String> {
    let text = mandate::load::read_text(path).map_err(|d| render(&[d]))?;
    let json = path.extension().is_some_and(|e| e == "json");
    if json {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| e.to_string())
    }
}

fn render(files: &[FileDiagnostics]) -> String {
    files
        .iter()
        .map(FileDiagnostics::render)
        .collect::<Vec<_>>()
        .join("\n")
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("    {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn run_file(path: &Path, verbose: bool, tally: &mut Tally, report: &mut String) {
    let name = path.display().to_string();
    let test = match read_test_file(path) {
        Ok(t) => t,
        Err(e) => {
            tally.failed += 1;
            report.push_str(&format!(
                "FAIL {name}: the test file cannot be used\n{}\n\n",
                indent(&e)
            ));
            return;
        }
    };
    let suite = match load_suite(path, &test) {
        Ok(s) => s,
        Err(e) => {
            tally.failed += test.cases.len().max(1);
            report.push_str(&format!(
                "FAIL {name}: its policies, schema or entities do not load ({} case{} not run)\n{}\n\n",
                test.cases.len(),
                if test.cases.len() == 1 { "" } else { "s" },
                indent(&e)
            ));
            return;
        }
    };
    for case in &test.cases {
        match run_case(&suite, &test, case) {
            Ok(None) => {
                tally.passed += 1;
                if verbose {
                    report.push_str(&format!("ok   {name}: {}\n", case.name));
                }
            }
            Ok(Some(failure)) => {
                tally.failed += 1;
                report.push_str(&format!("FAIL {name}: {}\n{failure}\n", case.name));
            }
            Err(e) => {
                tally.failed += 1;
                report.push_str(&format!(
                    "FAIL {name}: {}\n  the request cannot be used: {e}\n\n",
                    case.name
                ));
            }
        }
    }
}

fn load_suite(path: &Path, test: &TestFile) -> Result<Suite, String> {
    let base = path.parent().unwrap_or(Path::new("."));
    let schema = match &test.schema {
        Some(s) => Some(mandate::load::load_schema(&base.join(s)).map_err(|d| render(&[d]))?),
        None => None,
    };
    let paths: Vec<PathBuf> = match &test.policies {
        OneOrMany::One(p) => vec![base.join(p)],
        OneOrMany::Many(ps) => ps.iter().map(|p| base.join(p)).collect(),
    };
    let policies = mandate::load::load_policies(&paths).map_err(|files| render(&files))?;
    let entities = match &test.entities {
        None => Entities::new(),
        Some(EntitiesSpec::Path(p)) => mandate::load::load_entities(&base.join(p), schema.as_ref())
            .map_err(|d| render(&[d]))?,
        Some(EntitiesSpec::Inline(list)) => mandate::load::entities_from_str(
            &format!("{} (entities)", path.display()),
            &Value::Array(list.clone()).to_string(),
            schema.as_ref(),
        )
        .map_err(|d| render(&[d]))?,
    };
    let mode = match test.error_mode.as_deref() {
        None => ErrorMode::default(),
        Some(m) => ErrorMode::parse(m).ok_or_else(|| {
            format!("unknown `error_mode` `{m}`: use `deny-on-forbid-error` or `cedar`")
        })?,
    };
    Ok(Suite {
        policies,
        schema,
        entities,
        mode,
    })
}

/// Runs one case: `Ok(None)` when it passes, `Ok(Some(report))` when it fails, `Err` when the
/// request cannot be used.
fn run_case(suite: &Suite, test: &TestFile, case: &Case) -> Result<Option<String>, String> {
    let mut context = test.context.clone().unwrap_or_default();
    if let Some(own) = &case.context {
        for (k, v) in own {
            context.insert(k.clone(), v.clone());
        }
    }
    let mut request = serde_json::json!({
        "principal": case.principal,
        "action": case.action,
        "resource": case.resource,
    });
    // The action's uid, read without a schema, decides whether `now` is injected.
    let action = mandate::request_from_json(&request, None)
        .map_err(|e| mandate::load::json_diag("MD0060", "invalid request", &e).message)?
        .request
        .action;
    if let Some(now) = case.now.as_ref().or(test.now.as_ref()) {
        inject_now(&mut context, now, suite.schema.as_ref(), &action);
    }
    if let Some(obj) = request.as_object_mut() {
        obj.insert("context".into(), Value::Object(context));
    }
    let parsed = mandate::request_from_json(&request, suite.schema.as_ref()).map_err(|e| {
        let d = mandate::load::json_diag("MD0060", "invalid request", &e);
        match (&d.note, &d.help) {
            (Some(n), Some(h)) => format!("{} ({n}; {h})", d.message),
            (Some(n), None) => format!("{} ({n})", d.message),
            _ => d.message,
        }
    })?;
    let resp = is_authorized(
        &suite.policies,
        &parsed.request,
        &suite.entities,
        suite.mode,
    );
    let decision_ok = resp.decision == case.decision.decision();
    let reasons_ok = case.reasons.as_ref().is_none_or(|want| {
        set(want.iter().map(String::as_str)) == set(resp.reasons.iter().map(|r| r.as_str()))
    });
    let errors_ok = case.errors.as_ref().is_none_or(|want| {
        set(want.iter().map(String::as_str)) == set(resp.errors.iter().map(|e| e.policy.as_str()))
    });
    if decision_ok && reasons_ok && errors_ok {
        return Ok(None);
    }
    let now = case.now.as_ref().or(test.now.as_ref());
    Ok(Some(describe_failure(case, now, &parsed.request, &resp)))
}

fn set<'a>(items: impl Iterator<Item = &'a str>) -> BTreeSet<&'a str> {
    items.collect()
}

/// Adds `now` to the context as a `datetime`, unless the context already has `now` or the
/// schema declares the action's context without a `now` attribute.
fn inject_now(
    context: &mut serde_json::Map<String, Value>,
    now: &str,
    schema: Option<&Schema>,
    action: &mandate::Uid,
) {
    if context.contains_key("now") {
        return;
    }
    if let Some(schema) = schema {
        let declared = schema
            .action(&action.ty, &action.id)
            .and_then(|d| d.applies_to.as_ref())
            .is_some_and(|a| a.context.attrs.contains_key("now"));
        if !declared {
            return;
        }
    }
    context.insert(
        "now".into(),
        serde_json::json!({"__extn": {"fn": "datetime", "arg": now}}),
    );
}

fn list(items: &[&str]) -> String {
    format!("[{}]", items.join(", "))
}

fn describe_failure(
    case: &Case,
    now: Option<&String>,
    request: &mandate::core::Request,
    resp: &Response,
) -> String {
    let mut s = format!(
        "  request:  {} does {} on {}\n",
        request.principal, request.action, request.resource
    );
    if let Some(now) = now {
        s.push_str(&format!("  now:      {now}\n"));
    }
    let mut expected = case.decision.decision().as_str().to_string();
    if let Some(r) = &case.reasons {
        let items: Vec<&str> = r.iter().map(String::as_str).collect();
        expected.push_str(&format!(", reasons {}", list(&items)));
    }
    if let Some(e) = &case.errors {
        let items: Vec<&str> = e.iter().map(String::as_str).collect();
        expected.push_str(&format!(", errors {}", list(&items)));
    }
    s.push_str(&format!("  expected: {expected}\n"));
    let reasons: Vec<&str> = resp.reasons.iter().map(|r| r.as_str()).collect();
    let actual = if reasons.is_empty() && resp.decision == Decision::Deny {
        "deny, reasons [] (no policy permits the request: default deny)".to_string()
    } else {
        format!("{}, reasons {}", resp.decision.as_str(), list(&reasons))
    };
    s.push_str(&format!("  actual:   {actual}\n"));
    if resp.errors.is_empty() {
        s.push_str("  errors:   none\n");
    } else {
        for (i, e) in resp.errors.iter().enumerate() {
            let head = if i == 0 { "  errors:  " } else { "           " };
            s.push_str(&format!("{head} `{}`: {}\n", e.policy, e.error));
        }
    }
    s
}
