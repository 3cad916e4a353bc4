//! `mandate explain`: why one request is allowed or denied: every policy with whether its scope
//! matched, the value of each condition and the errors, and for a denial the permits that came
//! closest. The decision is a dry run (nothing is charged). Exit status as `authorize`: 0 allow,
//! 2 deny, 1 unusable input.

use crate::authorize::{StateArgs, build_engine, parse_uid, report_engine_error};
use crate::output::{err, out, report};
use mandate::load::FileDiagnostics;
use mandate::{EngineOptions, ErrorMode};
use std::path::PathBuf;

/// Arguments of `mandate explain`.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// Policy files or directories (repeatable).
    #[arg(long, required = true, num_args = 1..)]
    policies: Vec<PathBuf>,
    /// Entity file (Cedar entity JSON).
    #[arg(long)]
    entities: Option<PathBuf>,
    /// Schema (`.cedarschema` or `.json`).
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Request file (JSON, as for `authorize`).
    #[arg(long, conflicts_with = "request_json")]
    request: Option<PathBuf>,
    /// Request as a JSON string.
    #[arg(long)]
    request_json: Option<String>,
    /// A principal the agent acts for (repeatable, nearest first).
    #[arg(long)]
    on_behalf_of: Vec<String>,
    /// `cedar` or `deny-on-forbid-error` (default).
    #[arg(long, default_value = "deny-on-forbid-error", value_parser = ["cedar", "deny-on-forbid-error"])]
    error_mode: String,
    #[command(flatten)]
    state: StateArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: crate::check::Format,
}

/// Runs `mandate explain`.
pub fn run(args: &ExplainArgs) -> u8 {
    let options = EngineOptions {
        error_mode: ErrorMode::parse(&args.error_mode).unwrap_or_default(),
        validate: false,
        ..EngineOptions::default()
    };
    let engine = match build_engine(
        &args.policies,
        args.schema.as_ref(),
        args.entities.as_ref(),
        &args.state,
        options,
    ) {
        Ok(e) => e,
        Err(e) => {
            report_engine_error(&e);
            return 1;
        }
    };
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
            err("error: give a request with --request or --request-json\n");
            return 1;
        }
    };
    let request = engine.request_from_json(&text).and_then(|mut r| {
        for s in &args.on_behalf_of {
            r.on_behalf_of.push(parse_uid(s)?);
        }
        Ok(r)
    });
    let request = match request {
        Ok(r) => r,
        Err(d) => {
            report(&[FileDiagnostics::bare(&name, d)]);
            return 1;
        }
    };
    let explanation = engine.explain(&request);
    match args.format {
        crate::check::Format::Json => match serde_json::to_string(&explanation) {
            Ok(t) => out(&format!("{t}\n")),
            Err(e) => {
                err(&format!("error: {e}\n"));
                return 1;
            }
        },
        crate::check::Format::Human => out(&explanation.to_string()),
    }
    if explanation.decision.allowed { 0 } else { 2 }
}
