//! `Engine::authorize` never panics, and never allows together with a global error.
//!
//! The input is `policies NUL entities NUL request NUL schema` (see `common::split`; parts may be
//! empty). The policies are one `*.mandate` file (Cedar plus quotas); the schema, when present,
//! is read in the JSON format when it starts with `{`, else in the human format, and the engine
//! type-checks the policies against it as on every load. The engine has the in-memory defaults:
//! memory quota store and agent registry, no audit sink, default options (deny on forbid error).
//! An input that does not load, or a request the engine does not read, is an answer, not a
//! finding. Otherwise the request is decided twice (the second sees the quota charges of the
//! first), then as a dry run, then explained, and for every decision (RELIABILITY R6, R9):
//!
//! - an allow has at least one reason, and every reason is a `permit` of the running version;
//! - an allow carries no global error (`entities`, `registry`, `delegation`, `quota-store`,
//!   `audit`, a quota's error): every error on an allow is a `permit` that was skipped;
//! - no decision carries an `internal` error (a panic the engine caught);
//! - the decision id is new, and the decision names the running version.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use mandate::ast::{Effect, StatementKind};
use mandate::{AuthorizeOptions, Decision, Engine, PolicyVersion};
use std::collections::BTreeSet;

fn permits(version: &PolicyVersion) -> BTreeSet<&str> {
    version
        .policies
        .policies()
        .iter()
        .filter(|p| matches!(p.statement.kind, StatementKind::Policy(Effect::Permit)))
        .map(|p| p.id.as_str())
        .collect()
}

fn check(d: &Decision, version: &PolicyVersion, seen: &mut BTreeSet<String>) {
    assert!(seen.insert(d.id.clone()), "decision id {} reused", d.id);
    // The engine turns a panic inside a decision into a deny with an `internal` error (the
    // fuzzer's panic hook aborts first anyway); either way it is a bug.
    assert!(
        !d.errors
            .iter()
            .any(|e| e.id == "internal" && e.message.starts_with("internal error")),
        "an internal error: {d:#?}"
    );
    assert_eq!(
        &*d.policy_version, &*version.id,
        "decision names another version"
    );
    if !d.allowed {
        return;
    }
    let permits = permits(version);
    assert!(!d.reasons.is_empty(), "an allow without a reason: {d:#?}");
    for r in &d.reasons {
        assert!(
            permits.contains(r.as_str()),
            "an allow whose reason `{r}` is not a permit: {d:#?}"
        );
    }
    for e in &d.errors {
        assert!(
            permits.contains(e.id.as_str()),
            "an allow together with the error `{}` ({}): {d:#?}",
            e.id,
            e.message
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let [policies, entities, request, schema] = common::split::<4>(data);
    let mut builder =
        Engine::builder().policy_texts(vec![("fuzz.mandate".into(), policies.into_owned())]);
    if !schema.trim().is_empty() {
        let json = common::looks_like_json(&schema);
        builder = builder.schema_text(schema.into_owned(), json);
    }
    if !entities.trim().is_empty() {
        builder = builder.entities_json(entities.into_owned());
    }
    let Ok(engine) = builder.build() else {
        return;
    };
    let Ok(request) = engine.request_from_json(&request) else {
        return;
    };
    let version = engine.version();
    let mut seen = BTreeSet::new();
    for options in [
        AuthorizeOptions::default(),
        AuthorizeOptions {
            dry_run: false,
            reserve: true,
        },
        AuthorizeOptions {
            dry_run: true,
            reserve: false,
        },
    ] {
        let d = engine.authorize_with(&request, options);
        check(&d, &version, &mut seen);
    }
    let explanation = engine.explain(&request);
    check(&explanation.decision, &version, &mut seen);
});
