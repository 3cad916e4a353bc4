//! The file sink's writer thread under concurrent decisions: in durable mode every decision
//! returned has its record in the log when it returns; in buffered mode after a flush; the log
//! verifies either way.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "test code"
)]

use mandate::audit::FileSink;
use mandate::audit_log::{AuditOptions, Durability, VerifyOptions, verify};
use mandate::{Engine, Request, Uid};
use std::collections::HashMap;
use std::sync::Arc;

const POLICIES: &str = r#"
@id("reads") permit(principal, action == Action::"read", resource);
@id("no-secret") forbid(principal, action, resource == Doc::"secret");
"#;

fn decide_from_16_threads(engine: &Engine) -> Vec<(String, bool)> {
    let handles: Vec<_> = (0..16)
        .map(|thread| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                (0..150)
                    .map(|i| {
                        let doc = if i % 5 == 0 { "secret" } else { "d1" };
                        let r = Request::new(
                            Uid::new("Agent", format!("a{thread}")),
                            Uid::new("Action", "read"),
                            Uid::new("Doc", doc),
                        );
                        let d = engine.authorize(&r);
                        assert!(d.errors.is_empty(), "{:?}", d.errors);
                        (d.id, d.allowed)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect()
}

/// Decision records in the log by decision id: (count, decision).
fn logged(path: &std::path::Path) -> HashMap<String, (usize, String)> {
    let mut by_id: HashMap<String, (usize, String)> = HashMap::new();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let record = &v["record"];
        if record["kind"] == "decision" {
            let entry = by_id
                .entry(record["decision_id"].as_str().unwrap().to_string())
                .or_insert((0, String::new()));
            entry.0 += 1;
            entry.1 = record["decision"].as_str().unwrap().to_string();
        }
    }
    by_id
}

/// An engine writing its audit log to `path` through a `FileSink`.
fn engine(path: &std::path::Path, durability: Durability, queue_capacity: usize) -> Engine {
    let sink = FileSink::open(
        path,
        AuditOptions {
            durability,
            queue_capacity,
            ..AuditOptions::default()
        },
    )
    .unwrap();
    Engine::builder()
        .policy_texts(vec![("p.mandate".into(), POLICIES.into())])
        .audit(Arc::new(sink))
        .build()
        .unwrap()
}

fn check(durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let engine = engine(&path, durability, 64);
    let decisions = decide_from_16_threads(&engine);
    if durability == Durability::Buffered {
        engine.flush_audit().unwrap();
    }
    // Read while the engine (and its writer) is still running: durable records were written and
    // synced before their decisions returned; buffered ones by the flush.
    let by_id = logged(&path);
    assert_eq!(by_id.len(), decisions.len());
    for (id, allowed) in &decisions {
        let (count, decision) = by_id.get(id).unwrap();
        assert_eq!(*count, 1, "exactly one record for {id}");
        assert_eq!(decision, if *allowed { "allow" } else { "deny" });
    }
    assert_eq!(engine.audit_failures(), 0);
    let report = verify(&path, VerifyOptions::default()).unwrap();
    assert_eq!(
        report.records,
        1 + 16 * 150,
        "the load record and every decision"
    );
    drop(engine);
    let report = verify(
        &path,
        VerifyOptions {
            require_sealed: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.records, 1 + 16 * 150);
}

#[test]
fn sixteen_threads_durable_every_returned_decision_is_logged() {
    check(Durability::Fsync);
}

#[test]
fn sixteen_threads_buffered_every_decision_is_logged_after_flush() {
    check(Durability::Buffered);
}

#[test]
fn the_audit_file_builder_writes_through_the_writer_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a").join("audit.jsonl");
    let engine = Engine::builder()
        .policy_texts(vec![("p.mandate".into(), POLICIES.into())])
        .audit_file(&path)
        .build()
        .unwrap();
    let r = Request::new(
        Uid::new("Agent", "a"),
        Uid::new("Action", "read"),
        Uid::new("Doc", "d1"),
    );
    let d = engine.authorize(&r);
    assert!(d.allowed);
    assert_eq!(logged(&path).get(&d.id).map(|e| e.0), Some(1));
}

const CHILD_ENV: &str = "MANDATE_AUDIT_FULL_DISK_CHILD";

/// The child of `a_full_disk_*`: decides until well past the file-size limit its shell set,
/// printing `D <id> <allowed> <audit error>` per decision and `FAILURES <n>` at the end.
#[test]
fn full_disk_child() {
    let Some(spec) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let spec = spec.into_string().unwrap();
    let (mode, path) = spec.split_once(':').unwrap();
    let durability = if mode == "durable" {
        Durability::Fsync
    } else {
        Durability::Buffered
    };
    let engine = engine(std::path::Path::new(path), durability, 8);
    let r = Request::new(
        Uid::new("Agent", "a"),
        Uid::new("Action", "read"),
        Uid::new("Doc", "d1"),
    );
    // A fresh line: libtest prints the test's name without a newline first.
    let mut out = String::from("\n");
    for _ in 0..3000 {
        let d = engine.authorize(&r);
        let audit_error = d.errors.iter().any(|e| e.id == "audit");
        out.push_str(&format!("D {} {} {audit_error}\n", d.id, d.allowed));
    }
    let _ = engine.flush_audit();
    out.push_str(&format!("FAILURES {}\n", engine.audit_failures()));
    print!("{out}");
}

/// Runs the child with a file-size limit (`ulimit -f`, SIGXFSZ ignored so writes fail with
/// EFBIG, as on a full disk) and checks the engine's failure policy (deny by default).
fn full_disk(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 64; exec "$0" full_disk_child --exact --nocapture --test-threads=1"#)
        .arg(&exe)
        .env(CHILD_ENV, format!("{mode}:{}", path.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut decisions = Vec::new();
    let mut failures = None;
    for line in stdout.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts.as_slice() {
            ["D", id, allowed, audit_error] => decisions.push((
                (*id).to_string(),
                *allowed == "true",
                *audit_error == "true",
            )),
            ["FAILURES", n] => failures = Some(n.parse::<u64>().unwrap()),
            _ => {}
        }
    }
    assert_eq!(decisions.len(), 3000, "{stdout}");
    let failures = failures.unwrap();
    let refused = decisions.iter().filter(|d| d.2).count() as u64;
    assert!(refused > 0, "the limit was never reached");
    // Deny by default: no decision with an audit error is an allow.
    assert!(decisions.iter().all(|d| !(d.1 && d.2)));
    // The log is intact up to at most a torn final line.
    if let Err(e) = verify(&path, VerifyOptions::default()) {
        assert!(
            matches!(e.kind, mandate::audit_log::VerifyErrorKind::TornLine),
            "{e}"
        );
    }
    let text = std::fs::read(&path).unwrap();
    let text = String::from_utf8_lossy(&text);
    let logged: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.split("\"decision_id\":\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let allowed_unlogged = decisions
        .iter()
        .filter(|d| d.1 && !logged.contains(d.0.as_str()))
        .count() as u64;
    eprintln!(
        "{mode}: {refused} decisions refused, {allowed_unlogged} allows without a record, {failures} failures counted"
    );
    match mode {
        // Durable: every allow returned has its record.
        "durable" => {
            assert_eq!(allowed_unlogged, 0);
            assert_eq!(failures, refused);
        }
        // Buffered: allows returned before the failure was known may be lost, but every one is
        // counted; everything after is refused.
        _ => {
            assert!(
                failures >= refused + allowed_unlogged,
                "{failures} {refused} {allowed_unlogged}"
            );
        }
    }
}

#[test]
fn a_full_disk_denies_when_durable() {
    full_disk("durable");
}

#[test]
fn a_full_disk_denies_and_counts_lost_records_when_buffered() {
    full_disk("buffered");
}
