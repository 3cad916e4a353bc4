//! A tool gateway in front of AI agents: load the example platform, onboard an agent, decide its
//! tool calls (with its rate limit), suspend it, and roll a policy change back.
//!
//! Run from the repository root: `cargo run -p mandate --example gateway`.
#![expect(clippy::print_stdout, reason = "an example prints what it does")]

use mandate::registry::{AgentSpec, EntityRef};
use mandate::{ChangeRef, Engine, EngineError, Request, Uid};

fn main() -> Result<(), EngineError> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/agent-platform");
    let engine = Engine::builder()
        .policy_dir(dir.join("policies"))
        .schema_path(dir.join("schema.cedarschema"))
        .entities_path(dir.join("entities.json"))
        .build()?;
    println!("policy version {}", engine.version().short_id());

    let mut spec = AgentSpec::new(
        "Platform::Agent",
        "triage-bot",
        EntityRef::new("Platform::Human", "alice"),
    );
    spec.parents
        .push(EntityRef::new("Platform::Team", "support"));
    spec.attributes.insert("model".into(), "small".into());
    spec.attributes.insert("trust_level".into(), 2.into());
    engine
        .agents()
        .register(spec, "platform-team", "onboarding")?;

    let agent = Uid::new("Platform::Agent", "triage-bot");
    let call = engine
        .request_from_json(
            r#"{"principal": "Platform::Agent::\"triage-bot\"",
                "action": "Platform::Action::\"InvokeTool\"",
                "resource": "Platform::Tool::\"ticket-search\"",
                "context": {"env": "prod", "cost_cents": 1, "approved": false,
                            "now": "2026-11-26T10:00:00Z"}}"#,
        )
        .map_err(|d| EngineError::Invalid(d.message))?;
    let d = engine.authorize(&call);
    println!(
        "{} by {:?} ({})",
        d.decision_str(),
        d.reasons,
        d.layer.as_str()
    );

    // A burst: the rate limit (600 calls per minute) stops it.
    let allowed = (0..700).filter(|_| engine.authorize(&call).allowed).count();
    println!("burst of 700: {allowed} allowed");

    engine
        .agents()
        .suspend(&agent, "security", "anomalous burst")?;
    let d = engine.authorize(&call);
    println!("after suspend: {} {:?}", d.decision_str(), d.reasons);

    // Policy changes roll out atomically and roll back in one step.
    let before = engine.version();
    engine.reload(ChangeRef {
        actor: "ci".into(),
        reason: "re-read the policy files".into(),
        reference: "git:HEAD".into(),
    })?;
    engine.rollback(ChangeRef::default())?;
    println!(
        "rolled back to {}: {}",
        engine.version().short_id(),
        engine.version().id == before.id
    );

    let request = Request::new(
        agent,
        Uid::new("Platform::Action", "ReadDocument"),
        Uid::new("Platform::Document", "onboarding-guide"),
    );
    println!(
        "suspended agent reading: {}",
        engine.authorize(&request).decision_str()
    );
    Ok(())
}
