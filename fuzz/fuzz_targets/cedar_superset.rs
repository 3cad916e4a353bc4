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

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cedar) = cedar_policy::PolicySet::from_str(src) else {
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
        let n_cedar = cedar.policies().count() + cedar.templates().count();
        assert_eq!(
            ours.file.statements.len(),
            n_cedar,
            "statement count differs for {src:?}"
        );
    }
});
