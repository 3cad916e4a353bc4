//! Writing to stdout and stderr. A closed pipe is not an error (`mandate … | head` exits 0).

use std::io::Write;

/// Writes text to stdout; ignores a closed pipe.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes text to stderr.
pub fn err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
}

/// Renders file diagnostics to stderr (human) and returns whether any was an error.
pub fn report(files: &[mandate::load::FileDiagnostics]) -> bool {
    let mut any_error = false;
    for f in files {
        if f.diagnostics.is_empty() {
            continue;
        }
        any_error |= f.has_errors();
        let mut text = f.render();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
        err(&text);
    }
    any_error
}
