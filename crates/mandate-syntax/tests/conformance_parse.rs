//! Every `*.cedar` file of Cedar's conformance suite (../shared/conformance/cedar) parses without
//! error in strict Cedar mode.

#![expect(clippy::print_stdout, reason = "the test prints its summary")]

use mandate_syntax::{Dialect, ParseOptions, Source, parse};
use mandate_test_support::{Shared, files_with_suffix, shared_subdir};

#[test]
fn every_conformance_policy_file_parses() -> Result<(), String> {
    let dir = match shared_subdir("conformance/cedar")? {
        Shared::Found(d) => d,
        Shared::Skip => return Ok(()),
    };
    let files = files_with_suffix(&dir, ".cedar");
    assert!(
        files.len() > 3800,
        "expected over 3,800 policy files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    let mut n_statements = 0usize;
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let parsed = parse(
            &text,
            ParseOptions {
                dialect: Dialect::Cedar,
                ..ParseOptions::default()
            },
        );
        n_statements += parsed.file.statements.len();
        if parsed.has_errors() {
            let src = Source::new(path.display().to_string(), text.as_str());
            failures.push(mandate_syntax::diagnostics::render_all(
                &parsed.diagnostics,
                Some(&src),
            ));
        }
    }
    println!(
        "{} files, {} statements, {} failed",
        files.len(),
        n_statements,
        failures.len()
    );
    if let Some(first) = failures.first() {
        return Err(format!(
            "{} of {} files failed to parse; first:\n{first}",
            failures.len(),
            files.len()
        ));
    }
    Ok(())
}
