//! Entity JSON and request JSON never panic, with or without a schema.
//!
//! The input is `schema NUL entities NUL request` (see `common::split`; parts may be empty). The
//! schema is read in the JSON format when it starts with `{`, otherwise in the human format; when
//! it loads, everything below is done both without and with it.
//!
//! - Entities: `Entities::from_json_str`, as every loader reads entity files. Errors have a
//!   message and a location (a JSON path, or a line and column for text that is not JSON).
//!   Loaded entities obey the closure invariant (RELIABILITY R12): every parent is an ancestor,
//!   an ancestor's ancestors are ancestors, and no entity is its own ancestor (cycles are
//!   rejected).
//! - Requests as `mandate authorize --request-json` reads them: `Engine::request_from_json` of an
//!   engine built with the schema and the entities (the engine's own entity loading and schema
//!   check run too), and `request_from_json` on the bounded JSON parser's value.
//!
//! RELIABILITY R1 (no panic on any input), R4 (JSON nesting bounded before `serde_json`), R12.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use mandate::{Engine, Entities, JsonError, Schema, parse_json_bounded, request_from_json};

fn check_error(e: &JsonError, what: &str) {
    assert!(!e.message.is_empty(), "{what}: empty message: {e:?}");
    // A JSON path, or `line L column C` for text that is not JSON.
    assert!(
        e.path.starts_with('$') || e.path.starts_with("line "),
        "{what}: no location: {e:?}"
    );
}

fn check_entities(text: &str, schema: Option<&Schema>) {
    match Entities::from_json_str(text, schema) {
        Err(e) => check_error(&e, "entities"),
        Ok(entities) => {
            for (uid, e) in entities.iter() {
                assert!(!e.ancestors.contains(uid), "{uid} is its own ancestor");
                for p in &e.parents {
                    assert!(
                        e.ancestors.contains(p),
                        "parent {p} of {uid} not an ancestor"
                    );
                }
                for a in &e.ancestors {
                    if let Some(ae) = entities.get(a) {
                        assert!(
                            ae.ancestors.is_subset(&e.ancestors),
                            "the ancestors of {a} are not all ancestors of {uid}"
                        );
                    }
                }
            }
        }
    }
}

fn check_request(text: &str, schema: Option<&Schema>) {
    match parse_json_bounded(text) {
        Err(e) => check_error(&e, "request JSON"),
        Ok(json) => {
            if let Err(e) = request_from_json(&json, schema) {
                check_error(&e, "request");
            }
        }
    }
}

fn check_engine(schema: Option<(&str, bool)>, entities: &str, request: &str) {
    let mut builder = Engine::builder();
    if let Some((text, json)) = schema {
        builder = builder.schema_text(text, json);
    }
    if !entities.trim().is_empty() {
        builder = builder.entities_json(entities);
    }
    // A load error is an answer; only a panic fails.
    let Ok(engine) = builder.build() else {
        return;
    };
    if let Err(d) = engine.request_from_json(request) {
        assert!(!d.message.is_empty(), "empty request diagnostic: {d:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let [schema_text, entities, request] = common::split::<3>(data);
    let json_schema = common::looks_like_json(&schema_text);
    let schema = if schema_text.trim().is_empty() {
        None
    } else if json_schema {
        Schema::from_json_str(&schema_text).ok()
    } else {
        Schema::from_cedarschema(&schema_text).ok()
    };
    check_entities(&entities, None);
    check_request(&request, None);
    check_engine(None, &entities, &request);
    if let Some(schema) = &schema {
        check_entities(&entities, Some(schema));
        check_request(&request, Some(schema));
        check_engine(Some((&schema_text, json_schema)), &entities, &request);
    }
});
