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

/// The summary line of `check` and `lint`: `linted 2 files: 1 error, 0 warnings` (or `: no
/// problems`), with `verb` first.
pub fn summary(verb: &str, n_files: usize, n_errors: usize, n_warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    if n_errors == 0 && n_warnings == 0 {
        format!("{verb} {}: no problems\n", plural(n_files, "file"))
    } else {
        format!(
            "{verb} {}: {}, {}\n",
            plural(n_files, "file"),
            plural(n_errors, "error"),
            plural(n_warnings, "warning")
        )
    }
}
