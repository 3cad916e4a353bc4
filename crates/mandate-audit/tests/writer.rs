//! The writer thread: group commit from many threads, back-pressure, failures, flush and close.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mandate_audit::{AuditError, AuditOptions, AuditWriter, Durability, VerifyOptions, verify};
use serde_json::{Value, json};

fn options(durability: Durability, queue_capacity: usize) -> AuditOptions {
    AuditOptions {
        durability,
        checkpoint_every: 100,
        signing_key: Some(common::SEED),
        key_id: Some("k".into()),
        queue_capacity,
        rotate_bytes: 0,
        max_record_bytes: mandate_audit::MAX_LINE_BYTES,
    }
}

fn verified(path: &std::path::Path) -> mandate_audit::VerifyReport {
    verify(
        path,
        VerifyOptions {
            public_key: Some(mandate_audit::public_key(&common::SEED)),
            require_signatures: true,
            require_sealed: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap()
}

fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|v| v.get("seq").is_some())
        .collect()
}

#[test]
fn sixteen_threads_durable_share_syncs_and_every_acknowledged_record_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let writer = Arc::new(AuditWriter::open(&path, options(Durability::Fsync, 64)).unwrap());
    let handles: Vec<_> = (0..16u64)
        .map(|thread| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                (0..100u64)
                    .map(|i| {
                        let seq = writer.append_wait(&json!({"t": thread, "i": i})).unwrap();
                        (seq, thread, i)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acked = Vec::new();
    for handle in handles {
        let mine = handle.join().unwrap();
        assert!(mine.windows(2).all(|pair| pair[0].0 < pair[1].0));
        acked.extend(mine);
    }
    let stats = writer.stats();
    assert_eq!(stats.entries, 1600);
    assert_eq!(stats.lost, 0);
    assert!(stats.max_queue_depth <= 64);
    Arc::into_inner(writer).unwrap().close().unwrap();
    let report = verified(&path);
    assert_eq!(report.records, 1600);
    let entries = records(&path);
    for (seq, thread, i) in acked {
        let record = &entries[seq as usize]["record"];
        assert_eq!(
            (record["t"].as_u64(), record["i"].as_u64()),
            (Some(thread), Some(i))
        );
    }
}

#[test]
fn sixteen_threads_buffered_then_close_writes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let writer = Arc::new(AuditWriter::open(&path, options(Durability::Buffered, 32)).unwrap());
    let handles: Vec<_> = (0..16u64)
        .map(|thread| {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                for i in 0..500u64 {
                    writer.append(&json!({"t": thread, "i": i})).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    Arc::into_inner(writer).unwrap().close().unwrap();
    assert_eq!(verified(&path).records, 8000);
    let mut seen = std::collections::HashSet::new();
    for entry in records(&path) {
        let record = &entry["record"];
        assert!(seen.insert((record["t"].as_u64().unwrap(), record["i"].as_u64().unwrap())));
    }
    assert_eq!(seen.len(), 8000);
}

/// A deferred record that blocks the writer thread until released.
fn blocker(release: std::sync::mpsc::Receiver<()>) -> mandate_audit::DeferredRecord {
    Box::new(move || {
        release.recv().map_err(|e| e.to_string())?;
        Ok(json!({"blocker": true}))
    })
}

#[test]
fn a_full_queue_blocks_the_caller_and_drops_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let writer = Arc::new(AuditWriter::open(&path, options(Durability::Buffered, 2)).unwrap());
    let (release, released) = std::sync::mpsc::channel();
    writer.append_with(blocker(released)).unwrap();
    // Wait until the writer thread holds the blocker (the queue is empty again).
    while writer.stats().batches == 0 {
        std::thread::yield_now();
    }
    writer.append(&json!({"i": 0})).unwrap();
    writer.append(&json!({"i": 1})).unwrap();
    assert_eq!(writer.queue_depth(), 2);
    let returned = Arc::new(AtomicBool::new(false));
    let producer = std::thread::spawn({
        let writer = Arc::clone(&writer);
        let returned = Arc::clone(&returned);
        move || {
            writer.append(&json!({"i": 2})).unwrap();
            returned.store(true, Ordering::SeqCst);
        }
    });
    while writer.stats().full_waits == 0 {
        std::thread::yield_now();
    }
    // The writer thread is held, so the queue cannot drain: the producer is still waiting.
    assert!(!returned.load(Ordering::SeqCst));
    assert!(!producer.is_finished());
    assert_eq!(writer.queue_depth(), 2);
    release.send(()).unwrap();
    producer.join().unwrap();
    assert!(returned.load(Ordering::SeqCst));
    let stats = writer.stats();
    assert!(stats.max_queue_depth <= 2);
    assert_eq!(stats.lost, 0);
    Arc::into_inner(writer).unwrap().close().unwrap();
    assert_eq!(verified(&path).records, 4);
    let entries = records(&path);
    assert_eq!(entries[0]["record"], json!({"blocker": true}));
    let order: Vec<_> = entries[1..]
        .iter()
        .map(|e| e["record"]["i"].as_u64().unwrap())
        .collect();
    assert_eq!(order, [0, 1, 2]);
}

#[test]
fn a_record_that_cannot_be_built_is_refused_when_durable_and_marked_dropped_when_buffered() {
    let dir = tempfile::tempdir().unwrap();
    for durability in [Durability::Fsync, Durability::Buffered] {
        let path = dir.path().join(format!("{durability:?}.jsonl"));
        let writer = AuditWriter::open(&path, options(durability, 8)).unwrap();
        writer.append(&json!({"i": 0})).unwrap();
        let failed = writer.append_with(Box::new(|| Err("serializer exploded".into())));
        // A builder that panics fails its record only; the writer thread carries on.
        let panicked = writer.append_with(Box::new(|| panic!("builder bug")));
        let mut deep = json!(1);
        for _ in 0..200 {
            deep = json!([deep]);
        }
        assert!(matches!(
            writer.append(&deep),
            Err(AuditError::RecordTooDeep { .. })
        ));
        writer.append(&json!({"i": 1})).unwrap();
        writer.flush().unwrap();
        let lost = writer.lost();
        writer.close().unwrap();
        let report = verified(&path);
        match durability {
            Durability::Fsync => {
                let message = failed.unwrap_err().to_string();
                assert!(message.contains("serializer exploded"), "{message}");
                let message = panicked.unwrap_err().to_string();
                assert!(message.contains("panicked"), "{message}");
                assert_eq!((report.records, report.dropped, lost), (2, 0, 0));
            }
            Durability::Buffered => {
                failed.unwrap();
                panicked.unwrap();
                // The records that could not be built left visible, counted gaps.
                assert_eq!((report.records, report.dropped, lost), (4, 2, 2));
                assert_eq!(records(&path)[1]["dropped"], 1);
                assert_eq!(records(&path)[2]["dropped"], 1);
            }
        }
    }
}

#[test]
fn flush_checkpoint_and_reopen_continue_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let writer = AuditWriter::open(&path, options(Durability::Buffered, 8)).unwrap();
    for i in 0..10 {
        writer.append(&json!({"i": i})).unwrap();
    }
    writer.checkpoint().unwrap();
    assert_eq!(writer.log().len(), 10);
    assert_eq!(verified(&path).records, 10);
    drop(writer);
    let writer = AuditWriter::open(&path, options(Durability::Fsync, 8)).unwrap();
    assert_eq!(writer.append_wait(&json!({"i": 10})).unwrap(), 10);
    writer.close().unwrap();
    let report = verified(&path);
    assert_eq!((report.records, report.checkpoints), (11, 2));
}

#[test]
fn a_second_writer_on_the_same_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let _first = AuditWriter::open(&path, options(Durability::Fsync, 8)).unwrap();
    match AuditWriter::open(&path, options(Durability::Fsync, 8)) {
        Err(AuditError::Locked { .. }) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
}
