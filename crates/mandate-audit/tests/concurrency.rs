//! Many threads appending to one log.

#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use std::sync::Arc;

use mandate_audit::{AuditLog, AuditOptions, Durability, VerifyOptions, verify};
use serde_json::json;

fn run(threads: u64, per_thread: u64, durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let options = AuditOptions {
        durability,
        checkpoint_every: 1000,
        signing_key: Some([3; 32]),
        key_id: Some("k".into()),
        queue_capacity: mandate_audit::DEFAULT_QUEUE_CAPACITY,
        rotate_bytes: 0,
        max_record_bytes: mandate_audit::MAX_LINE_BYTES,
    };
    let log = Arc::new(AuditLog::open(&path, options).unwrap());
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut seqs = Vec::with_capacity(per_thread as usize);
                for i in 0..per_thread {
                    seqs.push(log.append(json!({"thread": thread, "i": i})).unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut all = Vec::new();
    for handle in handles {
        let seqs = handle.join().unwrap();
        assert!(
            seqs.windows(2).all(|pair| pair[0] < pair[1]),
            "per-thread seqs increase"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    let total = threads * per_thread;
    assert!(
        all.iter().copied().eq(0..total),
        "seqs are exactly 0..{total}"
    );
    assert_eq!(log.len(), total);
    Arc::into_inner(log).unwrap().close().unwrap();
    let report = verify(
        &path,
        VerifyOptions {
            public_key: Some(mandate_audit::public_key(&[3; 32])),
            require_signatures: true,
            require_sealed: true,
            ..VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.records, total);
    assert_eq!(report.checkpoints, total.div_ceil(1000));
}

#[test]
fn eight_threads_buffered_80k() {
    run(8, 10_000, Durability::Buffered);
}

#[test]
fn eight_threads_fsync() {
    run(8, 250, Durability::Fsync);
}
