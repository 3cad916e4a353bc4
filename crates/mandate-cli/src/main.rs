//! The `mandate` command: check, format and authorize policies.
//!
//! Exit codes follow Cedar's CLI and ruff: `check`/`fmt`: 0 clean, 1 problems found, 2 usage or
//! I/O error; `authorize`: 0 allow, 2 deny, 1 when the inputs cannot be used.

mod authorize;
mod bench;
mod check;
mod demo;
mod output;

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
    /// Format policy files in place (or, with --check, list those that would change).
    Fmt(check::FmtArgs),
    /// Decide one request, or a batch of requests, against policies and entities.
    Authorize(authorize::AuthorizeArgs),
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
        Command::Authorize(args) => authorize::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    ExitCode::from(code)
}

/// Paths given on the command line.
pub type Paths = Vec<PathBuf>;
