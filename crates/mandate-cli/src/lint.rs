//! `mandate lint`: everything `mandate check` does (parse, and with `--schema` load the schema
//! and type-check every policy), then the lints of `mandate::lint`, reported for people
//! (`human`), programs (`json`), code scanning (`sarif`) or GitHub workflow annotations
//! (`github`).
//!
//! Exit status: 0 no finding at or above `--fail-on` (default `error`), 1 findings, 2 usage,
//! configuration or I/O error. `--exit-zero` turns 1 into 0.

mod github;
mod sarif;

use crate::output::{err, out, report};
use mandate::Diagnostic;
use mandate::lint::{LINTS, LintConfig, LintFile, LintOptions};
use mandate::load::{FileDiagnostics, ParsedFile};
use std::path::{Component, Path, PathBuf};

/// The name of the configuration file, looked for in the linted paths and their parents.
pub const CONFIG_FILE: &str = "mandate.toml";

/// Arguments of `mandate lint`.
#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// A schema (`.cedarschema` or `.json`): type-check every policy against it and run the lints
    /// that need one.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: LintFormat,
    /// The lowest severity that makes the exit status 1.
    #[arg(long, value_enum, default_value = "error")]
    fail_on: FailOn,
    /// Exit 0 even when there are findings (usage, configuration and I/O errors still exit 2).
    #[arg(long)]
    exit_zero: bool,
    /// The configuration file to use instead of the nearest `mandate.toml`.
    #[arg(long, conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Use no configuration file: every lint at its default severity.
    #[arg(long)]
    no_config: bool,
    /// Judge time-limited grants as of this time (`2026-01-31` or `2026-01-31T12:00:00Z`)
    /// instead of the system clock.
    #[arg(long, value_parser = parse_now)]
    now: Option<i64>,
    /// A limit as `NAME=VALUE`, e.g. `max_source_bytes=1000000` (repeatable; overrides the
    /// `[limits]` of `mandate.toml`; the names and defaults are in docs/security.md).
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    limit: Vec<String>,
    /// List every lint (code, name, default severity, summary) and exit.
    #[arg(long)]
    list: bool,
    /// Policy files or directories (`*.cedar`, `*.mandate`).
    #[arg(required_unless_present = "list")]
    paths: Vec<PathBuf>,
}

/// Output formats of `mandate lint`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintFormat {
    /// Source snippets with underlines and help, then a summary.
    Human,
    /// An array of diagnostics (the same objects as `mandate check --format json`, plus `url`).
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=…,line=…::…`), shown as annotations.
    Github,
}

/// `--fail-on` levels.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Warnings and errors fail.
    Warning,
    /// Only errors fail.
    Error,
}

fn parse_now(s: &str) -> Result<i64, String> {
    mandate::lint::parse_datetime(s).ok_or_else(|| {
        format!("`{s}` is not a datetime such as `2026-01-31` or `2026-01-31T12:00:00Z`")
    })
}

/// Runs `mandate lint`.
pub fn run(args: &LintArgs) -> u8 {
    if args.list {
        out(&list());
        return 0;
    }
    let (config, config_dir, mut limits) = match load_config(args) {
        Ok(c) => c,
        Err(files) => {
            report(&files);
            return 2;
        }
    };
    if let Err(e) = crate::authorize::apply_limit_args(&mut limits, &args.limit) {
        err(&format!("error: {e}\n"));
        return 2;
    }
    let selected = match select_files(&args.paths, &config, config_dir.as_deref()) {
        Ok(f) => f,
        Err(d) => {
            report(&[d]);
            return 2;
        }
    };
    let parsed = match mandate::load::parse_files_limited(&selected, &limits) {
        Ok(p) => p,
        Err(d) => {
            report(&[d]);
            return 2;
        }
    };
    let mut extra: Vec<FileDiagnostics> = Vec::new();
    let schema = match &args.schema {
        None => None,
        Some(path) => match mandate::load::load_schema(path) {
            Ok(s) => Some(s),
            Err(d) => {
                if d.diagnostics
                    .iter()
                    .any(|x| x.code == "MD0030" || x.code == "MD0031")
                {
                    report(&[d]);
                    return 2;
                }
                extra.push(d);
                None
            }
        },
    };
    let now = args.now.unwrap_or_else(system_now);
    let policy_directory = args.paths.iter().any(|p| p.is_dir()) || parsed.len() > 1;
    let mut results = lint_parsed(&parsed, schema.as_ref(), &config, now, policy_directory);
    results.extend(extra);
    let n_files = parsed.len();
    let root = repository_root();
    let text = match args.format {
        LintFormat::Human => human(&results, n_files),
        LintFormat::Json => json(&results),
        LintFormat::Sarif => sarif::render(&results, &root),
        LintFormat::Github => github::render(&results, &root),
    };
    out(&text);
    let failing = results
        .iter()
        .flat_map(|f| &f.diagnostics)
        .any(|d| match args.fail_on {
            FailOn::Error => d.severity == mandate::Severity::Error,
            FailOn::Warning => d.severity >= mandate::Severity::Warning,
        });
    u8::from(failing && !args.exit_zero)
}

/// Type-checks (with a schema) and lints parsed files; returns the diagnostics of each file,
/// parse errors first, then the rest by position.
pub fn lint_parsed(
    parsed: &[ParsedFile],
    schema: Option<&mandate::Schema>,
    config: &LintConfig,
    now: i64,
    policy_directory: bool,
) -> Vec<FileDiagnostics> {
    let files: Vec<LintFile<'_>> = parsed
        .iter()
        .map(|f| LintFile {
            source: &f.source,
            statements: &f.parsed.file.statements,
            parsed_cleanly: !f.parsed.has_errors(),
        })
        .collect();
    let options = LintOptions {
        schema,
        config,
        now_millis: Some(now),
        policy_directory,
    };
    let lints = mandate::lint::lint(&files, &options);
    parsed
        .iter()
        .zip(lints)
        .map(|(f, lint_diags)| {
            let mut later: Vec<Diagnostic> = Vec::new();
            if let Some(schema) = schema
                && !f.parsed.has_errors()
            {
                later.extend(mandate::validate_policies(
                    schema,
                    &f.parsed.file.statements,
                ));
            }
            later.extend(lint_diags);
            later.sort_by_key(|d| d.span().map_or(0, |s| s.start));
            let mut diagnostics = f.parsed.diagnostics.clone();
            diagnostics.extend(later);
            FileDiagnostics {
                source: f.source.clone(),
                diagnostics,
            }
        })
        .collect()
}

fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn list() -> String {
    let mut s = String::new();
    for l in LINTS {
        s.push_str(&format!(
            "{}  {:<24} {:<7} {}{}\n",
            l.code,
            l.name,
            l.default_severity.as_str(),
            l.summary,
            if l.needs_schema {
                " (needs --schema)"
            } else {
                ""
            }
        ));
    }
    s
}

/// The configuration, the directory it came from and the limits of its `[limits]` table.
fn load_config(
    args: &LintArgs,
) -> Result<(LintConfig, Option<PathBuf>, mandate::Limits), Vec<FileDiagnostics>> {
    if args.no_config {
        return Ok((LintConfig::default(), None, mandate::Limits::default()));
    }
    let path = match &args.config {
        Some(p) => Some(p.clone()),
        None => find_config(&args.paths)?,
    };
    let Some(path) = path else {
        return Ok((LintConfig::default(), None, mandate::Limits::default()));
    };
    let text = mandate::load::read_text(&path).map_err(|d| vec![d])?;
    let config = LintConfig::from_toml_str(&text).map_err(|diagnostics| {
        vec![FileDiagnostics {
            source: mandate::Source::new(path.display().to_string(), text.clone()),
            diagnostics,
        }]
    })?;
    let mut limits = mandate::Limits::default();
    let mut problems = Vec::new();
    for (name, value, span) in &config.limits {
        let result = usize::try_from(*value)
            .map_err(|_| format!("the value of `{name}` must be a non-negative integer"))
            .and_then(|v| limits.set(name, v));
        if let Err(e) = result {
            problems.push(
                mandate::Diagnostic::error(
                    mandate::lint::config::CONFIG_ERROR,
                    format!("invalid `[limits]` in `mandate.toml`: {e}"),
                )
                .with_label(*span, "")
                .with_help("the limits and their defaults are listed in docs/security.md"),
            );
        }
    }
    if !problems.is_empty() {
        return Err(vec![FileDiagnostics {
            source: mandate::Source::new(path.display().to_string(), text),
            diagnostics: problems,
        }]);
    }
    let dir = absolute(&path).parent().map(Path::to_path_buf);
    Ok((config, dir, limits))
}

/// The nearest `mandate.toml` in the paths' directories or their parents. All paths must agree.
fn find_config(paths: &[PathBuf]) -> Result<Option<PathBuf>, Vec<FileDiagnostics>> {
    let mut found: Option<PathBuf> = None;
    for p in paths {
        let abs = absolute(p);
        let start = if abs.is_dir() {
            Some(abs.as_path())
        } else {
            abs.parent()
        };
        let this = start
            .and_then(|dir| {
                dir.ancestors()
                    .map(|d| d.join(CONFIG_FILE))
                    .find(|c| c.is_file())
            })
            .map(|c| relative_to_cwd(&c));
        match (&found, this) {
            (None, this) => found = this,
            (Some(a), Some(b)) if *a != b => {
                return Err(vec![FileDiagnostics::bare(
                    &p.display().to_string(),
                    Diagnostic::error(
                        "MD0070",
                        format!(
                            "the paths belong to different policy repositories (`{}` and `{}`)",
                            a.display(),
                            b.display()
                        ),
                    )
                    .with_help("lint each repository separately, or choose one with `--config`"),
                )]);
            }
            _ => {}
        }
    }
    Ok(found)
}

/// `path` relative to the current directory when it is below it (for messages), else as is.
fn relative_to_cwd(path: &Path) -> PathBuf {
    let cwd = absolute(Path::new("."));
    path.strip_prefix(&cwd)
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

/// The policy files under `paths`, without those that directory walks must skip (`exclude`).
fn select_files(
    paths: &[PathBuf],
    config: &LintConfig,
    config_dir: Option<&Path>,
) -> Result<Vec<PathBuf>, FileDiagnostics> {
    let excluded: Vec<PathBuf> = match config_dir {
        Some(dir) => config
            .exclude
            .iter()
            .map(|e| normalize(&dir.join(e)))
            .collect(),
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for p in paths {
        let found = mandate::load::policy_files(std::slice::from_ref(p))?;
        if !p.is_dir() {
            out.extend(found);
            continue;
        }
        let root = absolute(p);
        // An exclusion applies below the walked directory, not to a directory given explicitly.
        let active: Vec<&PathBuf> = excluded
            .iter()
            .filter(|e| e.starts_with(&root) && **e != root)
            .collect();
        out.extend(
            found
                .into_iter()
                .filter(|f| !active.iter().any(|e| absolute(f).starts_with(e))),
        );
    }
    Ok(out)
}

/// The absolute, lexically normalised form of a path (no file system access beyond the
/// current directory).
pub fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    normalize(&joined)
}

fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The root that SARIF and GitHub paths are relative to: the nearest directory at or above the
/// current one that holds `.git`, else the current directory.
fn repository_root() -> PathBuf {
    let cwd = absolute(Path::new("."));
    cwd.ancestors()
        .find(|d| d.join(".git").exists())
        .map_or_else(|| cwd.clone(), Path::to_path_buf)
}

/// A source's path relative to `root`, with `/` separators; the absolute path when the file is
/// outside `root`.
pub fn relative_path(name: &str, root: &Path) -> String {
    let abs = absolute(Path::new(name));
    let rel = abs.strip_prefix(root).unwrap_or(&abs);
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::RootDir => Some(String::new()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn human(results: &[FileDiagnostics], n_files: usize) -> String {
    let mut text = String::new();
    for f in results.iter().filter(|f| !f.diagnostics.is_empty()) {
        text.push_str(&f.render());
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
    }
    let all = results.iter().flat_map(|f| &f.diagnostics);
    let n_errors = all.clone().filter(|d| d.is_error()).count();
    let n_warnings = all
        .clone()
        .filter(|d| d.severity == mandate::Severity::Warning)
        .count();
    text.push_str(&crate::output::summary(
        "linted", n_files, n_errors, n_warnings,
    ));
    text
}

fn json(results: &[FileDiagnostics]) -> String {
    let all: Vec<serde_json::Value> = results
        .iter()
        .flat_map(|f| {
            f.diagnostics.iter().map(|d| {
                let mut v = d.to_json(Some(&f.source));
                if let (Some(obj), Some(lint)) = (v.as_object_mut(), mandate::lint::by_code(d.code))
                {
                    obj.insert("url".into(), lint.url().into());
                }
                mandate::diagnostics::sort_keys(v)
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".to_string());
    s.push('\n');
    s
}
