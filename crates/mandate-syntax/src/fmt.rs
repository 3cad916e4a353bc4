//! The formatter: prints ASTs in Mandate's canonical layout (close to `cedar format`) and rewrites
//! whole source files with their comments preserved.
//!
//! Design:
//! - Printing appends layout commands to a flat list (`Cmd`): text, soft line breaks, groups and
//!   indentation. A group is printed on one line when it fits in the width, else its line breaks
//!   are all taken (the Wadler/Prettier model). The list is flat, so neither building nor
//!   dropping it recurses; only the walk over the AST does, bounded by the parser's nesting limit.
//! - Parentheses are printed exactly where Cedar's precedence needs them
//!   (`if` < `||` < `&&` < relations, `has`, `like`, `is` < `+ -` < `*` < unary `! -` < member
//!   access < primary), so re-parsing the output gives an equal tree.
//! - Comments: each comment of the source is attached to the first printed token whose node
//!   (expression, access, scope element, clause keyword, record key, closing bracket) starts after
//!   it, and printed just before that token. A comment that followed code on its line stays at
//!   the end of the previous line; one that stood on its own line gets its own line. Comments
//!   between statements stay between them, with blank lines around them kept (at most one).
//! - `format_source` re-parses its output and refuses (`MD0020`) when the tree or the comments
//!   differ from the input's.

use crate::ast::{
    Access, ActionConstraint, AddOp, Annotation, Condition, EntityRef, EntityUid, Expr, ExprKind,
    Literal, PatternElem, QuotaSpec, ScopeConstraint, Statement, StatementKind, escape_str,
    is_ident,
};
use crate::diagnostics::Diagnostic;
use crate::lexer::{Tok, lex};
use crate::parser::{ParseOptions, Parsed, parse};
use crate::span::Span;
use std::borrow::Cow;

/// Layout options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatOptions {
    /// Preferred maximum line width, in characters (default 80). Long atoms (strings, names) may
    /// still exceed it.
    pub line_width: usize,
    /// Spaces per indentation level (default 2).
    pub indent: usize,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            line_width: 80,
            indent: 2,
        }
    }
}

/// Formats a whole source file.
///
/// # Errors
/// The parse diagnostics when the input has parse errors; otherwise an `MD0020` diagnostic when
/// the re-parse of the output differs from the input's tree (span-insensitive) or loses a comment.
pub fn format_source(
    src: &str,
    parse_options: ParseOptions,
    options: &FormatOptions,
) -> Result<String, Vec<Diagnostic>> {
    let parsed = parse(src, parse_options);
    if parsed.has_errors() {
        return Err(parsed.diagnostics);
    }
    let out = format_parsed(src, &parsed, options);
    let again = parse(&out, parse_options);
    if again.has_errors() || again.file != parsed.file {
        return Err(vec![refusal(&parsed, &again)]);
    }
    let texts = |p: &Parsed| -> Vec<String> {
        p.comments
            .iter()
            .map(|c| c.text.trim_end().to_string())
            .collect()
    };
    if texts(&parsed) != texts(&again) {
        return Err(vec![
            Diagnostic::error(
                "MD0020",
                "formatting would lose or reorder comments; please file an issue",
            )
            .with_label(Span::new(0, 0), ""),
        ]);
    }
    Ok(out)
}

/// Prints one expression in canonical form, on one line (used by messages, explain, and
/// `Display`).
pub fn expr_to_string(e: &Expr) -> String {
    let mut b = Builder::new(Vec::new(), None);
    b.expr(e, true);
    render(&b.cmds, &FormatOptions::default(), true)
}

/// Prints one statement in the canonical layout, without comments and without a final newline.
pub fn statement_to_string(s: &Statement, options: &FormatOptions) -> String {
    let mut b = Builder::new(Vec::new(), None);
    b.statement(s, &StmtAnchors::default());
    render(&b.cmds, options, false)
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&expr_to_string(self))
    }
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&statement_to_string(self, &FormatOptions::default()))
    }
}

/// The `MD0020` refusal, pointing at the first statement that would change.
fn refusal(before: &Parsed, after: &Parsed) -> Diagnostic {
    let mut d = Diagnostic::error(
        "MD0020",
        "formatting would change the meaning of the policies; please file an issue",
    );
    let old = &before.file.statements;
    let new = &after.file.statements;
    let first_diff = old
        .iter()
        .zip(new.iter())
        .position(|(a, b)| a != b)
        .or_else(|| (old.len() != new.len()).then_some(old.len().min(new.len())));
    if let Some(stmt) = first_diff.and_then(|i| old.get(i).or(old.last())) {
        d = d.with_label(stmt.span, "this statement would be printed differently");
    } else {
        d = d.with_label(Span::new(0, 0), "");
    }
    if let Some(first) = after.diagnostics.iter().find(|x| x.is_error()) {
        d = d.with_note(format!(
            "the formatted text does not parse: {}",
            first.message
        ));
    }
    d.with_help("the file was left unchanged")
}

/// Formats a parsed, error-free file (comments from `parsed`, token positions from `src`).
fn format_parsed(src: &str, parsed: &Parsed, options: &FormatOptions) -> String {
    let comments = parsed
        .comments
        .iter()
        .map(|c| {
            let start = c.span.start as usize;
            let (trailing, blank_before) = classify(src, start);
            CommentInfo {
                text: c.text.trim_end().to_string(),
                start: c.span.start,
                trailing,
                blank_before,
            }
        })
        .collect();
    let tokens = lex(src).tokens;
    let mut b = Builder::new(comments, Some(&tokens));
    b.file(src, &parsed.file.statements);
    let mut out = render(&b.cmds, options, false);
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Whether the text at `start` follows code on its line, and whether a blank line precedes it.
fn classify(src: &str, start: usize) -> (bool, bool) {
    let mut newlines = 0;
    for ch in src.get(..start).unwrap_or("").chars().rev() {
        if ch == '\n' {
            newlines += 1;
        } else if !ch.is_whitespace() {
            return (newlines == 0, newlines >= 2);
        }
    }
    (false, false)
}

// ---------------------------------------------------------------------------------------------
// Layout commands and the renderer

/// One layout command.
#[derive(Debug)]
enum Cmd {
    /// Text without line breaks, with its width in characters.
    Text(Cow<'static, str>, usize),
    /// A space, or a line break when the enclosing group is broken.
    Line,
    /// Nothing, or a line break when the enclosing group is broken.
    SoftLine,
    /// Always a line break (breaks every enclosing group).
    HardLine,
    /// A `//` comment (breaks every enclosing group; the next token goes on a new line).
    Comment { text: String, trailing: bool },
    /// Start of a group: all its line breaks are taken, or none.
    GroupStart,
    /// End of a group.
    GroupEnd,
    /// Line breaks up to the matching `NestEnd` indent one more level.
    NestStart,
    /// End of a `NestStart`.
    NestEnd,
}

/// Renders layout commands. With `flat_only`, every group is printed on one line.
fn render(cmds: &[Cmd], options: &FormatOptions, flat_only: bool) -> String {
    let mut r = Renderer {
        width: options.line_width,
        out: String::new(),
        col: 0,
        line_start: 0,
        pending: None,
        last_comment_end: None,
    };
    let mut flat: Vec<bool> = Vec::new();
    let mut indents: Vec<usize> = Vec::new();
    for (i, cmd) in cmds.iter().enumerate() {
        let indent = indents.last().copied().unwrap_or(0);
        let in_flat = flat_only || flat.last().copied().unwrap_or(false);
        match cmd {
            Cmd::Text(s, w) => r.text(s, *w),
            Cmd::Line | Cmd::SoftLine if in_flat && r.pending.is_none() => {
                if matches!(cmd, Cmd::Line) {
                    r.out.push(' ');
                    r.col += 1;
                }
            }
            Cmd::Line | Cmd::SoftLine | Cmd::HardLine => {
                r.pending = None;
                r.newline(indent);
            }
            Cmd::Comment { text, trailing } => r.comment(text, *trailing, indent),
            Cmd::GroupStart => {
                let f = in_flat || r.fits(cmds, i);
                flat.push(f);
            }
            Cmd::GroupEnd => {
                flat.pop();
            }
            Cmd::NestStart => indents.push(indent + options.indent),
            Cmd::NestEnd => {
                indents.pop();
            }
        }
    }
    let len = r.out.trim_end().len();
    r.out.truncate(len);
    r.out
}

struct Renderer {
    width: usize,
    out: String,
    /// Width of the current line so far.
    col: usize,
    /// Byte offset where the current line starts.
    line_start: usize,
    /// After a comment: the next token must start a new line, indented this much.
    pending: Option<usize>,
    /// Byte offset just after the last comment written.
    last_comment_end: Option<usize>,
}

impl Renderer {
    fn text(&mut self, s: &str, w: usize) {
        if let Some(p) = self.pending.take() {
            self.newline(p);
        }
        self.out.push_str(s);
        self.col += w;
    }

    fn trim_end(&mut self) {
        let len = self.out.trim_end_matches(' ').len();
        self.out.truncate(len);
    }

    fn newline(&mut self, indent: usize) {
        self.trim_end();
        self.out.push('\n');
        self.line_start = self.out.len();
        self.out.extend(std::iter::repeat_n(' ', indent));
        self.col = indent;
    }

    fn current_line_blank(&self) -> bool {
        self.out
            .get(self.line_start..)
            .is_none_or(|s| s.bytes().all(|b| b == b' '))
    }

    fn write_comment(&mut self, text: &str) {
        self.out.push_str(text);
        self.last_comment_end = Some(self.out.len());
    }

    /// Moves back to the end of the previous line (when it holds code and no comment), returning
    /// the indentation of the line given up.
    fn back_to_previous_line(&mut self) -> Option<usize> {
        let newline_at = self.line_start.checked_sub(1)?;
        let indent = self.out.len().saturating_sub(self.line_start);
        let prev = self.out.get(..newline_at)?;
        let end = prev.trim_end_matches(' ').len();
        let prev_start = prev.get(..end)?.rfind('\n').map_or(0, |i| i + 1);
        if end == prev_start || self.last_comment_end == Some(end) {
            return None;
        }
        self.out.truncate(end);
        self.line_start = prev_start;
        Some(indent)
    }

    fn comment(&mut self, text: &str, trailing: bool, indent: usize) {
        if let Some(p) = self.pending {
            self.newline(p);
            self.write_comment(text);
            self.pending = Some(p);
            return;
        }
        let blank = self.current_line_blank();
        if trailing {
            if !blank {
                self.trim_end();
                self.out.push(' ');
                self.write_comment(text);
                self.pending = Some(indent);
                return;
            }
            if let Some(line_indent) = self.back_to_previous_line() {
                self.out.push(' ');
                self.write_comment(text);
                self.pending = Some(line_indent);
                return;
            }
        }
        if !blank {
            self.newline(indent);
        }
        let line_indent = self.out.len().saturating_sub(self.line_start);
        self.write_comment(text);
        self.pending = Some(line_indent);
    }

    /// Whether the group starting at `start` fits on the rest of the line, together with what
    /// follows it up to the next possible line break.
    fn fits(&self, cmds: &[Cmd], start: usize) -> bool {
        let used = self.pending.unwrap_or(self.col);
        let Some(mut rem) = self.width.checked_sub(used) else {
            return false;
        };
        let mut depth = 0usize;
        let mut after = false;
        for cmd in cmds.iter().skip(start) {
            match cmd {
                Cmd::GroupStart if !after => depth += 1,
                Cmd::GroupEnd if !after => {
                    depth = depth.saturating_sub(1);
                    after = depth == 0;
                }
                Cmd::Text(_, w) => match rem.checked_sub(*w) {
                    Some(r) => rem = r,
                    None => return false,
                },
                Cmd::Line | Cmd::SoftLine if after => return true,
                Cmd::Line => match rem.checked_sub(1) {
                    Some(r) => rem = r,
                    None => return false,
                },
                Cmd::HardLine | Cmd::Comment { .. } => return after,
                Cmd::SoftLine | Cmd::GroupStart | Cmd::GroupEnd | Cmd::NestStart | Cmd::NestEnd => {
                }
            }
        }
        true
    }
}

// ---------------------------------------------------------------------------------------------
// From the AST to layout commands

/// A comment of the source, classified.
struct CommentInfo {
    text: String,
    start: u32,
    /// Code precedes it on its line.
    trailing: bool,
    /// A blank line precedes it.
    blank_before: bool,
}

/// Positions of statement parts that the AST does not record, found in the token list.
#[derive(Default)]
struct StmtAnchors {
    head: Option<u32>,
    scope: [Option<u32>; 3],
    close: Option<u32>,
    limit: Option<u32>,
    by: Option<u32>,
    cost: Option<u32>,
}

type Token<'s> = (usize, Tok<'s>, usize);

// Precedence levels, loosest first.
const IF: u8 = 0;
const OR: u8 = 1;
const AND: u8 = 2;
const REL: u8 = 3;
const ADD: u8 = 4;
const MUL: u8 = 5;
const UNARY: u8 = 6;
const MEMBER: u8 = 7;
const PRIMARY: u8 = 8;

/// How tightly an expression binds when printed.
fn level(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::If(..) => IF,
        ExprKind::Or(_) => OR,
        ExprKind::And(_) => AND,
        ExprKind::Compare(..) | ExprKind::Has(..) | ExprKind::Like(..) | ExprKind::Is(..) => REL,
        ExprKind::Add(..) => ADD,
        ExprKind::Mul(_) => MUL,
        ExprKind::Not(_) | ExprKind::Neg(_) => UNARY,
        ExprKind::Lit(Literal::Long(n)) if *n < 0 => UNARY,
        ExprKind::Member(..) => MEMBER,
        _ => PRIMARY,
    }
}

struct Builder<'t, 's> {
    cmds: Vec<Cmd>,
    comments: Vec<CommentInfo>,
    /// Index of the first comment not yet printed.
    next: usize,
    /// Greatest source position of a node reached so far: comments before it are due.
    anchor: u32,
    tokens: Option<&'t [Token<'s>]>,
}

impl<'t, 's> Builder<'t, 's> {
    fn new(comments: Vec<CommentInfo>, tokens: Option<&'t [Token<'s>]>) -> Self {
        Builder {
            cmds: Vec::new(),
            comments,
            next: 0,
            anchor: 0,
            tokens,
        }
    }

    // --- primitives

    fn text(&mut self, s: impl Into<Cow<'static, str>>) {
        self.flush();
        let s = s.into();
        let w = s.chars().count();
        self.cmds.push(Cmd::Text(s, w));
    }

    fn line(&mut self) {
        self.cmds.push(Cmd::Line);
    }

    fn softline(&mut self) {
        self.cmds.push(Cmd::SoftLine);
    }

    fn hardline(&mut self) {
        self.cmds.push(Cmd::HardLine);
    }

    fn group_start(&mut self) {
        self.cmds.push(Cmd::GroupStart);
    }

    fn group_end(&mut self) {
        self.cmds.push(Cmd::GroupEnd);
    }

    fn nest_start(&mut self) {
        self.cmds.push(Cmd::NestStart);
    }

    fn nest_end(&mut self) {
        self.cmds.push(Cmd::NestEnd);
    }

    /// Notes that the node about to be printed starts at `pos` in the source.
    fn anchor(&mut self, pos: u32) {
        self.anchor = self.anchor.max(pos);
    }

    /// Prints the comments that come before the last anchor.
    fn flush(&mut self) {
        while let Some(c) = self.comments.get(self.next)
            && c.start < self.anchor
        {
            self.cmds.push(Cmd::Comment {
                text: c.text.clone(),
                trailing: c.trailing,
            });
            self.next += 1;
        }
    }

    /// Whether a comment not yet printed starts before `pos`.
    fn comment_before(&self, pos: u32) -> bool {
        self.comments.get(self.next).is_some_and(|c| c.start < pos)
    }

    /// Prints the comment at `self.next` as a top-level comment.
    fn top_comment(&mut self, trailing: bool) {
        if let Some(c) = self.comments.get(self.next) {
            self.cmds.push(Cmd::Comment {
                text: c.text.clone(),
                trailing,
            });
            self.next += 1;
        }
    }

    // --- file and statements

    fn file(&mut self, src: &str, statements: &[Statement]) {
        #[derive(PartialEq)]
        enum Prev {
            Nothing,
            Statement,
            Comment,
        }
        let mut prev = Prev::Nothing;
        for stmt in statements {
            // Comments between the previous statement (or the start) and this one.
            while let Some(c) = self.comments.get(self.next)
                && c.start < stmt.span.start
            {
                let (trailing, blank) = (c.trailing, c.blank_before);
                if trailing && prev == Prev::Statement {
                    self.top_comment(true);
                    continue;
                }
                match prev {
                    Prev::Nothing => {}
                    Prev::Statement => {
                        self.hardline();
                        self.hardline();
                    }
                    Prev::Comment => {
                        self.hardline();
                        if blank {
                            self.hardline();
                        }
                    }
                }
                self.top_comment(false);
                prev = Prev::Comment;
            }
            match prev {
                Prev::Nothing => {}
                Prev::Statement => {
                    self.hardline();
                    self.hardline();
                }
                Prev::Comment => {
                    self.hardline();
                    if classify(src, stmt.span.start as usize).1 {
                        self.hardline();
                    }
                }
            }
            let anchors = self.stmt_anchors(stmt);
            self.anchor = stmt.span.start;
            self.statement(stmt, &anchors);
            prev = Prev::Statement;
        }
        while let Some(c) = self.comments.get(self.next) {
            let (trailing, blank) = (c.trailing, c.blank_before);
            if trailing && prev == Prev::Statement {
                self.top_comment(true);
                continue;
            }
            if prev != Prev::Nothing {
                self.hardline();
                if blank {
                    self.hardline();
                }
            }
            self.top_comment(false);
            prev = Prev::Comment;
        }
    }

    fn statement(&mut self, s: &Statement, anchors: &StmtAnchors) {
        for a in &s.annotations {
            self.anchor(a.span.start);
            self.text(annotation_text(a));
            self.hardline();
        }
        if let Some(p) = anchors.head {
            self.anchor(p);
        }
        let head = match &s.kind {
            StatementKind::Policy(e) => e.as_str(),
            StatementKind::Quota(_) => "quota",
        };
        self.group_start();
        self.text(head);
        self.text(" (");
        self.nest_start();
        self.softline();
        let [p_pos, a_pos, r_pos] = anchors.scope;
        self.entity_scope("principal", &s.principal, p_pos);
        self.text(",");
        self.line();
        self.action_scope(&s.action, a_pos);
        self.text(",");
        self.line();
        self.entity_scope("resource", &s.resource, r_pos);
        if let Some(p) = anchors.close {
            self.anchor(p);
            self.flush();
        }
        self.nest_end();
        self.softline();
        self.text(")");
        self.group_end();
        let is_quota = matches!(s.kind, StatementKind::Quota(_));
        if is_quota {
            self.nest_start();
        }
        if let StatementKind::Quota(q) = &s.kind {
            self.quota_clauses(q, anchors);
        }
        for c in &s.conditions {
            self.hardline();
            self.condition(c);
        }
        if is_quota {
            self.nest_end();
        }
        self.anchor(s.span.end);
        self.text(";");
    }

    fn quota_clauses(&mut self, q: &QuotaSpec, anchors: &StmtAnchors) {
        self.hardline();
        if let Some(p) = anchors.limit {
            self.anchor(p);
        }
        self.text(format!("limit {} per {}", q.limit, q.per.text));
        for (kw, e, pos) in [("by ", &q.by, anchors.by), ("cost ", &q.cost, anchors.cost)] {
            if let Some(e) = e {
                self.hardline();
                if let Some(p) = pos {
                    self.anchor(p);
                }
                self.text(kw);
                self.nest_start();
                self.expr(e, true);
                self.nest_end();
            }
        }
    }

    fn condition(&mut self, c: &Condition) {
        self.anchor(c.span.start);
        self.group_start();
        self.text(c.kind.as_str());
        self.text(" {");
        self.nest_start();
        self.line();
        self.expr(&c.body, true);
        self.anchor(c.span.end);
        self.flush();
        self.nest_end();
        self.line();
        self.text("}");
        self.group_end();
    }

    fn entity_scope(&mut self, var: &'static str, c: &ScopeConstraint, pos: Option<u32>) {
        if let Some(p) = pos {
            self.anchor(p);
        }
        self.text(var);
        match c {
            ScopeConstraint::Any => {}
            ScopeConstraint::Eq(r) => {
                self.text(" == ");
                self.entity_ref(r);
            }
            ScopeConstraint::In(r) => {
                self.text(" in ");
                self.entity_ref(r);
            }
            ScopeConstraint::Is(n) => {
                self.text(" is ");
                self.anchor(n.span.start);
                self.text(n.full.to_string());
            }
            ScopeConstraint::IsIn(n, r) => {
                self.text(" is ");
                self.anchor(n.span.start);
                self.text(n.full.to_string());
                self.text(" in ");
                self.entity_ref(r);
            }
        }
    }

    fn entity_ref(&mut self, r: &EntityRef) {
        match r {
            EntityRef::Uid(u) => self.uid(u),
            EntityRef::Slot(s, span) => {
                self.anchor(span.start);
                self.text(s.as_str());
            }
        }
    }

    fn uid(&mut self, u: &EntityUid) {
        self.anchor(u.span.start);
        self.text(u.to_string());
    }

    fn action_scope(&mut self, c: &ActionConstraint, pos: Option<u32>) {
        if let Some(p) = pos {
            self.anchor(p);
        }
        self.text("action");
        match c {
            ActionConstraint::Any => {}
            ActionConstraint::Eq(u) => {
                self.text(" == ");
                self.uid(u);
            }
            ActionConstraint::In(u) => {
                self.text(" in ");
                self.uid(u);
            }
            ActionConstraint::InList(us) => {
                self.text(" in ");
                if us.is_empty() {
                    self.text("[]");
                    return;
                }
                self.group_start();
                self.text("[");
                self.nest_start();
                self.softline();
                for (i, u) in us.iter().enumerate() {
                    if i > 0 {
                        self.text(",");
                        self.line();
                    }
                    self.uid(u);
                }
                self.nest_end();
                self.softline();
                self.text("]");
                self.group_end();
            }
        }
    }

    // --- expressions

    /// Prints `e`. `block` says it stands alone (a clause body, an argument, an element, inside
    /// parentheses), so continuation lines of `&&`/`||` chains need no extra indentation.
    fn expr(&mut self, e: &Expr, block: bool) {
        self.anchor(e.span.start);
        match &e.kind {
            ExprKind::Lit(l) => self.text(literal_text(l)),
            ExprKind::Var(v) => self.text(v.as_str()),
            ExprKind::Slot(s) => self.text(s.as_str()),
            ExprKind::Entity(u) => self.text(u.to_string()),
            ExprKind::If(c, t, f) => self.if_then_else(c, t, f),
            ExprKind::Or(es) => self.chain(es, " ||", AND, !block),
            ExprKind::And(es) => self.chain(es, " &&", REL, !block),
            ExprKind::Mul(es) => self.chain(es, " *", UNARY, true),
            ExprKind::Add(first, rest) => self.add(first, rest),
            ExprKind::Not(x) => {
                self.text("!");
                // Cedar accepts no `!-x` and at most four `!` in a row.
                if unary_run(x, false) > 0 || unary_run(x, true) >= MAX_UNARY_RUN {
                    self.parens(x);
                } else {
                    self.child(x, UNARY);
                }
            }
            ExprKind::Neg(x) => self.neg(x),
            ExprKind::Compare(op, a, b) => self.compare(a, op.as_str(), b),
            ExprKind::Has(x, path) => {
                self.child(x, ADD);
                self.text(" has ");
                self.text(has_path_text(path));
            }
            ExprKind::Like(x, pattern) => {
                self.child(x, ADD);
                self.text(" like ");
                self.text(pattern_text(pattern));
            }
            ExprKind::Is(x, name, other) => {
                self.child(x, ADD);
                self.text(" is ");
                self.anchor(name.span.start);
                self.text(name.full.to_string());
                if let Some(o) = other {
                    self.text(" in ");
                    self.child(o, ADD);
                }
            }
            ExprKind::Member(base, accesses) => self.member(base, accesses),
            ExprKind::Call(name, args) => {
                self.text(name.full.to_string());
                self.list("(", args, ")", e.span.end);
            }
            ExprKind::Set(es) => self.list("[", es, "]", e.span.end),
            ExprKind::Record(fields) => self.record(fields, e.span.end),
            ExprKind::Error => self.text("<error>"),
        }
    }

    /// Prints `e` as an operand that must bind at least as tightly as `min`.
    fn child(&mut self, e: &Expr, min: u8) {
        if level(e) < min {
            self.parens(e);
        } else {
            self.expr(e, false);
        }
    }

    fn parens(&mut self, e: &Expr) {
        self.group_start();
        self.text("(");
        self.nest_start();
        self.softline();
        self.expr(e, true);
        self.nest_end();
        self.softline();
        self.text(")");
        self.group_end();
    }

    fn neg(&mut self, x: &Expr) {
        self.text("-");
        // `-5` would parse as the literal -5; `-(5)` keeps the negation. Cedar accepts no `-!x`
        // and at most four `-` in a row (a negative literal's sign counts).
        if matches!(x.kind, ExprKind::Lit(Literal::Long(n)) if n >= 0)
            || unary_run(x, true) > 0
            || unary_run(x, false) >= MAX_UNARY_RUN
        {
            self.parens(x);
        } else {
            self.child(x, UNARY);
        }
    }

    fn chain(&mut self, es: &[Expr], op: &'static str, min: u8, indent_rest: bool) {
        self.group_start();
        let mut it = es.iter();
        if let Some(first) = it.next() {
            self.child(first, min);
        }
        if indent_rest {
            self.nest_start();
        }
        for e in it {
            self.text(op);
            self.line();
            self.child(e, min);
        }
        if indent_rest {
            self.nest_end();
        }
        self.group_end();
    }

    fn add(&mut self, first: &Expr, rest: &[(AddOp, Expr)]) {
        self.group_start();
        self.child(first, MUL);
        self.nest_start();
        for (op, e) in rest {
            self.text(match op {
                AddOp::Add => " +",
                AddOp::Sub => " -",
            });
            self.line();
            self.child(e, MUL);
        }
        self.nest_end();
        self.group_end();
    }

    fn compare(&mut self, a: &Expr, op: &'static str, b: &Expr) {
        self.group_start();
        self.child(a, ADD);
        self.text(" ");
        self.text(op);
        if is_nonempty_collection(b) {
            // A bracketed right-hand side breaks inside its brackets: `x == {` … `}`.
            self.text(" ");
            self.child(b, ADD);
        } else {
            self.nest_start();
            self.line();
            self.child(b, ADD);
            self.nest_end();
        }
        self.group_end();
    }

    /// `if c then t else f`, on one line or as three lines. The branches are not indented, so a
    /// bracketed branch closes at the level of its keyword; chains in them indent themselves.
    fn if_then_else(&mut self, c: &Expr, t: &Expr, f: &Expr) {
        self.group_start();
        self.text("if ");
        self.expr(c, false);
        self.line();
        self.text("then ");
        self.expr(t, false);
        self.line();
        self.text("else ");
        self.expr(f, false);
        self.group_end();
    }

    fn member(&mut self, base: &Expr, accesses: &[Access]) {
        self.child(base, PRIMARY);
        for a in accesses {
            match a {
                Access::Attr(name, span) => {
                    self.anchor(span.start);
                    if is_ident(name) {
                        self.text(format!(".{name}"));
                    } else {
                        self.text(format!("[\"{}\"]", escape_str(name)));
                    }
                }
                Access::Method(name, args, span) => {
                    self.anchor(span.start);
                    self.text(format!(".{name}"));
                    self.list("(", args, ")", span.end);
                }
            }
        }
    }

    /// `open a, b, … close`, one item per line when it does not fit; `end` is where the list
    /// ends in the source (comments before it are printed before `close`).
    fn list(&mut self, open: &'static str, items: &[Expr], close: &'static str, end: u32) {
        if items.is_empty() && !self.comment_before(end) {
            self.text(open);
            self.text(close);
            return;
        }
        if let [only] = items
            && open == "("
            && is_nonempty_collection(only)
            && !self.comment_before(end)
        {
            // A lone set or record argument hugs the parentheses: `f([` … `])`.
            self.text(open);
            self.expr(only, true);
            self.text(close);
            return;
        }
        self.group_start();
        self.text(open);
        self.nest_start();
        self.softline();
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                self.text(",");
                self.line();
            }
            self.expr(e, true);
        }
        self.anchor(end);
        self.flush();
        self.nest_end();
        self.softline();
        self.text(close);
        self.group_end();
    }

    fn record(&mut self, fields: &[(smol_str::SmolStr, Expr)], end: u32) {
        if fields.is_empty() && !self.comment_before(end) {
            self.text("{}");
            return;
        }
        self.group_start();
        self.text("{");
        self.nest_start();
        self.softline();
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                self.text(",");
                self.line();
            }
            if let Some(p) = self.record_key_pos(value.span.start) {
                self.anchor(p);
            }
            self.text(key_text(key));
            self.text(": ");
            self.expr(value, true);
        }
        self.anchor(end);
        self.flush();
        self.nest_end();
        self.softline();
        self.text("}");
        self.group_end();
    }

    // --- positions from the token list

    fn token_index(&self, pos: u32) -> Option<usize> {
        let toks = self.tokens?;
        toks.binary_search_by_key(&(pos as usize), |t| t.0).ok()
    }

    fn token(&self, i: usize) -> Option<&Token<'s>> {
        self.tokens?.get(i)
    }

    /// The token before the one at `pos`, skipping opening parentheses.
    fn token_before(&self, pos: u32) -> Option<(usize, &Token<'s>)> {
        let mut i = self.token_index(pos)?;
        loop {
            i = i.checked_sub(1)?;
            let t = self.token(i)?;
            if t.1 != Tok::LParen {
                return Some((i, t));
            }
        }
    }

    /// Where the key of the record field whose value starts at `value_start` starts.
    fn record_key_pos(&self, value_start: u32) -> Option<u32> {
        let (i, colon) = self.token_before(value_start)?;
        if colon.1 != Tok::Colon {
            return None;
        }
        let key = self.token(i.checked_sub(1)?)?;
        u32::try_from(key.0).ok()
    }

    /// Where the keyword before the clause expression starting at `start` is, if it is `kw`.
    fn keyword_before(&self, start: u32, kw: Tok<'_>) -> Option<u32> {
        let (_, t) = self.token_before(start)?;
        (t.1 == kw).then(|| u32::try_from(t.0).ok()).flatten()
    }

    fn stmt_anchors(&self, s: &Statement) -> StmtAnchors {
        let mut a = StmtAnchors::default();
        let Some(toks) = self.tokens else {
            return a;
        };
        let after_annotations = s.annotations.last().map_or(s.span.start, |x| x.span.end) as usize;
        let head_idx = toks.partition_point(|t| t.0 < after_annotations);
        let pos = |t: &Token<'_>| u32::try_from(t.0).ok();
        a.head = toks.get(head_idx).and_then(pos);
        if toks.get(head_idx + 1).map(|t| t.1) == Some(Tok::LParen) {
            let mut starts: Vec<Option<u32>> = vec![toks.get(head_idx + 2).and_then(pos)];
            let mut depth = 0usize;
            for (j, t) in toks.iter().enumerate().skip(head_idx + 2) {
                match t.1 {
                    Tok::LParen | Tok::LBracket | Tok::LBrace => depth += 1,
                    Tok::RParen | Tok::RBracket | Tok::RBrace if depth == 0 => {
                        a.close = pos(t);
                        break;
                    }
                    Tok::RParen | Tok::RBracket | Tok::RBrace => depth -= 1,
                    Tok::Comma if depth == 0 => starts.push(toks.get(j + 1).and_then(pos)),
                    _ => {}
                }
            }
            if let [p, ac, r] = starts.as_slice() {
                a.scope = [*p, *ac, *r];
            }
        }
        if let StatementKind::Quota(q) = &s.kind {
            a.limit = self
                .token_index(q.per.span.start)
                .and_then(|i| i.checked_sub(3))
                .and_then(|i| toks.get(i))
                .filter(|t| t.1 == Tok::Ident("limit"))
                .and_then(pos);
            a.by =
                q.by.as_ref()
                    .and_then(|e| self.keyword_before(e.span.start, Tok::By));
            a.cost = q
                .cost
                .as_ref()
                .and_then(|e| self.keyword_before(e.span.start, Tok::Cost));
        }
        a
    }
}

// ---------------------------------------------------------------------------------------------
// Atoms

/// A set or record literal with at least one element (it can break inside its brackets).
fn is_nonempty_collection(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Set(v) => !v.is_empty(),
        ExprKind::Record(v) => !v.is_empty(),
        _ => false,
    }
}

fn annotation_text(a: &Annotation) -> String {
    match &a.value {
        Some(v) => format!("@{}(\"{}\")", a.key, escape_str(v)),
        None => format!("@{}", a.key),
    }
}

fn literal_text(l: &Literal) -> String {
    match l {
        Literal::Bool(b) => b.to_string(),
        Literal::Long(n) => n.to_string(),
        Literal::String(s) => format!("\"{}\"", escape_str(s)),
    }
}

fn key_text(k: &str) -> String {
    if is_ident(k) {
        k.to_string()
    } else {
        format!("\"{}\"", escape_str(k))
    }
}

fn has_path_text(path: &[smol_str::SmolStr]) -> String {
    match path {
        [one] if !is_ident(one) => format!("\"{}\"", escape_str(one)),
        _ => path
            .iter()
            .map(|p| key_text(p))
            .collect::<Vec<_>>()
            .join("."),
    }
}

fn pattern_text(pattern: &[PatternElem]) -> String {
    let mut out = String::from("\"");
    let mut buf = [0u8; 4];
    for p in pattern {
        match p {
            PatternElem::Wildcard => out.push('*'),
            PatternElem::Char('*') => out.push_str("\\*"),
            PatternElem::Char(c) => out.push_str(&escape_str(c.encode_utf8(&mut buf))),
        }
    }
    out.push('"');
    out
}

/// Longest run of one unary operator Cedar accepts.
const MAX_UNARY_RUN: usize = 4;

/// How many `!` (`bang`) or `-` the printed form of `e` starts with: consecutive `Not` or `Neg`
/// nodes, plus the sign of a negative literal at the end of a `-` run.
fn unary_run(mut e: &Expr, bang: bool) -> usize {
    let mut n = 0;
    loop {
        match (&e.kind, bang) {
            (ExprKind::Not(x), true) | (ExprKind::Neg(x), false) => {
                n += 1;
                e = x;
            }
            (ExprKind::Lit(Literal::Long(v)), false) if *v < 0 => return n + 1,
            _ => return n,
        }
    }
}
