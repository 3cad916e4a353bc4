//! `mandate check` and `mandate fmt`.

use crate::output::{err, out, report};
use mandate::load::{FileDiagnostics, parse_files_limited};
use std::path::PathBuf;

/// Arguments of `mandate check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// A schema (`.cedarschema` or `.json`) to load and check against.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// A limit as `NAME=VALUE`, e.g. `max_source_bytes=1000000` (repeatable; the names and
    /// defaults are in docs/security.md).
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    limit: Vec<String>,
    /// Policy files or directories (`*.cedar`, `*.mandate`).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Output formats (of `check`, and of the commands that print a result or a report).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text for people (diagnostics with source snippets and underlines).
    Human,
    /// JSON for programs (diagnostics: an array of objects).
    Json,
}

/// Runs `mandate check`.
pub fn run_check(args: &CheckArgs) -> u8 {
    let manifests = mandate::agents::manifest_files(&args.paths);
    let policy_paths: Vec<PathBuf> = args
        .paths
        .iter()
        .filter(|p| !manifests.contains(p))
        .cloned()
        .collect();
    let mut limits = mandate::Limits::default();
    if let Err(e) = crate::authorize::apply_limit_args(&mut limits, &args.limit) {
        err(&format!("error: {e}\n"));
        return 2;
    }
    let files = if policy_paths.is_empty() {
        Vec::new()
    } else {
        match parse_files_limited(&policy_paths, &limits) {
            Ok(f) => f,
            Err(d) => {
                report(&[d]);
                return 2;
            }
        }
    };
    let mut schema_problem = None;
    let schema = match &args.schema {
        Some(path) => match mandate::load::load_schema(path) {
            Ok(s) => Some(s),
            Err(d) => {
                schema_problem = Some(d);
                None
            }
        },
        None => None,
    };
    let mut results: Vec<FileDiagnostics> = files
        .into_iter()
        .map(|f| {
            let mut diagnostics = f.parsed.diagnostics;
            // Type-check against the schema the files that parsed.
            if let Some(schema) = &schema
                && !diagnostics.iter().any(mandate::Diagnostic::is_error)
            {
                diagnostics.extend(mandate::validate_policies(
                    schema,
                    &f.parsed.file.statements,
                ));
            }
            FileDiagnostics {
                source: f.source,
                diagnostics,
            }
        })
        .collect();
    results.extend(schema_problem);
    // Agents manifests (`agents.toml`): parsed, and checked against the schema.
    for path in manifests {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let source = mandate::Source::new(name.clone(), text.clone());
        let mut diagnostics = Vec::new();
        match mandate::registry::Manifest::from_toml_str(&text) {
            Err(e) => diagnostics.push(
                mandate::Diagnostic::error("MD0080", e.to_string())
                    .with_help("see docs/agents.md for the manifest format"),
            ),
            Ok(m) => {
                if let Some(schema) = &schema {
                    for spec in &m.agents {
                        if let Err(e) = mandate::agents::check_agent(spec, schema) {
                            diagnostics.push(mandate::Diagnostic::error(
                                "MD0081",
                                format!(
                                    "agent {} does not fit the schema: {e}",
                                    mandate::Uid::new(spec.entity_type.as_str(), spec.id.as_str())
                                ),
                            ));
                        }
                    }
                }
            }
        }
        results.push(FileDiagnostics {
            source,
            diagnostics,
        });
    }
    let n_files = results.len();
    let n_errors: usize = results
        .iter()
        .map(|f| f.diagnostics.iter().filter(|d| d.is_error()).count())
        .sum();
    let n_warnings: usize = results
        .iter()
        .map(|f| f.diagnostics.iter().filter(|d| !d.is_error()).count())
        .sum();
    match args.format {
        Format::Human => {
            report(&results);
            err(&crate::output::summary(
                "checked", n_files, n_errors, n_warnings,
            ));
        }
        Format::Json => {
            let all: Vec<serde_json::Value> = results
                .iter()
                .flat_map(|f| f.diagnostics.iter().map(|d| d.to_json(Some(&f.source))))
                .collect();
            out(&format!("{}\n", serde_json::Value::Array(all)));
        }
    }
    u8::from(n_errors > 0)
}

/// Arguments of `mandate fmt`.
#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// Do not write; list the files that would change and exit 1 if any.
    #[arg(long)]
    check: bool,
    /// Policy files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Runs `mandate fmt`.
pub fn run_fmt(args: &FmtArgs) -> u8 {
    let paths = match mandate::load::policy_files(&args.paths) {
        Ok(p) => p,
        Err(d) => {
            report(&[d]);
            return 2;
        }
    };
    let mut changed = Vec::new();
    let mut failed = false;
    for path in paths {
        let text = match mandate::load::read_text(&path) {
            Ok(t) => t,
            Err(d) => {
                report(&[d]);
                return 2;
            }
        };
        let options = mandate::ParseOptions {
            dialect: mandate::Dialect::for_path(&path),
            ..mandate::ParseOptions::default()
        };
        match mandate::fmt::format_source(&text, options, &mandate::fmt::FormatOptions::default()) {
            Ok(formatted) => {
                if formatted != text {
                    if !args.check
                        && let Err(e) = std::fs::write(&path, &formatted)
                    {
                        err(&format!("error: cannot write `{}`: {e}\n", path.display()));
                        return 2;
                    }
                    changed.push(path);
                }
            }
            Err(diags) => {
                failed = true;
                report(&[FileDiagnostics {
                    source: mandate::Source::new(path.display().to_string(), text),
                    diagnostics: diags,
                }]);
            }
        }
    }
    for p in &changed {
        if args.check {
            out(&format!("would reformat {}\n", p.display()));
        } else {
            out(&format!("reformatted {}\n", p.display()));
        }
    }
    if failed {
        1
    } else if args.check && !changed.is_empty() {
        err(&format!("{} file(s) would be reformatted\n", changed.len()));
        1
    } else {
        0
    }
}
