//! `mandate quota`: quota status of a principal, and settling or refunding reservations.
//! Exit status: 0 done, 1 failed, 2 usage error.

use crate::authorize::{StateArgs, build_engine, parse_uid, report_engine_error};
use crate::output::{err, out};
use mandate::EngineOptions;
use std::path::PathBuf;

/// `mandate quota …`
#[derive(clap::Args, Debug)]
pub struct QuotaArgs {
    #[command(subcommand)]
    command: QuotaCommand,
}

/// Policies and state, shared by the subcommands.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Policy files or directories (the quota declarations).
    #[arg(long, required = true, num_args = 1..)]
    policies: Vec<PathBuf>,
    /// Schema.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// Entity file (needed when a bucket is e.g. `principal.owner`).
    #[arg(long)]
    entities: Option<PathBuf>,
    #[command(flatten)]
    state: StateArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: crate::check::Format,
}

#[derive(clap::Subcommand, Debug)]
enum QuotaCommand {
    /// Every quota that applies to a principal: used, remaining, reset time.
    Status {
        /// The principal, e.g. 'Platform::Agent::"planner"'.
        #[arg(long)]
        principal: String,
        #[command(flatten)]
        common: Common,
    },
    /// Settle a reservation (`authorize --reserve`) to the actual cost.
    Settle {
        /// The decision id.
        decision: String,
        /// The actual cost.
        cost: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Release a reservation entirely.
    Refund {
        /// The decision id.
        decision: String,
        #[command(flatten)]
        common: Common,
    },
}

fn engine(common: &Common) -> Result<mandate::Engine, u8> {
    build_engine(
        &common.policies,
        common.schema.as_ref(),
        common.entities.as_ref(),
        &common.state,
        EngineOptions {
            validate: false,
            ..EngineOptions::default()
        },
    )
    .map_err(|e| {
        report_engine_error(&e);
        1
    })
}

fn time(ms: u64) -> String {
    mandate::value::datetime_text(i64::try_from(ms).unwrap_or(i64::MAX))
}

/// Runs `mandate quota`.
pub fn run(args: &QuotaArgs) -> u8 {
    match run_inner(args) {
        Ok(c) | Err(c) => c,
    }
}

fn run_inner(args: &QuotaArgs) -> Result<u8, u8> {
    match &args.command {
        QuotaCommand::Status { principal, common } => {
            let p = parse_uid(principal).map_err(|d| {
                err(&format!("error: {}\n", d.message));
                2u8
            })?;
            let engine = engine(common)?;
            let status = engine.quota_status(&p).map_err(|e| {
                err(&format!("error: quota store: {e}\n"));
                1u8
            })?;
            match common.format {
                crate::check::Format::Json => out(&format!(
                    "{}\n",
                    serde_json::to_string(&status).unwrap_or_default()
                )),
                crate::check::Format::Human => {
                    let mut s = format!("quotas of {p}:\n");
                    if status.is_empty() {
                        s.push_str("  none applies\n");
                    }
                    for q in &status {
                        match (&q.bucket, &q.status) {
                            (Some(b), Some(st)) => s.push_str(&format!(
                                "  {}  bucket {b}: {} of {} used per {}, {} left{}\n",
                                q.quota,
                                st.used,
                                q.limit,
                                q.window,
                                st.remaining,
                                st.reset_ms
                                    .map(|r| format!(", fully reset at {}", time(r)))
                                    .unwrap_or_default()
                            )),
                            _ => s.push_str(&format!(
                                "  {}  limit {} per {}; the bucket depends on the request\n",
                                q.quota, q.limit, q.window
                            )),
                        }
                    }
                    out(&s);
                }
            }
            Ok(0)
        }
        QuotaCommand::Settle {
            decision,
            cost,
            common,
        } => {
            let engine = engine(common)?;
            let s = engine.settle(decision, *cost).map_err(|e| {
                err(&format!("error: {e}\n"));
                1u8
            })?;
            out(&format!(
                "settled {}: reserved {}, actual {}\n",
                s.reservation, s.reserved, s.actual
            ));
            Ok(0)
        }
        QuotaCommand::Refund { decision, common } => {
            let engine = engine(common)?;
            let s = engine.refund(decision).map_err(|e| {
                err(&format!("error: {e}\n"));
                1u8
            })?;
            out(&format!(
                "refunded {}: {} released\n",
                s.reservation, s.reserved
            ));
            Ok(0)
        }
    }
}
