//! The `mandate` command: check, format and authorize policies.
//!
//! Exit codes follow Cedar's CLI and ruff: `check`/`fmt`/`lint`: 0 clean, 1 problems found, 2
//! usage, configuration or I/O error; `test`: 0 all passed, 1 any failure, 2 usage error;
//! `authorize` and `explain`: 0 allow, 2 deny, 1 when the inputs cannot be used; `replay`: 0 no
//! decision changes, 1 some change, 2 unusable input.

mod agents_cmd;
mod audit_cmd;
mod audit_query;
mod audit_tail;
mod authorize;
mod bench;
mod check;
mod demo;
mod explain_cmd;
mod lint;
mod output;
mod quota_cmd;
mod replay;
mod test_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Mandate: policy-as-code for AI agents, a strict superset of Cedar.
#[derive(Parser, Debug)]
#[command(name = "mandate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse (and, with a schema, load) policy files; report every problem.
    Check(check::CheckArgs),
    /// Check policy files and lint them for risky patterns (human, JSON, SARIF or GitHub output).
    Lint(lint::LintArgs),
    /// Run policy unit tests: YAML or JSON files of requests with expected decisions.
    Test(test_cmd::TestArgs),
    /// Format policy files in place (or, with --check, list those that would change).
    Fmt(check::FmtArgs),
    /// Decide one request, or a batch of requests, against policies and entities.
    Authorize(authorize::AuthorizeArgs),
    /// Manage agents in a state directory: register, suspend, resume, revoke, show, list, apply.
    Agents(agents_cmd::AgentsArgs),
    /// Verify, query and summarize an audit log; generate a signing key.
    Audit(audit_cmd::AuditArgs),
    /// Re-decide the requests of an audit log against proposed policies; report what changes.
    Replay(replay::ReplayArgs),
    /// Explain one request: every policy's scope match, condition values and errors.
    Explain(explain_cmd::ExplainArgs),
    /// Quota status of a principal; settle or refund reservations.
    Quota(quota_cmd::QuotaArgs),
    /// Measure decision latency and throughput on a workload.
    Bench(bench::BenchArgs),
    /// Run the narrated demo of the example agent platform (policies/agent-platform).
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => check::run_check(&args),
        Command::Fmt(args) => check::run_fmt(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Test(args) => test_cmd::run(&args),
        Command::Authorize(args) => authorize::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Agents(args) => agents_cmd::run(&args),
        Command::Quota(args) => quota_cmd::run(&args),
        Command::Audit(args) => audit_cmd::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Explain(args) => explain_cmd::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    ExitCode::from(code)
}

/// Paths given on the command line.
pub type Paths = Vec<PathBuf>;
