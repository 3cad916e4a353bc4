//! SARIF 2.1.0 output for code scanning, with hand-written serde structs: the subset GitHub
//! code scanning reads (tool, rules, results, physical locations), about 100 lines instead of a
//! generated model with its build script and dependencies. Tests check the output against
//! `serde_sarif`'s model.
//!
//! Stable across runs: rule ids are diagnostic codes, paths are relative to the repository root
//! with `/` separators, columns count Unicode code points (`columnKind` says so) and end columns
//! are exclusive, as SARIF defines them.

use super::relative_path;
use mandate::load::FileDiagnostics;
use mandate::{Diagnostic, Severity};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

#[derive(Serialize)]
struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    short_description: Text,
    full_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Help>,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// Descriptions of the language, file and type-checking codes (lints describe themselves).
const CODES: &[(&str, &str)] = &[
    ("MD0001", "syntax error"),
    ("MD0002", "unterminated string"),
    ("MD0003", "unexpected character"),
    ("MD0004", "invalid escape sequence"),
    ("MD0005", "integer literal out of range"),
    ("MD0006", "unknown variable"),
    ("MD0007", "unknown keyword"),
    ("MD0008", "invalid scope"),
    ("MD0009", "expression nested too deeply"),
    ("MD0010", "source too large"),
    ("MD0011", "Mandate extension in a `.cedar` file"),
    ("MD0012", "duplicate policy id"),
    ("MD0013", "duplicate annotation"),
    ("MD0014", "invalid quota clause"),
    ("MD0015", "invalid template slot"),
    ("MD0017", "invalid record key"),
    ("MD0018", "unknown function or method"),
    ("MD0019", "input over a limit (`mandate::Limits`)"),
    ("MD0020", "the formatter refused to write its output"),
    ("MD0030", "file cannot be read"),
    ("MD0031", "file is not UTF-8"),
    ("MD0040", "invalid schema"),
    ("MD0070", "invalid `mandate.toml`"),
    (
        "MD0099",
        "more diagnostics than the limit: the rest are not shown",
    ),
    ("MD0100", "unknown entity type"),
    ("MD0101", "unknown action"),
    ("MD0102", "entity id not in an enumerated entity type"),
    ("MD0103", "no action applies to the scope"),
    ("MD0104", "operand of the wrong type"),
    ("MD0105", "incompatible types"),
    ("MD0106", "unknown attribute"),
    ("MD0107", "optional attribute read without a `has` guard"),
    ("MD0108", "empty set literal"),
    ("MD0109", "wrong number of arguments"),
    ("MD0110", "extension constructor argument not a literal"),
    ("MD0111", "invalid extension literal"),
    ("MD0112", "`getTag` without a `hasTag` guard"),
    ("MD0113", "`getTag` on an entity type without tags"),
    ("MD0114", "unknown extension function"),
    ("MD0115", "quota `by` neither an entity nor a `String`"),
    ("MD0116", "quota `cost` not a `Long`"),
    ("MD0117", "statement too large to validate"),
    ("MD0118", "the statement can never apply"),
];

fn rule(code: &str, severity: Severity) -> Rule {
    if let Some(lint) = mandate::lint::by_code(code) {
        let doc: String = lint.doc_lines().collect::<Vec<_>>().join("\n");
        return Rule {
            id: code.to_string(),
            name: Some(lint.name.to_string()),
            short_description: Text {
                text: lint.summary.to_string(),
            },
            full_description: Text {
                text: lint.description(),
            },
            help_uri: Some(lint.url()),
            help: Some(Help {
                text: doc.clone(),
                markdown: doc,
            }),
            default_configuration: Configuration {
                level: level(lint.default_severity),
            },
        };
    }
    let description = CODES.iter().find(|(c, _)| *c == code).map_or_else(
        || format!("Mandate diagnostic {code}"),
        |(_, d)| (*d).to_string(),
    );
    Rule {
        id: code.to_string(),
        name: None,
        short_description: Text {
            text: description.clone(),
        },
        full_description: Text { text: description },
        help_uri: None,
        help: None,
        default_configuration: Configuration {
            level: level(severity),
        },
    }
}

fn message(d: &Diagnostic) -> String {
    match &d.help {
        Some(help) => format!("{}\nhelp: {help}", d.message),
        None => d.message.clone(),
    }
}

/// Percent-encodes a relative path for a URI reference (`/` kept).
fn uri_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The SARIF log of every diagnostic, paths relative to `root`.
pub fn render(files: &[FileDiagnostics], root: &Path) -> String {
    // Rules referenced by the results, sorted by id.
    let mut rules: BTreeMap<&str, Severity> = BTreeMap::new();
    for d in files.iter().flat_map(|f| &f.diagnostics) {
        rules.entry(d.code).or_insert(d.severity);
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut results = Vec::new();
    for f in files {
        let uri = uri_encode(&relative_path(f.source.name(), root));
        for d in &f.diagnostics {
            let region = d
                .span()
                .filter(|_| !f.source.text().is_empty())
                .map(|span| {
                    let (start_line, start_column) = f.source.line_col(span.start);
                    let (end_line, end_column) = f.source.line_col(span.end);
                    Region {
                        start_line,
                        start_column,
                        end_line,
                        end_column,
                    }
                });
            results.push(SarifResult {
                rule_id: d.code.to_string(),
                rule_index: index.get(d.code).copied().unwrap_or(0),
                level: level(d.severity),
                message: Text { text: message(d) },
                locations: vec![Location {
                    physical_location: PhysicalLocation {
                        artifact_location: ArtifactLocation { uri: uri.clone() },
                        region,
                    },
                }],
            });
        }
    }
    let log = Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: vec![Run {
            tool: Tool {
                driver: Driver {
                    name: "mandate",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: env!("CARGO_PKG_REPOSITORY"),
                    rules: rules.iter().map(|(c, s)| rule(c, *s)).collect(),
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}
