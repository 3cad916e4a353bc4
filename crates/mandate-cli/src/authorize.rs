//! `mandate authorize`: decide requests. Exit status: 0 allow, 2 deny, 1 unusable input.

use crate::output::{err, out, report};
use mandate::load::{FileDiagnostics, json_diag};
use mandate::{Entities, ErrorMode, PolicySet, Response, Schema, is_authorized, request_from_json};
use std::io::BufRead;
use std::path::PathBuf;

/// Arguments of `mandate authorize`.
#[derive(clap::Args, Debug)]
pub struct AuthorizeArgs {
    /// Policy files or directories (repeatable).
    #[arg(long, required = true, num_args = 1..)]
    policies: Vec<PathBuf>,
    /// Entity file (Cedar entity JSON).
    #[arg(long)]
    entities: Option<PathBuf>,
    /// Schema (`.cedarschema` or `.json`): schema-based parsing of entities and context, and
    /// request validation.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Request file (JSON).
    #[arg(long, conflicts_with_all = ["request_json", "batch"])]
    request: Option<PathBuf>,
    /// Request as a JSON string.
    #[arg(long, conflicts_with = "batch")]
    request_json: Option<String>,
    /// File of requests, one JSON object per line; one JSON result per line is printed.
    #[arg(long)]
    batch: Option<PathBuf>,
    /// `cedar` (skip erroring policies) or `deny-on-forbid-error` (an erroring forbid denies).
    #[arg(long, default_value = "deny-on-forbid-error", value_parser = ["cedar", "deny-on-forbid-error"])]
    error_mode: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: crate::check::Format,
}

struct Inputs {
    policies: PolicySet,
    entities: Entities,
    schema: Option<Schema>,
    mode: ErrorMode,
}

fn load(args: &AuthorizeArgs) -> Result<Inputs, Vec<FileDiagnostics>> {
    let schema = match &args.schema {
        Some(p) => Some(mandate::load::load_schema(p).map_err(|d| vec![d])?),
        None => None,
    };
    let policies = mandate::load::load_policies(&args.policies)?;
    let entities = match &args.entities {
        Some(p) => mandate::load::load_entities(p, schema.as_ref()).map_err(|d| vec![d])?,
        None => Entities::new(),
    };
    let mode = ErrorMode::parse(&args.error_mode).unwrap_or_default();
    Ok(Inputs {
        policies,
        entities,
        schema,
        mode,
    })
}

/// The JSON form of a response.
pub fn response_json(resp: &Response) -> serde_json::Value {
    serde_json::json!({
        "decision": resp.decision.as_str(),
        "reasons": resp.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "errors": resp.errors.iter().map(|e| serde_json::json!({"policy": e.policy.as_str(), "message": e.error.to_string()})).collect::<Vec<_>>(),
    })
}

fn human(resp: &Response) -> String {
    let mut s = format!("{}\n", resp.decision.as_str().to_uppercase());
    if resp.reasons.is_empty() {
        if resp.decision == mandate::Decision::Deny {
            s.push_str("  no policy permits this request (default deny)\n");
        }
    } else {
        s.push_str(&format!(
            "  determined by: {}\n",
            resp.reasons
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for e in &resp.errors {
        s.push_str(&format!("  error in {}: {}\n", e.policy, e.error));
    }
    s
}

/// Runs `mandate authorize`.
pub fn run(args: &AuthorizeArgs) -> u8 {
    let inputs = match load(args) {
        Ok(i) => i,
        Err(files) => {
            report(&files);
            return 1;
        }
    };
    if let Some(batch) = &args.batch {
        return run_batch(&inputs, batch);
    }
    let (name, text) = match (&args.request, &args.request_json) {
        (Some(p), _) => match mandate::load::read_text(p) {
            Ok(t) => (p.display().to_string(), t),
            Err(d) => {
                report(&[d]);
                return 1;
            }
        },
        (None, Some(j)) => ("--request-json".to_string(), j.clone()),
        (None, None) => {
            err("error: give a request with --request, --request-json or --batch\n");
            return 1;
        }
    };
    let resp = match decide(&inputs, &text) {
        Ok(r) => r,
        Err(d) => {
            report(&[FileDiagnostics::bare(&name, d)]);
            return 1;
        }
    };
    match args.format {
        crate::check::Format::Json => out(&format!("{}\n", response_json(&resp))),
        crate::check::Format::Human => out(&human(&resp)),
    }
    match resp.decision {
        mandate::Decision::Allow => 0,
        mandate::Decision::Deny => 2,
    }
}

fn decide(inputs: &Inputs, text: &str) -> Result<Response, mandate::Diagnostic> {
    let json = mandate_json(text)?;
    let parsed = request_from_json(&json, inputs.schema.as_ref())
        .map_err(|e| json_diag("MD0060", "invalid request", &e))?;
    Ok(is_authorized(
        &inputs.policies,
        &parsed.request,
        &inputs.entities,
        inputs.mode,
    ))
}

fn mandate_json(text: &str) -> Result<serde_json::Value, mandate::Diagnostic> {
    mandate::parse_json_bounded(text).map_err(|e| json_diag("MD0060", "invalid request", &e))
}

fn run_batch(inputs: &Inputs, path: &PathBuf) -> u8 {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            err(&format!("error: cannot read `{}`: {e}\n", path.display()));
            return 1;
        }
    };
    let mut any_bad = false;
    let mut buf = String::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                err(&format!("error: cannot read `{}`: {e}\n", path.display()));
                return 1;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let result = match decide(inputs, &line) {
            Ok(resp) => response_json(&resp),
            Err(d) => {
                any_bad = true;
                serde_json::json!({"line": i + 1, "error": d.message, "note": d.note, "help": d.help})
            }
        };
        buf.push_str(&result.to_string());
        buf.push('\n');
        if buf.len() > 1 << 16 {
            out(&buf);
            buf.clear();
        }
    }
    out(&buf);
    u8::from(any_bad)
}
