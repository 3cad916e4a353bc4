//! Cedar's conformance suite (../shared/conformance/cedar) through the validator: for every test,
//! "no error diagnostics" must equal the test's `shouldValidate` (Cedar 4.10, strict mode).
//! Known disagreements are listed, each with a reason, in
//! `validate_conformance_allowlist.txt` (goal: empty).

#![expect(clippy::print_stdout, reason = "the test reports its agreement counts")]

use mandate_syntax::{Dialect, ParseOptions, parse};
use mandate_test_support::{Shared, files_with_suffix, shared_subdir};
use mandate_validate::schema::Schema;
use mandate_validate::validate;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

fn allowlist() -> HashMap<String, String> {
    include_str!("validate_conformance_allowlist.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// `Ok((should_validate, None))` when the validator agrees with the test, `Ok((_, Some(why)))`
/// when it does not.
fn run_test(
    root: &Path,
    test_path: &Path,
    codes: &mut BTreeMap<&'static str, usize>,
) -> Result<(bool, Option<String>), String> {
    let text = std::fs::read_to_string(test_path).map_err(|e| e.to_string())?;
    let test: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let get = |k: &str| {
        test.get(k)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("test lacks `{k}`"))
    };
    let should_validate = test
        .get("shouldValidate")
        .and_then(serde_json::Value::as_bool)
        .ok_or("test lacks `shouldValidate`")?;
    let policies_src =
        std::fs::read_to_string(root.join(get("policies")?)).map_err(|e| e.to_string())?;
    let schema_src =
        std::fs::read_to_string(root.join(get("schema")?)).map_err(|e| e.to_string())?;
    let schema = Schema::from_cedarschema(&schema_src).map_err(|e| format!("schema: {e}"))?;
    let parsed = parse(
        &policies_src,
        ParseOptions {
            dialect: Dialect::Cedar,
            ..ParseOptions::default()
        },
    );
    let file = parsed
        .into_result()
        .map_err(|d| format!("policies: {:?}", d.first()))?;
    let result = validate(&schema, &file.statements);
    let mut seen: Vec<&'static str> = result.diagnostics.iter().map(|d| d.code).collect();
    seen.sort_unstable();
    seen.dedup();
    for code in seen {
        *codes.entry(code).or_default() += 1;
    }
    if result.passed() == should_validate {
        return Ok((should_validate, None));
    }
    let detail: Vec<String> = result
        .errors()
        .map(|d| {
            let at = d
                .span()
                .and_then(|s| policies_src.get(s.range()))
                .unwrap_or("")
                .chars()
                .take(60)
                .collect::<String>();
            format!("{} {} at `{}`", d.code, d.message, at.replace('\n', " "))
        })
        .collect();
    Ok((
        should_validate,
        Some(if should_validate {
            format!("expected valid, got errors: {}", detail.join("; "))
        } else {
            "expected errors, got none".to_owned()
        }),
    ))
}

#[test]
fn cedar_validation_conformance() -> Result<(), String> {
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
    let allow = allowlist();
    let mut agree = 0usize;
    let mut agree_invalid = 0usize;
    let mut disagree: Vec<(String, String)> = Vec::new();
    let mut codes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for t in &tests {
        let name = t
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match run_test(&root, t, &mut codes) {
            Ok((valid, None)) => {
                agree += 1;
                agree_invalid += usize::from(!valid);
            }
            Ok((_, Some(why))) => disagree.push((name, why)),
            Err(e) => disagree.push((name, format!("could not run: {e}"))),
        }
    }
    let unexpected: Vec<&(String, String)> = disagree
        .iter()
        .filter(|(k, _)| !allow.contains_key(k))
        .collect();
    let stale: Vec<&String> = allow
        .keys()
        .filter(|k| !disagree.iter().any(|(n, _)| n == *k))
        .collect();
    println!(
        "{} tests: {agree} agree ({agree_invalid} of them invalid), {} disagree ({} allowlisted)",
        tests.len(),
        disagree.len(),
        disagree.len() - unexpected.len()
    );
    println!("tests reporting each code: {codes:?}");
    for (k, why) in unexpected.iter().take(40) {
        println!("DISAGREE {k}: {why}");
    }
    for k in &stale {
        println!("STALE allowlist entry (now agrees): {k}");
    }
    if unexpected.is_empty() && stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} unexpected disagreements, {} stale allowlist entries",
            unexpected.len(),
            stale.len()
        ))
    }
}
