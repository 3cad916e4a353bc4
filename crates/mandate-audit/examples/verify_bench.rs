//! Manual timing: writes a log of N records (default 1e6) and times `verify`.
//!
//! `cargo run --release -p mandate-audit --example verify_bench -- 1000000 /tmp/dir`

use std::time::Instant;

use mandate_audit::{AuditLog, AuditOptions, Durability, VerifyOptions, verify};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(1_000_000), |arg| arg.parse())?;
    let dir = std::path::PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/tmp/mandate-audit-bench".to_owned()),
    );
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("audit.jsonl");
    let _ignored = std::fs::remove_file(&path);
    let seed = [5u8; 32];
    let options = AuditOptions {
        durability: Durability::Buffered,
        checkpoint_every: 1000,
        signing_key: Some(seed),
        key_id: Some("bench".into()),
        queue_capacity: mandate_audit::DEFAULT_QUEUE_CAPACITY,
        rotate_bytes: 0,
        max_record_bytes: mandate_audit::MAX_LINE_BYTES,
    };
    let started = Instant::now();
    let log = AuditLog::open(&path, options.clone())?;
    for i in 0..count {
        log.append(serde_json::json!({
            "decision": if i % 5 == 0 { "deny" } else { "allow" },
            "agent": format!("agent-{}", i % 100), "action": "send_mail", "resource": format!("doc-{i}"),
            "policies": ["p1", "p7"], "policy_set": "3f2a9c0e", "ts_ms": 1_700_000_000_000_u64 + i,
        }))?;
    }
    log.close()?;
    let write = started.elapsed();
    let size = std::fs::metadata(&path)?.len();
    let started = Instant::now();
    let report = verify(
        &path,
        VerifyOptions {
            public_key: Some(mandate_audit::public_key(&seed)),
            require_signatures: true,
            ..VerifyOptions::default()
        },
    )?;
    let verify_time = started.elapsed();
    let started = Instant::now();
    let reopened = AuditLog::open(&path, options)?;
    let open_time = started.elapsed();
    drop(reopened);
    let mut out = std::io::stdout().lock();
    std::io::Write::write_fmt(
        &mut out,
        format_args!(
            "records {} checkpoints {} bytes {size}: write {write:?}, verify {verify_time:?}, reopen {open_time:?}\n",
            report.records, report.signed_checkpoints
        ),
    )?;
    Ok(())
}
