//! Data-driven parser tests, in the style of rust-analyzer's `test_data/parser/{ok,err}`.
//!
//! * `test_data/ok/*.{cedar,mandate}` must parse with no diagnostic at all.
//! * `test_data/err/*.{cedar,mandate}` must give at least one error; the rendered diagnostics
//!   are snapshot-tested (`tests/snapshots/test_data__err@<file>.snap`), so a reviewer sees the
//!   message, the underline and the help of every case.
//!
//! The dialect comes from the file extension (`Dialect::for_path`): `.cedar` is strict Cedar.
//! Update snapshots with `INSTA_UPDATE=always cargo test -p mandate-syntax --test test_data`
//! (then review the diff), or `cargo insta review`.

use mandate_syntax::diagnostics::render_all;
use mandate_syntax::{Dialect, ParseOptions, Source, parse};
use std::path::{Path, PathBuf};

fn test_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data")
}

/// The `.cedar` and `.mandate` files of `test_data/<sub>`, sorted.
fn files(sub: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(test_data_dir().join(sub))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e == "cedar" || e == "mandate")
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// `ok/0001_x.cedar`: the name diagnostics show, relative to `test_data`, with `/`.
fn display_name(path: &Path) -> String {
    path.strip_prefix(test_data_dir())
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}

fn options_for(path: &Path) -> ParseOptions {
    ParseOptions {
        dialect: Dialect::for_path(path),
        ..ParseOptions::default()
    }
}

fn render(path: &Path, text: &str) -> (mandate_syntax::Parsed, String) {
    let parsed = parse(text, options_for(path));
    let source = Source::new(display_name(path), text);
    let rendered = render_all(&parsed.diagnostics, Some(&source));
    (parsed, rendered)
}

#[test]
fn there_are_enough_cases() {
    let ok = files("ok");
    let err = files("err");
    assert!(
        ok.len() >= 25,
        "expected at least 25 ok cases, found {}",
        ok.len()
    );
    assert!(
        err.len() >= 45,
        "expected at least 45 err cases, found {}",
        err.len()
    );
    assert!(
        ok.iter()
            .any(|p| p.extension().is_some_and(|e| e == "mandate")),
        "ok/ needs .mandate cases"
    );
}

/// Every `ok/` file parses with no diagnostic (not even a warning).
#[test]
fn ok_files_parse_cleanly() {
    let mut failures = Vec::new();
    for path in files("ok") {
        let text = read(&path);
        let (parsed, rendered) = render(&path, &text);
        if !parsed.diagnostics.is_empty() {
            failures.push(format!("{}:\n{rendered}", display_name(&path)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} ok file(s) gave diagnostics:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every `err/` file gives at least one error, and its rendered diagnostics match the snapshot.
#[test]
fn err() {
    insta::glob!("../test_data", "err/*.{cedar,mandate}", |path| {
        let text = read(path);
        let (parsed, rendered) = render(path, &text);
        assert!(
            parsed.has_errors(),
            "{} parsed without errors; move it to ok/ or fix the parser",
            display_name(path)
        );
        insta::assert_snapshot!(rendered);
    });
}

/// The JSON form of a few error cases (the shape `mandate check --format json` emits).
#[test]
fn err_json() {
    for name in [
        "err/0003_missing_semicolon_between_policies.cedar",
        "err/0006_unknown_variable.cedar",
        "err/0033_duplicate_policy_id.cedar",
        "err/0052_smart_quotes.cedar",
        "err/0054_several_broken_policies.cedar",
    ] {
        let path = test_data_dir().join(name);
        let text = read(&path);
        let parsed = parse(&text, options_for(&path));
        let source = Source::new(display_name(&path), text.as_str());
        let json: Vec<serde_json::Value> = parsed
            .diagnostics
            .iter()
            .map(|d| d.to_json(Some(&source)))
            .collect();
        let pretty = serde_json::to_string_pretty(&json).unwrap_or_default();
        let snap = name.replace('/', "@");
        insta::assert_snapshot!(format!("json@{snap}"), pretty);
    }
}

/// Every diagnostic of every `err/` file points inside the source, on character boundaries, and
/// errors come first in source order (the parser sorts them).
#[test]
fn err_spans_are_in_bounds_and_sorted() {
    for path in files("err") {
        let text = read(&path);
        let parsed = parse(&text, options_for(&path));
        let mut last = 0u32;
        for d in &parsed.diagnostics {
            for l in &d.labels {
                let (s, e) = (l.span.start as usize, l.span.end as usize);
                assert!(
                    s <= e
                        && e <= text.len()
                        && text.is_char_boundary(s)
                        && text.is_char_boundary(e),
                    "{}: label {s}..{e} of `{}` is outside the source or splits a character",
                    display_name(&path),
                    d.message
                );
            }
            if let Some(span) = d.span() {
                assert!(
                    span.start >= last,
                    "{}: diagnostics not sorted",
                    display_name(&path)
                );
                last = span.start;
            }
        }
    }
}

/// Files in `ok/` keep parsing the same with a `.mandate` extension (Mandate is a superset).
#[test]
fn cedar_ok_files_are_valid_mandate() {
    for path in files("ok") {
        if path.extension().is_some_and(|e| e == "cedar") {
            let text = read(&path);
            let cedar = parse(&text, options_for(&path));
            let mandate = parse(
                &text,
                ParseOptions {
                    dialect: Dialect::Mandate,
                    ..ParseOptions::default()
                },
            );
            assert!(mandate.diagnostics.is_empty(), "{}", display_name(&path));
            assert_eq!(cedar.file, mandate.file, "{}", display_name(&path));
        }
    }
}

/// RELIABILITY R16 on this corpus: every `ok/` file formats, the output parses to an equal tree,
/// and formatting is idempotent.
#[test]
fn ok_files_format_and_round_trip() {
    use mandate_syntax::fmt::{FormatOptions, format_source};
    let mut failures = Vec::new();
    for path in files("ok") {
        let text = read(&path);
        let opts = options_for(&path);
        let once = match format_source(&text, opts, &FormatOptions::default()) {
            Ok(f) => f,
            Err(d) => {
                let source = Source::new(display_name(&path), text.as_str());
                failures.push(format!(
                    "{}: format_source failed:\n{}",
                    display_name(&path),
                    render_all(&d, Some(&source))
                ));
                continue;
            }
        };
        if parse(&once, opts).file != parse(&text, opts).file {
            failures.push(format!("{}: the tree changed", display_name(&path)));
        }
        match format_source(&once, opts, &FormatOptions::default()) {
            Ok(twice) if twice == once => {}
            Ok(_) => failures.push(format!("{}: not idempotent", display_name(&path))),
            Err(_) => failures.push(format!("{}: output does not format", display_name(&path))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
