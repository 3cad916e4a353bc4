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

/// Runs this test binary's `test` as a child process with `env` set to `value`, its stdout piped.
fn spawn_child(test: &str, env: &str, value: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, value)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

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
        queue_capacity: mandate_audit::DEFAULT_QUEUE_CAPACITY,
        rotate_bytes: 0,
        max_record_bytes: mandate_audit::MAX_LINE_BYTES,
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
        let mut child = spawn_child("crash_child", CHILD_ENV, &path.display().to_string());
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

const WRITER_CHILD_ENV: &str = "MANDATE_AUDIT_WRITER_CRASH_CHILD";

/// The child's body for `kill_the_writer_*`: appends through an `AuditWriter` from 4 threads.
/// Durable mode prints `ACK <seq>` after each append returns; buffered mode appends without
/// waiting and prints `FLUSHED <n>` after a flush, when `n` records are known to be written.
#[test]
fn writer_crash_child() {
    let Some(spec) = std::env::var_os(WRITER_CHILD_ENV) else {
        return;
    };
    let spec = spec.into_string().unwrap();
    let (mode, path) = spec.split_once(':').unwrap();
    let durability = if mode == "durable" {
        Durability::Fsync
    } else {
        Durability::Buffered
    };
    let writer = std::sync::Arc::new(
        mandate_audit::AuditWriter::open(
            std::path::Path::new(path),
            AuditOptions {
                durability,
                checkpoint_every: 7,
                signing_key: Some(common::SEED),
                key_id: None,
                queue_capacity: 16,
                rotate_bytes: 0,
                max_record_bytes: mandate_audit::MAX_LINE_BYTES,
            },
        )
        .unwrap(),
    );
    let stdout = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..4u64)
        .map(|thread| {
            let writer = std::sync::Arc::clone(&writer);
            let stdout = std::sync::Arc::clone(&stdout);
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let record =
                        json!({"t": thread, "i": i, "pad": "y".repeat(((i * 53) % 2000) as usize)});
                    if durability == Durability::Fsync {
                        let seq = writer.append_wait(&record).unwrap();
                        let mut out = stdout.lock().unwrap();
                        writeln!(out, "ACK {seq}").unwrap();
                        out.flush().unwrap();
                    } else {
                        writer.append(&record).unwrap();
                        if i % 50 == 49 {
                            writer.flush().unwrap();
                            let n = writer.log().len();
                            let mut out = stdout.lock().unwrap();
                            writeln!(out, "FLUSHED {n}").unwrap();
                            out.flush().unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Kills a child writing through an `AuditWriter` at random points; after each kill the log is
/// intact up to at most a torn tail, and every record the child saw acknowledged (durable) or
/// flushed (buffered) is in it.
fn kill_the_writer(mode: &str, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut rng = common::Rng(seed);
    for round in 0..5 {
        let mut child = spawn_child(
            "writer_crash_child",
            WRITER_CHILD_ENV,
            &format!("{mode}:{}", path.display()),
        );
        let stdout = child.stdout.take().unwrap();
        let (first, first_received) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut flushed = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(seq) = line.strip_prefix("ACK ") {
                    acked.push(seq.parse::<u64>().unwrap());
                } else if let Some(n) = line.strip_prefix("FLUSHED ") {
                    flushed = flushed.max(n.parse::<u64>().unwrap());
                } else {
                    continue;
                }
                let _ = first.send(());
            }
            (acked, flushed)
        });
        first_received
            .recv_timeout(Duration::from_secs(120))
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.next() % 300));
        child.kill().unwrap();
        child.wait().unwrap();
        let (acked, flushed) = reader.join().unwrap();
        assert!(
            !acked.is_empty() || flushed > 0,
            "round {round}: no progress"
        );

        // Before any repair the file verifies, or fails only with a torn final line.
        let options = VerifyOptions {
            public_key: Some(mandate_audit::public_key(&common::SEED)),
            require_signatures: true,
            ..VerifyOptions::default()
        };
        match verify(&path, options.clone()) {
            Ok(_) => {}
            Err(error) => assert!(
                matches!(error.kind, mandate_audit::VerifyErrorKind::TornLine),
                "round {round}: {error}"
            ),
        }
        // Reopening repairs the torn tail; then everything acknowledged or flushed is there.
        let log = AuditLog::open(
            &path,
            AuditOptions {
                signing_key: Some(common::SEED),
                ..AuditOptions::default()
            },
        )
        .unwrap();
        drop(log);
        let report = verify(&path, options).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let entries: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .filter(|v: &serde_json::Value| v.get("seq").is_some())
            .collect();
        assert_eq!(entries.len() as u64, report.records);
        for &seq in &acked {
            assert_eq!(entries[seq as usize]["seq"], seq, "round {round}");
        }
        assert!(
            report.records >= flushed,
            "round {round}: flushed records lost"
        );
        eprintln!(
            "{mode} round {round}: {} acked, {flushed} flushed, log has {} entries",
            acked.len(),
            report.records
        );
    }
}

#[test]
fn kill_the_writer_durable() {
    kill_the_writer("durable", 0xd00d_5eed);
}

#[test]
fn kill_the_writer_buffered() {
    kill_the_writer("buffered", 0xb0ff_5eed);
}
