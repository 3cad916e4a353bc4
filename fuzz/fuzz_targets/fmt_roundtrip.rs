//! R16: the formatter never changes meaning.
//!
//! For every input that parses without errors (as Cedar and as Mandate), `format_source` must
//! succeed (it re-parses its own output and refuses with MD0020 when the tree or the comments
//! differ), the output must parse to an equal tree (spans are ignored by `==`) with the same
//! comments, and formatting the output again must give the same text (idempotence).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mandate_syntax::fmt::{FormatOptions, format_source};
use mandate_syntax::{Dialect, ParseOptions, parse};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    for dialect in [Dialect::Cedar, Dialect::Mandate] {
        let opts = ParseOptions {
            dialect,
            ..ParseOptions::default()
        };
        let parsed = parse(src, opts);
        if parsed.has_errors() {
            continue;
        }
        let formatted = match format_source(src, opts, &FormatOptions::default()) {
            Ok(f) => f,
            Err(diags) => {
                panic!("format_source refused a valid {dialect:?} input {src:?}: {diags:#?}")
            }
        };
        let again = parse(&formatted, opts);
        assert!(
            !again.has_errors(),
            "formatted output does not parse: {formatted:?} {:#?}",
            again.diagnostics
        );
        assert_eq!(
            again.file, parsed.file,
            "tree changed by formatting: {formatted:?}"
        );
        let comments = |p: &mandate_syntax::Parsed| -> Vec<String> {
            p.comments
                .iter()
                .map(|c| c.text.trim_end().to_string())
                .collect()
        };
        assert_eq!(
            comments(&again),
            comments(&parsed),
            "comments changed: {formatted:?}"
        );
        let twice = match format_source(&formatted, opts, &FormatOptions::default()) {
            Ok(f) => f,
            Err(diags) => panic!("formatting the output failed: {formatted:?}: {diags:#?}"),
        };
        assert_eq!(twice, formatted, "formatting is not idempotent");
    }
});
