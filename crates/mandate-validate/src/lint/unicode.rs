//! Trojan Source: text that displays differently from how it parses (bidirectional controls),
//! and strings whose letters come from several look-alike scripts (homoglyphs).

use mandate_syntax::Span;
use mandate_syntax::ast::{
    Access, ActionConstraint, EntityRef, EntityUid, Expr, ExprKind, Literal, PatternElem,
    ScopeConstraint, Statement, StatementKind, is_bidi_control,
};

use super::{Ctx, declare_lint};

declare_lint! {
    /// ## What it flags
    ///
    /// Any Unicode bidirectional-control character anywhere in a policy file, comments
    /// included: U+061C, U+200E, U+200F, U+202A to U+202E and U+2066 to U+2069 (marks,
    /// embeddings, overrides and isolates).
    ///
    /// ## Why it matters
    ///
    /// These invisible characters reorder how text is displayed, so a reviewer can see
    /// something other than what the parser reads (CVE-2021-42574, "Trojan Source"): a
    /// comment that seems to close before a condition, or an id that reads as another. Policy
    /// text has no need for them; an escape such as `"\u{202e}"` says the same inside a
    /// string, visibly.
    ///
    /// ## Example
    ///
    /// A policy whose comment hides the rest of the line in an editor (shown with the
    /// invisible character spelled out):
    ///
    /// ```text
    /// permit (principal, action, resource)
    /// when { context.role == "admin" /*<U+202E>} when { true */ };
    /// ```
    ///
    /// ## Use instead
    ///
    /// Delete the character, or write it as an escape (`\u{202e}`) inside a string literal.
    pub const BIDI_CONTROL_CHARACTER = {
        code: "MDL010",
        name: "bidi-control-character",
        severity: Error,
        needs_schema: false,
        summary: "a bidirectional-control character in a policy file",
    };
}

declare_lint! {
    /// ## What it flags
    ///
    /// A string whose letters come from more than one of the scripts whose letters look alike:
    /// Latin, Greek, Cyrillic, Armenian and Cherokee. Strings are string literals, entity ids
    /// (`Platform::Agent::"…"`), attribute names and annotation values. (Identifiers cannot
    /// mix scripts: Cedar identifiers are ASCII.) Letters of other scripts, digits and
    /// punctuation are not counted, so `"東京-Tokyo"` is fine. A string entirely in one script is
    /// never flagged, even if it looks like a word of another.
    ///
    /// ## Why it matters
    ///
    /// `"аdmin"` with a Cyrillic `а` (U+0430) looks exactly like `"admin"` but is a different
    /// entity id: a policy that seems to name the admin names nobody (or an attacker's
    /// look-alike account), and a review cannot tell.
    ///
    /// ## Example
    ///
    /// ```cedar
    /// // The first letter of "аdmin" is Cyrillic.
    /// @id("admins-configure-tools")
    /// permit (
    ///   principal == Platform::Human::"аdmin",
    ///   action == Platform::Action::"ConfigureTool",
    ///   resource
    /// );
    /// ```
    ///
    /// ## Use instead
    ///
    /// Retype the string in one script: `Platform::Human::"admin"`.
    pub const MIXED_SCRIPT_STRING = {
        code: "MDL011",
        name: "mixed-script-string",
        severity: Warning,
        needs_schema: false,
        summary: "a string mixing letters of look-alike scripts (homoglyphs)",
    };
}

pub(crate) fn check(ctx: &mut Ctx<'_>) {
    bidi(ctx);
    mixed_script(ctx);
}

fn bidi(ctx: &mut Ctx<'_>) {
    let files = ctx.files;
    for (file, f) in files.iter().enumerate() {
        for (pos, c) in f.source.text().char_indices() {
            if !is_bidi_control(c) {
                continue;
            }
            let span = Span::new(pos, pos + c.len_utf8());
            let d = BIDI_CONTROL_CHARACTER
                .diagnostic(format!(
                    "bidirectional-control character U+{:04X} ({})",
                    u32::from(c),
                    bidi_name(c)
                ))
                .with_label(span, "the text may display differently from how it parses")
                .with_help(format!(
                    "delete it, or write it as the escape `\\u{{{:x}}}` inside a string",
                    u32::from(c)
                ));
            ctx.emit(file, d);
        }
    }
}

fn bidi_name(c: char) -> &'static str {
    match c {
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        _ => "bidirectional control",
    }
}

/// The look-alike scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
    Armenian,
    Cherokee,
}

impl Script {
    fn name(self) -> &'static str {
        match self {
            Script::Latin => "Latin",
            Script::Greek => "Greek",
            Script::Cyrillic => "Cyrillic",
            Script::Armenian => "Armenian",
            Script::Cherokee => "Cherokee",
        }
    }
}

/// The look-alike script of a letter, by Unicode block.
fn script_of(c: char) -> Option<Script> {
    if !c.is_alphabetic() {
        return None;
    }
    let cp = u32::from(c);
    Some(match cp {
        0x41..=0x5A
        | 0x61..=0x7A
        | 0xC0..=0x24F
        | 0x1E00..=0x1EFF
        | 0x2C60..=0x2C7F
        | 0xA720..=0xA7FF
        | 0xAB30..=0xAB6F
        | 0xFF21..=0xFF3A
        | 0xFF41..=0xFF5A => Script::Latin,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x530..=0x58F | 0xFB13..=0xFB17 => Script::Armenian,
        0x13A0..=0x13FF | 0xAB70..=0xABBF => Script::Cherokee,
        _ => return None,
    })
}

fn mixed_script(ctx: &mut Ctx<'_>) {
    let mut found: Vec<(usize, Span, String)> = Vec::new();
    for (file, s) in ctx.statements() {
        let mut strings: Vec<(String, Span)> = Vec::new();
        collect_statement(s, &mut strings);
        for (text, span) in strings {
            if let Some(why) = mixes_scripts(&text) {
                found.push((file, span, format!("`{}` {why}", escape(&text))));
            }
        }
    }
    for (file, span, message) in found {
        let d = MIXED_SCRIPT_STRING
            .diagnostic(message)
            .with_label(span, "look-alike letters")
            .with_help("retype the string in one script; a look-alike id names a different entity");
        ctx.emit(file, d);
    }
}

/// `None`, or a description such as "mixes Latin and Cyrillic letters (U+0430 is Cyrillic)".
fn mixes_scripts(text: &str) -> Option<String> {
    let mut counts: Vec<(Script, usize, char)> = Vec::new();
    for c in text.chars() {
        if let Some(script) = script_of(c) {
            match counts.iter_mut().find(|(s, _, _)| *s == script) {
                Some(entry) => entry.1 += 1,
                None => counts.push((script, 1, c)),
            }
        }
    }
    if counts.len() < 2 {
        return None;
    }
    let mut names: Vec<&str> = counts.iter().map(|(s, _, _)| s.name()).collect();
    names.sort_unstable();
    // Point at the first letter of the least used script: the likely intruder.
    let (rare_script, _, rare_char) = counts.iter().min_by_key(|(_, n, _)| *n)?;
    Some(format!(
        "mixes {} letters (U+{:04X} is {})",
        super::permits::list(names.iter().map(|n| (*n).to_string())),
        u32::from(*rare_char),
        rare_script.name()
    ))
}

fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars().take(60) {
        if c.is_control() || is_bidi_control(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    if text.chars().count() > 60 {
        out.push('…');
    }
    out
}

fn collect_statement(s: &Statement, out: &mut Vec<(String, Span)>) {
    for a in &s.annotations {
        if let Some(v) = &a.value {
            out.push((v.to_string(), a.span));
        }
    }
    for c in [&s.principal, &s.resource] {
        match c {
            ScopeConstraint::Eq(EntityRef::Uid(u))
            | ScopeConstraint::In(EntityRef::Uid(u))
            | ScopeConstraint::IsIn(_, EntityRef::Uid(u)) => uid(u, out),
            _ => {}
        }
    }
    match &s.action {
        ActionConstraint::Any => {}
        ActionConstraint::Eq(u) | ActionConstraint::In(u) => uid(u, out),
        ActionConstraint::InList(list) => list.iter().for_each(|u| uid(u, out)),
    }
    for c in &s.conditions {
        expr(&c.body, out);
    }
    if let StatementKind::Quota(q) = &s.kind {
        for e in [&q.by, &q.cost].into_iter().flatten() {
            expr(e, out);
        }
    }
}

fn uid(u: &EntityUid, out: &mut Vec<(String, Span)>) {
    out.push((u.id.to_string(), u.span));
}

/// Collects the strings of an expression. Recursion is bounded by the parser's nesting limit.
fn expr(e: &Expr, out: &mut Vec<(String, Span)>) {
    match &e.kind {
        ExprKind::Lit(Literal::String(s)) => out.push((s.to_string(), e.span)),
        ExprKind::Lit(_) | ExprKind::Var(_) | ExprKind::Slot(_) | ExprKind::Error => {}
        ExprKind::Entity(u) => uid(u, out),
        ExprKind::If(a, b, c) => {
            expr(a, out);
            expr(b, out);
            expr(c, out);
        }
        ExprKind::And(items)
        | ExprKind::Or(items)
        | ExprKind::Mul(items)
        | ExprKind::Set(items) => {
            items.iter().for_each(|i| expr(i, out));
        }
        ExprKind::Call(_, items) => items.iter().for_each(|i| expr(i, out)),
        ExprKind::Not(a) | ExprKind::Neg(a) => expr(a, out),
        ExprKind::Compare(_, a, b) => {
            expr(a, out);
            expr(b, out);
        }
        ExprKind::Add(first, rest) => {
            expr(first, out);
            rest.iter().for_each(|(_, i)| expr(i, out));
        }
        ExprKind::Has(a, path) => {
            expr(a, out);
            for p in path {
                out.push((p.to_string(), e.span));
            }
        }
        ExprKind::Like(a, pattern) => {
            expr(a, out);
            let text: String = pattern
                .iter()
                .map(|p| match p {
                    PatternElem::Wildcard => '*',
                    PatternElem::Char(c) => *c,
                })
                .collect();
            out.push((text, e.span));
        }
        ExprKind::Is(a, _, b) => {
            expr(a, out);
            if let Some(b) = b {
                expr(b, out);
            }
        }
        ExprKind::Member(base, accesses) => {
            expr(base, out);
            for a in accesses {
                match a {
                    Access::Attr(name, span) => out.push((name.to_string(), *span)),
                    Access::Method(_, args, _) => args.iter().for_each(|i| expr(i, out)),
                }
            }
        }
        ExprKind::Record(fields) => {
            for (k, v) in fields {
                out.push((k.to_string(), e.span));
                expr(v, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        assert!(mixes_scripts("admin").is_none());
        assert!(mixes_scripts("東京-Tokyo").is_none());
        assert!(mixes_scripts("Москва").is_none());
        let why = mixes_scripts("\u{430}dmin");
        assert_eq!(
            why.as_deref(),
            Some("mixes Cyrillic and Latin letters (U+0430 is Cyrillic)")
        );
    }
}
