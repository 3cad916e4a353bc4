//! The Cedar schema format (`.cedarschema`): a hand-written lexer and a recursive-descent parser
//! that follow Cedar 4's grammar (`cedar_schema/grammar.lalrpop`), producing [`RawNamespace`]s.
//!
//! Grammar, as Cedar accepts it (`[]` optional, `{}` repeated, `|` alternatives):
//!
//! ```text
//! Schema     := {Annotation} (Namespace | Decl) ...
//! Namespace  := 'namespace' Path '{' {{Annotation} Decl} '}'
//! Decl       := Entity | Action | TypeDecl
//! Entity     := 'entity' Idents ['in' EntTypes] [['='] RecType] ['tags' Type] ';'
//!             | 'entity' Idents 'enum' '[' STR {',' STR} ']' ';'
//! Action     := 'action' Names ['in' (QualName | '[' QualName {',' QualName} ']')]
//!               ['appliesTo' '{' AppDecls '}'] ['attributes' '{' '}'] ';'
//! TypeDecl   := 'type' IDENT '=' Type ';'
//! Type       := Path | 'Set' '<' Type '>' | RecType
//! RecType    := '{' [AttrDecl {',' AttrDecl} [',']] '}'
//! AttrDecl   := {Annotation} (IDENT | STR) ['?'] ':' Type
//! AppDecls   := AppDecl {',' AppDecl} [',']
//! AppDecl    := ('principal' | 'resource') ':' EntTypes | 'context' ':' (Path | RecType)
//! EntTypes   := Path | '[' [Path {',' Path}] ']'
//! QualName   := Path '::' STR | IDENT | STR
//! Annotation := '@' ANYIDENT ['(' STR ')']
//! Path       := IDENT {'::' IDENT}
//! ```
//!
//! Keywords are contextual: any keyword is also an identifier where an identifier is expected.
//! `IDENT` excludes Cedar's reserved words (`true`, `false`, `if`, `then`, `else`, `in`, `is`,
//! `has`, `like`); annotation keys (`ANYIDENT`) may be any identifier. Strings use Cedar's escapes
//! (Rust's: `\n \r \t \\ \0 \' \"`, `\x00`-`\x7F`, `\u{...}`). Comments are `//` to end of line.

use smol_str::SmolStr;

use super::MAX_TYPE_DEPTH;
use super::error::{SchemaError, SchemaErrorKind, SchemaErrors};
use super::raw::{
    Locator, Origin, RawAction, RawActionRef, RawAppliesTo, RawAttr, RawCommonType, RawEntityKind,
    RawEntityType, RawName, RawNamespace, RawRecord, RawType, RawTypeKind, empty_record,
};

/// Words that cannot be identifiers (Cedar's `Id`), though they may be annotation keys.
pub(crate) const RESERVED_WORDS: [&str; 9] = [
    "true", "false", "if", "then", "else", "in", "is", "has", "like",
];

/// Whether `word` is one of Cedar's reserved words.
pub(crate) fn is_reserved_word(word: &str) -> bool {
    RESERVED_WORDS.contains(&word)
}

/// Parses Cedar-format schema text into namespaces (all declarations outside any namespace are
/// gathered into one empty namespace, listed last).
pub(crate) fn parse(src: &str, locator: &Locator<'_>) -> Result<Vec<RawNamespace>, SchemaErrors> {
    let tokens = lex(src).map_err(|(start, end, message)| {
        SchemaErrors::one(SchemaError::new(
            SchemaErrorKind::Syntax,
            message,
            locator.locate(&Origin::Span { start, end }),
        ))
    })?;
    let eof = Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    };
    let mut parser = Parser {
        tokens,
        pos: 0,
        eof,
        locator,
        errors: Vec::new(),
    };
    match parser.parse_schema() {
        Ok(namespaces) => match SchemaErrors::from_vec(parser.errors) {
            None => Ok(namespaces),
            Some(errors) => Err(errors),
        },
        Err(fatal) => {
            let mut errors = parser.errors;
            errors.push(*fatal);
            Err(SchemaErrors::from_vec(errors)
                .unwrap_or_else(|| SchemaErrors::one(internal_error())))
        }
    }
}

fn internal_error() -> SchemaError {
    SchemaError::new(
        SchemaErrorKind::Syntax,
        "internal error: a parse failed without an error; please file an issue",
        None,
    )
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Punct {
    Comma,
    Semi,
    Colon,
    ColonColon,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Lt,
    Gt,
    Eq,
    Question,
    At,
    LParen,
    RParen,
}

impl Punct {
    fn text(self) -> &'static str {
        match self {
            Punct::Comma => ",",
            Punct::Semi => ";",
            Punct::Colon => ":",
            Punct::ColonColon => "::",
            Punct::LBrace => "{",
            Punct::RBrace => "}",
            Punct::LBracket => "[",
            Punct::RBracket => "]",
            Punct::Lt => "<",
            Punct::Gt => ">",
            Punct::Eq => "=",
            Punct::Question => "?",
            Punct::At => "@",
            Punct::LParen => "(",
            Punct::RParen => ")",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'s> {
    /// `[_a-zA-Z][_a-zA-Z0-9]*`, keywords included.
    Ident(&'s str),
    /// A string literal, quotes included, escapes not yet processed.
    Str(&'s str),
    /// `[0-9]+`; never valid in a schema, but lexed so the error names it.
    Number(&'s str),
    Punct(Punct),
    Eof,
}

#[derive(Clone, Copy, Debug)]
struct Token<'s> {
    tok: Tok<'s>,
    start: usize,
    end: usize,
}

/// Splits `src` into tokens, skipping whitespace and `//` comments. On failure, the byte range and
/// message of the offending text.
fn lex(src: &str) -> Result<Vec<Token<'_>>, (usize, usize, String)> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(rest) = src.get(pos..) {
        let mut chars = rest.chars();
        let Some(first) = chars.next() else { break };
        if first.is_whitespace() {
            pos += first.len_utf8();
            continue;
        }
        if rest.starts_with("//") {
            pos += rest.find(['\n', '\r']).unwrap_or(rest.len());
            continue;
        }
        let start = pos;
        let (tok, len) = if first == '_' || first.is_ascii_alphabetic() {
            let len = rest
                .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                .unwrap_or(rest.len());
            (Tok::Ident(rest.get(..len).unwrap_or_default()), len)
        } else if first.is_ascii_digit() {
            let len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            (Tok::Number(rest.get(..len).unwrap_or_default()), len)
        } else if first == '"' {
            let len = string_literal_len(rest)
                .map_err(|(offset, message)| (start + offset, start + offset + 1, message))?;
            (Tok::Str(rest.get(..len).unwrap_or_default()), len)
        } else {
            let punct = match first {
                ',' => Punct::Comma,
                ';' => Punct::Semi,
                ':' if rest.starts_with("::") => Punct::ColonColon,
                ':' => Punct::Colon,
                '{' => Punct::LBrace,
                '}' => Punct::RBrace,
                '[' => Punct::LBracket,
                ']' => Punct::RBracket,
                '<' => Punct::Lt,
                '>' => Punct::Gt,
                '=' => Punct::Eq,
                '?' => Punct::Question,
                '@' => Punct::At,
                '(' => Punct::LParen,
                ')' => Punct::RParen,
                other => {
                    let message = if other == '/' {
                        "unexpected character `/`; comments start with `//`".to_owned()
                    } else {
                        format!("unexpected character `{}`", other.escape_debug())
                    };
                    return Err((start, start + other.len_utf8(), message));
                }
            };
            (Tok::Punct(punct), punct.text().len())
        };
        tokens.push(Token {
            tok,
            start,
            end: start + len,
        });
        pos += len;
    }
    Ok(tokens)
}

/// The length in bytes of the string literal at the start of `rest` (which starts with `"`).
/// Like Cedar's lexer, a backslash escapes any character except a line break.
fn string_literal_len(rest: &str) -> Result<usize, (usize, String)> {
    let mut chars = rest.char_indices().skip(1);
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok(index + 1),
            '\\' => match chars.next() {
                Some((_, '\n')) => {
                    return Err((
                        index,
                        "a backslash at the end of a line is not allowed in a string literal"
                            .to_owned(),
                    ));
                }
                Some(_) => {}
                None => break,
            },
            _ => {}
        }
    }
    Err((0, "unterminated string literal".to_owned()))
}

/// Processes the escapes of a string literal's contents (without the quotes), following Cedar,
/// which uses Rust's rules: `\n \r \t \\ \0 \' \"`, `\x` with two hex digits up to `7F`, and
/// `\u{...}` with 1 to 6 hex digits (underscores allowed after the first) naming a Unicode scalar
/// value. A raw carriage return is not allowed.
pub(crate) fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let escaped = chars
                    .next()
                    .ok_or_else(|| "a string cannot end with a lone backslash".to_owned())?;
                let value = match escaped {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    '\\' => '\\',
                    '\'' => '\'',
                    '"' => '"',
                    '0' => '\0',
                    'x' => hex_escape(&mut chars)?,
                    'u' => unicode_escape(&mut chars)?,
                    other => return Err(format!("invalid escape `\\{}`", other.escape_debug())),
                };
                out.push(value);
            }
            '\r' => {
                return Err(
                    "a raw carriage return is not allowed in a string literal; write `\\r`"
                        .to_owned(),
                );
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

fn hex_escape(chars: &mut std::str::Chars<'_>) -> Result<char, String> {
    let mut value = 0u32;
    for _ in 0..2 {
        let digit = chars
            .next()
            .ok_or_else(|| "`\\x` must be followed by two hex digits".to_owned())?;
        let digit = digit.to_digit(16).ok_or_else(|| {
            format!(
                "invalid hex digit `{}` in `\\x` escape",
                digit.escape_debug()
            )
        })?;
        value = value * 16 + digit;
    }
    if value > 0x7F {
        return Err(format!(
            "`\\x{value:02X}` is out of range; `\\x` escapes go up to `\\x7F`, use `\\u{{{value:X}}}` instead"
        ));
    }
    char::from_u32(value).ok_or_else(|| "invalid `\\x` escape".to_owned())
}

fn unicode_escape(chars: &mut std::str::Chars<'_>) -> Result<char, String> {
    if chars.next() != Some('{') {
        return Err("`\\u` must be followed by `{`, as in `\\u{1F600}`".to_owned());
    }
    let mut value = 0u32;
    let mut digits = 0usize;
    loop {
        match chars.next() {
            None => return Err("unclosed `\\u{` escape".to_owned()),
            Some('}') if digits == 0 => return Err("empty `\\u{}` escape".to_owned()),
            Some('}') => break,
            Some('_') if digits == 0 => {
                return Err("a `\\u{...}` escape cannot start with `_`".to_owned());
            }
            Some('_') => {}
            Some(c) => {
                let digit = c.to_digit(16).ok_or_else(|| {
                    format!(
                        "invalid character `{}` in `\\u{{...}}` escape",
                        c.escape_debug()
                    )
                })?;
                digits += 1;
                if digits <= 6 {
                    value = value * 16 + digit;
                }
            }
        }
    }
    if digits > 6 {
        return Err("a `\\u{...}` escape has at most 6 hex digits".to_owned());
    }
    if value > 0x10_FFFF {
        return Err(format!(
            "`\\u{{{value:X}}}` is beyond the last Unicode code point `10FFFF`"
        ));
    }
    char::from_u32(value)
        .ok_or_else(|| format!("`\\u{{{value:X}}}` is a surrogate code point, not a character"))
}

// ---------------------------------------------------------------------------------------------
// Parser

/// A fatal parse error (boxed to keep `Result`s small).
type Fatal = Box<SchemaError>;
type PResult<T> = Result<T, Fatal>;

struct Parser<'s, 'l> {
    tokens: Vec<Token<'s>>,
    pos: usize,
    eof: Token<'s>,
    locator: &'l Locator<'l>,
    /// Errors that do not stop parsing (reserved identifiers, bad escapes, duplicate annotations,
    /// bad `appliesTo` contents).
    errors: Vec<SchemaError>,
}

/// How a token reads in an error message.
fn describe(tok: Tok<'_>) -> String {
    match tok {
        Tok::Ident(text) | Tok::Number(text) => format!("`{text}`"),
        Tok::Str(text) => {
            if text.chars().count() > 40 {
                "a string literal".to_owned()
            } else {
                format!("`{text}`")
            }
        }
        Tok::Punct(punct) => format!("`{}`", punct.text()),
        Tok::Eof => "end of input".to_owned(),
    }
}

/// Entity or action declaration being collected before it is copied for each declared name.
struct NamedOrigin {
    name: SmolStr,
    origin: Origin,
}

impl<'s> Parser<'s, '_> {
    fn peek(&self) -> Token<'s> {
        self.tokens.get(self.pos).copied().unwrap_or(self.eof)
    }

    fn peek_nth(&self, n: usize) -> Token<'s> {
        self.tokens.get(self.pos + n).copied().unwrap_or(self.eof)
    }

    fn bump(&mut self) -> Token<'s> {
        let token = self.peek();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        token
    }

    fn at_punct(&self, punct: Punct) -> bool {
        self.peek().tok == Tok::Punct(punct)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        self.peek().tok == Tok::Ident(keyword)
    }

    fn origin(start: usize, end: usize) -> Origin {
        Origin::Span { start, end }
    }

    fn error_at(
        &self,
        kind: SchemaErrorKind,
        message: impl Into<String>,
        start: usize,
        end: usize,
    ) -> SchemaError {
        SchemaError::new(
            kind,
            message,
            self.locator.locate(&Self::origin(start, end)),
        )
    }

    /// A fatal "expected X, found Y" error at the current token.
    fn unexpected(&self, expected: &str) -> Fatal {
        let token = self.peek();
        Box::new(self.error_at(
            SchemaErrorKind::Syntax,
            format!("expected {expected}, found {}", describe(token.tok)),
            token.start,
            token.end,
        ))
    }

    fn expect_punct(&mut self, punct: Punct, context: &str) -> PResult<Token<'s>> {
        if self.at_punct(punct) {
            Ok(self.bump())
        } else {
            let expected = format!("`{}` {context}", punct.text());
            if punct == Punct::Semi {
                Err(self.missing_semicolon(expected.trim_end()))
            } else {
                Err(self.unexpected(expected.trim_end()))
            }
        }
    }

    /// "expected ..., found ..." where a `;` could end the declaration; when what follows looks
    /// like the start of the next declaration, the help says the `;` is missing.
    fn missing_semicolon(&self, expected: &str) -> Fatal {
        let mut error = self.unexpected(expected);
        let next_starts_declaration = matches!(
            self.peek().tok,
            Tok::Ident("entity" | "action" | "type" | "namespace")
                | Tok::Punct(Punct::At | Punct::RBrace)
                | Tok::Eof
        );
        if next_starts_declaration {
            error.help = Some("every declaration ends with `;`".to_owned());
        }
        error
    }

    /// An identifier that is not a reserved word (reported, but parsing goes on).
    fn parse_ident(&mut self, what: &str) -> PResult<(SmolStr, Token<'s>)> {
        let token = self.peek();
        let Tok::Ident(text) = token.tok else {
            return Err(self.unexpected(what));
        };
        self.bump();
        if is_reserved_word(text) {
            let error = self
                .error_at(SchemaErrorKind::ReservedName, format!("`{text}` is a reserved identifier"), token.start, token.end)
                .with_help(format!("`{text}` cannot name anything in Cedar; for an attribute, write it as a string: `\"{text}\"`"));
            self.errors.push(error);
        }
        Ok((SmolStr::new(text), token))
    }

    /// A string literal, unescaped (escape errors are reported, and parsing goes on).
    fn parse_str(&mut self, what: &str) -> PResult<(SmolStr, Token<'s>)> {
        let token = self.peek();
        let Tok::Str(text) = token.tok else {
            return Err(self.unexpected(what));
        };
        self.bump();
        let inner = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or_default();
        match unescape(inner) {
            Ok(value) => Ok((SmolStr::new(value), token)),
            Err(message) => {
                let error = self.error_at(
                    SchemaErrorKind::InvalidEscape,
                    message,
                    token.start,
                    token.end,
                );
                self.errors.push(error);
                Ok((SmolStr::default(), token))
            }
        }
    }

    /// `Path := IDENT {'::' IDENT}`.
    fn parse_path(&mut self, what: &str) -> PResult<RawName> {
        let (first, first_token) = self.parse_ident(what)?;
        let mut text = String::from(first.as_str());
        let mut end = first_token.end;
        while self.at_punct(Punct::ColonColon) && matches!(self.peek_nth(1).tok, Tok::Ident(_)) {
            self.bump();
            let (part, token) = self.parse_ident("an identifier")?;
            text.push_str("::");
            text.push_str(&part);
            end = token.end;
        }
        Ok(RawName {
            text: SmolStr::new(text),
            origin: Self::origin(first_token.start, end),
        })
    }

    /// `{'@' ANYIDENT ['(' STR ')']}`; annotations are checked for duplicate keys, then dropped.
    fn parse_annotations(&mut self) -> PResult<()> {
        let mut keys: Vec<&'s str> = Vec::new();
        while self.at_punct(Punct::At) {
            let at = self.bump();
            let key_token = self.peek();
            let Tok::Ident(key) = key_token.tok else {
                return Err(self.unexpected("an annotation name after `@`"));
            };
            self.bump();
            let mut end = key_token.end;
            if self.at_punct(Punct::LParen) {
                self.bump();
                self.parse_str("a string literal as the annotation value")?;
                end = self
                    .expect_punct(Punct::RParen, "to close the annotation value")?
                    .end;
            }
            if keys.contains(&key) {
                let error = self
                    .error_at(
                        SchemaErrorKind::DuplicateAnnotation,
                        format!("duplicate annotation `@{key}`"),
                        at.start,
                        end,
                    )
                    .with_help("an annotation key may appear only once per declaration");
                self.errors.push(error);
            } else {
                keys.push(key);
            }
        }
        Ok(())
    }

    fn parse_schema(&mut self) -> PResult<Vec<RawNamespace>> {
        let mut namespaces = Vec::new();
        let mut empty = RawNamespace {
            name: None,
            common_types: Vec::new(),
            entity_types: Vec::new(),
            actions: Vec::new(),
        };
        while !matches!(self.peek().tok, Tok::Eof) {
            self.parse_annotations()?;
            if self.at_keyword("namespace") {
                namespaces.push(self.parse_namespace()?);
            } else {
                self.parse_decl(&mut empty, true)?;
            }
        }
        if !(empty.common_types.is_empty()
            && empty.entity_types.is_empty()
            && empty.actions.is_empty())
        {
            namespaces.push(empty);
        }
        Ok(namespaces)
    }

    fn parse_namespace(&mut self) -> PResult<RawNamespace> {
        self.bump();
        let name = self.parse_path("a namespace name")?;
        self.expect_punct(Punct::LBrace, "after the namespace name")?;
        let mut namespace = RawNamespace {
            name: Some(name),
            common_types: Vec::new(),
            entity_types: Vec::new(),
            actions: Vec::new(),
        };
        while !self.at_punct(Punct::RBrace) {
            if matches!(self.peek().tok, Tok::Eof) {
                return Err(self.unexpected("`}` to close the namespace"));
            }
            self.parse_annotations()?;
            self.parse_decl(&mut namespace, false)?;
        }
        self.bump();
        Ok(namespace)
    }

    fn parse_decl(&mut self, namespace: &mut RawNamespace, top_level: bool) -> PResult<()> {
        let next = self.peek_nth(1).tok;
        if self.at_keyword("external") && matches!(next, Tok::Ident("entity" | "action")) {
            self.parse_external()
        } else if self.at_keyword("entity") {
            self.parse_entity(namespace)
        } else if self.at_keyword("action") {
            self.parse_action(namespace)
        } else if self.at_keyword("type") {
            self.parse_type_decl(namespace)
        } else if self.at_keyword("namespace") && !top_level {
            let token = self.peek();
            Err(Box::new(
                self.error_at(
                    SchemaErrorKind::Syntax,
                    "namespaces cannot be nested",
                    token.start,
                    token.end,
                )
                .with_help("declare the inner namespace separately, with its full name"),
            ))
        } else if top_level {
            Err(self.unexpected("`namespace`, `entity`, `action` or `type`"))
        } else {
            Err(self.unexpected("`entity`, `action`, `type` or `}`"))
        }
    }

    /// Cedar 4.14's `'external' 'entity' Idents ['in' EntTypes] ';'` and
    /// `'external' 'action' Names ['in' QualNames] ';'`: parsed, then reported as unsupported.
    fn parse_external(&mut self) -> PResult<()> {
        let keyword = self.bump();
        let is_entity = self.at_keyword("entity");
        let kind_token = self.bump();
        if is_entity {
            self.parse_ident_list("an entity type name")?;
            if self.at_keyword("in") {
                self.bump();
                self.parse_entity_type_list()?;
            }
        } else {
            self.parse_name_list("an action name")?;
            if self.at_keyword("in") {
                self.bump();
                if self.at_punct(Punct::LBracket) {
                    self.bump();
                    loop {
                        self.parse_action_ref()?;
                        if !self.at_punct(Punct::Comma) {
                            break;
                        }
                        self.bump();
                    }
                    self.expect_punct(Punct::RBracket, "to close the list of parent actions")?;
                } else {
                    self.parse_action_ref()?;
                }
            }
        }
        self.expect_punct(Punct::Semi, "after the external declaration")?;
        let what = if is_entity { "entity type" } else { "action" };
        let error = self
            .error_at(
                SchemaErrorKind::Unsupported,
                format!("external {what} declarations are not supported"),
                keyword.start,
                kind_token.end,
            )
            .with_help(super::json::EXTERNAL_HELP);
        self.errors.push(error);
        Ok(())
    }

    /// `IDENT {',' IDENT}`.
    fn parse_ident_list(&mut self, what: &str) -> PResult<Vec<NamedOrigin>> {
        let mut names = Vec::new();
        loop {
            let (name, token) = self.parse_ident(what)?;
            names.push(NamedOrigin {
                name,
                origin: Self::origin(token.start, token.end),
            });
            if !self.at_punct(Punct::Comma) {
                return Ok(names);
            }
            self.bump();
        }
    }

    /// `Name {',' Name}` where `Name := IDENT | STR`.
    fn parse_name_list(&mut self, what: &str) -> PResult<Vec<NamedOrigin>> {
        let mut names = Vec::new();
        loop {
            let (name, token) = if matches!(self.peek().tok, Tok::Str(_)) {
                self.parse_str(what)?
            } else {
                self.parse_ident(what)?
            };
            names.push(NamedOrigin {
                name,
                origin: Self::origin(token.start, token.end),
            });
            if !self.at_punct(Punct::Comma) {
                return Ok(names);
            }
            self.bump();
        }
    }

    /// `EntTypes := Path | '[' [Path {',' Path}] ']'`.
    fn parse_entity_type_list(&mut self) -> PResult<Vec<RawName>> {
        if !self.at_punct(Punct::LBracket) {
            return Ok(vec![self.parse_path("an entity type name or `[`")?]);
        }
        self.bump();
        let mut names = Vec::new();
        if !self.at_punct(Punct::RBracket) {
            loop {
                names.push(self.parse_path("an entity type name")?);
                if !self.at_punct(Punct::Comma) {
                    break;
                }
                self.bump();
            }
        }
        self.expect_punct(Punct::RBracket, "to close the list of entity types")?;
        Ok(names)
    }

    fn parse_entity(&mut self, namespace: &mut RawNamespace) -> PResult<()> {
        self.bump();
        let names = self.parse_ident_list("an entity type name")?;
        if self.at_keyword("enum") {
            self.bump();
            self.expect_punct(Punct::LBracket, "after `enum`")?;
            let mut ids = Vec::new();
            loop {
                ids.push(self.parse_str("a string literal (an entity id)")?.0);
                if !self.at_punct(Punct::Comma) {
                    break;
                }
                self.bump();
            }
            self.expect_punct(Punct::RBracket, "to close the list of entity ids")?;
            self.expect_punct(Punct::Semi, "after the entity declaration")?;
            namespace
                .entity_types
                .extend(names.into_iter().map(|declared| RawEntityType {
                    name: declared.name,
                    origin: declared.origin,
                    kind: RawEntityKind::Enum(ids.clone()),
                }));
            return Ok(());
        }
        let has_parents = self.at_keyword("in");
        let parents = if has_parents {
            self.bump();
            self.parse_entity_type_list()?
        } else {
            Vec::new()
        };
        let has_shape = self.at_punct(Punct::Eq) || self.at_punct(Punct::LBrace);
        let shape = if self.at_punct(Punct::Eq) {
            self.bump();
            if !self.at_punct(Punct::LBrace) {
                return Err(self.unexpected("`{` (a record type) after `=`"));
            }
            self.parse_record(1)?
        } else if self.at_punct(Punct::LBrace) {
            self.parse_record(1)?
        } else {
            let origin = names
                .first()
                .map_or(Origin::Unknown, |first| first.origin.clone());
            empty_record(origin)
        };
        let tags = if self.at_keyword("tags") {
            self.bump();
            Some(self.parse_type(1)?)
        } else {
            None
        };
        if !self.at_punct(Punct::Semi) {
            let expected = match (has_parents, has_shape, tags.is_some()) {
                (false, false, false) => {
                    "`in`, `enum`, `{`, `=`, `tags` or `;` after the entity type name"
                }
                (_, false, false) => "`{`, `=`, `tags` or `;`",
                (_, true, false) => "`tags` or `;`",
                (_, _, true) => "`;` after the entity declaration",
            };
            return Err(self.missing_semicolon(expected));
        }
        self.bump();
        namespace
            .entity_types
            .extend(names.into_iter().map(|declared| RawEntityType {
                name: declared.name,
                origin: declared.origin,
                kind: RawEntityKind::Standard {
                    parents: parents.clone(),
                    shape: shape.clone(),
                    tags: tags.clone(),
                },
            }));
        Ok(())
    }

    /// `QualName := Path '::' STR | IDENT | STR`.
    fn parse_action_ref(&mut self) -> PResult<RawActionRef> {
        let token = self.peek();
        match token.tok {
            Tok::Str(_) => {
                let (id, token) = self.parse_str("an action name")?;
                Ok(RawActionRef {
                    ty: None,
                    id,
                    origin: Self::origin(token.start, token.end),
                })
            }
            Tok::Ident(_) => {
                let (first, first_token) = self.parse_ident("an action name")?;
                let mut path = String::from(first.as_str());
                let mut parts = 1usize;
                let mut path_end = first_token.end;
                while self.at_punct(Punct::ColonColon) {
                    match self.peek_nth(1).tok {
                        Tok::Ident(_) => {
                            self.bump();
                            let (part, token) = self.parse_ident("an identifier")?;
                            path.push_str("::");
                            path.push_str(&part);
                            path_end = token.end;
                            parts += 1;
                        }
                        Tok::Str(_) => {
                            self.bump();
                            let (id, id_token) = self.parse_str("a quoted action id")?;
                            let ty = RawName {
                                text: SmolStr::new(path),
                                origin: Self::origin(first_token.start, path_end),
                            };
                            return Ok(RawActionRef {
                                ty: Some(ty),
                                id,
                                origin: Self::origin(first_token.start, id_token.end),
                            });
                        }
                        _ => break,
                    }
                }
                if parts == 1 {
                    Ok(RawActionRef {
                        ty: None,
                        id: first,
                        origin: Self::origin(first_token.start, first_token.end),
                    })
                } else {
                    Err(Box::new(
                        self.error_at(
                            SchemaErrorKind::Syntax,
                            format!("expected `::` and a quoted action id after `{path}`"),
                            first_token.start,
                            path_end,
                        )
                        .with_help(format!(
                            "an action in another namespace is written `{path}::\"name\"`"
                        )),
                    ))
                }
            }
            _ => Err(self.unexpected("an action name")),
        }
    }

    fn parse_action(&mut self, namespace: &mut RawNamespace) -> PResult<()> {
        self.bump();
        let names = self.parse_name_list("an action name")?;
        let mut member_of = Vec::new();
        if self.at_keyword("in") {
            self.bump();
            if self.at_punct(Punct::LBracket) {
                self.bump();
                loop {
                    member_of.push(self.parse_action_ref()?);
                    if !self.at_punct(Punct::Comma) {
                        break;
                    }
                    self.bump();
                }
                self.expect_punct(Punct::RBracket, "to close the list of parent actions")?;
            } else {
                member_of.push(self.parse_action_ref()?);
            }
        }
        let applies_to = if self.at_keyword("appliesTo") {
            let first = names
                .first()
                .map_or_else(SmolStr::default, |first| first.name.clone());
            Some(self.parse_applies_to(&first)?)
        } else {
            None
        };
        // Cedar's grammar accepts (and ignores) an empty `attributes {}` block here.
        if self.at_keyword("attributes") {
            self.bump();
            self.expect_punct(Punct::LBrace, "after `attributes`")?;
            self.expect_punct(Punct::RBrace, "; action attributes are not supported")?;
        }
        if !self.at_punct(Punct::Semi) {
            let expected = match (member_of.is_empty(), applies_to.is_none()) {
                (true, true) => "`,`, `in`, `appliesTo` or `;` after the action name",
                (false, true) => "`appliesTo` or `;`",
                _ => "`;` after the action declaration",
            };
            return Err(self.missing_semicolon(expected));
        }
        self.bump();
        namespace
            .actions
            .extend(names.into_iter().map(|declared| RawAction {
                name: declared.name,
                origin: declared.origin,
                member_of: member_of.clone(),
                applies_to: applies_to.clone(),
            }));
        Ok(())
    }

    /// `'appliesTo' '{' AppDecl {',' AppDecl} [','] '}'`, checked as Cedar does: exactly one
    /// `principal` and one `resource`, neither `[]`, at most one `context`.
    fn parse_applies_to(&mut self, action: &str) -> PResult<RawAppliesTo> {
        let keyword = self.bump();
        self.expect_punct(Punct::LBrace, "after `appliesTo`")?;
        let mut principal: Option<Vec<RawName>> = None;
        let mut resource: Option<Vec<RawName>> = None;
        let mut context: Option<RawType> = None;
        loop {
            let token = self.peek();
            match token.tok {
                Tok::Ident(kind @ ("principal" | "resource")) => {
                    self.bump();
                    self.expect_punct(Punct::Colon, &format!("after `{kind}`"))?;
                    let list_start = self.peek().start;
                    let types = self.parse_entity_type_list()?;
                    let list_end = self
                        .tokens
                        .get(self.pos.saturating_sub(1))
                        .map_or(list_start, |t| t.end);
                    if types.is_empty() {
                        let error = self
                            .error_at(
                                SchemaErrorKind::InvalidAppliesTo,
                                format!("`{kind}` of action `{action}` is `[]`"),
                                list_start,
                                list_end,
                            )
                            .with_help(format!(
                                "list at least one {kind} entity type; an action that applies to nothing can omit `appliesTo`"
                            ));
                        self.errors.push(error);
                    }
                    let slot = if kind == "principal" {
                        &mut principal
                    } else {
                        &mut resource
                    };
                    if slot.is_some() {
                        let error = self
                            .error_at(
                                SchemaErrorKind::InvalidAppliesTo,
                                format!("duplicate `{kind}` declaration in action `{action}`"),
                                token.start,
                                list_end,
                            )
                            .with_help(format!(
                                "list several types in one declaration instead: `{kind}: [A, B]`"
                            ));
                        self.errors.push(error);
                    } else {
                        *slot = Some(types);
                    }
                }
                Tok::Ident("context") => {
                    self.bump();
                    self.expect_punct(Punct::Colon, "after `context`")?;
                    let ty = if self.at_punct(Punct::LBrace) {
                        self.parse_record(1)?
                    } else if matches!(self.peek().tok, Tok::Ident(_)) {
                        let name = self.parse_path("a common type name")?;
                        let origin = name.origin.clone();
                        RawType {
                            kind: RawTypeKind::Common(name),
                            origin,
                        }
                    } else {
                        return Err(self.unexpected(
                            "a record type or the name of a common type after `context:`",
                        ));
                    };
                    if context.is_some() {
                        let error = self
                            .error_at(
                                SchemaErrorKind::InvalidAppliesTo,
                                format!("duplicate context declaration in action `{action}`"),
                                token.start,
                                token.end,
                            )
                            .with_help("merge the two declarations into one");
                        self.errors.push(error);
                    } else {
                        context = Some(ty);
                    }
                }
                _ => return Err(self.unexpected("`principal`, `resource` or `context`")),
            }
            if !self.at_punct(Punct::Comma) {
                break;
            }
            self.bump();
            if self.at_punct(Punct::RBrace) {
                break;
            }
        }
        if !self.at_punct(Punct::RBrace) {
            return Err(self.unexpected("`,` or `}`"));
        }
        let close = self.bump();
        for (kind, slot) in [("principal", &principal), ("resource", &resource)] {
            if slot.is_none() {
                let error = self
                    .error_at(
                        SchemaErrorKind::InvalidAppliesTo,
                        format!("missing `{kind}` declaration for action `{action}`"),
                        keyword.start,
                        close.end,
                    )
                    .with_help("an `appliesTo` block must declare both `principal` and `resource`");
                self.errors.push(error);
            }
        }
        Ok(RawAppliesTo {
            principal_types: principal.unwrap_or_default(),
            resource_types: resource.unwrap_or_default(),
            context: context
                .unwrap_or_else(|| empty_record(Self::origin(keyword.start, close.end))),
        })
    }

    fn parse_type_decl(&mut self, namespace: &mut RawNamespace) -> PResult<()> {
        self.bump();
        let (name, token) = self.parse_ident("a common type name")?;
        self.expect_punct(Punct::Eq, "after the common type name")?;
        let ty = self.parse_type(1)?;
        self.expect_punct(Punct::Semi, "after the common type declaration")?;
        namespace.common_types.push(RawCommonType {
            name,
            origin: Self::origin(token.start, token.end),
            ty,
        });
        Ok(())
    }

    fn too_deep(&self) -> Fatal {
        let token = self.peek();
        Box::new(
            self.error_at(
                SchemaErrorKind::TooDeep,
                format!("type nesting exceeds the limit of {MAX_TYPE_DEPTH} levels"),
                token.start,
                token.end,
            )
            .with_help("flatten the type, or name inner parts with `type` declarations"),
        )
    }

    /// `Type := Path | 'Set' '<' Type '>' | RecType`, at nesting `level` (1 for a top-level type).
    fn parse_type(&mut self, level: usize) -> PResult<RawType> {
        if level > MAX_TYPE_DEPTH {
            return Err(self.too_deep());
        }
        let token = self.peek();
        match token.tok {
            Tok::Punct(Punct::LBrace) => self.parse_record(level),
            Tok::Ident("Set") if self.peek_nth(1).tok == Tok::Punct(Punct::Lt) => {
                self.bump();
                self.bump();
                let element = self.parse_type(level + 1)?;
                let close = self.expect_punct(Punct::Gt, "to close `Set<`")?;
                Ok(RawType {
                    kind: RawTypeKind::Set(Box::new(element)),
                    origin: Self::origin(token.start, close.end),
                })
            }
            Tok::Ident(_) => {
                let name = self.parse_path("a type")?;
                let origin = name.origin.clone();
                Ok(RawType {
                    kind: RawTypeKind::EntityOrCommon(name),
                    origin,
                })
            }
            _ => Err(self.unexpected("a type")),
        }
    }

    /// `RecType := '{' [AttrDecl {',' AttrDecl} [',']] '}'`.
    fn parse_record(&mut self, level: usize) -> PResult<RawType> {
        if level > MAX_TYPE_DEPTH {
            return Err(self.too_deep());
        }
        let open = self.expect_punct(Punct::LBrace, "to open a record type")?;
        let mut record = RawRecord::default();
        while !self.at_punct(Punct::RBrace) {
            self.parse_annotations()?;
            let (name, _) = match self.peek().tok {
                Tok::Str(_) => self.parse_str("an attribute name")?,
                Tok::Ident(_) => self.parse_ident("an attribute name")?,
                _ => return Err(self.unexpected("an attribute name or `}`")),
            };
            let required = if self.at_punct(Punct::Question) {
                self.bump();
                false
            } else {
                true
            };
            self.expect_punct(Punct::Colon, "after the attribute name")?;
            let ty = self.parse_type(level + 1)?;
            record.attrs.push(RawAttr { name, required, ty });
            if !self.at_punct(Punct::Comma) {
                break;
            }
            self.bump();
        }
        let close = self.expect_punct(Punct::RBrace, "to close the record type")?;
        Ok(RawType {
            kind: RawTypeKind::Record(record),
            origin: Self::origin(open.start, close.end),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<String> {
        match lex(src) {
            Ok(tokens) => tokens.iter().map(|t| format!("{:?}", t.tok)).collect(),
            Err((_, _, message)) => vec![message],
        }
    }

    #[test]
    fn lexer_splits_keywords_paths_and_strings() {
        assert_eq!(
            kinds("entity A::B // comment\n \"x\\\"y\" Set<"),
            [
                "Ident(\"entity\")",
                "Ident(\"A\")",
                "Punct(ColonColon)",
                "Ident(\"B\")",
                "Str(\"\\\"x\\\\\\\"y\\\"\")",
                "Ident(\"Set\")",
                "Punct(Lt)"
            ]
        );
        assert_eq!(
            kinds("a:b"),
            ["Ident(\"a\")", "Punct(Colon)", "Ident(\"b\")"]
        );
        assert_eq!(kinds("12ab"), ["Number(\"12\")", "Ident(\"ab\")"]);
        // Unicode whitespace is skipped, as Cedar's `\s` does.
        assert_eq!(kinds("a\u{a0}b"), ["Ident(\"a\")", "Ident(\"b\")"]);
    }

    #[test]
    fn lexer_rejects_bad_input() {
        assert_eq!(kinds("\"abc"), ["unterminated string literal"]);
        assert_eq!(kinds("é"), ["unexpected character `é`"]);
        assert_eq!(
            kinds("/ x"),
            ["unexpected character `/`; comments start with `//`"]
        );
        assert_eq!(
            kinds("\"a\\\nb\""),
            ["a backslash at the end of a line is not allowed in a string literal"]
        );
    }

    #[test]
    fn unescape_follows_cedar_rules() {
        assert_eq!(
            unescape(r#"a\n\t\r\\\0\'\""#).as_deref(),
            Ok("a\n\t\r\\\0'\"")
        );
        assert_eq!(
            unescape(r"\x41\u{1F600}\u{1_0}\u{0}").as_deref(),
            Ok("A\u{1F600}\u{10}\0")
        );
        assert_eq!(unescape("line\nbreak").as_deref(), Ok("line\nbreak"));
        for bad in [
            r"\q",
            r"\x8F",
            r"\x4",
            r"\xZZ",
            r"\u123",
            r"\u{}",
            r"\u{_1}",
            r"\u{1234567}",
            r"\u{110000}",
            r"\u{D800}",
            r"\u{12",
            "\r",
        ] {
            assert!(unescape(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
