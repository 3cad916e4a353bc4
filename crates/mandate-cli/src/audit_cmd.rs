//! `mandate audit`: verify an audit log (hash chain, checkpoints, signatures), show its records,
//! and generate a signing key. Exit status: 0 verified, 1 tampering or damage found, 2 usage or
//! I/O error.

use crate::output::{err, out};
use mandate::audit_log::{Anchor, VerifyOptions};
use std::path::PathBuf;

/// `mandate audit …`
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(clap::Subcommand, Debug)]
enum AuditCommand {
    /// Verify a log: every record's hash and link, sequence numbers, checkpoints and (with a
    /// public key) their signatures.
    Verify {
        /// The log file (e.g. STATE_DIR/audit/audit.jsonl), or a directory holding one log split by
        /// rotation (its `*.jsonl` files verified as one chain).
        file: PathBuf,
        /// The writer's Ed25519 public key (64 hex digits) or a file holding it.
        #[arg(long)]
        public_key: Option<String>,
        /// Every checkpoint must be signed by that key.
        #[arg(long)]
        require_signatures: bool,
        /// The log must end with a checkpoint (no unsealed tail).
        #[arg(long)]
        require_sealed: bool,
        /// The log must hold at least this many records (detects truncation).
        #[arg(long)]
        min_records: Option<u64>,
        /// An entry remembered elsewhere, as SEQ:HASH (detects truncation and rewrites).
        #[arg(long)]
        anchor: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: crate::check::Format,
    },
    /// List records, filtered by principal, action, decision, layer and time (the file is read
    /// without verifying it).
    Query(crate::audit_query::QueryArgs),
    /// Per agent: decisions, deny rate, quota denials, lifecycle events, and anomalies.
    Stats(crate::audit_query::StatsArgs),
    /// Print decisions with each agent's rate over the minute before; with --follow, as they
    /// are written.
    Tail(crate::audit_tail::TailArgs),
    /// Generate an Ed25519 signing key: the secret goes to FILE (mode 0600), the public key to
    /// stdout.
    Keygen {
        /// Where to write the secret key.
        #[arg(long)]
        out: PathBuf,
    },
}

fn key_arg(text: &str) -> Result<[u8; 32], String> {
    let text = if std::path::Path::new(text).is_file() {
        std::fs::read_to_string(text).map_err(|e| format!("cannot read `{text}`: {e}"))?
    } else {
        text.to_string()
    };
    mandate::audit_log::public_key_from_hex(text.trim()).map_err(|e| e.to_string())
}

/// Runs `mandate audit`.
pub fn run(args: &AuditArgs) -> u8 {
    match &args.command {
        AuditCommand::Query(q) => crate::audit_query::run_query(q),
        AuditCommand::Stats(s) => crate::audit_query::run_stats(s),
        AuditCommand::Tail(t) => crate::audit_tail::run_tail(t),
        AuditCommand::Verify {
            file,
            public_key,
            require_signatures,
            require_sealed,
            min_records,
            anchor,
            format,
        } => {
            let public_key = match public_key.as_deref().map(key_arg).transpose() {
                Ok(k) => k,
                Err(e) => {
                    err(&format!("error: --public-key: {e}\n"));
                    return 2;
                }
            };
            let anchor = match anchor.as_deref().map(|a| {
                a.split_once(':')
                    .and_then(|(s, h)| {
                        Some(Anchor {
                            seq: s.parse().ok()?,
                            head: h.to_string(),
                        })
                    })
                    .ok_or_else(|| format!("`{a}` is not SEQ:HASH"))
            }) {
                None => None,
                Some(Ok(a)) => Some(a),
                Some(Err(e)) => {
                    err(&format!("error: --anchor: {e}\n"));
                    return 2;
                }
            };
            if !file.is_file() && !file.is_dir() {
                err(&format!(
                    "error: `{}` is not a file or directory\n",
                    file.display()
                ));
                return 2;
            }
            let options = VerifyOptions {
                public_key,
                require_signatures: *require_signatures,
                require_sealed: *require_sealed,
                min_records: *min_records,
                anchor,
            };
            let verified = if file.is_dir() {
                let files = match mandate::audit_log::log_files(file) {
                    Ok(files) if !files.is_empty() => files,
                    Ok(_) => {
                        err(&format!(
                            "error: `{}` holds no audit log (*.jsonl)\n",
                            file.display()
                        ));
                        return 2;
                    }
                    Err(e) => {
                        err(&format!("error: cannot read `{}`: {e}\n", file.display()));
                        return 2;
                    }
                };
                mandate::audit_log::verify_files(&files, options).map_err(|e| e.to_string())
            } else {
                mandate::audit_log::verify(file, options)
                    .map_err(|e| format!("{}: {e}", file.display()))
            };
            match verified {
                Ok(r) => {
                    match format {
                        crate::check::Format::Json => out(&format!(
                            "{}\n",
                            serde_json::json!({
                                "ok": true, "records": r.records, "checkpoints": r.checkpoints,
                                "signed_checkpoints": r.signed_checkpoints, "head": r.head,
                                "dropped": r.dropped, "unsealed": r.after_last_checkpoint,
                            })
                        )),
                        crate::check::Format::Human => out(&format!(
                            "ok: {} records, {} checkpoints ({} signature-checked), head {}{}{}\n",
                            r.records,
                            r.checkpoints,
                            r.signed_checkpoints,
                            r.head,
                            if r.after_last_checkpoint > 0 {
                                format!(
                                    "; {} records after the last checkpoint",
                                    r.after_last_checkpoint
                                )
                            } else {
                                String::new()
                            },
                            if r.dropped > 0 {
                                format!("; {} records reported dropped", r.dropped)
                            } else {
                                String::new()
                            }
                        )),
                    }
                    0
                }
                Err(e) => {
                    match format {
                        crate::check::Format::Json => out(&format!(
                            "{}\n",
                            serde_json::json!({"ok": false, "error": e.to_string()})
                        )),
                        crate::check::Format::Human => {
                            err(&format!("error: {e}\n"));
                        }
                    }
                    1
                }
            }
        }
        AuditCommand::Keygen { out: path } => {
            let seed = match mandate::audit_log::generate_key() {
                Ok(s) => s,
                Err(e) => {
                    err(&format!("error: {e}\n"));
                    return 2;
                }
            };
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let written = options.open(path).and_then(|mut f| {
                use std::io::Write;
                f.write_all(mandate::audit_log::key_to_hex(&seed).as_bytes())
            });
            if let Err(e) = written {
                err(&format!("error: cannot write `{}`: {e}\n", path.display()));
                return 2;
            }
            out(&format!("{}\n", mandate::audit_log::public_key_hex(&seed)));
            0
        }
    }
}
