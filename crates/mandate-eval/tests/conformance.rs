//! Cedar's conformance suite (../shared/conformance/cedar) through the engine in `cedar` error
//! mode: every request's decision, determining policies and erroring policies must equal Cedar's.
//! Known failures are listed, each with a reason, in `conformance_allowlist.txt` (goal: empty).

#![expect(clippy::print_stdout, reason = "the test prints its summary")]

use mandate_eval::request::request_from_json;
use mandate_eval::{Entities, ErrorMode, PolicySet, is_authorized};
use mandate_syntax::{Dialect, ParseOptions, parse};
use mandate_test_support::{Shared, files_with_suffix, shared_subdir};
use mandate_validate::schema::Schema;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

fn allowlist() -> HashMap<String, String> {
    let text = include_str!("conformance_allowlist.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

fn run_test(
    root: &Path,
    test_path: &Path,
    failures: &mut Vec<(String, String)>,
) -> Result<usize, String> {
    let text = std::fs::read_to_string(test_path).map_err(|e| e.to_string())?;
    let test: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let get = |k: &str| {
        test.get(k)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("test lacks `{k}`"))
    };
    let policies_src =
        std::fs::read_to_string(root.join(get("policies")?)).map_err(|e| e.to_string())?;
    let schema_src =
        std::fs::read_to_string(root.join(get("schema")?)).map_err(|e| e.to_string())?;
    let entities_src =
        std::fs::read_to_string(root.join(get("entities")?)).map_err(|e| e.to_string())?;
    let name = test_path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let schema =
        Schema::from_cedarschema(&schema_src).map_err(|e| format!("{name}: schema: {e}"))?;
    let parsed = parse(
        &policies_src,
        ParseOptions {
            dialect: Dialect::Cedar,
            ..ParseOptions::default()
        },
    );
    let file = parsed
        .into_result()
        .map_err(|d| format!("{name}: policies: {:?}", d.first()))?;
    let mut set = PolicySet::new();
    set.add_statements(file.statements)
        .map_err(|d| format!("{name}: {:?}", d.first()))?;
    let entities = Entities::from_json_str(&entities_src, Some(&schema))
        .map_err(|e| format!("{name}: entities: {e}"))?;
    let requests = test
        .get("requests")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, req) in requests.iter().enumerate() {
        let key = format!("{name}#{i}");
        let parsed = match request_from_json(req, Some(&schema)) {
            Ok(p) => p,
            Err(e) => {
                failures.push((key, format!("request rejected: {e}")));
                continue;
            }
        };
        let resp = is_authorized(&set, &parsed.request, &entities, ErrorMode::Cedar);
        let want_decision = req
            .get("decision")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let want_reasons: BTreeSet<String> = req
            .get("reason")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        let want_errors: BTreeSet<String> = req
            .get("errors")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        let got_reasons: BTreeSet<String> = resp.reasons.iter().map(ToString::to_string).collect();
        let got_errors: BTreeSet<String> =
            resp.errors.iter().map(|e| e.policy.to_string()).collect();
        if resp.decision.as_str() != want_decision
            || got_reasons != want_reasons
            || got_errors != want_errors
        {
            let detail: Vec<String> = resp
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.policy, e.error))
                .collect();
            failures.push((
                key,
                format!(
                    "expected {want_decision} {want_reasons:?} errors {want_errors:?}, got {} {got_reasons:?} errors {got_errors:?} ({})",
                    resp.decision.as_str(),
                    detail.join("; ")
                ),
            ));
        }
    }
    Ok(requests.len())
}

#[test]
fn cedar_conformance_suite() -> Result<(), String> {
    let root = match shared_subdir("conformance/cedar")? {
        Shared::Found(d) => d,
        Shared::Skip => return Ok(()),
    };
    let mut tests: Vec<_> = files_with_suffix(&root.join("tests"), ".json");
    tests.extend(
        files_with_suffix(&root.join("corpus-tests"), ".json")
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with(".entities.json")),
    );
    let mut failures = Vec::new();
    let mut n_requests = 0usize;
    for t in &tests {
        match run_test(&root, t, &mut failures) {
            Ok(n) => n_requests += n,
            Err(e) => failures.push((t.display().to_string(), e)),
        }
    }
    let allow = allowlist();
    let unexpected: Vec<&(String, String)> = failures
        .iter()
        .filter(|(k, _)| !allow.contains_key(k))
        .collect();
    println!(
        "{} tests, {} requests: {} passed, {} failed",
        tests.len(),
        n_requests,
        n_requests.saturating_sub(failures.len()),
        failures.len()
    );
    for (k, why) in unexpected.iter().take(20) {
        println!("FAIL {k}: {why}");
    }
    if unexpected.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} unexpected conformance failures",
            unexpected.len()
        ))
    }
}
