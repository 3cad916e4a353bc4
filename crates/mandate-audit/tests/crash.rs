//! Crash safety: a child process appends with `Durability::Fsync`, printing each acknowledged
//! seq; the parent kills it at random points, reopens, verifies, and checks every acknowledged
//! entry is present.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stderr,
    reason = "test code"
)]

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use mandate_audit::{AuditLog, AuditOptions, Durability, VerifyOptions, verify};
use serde_json::json;

const CHILD_ENV: &str = "MANDATE_AUDIT_CRASH_CHILD";

/// The child's body; a no-op unless run by `kill_during_appends`.
#[test]
fn crash_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let options = AuditOptions {
        durability: Durability::Fsync,
        checkpoint_every: 7,
        signing_key: Some(common::SEED),
        key_id: None,
    };
    let log = AuditLog::open(std::path::Path::new(&path), options).unwrap();
    let mut stdout = std::io::stdout().lock();
    for i in 0.. {
        // Vary the size so that kills land at varied offsets within lines.
        let seq = log
            .append(json!({"i": i, "pad": "x".repeat((i * 37) % 3000)}))
            .unwrap();
        writeln!(stdout, "ACK {seq}").unwrap();
        stdout.flush().unwrap();
    }
}

#[test]
fn kill_during_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut rng = common::Rng(0x5eed_1234_abcd);
    let mut max_acked: Option<u64> = None;
    let mut torn_repairs = 0;
    for round in 0..6 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (first_ack, first_ack_received) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(seq) = line.strip_prefix("ACK ") {
                    acked.push(seq.parse::<u64>().unwrap());
                    if acked.len() == 1 {
                        let _ = first_ack.send(());
                    }
                }
            }
            acked
        });
        // Opening re-verifies the log (slow in debug builds): start the clock at the first ack.
        first_ack_received
            .recv_timeout(Duration::from_secs(120))
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.next() % 300));
        child.kill().unwrap();
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        assert!(
            !acked.is_empty(),
            "round {round}: child acknowledged nothing"
        );
        // The sequence continues after the previous round (an entry written but not yet
        // acknowledged when the child died may sit in between).
        assert!(
            max_acked.is_none_or(|previous| acked[0] > previous),
            "round {round}"
        );
        assert!(acked.windows(2).all(|pair| pair[1] == pair[0] + 1));
        max_acked = acked.last().copied();

        let log = AuditLog::open(
            &path,
            AuditOptions {
                signing_key: Some(common::SEED),
                ..AuditOptions::default()
            },
        )
        .unwrap();
        if log.torn_bytes_removed() > 0 {
            torn_repairs += 1;
        }
        assert!(
            log.len() > max_acked.unwrap(),
            "round {round}: acknowledged entry lost"
        );
        drop(log);
        let report = verify(
            &path,
            VerifyOptions {
                public_key: Some(mandate_audit::public_key(&common::SEED)),
                require_signatures: true,
                ..VerifyOptions::default()
            },
        )
        .unwrap();
        assert!(report.last_seq >= max_acked);
        // Every acknowledged entry is there with its own contents.
        let text = std::fs::read_to_string(&path).unwrap();
        let entries: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .filter(|v: &serde_json::Value| v.get("seq").is_some())
            .collect();
        for &seq in &acked {
            assert_eq!(entries[seq as usize]["seq"], seq);
        }
        eprintln!(
            "round {round}: {} acked, log has {} entries, torn bytes removed: {}",
            acked.len(),
            report.records,
            torn_repairs
        );
    }
}
