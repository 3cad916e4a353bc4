//! The C entry points called from Rust, the way C calls them: NULL arguments, invalid UTF-8, bad
//! JSON, poisoned handles, lifecycle, and the reference workload `policies/agent-platform`
//! (every request of its `requests.json` decided through both paths).

#![expect(
    unsafe_code,
    reason = "the tests call the C entry points with raw pointers"
)]
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use crate::MandateStatus::*;
use crate::*;
use std::ffi::{CStr, CString, c_char};
use std::path::PathBuf;
use std::ptr::{null, null_mut};

fn platform() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies/agent-platform")
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Takes an owned string from the library.
fn take_string(p: *mut c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: `p` is a live string returned by the library, read once then freed once.
    let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string();
    // SAFETY: as above.
    unsafe { mandate_string_free(p) };
    s
}

/// Takes an error from the library: its status and message.
fn take_error(e: *mut MandateError) -> (MandateStatus, String) {
    assert!(!e.is_null());
    // SAFETY: `e` is a live error returned by the library, freed once at the end.
    unsafe {
        let status = mandate_error_code(e);
        let message = CStr::from_ptr(mandate_error_message(e))
            .to_string_lossy()
            .into_owned();
        mandate_error_free(e);
        (status, message)
    }
}

struct Engine(*mut MandateEngine);

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: the handle is live and freed once, here.
        unsafe { mandate_engine_free(self.0) };
    }
}

fn platform_engine(options: Option<&MandateOptions>) -> Engine {
    let p = platform();
    engine_from_files(
        &p.join("policies"),
        &p.join("schema.cedarschema"),
        &p.join("entities.json"),
        options,
    )
}

/// Builds an engine through the C API from policy, schema and entity paths.
fn engine_from_files(
    policies: &std::path::Path,
    schema: &std::path::Path,
    entities: &std::path::Path,
    options: Option<&MandateOptions>,
) -> Engine {
    let dir = c(policies.to_str().unwrap());
    let schema = c(schema.to_str().unwrap());
    let entities = c(entities.to_str().unwrap());
    let mut out = null_mut();
    let mut err = null_mut();
    // SAFETY: valid strings, options and out-pointers.
    let status = unsafe {
        mandate_engine_new_from_dir(
            dir.as_ptr(),
            schema.as_ptr(),
            entities.as_ptr(),
            options.map_or(null(), |o| o as *const _),
            &mut out,
            &mut err,
        )
    };
    assert_eq!(
        status,
        MANDATE_OK,
        "{:?}",
        (!err.is_null()).then(|| take_error(err))
    );
    assert!(err.is_null());
    Engine(out)
}

fn authorize_json(e: &Engine, request: &str) -> Result<serde_json::Value, (MandateStatus, String)> {
    let req = c(request);
    let mut out = null_mut();
    let mut err = null_mut();
    // SAFETY: live engine, valid string and out-pointers.
    let status = unsafe { mandate_authorize_json(e.0, req.as_ptr(), &mut out, &mut err) };
    if status == MANDATE_OK {
        Ok(serde_json::from_str(&take_string(out)).unwrap())
    } else {
        assert!(out.is_null());
        Err(take_error(err))
    }
}

struct Fast {
    decision: MandateEffect,
    layer: MandateLayer,
    reasons: Vec<String>,
    id: String,
}

fn authorize(
    e: &Engine,
    principal: &str,
    action: &str,
    resource: &str,
    context: Option<&str>,
    flags: u32,
) -> Result<Fast, (MandateStatus, String)> {
    let (p, a, r) = (c(principal), c(action), c(resource));
    let ctx = context.map(c);
    let req = MandateRequest {
        principal: p.as_ptr(),
        action: a.as_ptr(),
        resource: r.as_ptr(),
        context_json: ctx.as_ref().map_or(null(), |c| c.as_ptr()),
        on_behalf_of: null(),
        on_behalf_of_len: 0,
        flags,
    };
    let mut d = MandateDecision::EMPTY;
    let mut err = null_mut();
    // SAFETY: live engine, valid request and out-pointers.
    let status = unsafe { mandate_authorize(e.0, &req, &mut d, &mut err) };
    if status != MANDATE_OK {
        assert!(d.id.is_null() && d.reasons.is_null());
        return Err(take_error(err));
    }
    // SAFETY: the decision was filled by the library: `reasons_len` strings, live until freed.
    let fast = unsafe {
        let reasons = (0..d.reasons_len)
            .map(|i| {
                CStr::from_ptr(*d.reasons.add(i))
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        Fast {
            decision: d.decision,
            layer: d.layer,
            reasons,
            id: CStr::from_ptr(d.id).to_string_lossy().into_owned(),
        }
    };
    // SAFETY: freed once here, then again to check a second free is harmless.
    unsafe {
        mandate_decision_free(&mut d);
        mandate_decision_free(&mut d);
    }
    assert!(d.id.is_null());
    Ok(fast)
}

fn uid_text(v: &serde_json::Value) -> String {
    format!(
        "{}::{}",
        v["type"].as_str().unwrap(),
        serde_json::Value::String(v["id"].as_str().unwrap().to_string())
    )
}

#[test]
fn every_reference_request_decides_as_expected_through_both_paths() {
    let e = platform_engine(None);
    let text = std::fs::read_to_string(platform().join("requests.json")).unwrap();
    let requests: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(requests.len() >= 5);
    for r in &requests {
        let mut req = r.as_object().unwrap().clone();
        let expected = req.remove("decision").unwrap();
        let reasons = req.remove("reason");
        let name = req.remove("description").unwrap_or_default();
        req.remove("errors");
        let request_text = serde_json::Value::Object(req.clone()).to_string();
        let json = authorize_json(&e, &request_text).unwrap();
        assert_eq!(json["decision"], expected, "{name}: {json}");
        if let Some(reasons) = &reasons {
            assert_eq!(&json["reasons"], reasons, "{name}");
        }
        let layer = if expected == "allow" {
            ["policy", "quota"]
        } else {
            ["policy", "policy"]
        };
        assert!(
            layer.contains(&json["layer"].as_str().unwrap()),
            "{name}: {json}"
        );
        assert!(json["id"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(
            json["policy_version"]
                .as_str()
                .unwrap()
                .starts_with("sha256:")
        );

        if req.contains_key("on_behalf_of") {
            continue;
        }
        let context = req.get("context").map(ToString::to_string);
        let fast = authorize(
            &e,
            &uid_text(&req["principal"]),
            &uid_text(&req["action"]),
            &uid_text(&req["resource"]),
            context.as_deref(),
            0,
        )
        .unwrap();
        let want = if expected == "allow" {
            MandateEffect::MANDATE_DECISION_ALLOW
        } else {
            MandateEffect::MANDATE_DECISION_DENY
        };
        assert_eq!(fast.decision, want, "{name}");
        assert_ne!(fast.layer, MandateLayer::MANDATE_LAYER_LIFECYCLE);
        let json_reasons: Vec<String> = json["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(fast.reasons, json_reasons, "{name}");
        assert!(!fast.id.is_empty());
    }
}

#[test]
fn null_arguments_are_invalid_argument_errors() {
    let e = platform_engine(None);
    let mut out = null_mut();
    let mut err = null_mut();
    // SAFETY: NULL is allowed wherever a pointer is taken; out-pointers are valid.
    unsafe {
        let s = mandate_engine_new_from_dir(null(), null(), null(), null(), &mut out, &mut err);
        assert_eq!(s, MANDATE_ERR_INVALID_ARGUMENT);
        assert!(out.is_null());
        let (_, m) = take_error(err);
        assert!(m.contains("policy_dir is NULL"), "{m}");
        // No out-pointer at all.
        let p = c("permit(principal, action, resource);");
        let s = mandate_engine_new_from_strings(
            p.as_ptr(),
            null(),
            null(),
            null(),
            null_mut(),
            null_mut(),
        );
        assert_eq!(s, MANDATE_ERR_INVALID_ARGUMENT);
        // NULL engine.
        let mut res = null_mut();
        let req = c("{}");
        assert_eq!(
            mandate_authorize_json(null(), req.as_ptr(), &mut res, null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert!(!mandate_last_error_message().is_null());
        assert_eq!(
            mandate_authorize_json(e.0, null(), &mut res, null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            mandate_authorize_json(e.0, req.as_ptr(), null_mut(), null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            mandate_authorize(e.0, null(), null_mut(), null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        let mut d = MandateDecision::EMPTY;
        assert_eq!(
            mandate_authorize(e.0, null(), &mut d, null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        let a = c(r#"Platform::Agent::"x""#);
        assert_eq!(
            mandate_agent_suspend(e.0, null(), a.as_ptr(), null(), null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            mandate_reload(null(), null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            mandate_settle(e.0, null(), 1, null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            mandate_check_json(null(), 1, null(), &mut res, null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        // NULL is harmless for every free function and accessor.
        mandate_string_free(null_mut());
        mandate_error_free(null_mut());
        mandate_decision_free(null_mut());
        mandate_engine_free(null_mut());
        assert!(mandate_error_message(null()).is_null());
        assert_eq!(mandate_error_code(null()), MANDATE_OK);
        assert_eq!(mandate_engine_is_poisoned(null()), 0);
    }
}

#[test]
fn invalid_utf8_is_an_invalid_argument_error() {
    let e = platform_engine(None);
    let bad = CString::new(vec![b'{', 0xff, 0xfe, b'}']).unwrap();
    let mut res = null_mut();
    let mut err = null_mut();
    // SAFETY: valid pointers; the string is NUL-terminated (but not UTF-8).
    let s = unsafe { mandate_authorize_json(e.0, bad.as_ptr(), &mut res, &mut err) };
    assert_eq!(s, MANDATE_ERR_INVALID_ARGUMENT);
    let (status, m) = take_error(err);
    assert_eq!(status, MANDATE_ERR_INVALID_ARGUMENT);
    assert!(m.contains("not valid UTF-8 (at byte 1)"), "{m}");
    let r = authorize(
        &e,
        "Platform::Agent::\"\u{0}\"".split('\0').next().unwrap(),
        "x",
        "y",
        None,
        0,
    );
    assert_eq!(r.err().unwrap().0, MANDATE_ERR_INVALID_ARGUMENT);
}

#[test]
fn bad_requests_are_request_errors_with_diagnostics() {
    let e = platform_engine(None);
    let (status, m) = authorize_json(&e, "{not json").unwrap_err();
    assert_eq!(status, MANDATE_ERR_REQUEST, "{m}");
    let (status, m) = authorize_json(
        &e,
        r#"{"principal": {"type": "Platform::Agent", "id": "triage-bot"}, "action": {"type": "Platform::Action", "id": "Fly"}, "resource": {"type": "Platform::Tool", "id": "t"}, "context": {}}"#,
    )
    .unwrap_err();
    assert_eq!(status, MANDATE_ERR_REQUEST);
    assert!(m.contains("not declared in the schema"), "{m}");
    // The diagnostics come as JSON too.
    let req = c("[]");
    let mut res = null_mut();
    let mut err = null_mut();
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(
            mandate_authorize_json(e.0, req.as_ptr(), &mut res, &mut err),
            MANDATE_ERR_REQUEST
        );
        let diags = CStr::from_ptr(mandate_error_diagnostics_json(err))
            .to_str()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(diags).unwrap();
        assert_eq!(v[0]["code"], "MD0060", "{v}");
        mandate_error_free(err);
    }
    // Fast path: a malformed uid, a bad context.
    let r = authorize(
        &e,
        "triage-bot",
        "Platform::Action::\"InvokeTool\"",
        "Platform::Tool::\"x\"",
        None,
        0,
    );
    let (status, m) = r.err().unwrap();
    assert_eq!(status, MANDATE_ERR_INVALID_ARGUMENT);
    assert!(m.contains("not an entity uid"), "{m}");
    let r = authorize(
        &e,
        r#"Platform::Agent::"triage-bot""#,
        r#"Platform::Action::"InvokeTool""#,
        r#"Platform::Tool::"ticket-search""#,
        Some("{oops"),
        0,
    );
    assert_eq!(r.err().unwrap().0, MANDATE_ERR_REQUEST);
    let r = authorize(
        &e,
        r#"Platform::Agent::"triage-bot""#,
        r#"Platform::Action::"InvokeTool""#,
        r#"Platform::Tool::"ticket-search""#,
        None,
        0x80,
    );
    assert_eq!(r.err().unwrap().0, MANDATE_ERR_INVALID_ARGUMENT);
}

#[test]
fn policy_errors_carry_diagnostics() {
    let p = c("permit(principal, action resource);");
    let mut out = null_mut();
    let mut err = null_mut();
    // SAFETY: valid pointers.
    unsafe {
        let s =
            mandate_engine_new_from_strings(p.as_ptr(), null(), null(), null(), &mut out, &mut err);
        assert_eq!(s, MANDATE_ERR_POLICY);
        assert!(out.is_null());
        let diags = CStr::from_ptr(mandate_error_diagnostics_json(err))
            .to_str()
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(diags).unwrap();
        assert!(v.as_array().is_some_and(|a| !a.is_empty()), "{v}");
        mandate_error_free(err);
    }
    // Options out of range.
    let options = MandateOptions {
        error_mode: 7,
        on_store_failure: 0,
        on_audit_failure: 0,
        no_validate: 0,
        max_delegation: 0,
        keep_versions: 0,
        state_dir: null(),
        quota_store: null(),
        audit_file: null(),
        limits_json: null(),
    };
    let p = c("permit(principal, action, resource);");
    // SAFETY: valid pointers.
    let s = unsafe {
        mandate_engine_new_from_strings(p.as_ptr(), null(), null(), &options, &mut out, &mut err)
    };
    assert_eq!(s, MANDATE_ERR_INVALID_ARGUMENT);
    take_error(err);
    let store = c("ftp://nowhere");
    let options = MandateOptions {
        error_mode: 0,
        quota_store: store.as_ptr(),
        ..options
    };
    // SAFETY: valid pointers.
    let s = unsafe {
        mandate_engine_new_from_strings(p.as_ptr(), null(), null(), &options, &mut out, &mut err)
    };
    assert_eq!(s, MANDATE_ERR_INVALID_ARGUMENT);
    take_error(err);
}

#[test]
fn a_panic_poisons_the_handle_and_never_unwinds() {
    let e = platform_engine(None);
    let mut err = null_mut();
    // SAFETY: live engine, valid out-pointer.
    let s = unsafe { mandate_testing_panic(e.0, &mut err) };
    assert_eq!(s, MANDATE_ERR_PANIC);
    let (_, m) = take_error(err);
    assert!(m.contains("deliberate panic"), "{m}");
    // SAFETY: live engine.
    assert_eq!(unsafe { mandate_engine_is_poisoned(e.0) }, 1);
    let r = authorize_json(&e, "{}").unwrap_err();
    assert_eq!(r.0, MANDATE_ERR_POISONED);
    assert_eq!(
        // SAFETY: live engine.
        unsafe { mandate_reload(e.0, null_mut()) },
        MANDATE_ERR_POISONED
    );
    // Other engines are unaffected.
    let other = platform_engine(None);
    // SAFETY: live engine.
    assert_eq!(unsafe { mandate_engine_is_poisoned(other.0) }, 0);
}

const TRIAGE: &str = r#"Platform::Agent::"triage-bot""#;
const INVOKE: &str = r#"Platform::Action::"InvokeTool""#;
const SEARCH: &str = r#"Platform::Tool::"ticket-search""#;
const CONTEXT: &str =
    r#"{"env": "prod", "cost_cents": 10, "approved": false, "now": "2026-11-26T10:00:00Z"}"#;

#[test]
fn lifecycle_suspend_denies_and_resume_allows() {
    let e = platform_engine(None);
    let allow = || authorize(&e, TRIAGE, INVOKE, SEARCH, Some(CONTEXT), 0).unwrap();
    assert_eq!(allow().decision, MandateEffect::MANDATE_DECISION_ALLOW);
    let spec = c(
        r#"{"agent": "Platform::Agent::\"triage-bot\"", "owner": "Platform::Human::\"alice\"",
        "parents": ["Platform::Team::\"support\""], "attributes": {"model": "small", "trust_level": 2},
        "display_name": "Support triage"}"#,
    );
    let (agent, ops, why) = (c(TRIAGE), c("ops"), c("runaway loop"));
    let mut err = null_mut();
    // SAFETY: live engine, valid strings and out-pointers.
    unsafe {
        assert_eq!(
            mandate_agent_register_json(e.0, spec.as_ptr(), ops.as_ptr(), null(), &mut err),
            MANDATE_OK
        );
        assert!(err.is_null());
        assert_eq!(allow().decision, MandateEffect::MANDATE_DECISION_ALLOW);
        assert_eq!(
            mandate_agent_suspend(e.0, agent.as_ptr(), ops.as_ptr(), why.as_ptr(), &mut err),
            MANDATE_OK
        );
    }
    let d = allow();
    assert_eq!(d.decision, MandateEffect::MANDATE_DECISION_DENY);
    assert_eq!(d.layer, MandateLayer::MANDATE_LAYER_LIFECYCLE);
    assert_eq!(d.reasons, ["lifecycle:suspended"]);
    let json = authorize_json(
        &e,
        &format!(
            r#"{{"principal": {{"type": "Platform::Agent", "id": "triage-bot"}}, "action": {{"type": "Platform::Action", "id": "InvokeTool"}}, "resource": {{"type": "Platform::Tool", "id": "ticket-search"}}, "context": {CONTEXT}}}"#
        ),
    )
    .unwrap();
    assert_eq!(json["decision"], "deny");
    assert_eq!(json["layer"], "lifecycle");
    assert_eq!(json["denied_principal"], TRIAGE);
    // SAFETY: live engine, valid strings and out-pointers.
    unsafe {
        // Suspending twice is an illegal transition.
        assert_eq!(
            mandate_agent_suspend(e.0, agent.as_ptr(), null(), null(), &mut err),
            MANDATE_ERR_AGENT
        );
        take_error(err);
        assert_eq!(
            mandate_agent_resume(e.0, agent.as_ptr(), null(), null(), &mut err),
            MANDATE_OK
        );
    }
    assert_eq!(allow().decision, MandateEffect::MANDATE_DECISION_ALLOW);
    let mut out = null_mut();
    // SAFETY: live engine, valid strings and out-pointers.
    unsafe {
        assert_eq!(
            mandate_agent_revoke(e.0, agent.as_ptr(), null(), null(), &mut err),
            MANDATE_OK
        );
        assert_eq!(
            mandate_agent_get_json(e.0, agent.as_ptr(), &mut out, &mut err),
            MANDATE_OK
        );
    }
    let v: serde_json::Value = serde_json::from_str(&take_string(out)).unwrap();
    assert_eq!(v["history"].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(allow().reasons, ["lifecycle:revoked"]);
    // Registering a plain agent (attributes only) and an unknown one.
    let (a2, owner, attrs) = (
        c(r#"Platform::Agent::"new-bot""#),
        c(r#"Platform::Human::"bob""#),
        c(r#"{"model": "large", "trust_level": 1}"#),
    );
    // SAFETY: live engine, valid strings and out-pointers.
    unsafe {
        assert_eq!(
            mandate_agent_register(
                e.0,
                a2.as_ptr(),
                owner.as_ptr(),
                attrs.as_ptr(),
                null(),
                null(),
                &mut err
            ),
            MANDATE_OK
        );
        assert_eq!(
            mandate_agent_register(
                e.0,
                a2.as_ptr(),
                owner.as_ptr(),
                attrs.as_ptr(),
                null(),
                null(),
                &mut err
            ),
            MANDATE_ERR_AGENT
        );
        take_error(err);
        let unknown = c(r#"Platform::Agent::"ghost""#);
        assert_eq!(
            mandate_agent_suspend(e.0, unknown.as_ptr(), null(), null(), &mut err),
            MANDATE_ERR_AGENT
        );
        take_error(err);
    }
}

#[test]
fn reload_rollback_settle_and_refund() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.mandate");
    std::fs::write(&file, "@id(\"all\") permit(principal, action, resource);").unwrap();
    let d = c(dir.path().to_str().unwrap());
    let mut out = null_mut();
    let mut err = null_mut();
    // SAFETY: valid pointers.
    let s = unsafe {
        mandate_engine_new_from_dir(d.as_ptr(), null(), null(), null(), &mut out, &mut err)
    };
    assert_eq!(s, MANDATE_OK);
    let e = Engine(out);
    let version = || {
        let mut v = null_mut();
        assert_eq!(
            // SAFETY: live engine, valid out-pointer.
            unsafe { mandate_engine_policy_version(e.0, &mut v, null_mut()) },
            MANDATE_OK
        );
        take_string(v)
    };
    let first = version();
    let decide = || authorize(&e, r#"U::"a""#, r#"A::"b""#, r#"R::"c""#, None, 0).unwrap();
    assert_eq!(decide().decision, MandateEffect::MANDATE_DECISION_ALLOW);
    assert_eq!(
        // SAFETY: live engine.
        unsafe { mandate_rollback(e.0, &mut err) },
        MANDATE_ERR_POLICY
    );
    take_error(err);

    std::fs::write(&file, "@id(\"none\") forbid(principal, action, resource);").unwrap();
    // SAFETY: live engine.
    assert_eq!(unsafe { mandate_reload(e.0, &mut err) }, MANDATE_OK);
    assert_ne!(version(), first);
    assert_eq!(decide().reasons, ["none"]);
    // A broken file leaves the running version in place.
    std::fs::write(&file, "permit(").unwrap();
    // SAFETY: live engine.
    assert_eq!(unsafe { mandate_reload(e.0, &mut err) }, MANDATE_ERR_POLICY);
    take_error(err);
    assert_eq!(decide().reasons, ["none"]);
    // SAFETY: live engine.
    assert_eq!(unsafe { mandate_rollback(e.0, &mut err) }, MANDATE_OK);
    assert_eq!(version(), first);
    assert_eq!(decide().decision, MandateEffect::MANDATE_DECISION_ALLOW);

    // Settle and refund reservations.
    let q = c(r#"@id("all") permit(principal, action, resource);
        @id("budget") quota (principal, action, resource) limit 100 per 1h by principal cost context.cost;"#);
    let mut out = null_mut();
    // SAFETY: valid pointers.
    let s = unsafe {
        mandate_engine_new_from_strings(q.as_ptr(), null(), null(), null(), &mut out, &mut err)
    };
    assert_eq!(
        s,
        MANDATE_OK,
        "{:?}",
        (!err.is_null()).then(|| take_error(err))
    );
    let e = Engine(out);
    let d = authorize(
        &e,
        r#"U::"a""#,
        r#"A::"b""#,
        r#"R::"c""#,
        Some(r#"{"cost": 60}"#),
        MANDATE_AUTHORIZE_RESERVE,
    )
    .unwrap();
    assert_eq!(d.decision, MandateEffect::MANDATE_DECISION_ALLOW);
    let id = c(&d.id);
    // SAFETY: live engine, valid strings.
    unsafe {
        assert_eq!(mandate_settle(e.0, id.as_ptr(), 10, &mut err), MANDATE_OK);
        assert_eq!(
            mandate_settle(e.0, id.as_ptr(), 10, &mut err),
            MANDATE_ERR_STORE
        );
        take_error(err);
        let unknown = c("nope");
        assert_eq!(
            mandate_refund(e.0, unknown.as_ptr(), &mut err),
            MANDATE_ERR_STORE
        );
        take_error(err);
    }
    // 10 used; 60 more fit (a refund would release them), 91 do not.
    let d = authorize(
        &e,
        r#"U::"a""#,
        r#"A::"b""#,
        r#"R::"c""#,
        Some(r#"{"cost": 60}"#),
        MANDATE_AUTHORIZE_RESERVE,
    )
    .unwrap();
    assert_eq!(d.decision, MandateEffect::MANDATE_DECISION_ALLOW);
    let id = c(&d.id);
    assert_eq!(
        // SAFETY: live engine, valid strings.
        unsafe { mandate_refund(e.0, id.as_ptr(), &mut err) },
        MANDATE_OK
    );
    let d = authorize(
        &e,
        r#"U::"a""#,
        r#"A::"b""#,
        r#"R::"c""#,
        Some(r#"{"cost": 91}"#),
        0,
    )
    .unwrap();
    assert_eq!(d.decision, MandateEffect::MANDATE_DECISION_DENY);
    assert_eq!(d.layer, MandateLayer::MANDATE_LAYER_QUOTA);
    assert_eq!(d.reasons, ["budget"]);
}

#[test]
fn check_and_lint_return_diagnostics_as_json() {
    let dir = c(platform().join("policies").to_str().unwrap());
    let schema = c(platform().join("schema.cedarschema").to_str().unwrap());
    let bad = c(platform().join("bad").to_str().unwrap());
    let paths = [dir.as_ptr()];
    let mut out = null_mut();
    let mut err = null_mut();
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(
            mandate_check_json(paths.as_ptr(), 1, schema.as_ptr(), &mut out, &mut err),
            MANDATE_OK
        );
        assert_eq!(take_string(out), "[]");
        let paths = [bad.as_ptr()];
        assert_eq!(
            mandate_lint_json(
                paths.as_ptr(),
                1,
                schema.as_ptr(),
                null(),
                &mut out,
                &mut err
            ),
            MANDATE_OK
        );
        let v: serde_json::Value = serde_json::from_str(&take_string(out)).unwrap();
        assert!(v.as_array().is_some_and(|a| !a.is_empty()), "{v}");
        let missing = c("/nonexistent/mandate");
        let paths = [missing.as_ptr()];
        assert_eq!(
            mandate_check_json(paths.as_ptr(), 1, null(), &mut out, &mut err),
            MANDATE_ERR_IO
        );
        assert!(out.is_null());
        take_error(err);
    }
}

#[test]
fn audit_file_records_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let path = c(log.to_str().unwrap());
    let options = MandateOptions {
        error_mode: 0,
        on_store_failure: 0,
        on_audit_failure: 0,
        no_validate: 0,
        max_delegation: 0,
        keep_versions: 0,
        state_dir: null(),
        quota_store: null(),
        audit_file: path.as_ptr(),
        limits_json: null(),
    };
    {
        let e = platform_engine(Some(&options));
        let d = authorize(&e, TRIAGE, INVOKE, SEARCH, Some(CONTEXT), 0).unwrap();
        assert_eq!(d.decision, MandateEffect::MANDATE_DECISION_ALLOW);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("\"decision\""), "{text}");
}

#[test]
fn version_is_the_crate_version() {
    // SAFETY: a static string.
    let v = unsafe { CStr::from_ptr(mandate_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_uid_shortcut_agrees_with_the_parser() {
    for text in [
        r#"Platform::Agent::"triage-bot""#,
        r#"A::"""#,
        r#"_x1::Y_2::"id with spaces and ünïcode""#,
        r#"A::"quote\"inside""#,
        r#"A::"back\\slash""#,
        r#"if::"x""#,
        r#"A::in::"x""#,
        r#"1A::"x""#,
        r#"A :: "x""#,
        r#"A::"x"  "#,
        r#"A::B"#,
        r#""x""#,
    ] {
        let short = crate::json::simple_uid(text);
        if let Some(uid) = &short {
            assert_eq!(Some(uid), mandate::parse_uid_str(text).as_ref(), "{text}");
        }
        let both = crate::json::parse_uid(text, "uid").ok();
        assert_eq!(both, mandate::parse_uid_str(text), "{text}");
    }
}

/// The message of the most recent failure on this thread.
fn last_error() -> String {
    let p = mandate_last_error_message();
    assert!(!p.is_null());
    // SAFETY: valid until the next failing call on this thread.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn small_engine() -> *mut MandateEngine {
    let p = c("@id(\"all\") permit(principal, action, resource);");
    let mut out = null_mut();
    // SAFETY: valid pointers.
    let s = unsafe {
        mandate_engine_new_from_strings(p.as_ptr(), null(), null(), null(), &mut out, null_mut())
    };
    assert_eq!(s, MANDATE_OK);
    assert!(!out.is_null());
    out
}

/// A request for `small_engine`, with the strings it borrows (their buffers do not move).
struct SmallRequest {
    _strings: [CString; 3],
    req: MandateRequest,
}

fn small_request() -> SmallRequest {
    let strings = [c(r#"User::"a""#), c(r#"Action::"b""#), c(r#"Thing::"c""#)];
    let req = MandateRequest {
        principal: strings[0].as_ptr(),
        action: strings[1].as_ptr(),
        resource: strings[2].as_ptr(),
        context_json: null(),
        on_behalf_of: null(),
        on_behalf_of_len: 0,
        flags: 0,
    };
    SmallRequest {
        _strings: strings,
        req,
    }
}

fn decide_small(engine: *const MandateEngine) -> (MandateStatus, MandateEffect) {
    let r = small_request();
    let mut d = MandateDecision::EMPTY;
    // SAFETY: any engine value is accepted; the request and decision are valid.
    let s = unsafe { mandate_authorize(engine, &r.req, &mut d, null_mut()) };
    let effect = d.decision;
    // SAFETY: `d` was filled (or reset) by `mandate_authorize`.
    unsafe { mandate_decision_free(&mut d) };
    (s, effect)
}

#[test]
fn engine_double_free_and_use_after_free_are_detected() {
    let engine = small_engine();
    assert_eq!(
        decide_small(engine),
        (MANDATE_OK, MandateEffect::MANDATE_DECISION_ALLOW)
    );
    // SAFETY: any value is accepted by the free function and the calls below.
    unsafe {
        mandate_engine_free(engine);
        // Use after free: refused, not undefined behaviour.
        assert_eq!(
            decide_small(engine),
            (
                MANDATE_ERR_INVALID_ARGUMENT,
                MandateEffect::MANDATE_DECISION_DENY
            )
        );
        assert!(last_error().contains("is not live"), "{}", last_error());
        let mut out = null_mut();
        let mut err = null_mut();
        assert_eq!(
            mandate_engine_policy_version(engine, &mut out, &mut err),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert!(out.is_null());
        let (status, m) = take_error(err);
        assert_eq!(status, MANDATE_ERR_INVALID_ARGUMENT);
        assert!(
            m.contains("engine handle") && m.contains("freed already"),
            "{m}"
        );
        assert_eq!(
            mandate_reload(engine, null_mut()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert_eq!(mandate_engine_is_poisoned(engine), -1);
        // Double free: a no-op, reported through the last error.
        mandate_engine_free(engine);
        let m = last_error();
        assert!(
            m.starts_with("mandate_engine_free:") && m.contains("nothing was freed"),
            "{m}"
        );
    }
    // A new engine never gets the freed handle back, so the stale one stays refused.
    let again = small_engine();
    assert_ne!(again, engine);
    assert_eq!(decide_small(engine).0, MANDATE_ERR_INVALID_ARGUMENT);
    assert_eq!(decide_small(again).0, MANDATE_OK);
    // SAFETY: any value is accepted.
    unsafe { mandate_engine_free(again) };
}

#[test]
fn garbage_and_foreign_handles_are_refused() {
    let garbage = std::ptr::without_provenance_mut::<MandateEngine>(0xdead_bee0);
    assert_eq!(decide_small(garbage).0, MANDATE_ERR_INVALID_ARGUMENT);
    // An error handle passed as an engine (both are registry keys, never equal).
    let mut err = null_mut();
    let bad = c("{");
    let mut out = null_mut();
    let e = small_engine();
    // SAFETY: any value is accepted for handles; the other pointers are valid.
    unsafe {
        assert_eq!(
            mandate_authorize_json(e, bad.as_ptr(), &mut out, &mut err),
            MANDATE_ERR_REQUEST
        );
        assert_eq!(
            decide_small(err.cast::<MandateEngine>()).0,
            MANDATE_ERR_INVALID_ARGUMENT
        );
        // And an engine handle passed as an error.
        assert_eq!(
            mandate_error_code(e.cast::<MandateError>()),
            MANDATE_ERR_INVALID_ARGUMENT
        );
        assert!(mandate_error_message(e.cast::<MandateError>()).is_null());
        mandate_engine_free(garbage);
        assert!(last_error().contains("0xdeadbee0"), "{}", last_error());
        mandate_error_free(err);
        mandate_engine_free(e);
    }
}

#[test]
fn error_double_free_and_use_after_free_are_detected() {
    let mut out = null_mut();
    let mut err = null_mut();
    let policies = c("permit(principal, action resource);");
    // SAFETY: valid pointers; any value is accepted for error handles.
    unsafe {
        let s = mandate_engine_new_from_strings(
            policies.as_ptr(),
            null(),
            null(),
            null(),
            &mut out,
            &mut err,
        );
        assert_eq!(s, MANDATE_ERR_POLICY);
        assert_eq!(mandate_error_code(err), MANDATE_ERR_POLICY);
        assert!(!mandate_error_diagnostics_json(err).is_null());
        mandate_error_free(err);
        // Use after free.
        assert_eq!(mandate_error_code(err), MANDATE_ERR_INVALID_ARGUMENT);
        assert!(mandate_error_message(err).is_null());
        assert!(mandate_error_diagnostics_json(err).is_null());
        assert!(last_error().contains("error handle"), "{}", last_error());
        // Double free.
        mandate_error_free(err);
        let m = last_error();
        assert!(
            m.starts_with("mandate_error_free:") && m.contains("nothing was freed"),
            "{m}"
        );
    }
}

#[test]
fn string_double_free_and_foreign_strings_are_detected() {
    let e = small_engine();
    let mut version = null_mut();
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(
            mandate_engine_policy_version(e, &mut version, null_mut()),
            MANDATE_OK
        );
        assert!(CStr::from_ptr(version).to_bytes().starts_with(b"sha256:"));
        mandate_string_free(version);
    }
    // A string that is not ours: not freed (reading it afterwards is fine).
    let mine = c("not from the library");
    // SAFETY: any pointer is accepted; `mine` is only looked up, never freed by the library.
    unsafe { mandate_string_free(mine.as_ptr().cast_mut()) };
    let m = last_error();
    assert!(
        m.starts_with("mandate_string_free:") && m.contains("nothing was freed"),
        "{m}"
    );
    assert_eq!(mine.to_str().unwrap(), "not from the library");
    // A string inside a decision belongs to `mandate_decision_free`.
    let r = small_request();
    let mut d = MandateDecision::EMPTY;
    // SAFETY: valid pointers; the decision's strings are freed once, by `mandate_decision_free`.
    unsafe {
        assert_eq!(mandate_authorize(e, &r.req, &mut d, null_mut()), MANDATE_OK);
        mandate_string_free(d.id);
        assert!(
            last_error().contains("not a live string"),
            "{}",
            last_error()
        );
        assert_eq!(CStr::from_ptr(d.id).to_bytes().len(), 32);
        mandate_decision_free(&mut d);
        mandate_decision_free(&mut d);
        assert!(d.id.is_null());
        mandate_engine_free(e);
    }
}

#[test]
fn an_engine_freed_while_other_threads_decide_is_never_used_after_free() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const THREADS: usize = 4;
    let engine = small_engine();
    let handle = engine.addr();
    let started = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let engine = std::ptr::without_provenance::<MandateEngine>(handle);
                    let (mut ok, mut refused, mut other) = (0u32, 0u32, None);
                    // Decide until the engine is gone, then 100 more times.
                    while refused < 100 {
                        match decide_small(engine) {
                            (MANDATE_OK, MandateEffect::MANDATE_DECISION_ALLOW) => {
                                if ok == 0 {
                                    started.fetch_add(1, Ordering::SeqCst);
                                }
                                ok += 1;
                            }
                            (
                                MANDATE_ERR_INVALID_ARGUMENT,
                                MandateEffect::MANDATE_DECISION_DENY,
                            ) => {
                                refused += 1;
                            }
                            unexpected => {
                                other = Some(unexpected.0);
                                break;
                            }
                        }
                    }
                    (ok, refused, other)
                })
            })
            .collect();
        // Free while every worker is deciding on the engine.
        while started.load(Ordering::SeqCst) < THREADS {
            std::thread::yield_now();
        }
        // SAFETY: any value is accepted; the workers may be inside calls on the engine.
        unsafe { mandate_engine_free(std::ptr::without_provenance_mut(handle)) };
        for w in workers {
            let (ok, refused, other) = w.join().unwrap();
            assert_eq!(other, None);
            assert!(ok >= 1);
            assert_eq!(refused, 100);
        }
    });
}

/// Builds an engine through the C API from a reference workload folder.
fn workload_engine(dir: &std::path::Path) -> Engine {
    engine_from_files(
        &dir.join("policies.cedar"),
        &dir.join("schema.cedarschema"),
        &dir.join("entities.json"),
        None,
    )
}

/// A decision through the fast path, in full.
#[derive(Debug, PartialEq)]
struct Full {
    allowed: bool,
    layer: MandateLayer,
    reasons: Vec<String>,
    denied_principal: Option<String>,
    errors: serde_json::Value,
}

fn fast_full(e: &Engine, request: &serde_json::Value) -> Full {
    let (p, a, r) = (
        c(&uid_text(&request["principal"])),
        c(&uid_text(&request["action"])),
        c(&uid_text(&request["resource"])),
    );
    let ctx = c(&request["context"].to_string());
    let req = MandateRequest {
        principal: p.as_ptr(),
        action: a.as_ptr(),
        resource: r.as_ptr(),
        context_json: ctx.as_ptr(),
        on_behalf_of: null(),
        on_behalf_of_len: 0,
        flags: 0,
    };
    let mut d = MandateDecision::EMPTY;
    let mut err = null_mut();
    // SAFETY: live engine, valid request and out-pointers; the decision is freed once.
    unsafe {
        let status = mandate_authorize(e.0, &req, &mut d, &mut err);
        assert_eq!(
            status,
            MANDATE_OK,
            "{request}: {:?}",
            (!err.is_null()).then(|| take_error(err))
        );
        let text = |p: *mut c_char| {
            (!p.is_null()).then(|| CStr::from_ptr(p).to_str().unwrap().to_string())
        };
        let full = Full {
            allowed: d.decision == MandateEffect::MANDATE_DECISION_ALLOW,
            layer: d.layer,
            reasons: (0..d.reasons_len)
                .map(|i| text(*d.reasons.add(i)).unwrap())
                .collect(),
            denied_principal: text(d.denied_principal),
            errors: text(d.errors_json)
                .map_or(serde_json::json!([]), |t| serde_json::from_str(&t).unwrap()),
        };
        mandate_decision_free(&mut d);
        full
    }
}

/// The acceptance check of the C binding: on the reference workloads (`shared/bench/
/// agent-platform`, 1,000 requests each), every decision through `mandate_authorize` and
/// through `mandate_authorize_json` equals the Rust engine's, read and decided as `mandate
/// authorize --request-json` does (`Engine::request_from_json`, `Engine::authorize`).
#[test]
fn reference_workload_decisions_through_the_c_api_equal_the_rust_engine() -> Result<(), String> {
    let dir = match mandate_test_support::shared_subdir("bench/agent-platform")? {
        mandate_test_support::Shared::Found(dir) => dir,
        mandate_test_support::Shared::Skip => return Ok(()),
    };
    for n in ["n10", "n100", "n1000"] {
        let dir = dir.join(n);
        let rust = mandate::Engine::builder()
            .policy_dir(dir.join("policies.cedar"))
            .schema_path(dir.join("schema.cedarschema"))
            .entities_path(dir.join("entities.json"))
            .build()
            .unwrap();
        let e = workload_engine(&dir);
        let text = std::fs::read_to_string(dir.join("requests.json")).unwrap();
        let requests: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(requests.len(), 1000, "{n}");
        let (mut allowed, mut with_reasons) = (0, 0);
        for (i, request) in requests.iter().enumerate() {
            let d = rust.authorize(&rust.request_from_json(&request.to_string()).unwrap());
            let want = Full {
                allowed: d.allowed,
                layer: d.layer.into(),
                reasons: d.reasons.iter().map(ToString::to_string).collect(),
                denied_principal: d.denied_principal.clone(),
                errors: serde_json::json!(d.errors),
            };
            assert_eq!(fast_full(&e, request), want, "{n} request {i}");
            let json = authorize_json(&e, &request.to_string()).unwrap();
            assert_eq!(json["decision"], d.decision_str(), "{n} request {i}");
            assert_eq!(
                json["reasons"],
                serde_json::json!(want.reasons),
                "{n} request {i}"
            );
            assert_eq!(json["errors"], want.errors, "{n} request {i}");
            assert_eq!(json["layer"], d.layer.as_str(), "{n} request {i}");
            allowed += usize::from(d.allowed);
            with_reasons += usize::from(!d.reasons.is_empty());
        }
        // The workload exercises both outcomes (so equality is not vacuous).
        assert!(
            allowed > 0 && allowed < requests.len(),
            "{n}: {allowed} allowed"
        );
        assert!(with_reasons > 0, "{n}");
    }
    Ok(())
}

/// `options.limits_json` at limit − 1 and limit (the engine builds) and limit + 1
/// (`MANDATE_ERR_POLICY`, the diagnostic naming the limit and the observed value); a bad limit
/// is `MANDATE_ERR_INVALID_ARGUMENT`.
#[test]
fn limits_json_limits_the_entities() {
    let p = c("permit(principal, action, resource);");
    let limits = c(r#"{"max_entities": 5}"#);
    let options = MandateOptions {
        error_mode: 0,
        on_store_failure: 0,
        on_audit_failure: 0,
        no_validate: 0,
        max_delegation: 0,
        keep_versions: 0,
        state_dir: null(),
        quota_store: null(),
        audit_file: null(),
        limits_json: limits.as_ptr(),
    };
    for (n, ok) in [(4, true), (5, true), (6, false)] {
        let users: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"uid": {{"type": "User", "id": "u{i}"}}, "attrs": {{}}, "parents": []}}"#
                )
            })
            .collect();
        let entities = c(&format!("[{}]", users.join(",")));
        let mut out = null_mut();
        let mut err = null_mut();
        // SAFETY: valid pointers.
        let s = unsafe {
            mandate_engine_new_from_strings(
                p.as_ptr(),
                null(),
                entities.as_ptr(),
                &options,
                &mut out,
                &mut err,
            )
        };
        if ok {
            assert_eq!(s, MANDATE_OK, "{n} entities");
            drop(Engine(out));
        } else {
            assert_eq!(s, MANDATE_ERR_POLICY, "{n} entities");
            // SAFETY: `err` is a live error.
            let diags = unsafe { CStr::from_ptr(mandate_error_diagnostics_json(err)) }
                .to_string_lossy()
                .into_owned();
            let (_, message) = take_error(err);
            let named = "6 is more than the limit `max_entities` = 5";
            assert!(
                message.contains(named) || diags.contains(named),
                "{message} {diags}"
            );
        }
    }
    for bad in [
        r#"{"max_nothing": 1}"#,
        r#"{"max_entities": -1}"#,
        "[1]",
        "{",
    ] {
        let limits = c(bad);
        let options = MandateOptions {
            limits_json: limits.as_ptr(),
            ..options
        };
        let mut out = null_mut();
        let mut err = null_mut();
        // SAFETY: valid pointers.
        let s = unsafe {
            mandate_engine_new_from_strings(
                p.as_ptr(),
                null(),
                null(),
                &options,
                &mut out,
                &mut err,
            )
        };
        assert_eq!(s, MANDATE_ERR_INVALID_ARGUMENT, "{bad}");
        let (_, message) = take_error(err);
        assert!(message.contains("limits_json"), "{bad}: {message}");
    }
}

/// Builds an engine from strings with `limits_json` (and an audit file when given); the error's
/// message and diagnostics when it fails.
fn limited_engine(
    policies: &str,
    entities: Option<&str>,
    limits: &str,
    audit_file: Option<&std::path::Path>,
) -> Result<Engine, String> {
    let p = c(policies);
    let ents = entities.map(c);
    let limits = c(limits);
    let audit = audit_file.map(|a| c(a.to_str().unwrap()));
    let options = MandateOptions {
        error_mode: 0,
        on_store_failure: 0,
        on_audit_failure: 0,
        no_validate: 0,
        max_delegation: 0,
        keep_versions: 0,
        state_dir: null(),
        quota_store: null(),
        audit_file: audit.as_ref().map_or(null(), |a| a.as_ptr()),
        limits_json: limits.as_ptr(),
    };
    let mut out = null_mut();
    let mut err = null_mut();
    // SAFETY: valid strings, options and out-pointers.
    let s = unsafe {
        mandate_engine_new_from_strings(
            p.as_ptr(),
            null(),
            ents.as_ref().map_or(null(), |e| e.as_ptr()),
            &options,
            &mut out,
            &mut err,
        )
    };
    if s == MANDATE_OK {
        return Ok(Engine(out));
    }
    // SAFETY: `err` is a live error.
    let diags = unsafe { CStr::from_ptr(mandate_error_diagnostics_json(err)) }
        .to_string_lossy()
        .into_owned();
    let (_, message) = take_error(err);
    Err(format!("{message} {diags}"))
}

/// A decision that is not an allow, as its errors; a refused request as its message.
fn allowed(result: Result<serde_json::Value, (MandateStatus, String)>) -> Result<(), String> {
    match result {
        Ok(d) if d["decision"] == "allow" => Ok(()),
        Ok(d) => Err(d["errors"].to_string()),
        Err((_, message)) => Err(message),
    }
}

fn limit_request(context: &serde_json::Value, on_behalf_of: usize) -> String {
    let chain: Vec<serde_json::Value> = (0..on_behalf_of)
        .map(|i| serde_json::json!({"type": "User", "id": format!("p{i}")}))
        .collect();
    serde_json::json!({
        "principal": {"type": "User", "id": "u"},
        "action": {"type": "Action", "id": "read"},
        "resource": {"type": "Doc", "id": "d"},
        "context": context,
        "on_behalf_of": chain,
    })
    .to_string()
}

/// Every limit through the C API (`options.limits_json`, then `mandate_authorize_json` or the
/// fast path): an input of size `V` is accepted under `NAME = V + 1` and `NAME = V` and refused
/// under `NAME = V - 1` with a message naming the limit and the value. A limit without a case
/// fails the test.
#[test]
fn every_limit_through_the_c_api() {
    const PERMIT: &str = "permit(principal, action, resource);";
    let plain = limit_request(&serde_json::json!({}), 0);
    let dir = tempfile::tempdir().unwrap();
    // The audit record of a padded request, measured once.
    let padded = limit_request(&serde_json::json!({"pad": "x".repeat(100)}), 0);
    let probe = dir.path().join("probe.jsonl");
    {
        let e = limited_engine(PERMIT, None, "{}", Some(&probe)).unwrap();
        allowed(authorize_json(&e, &padded)).unwrap();
    }
    let log = std::fs::read_to_string(&probe).unwrap();
    let line = log.lines().find(|l| l.contains("\"pad\"")).unwrap();
    let record = line.rfind(",\"hash\":\"").unwrap() - line.find(",\"record\":").unwrap() - 10;
    let chain = |n: usize| {
        let mut list = vec![
            serde_json::json!({"uid": {"type": "User", "id": "u"}, "attrs": {}, "parents": [{"type": "Group", "id": "g1"}]}),
        ];
        for i in 1..=n {
            let parents = if i < n {
                serde_json::json!([{"type": "Group", "id": format!("g{}", i + 1)}])
            } else {
                serde_json::json!([])
            };
            list.push(serde_json::json!({"uid": {"type": "Group", "id": format!("g{i}")}, "attrs": {}, "parents": parents}));
        }
        serde_json::Value::Array(list).to_string()
    };
    type Run<'a> = Box<dyn Fn(&str) -> Result<(), String> + 'a>;
    let mut audit_n = 0;
    let cases: Vec<(&str, usize, Run<'_>)> = vec![
        (
            "max_source_bytes",
            PERMIT.len(),
            Box::new(|l| limited_engine(PERMIT, None, l, None).map(drop)),
        ),
        (
            "max_source_lines",
            3,
            Box::new(|l| {
                limited_engine(
                    "permit(\n  principal, action, resource\n);\n",
                    None,
                    l,
                    None,
                )
                .map(drop)
            }),
        ),
        (
            "max_nesting_depth",
            4,
            Box::new(|l| {
                limited_engine(
                    "permit(principal, action, resource) unless { (((false))) };",
                    None,
                    l,
                    None,
                )
                .map(drop)
            }),
        ),
        (
            "max_policies",
            3,
            Box::new(|l| limited_engine(&PERMIT.repeat(3), None, l, None).map(drop)),
        ),
        (
            "max_string_bytes",
            12,
            Box::new(|l| {
                let e = limited_engine(PERMIT, None, l, None)?;
                // Through the fast path: the context's strings are checked too.
                authorize(
                    &e,
                    "User::\"u\"",
                    "Action::\"read\"",
                    "Doc::\"d\"",
                    Some(r#"{"s": "abcdefghijkl"}"#),
                    0,
                )
                .map(drop)
                .map_err(|(_, m)| m)
            }),
        ),
        (
            "max_set_elements",
            5,
            Box::new(|l| {
                let e = limited_engine(PERMIT, None, l, None)?;
                allowed(authorize_json(
                    &e,
                    &limit_request(&serde_json::json!({"s": [1, 2, 3, 4, 5]}), 0),
                ))
            }),
        ),
        (
            "max_entities",
            5,
            Box::new(|l| limited_engine(PERMIT, Some(&chain(4)), l, None).map(drop)),
        ),
        (
            "max_ancestors",
            4,
            Box::new(|l| limited_engine(PERMIT, Some(&chain(4)), l, None).map(drop)),
        ),
        (
            "max_request_bytes",
            plain.len(),
            Box::new(|l| {
                let e = limited_engine(PERMIT, None, l, None)?;
                allowed(authorize_json(&e, &plain))
            }),
        ),
        (
            "max_delegation_depth",
            3,
            Box::new(|l| {
                let e = limited_engine(PERMIT, None, l, None)?;
                allowed(authorize_json(
                    &e,
                    &limit_request(&serde_json::json!({}), 3),
                ))
            }),
        ),
        (
            "max_audit_record_bytes",
            record,
            Box::new(|l| {
                let path = dir.path().join(format!("audit-{}.jsonl", l.len()));
                let _ = std::fs::remove_file(&path);
                let e = limited_engine(PERMIT, None, l, Some(&path))?;
                allowed(authorize_json(&e, &padded))
            }),
        ),
    ];
    for name in mandate::LIMIT_NAMES {
        assert!(cases.iter().any(|c| c.0 == name), "no C case for `{name}`");
    }
    for (name, v, run) in &cases {
        for limit in [v + 1, *v, v - 1] {
            audit_n += 1;
            let limits = format!(r#"{{"{name}": {limit}{}}}"#, " ".repeat(audit_n));
            let result = run(&limits);
            if limit >= *v {
                assert!(result.is_ok(), "{name} = {limit} (input {v}): {result:?}");
            } else {
                assert!(result.is_err(), "{name} = {limit} accepted {v}");
                let message = result.err().unwrap_or_default();
                let named = format!("{v} is more than the limit `{name}` = {limit}");
                assert!(message.contains(&named), "{name}: {message}");
            }
        }
    }
}
