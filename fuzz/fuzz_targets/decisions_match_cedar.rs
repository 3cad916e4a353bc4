//! Mandate decides as Cedar on the Cedar subset (differential, RELIABILITY R7).
//!
//! The input is `policies NUL entities NUL request` (see `common::split`). The reference, the
//! `cedar-policy` crate, reads the policy set, the entity JSON (no schema) and the request
//! (principal, action, resource as entity JSON, context as a record) and decides it; entities it
//! refuses are replaced by none (`[]`) on both sides, since most mutations break their JSON. When
//! it accepts all three, Mandate must accept them too (its Cedar dialect, `Entities::from_json_str`,
//! `request_from_json`) and `mandate::core::is_authorized` in `ErrorMode::Cedar` (Cedar's
//! skip-on-error, as the workspace's differential test `crates/mandate-eval/tests/differential.rs`
//! uses) must give the same decision, the same determining policies and the same erroring
//! policies. Policy ids: Cedar names the policies of a text `policy0`, `policy1`, ... by position
//! and ignores `@id`; Mandate uses `@id` when present, so Cedar's `policyN` is compared as the id
//! of Mandate's statement N.
//!
//! Allowed differences (Mandate rejects, Cedar accepts), as in `cedar_superset`: nesting deeper
//! than the limit (MD0009), a source over the size limit (MD0010), two policies with the same
//! `@id` (MD0012); values nested deeper than Mandate's JSON limits (`MAX_JSON_DEPTH` for entity
//! data, a lower one for a request's context), refused with "nesting is too deep"; and an entity
//! object with an unknown field, which Cedar ignores and Mandate refuses (a deliberate difference,
//! `docs/testing.md`). Both sides read the request from the same `serde_json` value. A request with a field Cedar's request has no place for
//! (`on_behalf_of`, or one Mandate does not know) is not compared: the harness builds Cedar's
//! request from the four fields only.
//!
//! The reference runs on a thread with a 1 GiB stack: `cedar-policy` recurses once per nesting
//! level and overflows the main stack on deep input (see `cedar_superset`). A panic inside the
//! reference is not a Mandate bug: such an input is skipped (a panic hook ignores panics on the
//! reference's thread, which `libfuzzer-sys` would otherwise turn into an abort).

#![no_main]

mod common;

use cedar_policy as cedar;
use libfuzzer_sys::fuzz_target;
use mandate::{Dialect, Entities, ErrorMode, ParseOptions, PolicySet, parse, request_from_json};
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Once;

const REFERENCE_STACK: usize = 1 << 30;
const REFERENCE_THREAD: &str = "cedar-reference";
const INTENDED: [&str; 3] = ["MD0009", "MD0010", "MD0012"];
/// Request fields both sides read or both ignore (Cedar's test files carry the expectations).
const REQUEST_FIELDS: [&str; 9] = [
    "principal",
    "action",
    "resource",
    "context",
    "validateRequest",
    "description",
    "decision",
    "reason",
    "errors",
];

#[derive(Debug, PartialEq, Eq)]
struct Answer {
    allow: bool,
    reasons: BTreeSet<String>,
    errors: BTreeSet<String>,
}

/// The reference's answer, and whether it refused the entities and decided without them.
fn reference(
    policies: &str,
    entities: &str,
    request: &serde_json::Value,
) -> Option<(Answer, bool)> {
    let policies = cedar::PolicySet::from_str(policies).ok()?;
    let (entities, without) = match cedar::Entities::from_json_str(entities, None) {
        Ok(e) => (e, false),
        Err(_) => (cedar::Entities::empty(), true),
    };
    let uid = |k: &str| cedar::EntityUid::from_json(request.get(k).cloned()?).ok();
    let context = match request.get("context") {
        None => cedar::Context::empty(),
        Some(c) => cedar::Context::from_json_value(c.clone(), None).ok()?,
    };
    let request = cedar::Request::new(
        uid("principal")?,
        uid("action")?,
        uid("resource")?,
        context,
        None,
    )
    .ok()?;
    let response = cedar::Authorizer::new().is_authorized(&request, &policies, &entities);
    let answer = Answer {
        allow: response.decision() == cedar::Decision::Allow,
        reasons: response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect(),
        errors: response
            .diagnostics()
            .errors()
            .map(|e| match e {
                cedar::AuthorizationError::PolicyEvaluationError(e) => e.policy_id().to_string(),
            })
            .collect(),
    };
    Some((answer, without))
}

/// Runs the reference on its big-stack thread; `None` when it rejects the policies or the
/// request, or panics.
fn reference_on_thread(
    policies: &str,
    entities: &str,
    request: &serde_json::Value,
) -> Option<(Answer, bool)> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() != Some(REFERENCE_THREAD) {
                previous(info);
            }
        }));
    });
    let (policies, entities, request) = (policies.to_owned(), entities.to_owned(), request.clone());
    std::thread::Builder::new()
        .name(REFERENCE_THREAD.into())
        .stack_size(REFERENCE_STACK)
        .spawn(move || reference(&policies, &entities, &request))
        .expect("spawn the reference's thread")
        .join()
        .ok()
        .flatten()
}

fuzz_target!(|data: &[u8]| {
    let [policies, entities_text, request] = common::split::<3>(data);
    // Cedar's request has no place for other fields; both sides read the same JSON value.
    let Ok(request_json) = serde_json::from_str::<serde_json::Value>(&request) else {
        return;
    };
    let Some(fields) = request_json.as_object() else {
        return;
    };
    if fields.keys().any(|k| !REQUEST_FIELDS.contains(&k.as_str())) {
        return;
    }
    let Some((cedar, without_entities)) =
        reference_on_thread(&policies, &entities_text, &request_json)
    else {
        return;
    };
    // Entities the reference refuses (most mutations break their JSON) are replaced by none on
    // both sides, so that the policies and the request are still compared.
    let entities_text = if without_entities {
        Cow::Borrowed("[]")
    } else {
        entities_text
    };

    let parsed = parse(
        &policies,
        ParseOptions {
            dialect: Dialect::Cedar,
            ..ParseOptions::default()
        },
    );
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
    if !errors.is_empty() {
        assert!(
            errors.iter().any(|d| INTENDED.contains(&d.code)),
            "Cedar accepts the policies, Mandate rejects them: {policies:?} {errors:#?}"
        );
        return;
    }
    let ids: Vec<String> = parsed
        .file
        .statements
        .iter()
        .map(|s| s.id.to_string())
        .collect();
    let mut set = PolicySet::new();
    if let Err(d) = set.add_statements(parsed.file.statements) {
        assert!(
            d.iter().all(|d| INTENDED.contains(&d.code)),
            "Cedar accepts the policies, Mandate's policy set refuses them: {policies:?} {d:#?}"
        );
        return;
    }
    let too_deep = |e: &mandate::JsonError| e.message.contains("nesting is too deep");
    // Deliberate (docs/testing.md): Cedar ignores unknown fields of an entity object, Mandate
    // refuses them (`"parent"` for `"parents"` is a likely typo).
    let unknown_field = |e: &mandate::JsonError| {
        e.message.starts_with("unexpected field `") && e.message.ends_with("` in entity")
    };
    let entities = match Entities::from_json_str(&entities_text, None) {
        Ok(e) => e,
        Err(e) => {
            assert!(
                too_deep(&e) || unknown_field(&e),
                "Cedar accepts the entities, Mandate rejects them: {entities_text:?}: {e}"
            );
            return;
        }
    };
    // The same JSON value as the reference read (serde_json's own nesting limit is 128 too).
    let parsed_request = match request_from_json(&request_json, None) {
        Ok(r) => r,
        Err(e) => {
            assert!(
                too_deep(&e),
                "Cedar accepts the request, Mandate rejects it: {request:?}: {e}"
            );
            return;
        }
    };
    let response =
        mandate::core::is_authorized(&set, &parsed_request.request, &entities, ErrorMode::Cedar);
    // Cedar's `policyN` is Mandate's statement N.
    let from_cedar = |id: &String| -> String {
        id.strip_prefix("policy")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| ids.get(n).cloned())
            .unwrap_or_else(|| id.clone())
    };
    let cedar = Answer {
        allow: cedar.allow,
        reasons: cedar.reasons.iter().map(from_cedar).collect(),
        errors: cedar.errors.iter().map(from_cedar).collect(),
    };
    let ours = Answer {
        allow: response.decision == mandate::core::Decision::Allow,
        reasons: response.reasons.iter().map(ToString::to_string).collect(),
        errors: response
            .errors
            .iter()
            .map(|e| e.policy.to_string())
            .collect(),
    };
    assert_eq!(
        ours, cedar,
        "Mandate (left) and Cedar (right) decide differently:\npolicies {policies:?}\nentities {entities_text:?}\nrequest {request:?}\nMandate's errors {:#?}",
        response.errors
    );
});
