//! Lints: checks beyond validity, aimed at governing agents. The type checker answers "can this
//! policy fail?"; the lints answer "is this policy set what its authors meant?": a permit that
//! lets anyone do anything, an agent with unlimited reach or no quota, a policy that can never
//! apply, a forbid that silently stops applying when its guard errors, a grant that has expired,
//! text that displays differently from how it parses.
//!
//! Every lint has a stable code (`MDLnnn`), a kebab-case name that describes the flagged pattern,
//! a default severity and a documentation comment with the sections `What it flags`, `Why it
//! matters`, `Example` and `Use instead`; `docs/lints.md` is generated from them ([`markdown`]).
//! [`LINTS`] lists them all.
//!
//! [`lint`] runs every lint over a set of parsed files and returns the diagnostics of each file.
//! Levels come from a [`LintConfig`] (`mandate.toml`: `allow`, `warn`, `deny`); a statement
//! annotated `@allow("MDL003")` or `@allow("unmetered-agent-action, fallible-forbid")` silences
//! those lints for diagnostics located inside it.
//!
//! Lints on the syntax tree run on files that parsed without errors only (a tree with error
//! nodes would give noise); the text lints (`bidi-control-character`) run on every file.
//!
//! This module performs no I/O and reads no clock: the caller passes the files, the schema, the
//! configuration and the current time.

mod allow;
pub mod config;
mod docs;
mod fallible;
mod ids;
mod permits;
mod redundancy;
mod scope;
mod time;
mod unicode;

use mandate_syntax::ast::Statement;
use mandate_syntax::{Diagnostic, Severity, Source, Span};

use crate::schema::Schema;

pub use config::{Level, LintConfig};
pub use docs::markdown;
pub use time::{format_datetime, parse_datetime};

/// A lint's static description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lint {
    /// Stable code, `MDLnnn`.
    pub code: &'static str,
    /// Kebab-case name describing the flagged pattern, such as `unconstrained-permit`.
    pub name: &'static str,
    /// The severity unless configured otherwise.
    pub default_severity: Severity,
    /// One line: what is flagged.
    pub summary: &'static str,
    /// Whether the lint needs a schema (it is silent without one).
    pub needs_schema: bool,
    /// The documentation (Markdown), from the lint's doc comment.
    pub doc: &'static str,
}

impl Lint {
    /// The address of this lint's section in `docs/lints.md`.
    pub fn url(&self) -> String {
        format!("{DOCS_URL}#{}", self.anchor())
    }

    /// The Markdown anchor of this lint's section (`mdl001-unconstrained-permit`).
    pub fn anchor(&self) -> String {
        format!("{}-{}", self.code.to_ascii_lowercase(), self.name)
    }

    /// The first paragraph of the `What it flags` section, on one line.
    pub fn description(&self) -> String {
        let mut lines = self.doc_lines();
        let mut out = String::new();
        let mut in_section = false;
        for line in lines.by_ref() {
            if line.starts_with("## ") {
                if in_section {
                    break;
                }
                in_section = line.trim() == "## What it flags";
                continue;
            }
            if in_section {
                if line.trim().is_empty() {
                    if out.is_empty() {
                        continue;
                    }
                    break;
                }
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(line.trim());
            }
        }
        if out.is_empty() {
            self.summary.to_string()
        } else {
            out
        }
    }

    /// The documentation lines, without the single leading space of each doc-comment line.
    pub fn doc_lines(&self) -> impl Iterator<Item = &'static str> {
        self.doc
            .lines()
            .map(|line| line.strip_prefix(' ').unwrap_or(line))
    }

    /// A diagnostic of this lint at its default severity.
    pub(crate) fn diagnostic(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: self.default_severity,
            ..Diagnostic::error(self.code, message)
        }
    }
}

/// Where the lint documentation lives.
pub const DOCS_URL: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/docs/lints.md");

/// Declares a lint constant whose `doc` is its doc comment.
macro_rules! declare_lint {
    (
        $(#[doc = $doc:literal])*
        $vis:vis const $NAME:ident = {
            code: $code:literal,
            name: $name:literal,
            severity: $severity:ident,
            needs_schema: $needs_schema:literal,
            summary: $summary:literal $(,)?
        };
    ) => {
        $(#[doc = $doc])*
        $vis const $NAME: $crate::lint::Lint = $crate::lint::Lint {
            code: $code,
            name: $name,
            default_severity: mandate_syntax::Severity::$severity,
            summary: $summary,
            needs_schema: $needs_schema,
            doc: concat!($($doc, "\n"),*),
        };
    };
}
pub(crate) use declare_lint;

/// Every lint, in code order.
pub const LINTS: &[Lint] = &[
    permits::UNCONSTRAINED_PERMIT,
    permits::AGENT_WILDCARD_PERMIT,
    permits::UNMETERED_AGENT_ACTION,
    ids::MISSING_POLICY_ID,
    ids::DUPLICATE_POLICY_ID,
    redundancy::DUPLICATE_POLICY,
    redundancy::SHADOWED_BY_FORBID,
    fallible::FALLIBLE_FORBID,
    time::EXPIRED_GRANT,
    unicode::BIDI_CONTROL_CHARACTER,
    unicode::MIXED_SCRIPT_STRING,
    allow::UNKNOWN_ALLOWED_LINT,
];

/// The lint with this code (any case, `mdl003`) or name (`unmetered-agent-action`).
pub fn find(code_or_name: &str) -> Option<&'static Lint> {
    let key = code_or_name.trim();
    LINTS
        .iter()
        .find(|l| l.code.eq_ignore_ascii_case(key) || l.name == key)
}

/// The lint with exactly this code.
pub fn by_code(code: &str) -> Option<&'static Lint> {
    LINTS.iter().find(|l| l.code == code)
}

/// One parsed policy file to lint.
#[derive(Clone, Copy, Debug)]
pub struct LintFile<'a> {
    /// Name and text; diagnostic spans point into it.
    pub source: &'a Source,
    /// The statements the parser produced.
    pub statements: &'a [Statement],
    /// Whether the file parsed without errors. Lints on the syntax tree skip files that did not.
    pub parsed_cleanly: bool,
}

/// What a lint run knows besides the files.
#[derive(Clone, Copy, Debug)]
pub struct LintOptions<'a> {
    /// The schema, for the lints that need one (and sharper answers from others).
    pub schema: Option<&'a Schema>,
    /// Levels and agent types.
    pub config: &'a LintConfig,
    /// The current time in milliseconds since the Unix epoch (UTC), for `expired-grant`;
    /// `None` turns that lint off.
    pub now_millis: Option<i64>,
    /// Whether the files form a policy directory (a directory or several files were given):
    /// turns on `missing-policy-id`.
    pub policy_directory: bool,
}

/// Runs every lint. Returns the diagnostics of each file, in the order of `files`, each list
/// sorted by position, with configured levels applied and `@allow`ed diagnostics removed.
pub fn lint(files: &[LintFile<'_>], options: &LintOptions<'_>) -> Vec<Vec<Diagnostic>> {
    let mut ctx = Ctx {
        files,
        options,
        out: vec![Vec::new(); files.len()],
    };
    permits::check(&mut ctx);
    ids::check(&mut ctx);
    redundancy::check(&mut ctx);
    fallible::check(&mut ctx);
    time::check(&mut ctx);
    unicode::check(&mut ctx);
    allow::check(&mut ctx);
    ctx.finish()
}

/// The state of one run: inputs and the diagnostics found so far, per file.
pub(crate) struct Ctx<'a> {
    pub(crate) files: &'a [LintFile<'a>],
    pub(crate) options: &'a LintOptions<'a>,
    out: Vec<Vec<Diagnostic>>,
}

impl<'a> Ctx<'a> {
    /// Records a diagnostic of `lint` in file `file`.
    pub(crate) fn emit(&mut self, file: usize, diagnostic: Diagnostic) {
        if let Some(list) = self.out.get_mut(file) {
            list.push(diagnostic);
        }
    }

    /// Every statement of every cleanly parsed file, with its file index.
    pub(crate) fn statements(&self) -> impl Iterator<Item = (usize, &'a Statement)> + use<'a> {
        let files: &'a [LintFile<'a>] = self.files;
        files
            .iter()
            .enumerate()
            .filter(|(_, f)| f.parsed_cleanly)
            .flat_map(|(i, f)| f.statements.iter().map(move |s| (i, s)))
    }

    /// The source of file `file`.
    pub(crate) fn source(&self, file: usize) -> Option<&'a Source> {
        self.files.get(file).map(|f| f.source)
    }

    /// The schema, if any.
    pub(crate) fn schema(&self) -> Option<&'a Schema> {
        self.options.schema
    }

    /// Whether `ty` (a fully qualified entity type) is an agent type: its last component is
    /// `Agent`, or the configuration lists it.
    pub(crate) fn is_agent_type(&self, ty: &str) -> bool {
        ty.rsplit("::").next() == Some("Agent")
            || self.options.config.agent_types.iter().any(|t| t == ty)
    }

    /// `file:line:column` of a span, for notes that point into another statement.
    pub(crate) fn location(&self, file: usize, span: Span) -> String {
        match self.source(file) {
            Some(src) => {
                let (line, col) = src.line_col(span.start);
                format!("{}:{line}:{col}", src.name())
            }
            None => String::new(),
        }
    }

    /// The span of a statement's keyword (`permit`, `forbid`, `quota`): a short place to point at.
    pub(crate) fn head_span(&self, file: usize, s: &Statement) -> Span {
        let Some(src) = self.source(file) else {
            return s.span;
        };
        let start = s
            .annotations
            .iter()
            .map(|a| a.span.end)
            .max()
            .unwrap_or(s.span.start)
            .max(s.span.start) as usize;
        let text = src.text();
        let mut pos = start;
        // Skip whitespace and `//` comments between the annotations and the keyword.
        loop {
            let rest = text.get(pos..).unwrap_or("");
            let trimmed = rest.trim_start();
            pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                let line_len = trimmed.find('\n').unwrap_or(trimmed.len());
                pos += line_len;
            } else {
                break;
            }
        }
        let rest = text.get(pos..).unwrap_or("");
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 || pos >= s.span.end as usize {
            return s.span;
        }
        Span::new(pos, pos + len)
    }

    /// A short description of a statement for messages: ``policy `id` `` or ``the policy at
    /// `file:line:col` `` when the id is positional.
    pub(crate) fn describe(&self, file: usize, s: &Statement) -> String {
        let what = match s.kind {
            mandate_syntax::ast::StatementKind::Policy(e) => e.as_str(),
            mandate_syntax::ast::StatementKind::Quota(_) => "quota",
        };
        if s.positional_id {
            format!(
                "the {what} at `{}`",
                self.location(file, self.head_span(file, s))
            )
        } else {
            format!("{what} `{}`", s.id)
        }
    }

    fn finish(self) -> Vec<Vec<Diagnostic>> {
        let config = self.options.config;
        let mut result = Vec::with_capacity(self.out.len());
        for (file_idx, diags) in self.out.into_iter().enumerate() {
            let allows: Vec<(Span, Vec<&'static Lint>)> = self
                .files
                .get(file_idx)
                .map(|f| {
                    f.statements
                        .iter()
                        .filter_map(|s| {
                            let list = allow::allowed_lints(s);
                            (!list.is_empty()).then_some((s.span, list))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut kept: Vec<Diagnostic> = diags
                .into_iter()
                .filter_map(|mut d| {
                    let lint = by_code(d.code)?;
                    let severity = config.severity(lint)?;
                    let primary = d.span();
                    let silenced = allows.iter().any(|(span, lints)| {
                        primary.is_some_and(|p| span.start <= p.start && p.end <= span.end)
                            && lints.iter().any(|l| l.code == lint.code)
                    });
                    if silenced {
                        return None;
                    }
                    d.severity = severity;
                    Some(d)
                })
                .collect();
            kept.sort_by_key(|d| (d.span().map_or((0, 0), |s| (s.start, s.end)), d.code));
            result.push(kept);
        }
        result
    }
}
