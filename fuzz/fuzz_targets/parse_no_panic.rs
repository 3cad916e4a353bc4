//! R1: the parser never panics and never reports an internal error, on any input.
//!
//! The input bytes are decoded as UTF-8 (lossily, so every byte string is a test case; valid
//! UTF-8 is taken as is) and parsed in both dialects. Checked for every diagnostic: each label
//! lies inside the source and on character boundaries, the message is not empty, and rendering
//! (text and JSON) works. Differential check: Mandate is a superset of Cedar, so a source that
//! parses cleanly as Cedar parses cleanly, to the same tree, as Mandate.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mandate_syntax::diagnostics::render_all;
use mandate_syntax::{Dialect, ParseOptions, Parsed, Source, parse};

/// Diagnostics rendered per parse (see `check`).
const RENDERED: usize = 8;

fn check(src: &str, dialect: Dialect) -> Parsed {
    let parsed = parse(
        src,
        ParseOptions {
            dialect,
            ..ParseOptions::default()
        },
    );
    for d in &parsed.diagnostics {
        assert!(!d.message.is_empty(), "empty message: {d:?}");
        // lalrpop's `InvalidToken`/`ExtraToken` cannot happen with our own lexer: if they show,
        // something inside the parser went wrong.
        assert!(
            !d.message.starts_with("invalid token"),
            "internal parser error: {d:?}"
        );
        for l in &d.labels {
            let (s, e) = (l.span.start as usize, l.span.end as usize);
            assert!(
                s <= e && e <= src.len(),
                "label {s}..{e} outside the source: {d:?}"
            );
            assert!(
                src.is_char_boundary(s) && src.is_char_boundary(e),
                "label {s}..{e} splits a character: {d:?}"
            );
        }
    }
    // Rendering costs more than parsing (every label walks its line, and a file may have up to
    // `max_diagnostics` of them): text for one dialect, JSON for the other, for the first
    // `RENDERED` diagnostics only (the checks above cover all of them). Rendering them all made
    // this the slowest target, about 60% of its time on inputs full of errors.
    let source = Source::new("fuzz.mandate", src);
    let shown = parsed
        .diagnostics
        .get(..RENDERED)
        .unwrap_or(&parsed.diagnostics);
    if dialect == Dialect::Mandate {
        let rendered = render_all(shown, Some(&source));
        assert_eq!(rendered.is_empty(), parsed.diagnostics.is_empty());
    } else {
        for d in shown {
            let json = d.to_json(Some(&source));
            assert!(json.get("code").is_some(), "{json}");
        }
    }
    if !parsed.has_errors() {
        for s in &parsed.file.statements {
            let (a, b) = (s.span.start as usize, s.span.end as usize);
            assert!(
                a <= b && b <= src.len(),
                "statement span {a}..{b} outside the source"
            );
        }
    }
    parsed
}

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let cedar = check(&src, Dialect::Cedar);
    let mandate = check(&src, Dialect::Mandate);
    if !cedar.has_errors() {
        assert!(
            !mandate.has_errors(),
            "valid Cedar rejected as Mandate: {src:?}"
        );
        assert_eq!(
            cedar.file, mandate.file,
            "Cedar and Mandate trees differ: {src:?}"
        );
    }
});
