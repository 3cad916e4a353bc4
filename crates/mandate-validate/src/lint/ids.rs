//! Lints on policy ids: missing `@id`s in a policy directory, ids used twice across files.

use std::collections::BTreeMap;

use mandate_syntax::Span;
use mandate_syntax::ast::{Statement, StatementKind};

use super::{Ctx, declare_lint};

declare_lint! {
    /// ## What it flags
    ///
    /// A policy or quota without an `@id` annotation, when the lint run covers a policy
    /// directory (a directory, or several files, was given). A single file linted on its own
    /// is not checked.
    ///
    /// ## Why it matters
    ///
    /// Decisions name the policies that determined them, and audit trails keep those names.
    /// Without `@id`, a statement is named by its position (`policy3`, `quota1`), and the name
    /// changes whenever a statement is added, removed or moved, or a file is renamed: yesterday's
    /// audit record then points at a different policy.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// permit (
    ///   principal is Platform::Human,
    ///   action == Platform::Action::"ReadDocument",
    ///   resource is Platform::Document
    /// )
    /// when { resource.owner == principal };
    /// ```
    ///
    /// ## Use instead
    ///
    /// ```cedar
    /// @id("humans-read-their-documents")
    /// permit (
    ///   principal is Platform::Human,
    ///   action == Platform::Action::"ReadDocument",
    ///   resource is Platform::Document
    /// )
    /// when { resource.owner == principal };
    /// ```
    pub const MISSING_POLICY_ID = {
        code: "MDL004",
        name: "missing-policy-id",
        severity: Warning,
        needs_schema: false,
        summary: "a policy without `@id` in a policy directory",
    };
}

declare_lint! {
    /// ## What it flags
    ///
    /// An `@id` used by statements in two different files of the linted set. (Within one file,
    /// the parser already reports a repeated id as the error `MD0012`.)
    ///
    /// ## Why it matters
    ///
    /// Ids name policies in decisions and audit records, so they must be unique: the policy set
    /// does not load (`mandate authorize` reports `MD0012`), and a reader cannot tell which of
    /// the two policies a decision refers to. The usual cause is a policy copied into another
    /// file as a starting point.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// // access.cedar
    /// @id("read-documents")
    /// permit (principal is Platform::Human, action == Platform::Action::"ReadDocument", resource);
    ///
    /// // agents.cedar
    /// @id("read-documents")
    /// permit (principal is Platform::Agent, action == Platform::Action::"ReadDocument", resource)
    /// when { resource.owner == principal.owner };
    /// ```
    ///
    /// ## Use instead
    ///
    /// Give each policy its own id, such as `humans-read-documents` and
    /// `agents-read-their-owners-documents`.
    pub const DUPLICATE_POLICY_ID = {
        code: "MDL005",
        name: "duplicate-policy-id",
        severity: Error,
        needs_schema: false,
        summary: "an `@id` used in two files",
    };
}

pub(crate) fn check(ctx: &mut Ctx<'_>) {
    if ctx.options.policy_directory {
        let missing: Vec<(usize, &Statement)> =
            ctx.statements().filter(|(_, s)| s.positional_id).collect();
        for (file, s) in missing {
            let what = match s.kind {
                StatementKind::Policy(_) => "policy",
                StatementKind::Quota(_) => "quota",
            };
            let head = ctx.head_span(file, s);
            let d = MISSING_POLICY_ID
                .diagnostic(format!("{what} without an `@id`"))
                .with_label(head, format!("named `{}` by its position", s.id))
                .with_help(
                    "add `@id(\"…\")` with a stable, descriptive name: positional names change when statements are added, removed or moved",
                );
            ctx.emit(file, d);
        }
    }
    let mut first: BTreeMap<&str, (usize, Span)> = BTreeMap::new();
    let mut found = Vec::new();
    for (file, s) in ctx.statements() {
        if s.positional_id {
            continue;
        }
        let span = s
            .annotations
            .iter()
            .find(|a| a.key == "id")
            .map_or(s.span, |a| a.span);
        match first.get(s.id.as_str()) {
            Some(&(first_file, first_span)) if first_file != file => {
                found.push((file, span, s.id.clone(), first_file, first_span));
            }
            Some(_) => {}
            None => {
                first.insert(s.id.as_str(), (file, span));
            }
        }
    }
    for (file, span, id, first_file, first_span) in found {
        let first_name = ctx.source(first_file).map_or("", |s| s.name()).to_string();
        let d = DUPLICATE_POLICY_ID
            .diagnostic(format!("policy id `{id}` is also used in `{first_name}`"))
            .with_label(span, "used twice")
            .with_note(format!(
                "first used at `{}`",
                ctx.location(first_file, first_span)
            ))
            .with_help("give each policy its own id: the policy set cannot load with duplicates");
        ctx.emit(file, d);
    }
}
