//! `mandate replay`: re-decide every request recorded in an audit log against a proposed policy
//! set and report which decisions would change. Exit status: 0 nothing changes, 1 some decisions
//! change (like a diff), 2 unusable input.
//!
//! The replay engine is fresh and in memory (no state directory): quotas start empty and every
//! replayed decision is a dry run, and no agent is suspended. The quota and lifecycle layers depend
//! on state at the time of the decision, so replay compares the policy and delegation layers:
//! recorded allows and recorded denials by the `policy` or `delegation` layer are compared;
//! recorded denials by the `lifecycle` or `quota` layer are skipped and counted with their reason.

use crate::audit_query::{Entry, read_log, string_list};
use crate::output::{err, out};
use mandate::{AuthorizeOptions, Engine, EngineOptions, ErrorMode};
use serde_json::{Value as J, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `mandate replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// The audit log (e.g. STATE_DIR/audit/audit.jsonl) or a directory of `*.jsonl` logs.
    #[arg(long)]
    audit: PathBuf,
    /// The proposed policy files or directories (repeatable).
    #[arg(long, required = true, num_args = 1..)]
    policies: Vec<PathBuf>,
    /// Entity file (Cedar entity JSON).
    #[arg(long)]
    entities: Option<PathBuf>,
    /// Schema (`.cedarschema` or `.json`).
    #[arg(long)]
    schema: Option<PathBuf>,
    /// A state directory whose registered agents (attributes and parents, all treated as active)
    /// are overlaid on the entities, as `authorize --state-dir` does. Nothing in it is changed.
    #[arg(long)]
    agents_from: Option<PathBuf>,
    /// `cedar` or `deny-on-forbid-error` (default), as for `authorize`.
    #[arg(long, default_value = "deny-on-forbid-error", value_parser = ["cedar", "deny-on-forbid-error"])]
    error_mode: String,
    /// How many example decisions to list per direction.
    #[arg(long, default_value_t = 10)]
    examples: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: crate::check::Format,
}

/// A decision that would change.
#[derive(Debug, Clone, serde::Serialize)]
struct Changed {
    seq: u64,
    decision_id: String,
    principal: String,
    action: String,
    resource: String,
    recorded: String,
    recorded_layer: String,
    recorded_reasons: Vec<String>,
    replayed: &'static str,
    replayed_layer: &'static str,
    replayed_reasons: Vec<String>,
    /// The policy (or policies) that determine the change.
    policy: String,
}

#[derive(Debug, Default, serde::Serialize)]
struct Direction {
    count: usize,
    by_policy: BTreeMap<String, usize>,
    by_agent: BTreeMap<String, usize>,
    examples: Vec<Changed>,
}

impl Direction {
    fn add(&mut self, c: Changed, max_examples: usize) {
        self.count += 1;
        *self.by_policy.entry(c.policy.clone()).or_default() += 1;
        *self.by_agent.entry(c.principal.clone()).or_default() += 1;
        if self.examples.len() < max_examples {
            self.examples.push(c);
        }
    }
}

#[derive(Debug, Default, serde::Serialize)]
struct Report {
    decisions: usize,
    compared: usize,
    unchanged: usize,
    changed: usize,
    skipped: usize,
    skipped_by_reason: BTreeMap<String, usize>,
    allow_to_deny: Direction,
    deny_to_allow: Direction,
    policy_version: String,
}

fn build_engine(args: &ReplayArgs) -> Result<Engine, String> {
    let mut b = Engine::builder()
        .policy_paths(args.policies.clone())
        .options(EngineOptions {
            error_mode: ErrorMode::parse(&args.error_mode).unwrap_or_default(),
            // Like `authorize`: no type check of the policies.
            validate: false,
            ..EngineOptions::default()
        });
    if let Some(s) = &args.schema {
        b = b.schema_path(s);
    }
    if let Some(e) = &args.entities {
        b = b.entities_path(e);
    }
    if let Some(dir) = &args.agents_from {
        if !dir.is_dir() {
            return Err(format!(
                "--agents-from: `{}` is not a directory",
                dir.display()
            ));
        }
        let source = mandate::open_registry(dir).map_err(|e| e.to_string())?;
        let registry = mandate::registry::MemoryRegistry::new();
        let agents = source.list().map_err(|e| format!("agent registry: {e}"))?;
        for agent in agents {
            use mandate::registry::Registry as _;
            registry
                .register(
                    agent.spec(),
                    "replay",
                    "copied for replay",
                    agent.created_ms,
                )
                .map_err(|e| format!("agent registry: {e}"))?;
        }
        b = b.registry(Arc::new(registry));
    }
    b.build().map_err(|e| match e {
        mandate::EngineError::Load(files) => files
            .iter()
            .map(mandate::load::FileDiagnostics::render)
            .collect::<String>(),
        other => other.to_string(),
    })
}

/// Why a recorded decision is not compared, if it is not.
fn skip_reason(e: &Entry) -> Option<String> {
    if e.allowed() {
        return None;
    }
    let reasons = e.reasons();
    if reasons.iter().any(|r| r == "audit:unavailable") {
        return Some("audit: the record could not be written at the time".into());
    }
    match e.str("layer") {
        "lifecycle" => Some(match reasons.first() {
            Some(r) => format!("{r} (agent state at the time)"),
            None => "lifecycle (agent state at the time)".into(),
        }),
        "quota" => Some("quota (usage at the time)".into()),
        _ => None,
    }
}

fn request_json(e: &Entry) -> J {
    json!({
        "principal": e.str("principal"),
        "action": e.str("action"),
        "resource": e.str("resource"),
        "context": e.record.get("context").cloned().unwrap_or_else(|| json!({})),
        "on_behalf_of": string_list(e.record.get("on_behalf_of")),
    })
}

fn change_policy(recorded_allowed: bool, recorded: &[String], replayed: &[String]) -> String {
    match (recorded_allowed, replayed.is_empty()) {
        (_, false) => replayed.join(", "),
        (true, true) if recorded.is_empty() => "no permit applies any more".into(),
        (true, true) => format!("no permit applies any more (was: {})", recorded.join(", ")),
        (false, true) => "(no determining policy)".into(),
    }
}

fn replay(engine: &Engine, entries: &[Entry], max_examples: usize) -> Report {
    let mut r = Report {
        policy_version: engine.version().id.to_string(),
        ..Report::default()
    };
    let opts = AuthorizeOptions {
        dry_run: true,
        reserve: false,
    };
    for e in entries.iter().filter(|e| e.kind() == "decision") {
        r.decisions += 1;
        let mut skip = |reason: String| {
            r.skipped += 1;
            *r.skipped_by_reason.entry(reason).or_default() += 1;
        };
        if let Some(reason) = skip_reason(e) {
            skip(reason);
            continue;
        }
        let request = match engine.request_from_json(&request_json(e).to_string()) {
            Ok(req) => req,
            Err(d) => {
                skip(format!("request could not be rebuilt: {}", d.message));
                continue;
            }
        };
        let d = engine.authorize_with(&request, opts);
        if d.layer == mandate::Layer::Lifecycle && !d.allowed {
            skip("replay: agent not active in --agents-from".into());
            continue;
        }
        r.compared += 1;
        let recorded_allowed = e.allowed();
        if d.allowed == recorded_allowed {
            r.unchanged += 1;
            continue;
        }
        r.changed += 1;
        let recorded_reasons = e.reasons();
        let replayed_reasons: Vec<String> = d.reasons.iter().map(ToString::to_string).collect();
        let c = Changed {
            seq: e.seq,
            decision_id: e.str("decision_id").to_string(),
            principal: e.str("principal").to_string(),
            action: e.str("action").to_string(),
            resource: e.str("resource").to_string(),
            recorded: e.str("decision").to_string(),
            recorded_layer: e.str("layer").to_string(),
            policy: change_policy(recorded_allowed, &recorded_reasons, &replayed_reasons),
            recorded_reasons,
            replayed: d.decision_str(),
            replayed_layer: d.layer.as_str(),
            replayed_reasons,
        };
        if recorded_allowed {
            r.allow_to_deny.add(c, max_examples);
        } else {
            r.deny_to_allow.add(c, max_examples);
        }
    }
    r
}

fn human(r: &Report, args: &ReplayArgs) -> String {
    let mut s = format!(
        "replayed {} decisions from `{}` against policy version {}\n",
        r.decisions,
        args.audit.display(),
        r.policy_version
    );
    s.push_str(&format!(
        "  compared {}: {} unchanged, {} changed ({} allow→deny, {} deny→allow)\n",
        r.compared, r.unchanged, r.changed, r.allow_to_deny.count, r.deny_to_allow.count
    ));
    if r.skipped > 0 {
        s.push_str(&format!("  skipped {}:\n", r.skipped));
        for (reason, n) in &r.skipped_by_reason {
            s.push_str(&format!("    {n}  {reason}\n"));
        }
    }
    for (title, dir) in [
        ("allow → deny", &r.allow_to_deny),
        ("deny → allow", &r.deny_to_allow),
    ] {
        if dir.count == 0 {
            continue;
        }
        s.push_str(&format!("\n{title}: {}\n  by policy:\n", dir.count));
        for (p, n) in &dir.by_policy {
            s.push_str(&format!("    {n}  {p}\n"));
        }
        s.push_str("  by agent:\n");
        for (a, n) in &dir.by_agent {
            s.push_str(&format!("    {n}  {a}\n"));
        }
        s.push_str("  examples:\n");
        for c in &dir.examples {
            let reasons = |v: &[String]| {
                if v.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", v.join(", "))
                }
            };
            s.push_str(&format!(
                "    seq {} decision {}: {} {} {}: {} ({}{}) → {} ({}{})\n",
                c.seq,
                c.decision_id,
                c.principal,
                c.action,
                c.resource,
                c.recorded,
                c.recorded_layer,
                reasons(&c.recorded_reasons),
                c.replayed,
                c.replayed_layer,
                reasons(&c.replayed_reasons),
            ));
        }
    }
    if r.changed == 0 {
        s.push_str("no decision changes\n");
    }
    s
}

/// Runs `mandate replay`.
pub fn run(args: &ReplayArgs) -> u8 {
    let log = match read_log(&args.audit) {
        Ok(l) => l,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return 2;
        }
    };
    let engine = match build_engine(args) {
        Ok(e) => e,
        Err(e) => {
            err(&format!("error: {e}\n"));
            return 2;
        }
    };
    let report = replay(&engine, &log.entries, args.examples);
    if log.unreadable_lines > 0 {
        err(&format!(
            "warning: {} lines of the log are not audit entries and were skipped\n",
            log.unreadable_lines
        ));
    }
    match args.format {
        crate::check::Format::Json => match serde_json::to_string(&report) {
            Ok(text) => out(&format!("{text}\n")),
            Err(e) => {
                err(&format!("error: {e}\n"));
                return 2;
            }
        },
        crate::check::Format::Human => out(&human(&report, args)),
    }
    u8::from(report.changed > 0)
}
