//! Inline suppression: `@allow("MDL003")`, `@allow("unmetered-agent-action, fallible-forbid")`.

use mandate_syntax::ast::Statement;
use mandate_syntax::diagnostics::suggest;

use super::{Ctx, LINTS, Lint, declare_lint, find};

declare_lint! {
    /// ## What it flags
    ///
    /// An `@allow` annotation naming something that is not a lint code or name, or naming
    /// nothing (`@allow` or `@allow("")`). `@allow` takes a comma-separated list of lint codes
    /// (`MDL003`, any case) and names (`unmetered-agent-action`).
    ///
    /// ## Why it matters
    ///
    /// A misspelt `@allow` silences nothing, so the diagnostic it was meant to acknowledge keeps
    /// failing CI, or worse, the author believes a decision was recorded that was not.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// @id("status-checks")
    /// @allow("unmetered-agent-actions")
    /// permit (
    ///   principal is Platform::Agent,
    ///   action == Platform::Action::"ReadDocument",
    ///   resource == Platform::Document::"status-page"
    /// );
    /// ```
    ///
    /// ## Use instead
    ///
    /// ```cedar
    /// @id("status-checks")
    /// @allow("unmetered-agent-action")
    /// permit (
    ///   principal is Platform::Agent,
    ///   action == Platform::Action::"ReadDocument",
    ///   resource == Platform::Document::"status-page"
    /// );
    /// ```
    pub const UNKNOWN_ALLOWED_LINT = {
        code: "MDL012",
        name: "unknown-allowed-lint",
        severity: Warning,
        needs_schema: false,
        summary: "an `@allow` annotation naming no known lint",
    };
}

/// The items of an `@allow` value: comma- or whitespace-separated.
fn items(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

/// The lints a statement's `@allow` annotation names (unknown names are skipped).
pub(crate) fn allowed_lints(s: &Statement) -> Vec<&'static Lint> {
    s.annotation("allow")
        .map(|v| items(v).filter_map(find).collect())
        .unwrap_or_default()
}

pub(crate) fn check(ctx: &mut Ctx<'_>) {
    let mut found = Vec::new();
    for (file, s) in ctx.statements() {
        for a in s.annotations.iter().filter(|a| a.key == "allow") {
            let value = a.value.as_deref().unwrap_or("");
            if items(value).next().is_none() {
                found.push((
                    file,
                    a.span,
                    "`@allow` names no lint".to_string(),
                    "write the codes or names of the lints to allow, such as `@allow(\"MDL003\")`"
                        .to_string(),
                ));
            }
            for item in items(value).filter(|i| find(i).is_none()) {
                let help = match suggest(
                    item,
                    LINTS
                        .iter()
                        .map(|l| l.name)
                        .chain(LINTS.iter().map(|l| l.code)),
                ) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "see `mandate lint --list` for every lint code and name".to_string(),
                };
                found.push((file, a.span, format!("unknown lint `{item}`"), help));
            }
        }
    }
    for (file, span, message, help) in found {
        let d = UNKNOWN_ALLOWED_LINT
            .diagnostic(message)
            .with_label(span, "silences nothing")
            .with_help(help);
        ctx.emit(file, d);
    }
}
