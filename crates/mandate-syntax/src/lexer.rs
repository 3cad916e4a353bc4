//! Text → tokens, with `logos`. Comments are not tokens of the grammar: they are collected on the
//! side (for the formatter). Lexical errors become diagnostics plus an `Invalid` token, so the
//! parser's error recovery still sees every later policy.

use crate::diagnostics::Diagnostic;
use crate::span::Span;
use logos::Logos;

/// A token of the Mandate language. Words that Cedar does not reserve (`permit`, `when`, `principal`,
/// …) are `Ident`s; the grammar gives them meaning by position, as Cedar does.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq)]
// Whitespace is Unicode `White_Space` (NBSP, U+2003, U+3000, U+2028, VT, NEL, …), as in Cedar,
// whose lalrpop lexer skips `\s`: Mandate must accept every Cedar file.
#[logos(skip r"\s+")]
pub enum Tok<'a> {
    /// `// …` up to the end of the line, `\n` or `\r` as in Cedar (filtered out before parsing).
    #[regex(r"//[^\n\r]*", allow_greedy = true)]
    Comment(&'a str),
    /// An identifier.
    #[regex(r"[_a-zA-Z][_a-zA-Z0-9]*")]
    Ident(&'a str),
    /// A decimal integer literal, unsigned (the sign is an operator).
    #[regex(r"[0-9]+")]
    Int(&'a str),
    /// A duration literal such as `1m` or `1h30m` (Mandate's quotas only).
    #[regex(r"[0-9]+(ms|s|m|h|d)([0-9]+(ms|s|m|h|d))*")]
    Duration(&'a str),
    /// A string literal with its quotes, escapes not yet processed.
    #[regex(r#""([^"\\]|\\(.|\n))*""#)]
    Str(&'a str),
    /// A string literal that runs to the end of the input.
    #[regex(r#""([^"\\]|\\(.|\n))*"#, priority = 1)]
    UnterminatedStr(&'a str),
    /// `?principal`, `?resource` (or an unknown slot, reported by the parser).
    #[regex(r"\?[_a-zA-Z][_a-zA-Z0-9]*")]
    Slot(&'a str),
    #[token("true")]
    /// `true`
    True,
    #[token("false")]
    /// `false`
    False,
    #[token("if")]
    /// `if`
    If,
    #[token("then")]
    /// `then`
    Then,
    #[token("else")]
    /// `else`
    Else,
    #[token("in")]
    /// `in`
    In,
    #[token("has")]
    /// `has`
    Has,
    #[token("like")]
    /// `like`
    Like,
    #[token("is")]
    /// `is`
    Is,
    #[token("by")]
    /// `by` (quota clause; still usable as an identifier)
    By,
    #[token("cost")]
    /// `cost` (quota clause; still usable as an identifier)
    Cost,
    #[token("__cedar")]
    /// `__cedar`, reserved
    ReservedCedar,
    #[token("(")]
    /// `(`
    LParen,
    #[token(")")]
    /// `)`
    RParen,
    #[token("[")]
    /// `[`
    LBracket,
    #[token("]")]
    /// `]`
    RBracket,
    #[token("{")]
    /// `{`
    LBrace,
    #[token("}")]
    /// `}`
    RBrace,
    #[token(",")]
    /// `,`
    Comma,
    #[token(";")]
    /// `;`
    Semi,
    #[token(":")]
    /// `:`
    Colon,
    #[token("::")]
    /// `::`
    ColonColon,
    #[token(".")]
    /// `.`
    Dot,
    #[token("@")]
    /// `@`
    At,
    #[token("==")]
    /// `==`
    EqEq,
    #[token("!=")]
    /// `!=`
    NotEq,
    #[token("<")]
    /// `<`
    Lt,
    #[token("<=")]
    /// `<=`
    Le,
    #[token(">")]
    /// `>`
    Gt,
    #[token(">=")]
    /// `>=`
    Ge,
    #[token("&&")]
    /// `&&`
    AndAnd,
    #[token("||")]
    /// `||`
    OrOr,
    #[token("!")]
    /// `!`
    Bang,
    #[token("+")]
    /// `+`
    Plus,
    #[token("-")]
    /// `-`
    Minus,
    #[token("*")]
    /// `*`
    Star,
    #[token("=")]
    /// `=` (not an operator; the parser suggests `==`)
    Assign,
    #[token("&")]
    /// `&` (not an operator; the parser suggests `&&`)
    Amp,
    #[token("|")]
    /// `|` (not an operator; the parser suggests `||`)
    Pipe,
    /// Input the lexer could not read; already reported.
    Invalid,
}

impl Tok<'_> {
    /// How the token is shown in messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Comment(_) => "a comment".into(),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(s) | Tok::Duration(s) => format!("`{s}`"),
            Tok::Str(s) | Tok::UnterminatedStr(s) => {
                let shown: String = s.chars().take(40).collect();
                if shown.len() < s.len() {
                    format!("string {shown}…")
                } else {
                    format!("string {shown}")
                }
            }
            Tok::Slot(s) => format!("`{s}`"),
            Tok::Invalid => "invalid input".into(),
            other => format!("`{}`", other.text()),
        }
    }

    /// The fixed text of punctuation and keywords.
    pub fn text(&self) -> &str {
        match self {
            Tok::Comment(s)
            | Tok::Ident(s)
            | Tok::Int(s)
            | Tok::Duration(s)
            | Tok::Str(s)
            | Tok::UnterminatedStr(s)
            | Tok::Slot(s) => s,
            Tok::True => "true",
            Tok::False => "false",
            Tok::If => "if",
            Tok::Then => "then",
            Tok::Else => "else",
            Tok::In => "in",
            Tok::Has => "has",
            Tok::Like => "like",
            Tok::Is => "is",
            Tok::By => "by",
            Tok::Cost => "cost",
            Tok::ReservedCedar => "__cedar",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Comma => ",",
            Tok::Semi => ";",
            Tok::Colon => ":",
            Tok::ColonColon => "::",
            Tok::Dot => ".",
            Tok::At => "@",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Assign => "=",
            Tok::Amp => "&",
            Tok::Pipe => "|",
            Tok::Invalid => "?",
        }
    }
}

/// A comment and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The comment's text including `//`, without the line break.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// Result of lexing a whole source.
#[derive(Debug, Default)]
pub struct Lexed<'a> {
    /// `(start, token, end)` triples as the parser wants them.
    pub tokens: Vec<(usize, Tok<'a>, usize)>,
    /// Comments, in order.
    pub comments: Vec<Comment>,
    /// Lexical errors.
    pub diagnostics: Vec<Diagnostic>,
}

/// Splits `src` into tokens, comments and lexical errors.
pub fn lex(src: &str) -> Lexed<'_> {
    let mut out = Lexed::default();
    let mut lexer = Tok::lexer(src);
    while let Some(res) = lexer.next() {
        let range = lexer.span();
        let span = Span::new(range.start, range.end);
        match res {
            Ok(Tok::Comment(text)) => out.comments.push(Comment {
                text: text.trim_end_matches('\r').to_string(),
                span,
            }),
            Ok(Tok::UnterminatedStr(_)) => {
                out.diagnostics.push(
                    Diagnostic::error("MD0002", "unterminated string literal")
                        .with_label(
                            Span::new(range.start, range.start + 1),
                            "this string is never closed",
                        )
                        .with_help("add a closing `\"`"),
                );
                out.tokens.push((range.start, Tok::Invalid, range.end));
            }
            Ok(tok) => out.tokens.push((range.start, tok, range.end)),
            Err(()) => {
                let text = lexer.slice();
                let ch = text.chars().next().unwrap_or('?');
                // Show quotes as they are; escape what cannot be seen (`\u{a0}`, controls).
                let shown = if matches!(ch, '\'' | '"') {
                    ch.to_string()
                } else {
                    ch.escape_debug().to_string()
                };
                let mut diag =
                    Diagnostic::error("MD0003", format!("unexpected character `{shown}`"))
                        .with_label(span, "not part of the language");
                let next_is_star = src.get(range.end..).is_some_and(|r| r.starts_with('*'));
                if ch == '\'' {
                    diag = diag.with_help("strings use double quotes: `\"…\"`");
                } else if matches!(
                    ch,
                    '“' | '”' | '„' | '‟' | '″' | '‘' | '’' | '‚' | '«' | '»'
                ) {
                    diag = diag.with_help(
                        "this is a typographic quote; strings use the plain double quote `\"`",
                    );
                } else if ch == '\u{feff}' && range.start == 0 {
                    diag = diag.with_help("remove the byte-order mark at the start of the file");
                } else if ch.is_whitespace()
                    || matches!(ch, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
                {
                    diag = diag.with_help(
                        "this is an unusual space character; replace it with an ordinary space",
                    );
                } else if ch.is_alphabetic() {
                    diag = diag.with_help(
                        "names use ASCII letters, digits and `_`; other text goes in a string",
                    );
                } else if ch == '?' {
                    diag = diag.with_help("the only slots are `?principal` and `?resource`");
                } else if ch == '#' {
                    diag = diag.with_help("comments start with `//`");
                } else if ch == '/' && next_is_star {
                    diag = diag.with_help("there are no block comments; start each line with `//`");
                } else if ch == '/' {
                    diag =
                        diag.with_help("comments start with `//`; there is no division operator");
                }
                out.diagnostics.push(diag);
                out.tokens.push((range.start, Tok::Invalid, range.end));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok<'_>> {
        lex(src).tokens.into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn keywords_idents_and_literals() {
        assert_eq!(
            kinds(r#"permit(principal == A::"x\"y", ?resource) when { 1m <= -5 };"#),
            vec![
                Tok::Ident("permit"),
                Tok::LParen,
                Tok::Ident("principal"),
                Tok::EqEq,
                Tok::Ident("A"),
                Tok::ColonColon,
                Tok::Str(r#""x\"y""#),
                Tok::Comma,
                Tok::Slot("?resource"),
                Tok::RParen,
                Tok::Ident("when"),
                Tok::LBrace,
                Tok::Duration("1m"),
                Tok::Le,
                Tok::Minus,
                Tok::Int("5"),
                Tok::RBrace,
                Tok::Semi
            ]
        );
    }

    #[test]
    fn comments_are_collected() {
        let l = lex("// a\npermit // b\n");
        assert_eq!(l.comments.len(), 2);
        assert_eq!(l.tokens.len(), 1);
    }

    #[test]
    fn unterminated_string_is_reported() {
        let l = lex("\"abc");
        assert_eq!(l.diagnostics.len(), 1);
        assert_eq!(l.diagnostics.first().map(|d| d.code), Some("MD0002"));
    }
}
