//! Stack safety through the facade (RELIABILITY R2, R3): at the deepest nesting each limit
//! accepts, every pass a decision goes through (parse, validate, index, JSON import of entities
//! and context, evaluation, explanation, the audit record's canonical encoding, `Drop`) runs on
//! a thread with a 256 KiB stack, as a host's worker thread might give us. One level more gives a
//! clear error, rendered on the same small stack. A stack overflow aborts the test process, which
//! fails the run.
//!
//! The deepest accepted level is found by asking the engine (not hard-coded), and must be at
//! least `MIN_LEVELS`, so a change that made the limits shallow would fail here too.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test code")]

use mandate::{Engine, EngineError};
use std::path::Path;

const STACK: usize = 256 * 1024;
/// The parser's nesting limit is 128 and most forms take one or two levels per nesting.
const MIN_LEVELS: usize = 50;

fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("256k-stack".into())
        .stack_size(STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// A deep input: the policy condition, the context JSON and the resource entity's attributes
/// for `n` levels of one nesting form. Each is built so the request is allowed.
struct Form {
    name: &'static str,
    build: fn(usize) -> Input,
}

struct Input {
    condition: String,
    context: String,
    resource_attrs: String,
}

fn simple(condition: String) -> Input {
    Input {
        condition,
        context: r#"{"ok": true}"#.into(),
        resource_attrs: "{}".into(),
    }
}

fn nested_json(n: usize, leaf: &str) -> String {
    format!("{}{leaf}{}", r#"{"a": "#.repeat(n), "}".repeat(n))
}

const FORMS: &[Form] = &[
    Form {
        name: "parentheses",
        build: |n| simple(format!("{}context.ok{}", "(".repeat(n), ")".repeat(n))),
    },
    Form {
        name: "not",
        build: |n| {
            let n = n - n % 2;
            simple(format!("{}context.ok{}", "!(".repeat(n), ")".repeat(n)))
        },
    },
    Form {
        name: "negation",
        build: |n| {
            let n = n - n % 2;
            simple(format!("{}1{} == 1", "-(".repeat(n), ")".repeat(n)))
        },
    },
    Form {
        name: "if-then-else chain",
        build: |n| {
            simple(format!(
                "{}context.ok",
                "if false then false else ".repeat(n)
            ))
        },
    },
    Form {
        name: "nested sets",
        build: |n| {
            let set = format!("{}1{}", "[".repeat(n), "]".repeat(n));
            simple(format!("{set} == {set}"))
        },
    },
    Form {
        name: "nested records",
        build: |n| {
            simple(format!(
                "{}true{}{}",
                "{a: ".repeat(n),
                "}".repeat(n),
                ".a".repeat(n)
            ))
        },
    },
    Form {
        name: "parenthesised && chain",
        build: |n| {
            simple(format!(
                "{}true{}",
                "(context.ok && ".repeat(n),
                ")".repeat(n)
            ))
        },
    },
    Form {
        name: "context nested records",
        build: |n| Input {
            condition: format!("context{} == true", ".a".repeat(n)),
            context: nested_json(n, "true"),
            resource_attrs: "{}".into(),
        },
    },
    Form {
        name: "entity attribute nested records",
        build: |n| Input {
            condition: format!("resource.deep{} == 1", ".a".repeat(n)),
            context: "{}".into(),
            resource_attrs: format!(r#"{{"deep": {}}}"#, nested_json(n, "1")),
        },
    },
    Form {
        name: "context nested sets",
        build: |n| Input {
            condition: format!("context.s == {}1{}", "[".repeat(n), "]".repeat(n)),
            context: format!(r#"{{"s": {}1{}}}"#, "[".repeat(n), "]".repeat(n)),
            resource_attrs: "{}".into(),
        },
    },
];

fn engine(input: &Input, audit: Option<&Path>) -> Result<Engine, EngineError> {
    let policy = format!(
        "@id(\"deep\")\npermit(principal, action, resource) when {{ {} }};",
        input.condition
    );
    let entities = format!(
        r#"[{{"uid": {{"type": "Doc", "id": "d"}}, "attrs": {}, "parents": []}}]"#,
        input.resource_attrs
    );
    let mut b = Engine::builder()
        .policy_texts(vec![("deep.cedar".into(), policy)])
        .entities_json(entities);
    if let Some(path) = audit {
        b = b.audit_file(path);
    }
    b.build()
}

fn request_json(input: &Input) -> String {
    format!(
        r#"{{"principal": {{"type": "User", "id": "u"}}, "action": {{"type": "Action", "id": "read"}},
            "resource": {{"type": "Doc", "id": "d"}}, "context": {}}}"#,
        input.context
    )
}

/// Builds and decides `input` on the small stack; `Ok(allowed)` or the error's text.
fn decide_on_small_stack(input: Input) -> Result<bool, String> {
    small_stack(move || {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        let engine = engine(&input, Some(&log)).map_err(|e| e.to_string())?;
        let request = engine
            .request_from_json(&request_json(&input))
            .map_err(|d| d.message.clone())?;
        let decision = engine.authorize(&request);
        let explanation = engine.explain(&request);
        let _ = format!("{explanation:?}");
        let allowed = decision.allowed;
        let failures = engine.audit_failures();
        drop((decision, explanation, request, engine));
        // The deep context was hashed into the chain and written; the log verifies.
        let report = mandate_audit::verify(&log, mandate_audit::VerifyOptions::default())
            .map_err(|e| format!("audit verify: {e}"))?;
        assert_eq!(failures, 0, "no audit record failed");
        assert!(
            report.records >= 2,
            "the policy load and the decision are recorded: {} records",
            report.records
        );
        Ok(allowed)
    })
}

/// The deepest level of `form` the engine accepts (built on the normal stack).
fn deepest_accepted(form: &Form) -> usize {
    (1..=400)
        .rev()
        .find(|&n| {
            let input = (form.build)(n);
            engine(&input, None).is_ok_and(|e| e.request_from_json(&request_json(&input)).is_ok())
        })
        .unwrap_or(0)
}

#[test]
fn deepest_accepted_inputs_decide_on_a_256k_stack() {
    for form in FORMS {
        let n = deepest_accepted(form);
        assert!(
            n >= MIN_LEVELS,
            "{}: only {n} levels accepted (expected at least {MIN_LEVELS})",
            form.name
        );
        assert_eq!(
            decide_on_small_stack((form.build)(n)),
            Ok(true),
            "{} at {n} levels",
            form.name
        );
    }
}

#[test]
fn one_level_past_the_limit_is_a_clear_error_on_a_256k_stack() {
    for form in FORMS {
        let n = deepest_accepted(form);
        // Forms that only use even levels need two more to change.
        let over = (n + 1..=n + 2)
            .map(|m| decide_on_small_stack((form.build)(m)))
            .find(Result::is_err)
            .unwrap_or_else(|| panic!("{}: no error past {n} levels", form.name));
        let message = over.unwrap_err();
        assert!(
            message.contains("too deep") || message.contains("nesting"),
            "{}: the error does not name the nesting limit: {message}",
            form.name
        );
    }
}
