//! Loading inputs from files: policy files and directories (`*.cedar` in strict Cedar mode,
//! `*.mandate` with Mandate's extensions), schemas (`*.cedarschema` or JSON), entity files and
//! requests. Every problem comes back as a diagnostic tied to its source, never a panic.

use crate::{Diagnostic, Dialect, Entities, ParseOptions, PolicySet, Schema, Source, Span};
use std::path::{Path, PathBuf};

/// Diagnostics about one source file.
#[derive(Clone, Debug)]
pub struct FileDiagnostics {
    /// The file (name and text) the spans point into.
    pub source: Source,
    /// Problems found.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileDiagnostics {
    /// Diagnostics without a text to point into (I/O errors, whole-file problems).
    pub fn bare(name: &str, diagnostic: Diagnostic) -> Self {
        FileDiagnostics {
            source: Source::new(name, ""),
            diagnostics: vec![diagnostic],
        }
    }
    /// Renders every diagnostic like rustc.
    pub fn render(&self) -> String {
        crate::diagnostics::render_all(&self.diagnostics, Some(&self.source))
    }
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Whether a path is a policy file (`*.cedar` or `*.mandate`).
pub fn is_policy_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "cedar" || e == "mandate")
}

/// Expands files and directories into the policy files under them, in sorted path order.
/// A file given explicitly is taken whatever its extension.
///
/// # Errors
/// A path that does not exist or cannot be read.
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, FileDiagnostics> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|e| io_diag(p, &e))?;
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(FileDiagnostics::bare(
                &p.display().to_string(),
                Diagnostic::error("MD0030", format!("`{}` does not exist", p.display()))
                    .with_help("pass policy files or directories"),
            ));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                if !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    stack.push(path);
                }
            } else if is_policy_file(&path) {
                out.push(path);
            }
        }
    }
    Ok(())
}

fn io_diag(path: &Path, e: &std::io::Error) -> FileDiagnostics {
    FileDiagnostics::bare(
        &path.display().to_string(),
        Diagnostic::error("MD0030", format!("cannot read `{}`: {e}", path.display())),
    )
}

/// Reads a file as UTF-8 text.
///
/// # Errors
/// I/O errors and invalid UTF-8, as a diagnostic.
pub fn read_text(path: &Path) -> Result<String, FileDiagnostics> {
    read_text_limited(path, usize::MAX)
}

/// Reads a file as UTF-8 text, refusing one larger than `max_bytes` (`max_source_bytes`)
/// before reading it: its size is looked at first, and at most `max_bytes + 1` bytes are read,
/// so a file that grows meanwhile is refused too.
///
/// # Errors
/// I/O errors, a file over the limit (`MD0019`) and invalid UTF-8, as a diagnostic.
pub fn read_text_limited(path: &Path, max_bytes: usize) -> Result<String, FileDiagnostics> {
    use std::io::Read;
    let too_large = |seen: usize| {
        FileDiagnostics::bare(
            &path.display().to_string(),
            crate::limits::exceeded(
                "MD0019",
                "source too large (bytes)",
                "max_source_bytes",
                seen,
                max_bytes,
            ),
        )
    };
    let file = std::fs::File::open(path).map_err(|e| io_diag(path, &e))?;
    let len = file
        .metadata()
        .map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX))
        .unwrap_or(0);
    if len > max_bytes {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len.min(max_bytes));
    file.take(
        u64::try_from(max_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(1),
    )
    .read_to_end(&mut bytes)
    .map_err(|e| io_diag(path, &e))?;
    if bytes.len() > max_bytes {
        return Err(too_large(bytes.len()));
    }
    String::from_utf8(bytes).map_err(|e| {
        FileDiagnostics::bare(
            &path.display().to_string(),
            Diagnostic::error(
                "MD0031",
                format!(
                    "`{}` is not valid UTF-8 (at byte {})",
                    path.display(),
                    e.utf8_error().valid_up_to()
                ),
            ),
        )
    })
}

/// One parsed policy file.
#[derive(Debug)]
pub struct ParsedFile {
    /// Path and text.
    pub source: Source,
    /// The parse result.
    pub parsed: crate::Parsed,
}

/// Parses every policy file under `paths` (each in its dialect), without building a set.
///
/// # Errors
/// Missing or unreadable paths.
pub fn parse_files(paths: &[PathBuf]) -> Result<Vec<ParsedFile>, FileDiagnostics> {
    parse_files_limited(paths, &crate::Limits::default())
}

/// Parses policy files under `limits`: a file over `max_source_bytes` is refused before it is
/// read and one over `max_source_lines` before it is parsed (the error ends the run, like an
/// unreadable file); nesting is bounded while parsing; string literals, entity ids and set
/// literals over their limits, and policies past `max_policies` over all the files, are error
/// diagnostics (`MD0019`) of their file.
///
/// # Errors
/// The first file that cannot be read or is over a size limit.
pub fn parse_files_limited(
    paths: &[PathBuf],
    limits: &crate::Limits,
) -> Result<Vec<ParsedFile>, FileDiagnostics> {
    let mut out = Vec::new();
    let mut statements = 0usize;
    for path in policy_files(paths)? {
        let text = read_text_limited(&path, limits.max_source_bytes)?;
        let name = path.display().to_string();
        crate::version::check_source(&name, &text, limits)?;
        let options = ParseOptions {
            dialect: Dialect::for_path(&path),
            limits: limits.parse_limits(),
        };
        let mut parsed = crate::parse(&text, options);
        if !parsed.has_errors() {
            let literals = crate::version::check_literals(&parsed.file.statements, limits);
            parsed.diagnostics.extend(literals);
            let before = statements;
            statements = statements.saturating_add(parsed.file.statements.len());
            if statements > limits.max_policies && before <= limits.max_policies {
                parsed.diagnostics.push(
                    crate::limits::exceeded(
                        "MD0019",
                        "too many policies (after this file)",
                        "max_policies",
                        statements,
                        limits.max_policies,
                    )
                    .with_label(no_span(), ""),
                );
            }
        }
        out.push(ParsedFile {
            source: Source::new(name, text),
            parsed,
        });
    }
    Ok(out)
}

/// Loads a policy set from files and directories. Positional ids (`policyN`) continue across files
/// in load order.
///
/// # Errors
/// Every diagnostic of every file, when any is an error.
pub fn load_policies(paths: &[PathBuf]) -> Result<PolicySet, Vec<FileDiagnostics>> {
    let files = parse_files(paths).map_err(|d| vec![d])?;
    let mut failed = Vec::new();
    let mut set = PolicySet::new();
    for f in files {
        if f.parsed.has_errors() {
            failed.push(FileDiagnostics {
                source: f.source,
                diagnostics: f.parsed.diagnostics,
            });
            continue;
        }
        if let Err(diags) = set.add_statements(f.parsed.file.statements) {
            failed.push(FileDiagnostics {
                source: f.source,
                diagnostics: diags,
            });
        }
    }
    if failed.is_empty() {
        Ok(set)
    } else {
        Err(failed)
    }
}

/// Loads a policy set from one string (as one Mandate-dialect file named `name`).
///
/// # Errors
/// The diagnostics, when any is an error.
pub fn policies_from_str(
    name: &str,
    text: &str,
    dialect: Dialect,
) -> Result<PolicySet, FileDiagnostics> {
    let parsed = crate::parse(
        text,
        ParseOptions {
            dialect,
            ..ParseOptions::default()
        },
    );
    let source = Source::new(name, text);
    if parsed.has_errors() {
        return Err(FileDiagnostics {
            source,
            diagnostics: parsed.diagnostics,
        });
    }
    let mut set = PolicySet::new();
    set.add_statements(parsed.file.statements)
        .map_err(|diagnostics| FileDiagnostics {
            source,
            diagnostics,
        })?;
    Ok(set)
}

/// Loads a schema: JSON when the file name ends in `.json`, else Cedar's schema syntax.
///
/// # Errors
/// Unreadable file or invalid schema.
pub fn load_schema(path: &Path) -> Result<Schema, FileDiagnostics> {
    let text = read_text(path)?;
    let json = path.extension().is_some_and(|e| e == "json");
    schema_from_str(&path.display().to_string(), &text, json)
}

/// Parses a schema from text.
///
/// # Errors
/// Invalid schema, as diagnostics.
pub fn schema_from_str(name: &str, text: &str, json: bool) -> Result<Schema, FileDiagnostics> {
    let res = if json {
        Schema::from_json_str(text)
    } else {
        Schema::from_cedarschema(text)
    };
    res.map_err(|errors| schema_diagnostics(name, text, &errors))
}

/// One `MD0040` per schema error, pointing into the schema text where the error has a place in
/// it (so renderers show the snippet and SARIF a region); a JSON path leads the message.
fn schema_diagnostics(
    name: &str,
    text: &str,
    errors: &mandate_validate::schema::SchemaErrors,
) -> FileDiagnostics {
    use mandate_validate::schema::SchemaLocation;
    let diagnostics = errors
        .iter()
        .map(|e| {
            let mut d = match &e.location {
                Some(SchemaLocation::Text { start, end, .. }) => {
                    Diagnostic::error("MD0040", format!("invalid schema: {}", e.message))
                        .with_label(Span::new(*start, (*end).max(*start)), "here")
                }
                Some(location @ SchemaLocation::Json { .. }) => Diagnostic::error(
                    "MD0040",
                    format!("invalid schema: {location}: {}", e.message),
                ),
                None => Diagnostic::error("MD0040", format!("invalid schema: {}", e.message)),
            };
            if let Some(help) = &e.help {
                d = d.with_help(help.clone());
            }
            d
        })
        .collect();
    FileDiagnostics {
        source: Source::new(name, text),
        diagnostics,
    }
}

/// Loads an entity file (Cedar entity JSON), schema-based when a schema is given.
///
/// # Errors
/// Unreadable file or invalid entities, with the JSON path.
pub fn load_entities(path: &Path, schema: Option<&Schema>) -> Result<Entities, FileDiagnostics> {
    let text = read_text(path)?;
    entities_from_str(&path.display().to_string(), &text, schema)
}

/// Parses entities from text.
///
/// # Errors
/// Invalid entities, with the JSON path.
pub fn entities_from_str(
    name: &str,
    text: &str,
    schema: Option<&Schema>,
) -> Result<Entities, FileDiagnostics> {
    Entities::from_json_str(text, schema)
        .map_err(|e| FileDiagnostics::bare(name, json_diag("MD0050", "invalid entities", &e)))
}

/// Checks entity JSON against the limits before any entity is read (see
/// `mandate_eval::entities::check_entity_limits`).
///
/// # Errors
/// The first limit exceeded, with its JSON path.
pub fn check_entity_limits(
    json: &serde_json::Value,
    limits: &crate::Limits,
) -> Result<(), crate::JsonError> {
    mandate_eval::entities::check_entity_limits(json, &limits.json_limits())
}

/// A diagnostic for a JSON problem.
pub fn json_diag(code: &'static str, what: &str, e: &crate::JsonError) -> Diagnostic {
    let mut d = Diagnostic::error(code, format!("{what}: {}", e.message))
        .with_note(format!("at {}", e.path));
    if let Some(h) = &e.help {
        d = d.with_help(h.clone());
    }
    d
}

/// A span covering nothing, for diagnostics without a location.
pub fn no_span() -> Span {
    Span::default()
}
