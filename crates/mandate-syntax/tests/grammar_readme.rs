//! Every example block in `grammar/README.md` (fenced as `cedar` or `mandate`) parses cleanly in
//! its dialect, so the human-readable grammar's examples cannot drift from the real grammar.

use mandate_syntax::{Dialect, ParseOptions, Source, parse};

#[test]
fn grammar_readme_examples_parse() {
    let readme = include_str!("../../../grammar/README.md");
    let mut n_blocks = 0;
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let dialect = match line.trim() {
            "```cedar" => Dialect::Cedar,
            "```mandate" => Dialect::Mandate,
            _ => continue,
        };
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let text = block.join("\n");
        let parsed = parse(
            &text,
            ParseOptions {
                dialect,
                ..ParseOptions::default()
            },
        );
        assert!(
            !parsed.has_errors(),
            "{}",
            mandate_syntax::diagnostics::render_all(
                &parsed.diagnostics,
                Some(&Source::new("grammar/README.md", text.as_str()))
            )
        );
        n_blocks += 1;
    }
    assert!(
        n_blocks >= 2,
        "expected example blocks in grammar/README.md, found {n_blocks}"
    );
}
