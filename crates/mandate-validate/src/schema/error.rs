//! Errors from loading a schema: what went wrong, where, and a hint on how to fix it.
//!
//! Message style: lowercase start, no final period, one line, user input in backticks; extra
//! sentences go to `help`.

use std::fmt;

/// Where a schema error is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SchemaLocation {
    /// A place in a source text (the Cedar schema format, or JSON text that failed to parse).
    Text {
        /// First byte (0-based offset into the source).
        start: usize,
        /// One past the last byte.
        end: usize,
        /// 1-based line of `start`.
        line: usize,
        /// 1-based column of `start`, counted in characters.
        column: usize,
    },
    /// A place in a JSON document, as a JSONPath-like path such as `$.NS.entityTypes.User.shape`.
    Json {
        /// The path; keys that are not plain names are written `["key"]`, array indices `[0]`.
        path: String,
    },
}

impl fmt::Display for SchemaLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaLocation::Text { line, column, .. } => write!(f, "{line}:{column}"),
            SchemaLocation::Json { path } => f.write_str(path),
        }
    }
}

/// What kind of problem a [`SchemaError`] reports, for callers that branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaErrorKind {
    /// The text is not valid Cedar schema syntax, or not valid JSON.
    Syntax,
    /// The JSON is well formed but does not have the shape of a Cedar JSON schema.
    JsonStructure,
    /// An identifier that Cedar reserves (`true`, `in`, ..., `__cedar`, or a type keyword such as
    /// `Set` for a common type) is used as a name.
    ReservedName,
    /// A string literal has an invalid escape sequence.
    InvalidEscape,
    /// The same annotation key appears twice on one declaration.
    DuplicateAnnotation,
    /// A namespace is declared twice.
    DuplicateNamespace,
    /// An entity type, common type or action is declared twice in one namespace.
    DuplicateDeclaration,
    /// An `appliesTo` block repeats or omits `principal`/`resource`, repeats `context`, or gives
    /// an empty list.
    InvalidAppliesTo,
    /// An entity type named `Action` is declared.
    ActionEntityTypeDeclared,
    /// A declaration in a namespace shadows one in the empty namespace (Cedar RFC 70).
    Shadowing,
    /// A type name does not resolve to any declared type.
    UndefinedType,
    /// A parent action (`in` / `memberOf`) is not declared.
    UndefinedAction,
    /// An `Extension` type names an unknown extension.
    UnknownExtension,
    /// Common types refer to each other in a cycle.
    CommonTypeCycle,
    /// Actions are members of each other in a cycle.
    ActionCycle,
    /// An entity shape or action context is not a record type.
    NotARecord,
    /// A feature Cedar does not accept by default (action attributes, open records).
    Unsupported,
    /// A type nests deeper than [`super::MAX_TYPE_DEPTH`].
    TooDeep,
    /// Inlining common types would build more than [`super::MAX_INLINED_TYPE_NODES`] type nodes.
    TooLarge,
}

/// One problem found while loading a schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    /// What kind of problem this is.
    pub kind: SchemaErrorKind,
    /// One-line message (lowercase start, no final period, user input in backticks).
    pub message: String,
    /// A hint on how to fix it, such as ``did you mean `User`?``.
    pub help: Option<String>,
    /// Where the problem is, when known.
    pub location: Option<SchemaLocation>,
}

impl SchemaError {
    /// A new error without help.
    pub(crate) fn new(
        kind: SchemaErrorKind,
        message: impl Into<String>,
        location: Option<SchemaLocation>,
    ) -> Self {
        SchemaError {
            kind,
            message: message.into(),
            help: None,
            location,
        }
    }

    /// The same error with `help` (replacing any previous help).
    #[must_use]
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same error with `help` if there is one.
    #[must_use]
    pub(crate) fn with_opt_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaError {}

/// All the problems found while loading a schema; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaErrors(Vec<SchemaError>);

impl SchemaErrors {
    /// Wraps errors, or returns `None` when there are none.
    pub(crate) fn from_vec(errors: Vec<SchemaError>) -> Option<Self> {
        if errors.is_empty() {
            None
        } else {
            Some(SchemaErrors(errors))
        }
    }

    /// Exactly one error.
    pub(crate) fn one(error: SchemaError) -> Self {
        SchemaErrors(vec![error])
    }

    /// The first error (there always is one).
    pub fn first(&self) -> Option<&SchemaError> {
        self.0.first()
    }

    /// All errors, in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, SchemaError> {
        self.0.iter()
    }

    /// How many errors there are (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`; present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors as a vector.
    pub fn into_vec(self) -> Vec<SchemaError> {
        self.0
    }

    /// All errors as a slice.
    pub fn as_slice(&self) -> &[SchemaError] {
        &self.0
    }
}

impl fmt::Display for SchemaErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SchemaErrors {}

impl IntoIterator for SchemaErrors {
    type Item = SchemaError;
    type IntoIter = std::vec::IntoIter<SchemaError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a SchemaErrors {
    type Item = &'a SchemaError;
    type IntoIter = std::slice::Iter<'a, SchemaError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Line starts of a source text, to turn byte offsets into line and column.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, byte)| byte == b'\n')
                .map(|(index, _)| index + 1),
        );
        LineIndex { text, line_starts }
    }

    /// The location of the byte range `start..end`.
    pub(crate) fn locate(&self, start: usize, end: usize) -> SchemaLocation {
        let start = start.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&start) {
            Ok(index) => index,
            Err(index) => index.saturating_sub(1),
        };
        let line_start = self.line_starts.get(line_index).copied().unwrap_or(0);
        let column = self
            .text
            .get(line_start..start)
            .map_or(start.saturating_sub(line_start), |s| s.chars().count());
        SchemaLocation::Text {
            start,
            end: end.max(start),
            line: line_index + 1,
            column: column + 1,
        }
    }

    /// The byte offset of a 1-based line and column (columns counted in bytes, as `serde_json` does).
    pub(crate) fn offset_of(&self, line: usize, column: usize) -> usize {
        let line_start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len());
        let mut offset = line_start
            .saturating_add(column.saturating_sub(1))
            .min(self.text.len());
        // serde_json counts columns in bytes and can point inside a multi-byte character (at
        // the end of an unterminated string, found by the schema fuzz target): step back to
        // the character's start.
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

/// Edit distance between two strings, counted in characters: insertions, deletions,
/// substitutions and swaps of two adjacent characters each cost one (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    // Three rolling rows: two rows back, the previous row, and the current one.
    let mut before: Vec<usize> = vec![0; width];
    let mut previous: Vec<usize> = (0..width).collect();
    let mut current: Vec<usize> = vec![0; width];
    for (i, a_char) in a.iter().enumerate() {
        if let Some(first) = current.first_mut() {
            *first = i + 1;
        }
        for (j, b_char) in b.iter().enumerate() {
            let at = |row: &[usize], index: usize| row.get(index).copied().unwrap_or(usize::MAX);
            let substitution = at(&previous, j).saturating_add(usize::from(a_char != b_char));
            let deletion = at(&previous, j + 1).saturating_add(1);
            let insertion = at(&current, j).saturating_add(1);
            let mut best = substitution.min(deletion).min(insertion);
            let swapped = i > 0
                && j > 0
                && a.get(i - 1) == Some(b_char)
                && b.get(j - 1) == Some(a_char)
                && a_char != b_char;
            if swapped {
                best = best.min(at(&before, j - 1).saturating_add(1));
            }
            if let Some(slot) = current.get_mut(j + 1) {
                *slot = best;
            }
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous.last().copied().unwrap_or(0)
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_len = word.chars().count();
    // One edit per three characters: short names only match by letter case, so `X` never
    // suggests `B`.
    let limit = word_len / 3;
    let lowered = word.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == word {
            continue;
        }
        // A difference only in letter case counts as the closest possible match.
        let distance = if candidate.to_lowercase() == lowered {
            0
        } else {
            edit_distance(word, candidate)
        };
        if distance > limit {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_distance, best_candidate)) => {
                distance < best_distance
                    || (distance == best_distance && candidate < best_candidate)
            }
        };
        if better {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// ``did you mean `x`?`` for the closest candidate, if any.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|candidate| format!("did you mean `{candidate}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("User", "Usr"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("é", "e"), 1);
        assert_eq!(edit_distance("raed", "read"), 1);
        assert_eq!(edit_distance("abc", "ca"), 3);
    }

    #[test]
    fn closest_prefers_small_distance_then_name_order() {
        assert_eq!(closest("Usr", ["User", "Group"]), Some("User"));
        assert_eq!(closest("user", ["User", "Users"]), Some("User"));
        assert_eq!(closest("Photo", ["Album"]), None);
        assert_eq!(closest("abc", ["abd", "abb"]), Some("abb"));
        assert_eq!(closest("X", ["B", "x"]), Some("x"));
        assert_eq!(closest("X", ["B"]), None);
    }

    #[test]
    fn line_index_counts_lines_and_characters() {
        let index = LineIndex::new("ab\ncé d");
        assert_eq!(
            index.locate(0, 1),
            SchemaLocation::Text {
                start: 0,
                end: 1,
                line: 1,
                column: 1
            }
        );
        // "d" is at byte 7 (é is two bytes) and character column 4.
        assert_eq!(
            index.locate(7, 8),
            SchemaLocation::Text {
                start: 7,
                end: 8,
                line: 2,
                column: 4
            }
        );
        assert_eq!(index.offset_of(2, 2), 4);
    }

    #[test]
    fn display_puts_location_first_and_help_last() {
        let error = SchemaError::new(
            SchemaErrorKind::UndefinedType,
            "undefined type `Usr`",
            Some(SchemaLocation::Text {
                start: 0,
                end: 3,
                line: 2,
                column: 5,
            }),
        )
        .with_help("did you mean `User`?");
        assert_eq!(
            error.to_string(),
            "2:5: undefined type `Usr`\n  help: did you mean `User`?"
        );
        let json = SchemaError::new(
            SchemaErrorKind::NotARecord,
            "shape is not a record",
            Some(SchemaLocation::Json {
                path: "$.NS.entityTypes.User.shape".into(),
            }),
        );
        assert_eq!(
            json.to_string(),
            "$.NS.entityTypes.User.shape: shape is not a record"
        );
    }
}
