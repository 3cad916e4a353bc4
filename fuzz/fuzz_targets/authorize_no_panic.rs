//! `Engine::authorize` never panics, and never allows together with a global error.
//!
//! The input is `policies NUL entities NUL request NUL schema` (see `common::split`; parts may be
//! empty). The policies are one `*.mandate` file (Cedar plus quotas); the schema, when present,
//! is read in the JSON format when it starts with `{`, else in the human format, and the engine
//! type-checks the policies against it as on every load. The engine has the in-memory defaults:
//! memory quota store and agent registry, no audit sink, default options (deny on forbid error).
//! When the schema or the entities do not load, the engine is built without them (most mutations
//! break one of the JSON parts); policies that do not load, or a request the engine does not
//! read, end the case: an error is an answer, not a finding. Otherwise the request is decided twice (the second sees the quota charges of the
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
use mandate::{AuthorizeOptions, Decision, Engine, EngineError, PolicyVersion};
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

const POLICIES: &str = "fuzz.mandate";

fn build(
    policies: &str,
    schema: Option<&str>,
    entities: Option<&str>,
) -> Result<Engine, EngineError> {
    let mut builder = Engine::builder().policy_texts(vec![(POLICIES.into(), policies.to_owned())]);
    if let Some(schema) = schema {
        builder = builder.schema_text(schema, common::looks_like_json(schema));
    }
    if let Some(entities) = entities {
        builder = builder.entities_json(entities);
    }
    builder.build()
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
    let schema = Some(schema).filter(|s| !s.trim().is_empty());
    let entities = Some(entities).filter(|e| !e.trim().is_empty());
    // Most mutations break one of the JSON parts: rather than stop there, the engine is built
    // again without the schema, then without the entities, so that the policies and the request
    // still get decided.
    let mut attempts = vec![(schema.as_deref(), entities.as_deref())];
    if schema.is_some() {
        attempts.push((None, entities.as_deref()));
    }
    if entities.is_some() {
        attempts.push((None, None));
    }
    let mut engine = None;
    for (schema, entities) in attempts {
        match build(&policies, schema, entities) {
            Ok(e) => {
                engine = Some(e);
                break;
            }
            // Without a schema to type-check against, a policy error is final.
            Err(EngineError::Load(files))
                if schema.is_none() && files.iter().any(|f| f.source.name() == POLICIES) =>
            {
                return;
            }
            Err(_) => {}
        }
    }
    let Some(engine) = engine else {
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
