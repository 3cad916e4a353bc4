//! Mandate is a superset of Cedar: every text the reference parser (`cedar-policy`) accepts as a
//! policy set, Mandate's parser accepts in the Cedar dialect, with as many statements.
//!
//! Intended differences, allowed here: Mandate rejects two policies with the same `@id`
//! (MD0012), nesting deeper than `max_nesting_depth` (MD0009) and sources over
//! `max_source_bytes` (MD0010). Mandate accepting more than Cedar (for instance more than four
//! unary operators in a row) is not checked. The same comparison, done by hand on edge cases, found
//! two superset bugs: Unicode whitespace and `\r`-ended comments (test_data/ok/0041, 0042).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mandate_syntax::{Dialect, ParseOptions, parse};
use std::str::FromStr;

const INTENDED: [&str; 3] = ["MD0009", "MD0010", "MD0012"];

/// The reference parser recurses once per nesting level with large frames: about a thousand
/// nested parentheses overflow the 8 MiB main stack (a crash in `cedar-policy`, found by this
/// target in CI). It runs on a thread with a stack big enough for the longest input
/// (`-max_len=16384`); Mandate's own parser runs on the normal stack, as users call it.
const REFERENCE_STACK: usize = 1 << 30;

/// `Some(number of policies and templates)` when the reference parser accepts `src`.
fn reference_statements(src: &str) -> Option<usize> {
    let src = src.to_owned();
    std::thread::Builder::new()
        .stack_size(REFERENCE_STACK)
        .spawn(move || {
            cedar_policy::PolicySet::from_str(&src)
                .ok()
                .map(|set| set.policies().count() + set.templates().count())
        })
        .expect("spawn the reference parser's thread")
        .join()
        .expect("the reference parser panicked")
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Some(n_cedar) = reference_statements(src) else {
        return;
    };
    let ours = parse(
        src,
        ParseOptions {
            dialect: Dialect::Cedar,
            ..ParseOptions::default()
        },
    );
    let unexpected: Vec<_> = ours
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && !INTENDED.contains(&d.code))
        .collect();
    assert!(
        unexpected.is_empty(),
        "Cedar accepts but Mandate rejects {src:?}: {unexpected:#?}"
    );
    if !ours.has_errors() {
        assert_eq!(
            ours.file.statements.len(),
            n_cedar,
            "statement count differs for {src:?}"
        );
    }
});
