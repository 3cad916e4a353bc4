//! Project configuration: the `[lint]` and `[limits]` tables of `mandate.toml`.
//!
//! ```toml
//! [limits]                                   # `mandate::Limits` for check and lint
//! max_source_bytes = 1_000_000
//!
//! [lint]
//! deny = ["unmetered-agent-action"]          # report as errors (fail CI)
//! warn = ["MDL004"]                          # report as warnings
//! allow = ["fallible-forbid"]                # do not report
//! agent-types = ["Platform::Bot"]            # agent types besides those named `Agent`
//! exclude = ["bad", "tests/fixtures"]        # skipped when walking directories
//! ```
//!
//! Lints are named by code (any case) or name. A lint in no list keeps its default severity.
//! Naming a lint in two lists, an unknown lint or an unknown key is an error: a typo in a
//! configuration that guards CI must not go unnoticed. Finding the file is the caller's job, and
//! so is checking the names and values of `[limits]` (this crate does not know the engine's
//! limits).

use std::collections::BTreeMap;

use mandate_syntax::{Diagnostic, Severity, Span, diagnostics::suggest};

use super::{LINTS, Lint, find};

/// The code of every `mandate.toml` problem.
pub const CONFIG_ERROR: &str = "MD0070";

/// What a configuration does with a lint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Not reported.
    Allow,
    /// Reported as a warning.
    Warn,
    /// Reported as an error.
    Deny,
}

impl Level {
    /// `allow`, `warn` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Allow => "allow",
            Level::Warn => "warn",
            Level::Deny => "deny",
        }
    }
}

/// Lint levels and the facts lints cannot read from the policies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LintConfig {
    /// Levels by lint code; lints not listed keep their default severity.
    pub levels: BTreeMap<&'static str, Level>,
    /// Fully qualified entity types to treat as agents, besides every type named `Agent`.
    pub agent_types: Vec<String>,
    /// Paths, relative to the configuration file, that directory walks skip.
    pub exclude: Vec<String>,
    /// The `[limits]` table as written: name, value and the span of the value.
    pub limits: Vec<(String, i64, Span)>,
}

impl LintConfig {
    /// The severity `lint` is reported at, or `None` when it is allowed.
    pub fn severity(&self, lint: &Lint) -> Option<Severity> {
        match self.levels.get(lint.code) {
            None => Some(lint.default_severity),
            Some(Level::Allow) => None,
            Some(Level::Warn) => Some(Severity::Warning),
            Some(Level::Deny) => Some(Severity::Error),
        }
    }

    /// Reads the text of a `mandate.toml`. Tables other than `[lint]` and `[limits]` are
    /// rejected.
    ///
    /// # Errors
    /// Invalid TOML, unknown keys, unknown lints and lints named twice, as diagnostics whose
    /// spans point into `text`.
    pub fn from_toml_str(text: &str) -> Result<LintConfig, Vec<Diagnostic>> {
        let file: RawFile = toml::from_str(text).map_err(|e| {
            let mut d = Diagnostic::error(
                CONFIG_ERROR,
                format!("invalid `mandate.toml`: {}", first_line(e.message())),
            );
            if let Some(range) = e.span() {
                d = d.with_label(Span::new(range.start, range.end), "");
            }
            vec![d.with_help(
                "the file has two tables: `[lint]`, with the keys `allow`, `warn`, `deny`, `agent-types` and `exclude`, and `[limits]`, of limit names and integers (docs/security.md)",
            )]
        })?;
        let limits: Vec<(String, i64, Span)> = file
            .limits
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| {
                let span = Span::new(value.span().start, value.span().end);
                (name, value.into_inner(), span)
            })
            .collect();
        let Some(raw) = file.lint else {
            return Ok(LintConfig {
                limits,
                ..LintConfig::default()
            });
        };
        let mut config = LintConfig {
            limits,
            levels: BTreeMap::new(),
            agent_types: raw
                .agent_types
                .into_iter()
                .map(|s| s.into_inner())
                .collect(),
            exclude: raw.exclude.into_iter().map(|s| s.into_inner()).collect(),
        };
        let mut errors = Vec::new();
        for (level, names) in [
            (Level::Allow, &raw.allow),
            (Level::Warn, &raw.warn),
            (Level::Deny, &raw.deny),
        ] {
            for name in names {
                let span = Span::new(name.span().start, name.span().end);
                let Some(lint) = find(name.get_ref()) else {
                    let mut d = Diagnostic::error(
                        CONFIG_ERROR,
                        format!("unknown lint `{}`", name.get_ref()),
                    )
                    .with_label(span, "not a lint code or name");
                    if let Some(s) = suggest(
                        name.get_ref(),
                        LINTS
                            .iter()
                            .map(|l| l.name)
                            .chain(LINTS.iter().map(|l| l.code)),
                    ) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    } else {
                        d = d.with_help("`mandate lint --list` shows every lint");
                    }
                    errors.push(d);
                    continue;
                };
                if let Some(previous) = config.levels.insert(lint.code, level) {
                    let message = if previous == level {
                        format!(
                            "lint `{}` ({}) is listed twice in `{}`",
                            lint.name,
                            lint.code,
                            level.as_str()
                        )
                    } else {
                        format!(
                            "lint `{}` ({}) is both `{}` and `{}`",
                            lint.name,
                            lint.code,
                            previous.as_str(),
                            level.as_str()
                        )
                    };
                    errors.push(
                        Diagnostic::error(CONFIG_ERROR, message)
                            .with_label(span, "")
                            .with_help("name each lint in one list"),
                    );
                }
            }
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s).trim_end_matches('.')
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    lint: Option<RawLint>,
    limits: Option<BTreeMap<String, toml::Spanned<i64>>>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLint {
    #[serde(default)]
    allow: Vec<toml::Spanned<String>>,
    #[serde(default)]
    warn: Vec<toml::Spanned<String>>,
    #[serde(default)]
    deny: Vec<toml::Spanned<String>>,
    #[serde(default)]
    agent_types: Vec<toml::Spanned<String>>,
    #[serde(default)]
    exclude: Vec<toml::Spanned<String>>,
}

#[cfg(test)]
mod tests {
    #![expect(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::string_slice,
        reason = "test code"
    )]
    use super::*;

    #[test]
    fn levels_by_code_or_name() {
        let c = LintConfig::from_toml_str(
            "[lint]\ndeny = [\"unmetered-agent-action\"]\nallow = [\"mdl004\"]\nagent-types = [\"A::Bot\"]\n",
        )
        .unwrap();
        assert_eq!(c.levels.get("MDL003"), Some(&Level::Deny));
        assert_eq!(c.levels.get("MDL004"), Some(&Level::Allow));
        assert_eq!(c.agent_types, ["A::Bot"]);
        assert_eq!(c.severity(&LINTS[2]), Some(Severity::Error));
        assert_eq!(c.severity(&LINTS[3]), None);
    }

    #[test]
    fn errors_point_into_the_file() {
        let text = "[lint]\ndeny = [\"unmetred-agent-action\"]\nwarn = [\"MDL001\"]\nallow = [\"MDL001\"]\n";
        let errs = LintConfig::from_toml_str(text).unwrap_err();
        assert_eq!(errs.len(), 2);
        // Lists are read in the order allow, warn, deny.
        assert!(
            errs[0].message.contains("both `allow` and `warn`"),
            "{errs:?}"
        );
        assert_eq!(
            errs[1].help.as_deref(),
            Some("did you mean `unmetered-agent-action`?")
        );
        let span = errs[1].span().unwrap();
        assert_eq!(&text[span.range()], "\"unmetred-agent-action\"");
        let errs = LintConfig::from_toml_str("[lints]\n").unwrap_err();
        assert!(
            errs[0].message.starts_with("invalid `mandate.toml`"),
            "{errs:?}"
        );
    }
}
