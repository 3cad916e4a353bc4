//! One diagnostic model for every stage (lexer, parser, validator, linter, evaluator, CLI), rendered
//! for people (a rustc-style snippet with underlines) and as JSON.
//!
//! Message style: lowercase start, no final period, one line, user input in backticks; extra
//! sentences go to `help`.

use crate::span::{Source, Span};
use std::fmt::Write as _;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Informational.
    Info,
    /// Worth a look; does not fail `check` unless configured.
    Warning,
    /// The input cannot be used.
    Error,
}

impl Severity {
    /// `error`, `warning` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// An underlined part of the source, with an optional message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Label {
    /// What is underlined.
    pub span: Span,
    /// Text shown beside the underline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A problem found in some input.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Stable code, `MD0xxx` for errors of the language, `MDLxxx` for lints.
    pub code: &'static str,
    /// How serious.
    pub severity: Severity,
    /// One-line message.
    pub message: String,
    /// Where; the first label is the primary one.
    pub labels: Vec<Label>,
    /// A hint on how to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Extra context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Diagnostic {
    /// An error with code and message and no location.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            note: None,
        }
    }
    /// A warning with code and message and no location.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }
    /// Adds a label.
    #[must_use]
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        let message = message.into();
        self.labels.push(Label {
            span,
            message: (!message.is_empty()).then_some(message),
        });
        self
    }
    /// Sets the help text.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Sets the note.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
    /// The primary span, if any.
    pub fn span(&self) -> Option<Span> {
        self.labels.first().map(|l| l.span)
    }
    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders like rustc: header, `--> file:line:col`, the source lines with underlines, help.
    pub fn render(&self, source: Option<&Source>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}[{}]: {}",
            self.severity.as_str(),
            self.code,
            self.message
        );
        if let (Some(src), Some(primary)) = (source, self.labels.first()) {
            let (line, col) = src.line_col(primary.span.start);
            let gutter = self
                .labels
                .iter()
                .map(|l| src.line_col(l.span.start).0)
                .max()
                .unwrap_or(line)
                .to_string()
                .len();
            let pad = " ".repeat(gutter);
            let _ = writeln!(out, "{pad}--> {}:{line}:{col}", src.name());
            let _ = writeln!(out, "{pad} |");
            for (idx, label) in self.labels.iter().enumerate() {
                render_label(
                    &mut out,
                    src,
                    label,
                    gutter,
                    if idx == 0 { '^' } else { '-' },
                );
            }
            let _ = writeln!(out, "{pad} |");
        } else if let Some(src) = source {
            let _ = writeln!(out, "  --> {}", src.name());
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        if let Some(note) = &self.note {
            let _ = writeln!(out, "  = note: {note}");
        }
        out
    }

    /// The JSON form: `{code, severity, message, help, note, file, labels: [{start, end, line, column, end_line, end_column, message}]}`.
    pub fn to_json(&self, source: Option<&Source>) -> serde_json::Value {
        use serde_json::{Map, Value};
        let labels: Vec<Value> = self
            .labels
            .iter()
            .map(|l| {
                let mut obj = Map::new();
                obj.insert("start".into(), l.span.start.into());
                obj.insert("end".into(), l.span.end.into());
                if let Some(src) = source {
                    let (line, column) = src.line_col(l.span.start);
                    let (end_line, end_column) = src.line_col(l.span.end);
                    obj.insert("line".into(), line.into());
                    obj.insert("column".into(), column.into());
                    obj.insert("end_line".into(), end_line.into());
                    obj.insert("end_column".into(), end_column.into());
                }
                if let Some(m) = &l.message {
                    obj.insert("message".into(), m.clone().into());
                }
                Value::Object(obj)
            })
            .collect();
        let mut obj = Map::new();
        obj.insert("code".into(), self.code.into());
        obj.insert("severity".into(), self.severity.as_str().into());
        obj.insert("message".into(), self.message.clone().into());
        if let Some(src) = source {
            obj.insert("file".into(), src.name().into());
        }
        obj.insert("labels".into(), Value::Array(labels));
        if let Some(h) = &self.help {
            obj.insert("help".into(), h.clone().into());
        }
        if let Some(n) = &self.note {
            obj.insert("note".into(), n.clone().into());
        }
        sort_keys(Value::Object(obj))
    }
}

fn render_label(out: &mut String, src: &Source, label: &Label, gutter: usize, mark: char) {
    let (line, col) = src.line_col(label.span.start);
    let (end_line, end_col) = src.line_col(label.span.end);
    let text = src.line_text(line);
    // Tabs become single spaces so the underline lines up.
    let shown: String = text
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let shown = truncate_chars(&shown, 200);
    let _ = writeln!(out, "{line:>gutter$} | {shown}");
    let line_len = text.chars().count();
    let width = if end_line == line {
        end_col.saturating_sub(col).max(1)
    } else {
        (line_len + 1).saturating_sub(col).max(1)
    };
    let width = width.min(200usize.saturating_sub(col.saturating_sub(1)).max(1));
    let underline: String = std::iter::repeat_n(mark, width).collect();
    let pad = " ".repeat(col.saturating_sub(1).min(200));
    match &label.message {
        Some(m) => {
            let _ = writeln!(out, "{:gutter$} | {pad}{underline} {m}", "");
        }
        None => {
            let _ = writeln!(out, "{:gutter$} | {pad}{underline}", "");
        }
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// Renders many diagnostics for one source, separated by blank lines.
pub fn render_all(diags: &[Diagnostic], source: Option<&Source>) -> String {
    diags
        .iter()
        .map(|d| d.render(source))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Levenshtein distance, bounded: strings longer than 64 chars are never "close".
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(65).collect();
    let b: Vec<char> = b.chars().take(65).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let del = prev.get(j + 1).copied().unwrap_or(usize::MAX - 1) + 1;
            let ins = cur.get(j).copied().unwrap_or(usize::MAX - 1) + 1;
            let sub = prev.get(j).copied().unwrap_or(usize::MAX - 1) + cost;
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = del.min(ins).min(sub);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

/// The candidate closest to `word` if it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= limit && *c != word)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `v` with the keys of every object in sorted order. `serde_json::Map` keeps insertion order when
/// another crate of the build enables serde_json's `preserve_order` feature (cargo unifies
/// features), so output that must be stable is sorted explicitly.
pub fn sort_keys(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggest_finds_close_words() {
        assert_eq!(suggest("permt", ["permit", "forbid"]), Some("permit"));
        assert_eq!(suggest("xyz", ["permit", "forbid"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn render_points_at_line_and_column() {
        let src = Source::new("p.cedar", "permit(\n  principal = User::\"a\",\n);");
        let d = Diagnostic::error("MD0001", "unexpected `=`")
            .with_label(Span::new(20, 21), "here")
            .with_help("use `==`");
        let r = d.render(Some(&src));
        assert!(r.contains("--> p.cedar:2:13"), "{r}");
        assert!(r.contains("^ here"), "{r}");
        assert!(r.contains("= help: use `==`"), "{r}");
    }
}
