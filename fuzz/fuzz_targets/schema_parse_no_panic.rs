//! Schema parsing never panics, and every error says where it is.
//!
//! The input bytes (decoded as UTF-8, lossily) are loaded as a schema in both Cedar formats: the
//! human `.cedarschema` syntax (`Schema::from_cedarschema`) and the JSON format
//! (`Schema::from_json_str`). Checked for every error: the message is not empty and there is a
//! location. A text location (the human format, or JSON that does not parse) lies inside the
//! source, on character boundaries, with the 1-based line and column its offset gives; a JSON
//! location is a `$`-rooted path. RELIABILITY R1 (no panic on any input), R4 (bounded: deep
//! types stop at `MAX_TYPE_DEPTH`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mandate_validate::schema::{Schema, SchemaErrors, SchemaLocation};

fn check_errors(src: &str, errors: &SchemaErrors, format: &str) {
    assert!(!errors.is_empty(), "{format}: an empty error list");
    for e in errors.iter() {
        assert!(!e.message.is_empty(), "{format}: empty message: {e:?}");
        match &e.location {
            None => panic!("{format}: an error without a location: {e:?}"),
            Some(SchemaLocation::Text {
                start,
                end,
                line,
                column,
            }) => {
                let (s, t) = (*start, *end);
                assert!(
                    s <= t && t <= src.len(),
                    "{format}: location {s}..{t} outside the source ({} bytes): {e:?}",
                    src.len()
                );
                assert!(
                    src.is_char_boundary(s) && src.is_char_boundary(t),
                    "{format}: location {s}..{t} splits a character: {e:?}"
                );
                let before = src.get(..s).unwrap_or_default();
                let want_line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let want_column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
                assert_eq!(
                    (*line, *column),
                    (want_line, want_column),
                    "{format}: line and column do not match offset {s}: {e:?}"
                );
            }
            Some(SchemaLocation::Json { path }) => {
                assert!(
                    format == "json" && path.starts_with('$'),
                    "{format}: bad JSON path location: {e:?}"
                );
            }
        }
        // Rendering works (the CLI prints errors this way).
        assert!(!e.to_string().is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    if let Err(errors) = Schema::from_cedarschema(&src) {
        check_errors(&src, &errors, "cedarschema");
    }
    if let Err(errors) = Schema::from_json_str(&src) {
        check_errors(&src, &errors, "json");
    }
});
