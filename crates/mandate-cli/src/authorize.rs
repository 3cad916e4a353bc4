//! `mandate authorize`: decide requests through the engine (lifecycle gate, policies,
//! delegation, quotas). Exit status: 0 allow, 2 deny, 1 unusable input.
//!
//! Without `--state-dir` every run starts from empty state (quotas count within one run, e.g. a
//! `--batch`); with it, the agent registry and the quota state persist there across runs.

use crate::output::{err, out, report};
use mandate::load::FileDiagnostics;
use mandate::{
    AuthorizeOptions, Decision, Engine, EngineError, EngineOptions, ErrorMode, StoreFailureMode,
};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the engine keeps its state: shared by `authorize`, `quota` and `agents`.
#[derive(clap::Args, Debug, Clone)]
pub struct StateArgs {
    /// Directory for persistent state: the agent registry and, with the memory quota store, the
    /// quota journal. Consecutive runs share it; a crash loses nothing acknowledged.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Quota store: `memory` (default; persistent with --state-dir) or `redis://HOST:PORT/`.
    #[arg(long, default_value = "memory")]
    pub quota_store: String,
    /// Agent registry shared by many nodes: `redis://HOST:PORT/` (default: in the state
    /// directory, or in memory without one).
    #[arg(long)]
    pub registry: Option<String>,
    /// What a decision does when the quota store fails: `deny` (default) or `allow`.
    #[arg(long, default_value = "deny", value_parser = ["deny", "allow"])]
    pub on_store_failure: String,
    /// Audit log file (hash-chained JSON Lines; default with --state-dir: DIR/audit/audit.jsonl).
    #[arg(long)]
    pub audit_file: Option<PathBuf>,
    /// File holding an Ed25519 secret key (64 hex digits, `mandate audit keygen`) that signs the
    /// audit log's checkpoints.
    #[arg(long)]
    pub audit_key: Option<PathBuf>,
    /// A context field to hash in audit records, e.g. `context.api_key` (repeatable).
    #[arg(long = "audit-mask")]
    pub audit_mask: Vec<String>,
    /// A limit as `NAME=VALUE`, e.g. `max_request_bytes=65536` (repeatable; the names and
    /// defaults are in docs/security.md).
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    pub limit: Vec<String>,
}

impl StateArgs {
    /// State in `dir` with the memory quota store and no explicit audit file.
    pub fn in_dir(dir: PathBuf) -> Self {
        StateArgs {
            state_dir: Some(dir),
            quota_store: "memory".into(),
            on_store_failure: "deny".into(),
            registry: None,
            audit_file: None,
            audit_key: None,
            audit_mask: Vec::new(),
            limit: Vec::new(),
        }
    }
}

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
    /// A principal the agent acts for (repeatable, nearest first), e.g.
    /// `'Platform::Human::"alice"'`; added to the request's `on_behalf_of`.
    #[arg(long)]
    on_behalf_of: Vec<String>,
    /// Report what would happen without charging quotas.
    #[arg(long)]
    dry_run: bool,
    /// Keep the quota charges as a reservation that `mandate quota settle` can adjust.
    #[arg(long)]
    reserve: bool,
    /// `cedar` (skip erroring policies) or `deny-on-forbid-error` (an erroring forbid denies).
    #[arg(long, default_value = "deny-on-forbid-error", value_parser = ["cedar", "deny-on-forbid-error"])]
    error_mode: String,
    #[command(flatten)]
    state: StateArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: crate::check::Format,
}

/// Applies `--limit NAME=VALUE` arguments (of `authorize`, `check`, `lint`, …) in order.
///
/// # Errors
/// The first malformed assignment, unknown name or bad value.
pub fn apply_limit_args(limits: &mut mandate::Limits, args: &[String]) -> Result<(), String> {
    for assignment in args {
        limits
            .set_str(assignment)
            .map_err(|e| format!("--limit: {e}"))?;
    }
    Ok(())
}

/// Builds an engine from policy and state arguments.
pub fn build_engine(
    policies: &[PathBuf],
    schema: Option<&PathBuf>,
    entities: Option<&PathBuf>,
    state: &StateArgs,
    options: EngineOptions,
) -> Result<Engine, EngineError> {
    let mut limits = options.limits;
    apply_limit_args(&mut limits, &state.limit).map_err(EngineError::Invalid)?;
    let mut b = Engine::builder()
        .policy_paths(policies.to_vec())
        .options(EngineOptions {
            limits,
            on_store_failure: if state.on_store_failure == "allow" {
                StoreFailureMode::Allow
            } else {
                StoreFailureMode::Deny
            },
            ..options
        });
    if let Some(s) = schema {
        b = b.schema_path(s);
    }
    if let Some(e) = entities {
        b = b.entities_path(e);
    }
    if let Some(dir) = &state.state_dir {
        b = b.state_dir(dir);
    }
    if let Some(url) = &state.registry {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(EngineError::Invalid(format!(
                "unknown registry `{url}`: use `redis://HOST:PORT/` (or omit --registry)"
            )));
        }
        let registry = mandate::registry::RedisRegistry::connect(
            url,
            mandate::registry::RedisRegistryOptions::default(),
        )?;
        b = b.registry(Arc::new(registry));
    }
    let audit_path = state.audit_file.clone().or_else(|| {
        state
            .state_dir
            .as_ref()
            .map(|d| d.join("audit").join("audit.jsonl"))
    });
    if let (Some(path), true) = (
        audit_path,
        state.audit_file.is_some() || state.audit_key.is_some() || !state.audit_mask.is_empty(),
    ) {
        let mut options = limits.audit_options();
        if let Some(key) = &state.audit_key {
            let text = std::fs::read_to_string(key).map_err(|e| {
                EngineError::Invalid(format!("cannot read `{}`: {e}", key.display()))
            })?;
            let seed = mandate::audit_log::signing_key_from_hex(text.trim())
                .map_err(|e| EngineError::Invalid(format!("`{}`: {e}", key.display())))?;
            options.signing_key = Some(seed);
            options.key_id = Some(mandate::audit_log::public_key_hex(&seed));
        }
        let sink = mandate::audit::FileSink::open(&path, options)
            .map_err(|e| EngineError::Invalid(format!("audit log: {e}")))?
            .with_mask(state.audit_mask.clone(), mandate::audit_log::Mask::Hash);
        b = b.audit(Arc::new(sink));
    }
    match state.quota_store.as_str() {
        "memory" => {}
        url if url.starts_with("redis://") || url.starts_with("rediss://") => {
            let store =
                mandate::quota::RedisStore::connect(url, mandate::quota::RedisOptions::default())?;
            b = b.quota_store(Arc::new(store));
        }
        other => {
            return Err(EngineError::Invalid(format!(
                "unknown quota store `{other}`: use `memory` or `redis://HOST:PORT/`"
            )));
        }
    }
    b.build()
}

/// Reports an engine error on stderr.
pub fn report_engine_error(e: &EngineError) {
    match e {
        EngineError::Load(files) => {
            report(files);
        }
        other => err(&format!("error: {other}\n")),
    }
}

/// The JSON form of a decision (the shape Cedar's conformance tooling reads, plus Mandate's
/// fields).
pub fn decision_json(d: &Decision) -> serde_json::Value {
    let mut v = serde_json::json!({
        "decision": d.decision_str(),
        "reasons": d.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "errors": d.errors,
        "layer": d.layer.as_str(),
        "id": d.id,
        "policy_version": &*d.policy_version,
    });
    if let Some(obj) = v.as_object_mut() {
        if !d.quota.is_empty() {
            obj.insert("quota".into(), serde_json::json!(d.quota));
        }
        if let Some(p) = &d.denied_principal {
            obj.insert("denied_principal".into(), serde_json::json!(p));
        }
        if d.dry_run {
            obj.insert("dry_run".into(), serde_json::json!(true));
        }
    }
    v
}

/// The human form of a decision.
pub fn human(d: &Decision) -> String {
    let mut s = format!("{}\n", d.decision_str().to_uppercase());
    let reasons = d
        .reasons
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    match (d.allowed, d.layer, reasons.is_empty()) {
        (false, mandate::Layer::Policy, true) => {
            s.push_str("  no policy permits this request (default deny)\n");
        }
        (false, mandate::Layer::Delegation, _) => {
            s.push_str(&format!(
                "  delegation: {} may not do this{}\n",
                d.denied_principal.as_deref().unwrap_or("a delegator"),
                if reasons.is_empty() {
                    String::new()
                } else {
                    format!(" (determined by: {reasons})")
                }
            ));
        }
        (false, mandate::Layer::Lifecycle, _) => {
            s.push_str(&format!(
                "  {}: {reasons}\n",
                d.denied_principal.as_deref().unwrap_or("principal")
            ));
        }
        (_, _, false) => s.push_str(&format!("  determined by: {reasons}\n")),
        _ => {}
    }
    for q in &d.quota {
        s.push_str(&format!(
            "  quota {} [{}]: {}/{} used{}{}\n",
            q.quota,
            q.bucket,
            q.used,
            q.limit,
            if q.admitted {
                format!(", charged {}", q.cost)
            } else {
                format!(", needs {}", q.cost)
            },
            q.retry_after_ms
                .map(|ms| format!(", retry after {ms} ms"))
                .unwrap_or_default()
        ));
    }
    for e in &d.errors {
        s.push_str(&format!("  error in {}: {}\n", e.id, e.message));
    }
    s
}

/// Runs `mandate authorize`.
pub fn run(args: &AuthorizeArgs) -> u8 {
    let options = EngineOptions {
        error_mode: ErrorMode::parse(&args.error_mode).unwrap_or_default(),
        // `authorize` decides like Cedar's authorizer: no type check of the policies.
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
    let opts = AuthorizeOptions {
        dry_run: args.dry_run,
        reserve: args.reserve,
    };
    if let Some(batch) = &args.batch {
        return run_batch(&engine, args, opts, batch);
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
    let d = match decide(&engine, args, opts, &text) {
        Ok(d) => d,
        Err(d) => {
            report(&[FileDiagnostics::bare(&name, d)]);
            return 1;
        }
    };
    match args.format {
        crate::check::Format::Json => out(&format!("{}\n", decision_json(&d))),
        crate::check::Format::Human => out(&human(&d)),
    }
    if d.allowed { 0 } else { 2 }
}

/// Parses `Type::"id"`.
pub fn parse_uid(s: &str) -> Result<mandate::Uid, mandate::Diagnostic> {
    mandate_uid(s).ok_or_else(|| {
        mandate::Diagnostic::error("MD0061", format!("`{s}` is not an entity uid"))
            .with_help("write an entity as Type::\"id\", e.g. 'Platform::Agent::\"planner\"'")
    })
}

fn mandate_uid(s: &str) -> Option<mandate::Uid> {
    mandate::parse_uid_str(s)
}

fn decide(
    engine: &Engine,
    args: &AuthorizeArgs,
    opts: AuthorizeOptions,
    text: &str,
) -> Result<Decision, mandate::Diagnostic> {
    let mut request = engine.request_from_json(text)?;
    for s in &args.on_behalf_of {
        request.on_behalf_of.push(parse_uid(s)?);
    }
    Ok(engine.authorize_with(&request, opts))
}

fn run_batch(engine: &Engine, args: &AuthorizeArgs, opts: AuthorizeOptions, path: &PathBuf) -> u8 {
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
        let result = match decide(engine, args, opts, &line) {
            Ok(d) => decision_json(&d),
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
