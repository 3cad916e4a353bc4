//! GitHub Actions workflow commands: one `::error` / `::warning` / `::notice` line per
//! diagnostic, which the runner shows as an annotation on the pull request's diff.
//! Format: `::error file=P,line=L,col=C,endLine=L2,endColumn=C2,title=CODE::MESSAGE`, paths
//! relative to the repository root, columns as in SARIF (code points, end exclusive).

use super::relative_path;
use mandate::Severity;
use mandate::load::FileDiagnostics;
use std::path::Path;

/// Escapes a message (GitHub's toolkit: `%`, CR, LF).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (also `:` and `,`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The workflow commands of every diagnostic.
pub fn render(files: &[FileDiagnostics], root: &Path) -> String {
    let mut out = String::new();
    for f in files {
        let file = relative_path(f.source.name(), root);
        for d in &f.diagnostics {
            let command = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            let mut props = vec![format!("file={}", escape_property(&file))];
            if let Some(span) = d.span().filter(|_| !f.source.text().is_empty()) {
                let (line, col) = f.source.line_col(span.start);
                let (end_line, end_col) = f.source.line_col(span.end);
                props.push(format!("line={line}"));
                props.push(format!("col={col}"));
                props.push(format!("endLine={end_line}"));
                props.push(format!("endColumn={end_col}"));
            }
            props.push(format!("title={}", escape_property(d.code)));
            // The lint's name leads the message: the annotation's title only has room for the code.
            let mut message = match mandate::lint::by_code(d.code) {
                Some(lint) => format!("{}: {}", lint.name, d.message),
                None => d.message.clone(),
            };
            if let Some(help) = &d.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            if let Some(note) = &d.note {
                message.push_str(&format!("\nnote: {note}"));
            }
            out.push_str(&format!(
                "::{command} {}::{}\n",
                props.join(","),
                escape_data(&message)
            ));
        }
    }
    out
}
