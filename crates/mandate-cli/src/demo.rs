//! `mandate demo`: a narrated run of the example agent platform (`policies/agent-platform/`,
//! embedded in the binary so the demo runs anywhere) on the engine's embedded defaults, with a
//! temporary state directory: onboarding from the agents manifest, least privilege, a rate
//! limit and a budget running out, suspension and revocation, delegation, a rejected policy
//! change, a rollback, and the audit trail.
//!
//! Every step states the decision it expects; the demo exits 1 if any differs.

use crate::output::out;
use mandate::registry::{Manifest, plan};
use mandate::{ChangeRef, Decision, Engine, PolicySource, Request, Uid, Value};

const SCHEMA: &str = include_str!("../../../policies/agent-platform/schema.cedarschema");
const ENTITIES: &str = include_str!("../../../policies/agent-platform/entities.json");
const AGENTS: &str = include_str!("../../../policies/agent-platform/agents.toml");
const FILES: [(&str, &str); 3] = [
    (
        "policies/access.cedar",
        include_str!("../../../policies/agent-platform/policies/access.cedar"),
    ),
    (
        "policies/guardrails.cedar",
        include_str!("../../../policies/agent-platform/policies/guardrails.cedar"),
    ),
    (
        "policies/limits.mandate",
        include_str!("../../../policies/agent-platform/policies/limits.mandate"),
    ),
];

/// Arguments of `mandate demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {}

struct Demo {
    engine: Engine,
    rows: Vec<[String; 5]>,
    mismatches: usize,
}

fn agent(id: &str) -> Uid {
    Uid::new("Platform::Agent", id)
}
fn human(id: &str) -> Uid {
    Uid::new("Platform::Human", id)
}
fn action(id: &str) -> Uid {
    Uid::new("Platform::Action", id)
}

fn req(principal: Uid, act: &str, resource: Uid, cost_cents: i64) -> Request {
    let uid = |u: &Uid| serde_json::json!({"type": u.ty.as_str(), "id": u.id.as_str()});
    let json = serde_json::json!({
        "principal": uid(&principal),
        "action": uid(&action(act)),
        "resource": uid(&resource),
        "context": {
            "env": "prod",
            "cost_cents": cost_cents,
            "approved": false,
            "now": {"__extn": {"fn": "datetime", "arg": "2026-11-26T10:00:00Z"}},
        },
    });
    let context = mandate::request_from_json(&json, None)
        .map(|p| p.request.context)
        .unwrap_or_else(|_| Value::empty_record());
    Request::new(principal, action(act), resource).with_context(context)
}

fn short(uid: &Uid) -> String {
    uid.id.to_string()
}

fn why(d: &Decision) -> String {
    let mut s = if d.reasons.is_empty() {
        if d.allowed {
            String::new()
        } else {
            "no permit (default deny)".to_string()
        }
    } else {
        d.reasons
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(p) = &d.denied_principal {
        s.push_str(&format!(" [{p}]"));
    }
    if let Some(q) = d.quota.iter().find(|q| !q.admitted) {
        s.push_str(&format!(
            " ({}/{} used{})",
            q.used,
            q.limit,
            q.retry_after_ms
                .map(|ms| format!(", retry in {}", human_ms(ms)))
                .unwrap_or_default()
        ));
    }
    s
}

fn human_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=119_999 => format!("{} s", ms / 1_000),
        120_000..=7_199_999 => format!("{} min", ms / 60_000),
        _ => format!("{} h", ms / 3_600_000),
    }
}

impl Demo {
    fn step(&mut self, what: &str, r: &Request, expect_allow: bool) -> Decision {
        let d = self.engine.authorize(r);
        self.record(what, r, &d, expect_allow);
        d
    }

    fn record(&mut self, what: &str, r: &Request, d: &Decision, expect_allow: bool) {
        let mut verdict = d.decision_str().to_uppercase();
        if d.allowed != expect_allow {
            verdict.push_str(" << UNEXPECTED");
            self.mismatches += 1;
        }
        let who = if r.on_behalf_of.is_empty() {
            short(&r.principal)
        } else {
            format!(
                "{} for {}",
                short(&r.principal),
                r.on_behalf_of
                    .iter()
                    .map(short)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        self.rows.push([
            what.to_string(),
            format!("{who} {} {}", r.action.id, r.resource.id),
            verdict,
            d.layer.as_str().to_string(),
            why(d),
        ]);
    }

    fn flush(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        let mut rows = vec![[
            "step".to_string(),
            "request".to_string(),
            "decision".to_string(),
            "layer".to_string(),
            "why".to_string(),
        ]];
        rows.append(&mut self.rows);
        out(&table(&rows));
        out("\n");
    }
}

/// Runs the demo; exit status 1 if any decision differs from the scenario's expectation.
pub fn run(_args: &DemoArgs) -> u8 {
    match run_inner() {
        Ok(0) => {
            out("Every decision matched the scenario's expectations.\n");
            0
        }
        Ok(n) => {
            out(&format!(
                "{n} decision(s) differed from the scenario's expectations.\n"
            ));
            1
        }
        Err(e) => {
            out(&format!("the demo could not run: {e}\n"));
            1
        }
    }
}

fn run_inner() -> Result<usize, String> {
    out("Mandate demo: an AI agent platform (policies/agent-platform)\n\n");
    let state = std::env::temp_dir().join(format!(
        "mandate-demo-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let result = scenario(&state);
    let _ = std::fs::remove_dir_all(&state);
    result
}

fn texts() -> Vec<(String, String)> {
    FILES
        .iter()
        .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
        .collect()
}

fn scenario(state: &std::path::Path) -> Result<usize, String> {
    let engine = Engine::builder()
        .policy_texts(texts())
        .schema_text(SCHEMA, false)
        .entities_json(ENTITIES)
        .state_dir(state)
        .change(ChangeRef {
            actor: "platform-team".into(),
            reason: "initial rollout".into(),
            reference: "git:main".into(),
        })
        .build()
        .map_err(|e| e.to_string())?;
    let v1 = engine.version();
    out(&format!(
        "Loaded policy version {} ({} policies, {} quotas), type-checked against the schema.\n\
         Embedded defaults: in-memory quota store and agent registry journaled in a temporary state directory.\n\n",
        v1.short_id(),
        v1.counts.0,
        v1.counts.1
    ));

    out("1. Onboarding as code: `mandate agents apply agents.toml`\n\n");
    let manifest = Manifest::from_toml_str(AGENTS).map_err(|e| e.to_string())?;
    let agents = engine.agents();
    for spec in &manifest.agents {
        agents.check_spec(spec).map_err(|e| e.to_string())?;
    }
    let p = plan(&manifest, agents.registry()).map_err(|e| e.to_string())?;
    for spec in &p.register {
        out(&format!(
            "   + register {}\n",
            Uid::new(spec.entity_type.as_str(), spec.id.as_str())
        ));
    }
    for spec in p.register {
        agents
            .register(spec, "platform-team", "agents.toml")
            .map_err(|e| e.to_string())?;
    }
    out("\n");

    let mut demo = Demo {
        engine: engine.clone(),
        rows: Vec::new(),
        mismatches: 0,
    };

    out("2. Least privilege: each agent may do what its policies grant, nothing more\n\n");
    let tool = |id: &str| Uid::new("Platform::Tool", id);
    let doc = |id: &str| Uid::new("Platform::Document", id);
    let model = Uid::new("Platform::Model", "frontier");
    demo.step(
        "support tool",
        &req(agent("triage-bot"), "InvokeTool", tool("ticket-search"), 1),
        true,
    );
    demo.step(
        "risky tool",
        &req(agent("triage-bot"), "InvokeTool", tool("refund-issuer"), 1),
        false,
    );
    demo.step(
        "owner's doc",
        &req(
            agent("triage-bot"),
            "ReadDocument",
            doc("onboarding-guide"),
            0,
        ),
        true,
    );
    demo.step(
        "other's doc",
        &req(agent("triage-bot"), "ReadDocument", doc("release-notes"), 0),
        false,
    );
    demo.step(
        "secret doc",
        &req(agent("release-bot"), "ReadDocument", doc("payroll"), 0),
        false,
    );
    demo.flush();

    out("3. A runaway agent hits its rate limit (600 tool calls per minute)\n\n");
    let call = req(agent("triage-bot"), "InvokeTool", tool("ticket-search"), 1);
    let mut allowed = 1; // the call in step 2
    let mut first_denied = None;
    for _ in 0..700 {
        let d = engine.authorize(&call);
        if d.allowed {
            allowed += 1;
        } else if first_denied.is_none() {
            first_denied = Some(d);
        }
    }
    out(&format!(
        "   700 more calls in the same minute: {allowed} allowed in total, the rest denied.\n"
    ));
    match first_denied {
        Some(d) => demo.record("call #601", &call, &d, false),
        None => {
            out("   << UNEXPECTED: the rate limit never denied\n");
            demo.mismatches += 1;
        }
    }
    if allowed != 600 {
        out(&format!(
            "   << UNEXPECTED: {allowed} allowed, expected 600\n"
        ));
        demo.mismatches += 1;
    }
    out("   And a daily model budget of 5,000 cents per owner, charged by cost:\n");
    for i in 1..=5 {
        demo.step(
            &format!("model call {i}"),
            &req(agent("triage-bot"), "CallModel", model.clone(), 1_200),
            i <= 4,
        );
    }
    demo.flush();
    if let Ok(status) = engine.quota_status(&agent("triage-bot")) {
        out("   `mandate quota status` for triage-bot:\n");
        for q in status {
            if let (Some(b), Some(s)) = (&q.bucket, &q.status) {
                out(&format!(
                    "     {:<28} {:<32} {:>5} / {:<5} per {}\n",
                    q.quota, b, s.used, q.limit, q.window
                ));
            }
        }
        out("\n");
    }

    out("4. Lifecycle: suspend mid-run, resume, and offboard for good\n\n");
    let read = req(
        agent("release-bot"),
        "ReadDocument",
        doc("release-notes"),
        0,
    );
    demo.step("before", &read, true);
    agents
        .suspend(
            &agent("release-bot"),
            "security-oncall",
            "anomalous reads, ticket SEC-42",
        )
        .map_err(|e| e.to_string())?;
    demo.step("suspended", &read, false);
    agents
        .resume(&agent("release-bot"), "security-oncall", "false alarm")
        .map_err(|e| e.to_string())?;
    demo.step("resumed", &read, true);
    let sum = req(agent("summarizer"), "ReadDocument", doc("release-notes"), 0);
    demo.step("before", &sum, true);
    agents
        .revoke(&agent("summarizer"), "platform-team", "replaced by v2")
        .map_err(|e| e.to_string())?;
    demo.step("revoked", &sum, false);
    demo.flush();
    match manifest
        .agents
        .iter()
        .find(|a| a.id == "summarizer")
        .cloned()
        .map(|s| agents.register(s, "platform-team", "re-onboard"))
    {
        Some(Err(e)) => out(&format!(
            "   re-registering the revoked id is refused: {e}\n\n"
        )),
        _ => {
            out("   << UNEXPECTED: a revoked id was registered again\n\n");
            demo.mismatches += 1;
        }
    }

    out("5. Delegation: an agent acting for a person can do no more than that person\n\n");
    let onboarding = req(
        agent("triage-bot"),
        "ReadDocument",
        doc("onboarding-guide"),
        0,
    );
    demo.step(
        "for alice",
        &onboarding.clone().on_behalf_of(vec![human("alice")]),
        true,
    );
    demo.step(
        "for bob",
        &onboarding.on_behalf_of(vec![human("bob")]),
        false,
    );
    demo.flush();

    out("6. Policy changes: a bad change is rejected, a good one rolls out, and rolls back\n\n");
    let mut bad = texts();
    bad.push((
        "policies/change.mandate".into(),
        "@id(\"let-agents-deploy\")\npermit (principal is Platform::Agent, action, resource)\nwhen { principal.trust_levl >= 3 };\n".into(),
    ));
    match engine.reload_policies(
        PolicySource::Texts(bad),
        None,
        ChangeRef {
            actor: "dev".into(),
            reason: "let agents deploy".into(),
            reference: "git:4f1e2aa".into(),
        },
    ) {
        Err(e) => {
            out("   rejected; the running version keeps serving:\n");
            out(&indent(&e.to_string()));
        }
        Ok(_) => {
            out("   << UNEXPECTED: the bad change was accepted\n");
            demo.mismatches += 1;
        }
    }
    let mut freeze = texts();
    freeze.push((
        "policies/freeze.cedar".into(),
        "@id(\"incident-freeze\")\nforbid (principal is Platform::Agent, action == Platform::Action::\"ReadDocument\", resource);\n".into(),
    ));
    let read_guide = req(
        agent("triage-bot"),
        "ReadDocument",
        doc("onboarding-guide"),
        0,
    );
    let v2 = engine
        .reload_policies(
            PolicySource::Texts(freeze),
            None,
            ChangeRef {
                actor: "security-oncall".into(),
                reason: "incident freeze".into(),
                reference: "git:9c0ffee approved-by:alice".into(),
            },
        )
        .map_err(|e| e.to_string())?;
    out(&format!(
        "   freeze rolled out as version {}\n",
        v2.short_id()
    ));
    demo.step("freeze on", &read_guide, false);
    let back = engine
        .rollback(ChangeRef {
            actor: "security-oncall".into(),
            reason: "incident over".into(),
            reference: String::new(),
        })
        .map_err(|e| e.to_string())?;
    demo.step("rolled back", &read_guide, true);
    demo.flush();
    out(&format!(
        "   rolled back to version {} (the original: {})\n\n",
        back.short_id(),
        if back.id == v1.id { "yes" } else { "no" }
    ));

    out(
        "7. The audit trail: one hash-chained record per decision, lifecycle change and policy change\n\n",
    );
    let log = state.join("audit").join("audit.jsonl");
    let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
    let mut counts = std::collections::BTreeMap::new();
    let mut last_change = None;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if let Some(kind) = v
            .pointer("/record/kind")
            .and_then(serde_json::Value::as_str)
        {
            *counts.entry(kind.to_string()).or_insert(0) += 1;
            if kind == "policy_change" {
                last_change = v.get("record").cloned();
            }
        }
    }
    for (k, n) in &counts {
        out(&format!("   {n:>5} {} records\n", k.replace('_', " ")));
    }
    if let Some(c) = last_change {
        out(&format!("   last policy change: {c}\n"));
    }
    match mandate::audit_log::verify(&log, mandate::audit_log::VerifyOptions::default()) {
        Ok(r) => out(&format!(
            "   `mandate audit verify`: ok, {} records, {} checkpoints, head {}\n",
            r.records,
            r.checkpoints,
            r.head.get(..16).unwrap_or("")
        )),
        Err(e) => {
            out(&format!(
                "   << UNEXPECTED: the audit log does not verify: {e}\n"
            ));
            demo.mismatches += 1;
        }
    }
    // Someone edits one denial into an allow: the chain shows it.
    let forged = state.join("forged.jsonl");
    let tampered = text.replacen(r#""decision":"deny""#, r#""decision":"allow""#, 1);
    std::fs::write(&forged, tampered).map_err(|e| e.to_string())?;
    match mandate::audit_log::verify(&forged, mandate::audit_log::VerifyOptions::default()) {
        Err(e) => out(&format!(
            "   a copy with one denial edited into an allow: {e}\n"
        )),
        Ok(_) => {
            out("   << UNEXPECTED: an edited audit log verified\n");
            demo.mismatches += 1;
        }
    }
    out("\n");
    Ok(demo.mismatches)
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("     {l}\n")).collect()
}

fn table(rows: &[[String; 5]]) -> String {
    let width = |i: usize| {
        rows.iter()
            .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
            .max()
            .unwrap_or(0)
    };
    let w: Vec<usize> = (0..4).map(width).collect();
    let (w0, w1, w2, w3) = (
        w.first().copied().unwrap_or(0),
        w.get(1).copied().unwrap_or(0),
        w.get(2).copied().unwrap_or(0),
        w.get(3).copied().unwrap_or(0),
    );
    let mut s = String::new();
    for (i, [a, b, c, d, e]) in rows.iter().enumerate() {
        s.push_str(&format!("   {a:<w0$}  {b:<w1$}  {c:<w2$}  {d:<w3$}  {e}\n"));
        if i == 0 {
            s.push_str(&format!(
                "   {}  {}  {}  {}  {}\n",
                "-".repeat(w0),
                "-".repeat(w1),
                "-".repeat(w2),
                "-".repeat(w3),
                "-".repeat(3)
            ));
        }
    }
    s
}
