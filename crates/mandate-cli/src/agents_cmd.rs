//! `mandate agents`: the agent registry in a state directory (register, suspend, resume, revoke,
//! show, list, apply a manifest). Exit status: 0 done, 1 refused or failed, 2 usage error.

use crate::authorize::{StateArgs, parse_uid, report_engine_error};
use crate::output::{err, out};
use mandate::registry::{AgentSpec, EntityRef, Manifest};
use mandate::{Engine, EngineOptions};
use std::path::PathBuf;

/// Arguments shared by every `agents` subcommand.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// State directory holding the registry (required).
    #[arg(long, required = true)]
    state_dir: PathBuf,
    /// Schema: agents are checked against their entity type's shape.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Who makes the change (recorded in the agent's history).
    #[arg(long, default_value = "cli")]
    actor: String,
    /// Why (recorded in the agent's history).
    #[arg(long, default_value = "")]
    reason: String,
    /// Shared registry `redis://HOST:PORT/` instead of the one in the state directory.
    #[arg(long)]
    registry: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: crate::check::Format,
}

/// `mandate agents …`
#[derive(clap::Args, Debug)]
pub struct AgentsArgs {
    #[command(subcommand)]
    command: AgentsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum AgentsCommand {
    /// Register a new agent.
    Register {
        /// The agent, e.g. 'Platform::Agent::"planner"'.
        agent: String,
        /// Its owner, e.g. 'Platform::Human::"alice"'.
        #[arg(long)]
        owner: String,
        /// A parent entity (team, role); repeatable.
        #[arg(long)]
        parent: Vec<String>,
        /// An attribute as NAME=JSON (Cedar entity-JSON value); repeatable.
        #[arg(long)]
        attr: Vec<String>,
        /// Display name.
        #[arg(long)]
        display_name: Option<String>,
        /// Expiry, RFC 3339 (e.g. 2027-01-31T00:00:00Z).
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Suspend an agent (reversible).
    Suspend {
        /// The agent.
        agent: String,
        #[command(flatten)]
        common: Common,
    },
    /// Resume a suspended agent.
    Resume {
        /// The agent.
        agent: String,
        #[command(flatten)]
        common: Common,
    },
    /// Revoke an agent for good (its id is never reused).
    Revoke {
        /// The agent.
        agent: String,
        #[command(flatten)]
        common: Common,
    },
    /// Show one agent with its history.
    Show {
        /// The agent.
        agent: String,
        #[command(flatten)]
        common: Common,
    },
    /// List all agents.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Reconcile the registry with a manifest (TOML): register new agents, update changed ones,
    /// report unlisted ones (revoked only with --prune).
    Apply {
        /// The manifest file.
        manifest: PathBuf,
        /// Revoke agents the manifest no longer lists.
        #[arg(long)]
        prune: bool,
        /// Print the plan without changing anything.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        common: Common,
    },
}

fn engine(common: &Common) -> Result<Engine, u8> {
    let mut state = StateArgs::in_dir(common.state_dir.clone());
    state.registry = common.registry.clone();
    crate::authorize::build_engine(
        &[],
        common.schema.as_ref(),
        None,
        &state,
        EngineOptions::default(),
    )
    .map_err(|e| {
        report_engine_error(&e);
        1
    })
}

fn uid_arg(s: &str) -> Result<mandate::Uid, u8> {
    parse_uid(s).map_err(|d| {
        err(&format!(
            "error: {}\n  help: {}\n",
            d.message,
            d.help.unwrap_or_default()
        ));
        2
    })
}

fn entity_ref(s: &str) -> Result<EntityRef, u8> {
    let u = uid_arg(s)?;
    Ok(EntityRef::new(u.ty.as_str(), u.id.as_str()))
}

fn agent_line(a: &mandate::registry::Agent, now: u64) -> String {
    format!(
        "{}  {}  owner {}{}",
        mandate::agents::agent_uid(a),
        a.effective_state(now).as_str(),
        mandate::agents::ref_uid(&a.owner),
        a.display_name
            .as_deref()
            .map(|n| format!("  ({n})"))
            .unwrap_or_default()
    )
}

fn print_agent(a: &mandate::registry::Agent, common: &Common, now: u64, history: bool) {
    match common.format {
        crate::check::Format::Json => out(&format!(
            "{}\n",
            serde_json::to_string(a).unwrap_or_default()
        )),
        crate::check::Format::Human => {
            let mut s = agent_line(a, now);
            s.push('\n');
            if history {
                for t in &a.history {
                    s.push_str(&format!(
                        "  #{} {} by {} at {}{}\n",
                        t.seq,
                        t.kind.as_str(),
                        t.actor,
                        mandate::value::datetime_text(i64::try_from(t.at_ms).unwrap_or(i64::MAX)),
                        if t.reason.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", t.reason)
                        }
                    ));
                }
            }
            out(&s);
        }
    }
}

fn parse_expiry(s: &str) -> Result<u64, u8> {
    mandate::lint::parse_datetime(s)
        .and_then(|ms| u64::try_from(ms).ok())
        .ok_or_else(|| {
            err(&format!(
                "error: `{s}` is not an RFC 3339 time\n  help: write e.g. 2027-01-31T00:00:00Z\n"
            ));
            2
        })
}

/// Runs `mandate agents`.
pub fn run(args: &AgentsArgs) -> u8 {
    match run_inner(args) {
        Ok(code) | Err(code) => code,
    }
}

fn run_inner(args: &AgentsArgs) -> Result<u8, u8> {
    let fail = |e: mandate::EngineError| {
        err(&format!("error: {e}\n"));
        1u8
    };
    match &args.command {
        AgentsCommand::Register {
            agent,
            owner,
            parent,
            attr,
            display_name,
            expires,
            common,
        } => {
            let uid = uid_arg(agent)?;
            let mut spec = AgentSpec::new(uid.ty.as_str(), uid.id.as_str(), entity_ref(owner)?);
            spec.display_name = display_name.clone();
            for p in parent {
                spec.parents.push(entity_ref(p)?);
            }
            for a in attr {
                let Some((k, v)) = a.split_once('=') else {
                    err(&format!("error: `{a}` is not NAME=JSON\n"));
                    return Err(2);
                };
                let v: serde_json::Value = serde_json::from_str(v).map_err(|e| {
                    err(&format!("error: attribute `{k}`: invalid JSON: {e}\n"));
                    2u8
                })?;
                spec.attributes.insert(k.to_string(), v);
            }
            if let Some(e) = expires {
                spec.expires_ms = Some(parse_expiry(e)?);
            }
            let engine = engine(common)?;
            let a = engine
                .agents()
                .register(spec, &common.actor, &common.reason)
                .map_err(fail)?;
            print_agent(&a, common, engine.now_ms(), false);
            Ok(0)
        }
        AgentsCommand::Suspend { agent, common }
        | AgentsCommand::Resume { agent, common }
        | AgentsCommand::Revoke { agent, common } => {
            let uid = uid_arg(agent)?;
            let engine = engine(common)?;
            let agents = engine.agents();
            let r = match &args.command {
                AgentsCommand::Suspend { .. } => {
                    agents.suspend(&uid, &common.actor, &common.reason)
                }
                AgentsCommand::Resume { .. } => agents.resume(&uid, &common.actor, &common.reason),
                _ => agents.revoke(&uid, &common.actor, &common.reason),
            };
            let a = r.map_err(fail)?;
            print_agent(&a, common, engine.now_ms(), false);
            Ok(0)
        }
        AgentsCommand::Show { agent, common } => {
            let uid = uid_arg(agent)?;
            let engine = engine(common)?;
            match engine.agents().get(&uid).map_err(fail)? {
                Some(a) => {
                    print_agent(&a, common, engine.now_ms(), true);
                    Ok(0)
                }
                None => {
                    err(&format!("error: no agent {uid} is registered\n"));
                    Err(1)
                }
            }
        }
        AgentsCommand::List { common } => {
            let engine = engine(common)?;
            let now = engine.now_ms();
            let list = engine.agents().list().map_err(fail)?;
            match common.format {
                crate::check::Format::Json => out(&format!(
                    "{}\n",
                    serde_json::to_string(&list).unwrap_or_default()
                )),
                crate::check::Format::Human => {
                    let mut s = String::new();
                    for a in &list {
                        s.push_str(&agent_line(a, now));
                        s.push('\n');
                    }
                    s.push_str(&format!("{} agents\n", list.len()));
                    out(&s);
                }
            }
            Ok(0)
        }
        AgentsCommand::Apply {
            manifest,
            prune,
            dry_run,
            common,
        } => {
            let m = Manifest::from_path(manifest).map_err(|e| {
                err(&format!("error: {e}\n"));
                1u8
            })?;
            let engine = engine(common)?;
            let agents = engine.agents();
            for spec in &m.agents {
                agents.check_spec(spec).map_err(fail)?;
            }
            let plan =
                mandate::registry::plan(&m, agents.registry()).map_err(|e| fail(e.into()))?;
            let mut s = String::new();
            for spec in &plan.register {
                s.push_str(&format!(
                    "+ register {}\n",
                    mandate::Uid::new(spec.entity_type.as_str(), spec.id.as_str())
                ));
            }
            for (spec, fields) in &plan.update {
                s.push_str(&format!(
                    "~ update   {} ({})\n",
                    mandate::Uid::new(spec.entity_type.as_str(), spec.id.as_str()),
                    fields.join(", ")
                ));
            }
            for (ty, id) in &plan.unlisted {
                s.push_str(&format!(
                    "{} {}\n",
                    if *prune { "- revoke  " } else { "? unlisted" },
                    mandate::Uid::new(ty.as_str(), id.as_str())
                ));
            }
            s.push_str(&format!(
                "plan: {} to register, {} to update, {} unlisted{}, {} unchanged\n",
                plan.register.len(),
                plan.update.len(),
                plan.unlisted.len(),
                if *prune {
                    " (to revoke)"
                } else {
                    " (kept; --prune revokes them)"
                },
                plan.unchanged
            ));
            if *dry_run {
                s.push_str("dry run: nothing changed\n");
                out(&s);
                return Ok(0);
            }
            out(&s);
            let report = mandate::registry::apply(
                plan,
                agents.registry(),
                *prune,
                &common.actor,
                &common.reason,
                engine.now_ms(),
            )
            .map_err(|e| fail(e.into()))?;
            out(&format!(
                "applied: {} registered, {} updated, {} revoked\n",
                report.registered.len(),
                report.updated.len(),
                report.revoked.len()
            ));
            Ok(0)
        }
    }
}
